"""The ``attribute`` command of the ``interp`` app, on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from interp.results import Result

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    from interp.cli import app

    return app


def test_json_matches_the_library(app, tiny_models):
    from interp.attribution import token_ablation

    result = runner.invoke(app, ["attribute", "The quick brown fox", "--method", "ablation", "--target", " jumps",
                                 "--model", "tiny-gpt2", "--json"])
    assert result.exit_code == 0, result.output
    printed = Result.from_json(result.stdout)  # --json prints the saved result format
    expected = token_ablation(tiny_models["tiny-gpt2"], "The quick brown fox", " jumps")
    assert type(printed) is type(expected)
    assert printed.tokens == expected.tokens and printed.method == "ablation" and printed.target == " jumps"
    np.testing.assert_allclose(printed.total, expected.total, atol=1e-5)
    assert json.loads(result.stdout)["kind"] == type(expected).kind


def test_table_output_and_saved_html(app, tmp_path):
    out = tmp_path / "ig"
    result = runner.invoke(app, ["attribute", "The quick brown fox", "--method", "integrated_gradients", "--steps", "4",
                                 "-m", "tiny-llama", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "integrated_gradients" in result.stdout
    # the completeness check is a readable figure, not the raw per-token list it used to print
    assert "completeness: the scores' sum misses f(input) - f(baseline) by at most" in " ".join(result.stdout.split())
    assert "completeness error: [" not in result.stdout
    assert (out / "result.html").read_text().startswith("<!DOCTYPE html>")


def test_integrated_gradients_baseline_option(app):
    by_baseline = {}
    for baseline in ("space", "zeros"):
        result = runner.invoke(app, ["attribute", "The quick brown fox", "--method", "integrated_gradients", "--steps",
                                     "4", "--baseline", baseline, "-m", "tiny-gpt2", "--json"])
        assert result.exit_code == 0, result.output
        by_baseline[baseline] = Result.from_json(result.stdout)
        assert by_baseline[baseline].metadata["baseline"] == baseline
    assert not np.allclose(by_baseline["space"].total, by_baseline["zeros"].total)


def test_all_methods_compared_and_saved(app, tmp_path):
    out = tmp_path / "compare"
    result = runner.invoke(app, ["attribute", "The quick brown fox", "--method", "all", "--steps", "4",
                                 "-m", "tiny-neox", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    printed = Result.from_json(result.stdout)
    assert printed.methods == ["ablation", "gradient", "grad_x_input", "integrated_gradients", "rollout"]
    assert Result.load(out / "result.json") == printed  # --json prints what --out saves


def test_errors_are_one_line_without_traceback(app):
    for args, name in ([["attribute", "", "-m", "tiny-gpt2"], "EmptyPromptError"],
                       [["attribute", "Hi", "--method", "lime", "-m", "tiny-gpt2"], "InvalidParameterError"],
                       [["attribute", "Hi", "--target", "", "-m", "tiny-gpt2"], "EmptyPromptError"],
                       [["attribute", "Hi", "--unit", "sentence", "-m", "tiny-gpt2"], "InvalidParameterError"],
                       [["attribute", "Hi", "--method", "integrated_gradients", "--baseline", "noise", "-m",
                         "tiny-gpt2"], "InvalidParameterError"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert name in result.stderr and "Traceback" not in result.output + result.stderr
        assert result.stderr.count("error:") == 1
