"""One progress protocol for every long library call.

A long call (``collect``, ``truth_sweep``, ``world_map``, ``LieDetector.fit``, ``interp.run_spec``, ...)
takes ``progress=`` and reports through one small interface: a callable
``progress(stage, done, total)`` called with the name of what is running now (``"activations"``,
``"probes"``, ...), how many units of it are done and how many there are (``None`` if unknown). It
is called with ``done=0`` when a stage starts and again as units finish. The shells render it:

- ``progress=None`` (default): a tqdm bar on stderr when stderr is a terminal, else nothing;
- ``progress=True`` / ``False``: always / never a tqdm bar (notebooks get tqdm's notebook bar
  through ``tqdm.auto``);
- any callable: the CLI passes a rich bar (:func:`interp.cli` commands), the explorer one that
  drives ``st.progress`` with the stage's name, a test a list's ``append``.

Progress never changes a number: the same call gives the same result with or without it.

Example:
    >>> seen = []
    >>> collect(model, texts, layers=[3], progress=lambda stage, done, total: seen.append((stage, done, total)))
    >>> seen[0]
    ('activations', 0, 2)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from interp.errors import InvalidParameterError

__all__ = ["ProgressCallback", "ProgressArg", "TqdmProgress", "resolve_progress", "report"]


class ProgressCallback(Protocol):
    """``progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


ProgressArg = bool | None | ProgressCallback


def _silent(stage: str, done: int, total: int | None) -> None:
    return None


class TqdmProgress:
    """A :class:`ProgressCallback` that draws one tqdm bar per stage (``tqdm.auto``: a widget in notebooks)."""

    def __init__(self, *, leave: bool = False):
        self.leave = leave
        self._bar: Any = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from tqdm.auto import tqdm

        if stage != self._stage or self._bar is None:
            self.close()
            self._bar = tqdm(total=total, desc=stage, leave=self.leave, file=sys.stderr)
            self._stage = stage
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if total is not None and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._stage = None, None


def resolve_progress(progress: Any, *, where: str) -> ProgressCallback:
    """The callback a library call reports to, from its ``progress`` argument (see the module docstring)."""
    if progress is None:
        return TqdmProgress() if sys.stderr is not None and sys.stderr.isatty() else _silent
    if progress is True:
        return TqdmProgress()
    if progress is False:
        return _silent
    if callable(progress):
        return progress
    raise InvalidParameterError(f"The 'progress' parameter of {where} must be None, True, False or a callable "
                                f"progress(stage, done, total). Got {progress!r} instead.")


def report(progress: Callable[..., Any] | None, stage: str, done: int, total: int | None) -> None:
    """Call ``progress(stage, done, total)`` if a callback is given (a convenience for optional callbacks)."""
    if progress is not None:
        progress(stage, done, total)
