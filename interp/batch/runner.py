"""Run a spec end to end into a self-describing folder; resume it after a crash; read it back.

:func:`run_spec` takes a spec (:mod:`interp.batch.spec`) and an output folder and goes through four
stages, each reported to ``progress(stage, done, total)`` (:mod:`interp.progress`; by default a rich bar
with ETA on a terminal, :class:`~interp.batch.bars.RunBars`):

1. **plan** (steps): load each model (one at a time), check the layers, cut each dataset into shards;
2. **extract** (texts): one :class:`~interp.batch.jobs.ShardJob` per shard (streamed to disk, whole or absent);
3. **probe** (probes): one :class:`~interp.batch.jobs.ProbeJob` per model x dataset x layer x probe kind,
   fitted by the analysis's definition (:meth:`interp.analysis.Analysis.fit`);
4. **report** (steps): each model's result (``results/<model>.<task>.json`` + ``.html``, the analysis's
   :meth:`~interp.analysis.Analysis.assemble`), ``summary.csv`` and ``summary.parquet`` (one row per
   model x dataset x layer x probe), and one offline ``report.html``.

A shard-map analysis (:class:`interp.analysis.ShardMapAnalysis`: patching, ask, data_attribution, lens_fit)
goes through the same stages: **plan** cuts each dataset's items into shards, **extract** runs one
:class:`~interp.batch.jobs.MapJob` per shard (its part committed to ``parts/<model>/<dataset>/``; progress in
items), **probe** has no jobs, and **report** assembles the parts into the library function's result.

The folder and its ``run.json``: :mod:`interp.batch.record`. Safety: a run holds an exclusive lock on
``.lock`` (:mod:`interp.batch.lock`, released by the kernel even on ``kill -9``), so a second run into
the same folder is refused (:class:`~interp.errors.RunLockedError`). A folder that holds an unfinished
run of the same spec is continued only with ``resume=True``; a folder holding another spec's run, or
files that are not a run, is refused (:class:`~interp.errors.RunFolderError`); nothing is ever deleted
but interp's own temporary files. Resuming recomputes nothing finished and gives the same numbers as
an uninterrupted run. If the data or the model changed since the run started, resuming is refused too.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/truth_sweep.toml", out="runs/truth")
    >>> run.status, run.frame().head()
    >>> interp.batch.load_run("runs/truth").results()[0].plot()
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.analysis import get_analysis
from interp.batch.context import RunContext, run_map, run_probe, run_shard
from interp.batch.executors import Executor, make_executor
from interp.batch.jobs import MapJob, ProbeJob, ShardJob
from interp.batch.lock import LOCK_FILE, now, run_lock
from interp.batch.record import RUN_FILE, Record, RunSummary, check_folder, clean_temporaries, load_run, new_record
from interp.batch.spec import RunSpec, load_spec
from interp.errors import InvalidParameterError, InvalidSpecError, RunFolderError
from interp.progress import ProgressArg, ProgressCallback

__all__ = ["LOCK_FILE", "RUN_FILE", "RunSummary", "load_run", "run_lock", "run_spec"]


def _reporter(progress: Any, units: dict[str, str] | None = None) -> contextlib.AbstractContextManager[ProgressCallback]:
    """The callback run_spec reports to: rich bars for None (on a terminal) / True, nothing for False, or the callable."""
    from interp.batch.bars import RunBars

    if progress is None or isinstance(progress, bool):
        return RunBars(progress, units=units)
    if callable(progress):
        return contextlib.nullcontext(progress)
    raise InvalidParameterError(f"The 'progress' parameter of run_spec must be None, True, False or a callable "
                                f"progress(stage, done, total). Got {progress!r} instead.")


# ----------------------------------------------------------------------------- the run
def run_spec(spec: str | os.PathLike | Mapping[str, Any] | RunSpec, out: str | os.PathLike | None = None, *,
             resume: bool = False, overrides: Mapping[str, Any] | None = None, progress: ProgressArg = None,
             executor: str | Executor | None = None) -> RunSummary:
    """Run a spec: extract, probe, report, into ``out``; resumable, locked, deterministic.

    Args:
        spec: a TOML spec file, a dict of the same shape, or a :class:`~interp.batch.spec.RunSpec`.
        out: the output folder (default: the spec's ``out``). Relative to the current folder.
        resume: continue an unfinished run of the same spec in ``out`` (finished shards and probes are
            reused, never recomputed). Without it such a folder is refused. A finished run of the same
            spec is always accepted (nothing to recompute; the report is written again).
        overrides: dotted keys to change in the spec, e.g. ``{"data.max_pairs": 50}``.
        progress: ``None`` (default: rich bars on a terminal), ``True`` / ``False`` (always / never bars), or a
            callable ``progress(stage, done, total)`` told each stage's units as they finish: ``"plan"`` (steps),
            ``"extract"`` (texts run), ``"probe"`` (probe jobs), ``"report"`` (steps); see :mod:`interp.progress`.
            Never changes a number.
        executor: where the jobs run: ``"local"`` (one after another in this process), ``"ray"`` (on a Ray
            cluster, set up from the spec's ``[ray]`` table; :mod:`interp.batch.ray_executor`) or an
            executor object. Default: the spec's ``executor`` (``"local"`` unless it says otherwise). Not
            part of the run's identity: a run started with one executor can be resumed with another,
            with the same numbers.

    Returns:
        :class:`RunSummary` of the folder.

    Raises:
        InvalidSpecError: a bad spec, a layer out of range for a model, an unknown model.
        RunLockedError: another run is writing into ``out``.
        RunFolderError: ``out`` holds something else (another spec's run, an unfinished run without
            ``resume``, files that are not a run), or the data or model changed since the run started.
        MissingExtraError: ``executor="ray"`` without Ray installed (``pip install 'interp[ray]'``).
        RayClusterError: the Ray cluster cannot be reached, or lost a worker too often.

    Example:
        >>> run = run_spec("probes/truth_sweep.toml", out="runs/truth", overrides={"data.max_pairs": 100})
        >>> run.frame().groupby("layer").accuracy.mean()
    """
    spec = load_spec(spec, overrides=overrides)
    if out is None and spec.out is None:
        raise InvalidSpecError(f"{spec.source}: out: no output folder; pass --out DIR (out=...) or set out in the "
                               "spec.", key="out", source=spec.source)
    directory = Path(out if out is not None else spec.out)  # type: ignore[arg-type]
    if directory.exists() and not directory.is_dir():
        raise RunFolderError(f"The output folder {directory} is a file.")
    reporter = _reporter(progress, {"extract": getattr(get_analysis(spec.task), "unit", "texts")})
    runner = make_executor(spec.executor if executor is None else executor, spec)
    try:
        with run_lock(directory):
            old = check_folder(directory, spec, resume)
            clean_temporaries(directory)
            ctx = RunContext(spec, directory)
            with reporter as report:
                _Run(ctx, old, runner, report, resumed=old is not None).run()
    finally:
        if runner is not executor and hasattr(runner, "close"):  # an executor made here: stop what it started
            runner.close()
    return load_run(directory)


class _Run:
    """One attempt at a run folder: the four stages, with run.json kept up to date."""

    def __init__(self, ctx: RunContext, old: dict[str, Any] | None, executor: Executor, report: ProgressCallback, *,
                 resumed: bool):
        self.ctx = ctx
        self.old = old
        self.executor = executor
        self.report = report
        self.record = Record(ctx.out, old if old is not None else new_record(ctx.spec))
        data = self.record.data
        data["spec"]["out"], data["spec"]["description"] = ctx.spec.out, ctx.spec.description
        self.attempt = {"started": now(), "finished": None, "status": "running", "pid": os.getpid(),
                        "host": socket.gethostname(), "resumed": resumed, "executor": executor.name,
                        "shards_computed": 0, "shards_reused": 0, "texts_forwarded": 0, "probes_computed": 0,
                        "probes_reused": 0, "seconds": {}}

    def run(self) -> None:
        data = self.record.data
        try:
            self._plan()  # may refuse (bad layers, changed inputs) before anything is written
            data["status"], data["error"], data["finished"] = "running", None, None
            data["attempts"].append(self.attempt)
            self.record.save()
            for name, stage in (("extract", self._extract), ("probe", self._probe), ("report", self._report)):
                start = time.perf_counter()
                self.record.stage(name, status="running", started=now(), finished=None)
                self.record.save()
                stage()
                self.record.stage(name, status="done", finished=now())
                self.attempt["seconds"][name] = round(time.perf_counter() - start, 3)
                self._note_executor()
                self.record.save()
            data["status"] = self.attempt["status"] = "complete"
            data["finished"] = self.attempt["finished"] = now()
            self.record.save()
        except BaseException as exc:
            if self.attempt in data["attempts"]:  # the attempt had started writing: say how it ended
                interrupted = isinstance(exc, KeyboardInterrupt)
                data["status"] = self.attempt["status"] = "interrupted" if interrupted else "failed"
                data["error"] = None if interrupted else f"{type(exc).__name__}: {exc}"
                self.attempt["finished"] = now()
                with contextlib.suppress(Exception):
                    self.record.save()
            raise
        finally:
            self.ctx.release_model()

    def _note_executor(self) -> None:
        """Where the jobs ran (a Ray executor: cluster, workers, restarts), in this attempt's record."""
        info = self.executor.info() if hasattr(self.executor, "info") else {}
        if info:
            self.attempt["executor_info"] = info

    # ------------------------------------------------------------------ stages
    def _plan(self) -> None:
        from interp.errors import InterpError

        ctx, spec, data = self.ctx, self.ctx.spec, self.record.data
        start = time.perf_counter()
        datasets = ctx.analysis.datasets(spec)
        steps, done = len(spec.models) + len(datasets), 0
        self.report("plan", 0, steps)
        inputs = {}
        for dataset in datasets:
            inputs[dataset] = ctx.inputs(dataset).fingerprint
            done += 1
            self.report("plan", done, steps)
        changed = [d for d, h in inputs.items() if data["inputs"].get(d, h) != h]
        if changed:
            raise RunFolderError(f"The data of {changed} changed since the run in {ctx.out} started; its finished "
                                 "results no longer match it. Start a new run in another --out.")
        models = {}
        for name in spec.models:
            try:
                info = dict(ctx.describe_model(name))
            except InvalidSpecError:
                raise
            except InterpError as exc:
                raise InvalidSpecError(f"{spec.source}: models: cannot load {name!r}: {exc}", key="models",
                                       source=spec.source) from None
            if ctx.shard_map:
                info["parts"] = self._plan_parts(name, datasets)
                models[name] = info
                done += 1
                self.report("plan", done, steps)
                continue
            info["activations"] = {}
            for dataset in datasets:
                plan = ctx.plan(name, dataset)
                before = data["models"].get(name, {}).get("activations", {}).get(dataset)
                if before is not None and before["input_hash"] != plan.input_hash:
                    raise RunFolderError(f"The model {name!r} or its inputs changed since the run in {ctx.out} started "
                                         f"(activations of {dataset!r} differ). Start a new run in another --out.")
                info["activations"][dataset] = {
                    "path": ctx.acts_dir(name, dataset).relative_to(ctx.out).as_posix(),
                    "input_hash": plan.input_hash, "n_texts": plan.n_texts, "n_shards": len(plan),
                    "complete": bool(before and before.get("complete"))}
            models[name] = info
            done += 1
            self.report("plan", done, steps)
        data["inputs"], data["models"] = inputs, models
        self.record.stage("plan", status="done", started=data["stages"]["plan"]["started"] or now(), finished=now())
        self.attempt["seconds"]["plan"] = round(time.perf_counter() - start, 3)

    def _plan_parts(self, name: str, datasets: list[str]) -> dict[str, Any]:
        """A shard-map run's plan of model ``name``: per dataset, its shards of items (refused if it changed)."""
        ctx, data = self.ctx, self.record.data
        parts = {}
        for dataset in datasets:
            plan = ctx.map_plan(name, dataset)
            before = data["models"].get(name, {}).get("parts", {}).get(dataset)
            if before is not None and before["input_hash"] != plan.input_hash:
                raise RunFolderError(f"The model {name!r} or its inputs changed since the run in {ctx.out} started "
                                     f"(the parts of {dataset!r} differ). Start a new run in another --out.")
            parts[dataset] = {"path": ctx.parts_dir(name, dataset).relative_to(ctx.out).as_posix(),
                              "input_hash": plan.input_hash, "n_items": plan.n_items, "n_shards": len(plan),
                              "complete": bool(before and before.get("complete"))}
        return parts

    def _map(self) -> None:
        """A shard-map run's extract stage: one MapJob per shard of items, each committing its part."""
        ctx, data = self.ctx, self.record.data
        jobs = [MapJob(m, d, k, a, b) for m in ctx.spec.models for d in ctx.analysis.datasets(ctx.spec)
                for k, (a, b) in enumerate(ctx.map_plan(m, d).bounds)]
        remaining: dict[tuple[str, str], int] = {}
        for job in jobs:
            remaining[job.model, job.dataset] = remaining.get((job.model, job.dataset), 0) + 1
        stage = self.record.stage("extract", total=len(jobs), done=0, texts_total=sum(j.n_texts for j in jobs),
                                  texts_done=0, unit=ctx.analysis.unit)
        total = stage["texts_total"]
        self.report("extract", 0, total)
        for outcome in self.executor.map(run_map, ctx, jobs):
            job = outcome.job
            self.attempt["shards_computed" if outcome.computed else "shards_reused"] += 1
            self.attempt["texts_forwarded"] += outcome.texts
            stage["done"] += 1
            stage["texts_done"] += job.n_texts
            self.report("extract", stage["texts_done"], total)
            remaining[job.model, job.dataset] -= 1
            if remaining[job.model, job.dataset] == 0:
                data["models"][job.model]["parts"][job.dataset]["complete"] = True
                self.record.save()
            else:
                self.record.save(force=False)
        clean_temporaries(ctx.out)

    def _extract(self) -> None:
        ctx, data = self.ctx, self.record.data
        if ctx.shard_map:
            self._map()
            return
        jobs = [ShardJob(m, d, k, b - a) for m in ctx.spec.models for d in ctx.analysis.datasets(ctx.spec)
                for k, (a, b) in enumerate(ctx.plan(m, d).bounds)]
        remaining: dict[tuple[str, str], int] = {}
        for job in jobs:
            remaining[job.model, job.dataset] = remaining.get((job.model, job.dataset), 0) + 1
        stage = self.record.stage("extract", total=len(jobs), done=0, texts_total=sum(j.n_texts for j in jobs),
                                  texts_done=0)
        total = stage["texts_total"]
        shown = 0  # texts reported so far (finished shards, and running ones as they go)
        self.report("extract", 0, total)
        from interp.activations import finish_shards

        live: dict[str, int] = {}  # texts already reported of a shard while it ran (in any worker)

        def on_texts(job: ShardJob, n: int) -> None:
            nonlocal shown
            live[job.key] = live.get(job.key, 0) + n
            shown += n
            self.report("extract", shown, total)

        ctx.on_texts = on_texts
        for outcome in self.executor.map(run_shard, ctx, jobs):
            job = outcome.job
            self.attempt["shards_computed" if outcome.computed else "shards_reused"] += 1
            self.attempt["texts_forwarded"] += outcome.texts
            stage["done"] += 1
            stage["texts_done"] += job.n_texts
            shown += job.n_texts - live.pop(job.key, 0)
            self.report("extract", shown, total)
            remaining[job.model, job.dataset] -= 1
            if remaining[job.model, job.dataset] == 0:  # the dataset's last shard: write its manifest
                finish_shards(ctx.plan(job.model, job.dataset), ctx.acts_dir(job.model, job.dataset))
                data["models"][job.model]["activations"][job.dataset]["complete"] = True
                self.record.save()
            else:
                self.record.save(force=False)
        ctx.on_texts = None
        ctx.release_model()  # probes need only the activations
        clean_temporaries(ctx.out)  # what a worker killed mid-shard left (its shard was redone)

    def _probe(self) -> None:
        ctx = self.ctx
        if ctx.shard_map:  # no probe jobs: the parts are assembled in the report stage
            self.record.stage("probe", total=0, done=0)
            self.report("probe", 0, 0)
            return
        jobs = [ProbeJob(m, d, layer, kind) for m in ctx.spec.models for d in ctx.analysis.datasets(ctx.spec)
                for layer in ctx.model_info(m)["layers"] for kind in ctx.spec.probe["kinds"]]
        stage = self.record.stage("probe", total=len(jobs), done=0)
        self.report("probe", 0, len(jobs))
        for outcome in self.executor.map(run_probe, ctx, jobs):
            self.attempt["probes_computed" if outcome.computed else "probes_reused"] += 1
            stage["done"] += 1
            self.report("probe", stage["done"], len(jobs))
            self.record.save(force=False)
        clean_temporaries(ctx.out)

    def _report(self) -> None:
        import pandas as pd

        from interp.batch.report import write_report
        from interp.results import atomic_path

        ctx, data = self.ctx, self.record.data
        steps = len(ctx.spec.models) + 1
        self.report("report", 0, steps)
        (ctx.out / "results").mkdir(exist_ok=True)
        rows, results = [], []
        for i, model in enumerate(ctx.spec.models):
            info = ctx.model_info(model)
            for stem, result in ctx.analysis.assemble(ctx, model):
                path = ctx.out / "results" / f"{info['slug']}.{stem}.json"
                result.save(path)
                result.to_html(path.with_suffix(".html"))
                results.append({"path": path.relative_to(ctx.out).as_posix(),
                                "html": path.with_suffix(".html").relative_to(ctx.out).as_posix(),
                                "kind": type(result).__name__, "model": model, "model_name": info["name"],
                                "summary": result.summary()})
                rows += ctx.analysis.rows(ctx, model, result)
            self.report("report", i + 1, steps)
        frame = pd.DataFrame(rows)
        with atomic_path(ctx.out / "summary.csv") as tmp:
            frame.to_csv(tmp, index=False)
        summary = {"csv": "summary.csv", "rows": len(frame), "metrics": list(ctx.analysis.metrics),
                   "headline": ctx.analysis.headline}
        try:
            with atomic_path(ctx.out / "summary.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
            summary["parquet"] = "summary.parquet"
        except ImportError:  # no parquet engine installed: the CSV alone
            pass
        data["results"], data["summary"] = results, summary
        write_report(ctx, data, frame, ctx.out / "report.html")
        data["report"] = "report.html"
        self.report("report", steps, steps)
