"""What each kind of batch run reads, fits and reports, built from the analyses' own building blocks.

A task turns a validated spec into model-independent inputs per dataset (texts, labels, the split),
fits one probe job (one model, dataset, layer and probe kind) on activations read back from the
run's shards, and assembles the finished jobs of a model into the analysis's usual result:

- ``truth_sweep``: :func:`interp.truth.sweep.fit_truth_probe` per job, assembled into the
  :class:`~interp.truth.TruthSweepResult` that :func:`~interp.truth.truth_sweep` returns;
- ``pos``: :func:`interp.probing.probe_layers` on one layer per job, assembled with
  :meth:`ProbeSweepResult.concat` and :func:`interp.probing.pos.pos_result` into the
  :class:`~interp.probing.POSProbeResult` of :func:`~interp.probing.pos_probe` (``random_baseline=False``);
- ``world_map``: :func:`interp.projection.world.fit_layer` per job, assembled with
  :func:`~interp.projection.world.assemble_world_map` into the :class:`~interp.projection.WorldMapResult`
  of :func:`~interp.projection.world_map` (``random_baseline=False``).

Same data, seed and shards, same numbers: with the default shard size a run's results equal the
Python functions' bit for bit (tests/test_batch.py checks it on a tiny model).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, ClassVar

import numpy as np

from interp.batch.spec import RunSpec, resolve_spec_layers
from interp.errors import InterpError
from interp.results import Result

__all__ = ["TASKS", "Inputs", "WorldMapLayerResult"]

WHERE = "interp run"


@dataclasses.dataclass
class Inputs:
    """One dataset of a run, before any model: the texts to extract and what the probes need.

    Attributes:
        name: the dataset's key (its folder name under ``activations/<model>/``).
        texts: the texts, in row order; words: per text, its words or spans (word positions only).
        fingerprint: sha256 of everything the numbers depend on besides the model (texts, words, labels).
        payload: the task's own data (dataset and split, tags, places and coordinates).
    """

    name: str
    texts: list[str]
    words: list | None
    fingerprint: str
    payload: Any


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def _fail(spec: RunSpec, key: str, exc: InterpError):
    from interp.batch.spec import _Checker

    return _Checker(spec.source).fail(key, str(exc))


class _Task:
    """The interface of a task (see the module docstring)."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]  # the summary's metric columns
    headline: ClassVar[str]  # the metric the report plots by layer

    def datasets(self, spec: RunSpec) -> list[str]:
        raise NotImplementedError

    def inputs(self, spec: RunSpec, dataset: str) -> Inputs:
        raise NotImplementedError

    def position(self, spec: RunSpec) -> str:
        raise NotImplementedError

    def layers(self, spec: RunSpec, model_name: str, n_layers: int) -> list[int]:
        return resolve_spec_layers(spec, model_name, n_layers)

    def fit(self, ctx: Any, job: Any) -> Result:
        raise NotImplementedError

    def assemble(self, ctx: Any, model: str) -> list[tuple[str, Result]]:
        """The finished results of one model: ``[(file stem, result), ...]``."""
        raise NotImplementedError

    def rows(self, ctx: Any, model: str, result: Result) -> list[dict[str, Any]]:
        """Summary rows of an assembled result: task, model, dataset, probe, layer, depth, then the metrics."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- truth
class TruthTask(_Task):
    name = "truth_sweep"
    metrics = ("accuracy", "train_accuracy", "n_train", "n_test")
    headline = "accuracy"

    @staticmethod
    def _sources(spec: RunSpec) -> dict[str, str]:
        """dataset name -> built-in name or CSV path (a CSV's name is its stem, as load_dataset names it)."""
        from pathlib import Path

        from interp.truth.datasets import DATASETS

        return {(d if d in DATASETS else Path(d).stem): d for d in spec.data["datasets"]}

    def datasets(self, spec: RunSpec) -> list[str]:
        return list(self._sources(spec))

    def inputs(self, spec: RunSpec, dataset: str) -> Inputs:
        from interp.truth.datasets import load_dataset
        from interp.truth.sweep import split_pairs

        ds = load_dataset(self._sources(spec)[dataset]).sample(spec.data["max_pairs"], seed=spec.seed)
        test = split_pairs(ds, test_size=spec.probe["test_size"], seed=spec.seed)
        return Inputs(dataset, ds.statements, None, _fingerprint(ds.statements, ds.labels.tolist(), ds.pair_ids),
                      (ds, test))

    def position(self, spec: RunSpec) -> str:
        return spec.probe["position"]

    def fit(self, ctx: Any, job: Any) -> Result:
        from interp.truth.probes import ccs_accuracy
        from interp.truth.sweep import TruthSweepResult, fit_truth_probe

        spec = ctx.spec
        ds, test = ctx.inputs(job.dataset).payload
        X = ctx.features(job.model, job.dataset, job.layer)  # (n_statements, d_model)
        train_ds, test_ds = ds.subset(np.flatnonzero(~test)), ds.subset(np.flatnonzero(test))
        probe = fit_truth_probe(job.probe, X[~test], train_ds, n_orient=spec.probe["n_orient"], seed=spec.seed,
                                where=WHERE)
        info = ctx.model_info(job.model)
        return TruthSweepResult(
            datasets=[ds.name], probes=[job.probe], layers=[job.layer], n_layers=info["n_layers"],
            accuracy=np.full((1, 1, 1), ccs_accuracy(probe, X[test], test_ds.labels), dtype=np.float64),
            train_accuracy=np.full((1, 1, 1), ccs_accuracy(probe, X[~test], train_ds.labels), dtype=np.float64),
            n_train=[len(train_ds)], n_test=[len(test_ds)], position=spec.probe["position"],
            test_size=spec.probe["test_size"], seed=spec.seed, max_pairs=spec.data["max_pairs"],
            n_orient=spec.probe["n_orient"], model_name=info["name"],
            model_card=info.get("card", {}))

    def assemble(self, ctx: Any, model: str) -> list[tuple[str, Result]]:
        from interp.batch.jobs import ProbeJob
        from interp.truth.sweep import TruthSweepResult

        spec, info = ctx.spec, ctx.model_info(model)
        datasets, kinds, layers = self.datasets(spec), spec.probe["kinds"], info["layers"]
        acc = np.zeros((len(datasets), len(kinds), len(layers)))
        train_acc = np.zeros_like(acc)
        n_train, n_test = [0] * len(datasets), [0] * len(datasets)
        for a, dataset in enumerate(datasets):
            for b, kind in enumerate(kinds):
                for c, layer in enumerate(layers):
                    part = ctx.load_job(ProbeJob(model, dataset, layer, kind))
                    acc[a, b, c] = part.accuracy[0, 0, 0]
                    train_acc[a, b, c] = part.train_accuracy[0, 0, 0]
                    n_train[a], n_test[a] = part.n_train[0], part.n_test[0]
        result = TruthSweepResult(datasets=datasets, probes=list(kinds), layers=list(layers),
                                  n_layers=info["n_layers"], accuracy=acc, train_accuracy=train_acc, n_train=n_train,
                                  n_test=n_test, position=spec.probe["position"], test_size=spec.probe["test_size"],
                                  seed=spec.seed, max_pairs=spec.data["max_pairs"], n_orient=spec.probe["n_orient"],
                                  model_name=info["name"],
            model_card=info.get("card", {}))
        return [("truth_sweep", result)]

    def rows(self, ctx: Any, model: str, result: Result) -> list[dict[str, Any]]:
        sizes = {d: (result.n_train[i], result.n_test[i]) for i, d in enumerate(result.datasets)}
        return [{"task": self.name, "model": model, "dataset": r["dataset"], "probe": r["probe"], "layer": r["layer"],
                 "depth": r["depth_fraction"], "accuracy": r["accuracy"], "train_accuracy": r["train_accuracy"],
                 "n_train": sizes[r["dataset"]][0], "n_test": sizes[r["dataset"]][1]}
                for r in result.to_frame().to_dict(orient="records")]


# ----------------------------------------------------------------------------- part of speech
class PosTask(_Task):
    name = "pos"
    metrics = ("accuracy", "train_accuracy", "control_accuracy", "selectivity")
    headline = "accuracy"

    def datasets(self, spec: RunSpec) -> list[str]:
        from pathlib import Path

        corpus = spec.data["corpus"]
        return ["builtin" if corpus == "builtin" else Path(corpus).stem]

    def inputs(self, spec: RunSpec, dataset: str) -> Inputs:
        from interp.probing.pos import _records

        corpus = spec.data["corpus"]
        try:
            records, description = _records(None if corpus == "builtin" else corpus, spec.data["max_sentences"], WHERE)
        except (InterpError, FileNotFoundError) as exc:
            raise _fail(spec, "data.corpus", exc) from None
        sentences = [r["sentence"] for r in records]
        words = [r["words"] for r in records]
        labels = np.asarray([t for r in records for t in r["tags"]])
        if len(records) < 10:
            raise _fail(spec, "data.corpus", InterpError(f"needs at least 10 sentences; got {len(records)}."))
        return Inputs(dataset, sentences, words, _fingerprint(sentences, words, labels.tolist()),
                      {"labels": labels, "corpus": description, "n_sentences": len(records)})

    def position(self, spec: RunSpec) -> str:
        from interp.probing.pos import ALIGNMENTS

        return ALIGNMENTS[spec.probe["alignment"]]

    def layers(self, spec: RunSpec, model_name: str, n_layers: int) -> list[int]:
        return resolve_spec_layers(spec, model_name, n_layers, add_embeddings=True)  # layer 0 is a baseline

    def _split(self, ctx: Any, model: str, dataset: str) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """(activations, labels, control labels, held-out mask), cached per model and dataset."""
        key = ("pos-split", model, dataset)
        if key not in ctx.cache:
            from interp.probing.control import control_task
            from interp.probing.sweep import split_by_group

            acts = ctx.activations(model, dataset)
            labels = ctx.inputs(dataset).payload["labels"]
            control = control_task(acts.words, labels, seed=ctx.spec.probe["control_seed"])
            test = split_by_group(acts.text_index, test_size=ctx.spec.probe["test_size"], seed=ctx.spec.seed)
            ctx.cache[key] = (acts, labels, control, test)
        return ctx.cache[key]

    def fit(self, ctx: Any, job: Any) -> Result:
        from interp.probing.sweep import probe_layers

        acts, labels, control, test = self._split(ctx, job.model, job.dataset)
        features = {job.layer: ctx.features(job.model, job.dataset, job.layer)}
        sweep = probe_layers(features, labels, groups=acts.text_index, probe=job.probe, control=control,
                             layers=[job.layer], test_size=ctx.spec.probe["test_size"], seed=ctx.spec.seed,
                             test_mask=test, progress=False)
        sweep.model_name = acts.model_name
        return sweep

    def assemble(self, ctx: Any, model: str) -> list[tuple[str, Result]]:
        from interp.batch.jobs import ProbeJob
        from interp.probing.pos import pos_result
        from interp.probing.sweep import ProbeSweepResult

        spec, info = ctx.spec, ctx.model_info(model)
        (dataset,) = self.datasets(spec)
        acts, labels, _, test = self._split(ctx, model, dataset)
        payload = ctx.inputs(dataset).payload
        out = []
        for kind in spec.probe["kinds"]:
            sweep = ProbeSweepResult.concat([ctx.load_job(ProbeJob(model, dataset, layer, kind))
                                             for layer in info["layers"]])
            best = sweep.best_layer
            predicted = sweep.probe_at(best).predict(ctx.features(model, dataset, best)[test])
            result = pos_result(sweep, labels, acts.words, predicted, model_name=info["name"], model_card=info.get("card", {}),
                                alignment=spec.probe["alignment"], control_seed=spec.probe["control_seed"],
                                corpus=payload["corpus"], n_sentences=payload["n_sentences"])
            out.append((f"pos.{kind}", result))
        return out

    def rows(self, ctx: Any, model: str, result: Result) -> list[dict[str, Any]]:
        n_layers = ctx.model_info(model)["n_layers"]
        kind = "linear" if result.probe == "LinearProbe" else "mlp"
        (dataset,) = self.datasets(ctx.spec)
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": kind, "layer": r["layer"],
                 "depth": r["layer"] / n_layers, **{m: r.get(m) for m in self.metrics}}
                for r in result.to_frame().to_dict(orient="records")]


