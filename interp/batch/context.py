"""What a batch run's jobs share within one process, given its analysis, and the one code path that runs a job.

A :class:`RunContext` holds the spec, the run folder, the run's :class:`~interp.analysis.Analysis` and
caches (one model at a time, each dataset's inputs, shard plans, the last layer's features). It is the
:class:`~interp.analysis.RunView` an analysis sees. It is built from plain data, so every worker process
builds its own (:meth:`RunContext.state` / :meth:`RunContext.from_state`).

:func:`run_shard`, :func:`run_probe` and :func:`run_map` (a shard-map analysis's job) are the one code
path for what a job is and how it is committed (:func:`job_done` says whether one is); an executor
(:mod:`interp.batch.executors`) only decides where they run.

Example:
    >>> ctx = RunContext(load_spec("probes/truth_sweep.toml"), Path("runs/truth"))
    >>> for outcome in LocalExecutor().map(run_shard, ctx, jobs):
    ...     print(outcome.job.key, outcome.computed)
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from interp.analysis import Analysis, Inputs, Part, ShardMapAnalysis, fingerprint, get_analysis
from interp.batch.jobs import MapJob, Outcome, ProbeJob, ShardJob
from interp.batch.spec import RunSpec, model_slug, resolve_spec_layers

__all__ = ["MapPlan", "RunContext", "job_done", "run_map", "run_probe", "run_shard"]


@dataclasses.dataclass(frozen=True)
class MapPlan:
    """How a shard-map dataset is cut for one model: the shards' ``(start, stop)`` item bounds, and the hash of
    what its parts depend on (the inputs, the model's weights, the bounds)."""

    bounds: list[tuple[int, int]]
    input_hash: str
    n_items: int

    def __len__(self) -> int:
        return len(self.bounds)


class RunContext:
    """The spec, the folder, the analysis, and per-process caches of one run (an :class:`~interp.analysis.RunView`).

    Args:
        spec: the validated spec; out: the run folder; analysis: the analysis to run (default: the one
            registered under ``spec.task``).

    ``models`` holds per model name its display ``name``, ``n_layers``, ``d_model``, ``card`` and resolved
    ``layers`` (filled by the runner's planning stage, or by :meth:`describe_model`).
    """

    def __init__(self, spec: RunSpec, out: str | Path, analysis: Analysis | None = None):
        self.spec = spec
        self.out = Path(out)
        self.analysis = analysis if analysis is not None else get_analysis(spec.task)
        self.models: dict[str, dict[str, Any]] = {}
        self.cache: dict[Any, Any] = {}  # the analysis's own per-process state
        self._model: tuple[str, Any] | None = None
        self._inputs: dict[str, Inputs] = {}
        self._plans: dict[tuple[str, str], Any] = {}
        self._map_plans: dict[tuple[str, str], MapPlan] = {}
        self._acts: dict[tuple[str, str], Any] = {}
        self._features: tuple[tuple[str, str, int], np.ndarray] | None = None
        self._token: str | None = None
        self.on_texts: Callable[[ShardJob, int], None] | None = None  # told how many more texts a shard has done

    # another process's copy
    def state(self) -> dict[str, Any]:
        """What another process needs to run this run's jobs: the spec, the folder (absolute), the models'
        descriptions and the shard plans (plain, picklable data; the analysis by its registered name).
        ``token`` names this run attempt."""
        if self._token is None:
            self._token = uuid.uuid4().hex
        return {"token": self._token, "spec": self.spec, "out": str(self.out.resolve()), "models": dict(self.models),
                "plans": dict(self._plans), "map_plans": dict(self._map_plans)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunContext:
        """A context rebuilt from :meth:`state` in another process (nothing loaded yet)."""
        ctx = cls(state["spec"], state["out"])
        ctx.models.update(state["models"])
        ctx._plans.update(state["plans"])
        ctx._map_plans.update(state.get("map_plans", {}))
        ctx._token = state["token"]
        return ctx

    # models
    def model(self, name: str):
        """The loaded model ``name``; loading another one releases the previous (one in memory at a time)."""
        if self._model is None or self._model[0] != name:
            self._model = None
            from interp.models.loading import load_model

            extract = self.spec.extract
            self._model = (name, load_model(name, device=extract["device"], dtype=extract["dtype"], quiet=True))
        return self._model[1]

    def release_model(self) -> None:
        self._model = None

    def describe_model(self, name: str) -> dict[str, Any]:
        """Load ``name`` and record its display name, depth, width, card and the spec's layers for it."""
        model = self.model(name)
        from interp.models.card import model_card

        self.models[name] = {"name": model.name, "slug": model_slug(name), "n_layers": int(model.n_layers),
                             "d_model": int(model.d_model), "card": model_card(model),
                             "layers": resolve_spec_layers(self.spec, model.name, int(model.n_layers),
                                                           add_embeddings=self.analysis.add_embeddings)}
        return self.models[name]

    def model_info(self, name: str) -> dict[str, Any]:
        return self.models[name] if name in self.models else self.describe_model(name)

    # inputs and activations
    def inputs(self, dataset: str) -> Inputs:
        """The analysis's :class:`~interp.analysis.Inputs` of ``dataset`` (computed once per process)."""
        if dataset not in self._inputs:
            self._inputs[dataset] = self.analysis.inputs(self.spec, dataset)
        return self._inputs[dataset]

    def acts_dir(self, model: str, dataset: str) -> Path:
        return self.out / "activations" / model_slug(model) / dataset

    def fresh_plan(self, model: str, dataset: str):
        """The :class:`~interp.activations.ShardPlan` of ``dataset`` computed with this process's ``model``."""
        from interp.activations import plan_shards

        inputs = self.inputs(dataset)
        return plan_shards(self.model(model), inputs.texts, layers=self.model_info(model)["layers"],
                           position=self.analysis.position(self.spec), words=inputs.words,
                           shard_size=self.spec.extract["shard_size"])

    def plan(self, model: str, dataset: str):
        """The run's :class:`~interp.activations.ShardPlan` of ``dataset`` for ``model`` (loads the model once)."""
        key = (model, dataset)
        if key not in self._plans:
            self._plans[key] = self.fresh_plan(model, dataset)
        return self._plans[key]

    def activations(self, model: str, dataset: str):
        """The finished :class:`~interp.activations.Activations` of ``dataset`` (lazy: read per layer)."""
        key = (model, dataset)
        if key not in self._acts:
            from interp.activations import Activations

            self._acts[key] = Activations.load(self.acts_dir(model, dataset))
        return self._acts[key]

    def features(self, model: str, dataset: str, layer: int) -> np.ndarray:
        """(n_rows, d_model) float32 activations at ``layer`` (the last one asked for stays cached)."""
        key = (model, dataset, layer)
        if self._features is None or self._features[0] != key:
            self._features = None
            self._features = (key, self.activations(model, dataset)[layer])
        return self._features[1]

    # shard-map parts
    @property
    def shard_map(self) -> bool:
        """Whether the run's analysis is a shard-map one (:class:`~interp.analysis.ShardMapAnalysis`)."""
        return isinstance(self.analysis, ShardMapAnalysis)

    def parts_dir(self, model: str, dataset: str) -> Path:
        return self.out / "parts" / model_slug(model) / dataset

    def fresh_map_plan(self, model: str, dataset: str) -> MapPlan:
        """The :class:`MapPlan` of ``dataset`` computed with this process's ``model``."""
        from interp.models.card import weights_fingerprint

        inputs = self.inputs(dataset)
        n_items = self.analysis.n_items(inputs)
        bounds = [(int(a), int(b)) for a, b in self.analysis.shard_bounds(self.spec, n_items)]
        return MapPlan(bounds, fingerprint(self.analysis.name, inputs.fingerprint,
                                           weights_fingerprint(self.model(model)), bounds), n_items)

    def map_plan(self, model: str, dataset: str) -> MapPlan:
        """The run's :class:`MapPlan` of ``dataset`` for ``model`` (loads the model once)."""
        key = (model, dataset)
        if key not in self._map_plans:
            self._map_plans[key] = self.fresh_map_plan(model, dataset)
        return self._map_plans[key]

    def part_path(self, job: MapJob) -> Path:
        return self.parts_dir(job.model, job.dataset) / f"part-{job.shard:05d}.safetensors"

    def parts(self, model: str, dataset: str) -> list[Part]:
        """The committed parts of a shard-map dataset, in item order."""
        plan = self.map_plan(model, dataset)
        return [Part.load(self.part_path(MapJob(model, dataset, k, a, b))) for k, (a, b) in enumerate(plan.bounds)]

    def replica_hashes(self, job: ShardJob | MapJob) -> tuple[str, str]:
        """(the driver's plan hash, this process's) of ``job``'s dataset: equal when this process's model replica is
        the one the driver planned with."""
        if isinstance(job, MapJob):
            return (self.map_plan(job.model, job.dataset).input_hash,
                    self.fresh_map_plan(job.model, job.dataset).input_hash)
        return (self.plan(job.model, job.dataset).input_hash, self.fresh_plan(job.model, job.dataset).input_hash)

    # probe results
    def job_path(self, job: ProbeJob) -> Path:
        return self.out / "jobs" / f"{job.key}.json"

    def load_job(self, job: ProbeJob):
        from interp.results import load_result

        return load_result(self.job_path(job))

    def part(self, model: str, dataset: str, layer: int, kind: str):
        """The committed result of the probe job (model, dataset, layer, kind)."""
        return self.load_job(ProbeJob(model, dataset, layer, kind))


# ----------------------------------------------------------------------------- the jobs
def job_done(ctx: RunContext, job: ShardJob | ProbeJob | MapJob) -> bool:
    """Whether ``job`` is already committed in the run folder (whole, and for these inputs)."""
    if isinstance(job, MapJob):
        return ctx.part_path(job).is_file()
    if isinstance(job, ShardJob):
        return ctx.plan(job.model, job.dataset).is_done(ctx.acts_dir(job.model, job.dataset), job.shard)
    return ctx.job_path(job).is_file()


def run_shard(ctx: RunContext, job: ShardJob) -> Outcome:
    """Compute and commit one shard, unless it is already committed (then the model is not even loaded)."""
    from interp.activations import collect_shard

    start = time.perf_counter()
    if job_done(ctx, job):
        return Outcome(job, computed=False)
    inputs = ctx.inputs(job.dataset)
    report = ctx.on_texts
    computed = collect_shard(ctx.model(job.model), inputs.texts, ctx.plan(job.model, job.dataset), job.shard,
                             out=ctx.acts_dir(job.model, job.dataset), words=inputs.words,
                             batch_size=ctx.spec.extract["batch_size"],
                             on_texts=None if report is None else (lambda n: report(job, n)))
    return Outcome(job, computed=computed, texts=job.n_texts if computed else 0, seconds=time.perf_counter() - start)


def run_probe(ctx: RunContext, job: ProbeJob) -> Outcome:
    """Fit one probe (the analysis's :meth:`~interp.analysis.Analysis.fit`) and commit its result, unless its
    result file already exists."""
    start = time.perf_counter()
    if job_done(ctx, job):
        return Outcome(job, computed=False)
    ctx.analysis.fit(ctx, job).save(ctx.job_path(job))
    return Outcome(job, computed=True, seconds=time.perf_counter() - start)


def run_map(ctx: RunContext, job: MapJob) -> Outcome:
    """Run one shard of a shard-map analysis (its :meth:`~interp.analysis.ShardMapAnalysis.map_shard`, the model
    loaded) and commit its part, unless the part is already on disk (then the model is not even loaded)."""
    start = time.perf_counter()
    if job_done(ctx, job):
        return Outcome(job, computed=False)
    part = ctx.analysis.map_shard(ctx, job.model, job.dataset, job.start, job.stop)
    part.save(ctx.part_path(job))
    return Outcome(job, computed=True, texts=job.n_texts, seconds=time.perf_counter() - start)
