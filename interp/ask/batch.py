"""Asking a question file, as a batch task (``interp run``, ``task = "ask"``): :func:`interp.ask.calibrate` over shards.

:func:`~interp.ask.calibrate` is one definition in three public steps: :func:`~interp.ask.calibration.calibration_items`
(the model's work on each question: its letter or option probabilities, P(True), the stated confidence, the
truth probe's score), :func:`~interp.ask.calibration.assemble_calibration` (the metrics, intervals and the
position-bias test over all of them), and the sample of questions before them. The batch task cuts the
sampled questions into shards, runs ``calibration_items`` on each shard in a worker (the model loaded, the
truth probe fitted once per worker when the "probe" signal is asked), and assembles the concatenated items
with ``assemble_calibration``: the same :class:`~interp.ask.CalibrationResult` as
``calibrate(model, questions, n=..., seed=..., ...)``. ``format``, ``prompt_style`` and ``length_norm`` pass
through unchanged.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/ask.toml", out="runs/ask")
    >>> run.results()[0].to_frame()[["signal", "accuracy", "accuracy_low", "accuracy_high", "ece"]]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from interp.analysis import Inputs, Part, ShardMapAnalysis, fingerprint
from interp.ask import prompts
from interp.ask.calibration import (
    DEFAULT_PROBE_DATASETS,
    SIGNALS,
    assemble_calibration,
    calibration_items,
    calibration_signals,
)
from interp.ask.questions import ASK_SETS, load_questions
from interp.errors import InterpError
from interp.results import Result

__all__ = ["ASK", "AskAnalysis"]

_ARRAYS = ("probs", "logprob", "tokens", "bytes", "p_true", "stated", "probe")


def _widen(array: np.ndarray, width: int, fill: float = np.nan) -> np.ndarray:
    """(rows, k) -> (rows, width), ``fill`` in the new columns (a shard's questions may have fewer options)."""
    out = np.full((array.shape[0], width), fill, dtype=array.dtype)
    out[:, :array.shape[1]] = array
    return out


class AskAnalysis(ShardMapAnalysis):
    """:func:`~interp.ask.calibrate` over a question file as ``interp run`` runs it (``task = "ask"``): shard =
    questions; equal to ``calibrate(model, questions, n=n, seed=seed, ...)`` (timings aside)."""

    name = "ask"
    metrics = ("accuracy", "accuracy_low", "accuracy_high", "ece", "ece_low", "ece_high", "brier", "auroc", "n")
    headline = "accuracy"
    data_keys = ("questions", "n")
    probe_keys = ("signals", "format", "prompt_style", "length_norm", "n_bins", "n_boot", "max_new_tokens",
                  "batch_size", "probe_datasets", "probe_pairs")
    shard_size = 32
    unit = "questions"

    def read_data(self, table: dict[str, Any], check: Any, base: Path) -> dict[str, Any]:
        source = check.str(table.get("questions", "easy"), "data.questions")
        if source not in ASK_SETS:
            path = check.path(source, base)
            if not path.is_file():
                raise check.fail("data.questions", f"no such file {source!r} (looked for {path}); give a .jsonl or .csv "
                                                   f"question file or a built-in set ({', '.join(ASK_SETS)}).")
            source = str(path)
        try:
            load_questions(source)
        except InterpError as exc:
            raise check.fail("data.questions", str(exc)) from None
        return {"questions": source, "n": check.int(table.get("n"), "data.n", low=1, optional=True)}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        super().read_probe(table, check)
        fmt = check.choice(table.get("format", "letter"), prompts.FORMATS, "probe.format")
        signals = check.choices(table.get("signals", list(SIGNALS)), SIGNALS, "probe.signals")
        datasets = table.get("probe_datasets", list(DEFAULT_PROBE_DATASETS))
        return {"signals": calibration_signals(signals, fmt), "format": fmt,
                "prompt_style": check.choice(table.get("prompt_style", "auto"), prompts.STYLES, "probe.prompt_style"),
                "length_norm": check.choice(table.get("length_norm", "byte"), prompts.LENGTH_NORMS, "probe.length_norm"),
                "n_bins": check.int(table.get("n_bins", 10), "probe.n_bins", low=1),
                "n_boot": check.int(table.get("n_boot", 1000), "probe.n_boot", low=0),
                "max_new_tokens": check.int(table.get("max_new_tokens", 8), "probe.max_new_tokens", low=1),
                "batch_size": check.int(table.get("batch_size"), "probe.batch_size", low=1, optional=True),
                "probe_datasets": check.names(datasets, "probe.probe_datasets"),
                "probe_pairs": check.int(table.get("probe_pairs", 150), "probe.probe_pairs", low=1)}

    def datasets(self, spec: Any) -> list[str]:
        source = spec.data["questions"]
        return [source if source in ASK_SETS else Path(source).stem]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        qs = load_questions(spec.data["questions"]).sample(spec.data["n"], seed=spec.seed)
        return Inputs(dataset, [], None, fingerprint(qs.name, [dataclasses.asdict(q) for q in qs]), qs)

    def _detector(self, run: Any, model: str) -> Any:
        """The truth probe of the "probe" signal, fitted once per process and model (as calibrate fits it)."""
        key = ("ask.detector", model)
        if key not in run.cache:
            from interp.truth.detector import LieDetector

            options = run.spec.probe
            run.cache[key] = LieDetector.fit(run.model(model), options["probe_datasets"],
                                             max_pairs=options["probe_pairs"], progress=False)
        return run.cache[key]

    def map_shard(self, run: Any, model: str, dataset: str, start: int, stop: int) -> Part:
        from interp.ask._engine import Timer

        options = run.spec.probe
        loaded = run.model(model)
        style = prompts.resolve_style(loaded, options["prompt_style"], "interp run (task ask)")
        timer = Timer()
        items = calibration_items(loaded, run.inputs(dataset).payload[start:stop], signals=options["signals"],
                                  format=options["format"], style=style, length_norm=options["length_norm"],
                                  fit_detector=lambda: self._detector(run, model),
                                  max_new_tokens=options["max_new_tokens"], batch_size=options["batch_size"],
                                  timer=timer)
        return Part({k: items[k] for k in _ARRAYS if k in items},
                    {"stated_text": items.get("stated_text"), "probe_info": items.get("probe_info"), "style": style,
                     "timing": timer.as_dict()})

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        options, info = run.spec.probe, run.model_info(model)
        out = []
        for dataset in self.datasets(run.spec):
            qs = run.inputs(dataset).payload
            parts = run.parts(model, dataset)
            width = max(len(q.options) for q in qs)
            items: dict[str, Any] = {}
            for key in _ARRAYS:
                if key in parts[0].arrays:
                    chunks = [p.arrays[key] for p in parts]
                    fill = 0.0 if key in ("tokens", "bytes") else np.nan  # as option_scores leaves them past the options
                    items[key] = np.concatenate([_widen(c, width, fill) if c.ndim == 2 else c for c in chunks])
            if parts[0].meta["stated_text"] is not None:
                items["stated_text"] = [t for p in parts for t in p.meta["stated_text"]]
            if parts[0].meta["probe_info"] is not None:
                items["probe_info"] = parts[0].meta["probe_info"]
            timing = {k: float(sum(p.meta["timing"][k] for p in parts)) for k in parts[0].meta["timing"]}
            result = assemble_calibration(qs, items, signals=options["signals"], format=options["format"],
                                          style=parts[0].meta["style"], length_norm=options["length_norm"],
                                          n_bins=options["n_bins"], n_boot=options["n_boot"], seed=run.spec.seed,
                                          model_name=info["name"], card=info.get("card", {}), timing=timing)
            out.append((f"ask_{dataset}", result))
        return out

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        frame = result.to_frame()
        dataset = self.datasets(run.spec)[0]
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": row["signal"], "layer": None,
                 "depth": None, **{m: row.get(m, float("nan")) for m in self.metrics}}
                for row in frame.to_dict(orient="records")]


ASK = AskAnalysis()
