"""Units of work of a batch run, and the executors that run them.

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
committed (:func:`job_done` says whether one is); an :class:`Executor` only decides where they run.
:class:`LocalExecutor` runs them one after another in this process;
:class:`~interp.batch.ray_executor.RayExecutor` (``executor="ray"``) runs shard jobs on Ray actors that
each keep a model replica, and probe jobs as Ray tasks. A job is plain data and a :class:`RunContext`
is rebuilt in any process from :meth:`RunContext.state` (the spec, the folder, the shard plans).

Example:
    >>> ctx = RunContext(load_spec("probes/truth_sweep.toml"), Path("runs/truth"))
    >>> for outcome in LocalExecutor().map(run_shard, ctx, jobs):
    ...     print(outcome.job.key, outcome.computed)
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from interp.batch.spec import EXECUTORS, RunSpec, model_slug

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "Outcome", "ProbeJob", "RunContext", "ShardJob", "job_done",
           "make_executor", "run_probe", "run_shard"]


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """Extract shard ``shard`` (``n_texts`` texts) of ``dataset`` with ``model`` (a name as in the spec)."""

    model: str
    dataset: str
    shard: int
    n_texts: int

    needs_model: ClassVar[bool] = True  # runs where a model replica is loaded (a Ray actor keeps one)

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

    needs_model: ClassVar[bool] = False  # reads activations only

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
    """Runs jobs: ``map(fn, ctx, jobs)`` yields ``fn(ctx, job)`` for every job, in any order.

    ``fn`` is :func:`run_shard` or :func:`run_probe` (module-level, so it can be sent to another
    process); ``ctx`` is the driver's :class:`RunContext`. An executor that runs jobs elsewhere rebuilds
    a context there from ``ctx.state()`` and reports a running shard's texts to the driver's
    ``ctx.on_texts(job, n)`` when it can. ``info()`` describes where the jobs ran (stored in run.json);
    ``close()`` releases what the executor started.
    """

    name: str

    def map(self, fn: Callable[[RunContext, Any], Outcome], ctx: RunContext, jobs: Iterable[Any]) -> Iterator[Outcome]:
        ...

    def info(self) -> dict[str, Any]:
        ...

    def close(self) -> None:
        ...


class LocalExecutor:
    """Runs the jobs one after another in this process, in order."""

    name = "local"

    def map(self, fn: Callable[[RunContext, Any], Outcome], ctx: RunContext, jobs: Iterable[Any]) -> Iterator[Outcome]:
        for job in jobs:
            yield fn(ctx, job)

    def info(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def make_executor(executor: str | Executor, spec: RunSpec | None = None) -> Executor:
    """An executor by name (``"local"`` or ``"ray"``, the latter set up from ``spec.ray``), or the executor given.

    Raises:
        InvalidParameterError: an unknown name.
        MissingExtraError: ``"ray"`` without Ray installed (``pip install 'interp[ray]'``).
    """
    if not isinstance(executor, str):
        return executor
    if executor not in EXECUTORS:
        from interp._validation import check_choice

        check_choice(executor, list(EXECUTORS), name="executor", where="run_spec")
    if executor == "ray":
        from interp.batch.ray_executor import RayExecutor

        return RayExecutor(**(spec.ray if spec is not None else {}))
    return LocalExecutor()


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
        self._token: str | None = None
        self.on_texts: Callable[[ShardJob, int], None] | None = None  # told how many more texts a shard has done

    # another process's copy
    def state(self) -> dict[str, Any]:
        """What another process needs to run this run's jobs: the spec, the folder (absolute), the models'
        descriptions and the shard plans (plain, picklable data). ``token`` names this run attempt."""
        if self._token is None:
            self._token = uuid.uuid4().hex
        return {"token": self._token, "spec": self.spec, "out": str(self.out.resolve()), "models": dict(self.models),
                "plans": dict(self._plans)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunContext:
        """A context rebuilt from :meth:`state` in another process (nothing loaded yet)."""
        ctx = cls(state["spec"], state["out"])
        ctx.models.update(state["models"])
        ctx._plans.update(state["plans"])
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
        """Load ``name`` and record its display name, depth, width and the spec's layers for it."""
        model = self.model(name)
        from interp.models.card import model_card

        self.models[name] = {"name": model.name, "slug": model_slug(name), "n_layers": int(model.n_layers),
                             "d_model": int(model.d_model), "card": model_card(model),
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
def job_done(ctx: RunContext, job: ShardJob | ProbeJob) -> bool:
    """Whether ``job`` is already committed in the run folder (whole, and for these inputs)."""
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
    """Fit one probe and commit its result, unless its result file already exists."""
    start = time.perf_counter()
    if job_done(ctx, job):
        return Outcome(job, computed=False)
    ctx.task.fit(ctx, job).save(ctx.job_path(job))
    return Outcome(job, computed=True, seconds=time.perf_counter() - start)
