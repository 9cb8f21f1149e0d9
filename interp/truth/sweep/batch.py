"""The truth sweep as ``interp run`` runs it: :data:`TRUTH_SWEEP`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interp.analysis import Analysis, Inputs, fingerprint
from interp.results import Result
from interp.truth.datasets import load_dataset
from interp.truth.probes import OLD_TRUTH_PROBES, TRUTH_PROBES, truth_probe_name
from interp.truth.sweep.analysis import assemble_truth_sweep, score_truth_probe
from interp.truth.sweep.data import FEATURE_POSITIONS, TruthSplit, truth_split
from interp.truth.sweep.result import TruthSweepResult


# ----------------------------------------------------------------------------- as a batch task
class TruthSweepAnalysis(Analysis):
    """:func:`truth_sweep` as ``interp run`` runs it (``task = "truth_sweep"``): one job per dataset x layer x
    probe kind, assembled into the :class:`TruthSweepResult` that :func:`truth_sweep` returns."""

    name = "truth_sweep"
    metrics = ("accuracy", "train_accuracy", "n_train", "n_test")
    headline = "accuracy"
    kinds = tuple(TRUTH_PROBES)
    data_keys = ("datasets", "max_pairs")
    probe_keys = ("kinds", "position", "test_size", "n_orient")

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        from interp.errors import InvalidDatasetError
        from interp.truth.datasets import DATASETS

        key = "data.datasets"
        raw = table.get("datasets", "all")
        items = list(DATASETS) if raw == "all" else check.names(raw, key)
        datasets, names = [], []
        for item in items:
            if item in DATASETS:
                datasets.append(item)
                names.append(item)
                continue
            path = check.path(item, base)
            if path.suffix.lower() != ".csv":
                raise check.fail(key, f"{item!r} is neither a built-in dataset ({', '.join(DATASETS)}) nor a .csv file.")
            if not path.is_file():
                raise check.fail(key, f"no such file {item!r} (looked for {path}); give a built-in dataset "
                                      f"({', '.join(DATASETS)}) or an existing .csv path.")
            try:
                load_dataset(path)
            except InvalidDatasetError as exc:
                raise check.fail(key, str(exc)) from None
            datasets.append(str(path))
            names.append(path.stem)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise check.fail(key, f"two datasets share the name {repeated[0]!r}; rename one file.")
        max_pairs = check.int(table.get("max_pairs"), "data.max_pairs", low=4, optional=True)
        return {"datasets": datasets, "max_pairs": max_pairs}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        kinds = table.get("kinds", ["linear", "mm", "ccs"])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if isinstance(kinds, list):  # the old name "lr" is "linear", with an InterpDeprecationWarning
            kinds = [truth_probe_name(k, where="interp run", param="probe.kinds") if k in OLD_TRUTH_PROBES else k
                     for k in kinds]
        return {"kinds": check.choices(kinds, self.kinds, "probe.kinds"),
                "position": check.choice(table.get("position", "last"), FEATURE_POSITIONS, "probe.position"),
                "test_size": check.fraction(table.get("test_size", 0.25), "probe.test_size"),
                "n_orient": check.int(table.get("n_orient", 16), "probe.n_orient", low=0)}

    @staticmethod
    def _sources(spec: Any) -> dict[str, str]:
        """dataset name -> built-in name or CSV path (a CSV's name is its stem, as load_dataset names it)."""
        from pathlib import Path

        from interp.truth.datasets import DATASETS

        return {(d if d in DATASETS else Path(d).stem): d for d in spec.data["datasets"]}

    def datasets(self, spec: Any) -> list[str]:
        return list(self._sources(spec))

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        split = truth_split(load_dataset(self._sources(spec)[dataset]), max_pairs=spec.data["max_pairs"],
                            test_size=spec.probe["test_size"], seed=spec.seed, name=dataset)
        ds = split.dataset
        return Inputs(dataset, ds.statements, None, fingerprint(ds.statements, ds.labels.tolist(), ds.pair_ids), split)

    def position(self, spec: Any) -> str:
        return spec.probe["position"]

    def _result(self, spec: Any, info: dict[str, Any], splits: Sequence[TruthSplit], probes: Sequence[str],
                layers: Sequence[int], scores: Any) -> TruthSweepResult:
        return assemble_truth_sweep(splits, probes, layers, scores, n_layers=info["n_layers"],
                                    position=spec.probe["position"], test_size=spec.probe["test_size"],
                                    seed=spec.seed, max_pairs=spec.data["max_pairs"], n_orient=spec.probe["n_orient"],
                                    model_name=info["name"], model_card=info.get("card", {}))

    def fit(self, run: Any, job: Any) -> TruthSweepResult:
        spec, split = run.spec, run.inputs(job.dataset).payload
        X = run.features(job.model, job.dataset, job.layer)  # (n_statements, d_model)
        score = score_truth_probe(job.probe, X, split, n_orient=spec.probe["n_orient"], seed=spec.seed,
                                  where="interp run")
        return self._result(spec, run.model_info(job.model), [split], [job.probe], [job.layer],
                            {(split.name, job.probe, job.layer): score})

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        spec, info = run.spec, run.model_info(model)
        splits = [run.inputs(d).payload for d in self.datasets(spec)]
        kinds, layers = spec.probe["kinds"], info["layers"]
        scores = {}
        for split in splits:
            for kind in kinds:
                for layer in layers:
                    part = run.part(model, split.name, layer, kind)
                    scores[split.name, kind, layer] = (part.accuracy[0, 0, 0], part.train_accuracy[0, 0, 0])
        return [("truth_sweep", self._result(spec, info, splits, kinds, layers, scores))]

    def rows(self, run: Any, model: str, result: Result) -> list[dict[str, Any]]:
        sizes = {d: (result.n_train[i], result.n_test[i]) for i, d in enumerate(result.datasets)}
        return [{"task": self.name, "model": model, "dataset": r["dataset"], "probe": r["probe"], "layer": r["layer"],
                 "depth": r["depth_fraction"], "accuracy": r["accuracy"], "train_accuracy": r["train_accuracy"],
                 "n_train": sizes[r["dataset"]][0], "n_test": sizes[r["dataset"]][1]}
                for r in result.to_frame().to_dict(orient="records")]


TRUTH_SWEEP = TruthSweepAnalysis()
