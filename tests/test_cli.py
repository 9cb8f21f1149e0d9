"""The interp command line, on tiny models: JSON output, one-line errors, exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from interp.cli import app

runner = CliRunner()


def test_predict_json_matches_library(tiny_models):
    result = runner.invoke(app, ["predict", "Hello world", "-k", "3", "--model", "tiny-gpt2", "--json"])
    assert result.exit_code == 0, result.output
    from interp.results import Result

    printed = Result.from_json(result.stdout)  # --json prints the saved result format
    expected = tiny_models["tiny-gpt2"].top_next_tokens("Hello world", k=3)
    assert type(printed) is type(expected) and printed.tokens == expected.tokens
    assert printed.model_name == "tiny-gpt2" and json.loads(result.stdout)["kind"] == type(expected).kind


def test_predict_saves_result(tmp_path):
    from interp.results import Result

    out = tmp_path / "top.json"
    result = runner.invoke(app, ["predict", "Hello", "-m", "tiny-llama", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Result.load(out).model_name == "tiny-llama"


def test_info_json():
    result = runner.invoke(app, ["info", "tiny-neox", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["n_layers"] == 2


def test_models_lists_tiny():
    result = runner.invoke(app, ["models", "--json"])
    assert {"tiny-gpt2", "tiny-llama", "tiny-neox"} <= {row["name"] for row in json.loads(result.stdout)}


def test_errors_are_one_line_without_traceback():
    for args, name in ([["predict", "", "-m", "tiny-gpt2"], "EmptyPromptError"],
                       [["info", "no-such/model"], "UnknownModelError"],
                       [["predict", "hi", "-k", "0", "-m", "tiny-gpt2"], "InvalidParameterError"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert name in result.stderr and "Traceback" not in result.output + result.stderr
        assert result.stderr.count("error:") == 1


def test_a_folder_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["predict", "Hello", "-m", "tiny-gpt2", "--out", str(blocker / "top.json")])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("error:") == 1 and "FileExistsError" in result.stderr
    assert "a-file" in result.stderr and "Traceback" not in result.output + result.stderr
    assert blocker.read_text() == "not a folder"  # nothing lost


def test_rich_progress_draws_one_bar_per_stage():
    import io

    from rich.console import Console

    from interp.cli._common import RichProgress, progress_arg

    screen = io.StringIO()
    with RichProgress(Console(file=screen, force_terminal=True, width=100)) as bars:
        bars("activations", 0, 4)
        bars("activations", 4, 4)
        bars("probes", 1, 2)
        tasks = [(t.description, t.completed, t.total) for t in bars._bars.tasks]
    assert tasks == [("activations", 4, 4), ("probes", 1, 2)]
    assert "probes" in screen.getvalue() and "4/4" in screen.getvalue()

    def takes_bools(*, progress: bool | None = None): ...

    def takes_callables(*, progress: "ProgressArg" = None): ...  # noqa: F821 - read as text, never resolved

    assert progress_arg(takes_bools, bars) is None and progress_arg(takes_callables, bars) is bars
    assert progress_arg(takes_callables, False) is False
