"""How ``interp run`` draws its progress by default: one rich bar per stage, with ETA, on stderr.

:class:`RunBars` is a :class:`~interp.progress.ProgressCallback` (``bars(stage, done, total)``);
:func:`~interp.batch.runner.run_spec` uses it for ``progress=None`` (on a terminal) and ``progress=True``,
and reports to any other callable the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UNITS", "RunBars"]

#: What a stage's units are: plan and report count steps, extract the texts run, probe the probe jobs.
UNITS = {"plan": "steps", "extract": "texts", "probe": "probes", "report": "steps"}


class RunBars:
    """One rich progress bar per stage (with ETA); ``enabled=None``: only when stderr is a terminal."""

    def __init__(self, enabled: bool | None = None, units: dict[str, str] | None = None):
        from rich.console import Console

        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else bool(enabled)
        self.units = {**UNITS, **(units or {})}  # a shard-map run's extract stage counts its items (pairs, questions)
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console, transient=False)

    def __enter__(self) -> RunBars:  # noqa: PYI034 - never subclassed
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._bar is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total, unit=self.units.get(stage, ""))
        self._bar.update(self._tasks[stage], completed=done, total=total)
