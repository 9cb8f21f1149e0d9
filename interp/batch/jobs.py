"""Units of work of a batch run, and the executor that runs them.

A run is two lists of jobs, each committed to its own file so a killed run loses at most the jobs
in flight:

- :class:`ShardJob` (model, dataset, shard index): run the model over one shard of the dataset's
  texts and commit ``activations/<model>/<dataset>/shard-NNNNN.safetensors`` (written to a temporary
  file and renamed; the shard carries the hash of its inputs, so a finished shard is recognised and
  never recomputed; :func:`interp.activations.collect_shard`);
- :class:`ProbeJob` (model, dataset, layer, probe kind): fit one probe on the activations read back
  from the shards and commit its result to ``jobs/<model>/<dataset>/<probe>-L<layer>.json`` (an
  interp :class:`~interp.results.Result`, written atomically; a file that exists is finished).

:func:`run_shard` and :func:`run_probe` are the one code path for what a job is and how it is
committed; an :class:`Executor` only decides where they run. :class:`LocalExecutor` runs them one
after another in this process. A job is plain data and :class:`RunContext` is rebuilt from the spec
and the folder, so another executor can run jobs in other processes.

Example:
    >>> ctx = RunContext(load_spec("probes/truth_sweep.toml"), Path("runs/truth"))
    >>> for outcome in LocalExecutor().map(functools.partial(run_shard, ctx), jobs):
    ...     print(outcome.job.key, outcome.computed)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from interp.batch.spec import RunSpec, model_slug

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "Outcome", "ProbeJob", "RunContext", "ShardJob", "make_executor",
           "run_probe", "run_shard"]


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """Extract shard ``shard`` (``n_texts`` texts) of ``dataset`` with ``model`` (a name as in the spec)."""

    model: str
    dataset: str
    shard: int
    n_texts: int

    @property
    def key(self) -> str:
        return f"{model_slug(self.model)}/{self.dataset}/shard-{self.shard:05d}"


@dataclasses.dataclass(frozen=True)
class ProbeJob:
    """Fit probe ``probe`` at ``layer`` on ``dataset``'s activations from ``model``."""

    model: str
    dataset: str
    layer: int
    probe: str

    @property
    def key(self) -> str:
        return f"{model_slug(self.model)}/{self.dataset}/{self.probe}-L{self.layer:03d}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What running a job did: ``computed`` is False when a committed result was found and reused;
    ``texts`` counts the texts the model ran on (forward passes over texts)."""

    job: ShardJob | ProbeJob
    computed: bool
    texts: int = 0
    seconds: float = 0.0


class Executor(Protocol):
    """Runs jobs: ``map(fn, jobs)`` yields ``fn(job)`` for every job (any order)."""

    name: str

    def map(self, fn: Callable[[Any], Outcome], jobs: Iterable[Any]) -> Iterator[Outcome]:
        ...


class LocalExecutor:
    """Runs the jobs one after another in this process, in order."""

    name = "local"

    def map(self, fn: Callable[[Any], Outcome], jobs: Iterable[Any]) -> Iterator[Outcome]:
        for job in jobs:
            yield fn(job)


EXECUTORS: dict[str, type] = {"local": LocalExecutor}


def make_executor(executor: str | Executor) -> Executor:
    """An executor by name (``"local"``), or the executor given."""
    if not isinstance(executor, str):
        return executor
    if executor not in EXECUTORS:
        from interp._validation import check_choice

        check_choice(executor, list(EXECUTORS), name="executor", where="run_spec")
    return EXECUTORS[executor]()


# ----------------------------------------------------------------------------- context
class RunContext:
    """What jobs share within one process: the spec, the run folder, and caches (one model at a time,
    each dataset's inputs, shard plans, the last layer's features).

    Built from plain data (``RunContext(spec, out)``), so every worker process can build its own.
    ``models`` holds per model name its display ``name``, ``n_layers``, ``d_model`` and resolved ``layers``
    (filled by the runner's planning stage, or by :meth:`describe_model`).
    """

    def __init__(self, spec: RunSpec, out: str | Path):
        from interp.batch.tasks import TASKS

        self.spec = spec
        self.out = Path(out)
        self.task = TASKS[spec.task]
        self.models: dict[str, dict[str, Any]] = {}
        self.cache: dict[Any, Any] = {}  # for tasks' own per-dataset state
        self._model: tuple[str, Any] | None = None
        self._inputs: dict[str, Any] = {}
        self._plans: dict[tuple[str, str], Any] = {}
        self._acts: dict[tuple[str, str], Any] = {}
        self._features: tuple[tuple[str, str, int], np.ndarray] | None = None
        self.on_texts: Callable[[int], None] | None = None  # told how many texts a running shard has done

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
        """Load ``name`` and record its display name, depth, width and the spec's layers for it."""
        model = self.model(name)
        self.models[name] = {"name": model.name, "slug": model_slug(name), "n_layers": int(model.n_layers),
                             "d_model": int(model.d_model),
                             "layers": self.task.layers(self.spec, model.name, int(model.n_layers))}
        return self.models[name]

    def model_info(self, name: str) -> dict[str, Any]:
        return self.models[name] if name in self.models else self.describe_model(name)

    # inputs and activations
    def inputs(self, dataset: str):
        """The task's :class:`~interp.batch.tasks.Inputs` of ``dataset`` (computed once per process)."""
        if dataset not in self._inputs:
            self._inputs[dataset] = self.task.inputs(self.spec, dataset)
        return self._inputs[dataset]

    def acts_dir(self, model: str, dataset: str) -> Path:
        return self.out / "activations" / model_slug(model) / dataset

    def plan(self, model: str, dataset: str):
        """The :class:`~interp.activations.ShardPlan` of ``dataset`` for ``model`` (loads the model once)."""
        key = (model, dataset)
        if key not in self._plans:
            from interp.activations import plan_shards

            inputs = self.inputs(dataset)
            self._plans[key] = plan_shards(self.model(model), inputs.texts, layers=self.model_info(model)["layers"],
                                           position=self.task.position(self.spec), words=inputs.words,
                                           shard_size=self.spec.extract["shard_size"])
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

    # probe results
    def job_path(self, job: ProbeJob) -> Path:
        return self.out / "jobs" / f"{job.key}.json"

    def load_job(self, job: ProbeJob):
        from interp.results import load_result

        return load_result(self.job_path(job))


# ----------------------------------------------------------------------------- the jobs
def run_shard(ctx: RunContext, job: ShardJob) -> Outcome:
    """Compute and commit one shard, unless it is already committed (then the model is not even loaded)."""
    from interp.activations import collect_shard

    start = time.perf_counter()
    plan = ctx.plan(job.model, job.dataset)
    directory = ctx.acts_dir(job.model, job.dataset)
    if plan.is_done(directory, job.shard):
        return Outcome(job, computed=False)
    inputs = ctx.inputs(job.dataset)
    computed = collect_shard(ctx.model(job.model), inputs.texts, plan, job.shard, out=directory, words=inputs.words,
                             batch_size=ctx.spec.extract["batch_size"], on_texts=ctx.on_texts)
    return Outcome(job, computed=computed, texts=job.n_texts if computed else 0, seconds=time.perf_counter() - start)


def run_probe(ctx: RunContext, job: ProbeJob) -> Outcome:
    """Fit one probe and commit its result, unless its result file already exists."""
    start = time.perf_counter()
    path = ctx.job_path(job)
    if path.is_file():
        return Outcome(job, computed=False)
    ctx.task.fit(ctx, job).save(path)
    return Outcome(job, computed=True, seconds=time.perf_counter() - start)
