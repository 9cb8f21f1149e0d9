"""The ``interp circuit`` commands: a thin shell over :mod:`interp.circuits`.

    interp circuit dla --task ioi --pairs 20                 # direct logit attribution of heads, MLPs, neurons
    interp circuit eap --task ioi --pairs 20 --method eap-ig # edge scores + faithfulness of top-n circuits
    interp circuit eap --csv my_pairs.csv --out runs/eap     # your own clean,corrupted,answer,foil pairs

Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations`` here: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import (
    JsonOpt,
    ModelOpt,
    OutOpt,
    clean_errors,
    progress_bars,
    show,
)

__all__ = ["app"]

app = typer.Typer(help="Circuits: direct logit attribution and edge attribution patching.", no_args_is_help=True)

TaskOpt = Annotated[str, typer.Option("--task", "-t", help="A shipped task: ioi, greater_than or capitals.")]
PairsOpt = Annotated[int, typer.Option("--pairs", "-n", help="Pairs generated from the shipped task.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Your own pairs: a CSV with the columns clean,corrupted,"
                                             "answer,foil (instead of --task).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="The task generator's (and random circuits') seed.")]
TopOpt = Annotated[int, typer.Option("--top", help="Rows printed.")]


def _task(task: str, pairs: int, csv: Path | None, seed: int, where: str):
    """The CircuitTask of the options (a bad --task / --pairs or an unreadable --csv fails here, before the model loads)."""
    from interp._params import check_args
    from interp.circuits import make_task, read_task_csv

    if csv is not None:
        return read_task_csv(csv)
    check_args(make_task, where=where, options={"name": "--task", "n": "--pairs"}, name=task, n=pairs, seed=seed)
    return make_task(task, n=pairs, seed=seed)


@app.command("dla")
@clean_errors
def dla_command(task: TaskOpt = "ioi", pairs: PairsOpt = 20, csv: CsvOpt = None, seed: SeedOpt = 0,
                model: ModelOpt = None,
                neurons: Annotated[int, typer.Option("--neurons", help="Top neurons reported.")] = 20,
                top: TopOpt = 15, save: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Direct logit attribution: each head's, MLP's and neuron's write onto logit(answer) - logit(foil) at the last
    token of the clean prompts (final norm scale frozen; the rows sum to the logit difference)."""
    from interp._params import check_args
    from interp.circuits import direct_logit_attribution
    from interp.models.loading import load_model

    where = "interp circuit dla"
    check_args(direct_logit_attribution, where=where, options={"top_neurons": "--neurons"}, top_neurons=neurons)
    circuit_task = _task(task, pairs, csv, seed, where)  # before the model loads
    loaded = load_model(model)
    result = direct_logit_attribution(loaded, circuit_task, top_neurons=neurons)
    tables = [("Components by mean contribution", result.to_frame().head(top))]
    if len(result.neuron_layers):
        tables.append(("Top neurons", result.neuron_frame().head(top)))
    show(result, as_json=as_json, out_dir=save, tables=tables)


@app.command("eap")
@clean_errors
def eap_command(task: TaskOpt = "ioi", pairs: PairsOpt = 20, csv: CsvOpt = None, seed: SeedOpt = 0,
                model: ModelOpt = None,
                method: Annotated[str, typer.Option("--method", help="eap (one gradient) or eap-ig (integrated "
                                                    "gradients over interpolated inputs).")] = "eap-ig",
                steps: Annotated[int, typer.Option("--steps", help="EAP-IG interpolation steps.")] = 5,
                sizes: Annotated[str | None, typer.Option("--sizes", help="Circuit sizes checked by exact patching, "
                                                          "comma-separated edge counts (default: 0.5%..30% of the "
                                                          "edges); 'none' skips the check.")] = None,
                n_random: Annotated[int, typer.Option("--random", help="Random edge sets per size.")] = 5,
                top: TopOpt = 15, save: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Edge attribution patching: score every edge (embeddings, heads, MLPs, logits), then patch everything outside
    the top-n edges exactly and compare with random edge sets of the same size."""
    from interp._params import check_args
    from interp.circuits import edge_attribution_patching
    from interp.errors import InvalidParameterError
    from interp.models.loading import load_model

    where = "interp circuit eap"
    size_list = None
    if sizes is not None:
        try:
            size_list = [] if sizes.strip().lower() == "none" else [int(s) for s in sizes.split(",") if s.strip()]
        except ValueError:
            raise InvalidParameterError(f"The '--sizes' parameter of {where} must be comma-separated edge counts "
                                        f"(e.g. 50,100,400) or 'none'. Got {sizes!r} instead.") from None
    check_args(edge_attribution_patching, where=where, options={"n_random": "--random"}, method=method, steps=steps,
               sizes=size_list, n_random=n_random, seed=seed)  # from its table, before the model loads
    circuit_task = _task(task, pairs, csv, seed, where)
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = edge_attribution_patching(loaded, circuit_task, method=method, steps=steps, sizes=size_list,
                                           n_random=n_random, seed=seed,
                                           progress=bars)
    tables = [("Largest edges", result.to_frame().head(top))]
    if result.sizes:
        tables.append(("Faithfulness (exact patching)", result.faithfulness_frame()))
    show(result, as_json=as_json, out_dir=save, tables=tables)
