"""The ``interp`` command line: a thin shell over the library.

Every command calls library functions and prints their results (a rich table, or JSON with
``--json``). Errors print one line, ``error: ...``, and exit with status 1, never a traceback.

    interp models
    interp info tiny-gpt2 --json
    interp predict "The capital of France is" -k 5
    interp explore --port 8501          # the Streamlit explorer, on 127.0.0.1 unless --host says otherwise

Layout: :mod:`interp.cli._common` holds what the commands share (options, error handling, tables,
JSON, the consoles) and imports none of them; one module per command group exports its
``typer.Typer``; this module adds them to ``app``. Imports point one way: here -> command modules ->
``_common``. Nothing heavy (torch, transformers) is imported until a command runs.

Adding a command: a module here whose ``app = typer.Typer()`` holds the command (options from
``_common``: ``JsonOpt`` and ``OutOpt`` on every command that makes a result; the body parses input, calls one
library function with ``progress=`` the value of ``progress_bars()`` and ends in
``show(result, as_json=..., out_dir=..., tables=[...])``, the one way a result is printed: its summary and tables,
or the saved result format for ``--json``; ``--out`` is a folder that gets ``result.json`` and ``result.html``,
checked before any work), and one ``app.add_typer(...)`` line below.

Start-up: ``interp --help`` imports no torch, transformers, scikit-learn, scipy, plotly or pandas (a test checks
it); a command imports what it needs inside its function. A warm process is not built in: notebooks, the
explorer (``interp explore``) and ``interp run SPEC.toml`` already keep one model loaded across many calls.
"""

from __future__ import annotations

import typer

from interp.cli import ask as ask_cli
from interp.cli import attribution, batch, explore, models, probing, projection, truth
from interp.cli import circuits as circuits_cli
from interp.cli import features as features_cli
from interp.cli import lens as lens_cli
from interp.cli import patching as patching_cli
from interp.cli import replication as replication_cli
from interp.cli import steering as steering_cli
from interp.cli import train_data as train_data_cli

__all__ = ["app", "delay_quick_bars", "main"]

app = typer.Typer(help="interp: see what a transformer language model is thinking.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)

# A Typer added without a name contributes its commands at the top level (typer >= 0.15).
for _group in (models.app, explore.app, attribution.app, projection.app, truth.app, batch.app):
    app.add_typer(_group)

probe_app = typer.Typer(help="Probe hidden states for linguistic properties.", no_args_is_help=True)
probe_app.add_typer(probing.app)  # probe pos
probe_app.add_typer(truth.probe_app)  # probe truth
app.add_typer(probe_app, name="probe")
app.add_typer(projection.map_app, name="map")
app.add_typer(lens_cli.app)  # interp lens, interp lens-fit
app.add_typer(patching_cli.app)  # interp patch, interp trace, interp atp
app.add_typer(ask_cli.app, name="ask")  # interp ask calibrate|hints|self-report
app.add_typer(train_data_cli.app, name="train-data")  # interp train-data finetune|attribute|evaluate
app.add_typer(replication_cli.app)  # interp replicate
app.add_typer(circuits_cli.app, name="circuit")  # interp circuit dla|eap
app.add_typer(features_cli.app, name="sae")  # interp sae train|eval|show
app.add_typer(steering_cli.app, name="steer")  # interp steer vector|apply|sweep|export


def main() -> None:
    """Entry point of the ``interp`` console script."""
    delay_quick_bars()
    app()


def delay_quick_bars(seconds: float = 1.0) -> None:
    """Make tqdm bars in this process appear only once their work has taken ``seconds`` (tqdm's ``delay``), so
    loading a cached model draws no "Loading weights" bar while building a cache still shows its progress.

    The console script's own setting, never the library's: tqdm reads ``TQDM_*`` defaults from the environment
    when it is imported, so the variable is set for that import only and removed again (a ``TQDM_DELAY`` the
    user set wins). Does nothing once tqdm is imported."""
    import os
    import sys

    if "tqdm" in sys.modules or "TQDM_DELAY" in os.environ:
        return
    os.environ["TQDM_DELAY"] = str(seconds)  # process-state: ok - the console script only, removed in finally below
    try:
        import tqdm.std  # noqa: F401 - binds the default
    finally:
        del os.environ["TQDM_DELAY"]


if __name__ == "__main__":
    main()
