"""``interp probe pos`` through typer's CliRunner on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from interp.results import Result

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    from interp.cli import app

    return app


def test_probe_pos_writes_json_and_html(app, tmp_path):
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(f"My {a} {n} {v} the ball." for a in ("big", "old", "red", "tiny") for n in ("dog", "cat")
                              for v in ("kicked", "found")), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["probe", "pos", "-m", "tiny-gpt2", "--layers", "1,2", "--text", str(text),
                                 "--out", str(out), "--no-random-baseline"])
    assert result.exit_code == 0, result.output
    assert "Held-out accuracy by layer" in result.stdout and "word_type" in result.stdout
    saved = Result.load(out / "result.json")
    assert saved.layers == [0, 1, 2] and saved.n_sentences == 16 and saved.model_name == "tiny-gpt2"
    assert "<html>" in (out / "result.html").read_text()[:200].lower()


def test_probe_pos_builtin_corpus_subset(app, tmp_path):
    result = runner.invoke(app, ["probe", "pos", "-m", "tiny-llama", "--layers", "0:3:2", "-n", "40",
                                 "--alignment", "mean", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    saved = Result.load(tmp_path / "result.json")
    assert saved.layers == [0, 2] and saved.probe == "LinearProbe" and saved.alignment == "mean"
    assert saved.n_sentences == 40 and saved.baselines["random_weights"] is not None
    as_json = runner.invoke(app, ["probe", "pos", "-m", "tiny-llama", "--layers", "0:3:2", "-n", "40",
                                  "--alignment", "mean", "--json"])
    assert as_json.exit_code == 0, as_json.output
    printed = Result.from_json(as_json.stdout)  # the saved format and nothing else on stdout
    assert printed.layers == saved.layers and np.array_equal(printed.accuracy, saved.accuracy)


@pytest.mark.parametrize("args, name", [
    (["--text", "BINARY"], "InvalidTextFileError"),
    (["--text", "/no/such/file.txt"], "FileNotFoundError"),
    (["--layers", "9"], "LayerIndexError"),
    (["--layers", "a,b"], "InvalidParameterError"),
    (["--probe", "svm"], "InvalidParameterError"),
])
def test_errors_are_one_line(app, tmp_path, args, name):
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\xff" * 64)
    args = [str(binary) if a == "BINARY" else a for a in args]
    result = runner.invoke(app, ["probe", "pos", "-m", "tiny-gpt2", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1
    assert name in result.stderr and "Traceback" not in result.output + result.stderr



@pytest.mark.parametrize("command, quick", [
    (["probe", "pos"], ["--layers", "0:31:3"]),
    (["probe", "truth"], ["--max-pairs", "20"]),
    (["map", "world"], ["--n-places", "300"]),
])
def test_commands_whose_defaults_take_minutes_say_so_first(app, tmp_path, command, quick):
    """With the defaults, the command says how long they take and what a quick look is, before any work (the model
    name below does not exist, so nothing runs after the notice); with a smaller setting it does not."""
    args = [*command, "--out", str(tmp_path / "o"), "-m", str(tmp_path / "no-such-model")]
    slow = runner.invoke(app, args)
    text = slow.output + (slow.stderr if slow.stderr_bytes is not None else "")
    assert slow.exit_code != 0 and "For a quick look:" in text and "minutes" in text, text
    fast = runner.invoke(app, [*args, *quick])
    assert "For a quick look:" not in fast.output + (fast.stderr if fast.stderr_bytes is not None else "")
