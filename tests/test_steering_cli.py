"""``interp steer vector|apply|sweep|export`` on tiny-gpt2: each prints what the library returns for the same inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from interp.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def pinned_terminal(monkeypatch):
    from interp.cli import _common

    for console in (_common.out, _common.err):
        monkeypatch.setattr(console, "_width", 120)
        monkeypatch.setattr(console, "_force_terminal", False)
        monkeypatch.setattr(console, "_color_system", None)


@pytest.fixture(scope="module")
def saved_vector(tmp_path_factory, tiny_models):
    folder = tmp_path_factory.mktemp("steer") / "french"
    result = runner.invoke(app, ["steer", "vector", "--concept", "french", "-m", "tiny-gpt2", "--layers", "2",
                                 "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_vector_matches_the_library(saved_vector, tiny_models):
    from interp.steering import SteeringVector, concept, steering_vector

    saved = SteeringVector.load(saved_vector / "result.json")
    c = concept("french")
    expected = steering_vector(tiny_models["tiny-gpt2"], c.positives, c.negatives, layers=[2], concept="french")
    assert np.array_equal(saved.directions, expected.directions) and saved.layers == [2]
    assert (saved_vector / "result.html").is_file()


def test_apply_and_export(saved_vector, tiny_models, tmp_path):
    from interp.steering import SteeringVector, load_control_vector, steer

    result = runner.invoke(app, ["steer", "apply", "Hello", "--vector", str(saved_vector), "-s", "8", "-n", "3",
                                 "-m", "tiny-gpt2", "--json"])
    assert result.exit_code == 0, result.output
    from interp.results import Result

    printed = Result.from_json(result.stdout)
    vector = SteeringVector.load(saved_vector / "result.json")
    expected = steer(tiny_models["tiny-gpt2"], "Hello", vector, 8.0, max_new_tokens=3)
    assert printed.generations == expected.generations
    gguf = tmp_path / "v.gguf"
    result = runner.invoke(app, ["steer", "export", str(saved_vector), str(gguf)])
    assert result.exit_code == 0, result.output
    assert "direction.1" in result.output
    assert np.array_equal(load_control_vector(gguf).directions, vector.directions)


def test_sweep_prints_the_curve(saved_vector, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Tell me about Paris.\nHello there\n", encoding="utf-8")
    result = runner.invoke(app, ["steer", "sweep", "--vector", str(saved_vector), "--prompts", str(prompts),
                                 "--scorer", "french", "--strengths", "4", "-n", "2", "-m", "tiny-gpt2",
                                 "--out", str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert "Steering sweep" in result.output and (tmp_path / "sweep" / "result.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["steer", "vector", "-m", "tiny-gpt2"], "Give either --concept, or both --positives and --negatives"),
    (["steer", "apply", "Hi", "-m", "tiny-gpt2"], "Give --vector"),
    (["steer", "vector", "--concept", "german", "-m", "tiny-gpt2"], "must be one of"),
    (["steer", "sweep", "--concept", "french", "--strengths", "a,b", "-m", "tiny-gpt2"],
     "'--strengths' parameter of interp steer sweep must be a non-empty list of comma-separated numbers"),
])
def test_errors_are_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and message in result.output, result.output


@pytest.mark.parametrize("args, message", [
    (["vector", "--concept", "french", "--method", "probe"], "The '--method' parameter of interp steer vector must be "
                                                             "one of 'mean_diff' or 'pca'. Got 'probe' instead."),
    (["vector", "--concept", "french", "--layers", "1:x"], "'--layers' parameter of interp steer vector"),
    (["apply", "Hi", "--concept", "french", "-s", "nan"], "The '--strength' parameter of interp steer apply must be a "
                                                          "non-empty list, each a float in (-inf, inf)"),
    (["apply", "Hi", "--concept", "french", "-n", "0"], "The '--max-new-tokens' parameter of interp steer apply must be "
                                                        "an int >= 1. Got 0 instead."),
    (["sweep", "--concept", "french", "--strengths", ","], "The '--strengths' parameter of interp steer sweep must be "
                                                           "a non-empty list"),
    (["sweep", "--concept", "french", "--max-ppl-ratio", "0.5"], "The '--max-ppl-ratio' parameter of interp steer "
                                                                 "sweep must be a float >= 1. Got 0.5 instead."),
    (["sweep", "--concept", "french", "--scorer", "german"], "The '--scorer' parameter of interp steer sweep must be "
                                                             "one of 'french', 'sentiment' or 'truth'"),
    (["sweep", "--concept", "french", "--max-prompts", "0"], "The '--max-prompts' parameter of interp steer sweep must "
                                                             "be an int >= 1. Got 0 instead."),
])
def test_bad_options_fail_before_the_model_loads(monkeypatch, args, message):
    """The commands check their options against the functions' tables (interp._params.check_args) first."""
    import interp.models.loading as loading

    loaded: list = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    result = runner.invoke(app, ["steer", *args, "-m", "no-such-model"])
    assert result.exit_code == 1 and "InvalidParameterError" in result.output, result.output
    assert message in " ".join(result.output.split()), result.output
    assert loaded == []


def test_help_imports_no_torch():
    code = ("import sys; from typer.testing import CliRunner; import interp.cli\n"
            "CliRunner().invoke(interp.cli.app, ['steer', '--help'])\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
