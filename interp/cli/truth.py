"""``interp probe truth`` and ``interp detect``: the truth commands (a thin shell over interp.truth).

``probe_app`` holds ``probe truth`` (:mod:`interp.cli` adds it to the ``probe`` group, next to
``probe pos``) and ``app`` the ``detect`` command:

    interp probe truth --out results/truth                               # cities, larger_than, facts
    interp probe truth --datasets cities,sums --layers 0:31:2 --probes lr,mm,ccs --max-pairs 300 --out /tmp/t
    interp detect "The city of Paris is in Peru."                        # fits a detector first (slow)
    interp detect "The city of Paris is in Peru." --detector results/truth/detector.json --per-token

``probe truth`` runs :func:`interp.truth.truth_report` (the layer is chosen on validation pairs carved
from the training pairs; the accuracy printed is on the held-out test pairs) and writes
``truth_sweep.json``/``.html`` (test accuracy per layer), ``generalization.json``/``.html``,
``truth_report.json``/``.html`` (validation and test accuracy, the chosen layer, the leave-one-dataset-out
reach) and ``detector.json`` (a :class:`~interp.truth.LieDetector` at the chosen layer) into the output
folder, and prints what to expect on kinds of statement the detector was not trained on.
"""

# No ``from __future__ import annotations``: Typer reads the annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import (
    ModelOpt,
    clean_errors,
    long_run_notice,
    out,
    progress_arg,
    progress_bars,
    table,
    write_result,
)

__all__ = ["app", "probe_app"]

app = typer.Typer()
probe_app = typer.Typer()


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@probe_app.command("truth")
@clean_errors
def truth(out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results and detector.json.")],
          model: ModelOpt = None,
          datasets: Annotated[str, typer.Option("--datasets", "-d", help="Comma list of built-in sets or CSV "
                                                "paths.")] = "cities,larger_than,facts",
          layers: Annotated[str, typer.Option("--layers", "-l", help="'all', 0,3,6 or 0:31:3.")] = "all",
          probes: Annotated[str, typer.Option("--probes", help="Comma list of lr, mm, mm_iid, mm_std, ccs, lat.")] = "lr,mm,ccs",
          max_pairs: Annotated[int | None, typer.Option("--max-pairs", "-n", help="At most N pairs per "
                                                        "dataset.")] = None,
          position: Annotated[str, typer.Option("--position", help="'last' token or 'mean' over "
                                                "tokens.")] = "last",
          center: Annotated[str, typer.Option("--center", help="'none' or 'dataset': centre each training set on "
                                              "its own mean (see LieDetector.fit).")] = "none") -> None:
    """Truth probes per layer, the layer chosen on validation pairs, the generalisation matrix and a saved lie
    detector there (interp.truth.truth_report)."""
    from interp._params import check_args
    from interp._validation import parse_layers
    from interp.models.loading import load_model
    from interp.truth.datasets import load_datasets
    from interp.truth.report import truth_report

    check_args(truth_report, where="interp probe truth", probes=_names(probes), max_pairs=max_pairs, position=position,
               center=center)  # from its table, before the model loads
    sets = load_datasets(_names(datasets), where="interp probe truth")  # fail on a bad CSV before loading
    layer_arg = parse_layers(layers, name="--layers", where="interp probe truth")
    if layers == "all" and max_pairs is None:
        long_run_notice("interp probe truth")
    m = load_model(model)
    with progress_bars() as bars:
        report = truth_report(m, sets, layers=layer_arg, probes=_names(probes), position=position,
                              max_pairs=max_pairs, center=center, progress=bars)
    write_result(report.sweep(), out_dir, "truth_sweep")
    write_result(report.generalization(), out_dir, "generalization")
    write_result(report, out_dir, "truth_report")
    report.detector.save(out_dir / "detector.json")
    out.print(report.summary(), highlight=False)
    frame = report.to_frame().pivot_table(index="layer", columns="probe", values="test_accuracy").reset_index()
    out.print(table(frame.to_dict(orient="records"), "Held-out accuracy by layer (mean over datasets)"))
    out.print(report.generalization().summary(), highlight=False)
    if report.transfer_datasets:
        out.print(table(report.transfer().to_dict(orient="records"),
                        "Leave one dataset out: trained on the others, tested on this one"))
    out.print(f"Reach: {report.reach()}", highlight=False)
    out.print(f"wrote truth_sweep, generalization, truth_report (.json/.html) and detector.json (layer {report.layer}, "
              f"chosen on validation pairs) to {out_dir}", highlight=False)


@app.command("detect")
@clean_errors
def detect(text: Annotated[str, typer.Argument(help="Statement (or longer text with --per-token) to score.")],
           model: ModelOpt = None,
           detector: Annotated[Path | None, typer.Option("--detector", help="A detector.json from `interp probe "
                                                         "truth`; default: fit one now.")] = None,
           layer: Annotated[int | None, typer.Option("--layer", help="Layer of a freshly fitted "
                                                     "detector.")] = None,
           per_token: Annotated[bool, typer.Option("--per-token", help="Score every token.")] = False) -> None:
    """P(true) of TEXT according to a truth probe (a lie detector)."""
    from interp.models.loading import load_model
    from interp.truth.detector import LieDetector

    saved = LieDetector.load(detector) if detector is not None else None  # a bad file fails before the model loads
    m = load_model(model)
    if saved is None:
        with progress_bars() as bars:
            saved = LieDetector.fit(m, layer=layer, max_pairs=200, progress=progress_arg(LieDetector.fit, bars))
    result = saved.score(text, model=m, per_token=per_token)
    out.print(f"P(true) = {float(result.p_true[0]):.3f}  ({result.probe}, layer {result.layer}, {m.name})",
              highlight=False)
    out.print(f"This detector, {saved.reach()}", highlight=False)
    if per_token:
        out.print(table(result.to_frame()[["token", "p_true"]].to_dict(orient="records"), "Per token"))