# ----------------------------------------------------------------------------- world map
@dataclasses.dataclass(eq=False, kw_only=True)
class WorldMapLayerResult(Result):
    """One layer of a world-map run: the ridge probe's held-out figures and predictions.

    Attributes:
        layer: the layer; r2: (2,) held-out R^2 of latitude and longitude; alpha: the chosen ridge penalty;
        error_km: mean great-circle error of the held-out places; predicted: (n_test, 2) predictions;
        model_name: the model.
    """

    layer: int
    r2: np.ndarray
    alpha: float
    error_km: float
    predicted: np.ndarray
    model_name: str = ""

    title: ClassVar[str] = "World map probe at one layer"

    def summary(self) -> str:
        return (f"{self.model_name}: layer {self.layer}, held-out R^2 lat {self.r2[0]:.3f}, lon {self.r2[1]:.3f}, "
                f"mean error {self.error_km:,.0f} km")

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{"layer": self.layer, "r2_lat": float(self.r2[0]), "r2_lon": float(self.r2[1]),
                              "error_km": self.error_km, "alpha": self.alpha}])


class WorldTask(_Task):
    name = "world_map"
    metrics = ("r2_mean", "r2_lat", "r2_lon", "error_km", "alpha")
    headline = "r2_mean"

    def datasets(self, spec: RunSpec) -> list[str]:
        return ["places"]

    def inputs(self, spec: RunSpec, dataset: str) -> Inputs:
        from interp.projection.world import _prompts, check_place_count, load_places, split_places

        data = spec.data
        places = load_places(data["n_places"], min_population=data["min_population"], countries=data["countries"],
                             where=WHERE)
        try:
            check_place_count(len(places), spec.probe["test_size"], WHERE)
        except InterpError as exc:
            raise _fail(spec, "data.n_places", exc) from None
        texts, spans = _prompts(places, data["prompt"], WHERE)
        coords = np.array([[p["lat"], p["lon"]] for p in places], dtype=np.float64)  # (n_places, 2)
        test_mask, _ = split_places(len(places), spec.probe["test_size"], spec.seed)
        words = spans if spec.probe["position"] == "mean" else None
        return Inputs(dataset, texts, words, _fingerprint(texts, words, coords.tolist()),
                      {"places": places, "coords": coords, "test_mask": test_mask})

    def position(self, spec: RunSpec) -> str:
        return "last" if spec.probe["position"] == "last" else "word_mean"

    def layers(self, spec: RunSpec, model_name: str, n_layers: int) -> list[int]:
        return resolve_spec_layers(spec, model_name, n_layers, add_embeddings=True)  # layer 0 is a control

    def fit(self, ctx: Any, job: Any) -> Result:
        from interp.projection.world import fit_layer

        payload = ctx.inputs(job.dataset).payload
        x = ctx.features(job.model, job.dataset, job.layer)  # (n_places, d_model)
        predicted, r2, alpha, error = fit_layer(x, payload["coords"], payload["test_mask"])
        return WorldMapLayerResult(layer=job.layer, r2=np.asarray(r2, dtype=np.float64), alpha=float(alpha),
                                   error_km=float(error), predicted=predicted,
                                   model_name=ctx.model_info(job.model)["name"])

    def assemble(self, ctx: Any, model: str) -> list[tuple[str, Result]]:
        from interp.batch.jobs import ProbeJob
        from interp.projection.world import assemble_world_map, best_layer, split_places

        spec, info = ctx.spec, ctx.model_info(model)
        payload = ctx.inputs("places").payload
        fits = {}
        for layer in info["layers"]:
            part = ctx.load_job(ProbeJob(model, "places", layer, "ridge"))
            fits[layer] = (part.predicted, part.r2, part.alpha, part.error_km)
        test_mask, rng = split_places(len(payload["places"]), spec.probe["test_size"], spec.seed)
        result = assemble_world_map(
            fits, ctx.features(model, "places", best_layer(fits)), payload["places"], payload["coords"], test_mask,
            rng, prompt=spec.data["prompt"], position=spec.probe["position"], seed=spec.seed,
            test_size=spec.probe["test_size"], min_population=spec.data["min_population"], model_name=info["name"],
            model_card=info.get("card", {}),
            n_model_layers=info["n_layers"])
        return [("world_map", result)]

    def rows(self, ctx: Any, model: str, result: Result) -> list[dict[str, Any]]:
        return [{"task": self.name, "model": model, "dataset": "places", "probe": "ridge", "layer": r["layer"],
                 "depth": r["depth"], "r2_mean": (r["r2_lat"] + r["r2_lon"]) / 2, "r2_lat": r["r2_lat"],
                 "r2_lon": r["r2_lon"], "error_km": r["error_km"], "alpha": r["alpha"]}
                for r in result.to_frame().to_dict(orient="records")]


TASKS: dict[str, _Task] = {"truth_sweep": TruthTask(), "pos": PosTask(), "world_map": WorldTask()}
