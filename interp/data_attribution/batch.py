"""The training-gradient pass of data attribution, as a batch task (``interp run``, ``task = "data_attribution"``).

:func:`~interp.data_attribution.attribute_training` scores training examples from the run's projected
per-example training gradients, which its :class:`~interp.data_attribution.attribute.GradientStore` computes
once per fine-tuning run, checkpoint, dimension and seed and keeps in ``<run>/gradients/``. That pass is one
backward pass per example through the trained blocks: the long part on a large training set. Here it is cut
into shards of training examples (a multiple of the store's micro-batch of 8, so every number is the one the
in-process pass computes), each shard a job in a worker (:meth:`GradientStore.compute_range
<interp.data_attribution.attribute.GradientStore.compute_range>` at every checkpoint the methods need);
assembly writes the shards' gradients into the run's store, exactly as the in-process pass lays it out
(files, shard size and manifest), and scores the spec's queries with :func:`attribute_training`, which then
reads the store and computes nothing more. Later queries, in Python or ``interp``, reuse the store too.

The spec names the fine-tuning run folder (made by :func:`~interp.data_attribution.finetune`) and its base
model (``models``). The store is written into that folder.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/data_attribution.toml", out="runs/attribution")
    >>> run.results()[0].to_frame().head()
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from interp.analysis import Inputs, Part, ShardMapAnalysis, fingerprint, spec_error
from interp.data_attribution.attribute import DEFAULT_DIM, MICRO_BATCH, SCORERS, GradientStore, attribute_training
from interp.results import Result

__all__ = ["DATA_ATTRIBUTION", "DataAttributionAnalysis"]

#: The methods the batch task scores with (``ekfac`` refits kronfluence's factors on every call: not a store method).
BATCH_METHODS = tuple(m for m in SCORERS if m != "ekfac")


class DataAttributionAnalysis(ShardMapAnalysis):
    """The per-example training-gradient pass as ``interp run`` runs it (``task = "data_attribution"``): shard =
    training examples; assembled into the run's gradient store (what the in-process pass writes), then the spec's
    queries scored with :func:`~interp.data_attribution.attribute_training` (equal scores)."""

    name = "data_attribution"
    metrics = ("top_score", "best_gold_rank")
    headline = "top_score"
    data_keys = ("run", "dataset", "queries")
    probe_keys = ("methods", "dim", "top_k")
    shard_size = 64
    shard_multiple = MICRO_BATCH
    unit = "examples"

    def read_data(self, table: dict[str, Any], check: Any, base: Path) -> dict[str, Any]:
        if "run" not in table:
            raise check.fail("data.run", "missing: the folder of a fine-tuning run (interp.data_attribution.finetune).")
        folder = check.path(check.str(table["run"], "data.run"), base)
        meta_file = folder / "run.json"
        if not meta_file.is_file():
            raise check.fail("data.run", f"{str(folder)!r} holds no fine-tuning run (no run.json); make one with "
                                         "interp.data_attribution.finetune(model, data, out=...).")
        dataset = table.get("dataset")
        if dataset is not None:
            path = check.path(check.str(dataset, "data.dataset"), base)
            if not path.is_file():
                raise check.fail("data.dataset", f"no such file {dataset!r} (looked for {path}).")
            dataset = str(path)
        queries = table.get("queries", "all")
        if queries != "all":
            queries = check.names(queries, "data.queries")
        return {"run": str(folder), "dataset": dataset, "queries": queries}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        super().read_probe(table, check)
        return {"methods": check.choices(table.get("methods", ["grad_dot", "trackstar"]), BATCH_METHODS,
                                         "probe.methods"),
                "dim": check.int(table.get("dim", DEFAULT_DIM), "probe.dim", low=1),
                "top_k": check.int(table.get("top_k", 10), "probe.top_k", low=1)}

    # ---------------------------------------------------------------- inputs
    def _data(self, spec: Any) -> Any:
        from interp.data_attribution.datasets import load_training_data

        data = spec.data
        if data["dataset"] is not None:
            return load_training_data(data["dataset"], where="interp run (task data_attribution)")
        meta = json.loads((Path(data["run"]) / "run.json").read_text())
        return load_training_data(meta["data_source"].removeprefix("built-in "), where="interp run (task data_attribution)")

    def datasets(self, spec: Any) -> list[str]:
        return [Path(spec.data["run"]).name]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        data = self._data(spec)
        known = [q.id for q in data.queries]
        queries = known if spec.data["queries"] == "all" else list(spec.data["queries"])
        missing = [q for q in queries if q not in known]
        if missing:
            raise spec_error(spec, "data.queries", f"{missing} are not queries of {data.name!r} (its queries: "
                                                   f"{known[:10]}{' ...' if len(known) > 10 else ''}).")
        return Inputs(dataset, [], None, fingerprint(data.fingerprint(), queries, spec.data["run"]),
                      {"data": data, "queries": queries, "items": data.ids})

    def n_items(self, inputs: Inputs) -> int:
        return len(inputs.payload["items"])

    # ---------------------------------------------------------------- per shard
    def _store(self, run: Any, model: str) -> GradientStore:
        """The fine-tuning run's gradient store for the spec's dimension and seed (one per process and model)."""
        key = ("data_attribution.store", model)
        if key not in run.cache:
            from interp.data_attribution.finetune import load_run

            spec = run.spec
            dataset = run.inputs(self.datasets(spec)[0]).payload["data"]
            ft = load_run(spec.data["run"], run.model(model), dataset)
            run.cache[key] = GradientStore(ft, dim=spec.probe["dim"], seed=spec.seed)
        return run.cache[key]

    def checkpoints(self, store: GradientStore, methods: list[str]) -> list[tuple[int, bool]]:
        """``(checkpoint, corrected)`` whose training gradients ``methods`` read: every checkpoint for TracIn, else the
        last (where the store always keeps the corrected gradients too)."""
        n = len(store.run.checkpoints)
        every = any(m.startswith("tracin") for m in methods)
        return [(c, "tracin_adam" in methods) for c in (range(n) if every else [n - 1])]

    def map_shard(self, run: Any, model: str, dataset: str, start: int, stop: int) -> Part:
        store = self._store(run, model)
        arrays = {}
        for c, corrected in self.checkpoints(store, run.spec.probe["methods"]):
            for name, tensor in store.compute_range(c, start, stop, corrected=corrected).items():
                arrays[f"{name}.c{c:03d}"] = tensor.numpy()
        return Part(arrays, {"start": start, "stop": stop})

    # ---------------------------------------------------------------- assembly
    def write_store(self, run: Any, model: str) -> GradientStore:
        """Write the parts' gradients into the run's store: shards of ``store.shard_size`` and a manifest per
        checkpoint, as :meth:`GradientStore.training` would."""
        import torch

        store = self._store(run, model)
        parts = run.parts(model, self.datasets(run.spec)[0])
        for c, _ in self.checkpoints(store, run.spec.probe["methods"]):
            full = {name: np.concatenate([p.arrays[f"{name}.c{c:03d}"] for p in parts])
                    for name in ("raw", "corrected") if f"{name}.c{c:03d}" in parts[0].arrays}
            for k in range(store.n_shards()):
                rows = slice(k * store.shard_size, (k + 1) * store.shard_size)
                store.save_shard(c, k, {name: torch.from_numpy(np.ascontiguousarray(a[rows])) for name, a in full.items()})
            store.write_manifest(c)
        return store

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        store = self.write_store(run, model)
        spec = run.spec
        queries = run.inputs(self.datasets(spec)[0]).payload["queries"]
        out = []
        for query in queries:
            for method in spec.probe["methods"]:
                result = attribute_training(store.run, query, method=method, top_k=spec.probe["top_k"],
                                            dim=spec.probe["dim"], seed=spec.seed, progress=False)
                out.append((f"{query}_{method}", result))
        return out

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        ranks = result.gold_ranks()
        return [{"task": self.name, "model": model, "dataset": self.datasets(run.spec)[0], "probe": result.method,
                 "layer": None, "depth": None, "query": result.query_id, "top_score": float(np.max(result.scores)),
                 "best_gold_rank": float(min(ranks)) if ranks else float("nan")}]


DATA_ATTRIBUTION = DataAttributionAnalysis()
