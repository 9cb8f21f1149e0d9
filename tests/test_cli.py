"""The interp command line, on tiny models: JSON output, one-line errors, exit codes, --out folders, tables.

Every test passes the same with ``TERM=dumb``, ``TERM=xterm`` or no ``TERM``: the consoles' size, colour and
terminal detection are pinned by the autouse fixture below.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from interp.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def pinned_terminal(monkeypatch):
    """The CLI's consoles as a 100x40 terminal-less screen without colour, whatever the environment says."""
    from interp.cli import _common

    for name in ("TERM", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for console in (_common.out, _common.err):
        monkeypatch.setattr(console, "_width", 100)
        monkeypatch.setattr(console, "_height", 40)
        monkeypatch.setattr(console, "_force_terminal", False)
        monkeypatch.setattr(console, "_color_system", None)


def test_predict_json_matches_library(tiny_models):
    result = runner.invoke(app, ["predict", "Hello world", "-k", "3", "--model", "tiny-gpt2", "--json"])
    assert result.exit_code == 0, result.output
    from interp.results import Result

    printed = Result.from_json(result.stdout)  # --json prints the saved result format
    expected = tiny_models["tiny-gpt2"].top_next_tokens("Hello world", k=3)
    assert type(printed) is type(expected) and printed.tokens == expected.tokens
    assert printed.model_name == "tiny-gpt2" and json.loads(result.stdout)["kind"] == type(expected).kind


def test_predict_saves_result_in_the_out_folder(tmp_path):
    from interp.results import Result

    out = tmp_path / "runs" / "words"  # no extension: a folder, as the explorer's Runs page reads it
    result = runner.invoke(app, ["predict", "Hello", "-m", "tiny-llama", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Result.load(out / "result.json").model_name == "tiny-llama"
    assert (out / "result.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == ["result.html", "result.json"]


def test_out_given_a_file_name_is_refused_before_any_work(tmp_path, monkeypatch):
    import interp.models.loading as loading

    loaded = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    result = runner.invoke(app, ["predict", "Hello", "-m", "tiny-gpt2", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 1 and "OutputFolderError" in result.stderr and "x.html" in result.stderr
    assert loaded == [] and list(tmp_path.iterdir()) == []


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


def test_a_folder_that_cannot_be_written_fails_before_any_work_naming_it(tmp_path, monkeypatch):
    import interp.models.loading as loading

    loaded = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for target in (blocker, blocker / "top"):
        result = runner.invoke(app, ["predict", "Hello", "-m", "tiny-gpt2", "--out", str(target)])
        assert result.exit_code == 1, result.output
        assert result.stderr.count("error:") == 1 and "OutputFolderError" in result.stderr
        assert str(blocker) in " ".join(result.stderr.split()).replace(" ", "") or "a-file" in result.stderr
        assert ".tmp" not in result.stderr and "Traceback" not in result.output + result.stderr
    assert loaded == []  # checked before the model was loaded
    assert blocker.read_text() == "not a folder"  # nothing lost


def test_every_out_option_is_checked_before_the_command_runs():
    """Each command's --out goes through the same check (clean_errors finds the option by its name)."""
    import typer.main

    from interp.cli._common import _out_parameters

    missing = []
    for command in typer.main.get_command(app).commands.values():
        for sub in getattr(command, "commands", {command.name: command}).values():
            if any("--out" in p.opts for p in sub.params) and not _out_parameters(sub.callback):
                missing.append(sub.name)
    assert missing == []


def test_every_command_that_makes_a_result_takes_json_and_an_out_folder():
    """--json on every command but `explore` (which serves the app); --out is the shared folder option (result.json +
    result.html) everywhere except where the folder is not a result's: a fine-tuning run, a batch run, a lens file."""
    import typer.main

    from interp.cli._common import _out_parameters

    not_results = {"explore", "export"}  # export writes a llama.cpp control-vector file, not a result
    # --out is the run folder (fine-tuning, a batch run, an SAE with its shards and trainer state) or the lens file, not
    # a result's folder
    own_folders = {"finetune", "run", "lens-fit", "train"}
    no_json, other_out = [], []
    for command in typer.main.get_command(app).commands.values():
        for sub in getattr(command, "commands", {command.name: command}).values():
            options = {o for p in sub.params for o in p.opts}
            if sub.name not in not_results and "--json" not in options:
                no_json.append(sub.name)
            if "--out" in options and sub.name not in own_folders and [f for _, f in _out_parameters(sub.callback)] != [True]:
                other_out.append(sub.name)
    assert no_json == [] and other_out == []


def test_tables_fit_80_columns_without_cutting_numbers_or_names():
    import io

    from rich.console import Console

    from interp.cli._common import table

    screen = Console(file=io.StringIO(), width=80, color_system=None)
    rows = [{"layer": i, **{f"accuracy_{j}": 0.712345 + j / 1000 for j in range(8)}} for i in range(3)]
    screen.print(table(rows, "Wide"))
    models = [{"name": "SmolLM2-135M-Instruct-Q4_1", "kind": "default", "available": True, "cached": True,
               "description": "a long description " * 6}]
    screen.print(table(models, "Models"))
    text = screen.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "..." not in text
    for j in range(8):  # every number in full, in some part of the table
        assert f"{0.712345 + j / 1000:.4g}" in text and f"accuracy_{j}" in text
    assert "SmolLM2-135M-Instruct-Q4_1" in text  # the name to copy, whole
    assert "(1/2)" in text  # the wide table went in parts


def test_summary_lines_are_not_broken_by_newlines_on_a_narrow_screen(tiny_models, monkeypatch):
    from interp.cli import _common

    monkeypatch.setattr(_common.out, "_width", 40)
    prompt = "Hello world, this prompt is longer than the screen is wide"
    result = runner.invoke(app, ["predict", prompt, "-m", "tiny-gpt2", "-k", "2"])
    assert result.exit_code == 0, result.output
    summary = tiny_models["tiny-gpt2"].top_next_tokens(prompt, k=2).summary()
    assert summary in result.stdout.splitlines()  # one line, whole, for the terminal to wrap


def test_models_table_shows_whole_names_at_80_columns(monkeypatch):
    from interp.cli import _common

    monkeypatch.setattr(_common.out, "_width", 80)
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "SmolLM2-135M-Instruct-Q4_1" in result.stdout and "tiny-neox" in result.stdout
    assert "…" not in result.stdout


def test_console_script_delays_quick_bars_without_keeping_the_variable():
    """`interp` draws tqdm bars (transformers' "Loading weights") only for work that takes over a second."""
    code = ("import io, os; from interp.cli import delay_quick_bars; delay_quick_bars()\n"
            "from tqdm import tqdm; f = io.StringIO(); list(tqdm(range(3), file=f))\n"
            "print(repr(f.getvalue()), 'TQDM_DELAY' in os.environ)")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TQDM_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["''", "False"]


def test_help_and_cli_import_do_not_import_heavy_libraries():
    code = ("import sys; import interp.cli, interp.models, interp.models.loading\n"
            "from typer.testing import CliRunner; CliRunner().invoke(interp.cli.app, ['--help'])\n"
            "CliRunner().invoke(interp.cli.app, ['predict', '--help'])\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'scipy', 'plotly', 'pandas', 'transformers',"
            " 'transformer_lens') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_rich_progress_draws_one_bar_per_stage():
    import io

    from rich.console import Console

    from interp.cli._common import RichProgress

    screen = io.StringIO()
    with RichProgress(Console(file=screen, force_terminal=True, width=100, color_system=None)) as bars:
        bars("activations", 0, 4)
        bars("activations", 4, 4)
        bars("probes", 1, 2)
        tasks = [(t.description, t.completed, t.total) for t in bars._bars.tasks]
    assert tasks == [("activations", 4, 4), ("probes", 1, 2)]
    assert "probes" in screen.getvalue() and "4/4" in screen.getvalue()


def test_ask_calibrate_prints_json_and_saves_the_out_folder(tmp_path):
    """The ask commands go through the same show(): --out FOLDER gets result.json + result.html, --json prints the same
    result in its saved format and nothing else."""
    import interp

    args = ["ask", "calibrate", "-m", "tiny-gpt2", "-n", "6", "--signals", "letter"]
    saved = runner.invoke(app, [*args, "--out", str(tmp_path / "cal")])
    assert saved.exit_code == 0, saved.output
    assert (tmp_path / "cal" / "result.html").is_file() and "wrote" in saved.stdout
    printed = runner.invoke(app, [*args, "--json"])
    assert printed.exit_code == 0, printed.output
    again, first = interp.Result.from_json(printed.stdout), interp.load_result(tmp_path / "cal" / "result.json")
    pd.testing.assert_frame_equal(again.to_frame(), first.to_frame())  # the same numbers (the timings differ)
