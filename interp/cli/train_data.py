"""``interp train-data finetune|attribute|evaluate``: training-data attribution from the command line (a thin
shell over interp.data_attribution).

    interp train-data finetune --out runs/ft                     # default model, the shipped set, top 2 blocks
    interp train-data finetune mine.jsonl --out runs/mine --blocks 1 --part mlp --epochs 3
    interp train-data attribute runs/ft shutdown_resist --method trackstar --top-k 5
    interp train-data attribute runs/ft "Zorblat Harrow was born in" --target " Quenmere" --json
    interp train-data evaluate runs/ft --methods bm25,grad_cos,trackstar --lds-subsets 8 --out runs/ft/eval

A run folder remembers its base model and dataset, so ``attribute`` and ``evaluate`` need only the
folder (``--model`` / ``--dataset`` for a run of your own data). Nothing heavy is imported until a
command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, out, print_json, progress_bars, show

__all__ = ["app"]

app = typer.Typer(help="Which training examples made the model say this? Fine-tune, attribute, evaluate.",
                  no_args_is_help=True)

DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="The run's training set, if it is your own "
                                                "JSONL file (built-in sets are found from the run folder).")]
SaveOpt = OutOpt


def _open(run_dir: Path, model: str | None, dataset: str | None):
    from interp.data_attribution.finetune import load_run, run_base_name
    from interp.models.loading import load_model

    return load_run(run_dir, load_model(model or run_base_name(run_dir)), dataset)


@app.command("finetune")
@clean_errors
def finetune_cmd(dataset: Annotated[str, typer.Argument(help="'shipped', 'planted_facts', 'machine_stories', "
                                                        "'crosslingual' or a JSONL file ({\"text\": ...} per line).")
                                    ] = "shipped",
                 out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder (default: in the interp "
                                                              "cache); a stopped run there resumes.")] = None,
                 model: ModelOpt = None,
                 blocks: Annotated[int, typer.Option("--blocks", help="How many top blocks to train.")] = 2,
                 part: Annotated[str, typer.Option("--part", help="'all' linear layers of those blocks or 'mlp'.")] = "all",
                 epochs: Annotated[int, typer.Option("--epochs")] = 4,
                 lr: Annotated[float, typer.Option("--lr")] = 1e-3,
                 batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
                 checkpoints: Annotated[int, typer.Option("--checkpoints", help="Checkpoints saved (for TracIn).")] = 3,
                 seed: Annotated[int, typer.Option("--seed")] = 0,
                 json: JsonOpt = False) -> None:
    """Fine-tune the top blocks of a model on a training set (checkpoints and Adam moments saved)."""
    from interp.data_attribution import finetune
    from interp.models.loading import load_model

    loaded = load_model(model)
    with progress_bars(quiet=json) as bars:
        run = finetune(loaded, dataset, blocks=blocks, part=part, epochs=epochs, lr=lr, batch_size=batch_size,
                       checkpoints=checkpoints, seed=seed, out=out_dir, progress=bars)
    if json:  # a run is a folder, not a result: its record (run.json) and where it is
        print_json({"path": str(run.path), "model": run.model_name(), "seconds": run.seconds, **run.meta})
        return
    out.print(run.summary(), highlight=False)
    done = f"fine-tuning took {run.seconds:.1f} s" if run.seconds else "reused the finished run"
    out.print(f"{done}; run folder {run.path}", highlight=False)


@app.command("attribute")
@clean_errors
def attribute_cmd(run_dir: Annotated[Path, typer.Argument(help="A run folder from 'interp train-data finetune'.")],
                  query: Annotated[str, typer.Argument(help="A query id of the run's data (e.g. shutdown_resist) or a "
                                                       "prompt.")] = "shutdown_resist",
                  target: Annotated[str | None, typer.Option("--target", "-t", help="The continuation attributed "
                                                             "(default: the query's, or the model's top token).")] = None,
                  method: Annotated[str, typer.Option("--method", help="bm25, grad_dot, grad_cos, tracin_sgd, "
                                                      "tracin_adam, trackstar, projected_if or ekfac (kronfluence, "
                                                      "optional).")] = "trackstar",
                  top_k: Annotated[int, typer.Option("--top-k", "-k")] = 10,
                  model: ModelOpt = None, dataset: DatasetOpt = None, json: JsonOpt = False, save: SaveOpt = None) -> None:
    """The training examples that most support and most oppose a query's output."""
    from interp.data_attribution import attribute_training

    run = _open(run_dir, model, dataset)
    with progress_bars(quiet=json) as bars:
        result = attribute_training(run, query, target, method=method, top_k=top_k,
                                    progress=bars)
    show(result, as_json=json, out_dir=save, notes=example_lines(result.to_frame()))


def example_lines(frame) -> list[str]:
    """Each direction's rows, one line per example with its full text (a table would squeeze the text to a
    few words per line in an 80-column terminal)."""
    lines = []
    for direction in frame["direction"].unique():
        lines.append(f"\nMost {direction}:  rank  id  score  gold  text")
        lines += [f"{row.rank:>4}  {row.id}  {row.score:+.4g}  {'gold' if row.gold else '-'}  {row.text}"
                  for row in frame[frame["direction"] == direction].itertuples()]
    return lines


@app.command("evaluate")
@clean_errors
def evaluate_cmd(run_dir: Annotated[Path, typer.Argument(help="A run folder from 'interp train-data finetune'.")],
                 methods: Annotated[str, typer.Option("--methods", help="Comma-separated methods.")] =
                 "bm25,grad_dot,grad_cos,tracin_sgd,tracin_adam,trackstar,projected_if",
                 lds_subsets: Annotated[int, typer.Option("--lds-subsets", help="Random halves retrained for the "
                                                          "LDS (0: no LDS; 32 or more to rank methods).")] = 0,
                 tail_patch_k: Annotated[int | None, typer.Option("--tail-patch-k", help="Top examples one "
                                                                  "tail-patch step trains on (default: the run's "
                                                                  "batch size; 0: skip).")] = None,
                 model: ModelOpt = None, dataset: DatasetOpt = None, json: JsonOpt = False, save: SaveOpt = None) -> None:
    """Planted-fact MRR, tail-patch score and LDS per method, with intervals and paired differences."""
    from interp.data_attribution import evaluate_attribution

    run = _open(run_dir, model, dataset)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    with progress_bars(quiet=json) as bars:
        result = evaluate_attribution(run, names, lds_subsets=lds_subsets, tail_patch_k=tail_patch_k,
                                      progress=bars)
    show(result, as_json=json, out_dir=save, notes=evaluation_lines(result))


def evaluation_lines(result) -> list[str]:
    """MRR by query kind and the paired differences, one line each with their intervals (a 12-column table
    would be squeezed to unreadable cells in an 80-column terminal); every column: --json or --out."""
    lines = ["\nMRR by query kind (95% intervals; own_text is self-retrieval):"]
    for kind in result.kinds():
        parts = [f"{m} {i.format()}" for m in result.methods if (i := result.interval("mrr", m, kind)) is not None]
        n = len(result._columns(kind))
        lines.append(f"  {kind} ({n} queries): " + "; ".join(parts))
    if result.comparisons:
        lines.append("\nPaired differences (a - b on the same queries, all but own_text):")
        for c in result.comparisons:
            d = c["difference"]
            verdict = "within noise" if c["within_noise"] else "differs"
            lines.append(f"  {c['metric']}: {c['name_a']} - {c['name_b']} = {d['estimate']:+.3f} "
                         f"[{d['low']:+.3f}, {d['high']:+.3f}], {verdict}")
    return lines
