"""``interp replicate``: the papers' findings measured on a model (a thin shell over :mod:`interp.replication`).

    interp replicate --quick                                  # the default model, small samples (minutes)
    interp replicate -m tiny-gpt2 -m tiny-llama --quick --parts truth,pos --out runs/replication
    interp replicate --load runs/replication --json           # a saved table, printed again

It prints the result's caveats and summary, then one row per finding (the paper, the claim, the value
measured and whether it reproduces, per model); ``--json`` prints the saved result format instead and
``--out FOLDER`` writes ``result.json`` and ``result.html`` (the explorer's Replication and Runs pages open
it). Nothing heavy is imported until the command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, OutOpt, clean_errors, progress_bars, show

__all__ = ["app"]

app = typer.Typer()


def _rows(result) -> list[dict]:
    """One row per finding, narrow enough for a terminal: its key, the paper, the criterion and per model the value
    and the verdict (the claims and what is measured: ``--json``, ``--out`` or the explorer's Replication page)."""
    frame = result.to_frame().drop(columns=["measured", "paper_model", "claim"])
    frame.insert(0, "finding", result.keys)
    frame["paper"] = [p.split(" (")[0] for p in frame["paper"]]
    return frame.to_dict(orient="records")


@app.command("replicate")
@clean_errors
def replicate_command(
        models: Annotated[list[str] | None, typer.Option("--model", "-m", help="A model name or path; repeat for "
                                                         "one column per model. Default: the default model.")] = None,
        quick: Annotated[bool, typer.Option("--quick", help="Small samples and every few layers (minutes on a CPU; "
                                            "noisier).")] = False,
        parts: Annotated[str, typer.Option("--parts", help="Comma list of truth, space, pos, attribution (one per "
                                           "paper).")] = "truth,space,pos,attribution",
        seed: Annotated[int, typer.Option("--seed", help="Seed of every split and of the random reference "
                                          "ranking.")] = 0,
        load: Annotated[Path | None, typer.Option("--load", help="Print a saved table (a result.json or the --out "
                                                  "folder that holds it) instead of measuring.")] = None,
        out_dir: OutOpt = None,
        as_json: JsonOpt = False) -> None:
    """Each headline finding of the papers interp implements, measured on one or more models, with its verdict."""
    from interp._validation import check_choice

    if load is not None:
        from interp.replication import ReplicationResult
        from interp.results import load_result

        result = load_result(load / "result.json" if load.is_dir() else load)
        if not isinstance(result, ReplicationResult):
            from interp.errors import InvalidParameterError

            raise InvalidParameterError(f"--load must be a replication table saved by interp replicate. Got "
                                        f"{str(load)!r}, a {type(result).__name__}.")
    else:
        from interp.replication import PARTS, replication_table

        names = [p.strip() for p in parts.split(",") if p.strip()]
        for name in names or [parts]:  # an unknown part fails before any model loads
            check_choice(name, PARTS, name="--parts", where="interp replicate")
        with progress_bars(quiet=as_json) as bars:
            result = replication_table(models or [None], quick=quick, parts=names, seed=seed, progress=bars)
    show(result, as_json=as_json, out_dir=out_dir, tables=[("Findings", _rows(result))], notes=result.details)
