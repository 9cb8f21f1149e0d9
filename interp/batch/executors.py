"""Where a batch run's jobs run: the :class:`Executor` interface, :class:`LocalExecutor`, and :func:`make_executor`.

:class:`LocalExecutor` runs the jobs one after another in this process;
:class:`~interp.batch.ray_executor.RayExecutor` (``executor="ray"``) runs shard jobs on Ray actors that
each keep a model replica, and probe jobs as Ray tasks. Both call the same functions of
:mod:`interp.batch.context` on the same plain-data jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from interp.batch.context import RunContext
from interp.batch.jobs import Outcome
from interp.batch.spec import EXECUTORS, RunSpec
from interp.errors import InvalidParameterError, choices_text

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]


class Executor(Protocol):
    """Runs jobs: ``map(fn, ctx, jobs)`` yields ``fn(ctx, job)`` for every job, in any order.

    ``fn`` is :func:`~interp.batch.context.run_shard` or :func:`~interp.batch.context.run_probe`
    (module-level, so it can be sent to another process); ``ctx`` is the driver's
    :class:`~interp.batch.context.RunContext`. An executor that runs jobs elsewhere rebuilds a context there
    from ``ctx.state()`` and reports a running shard's texts to the driver's ``ctx.on_texts(job, n)`` when
    it can. ``info()`` describes where the jobs ran (stored in run.json); ``close()`` releases what the
    executor started.
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
        raise InvalidParameterError(f"The 'executor' parameter of run_spec must be one of {choices_text(EXECUTORS)} "
                                    f"or an executor object. Got {executor!r} instead.")
    if executor == "ray":
        from interp.batch.ray_executor import RayExecutor

        return RayExecutor(**(spec.ray if spec is not None else {}))
    return LocalExecutor()
