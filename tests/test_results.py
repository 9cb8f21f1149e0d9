"""The shared results format: JSON + safetensors, atomic, never pickle."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from interp.errors import InvalidResultFileError
from interp.models.model import TopTokensResult
from interp.results import Result, atomic_write_bytes


@pytest.fixture
def result():
    return TopTokensResult(prompt="The capital of France is", tokens=[" Paris", " Lyon"], token_ids=np.array([7042, 99]),
                           probs=np.array([0.75, 0.01], dtype=np.float32), logits=np.array([15.4, 11.0], dtype=np.float32),
                           model_name="test")


def test_round_trip_is_equal(result, tmp_path):
    path = result.save(tmp_path / "r.json")
    loaded = Result.load(path)
    assert type(loaded) is TopTokensResult and loaded == result
    assert loaded.probs.dtype == np.float32 and loaded.token_ids.dtype == result.token_ids.dtype
    assert TopTokensResult.load(path) == result


def test_equality_sees_array_changes(result):
    other = TopTokensResult(**{**result.__dict__, "probs": result.probs + 1e-3})
    assert other != result


def test_saved_file_is_plain_json_with_schema(result, tmp_path):
    document = json.loads(result.save(tmp_path / "r.json").read_text())
    assert document["format"] == "interp.result" and document["schema_version"] == 1
    assert document["kind"] == "TopTokensResult" == TopTokensResult.kind
    assert document["fields"]["tokens"] == [" Paris", " Lyon"]
    assert document["arrays"]["names"] == ["logits", "probs", "token_ids"]


def test_torch_tensors_become_numpy():
    import torch

    r = TopTokensResult(prompt="p", tokens=["a"], token_ids=torch.tensor([1]), probs=torch.tensor([0.5]),
                        logits=torch.tensor([1.0]))
    assert isinstance(r.probs, np.ndarray)


@pytest.mark.parametrize("content, match", [
    (b"\x80\x81 not json", "not valid JSON"),
    (b'{"hello": 1}', "format"),
    (b'[1, 2]', "format"),
    (json.dumps({"format": "interp.result", "schema_version": 99, "kind": "x"}).encode(), "schema_version 99"),
    (json.dumps({"format": "interp.result", "schema_version": 1, "kind": "os.system", "fields": {}}).encode(),
     "not an interp result type"),
    (json.dumps({"format": "interp.result", "schema_version": 1, "kind": "interp.nowhere.Thing", "fields": {}}).encode(),
     "does not know"),
])
def test_invalid_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InvalidResultFileError, match=match):
        Result.load(path)


def test_tampered_arrays_and_fields_are_refused(result, tmp_path):
    document = json.loads(result.to_json())
    broken = dict(document, arrays={**document["arrays"], "data": base64.b64encode(b"garbage" * 10).decode()})
    (tmp_path / "a.json").write_text(json.dumps(broken))
    with pytest.raises(InvalidResultFileError, match="corrupt"):
        Result.load(tmp_path / "a.json")
    extra = dict(document, fields={**document["fields"], "evil": 1})
    (tmp_path / "b.json").write_text(json.dumps(extra))
    with pytest.raises(InvalidResultFileError, match="unknown fields"):
        Result.load(tmp_path / "b.json")
    with pytest.raises(InvalidResultFileError, match="no such file"):
        Result.load(tmp_path / "missing.json")


def test_loading_as_the_wrong_kind_is_refused(result, tmp_path):
    class Other(Result):
        pass

    path = result.save(tmp_path / "r.json")
    with pytest.raises(InvalidResultFileError, match="not a Other"):
        Other.load(path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("old")
    import os

    def explode(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temp file left


def test_html_is_self_contained(result, tmp_path):
    page = result.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == page
    assert "plotly" in page.lower() and len(page) > 1_000_000  # plotly.js is embedded
    import re

    # No tag loads anything remote. (plotly.js itself mentions cdn.plot.ly as the default topojsonURL,
    # fetched only for geo plots, which interp never draws.)
    assert not re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']?https?://", page)
    assert result.save(tmp_path / "r2.html").read_text().startswith("<!DOCTYPE html>")


def test_every_repr_html_draws_on_its_own(result):
    """Each notebook output carries plotly.js: clearing or re-running an earlier cell must not blank it."""
    first, second = result._repr_html_(), result._repr_html_()
    for output in (first, second):
        assert len(output) > 1_000_000 and "Plotly.newPlot" in output and "Paris" in output


# ------------------------------------------------------------------------- registered kinds
def _legacy_cases():
    """Results of several types, each with the module-path kind interp < 0.2 wrote for it."""
    from interp.attribution.result import AttentionResult
    from interp.truth.detector import TruthScoreResult
    from interp.truth.lies import LieDetectionResult  # moved from interp.truth.detector in 0.2

    top = TopTokensResult(prompt="p", tokens=[" a"], token_ids=np.array([3]), probs=np.array([0.5], dtype=np.float32),
                          logits=np.array([1.0], dtype=np.float32), model_name="tiny-gpt2")
    attention = AttentionResult(prompt="a b", tokens=["<s>", "a", " b"], layers=[0, 1], model_name="tiny-gpt2",
                                patterns=np.tril(np.ones((2, 1, 3, 3), dtype=np.float32)))
    scores = TruthScoreResult(texts=["x", "y"], p_true=np.array([0.2, 0.9]), layer=2, probe="lr",
                              tokens=[["x"], ["y"]], token_p_true=[[0.2], [0.9]], model_name="tiny-gpt2")
    lies = LieDetectionResult(questions=["q?"], honest_answers=["a"], lie_answers=["b"], honest_scores=np.array([0.8]),
                              lie_scores=np.array([0.3]), expected=["a"], auc=1.0, honest_correct=1.0,
                              lie_avoided=1.0, layer=2, probe="lr", model_name="tiny-gpt2",
                              model_card={"name": "tiny-gpt2"})
    from interp.projection.world import WorldMapLayerResult  # was interp.batch.tasks.WorldMapLayerResult

    layer = WorldMapLayerResult(layer=3, r2=np.array([0.5, 0.25]), alpha=10.0, error_km=812.5,
                                predicted=np.zeros((4, 2), dtype=np.float32), model_name="tiny-gpt2")
    return [("interp.models.model.TopTokensResult", top),
            ("interp.batch.tasks.WorldMapLayerResult", layer),
            ("interp.attribution.result.AttentionResult", attention),
            ("interp.truth.detector.TruthScoreResult", scores),
            ("interp.truth.detector.LieDetectionResult", lies)]


def test_files_with_pre_0_2_module_path_kinds_still_load(tmp_path):
    for old_kind, result in _legacy_cases():
        document = json.loads(result.to_json())
        assert document["kind"] == type(result).kind == type(result).__name__
        document["kind"] = old_kind  # exactly what interp 0.1 wrote: the class's module path
        path = tmp_path / f"{type(result).__name__}.json"
        path.write_text(json.dumps(document))
        for loaded in (Result.load(path), type(result).load(path)):
            assert type(loaded) is type(result) and loaded == result


def test_old_and_new_kinds_load_in_a_fresh_process(tmp_path):
    """Nothing imported beforehand: the kind alone finds its module (KIND_MODULES), old paths included."""
    import subprocess
    import sys

    for old_kind, result in _legacy_cases():
        document = json.loads(result.to_json())
        (tmp_path / f"new-{type(result).__name__}.json").write_text(json.dumps(document))
        (tmp_path / f"old-{type(result).__name__}.json").write_text(json.dumps({**document, "kind": old_kind}))
    code = ("import sys, pathlib\nfrom interp.results import Result\n"
            "for p in sorted(pathlib.Path(sys.argv[1]).iterdir()):\n"
            "    print(p.name, type(Result.load(p)).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    lines = sorted(out.stdout.split("\n")[:-1])
    expected = sorted(f"{age}-{type(r).__name__}.json {type(r).__name__}" for _, r in _legacy_cases()
                      for age in ("new", "old"))
    assert lines == expected


def test_unknown_kinds_are_refused_without_importing_anything():
    import subprocess
    import sys

    code = """
