"""interp._paths: the explorer's root folders and its bounded search for saved results."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from interp import _paths
from interp.errors import InterpError, PathOutsideRootError

RESULT = '{"format": "interp.result", "kind": "TopTokensResult", "fields": {}}'


@pytest.fixture
def tree(tmp_path) -> Path:
    """runs/a.json, runs/x/b.json, runs/x/y/c.json, plus non-results, shards and a hidden folder."""
    root = tmp_path / "runs"
    for rel in ["a.json", "x/b.json", "x/y/c.json", "activations/shard.json", ".hidden/h.json", "jobs/j.json"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(RESULT)
    (root / "notes.json").write_text('{"not": "a result"}')
    (root / "data.csv").write_text("a,b\n")
    return root


def test_runs_root_is_the_env_var_else_runs_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(_paths.RUNS_ENV, raising=False)
    assert _paths.runs_root().path == (tmp_path / "runs").resolve()
    monkeypatch.setenv(_paths.RUNS_ENV, "~/somewhere/../elsewhere")
    assert _paths.runs_root().path == (Path.home() / "elsewhere").resolve()
    assert _paths.runs_root().label == "$INTERP_RUNS_DIR"


def test_resolve_under_refuses_paths_that_leave_the_root(tree, tmp_path):
    root = _paths.Root(tree.resolve(), "$INTERP_RUNS_DIR", "set INTERP_RUNS_DIR to a folder that holds it")
    assert _paths.resolve_under(tree / "x", [root]) == (tree / "x").resolve()
    assert _paths.resolve_under(f"{tree}/x/../x/y", [root]) == (tree / "x" / "y").resolve()
    assert _paths.resolve_under(tree / "not-yet", [root]) == (tree / "not-yet").resolve()  # need not exist
    (tree / "link").symlink_to(tmp_path, target_is_directory=True)
    for outside in [tmp_path, f"{tree}/..", tree / "link", "/", f"{tree}-sibling", tree / "link" / "runs" / ".."]:
        with pytest.raises(PathOutsideRootError, match="outside the folder the explorer may read") as info:
            _paths.resolve_under(outside, [root], what="folder")
        assert str(tree.resolve()) in str(info.value) and "set INTERP_RUNS_DIR" in str(info.value)
        assert isinstance(info.value, InterpError)
    with pytest.raises(PathOutsideRootError, match="no root"):
        _paths.resolve_under(tree, [])


def test_model_choice_allows_names_and_paths_under_the_model_roots(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(_paths.MODELS_ENV, raising=False)
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-gpt2").mkdir()  # a folder of that name in the working directory: the built-in still wins
    for name in ["tiny-gpt2", "default", "HuggingFaceTB/SmolLM2-135M"]:  # names, not paths: load_model decides
        assert _paths.check_model_choice(name) == name
    (tmp_path / "cache" / "models" / "m").mkdir(parents=True)
    assert _paths.check_model_choice(str(tmp_path / "cache" / "models" / "m")) == str(
        (tmp_path / "cache" / "models" / "m").resolve())
    (tmp_path / "mine").mkdir()
    for outside in [str(tmp_path / "mine"), "mine", "./mine", f"{tmp_path}/cache/../mine", "/etc"]:
        with pytest.raises(PathOutsideRootError, match="INTERP_MODELS_DIR"):
            _paths.check_model_choice(outside)
    monkeypatch.setenv(_paths.MODELS_ENV, f"{tmp_path / 'elsewhere'}:{tmp_path / 'mine'}")
    assert _paths.check_model_choice("mine") == str((tmp_path / "mine").resolve())
    monkeypatch.delenv(_paths.MODELS_ENV)
    monkeypatch.setenv("INTERP_MODEL", str(tmp_path / "mine"))  # the operator's starting model is allowed
    assert _paths.check_model_choice("./mine") == str((tmp_path / "mine").resolve())


def test_find_results_lists_results_top_folder_first_and_skips_the_rest(tree, tmp_path):
    scan = _paths.find_results(tree)
    assert scan.files == ["a.json", "x/b.json", "x/y/c.json"] and scan.complete and scan.note() == ""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(RESULT)
    (tree / "file-link.json").symlink_to(outside / "secret.json")  # leaves the folder: not listed
    (tree / "x" / "inside-link.json").symlink_to(tree / "a.json")  # stays inside: listed
    (tree / "dir-link").symlink_to(outside, target_is_directory=True)  # folder links are not followed
    assert _paths.find_results(tree).files == ["a.json", "x/b.json", "x/inside-link.json", "x/y/c.json"]


def test_find_results_stops_at_its_bounds_and_says_why(tree):
    shallow = _paths.find_results(tree, max_depth=1)
    assert shallow.files == ["a.json", "x/b.json"] and shallow.stopped == "depth"
    assert "more than 1 levels down were not searched" in shallow.note()
    assert _paths.find_results(tree, max_depth=2).complete

    few = _paths.find_results(tree, max_files=5)  # .hidden, a.json, activations, data.csv, jobs: then stop
    assert few.files == ["a.json"] and few.stopped == "files" and few.n_entries == 5
    assert "stopped after 5 files and folders" in few.note() and "Enter a subfolder" in few.note()

    ticks = itertools.count()  # a clock that advances one second per look: deterministic
    slow = _paths.find_results(tree, max_seconds=3, clock=lambda: float(next(ticks)))
    assert slow.stopped == "time" and "stopped after 3 s" in slow.note() and slow.files == ["a.json"]


def test_find_results_of_a_missing_folder_is_empty(tmp_path):
    scan = _paths.find_results(tmp_path / "missing")
    assert scan.files == [] and scan.complete
