"""``interp probe truth`` and ``interp detect``: the truth commands (a thin shell over interp.truth).

``probe_app`` holds ``probe truth`` (:mod:`interp.cli` adds it to the ``probe`` group, next to
``probe pos``) and ``app`` the ``detect`` command:

    interp probe truth --out results/truth                               # cities, larger_than, facts
    interp probe truth --datasets cities,sums --layers 0:31:2 --probes linear,mm,ccs --max-pairs 300 --out /tmp/t
    interp detect "The city of Paris is in Peru."                        # fits a detector first (slow)
    interp detect "The city of Paris is in Peru." --detector results/truth/detector.json --per-token

``probe truth`` runs :func:`interp.truth.truth_report` (the layer is chosen on validation pairs carved
from the training pairs; the accuracy printed is on the held-out test pairs) and prints what to expect on
kinds of statement the detector was not trained on (``--json``: the report in the saved result format
instead). With ``--out FOLDER`` it writes ``result.json``/``.html`` (the report: validation and test accuracy,
the chosen layer, the leave-one-dataset-out reach) and, next to it, ``truth_sweep.json``/``.html`` (test
accuracy per layer), ``generalization.json``/``.html`` and ``detector.json`` (a :class:`~interp.truth.LieDetector`
at the chosen layer). ``detect`` prints P(true) (``--json`` / ``--out``: its :class:`~interp.truth.DetectionResult`).
"""

# No ``from __future__ import annotations``: Typer reads the annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import (
    JsonOpt,
    ModelOpt,
    OutOpt,
    clean_errors,
    long_run_notice,
    progress_bars,
    show,
    write_result,
)

__all__ = ["app", "probe_app"]

app = typer.Typer()
probe_app = typer.Typer()


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@probe_app.command("truth")
@clean_errors
def truth(out_dir: OutOpt = None,
          model: ModelOpt = None,
          datasets: Annotated[str, typer.Option("--datasets", "-d", help="Comma list of built-in sets or CSV "
                                                "paths.")] = "cities,larger_than,facts",
          layers: Annotated[str, typer.Option("--layers", "-l", help="'all', 0,3,6 or 0:31:3.")] = "all",
          probes: Annotated[str, typer.Option("--probes", help="Comma list of linear, mm, mm_iid, mm_std, ccs, lat "
                                              "('lr' is linear's old name).")] = "linear,mm,ccs",
          max_pairs: Annotated[int | None, typer.Option("--max-pairs", "-n", help="At most N pairs per "
                                                        "dataset.")] = None,
          position: Annotated[str, typer.Option("--position", help="'last' token or 'mean' over "
                                                "tokens.")] = "last",
          center: Annotated[str, typer.Option("--center", help="'none' or 'dataset': centre each training set on "
                                              "its own mean (see LieDetector.fit).")] = "none",
          as_json: JsonOpt = False) -> None:
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
    with progress_bars(quiet=as_json) as bars:
        report = truth_report(m, sets, layers=layer_arg, probes=_names(probes), position=position,
                              max_pairs=max_pairs, center=center, progress=bars)
    notes = [report.generalization().summary(), f"Reach: {report.reach()}"]
    if out_dir is not None:  # the parts next to the report's result.json
        write_result(report.sweep(), out_dir, "truth_sweep")
        write_result(report.generalization(), out_dir, "generalization")
        report.detector.save(Path(out_dir) / "detector.json")
        notes.append(f"wrote truth_sweep, generalization (.json/.html) and detector.json (layer {report.layer}, chosen "
                     f"on validation pairs) to {out_dir}")
    frame = report.to_frame().pivot_table(index="layer", columns="probe", values="test_accuracy").reset_index()
    tables = [("Held-out accuracy by layer (mean over datasets)", frame)]
    if report.transfer_datasets:
        tables.append(("Leave one dataset out: trained on the others, tested on this one", report.transfer()))
    show(report, as_json=as_json, out_dir=out_dir, tables=tables, notes=notes)


@app.command("detect")
@clean_errors
def detect(text: Annotated[str, typer.Argument(help="Statement (or longer text with --per-token) to score.")],
           model: ModelOpt = None,
           detector: Annotated[Path | None, typer.Option("--detector", help="A detector.json from `interp probe "
                                                         "truth`; default: fit one now.")] = None,
           layer: Annotated[int | None, typer.Option("--layer", help="Layer of a freshly fitted "
                                                     "detector.")] = None,
           per_token: Annotated[bool, typer.Option("--per-token", help="Score every token.")] = False,
           out_dir: OutOpt = None, as_json: JsonOpt = False) -> None:
    """P(true) of TEXT according to a truth probe (a lie detector)."""
    from interp.models.loading import load_model
    from interp.truth.detector import LieDetector

    saved = LieDetector.load(detector) if detector is not None else None  # a bad file fails before the model loads
    m = load_model(model)
    if saved is None:
        with progress_bars(quiet=as_json) as bars:
            saved = LieDetector.fit(m, layer=layer, max_pairs=200, progress=bars)
    result = saved.score(text, model=m, per_token=per_token)
    notes = [f"P(true) = {float(result.p_true[0]):.3f}  ({result.probe}, layer {result.layer}, {m.name})",
             f"This detector, {saved.reach()}"]
    tables = [("Per token", result.to_frame()[["token", "p_true"]])] if per_token else []
    show(result, as_json=as_json, out_dir=out_dir, tables=tables, notes=notes)