import json, sys
from interp.errors import InvalidResultFileError
from interp.results import Result
kinds = ["interp.nowhere.Thing", "interp.cli.Thing", "json.Thing", "tests.conftest.Thing", "Thing", "", 7, None]
before = set(sys.modules)
for kind in kinds:
    text = json.dumps({"format": "interp.result", "schema_version": 1, "kind": kind, "fields": {}})
    try:
        Result.from_json(text)
    except InvalidResultFileError as exc:
        print("refused", repr(kind), str(exc)[:40])
    else:
        print("LOADED", repr(kind))
print("imported", sorted(set(sys.modules) - before))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED" not in out and out.count("refused") == 8
    assert out.strip().splitlines()[-1] == "imported []"


def test_kind_table_matches_the_result_types():
    """Every Result subclass in interp's source has a unique kind, and KIND_MODULES names its module.

    Read with ``ast`` (no import of every module: a module being rewritten elsewhere cannot break it)."""
    import ast
    import importlib
    from pathlib import Path

    import interp
    from interp.results import _REGISTRY, KIND_MODULES, LEGACY_KINDS

    root = Path(interp.__file__).parent
    bases: dict[str, tuple[str, list[str]]] = {}
    for path in root.rglob("*.py"):
        module = ".".join(("interp", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                assert node.name not in bases or "Result" not in names, f"two classes named {node.name}"
                bases.setdefault(node.name, (module, names))

    def is_result(name: str) -> bool:
        return name in bases and any(b == "Result" or is_result(b) for b in bases[name][1])

    found = {name: module for name, (module, _) in bases.items() if is_result(name)}
    assert found == KIND_MODULES
    for kind, module in KIND_MODULES.items():
        importlib.import_module(module)
        assert _REGISTRY[kind].__module__ == module and _REGISTRY[kind].kind == kind
    assert set(LEGACY_KINDS.values()) <= set(KIND_MODULES)


def test_two_result_types_cannot_share_a_kind():
    from interp.errors import ResultKindError

    with pytest.raises(ResultKindError, match="'TopTokensResult' .* already registered by interp.models.model"):
        class TopTokensResult(Result):  # noqa: F811 - the clash is the point
            pass
    with pytest.raises(ResultKindError, match="without dots"):
        class Dotted(Result):
            kind = "a.b"


def test_a_class_defined_again_replaces_itself():
    def make():
        class Again(Result):
            pass
        return Again

    first, second = make(), make()
    assert Result.from_json(second().to_json()).__class__ is second and first.kind == second.kind == "Again"


def test_summary_leads_with_caveats_and_plain_summary_does_not():
    """A result whose number means nothing says so first, in summary(), the notebook view and the HTML page."""
    import dataclasses

    from interp.results import Result

    @dataclasses.dataclass(eq=False)
    class _Rate(Result):
        accuracy: float = 0.25
        chance: float = 0.25

        def summary(self) -> str:
            return f"accuracy {self.accuracy:.2f}"

        def caveats(self) -> list[str]:
            return ["At chance level: the accuracy does not exceed guessing."] if self.accuracy <= self.chance else []

    @dataclasses.dataclass(eq=False)
    class _Child(_Rate):
        def summary(self) -> str:
            return super().summary() + " (child)"

    at_chance, fine = _Rate(), _Rate(accuracy=0.9)
    assert at_chance.summary() == "At chance level: the accuracy does not exceed guessing. accuracy 0.25"
    assert at_chance.plain_summary() == "accuracy 0.25" and fine.summary() == "accuracy 0.90"
    assert _Child().summary().count("At chance level") == 1  # once, though both summaries are wrapped
    assert "interp-caveat" in at_chance._repr_html_() and "interp-caveat" in at_chance.to_html()
    assert "interp-caveat" not in fine.to_html()
