"""Run a batch run's jobs on a Ray cluster: ``interp run SPEC.toml --executor ray [--address HOST:PORT]``.

The same jobs as the local executor (:mod:`interp.batch.jobs`), committed by the same functions
(:mod:`interp.batch.context`), so a
run gives the same files whichever executor ran it, and can be resumed with either:

- **shard jobs** (and a shard-map analysis's map jobs) go to ``workers`` Ray actors, each holding one model
  replica (loaded once, on its GPU with ``gpus_per_worker`` > 0, on CPU otherwise), fed from a work queue: an actor gets its next
  shard when it commits one. An actor whose process dies is restarted by Ray and its shard retried
  (``max_retries`` times); a half-written shard is a temporary file that the run removes.
- **probe jobs** are Ray tasks (one CPU each) that read the committed activations.

Every job is committed by the worker itself (an atomic rename into the run folder), so the run folder
must be at the same path on every node: a shared filesystem on a cluster. The driver (``interp run``)
plans, collects outcomes, drives the progress bars (texts of running shards included), writes the
manifests and the report. Ray is an optional extra: ``pip install 'interp[ray]'`` (on every node).

Where Ray runs:

- ``address=None`` (default): ``$RAY_ADDRESS`` if set, else a new Ray instance on this machine
  (``"local"``), shut down at the end;
- ``"auto"``: the cluster this machine joined with ``ray start``; ``"HOST:PORT"``: that head node;
- if this process already called ``ray.init``, that instance is used (and left running).

By default one worker per node (each with that node's CPUs as torch threads) or, with GPUs, one per
``gpus_per_worker`` GPUs of the cluster.

Example:
    >>> from interp.batch import run_spec
    >>> from interp.batch.ray_executor import RayExecutor
    >>> run = run_spec("probes/truth_sweep.toml", out="/shared/runs/truth",
    ...                executor=RayExecutor(address="10.0.0.1:6379", gpus_per_worker=1))
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from interp.batch.context import RunContext, job_done
from interp.batch.jobs import Outcome
from interp.batch.spec import _Checker, _ray_table
from interp.errors import InterpError, InvalidParameterError, InvalidSpecError, MissingExtraError, RayClusterError

__all__ = ["RayExecutor"]

_INSTALL = "pip install 'interp[ray]'"
_POLL_S = 0.5  # how often running shards report their texts to the progress bar


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingExtraError(f"executor 'ray' needs Ray, which is not installed here: {_INSTALL} (on every node "
                                "of the cluster), or run with --executor local.") from None
    return ray


class _Arguments(_Checker):
    """The spec's [ray] checks, worded for RayExecutor's arguments."""

    def fail(self, key: str, message: str) -> InvalidParameterError:  # type: ignore[override]
        return InvalidParameterError(f"The {key.rpartition('.')[2]!r} parameter of RayExecutor {message}")


# ----------------------------------------------------------------------------- in the workers
_CONTEXT: tuple[str, RunContext] | None = None


def _context(state: dict[str, Any]) -> RunContext:
    """This worker process's context of the run ``state`` describes (kept across tasks of one run attempt,
    so its inputs and last features are reused)."""
    global _CONTEXT
    if _CONTEXT is None or _CONTEXT[0] != state["token"]:
        _CONTEXT = None
        _CONTEXT = (state["token"], RunContext.from_state(state))
    return _CONTEXT[1]


def _run_task(fn: Callable[[RunContext, Any], Outcome], state: dict[str, Any], job: Any) -> Outcome:
    """A Ray task: one job that needs no model (a probe)."""
    return fn(_context(state), job)


class _ModelWorker:
    """A Ray actor: one model replica, loaded on its first shard and kept, running shard jobs one at a time.

    Threaded (``max_concurrency=2``) so the driver can ask :meth:`progress` while :meth:`run` works.
    """

    def __init__(self, state: dict[str, Any], threads: int):
        import torch

        # a Ray actor's own worker process, which interp starts and owns: the CPUs Ray gave it, so workers do not
        # oversubscribe cores
        torch.set_num_threads(threads)  # process-state: ok - the actor's own process, never the caller's
        self.ctx = RunContext.from_state(state)
        self.ctx.on_texts = self._count
        self._progress: tuple[str, int] = ("", 0)
        self._checked: set[str] = set()

    def ready(self) -> tuple[int, str]:
        return os.getpid(), socket.gethostname()

    def progress(self) -> tuple[str, int]:
        """(key of the running shard, texts done so far)."""
        return self._progress

    def _count(self, job: Any, n: int) -> None:
        key, done = self._progress
        self._progress = (job.key, (done if key == job.key else 0) + n)

    def run(self, fn: Callable[[RunContext, Any], Outcome], job: Any) -> tuple[Outcome, int]:
        self._progress = (job.key, 0)
        if job.model not in self._checked and not job_done(self.ctx, job):
            self._check_model(job)
        return fn(self.ctx, job), os.getpid()

    def _check_model(self, job: Any) -> None:
        """The replica must be the model the driver planned with (same weights): else the shards would lie.
        Its own plan of the dataset (which hashes the model's fingerprint) must equal the driver's."""
        planned, own = self.ctx.replica_hashes(job)
        if own != planned:
            raise RayClusterError(f"The model {job.model!r} loaded by the worker on {socket.gethostname()} differs "
                                  "from the one the driver planned with (other weights, dtype or version). Install the "
                                  "same interp and model files on every node.")
        self._checked.add(job.model)


# ----------------------------------------------------------------------------- the executor
class RayExecutor:
    """Runs shard jobs on Ray actors (one model replica each) and probe jobs as Ray tasks.

    Args:
        address: ``None`` ($RAY_ADDRESS, else a new local instance), ``"local"``, ``"auto"`` or ``"HOST:PORT"``.
        workers: model replicas (actors); default one per node, or one per ``gpus_per_worker`` GPUs.
        gpus_per_worker: GPUs per replica (0: CPU; a fraction shares a GPU).
        runtime_env: a Ray runtime environment for the workers (e.g. ``{"env_vars": {"INTERP_CACHE": ...}}``).
        max_retries: how often a lost worker is restarted and its job retried.
        start_timeout_s: how long to wait for the first worker before saying the cluster cannot fit one.

    Raises:
        MissingExtraError: Ray is not installed (``pip install 'interp[ray]'``).
        InvalidParameterError: a bad argument.
        RayClusterError: nothing listens at ``address`` (HOST:PORT).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0, *,
                 runtime_env: dict[str, Any] | None = None, max_retries: int = 3, start_timeout_s: float = 300.0):
        table = _ray_table({k: v for k, v in (("address", address), ("workers", workers),
                                              ("gpus_per_worker", gpus_per_worker)) if v is not None}, _Arguments(""))
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidParameterError(f"The 'max_retries' parameter of RayExecutor must be an int >= 0. "
                                        f"Got {max_retries!r}.")
        self.address, self.workers, self.gpus_per_worker = table["address"], table["workers"], table["gpus_per_worker"]
        self.runtime_env = runtime_env
        self.max_retries = max_retries
        self.start_timeout_s = float(start_timeout_s)
        self._environ = dict(os.environ)  # Ray's import and a local instance set variables; close() puts them back
        self._ray = _import_ray()
        if self.address not in (None, "auto", "local") and not self._ray.is_initialized():
            _check_reachable(self.address)  # fail before the run starts, not minutes into ray.init
        self._owned = self._connected = False
        self._info: dict[str, Any] = {"address": None, "nodes": 0, "workers": 0, "cpus_per_worker": None,
                                      "gpus_per_worker": self.gpus_per_worker, "worker_restarts": 0}

    # ------------------------------------------------------------------ the cluster
    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():  # this process is already connected: use that instance, leave it running
            self._connected = True
            self._describe()
            return
        target = self.address or os.environ.get("RAY_ADDRESS") or "local"
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
        if target == "local":
            # a local instance this run starts and stops: no usage reporting (nothing leaves the machine);
            # the variable, and those Ray sets while it runs, are undone by close()
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # process-state: ok - close() puts it back
            ray.init(address="local", num_cpus=max(os.cpu_count() or 1, self.workers or 0), include_dashboard=False,
                     **quiet)
            self._owned = True
        else:
            try:
                ray.init(address=target, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                cause = f"{exc} ({exc.__cause__})" if exc.__cause__ is not None else str(exc)
                hint = ("The cluster uses token authentication: export RAY_AUTH_MODE=token, with its token in "
                        "~/.ray/auth_token or $RAY_AUTH_TOKEN." if "auth" in cause.lower() else
                        "Start one with `ray start --head` (see the README's 'Running on a Ray cluster').")
                raise RayClusterError(f"Could not connect to the Ray cluster at {target!r}: {cause[:400]}. "
                                      f"{hint}") from None
        self._connected = True
        self._describe()

    def _describe(self) -> None:
        ray = self._ray
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        self._node_cpus = [float(n["Resources"].get("CPU", 0)) for n in nodes]
        self._total_gpus = sum(float(n["Resources"].get("GPU", 0)) for n in nodes)
        self._info.update(address=ray.get_runtime_context().gcs_address, nodes=len(nodes))

    def _worker_shape(self) -> tuple[int, int, float]:
        """(workers, CPUs per worker, GPUs per worker) for this cluster."""
        gpus = self.gpus_per_worker
        if gpus > 0:
            if self._total_gpus < gpus:
                raise RayClusterError(f"Each worker asks for {gpus:g} GPU(s) (--gpus-per-worker) but the Ray cluster "
                                      f"at {self._info['address']} has {self._total_gpus:g}. Use --gpus-per-worker 0 "
                                      "for CPU workers.")
            return self.workers or max(1, int(self._total_gpus // gpus)), 1, gpus
        workers = self.workers or max(1, len(self._node_cpus))
        cpus = max(1, min(int(sum(self._node_cpus) // workers), int(max(self._node_cpus, default=1))))
        return workers, cpus, 0.0

    def info(self) -> dict[str, Any]:
        """Where the jobs ran: the cluster's address and nodes, the workers, and how many were restarted."""
        return dict(self._info)

    def close(self) -> None:
        """Shut down the Ray instance this executor started (one it connected to keeps running)."""
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
            from interp._imports import restore_environ

            restore_environ(self._environ)  # RAY_USAGE_STATS_ENABLED, RAY_AUTH_MODE, PYTHONBREAKPOINT, ... as before
        self._owned = self._connected = False

    # ------------------------------------------------------------------ running jobs
    def map(self, fn: Callable[[RunContext, Any], Outcome], ctx: RunContext, jobs: Iterable[Any]) -> Iterator[Outcome]:
        """Yield ``fn(ctx, job)`` for every job: finished jobs at once, the rest from Ray as they finish."""
        todo = []
        for job in jobs:
            if job_done(ctx, job):  # nothing to ship (and no cluster to start when nothing is left)
                yield Outcome(job, computed=False)
            else:
                todo.append(job)
        if not todo:
            return
        device = ctx.spec.extract["device"]
        if any(j.needs_model for j in todo) and device and device.startswith("cuda") and self.gpus_per_worker == 0:
            raise InvalidSpecError(f"{ctx.spec.source}: [extract].device: {device!r} needs GPUs on the Ray workers: "
                                   "set [ray].gpus_per_worker (--gpus-per-worker), or leave device out.",
                                   key="extract.device", source=ctx.spec.source)
        if not self._connected:
            self._connect()
        state = ctx.state()
        with_model = [j for j in todo if j.needs_model]
        if with_model:
            _release_driver_model(ctx)
            yield from self._on_actors(fn, state, with_model, ctx.on_texts)
        rest = [j for j in todo if not j.needs_model]
        if rest:
            yield from self._as_tasks(fn, state, rest)

    def _on_actors(self, fn, state, jobs, on_texts) -> Iterator[Outcome]:
        ray = self._ray
        n_workers, cpus, gpus = self._worker_shape()
        n_workers = min(n_workers, len(jobs))
        self._info.update(workers=n_workers, cpus_per_worker=cpus)
        actor = ray.remote(_ModelWorker).options(
            num_cpus=cpus, num_gpus=gpus, max_restarts=self.max_retries, max_task_retries=self.max_retries,
            max_concurrency=2, runtime_env=self.runtime_env)
        actors = [actor.remote(state, cpus) for _ in range(n_workers)]  # by value: a restarted actor needs it again
        starting = {a.ready.remote(): i for i, a in enumerate(actors)}
        pids: dict[int, int] = {}
        idle: list[int] = []
        queue = collections.deque(jobs)
        running: dict[Any, tuple[int, Any]] = {}  # ref of run() -> (actor index, job)
        shown: dict[str, int] = {}  # texts of running shards already given to on_texts
        since = polled = time.monotonic()
        try:
            while queue or running:
                ready, _ = ray.wait(list(starting) + list(running), num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    if ref in starting:
                        i = starting.pop(ref)
                        pids[i] = self._get(ref, None)[0]
                        idle.append(i)
                        continue
                    i, job = running.pop(ref)
                    outcome, pid = self._get(ref, job)
                    if pids.get(i) not in (None, pid):  # the actor was restarted while it ran this job
                        self._info["worker_restarts"] += 1
                    pids[i] = pid
                    shown.pop(job.key, None)  # the runner completes the shard's texts
                    idle.append(i)
                    yield outcome
                while idle and queue:
                    i = idle.pop()
                    job = queue.popleft()
                    running[actors[i].run.remote(fn, job)] = (i, job)
                if not pids and not running and time.monotonic() - since > self.start_timeout_s:
                    raise RayClusterError(
                        f"No Ray worker started within {self.start_timeout_s:g} s: each asks for {cpus} CPU(s) and "
                        f"{gpus:g} GPU(s); the cluster at {self._info['address']} has {sum(self._node_cpus):g} CPUs "
                        f"and {self._total_gpus:g} GPUs ({ray.available_resources()} free). Ask for fewer "
                        "(--workers, --gpus-per-worker) or add nodes.")
                if on_texts is not None and running and time.monotonic() - polled >= _POLL_S:
                    self._poll(actors, running, shown, on_texts)
                    polled = time.monotonic()
        finally:
            for a in actors:
                ray.kill(a)

    def _poll(self, actors, running, shown, on_texts) -> None:
        """Tell the driver's progress bar how far the running shards are (best effort, never blocks long)."""
        ray = self._ray
        asked = {actors[i].progress.remote(): job for i, job in running.values()}
        answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=0.2)
        for ref in answered:
            job = asked[ref]
            try:
                key, done = ray.get(ref)
            except ray.exceptions.RayError:  # a worker being restarted: ask again next time
                continue
            if key == job.key:
                new = min(done, job.n_texts) - shown.get(key, 0)
                if new > 0:
                    shown[key] = shown.get(key, 0) + new
                    on_texts(job, new)

    def _as_tasks(self, fn, state, jobs) -> Iterator[Outcome]:
        ray = self._ray
        task = ray.remote(_run_task).options(num_cpus=1, max_retries=self.max_retries, runtime_env=self.runtime_env)
        state_ref = ray.put(state)
        window = max(2, 2 * int(sum(self._node_cpus)))  # in flight at once, submitted in order (layer by layer)
        queue = collections.deque(jobs)
        running: dict[Any, Any] = {}
        try:
            while queue or running:
                while queue and len(running) < window:
                    job = queue.popleft()
                    running[task.remote(fn, state_ref, job)] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    yield self._get(ref, running.pop(ref))
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def _get(self, ref, job) -> Any:
        """``ray.get(ref)``, with a job's own error re-raised as itself and a lost worker as RayClusterError."""
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, InterpError):
                raise exc.cause from None
            raise
        except ray.exceptions.RayError as exc:
            what = f"running {job.key}" if job is not None else "starting"
            raise RayClusterError(f"A Ray worker died {what} and could not be brought back ({self.max_retries} "
                                  f"retries): {type(exc).__name__}: {str(exc)[:300]}. What was committed is kept: "
                                  "resume with --resume.") from None


def _release_driver_model(ctx: RunContext) -> None:
    """Free the driver's replica (loaded to plan the shards): the workers extract, and may need its GPU memory."""
    import sys

    ctx.release_model()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast with a clear message when nothing listens at ``HOST:PORT`` (``ray.init`` would wait minutes)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise RayClusterError(f"Cannot reach a Ray head node at {address} ({exc.strerror or exc}). Start one there "
                              f"with `ray start --head --port {port}`, or check --address.") from None
