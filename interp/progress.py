"""One progress protocol for every long library call.

A long call (``collect``, ``truth_sweep``, ``world_map``, ``LieDetector.fit``, ``interp.run_spec``, ...)
takes ``progress=`` and reports through one small interface: a callable
``progress(stage, done, total)`` called with the name of what is running now (``"activations"``,
``"probes"``, ...), how many units of it are done and how many there are (``None`` if unknown). It
is called with ``done=0`` when a stage starts and again as units finish. The shells render it:

- ``progress=None`` (default): a tqdm bar on stderr when stderr is a terminal; in a Jupyter notebook
  (where stderr is no terminal) a notebook bar (``tqdm.notebook``, if ipywidgets is installed) or else
  a text bar on stdout, which Jupyter shows under the cell; nothing when the process is not interactive
  at all (a script with its output in a file, a test, a batch job);
- ``progress=True`` / ``False``: always / never a bar (the same bar as above);
- any callable: the CLI passes a rich bar (:func:`interp.cli` commands), the explorer one that
  drives ``st.progress`` with the stage's name, a test a list's ``append``.

Every long call's ``progress`` parameter is annotated :data:`ProgressArg` (the values above); a building block
that is handed an already-resolved callback (``training_scores``, ``train_top_stack``, ...) takes
``ProgressCallback | None``. Either way a callable is always accepted, so a shell passes its bar to any long call
as it is and never inspects the function first (a test checks both).

A bar's rate and time left are measured from the steps done so far (tqdm's moving average), never
guessed in advance. Progress never changes a number: the same call gives the same result with or without it.

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

__all__ = ["ProgressCallback", "ProgressArg", "TqdmProgress", "in_notebook", "resolve_progress", "report"]


class ProgressCallback(Protocol):
    """``progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


ProgressArg = bool | None | ProgressCallback


def _silent(stage: str, done: int, total: int | None) -> None:
    return None


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's shell with a kernel; not the IPython terminal).

    IPython is not imported to find out: a notebook has imported it already."""
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # noqa: BLE001 - an IPython too old or half-imported is no notebook
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _has_widgets() -> bool:
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


class TqdmProgress:
    """A :class:`ProgressCallback` that draws one tqdm bar per stage: on stderr in a terminal; in a notebook
    (``notebook=True``) a widget bar (``tqdm.notebook``) if ipywidgets is installed, else a text bar on stdout.
    Steps go through ``tqdm.update``, so the rate and time left are measured from the steps done."""

    def __init__(self, *, leave: bool = False, notebook: bool | None = None):
        self.leave = leave
        self.notebook = in_notebook() if notebook is None else notebook
        self._bar: Any = None
        self._stage: str | None = None

    def _new_bar(self, stage: str, total: int | None) -> Any:
        if self.notebook and _has_widgets():
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(total=total, desc=stage, leave=self.leave)
        from tqdm.std import tqdm

        # a notebook without ipywidgets shows stdout under the cell (stderr in red): a text bar there
        return tqdm(total=total, desc=stage, leave=self.leave, file=sys.stdout if self.notebook else sys.stderr)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self._stage or self._bar is None:
            self.close()
            self._bar = self._new_bar(stage, total)
            self._stage = stage
        if total is not None and self._bar.total != total:
            self._bar.total = total
        if done >= self._bar.n:
            self._bar.update(done - self._bar.n)
        else:  # a stage that went back (a restart): show it, the rate starts again
            self._bar.reset(total=total)
            self._bar.update(done)
        if total is not None and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._stage = None, None


def resolve_progress(progress: Any, *, where: str) -> ProgressCallback:
    """The callback a library call reports to, from its ``progress`` argument (see the module docstring)."""
    if progress is None:
        if sys.stderr is not None and sys.stderr.isatty():
            return TqdmProgress(notebook=False)
        return TqdmProgress(notebook=True, leave=True) if in_notebook() else _silent  # the finished bar stays under the cell
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
