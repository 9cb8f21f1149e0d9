"""Batch runs from spec files: many models x datasets x layers x probes, resumable, with one report.

Write a TOML spec (see ``probes/*.toml`` and :mod:`interp.batch.spec`) and run it::

    interp run probes/truth_sweep.toml --out runs/truth            # or interp.run_spec(...)
    interp run probes/truth_sweep.toml --out runs/truth --resume   # after a crash or kill -9

- :func:`load_spec`: read and validate a spec (:class:`~interp.errors.InvalidSpecError` names the key);
- :func:`run_spec`: extract (shard by shard, to disk), fit one probe per model x dataset x layer x
  kind, write each model's result, ``summary.csv``/``.parquet`` and an offline ``report.html``;
- :func:`load_run`: read a run folder back (:class:`RunSummary`), finished or not;
- :class:`ShardJob`, :class:`ProbeJob`, :class:`MapJob` (plain data, :mod:`interp.batch.jobs`), :func:`run_shard`,
  :func:`run_probe`, :func:`run_map` and :class:`RunContext` (how a job runs, given the run's analysis;
  :mod:`interp.batch.context`), :class:`LocalExecutor` (:mod:`interp.batch.executors`);
- :class:`RayExecutor`: the same jobs on a Ray cluster (``interp run ... --executor ray``, the
  ``interp[ray]`` extra; see :mod:`interp.batch.ray_executor`).

What a task computes is its analysis's definition (:mod:`interp.analysis`: the task names are the
registered analyses, :func:`interp.analysis.analysis_names`). The modules point one way:
``spec`` -> ``jobs`` -> ``context`` -> ``executors`` / ``ray_executor`` -> ``lock``, ``record``,
``report``, ``bars`` -> ``runner``.

Names load on first use.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/truth_sweep.toml", out="runs/truth", overrides={"data.max_pairs": 100})
    >>> run.frame().groupby("layer").accuracy.mean().idxmax()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "RunSpec": "interp.batch.spec",
    "load_spec": "interp.batch.spec",
    "run_spec": "interp.batch.runner",
    "load_run": "interp.batch.record",
    "RunSummary": "interp.batch.record",
    "best_layers": "interp.batch.report",
    "run_lock": "interp.batch.lock",
    "ShardJob": "interp.batch.jobs",
    "ProbeJob": "interp.batch.jobs",
    "MapJob": "interp.batch.jobs",
    "Outcome": "interp.batch.jobs",
    "RunContext": "interp.batch.context",
    "run_shard": "interp.batch.context",
    "run_probe": "interp.batch.context",
    "run_map": "interp.batch.context",
    "job_done": "interp.batch.context",
    "Executor": "interp.batch.executors",
    "LocalExecutor": "interp.batch.executors",
    "RayExecutor": "interp.batch.ray_executor",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
