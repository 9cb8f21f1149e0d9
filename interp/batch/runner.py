"""Run a spec end to end into a self-describing folder; resume it after a crash; read it back.

:func:`run_spec` takes a spec (:mod:`interp.batch.spec`) and an output folder and goes through four
stages, each with a progress bar and ETA on a terminal:

1. **plan**: load each model (one at a time), check the layers, cut each dataset into shards;
2. **extract**: one :class:`~interp.batch.jobs.ShardJob` per shard (streamed to disk, whole or absent);
3. **probe**: one :class:`~interp.batch.jobs.ProbeJob` per model x dataset x layer x probe kind;
4. **report**: each model's result (``results/<model>.<task>.json`` + ``.html``), ``summary.csv`` and
   ``summary.parquet`` (one row per model x dataset x layer x probe), and one offline ``report.html``.

The folder::

    run.json                           spec, interp version, status of each stage, attempts, results
    activations/<model>/<dataset>/     shards + manifest.json (interp.activations.Activations.load)
    jobs/<model>/<dataset>/<probe>-L<layer>.json   one Result per probe job
    results/<model>.<task>.json|.html  the assembled results (interp.load_result)
    summary.csv, summary.parquet, report.html
    .lock                              held (fcntl.flock) while a run writes here

Safety: a run holds an exclusive lock on ``.lock`` (released by the kernel even on ``kill -9``), so a
second run into the same folder is refused (:class:`~interp.errors.RunLockedError`). A folder that
holds an unfinished run of the same spec is continued only with ``resume=True``; a folder holding
another spec's run, or files that are not a run, is refused (:class:`~interp.errors.RunFolderError`);
nothing is ever deleted but interp's own temporary files. Resuming recomputes nothing finished and
gives the same numbers as an uninterrupted run. If the data or the model changed since the run
started, resuming is refused too.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/truth_sweep.toml", out="runs/truth")
    >>> run.status, run.frame().head()
    >>> interp.batch.load_run("runs/truth").results()[0].plot()
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from interp.batch.jobs import Executor, ProbeJob, RunContext, ShardJob, make_executor, run_probe, run_shard
from interp.batch.spec import NOT_IDENTITY, RunSpec, load_spec
from interp.errors import InvalidResultFileError, InvalidSpecError, RunFolderError, RunLockedError
from interp.results import atomic_write_bytes

__all__ = ["LOCK_FILE", "RUN_FILE", "RunSummary", "load_run", "run_lock", "run_spec"]

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
FORMAT_NAME = "interp.run"
FORMAT_VERSION = 1
STAGES = ("plan", "extract", "probe", "report")
_SAVE_EVERY_S = 2.0


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- the lock
@contextlib.contextmanager
def run_lock(directory: str | os.PathLike, *, wait_s: float = 1.0) -> Iterator[Path]:
    """Hold the exclusive lock of run folder ``directory`` (made if missing) for the ``with`` block.

    The lock is an ``fcntl.flock`` on ``directory/.lock``: the kernel drops it when the process ends,
    however it ends, so a killed run never leaves a stale lock. Tries for ``wait_s`` seconds.

    Raises:
        RunLockedError: another process holds it (the message names the folder and the holder).
    """
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held across the yield
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise RunLockedError(f"{directory} is in use by another run ({holder or 'holder unknown'}). Two runs "
                                 "never write into one folder at once: wait for it to finish, or choose another "
                                 "--out.") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now()}\n")
        handle.flush()
        yield directory
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _is_locked(directory: Path) -> bool:
    """Whether a live process holds ``directory``'s run lock (probed with a shared, non-blocking flock)."""
    import fcntl

    path = directory / LOCK_FILE
    if not path.is_file():
        return False
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


# ----------------------------------------------------------------------------- run.json
def _read_record(directory: Path) -> dict[str, Any] | None:
    path = directory / RUN_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT_NAME else None


class _Record:
    """run.json: read once, changed in memory, written atomically (at most every few seconds, and at
    each stage's end)."""

    def __init__(self, directory: Path, data: dict[str, Any]):
        self.path = directory / RUN_FILE
        self.data = data
        self._saved = 0.0

    def save(self, *, force: bool = True) -> None:
        if not force and time.monotonic() - self._saved < _SAVE_EVERY_S:
            return
        self.data["updated"] = _now()
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1).encode("utf-8"))
        self._saved = time.monotonic()

    def stage(self, name: str, **values: Any) -> dict[str, Any]:
        entry = self.data["stages"][name]
        entry.update(values)
        return entry


def _new_record(spec: RunSpec) -> dict[str, Any]:
    from interp import __version__

    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "interp_version": __version__, "task": spec.task,
            "source": spec.source, "spec": spec.to_dict(), "spec_hash": spec.hash(), "status": "running",
            "created": _now(), "updated": _now(), "finished": None, "error": None,
            "stages": {name: {"status": "pending", "started": None, "finished": None} for name in STAGES},
            "inputs": {}, "models": {}, "attempts": [], "results": [], "summary": None, "report": None}


def _check_folder(directory: Path, spec: RunSpec, resume: bool) -> dict[str, Any] | None:
    """The folder's run record if this run may continue it, None if the folder is new; else RunFolderError."""
    record = _read_record(directory)
    if record is None:
        entries = sorted(p.name for p in directory.iterdir() if p.name != LOCK_FILE) if directory.is_dir() else []
        if entries:
            raise RunFolderError(f"{directory} is not empty and holds no interp run ({RUN_FILE} is missing): "
                                 f"{', '.join(entries[:5])}{' ...' if len(entries) > 5 else ''}. interp never deletes "
                                 "files: choose an empty or new --out.")
        return None
    old = {k: v for k, v in record.get("spec", {}).items() if k not in NOT_IDENTITY}
    diffs = spec.differences(old)
    if diffs:
        raise RunFolderError(f"{directory} holds a run of another spec ({record.get('source', '?')}); it differs in "
                             f"{'; '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''}. Choose another --out (or "
                             "delete that folder yourself).")
    if record.get("status") != "complete" and not resume:
        stages = record.get("stages", {})
        where = next((name for name in STAGES if stages.get(name, {}).get("status") != "done"), "report")
        stage = stages.get(where, {})
        progress = f" ({stage.get('done', 0)}/{stage['total']} done)" if "total" in stage else ""
        raise RunFolderError(f"{directory} holds an unfinished run of this spec (stopped in stage {where!r}"
                             f"{progress}). Pass --resume (resume=True) to continue it; nothing finished is "
                             "recomputed. Or choose another --out.")
    return record


def _clean_temporaries(directory: Path) -> int:
    """Remove the temporary files of atomic writes that a killed run left (``.<name>.<random>.tmp``)."""
    removed = 0
    for sub in ("activations", "jobs", "results", "."):
        root = directory / sub
        if not root.is_dir():
            continue
        for path in (root.glob(".*.tmp") if sub == "." else root.rglob(".*.tmp")):
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


# ----------------------------------------------------------------------------- progress
class _Progress:
    """One rich progress bar per stage (with ETA) on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool | None):
        from rich.console import Console

        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else bool(enabled)
        self._bar = None
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

    def __enter__(self) -> _Progress:  # noqa: PYI034 - a private helper, never subclassed
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def add(self, name: str, total: int, unit: str) -> None:
        if self._bar is not None:
            self._tasks[name] = self._bar.add_task(name, total=total, unit=unit)

    def advance(self, name: str, amount: int = 1) -> None:
        if self._bar is not None and name in self._tasks:
            self._bar.advance(self._tasks[name], amount)


# ----------------------------------------------------------------------------- the run
def run_spec(spec: str | os.PathLike | Mapping[str, Any] | RunSpec, out: str | os.PathLike | None = None, *,
             resume: bool = False, overrides: Mapping[str, Any] | None = None, progress: bool | None = None,
             executor: str | Executor | None = None) -> RunSummary:
    """Run a spec: extract, probe, report, into ``out``; resumable, locked, deterministic.

    Args:
        spec: a TOML spec file, a dict of the same shape, or a :class:`~interp.batch.spec.RunSpec`.
        out: the output folder (default: the spec's ``out``). Relative to the current folder.
        resume: continue an unfinished run of the same spec in ``out`` (finished shards and probes are
            reused, never recomputed). Without it such a folder is refused. A finished run of the same
            spec is always accepted (nothing to recompute; the report is written again).
        overrides: dotted keys to change in the spec, e.g. ``{"data.max_pairs": 50}``.
        progress: progress bars; by default only on a terminal.
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
    runner = make_executor(spec.executor if executor is None else executor, spec)
    try:
        with run_lock(directory):
            old = _check_folder(directory, spec, resume)
            _clean_temporaries(directory)
            ctx = RunContext(spec, directory)
            with _Progress(progress) as bars:
                _Run(ctx, old, runner, bars, resumed=old is not None).run()
    finally:
        if runner is not executor and hasattr(runner, "close"):  # an executor made here: stop what it started
            runner.close()
    return load_run(directory)


class _Run:
    """One attempt at a run folder: the four stages, with run.json kept up to date."""

    def __init__(self, ctx: RunContext, old: dict[str, Any] | None, executor: Executor, bars: _Progress, *,
                 resumed: bool):
        self.ctx = ctx
        self.old = old
        self.executor = executor
        self.bars = bars
        self.record = _Record(ctx.out, old if old is not None else _new_record(ctx.spec))
        data = self.record.data
        data["spec"]["out"], data["spec"]["description"] = ctx.spec.out, ctx.spec.description
        self.attempt = {"started": _now(), "finished": None, "status": "running", "pid": os.getpid(),
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
                self.record.stage(name, status="running", started=_now(), finished=None)
                self.record.save()
                stage()
                self.record.stage(name, status="done", finished=_now())
                self.attempt["seconds"][name] = round(time.perf_counter() - start, 3)
                self._note_executor()
                self.record.save()
            data["status"] = self.attempt["status"] = "complete"
            data["finished"] = self.attempt["finished"] = _now()
            self.record.save()
        except BaseException as exc:
            if self.attempt in data["attempts"]:  # the attempt had started writing: say how it ended
                interrupted = isinstance(exc, KeyboardInterrupt)
                data["status"] = self.attempt["status"] = "interrupted" if interrupted else "failed"
                data["error"] = None if interrupted else f"{type(exc).__name__}: {exc}"
                self.attempt["finished"] = _now()
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
        datasets = ctx.task.datasets(spec)
        self.bars.add("plan", len(spec.models) + len(datasets), "steps")
        inputs = {}
        for dataset in datasets:
            inputs[dataset] = ctx.inputs(dataset).fingerprint
            self.bars.advance("plan")
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
            self.bars.advance("plan")
        data["inputs"], data["models"] = inputs, models
        self.record.stage("plan", status="done", started=data["stages"]["plan"]["started"] or _now(), finished=_now())
        self.attempt["seconds"]["plan"] = round(time.perf_counter() - start, 3)

    def _extract(self) -> None:
        ctx, data = self.ctx, self.record.data
        jobs = [ShardJob(m, d, k, b - a) for m in ctx.spec.models for d in ctx.task.datasets(ctx.spec)
                for k, (a, b) in enumerate(ctx.plan(m, d).bounds)]
        remaining: dict[tuple[str, str], int] = {}
        for job in jobs:
            remaining[job.model, job.dataset] = remaining.get((job.model, job.dataset), 0) + 1
        stage = self.record.stage("extract", total=len(jobs), done=0, texts_total=sum(j.n_texts for j in jobs),
                                  texts_done=0)
        self.bars.add("extract", stage["texts_total"], "texts")
        from interp.activations import finish_shards

        live: dict[str, int] = {}  # texts the bar already advanced by while a shard ran (in any worker)

        def on_texts(job: ShardJob, n: int) -> None:
            live[job.key] = live.get(job.key, 0) + n
            self.bars.advance("extract", n)

        ctx.on_texts = on_texts
        for outcome in self.executor.map(run_shard, ctx, jobs):
            job = outcome.job
            self.attempt["shards_computed" if outcome.computed else "shards_reused"] += 1
            self.attempt["texts_forwarded"] += outcome.texts
            stage["done"] += 1
            stage["texts_done"] += job.n_texts
            self.bars.advance("extract", job.n_texts - live.pop(job.key, 0))
            remaining[job.model, job.dataset] -= 1
            if remaining[job.model, job.dataset] == 0:  # the dataset's last shard: write its manifest
                finish_shards(ctx.plan(job.model, job.dataset), ctx.acts_dir(job.model, job.dataset))
                data["models"][job.model]["activations"][job.dataset]["complete"] = True
                self.record.save()
            else:
                self.record.save(force=False)
        ctx.on_texts = None
        ctx.release_model()  # probes need only the activations
        _clean_temporaries(ctx.out)  # what a worker killed mid-shard left (its shard was redone)

    def _probe(self) -> None:
        ctx = self.ctx
        jobs = [ProbeJob(m, d, layer, kind) for m in ctx.spec.models for d in ctx.task.datasets(ctx.spec)
                for layer in ctx.model_info(m)["layers"] for kind in ctx.spec.probe["kinds"]]
        stage = self.record.stage("probe", total=len(jobs), done=0)
        self.bars.add("probe", len(jobs), "probes")
        for outcome in self.executor.map(run_probe, ctx, jobs):
            self.attempt["probes_computed" if outcome.computed else "probes_reused"] += 1
            stage["done"] += 1
            self.bars.advance("probe")
            self.record.save(force=False)
        _clean_temporaries(ctx.out)

    def _report(self) -> None:
        import pandas as pd

        from interp.batch.report import write_report
        from interp.results import atomic_path

        ctx, data = self.ctx, self.record.data
        self.bars.add("report", len(ctx.spec.models) + 1, "steps")
        (ctx.out / "results").mkdir(exist_ok=True)
        rows, results = [], []
        for model in ctx.spec.models:
            info = ctx.model_info(model)
            for stem, result in ctx.task.assemble(ctx, model):
                path = ctx.out / "results" / f"{info['slug']}.{stem}.json"
                result.save(path)
                result.to_html(path.with_suffix(".html"))
                results.append({"path": path.relative_to(ctx.out).as_posix(),
                                "html": path.with_suffix(".html").relative_to(ctx.out).as_posix(),
                                "kind": type(result).__name__, "model": model, "model_name": info["name"],
                                "summary": result.summary()})
                rows += ctx.task.rows(ctx, model, result)
            self.bars.advance("report")
        frame = pd.DataFrame(rows)
        with atomic_path(ctx.out / "summary.csv") as tmp:
            frame.to_csv(tmp, index=False)
        summary = {"csv": "summary.csv", "rows": len(frame), "metrics": list(ctx.task.metrics),
                   "headline": ctx.task.headline}
        try:
            with atomic_path(ctx.out / "summary.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
            summary["parquet"] = "summary.parquet"
        except ImportError:  # no parquet engine installed: the CSV alone
            pass
        data["results"], data["summary"] = results, summary
        write_report(ctx, data, frame, ctx.out / "report.html")
        data["report"] = "report.html"
        self.bars.advance("report")


# ----------------------------------------------------------------------------- reading a run back
class RunSummary:
    """A run folder, read back: its spec, status, stages, results, summary table and report.

    Attributes:
        directory: the folder; record: run.json as a dict.
    """

    def __init__(self, directory: Path, record: dict[str, Any]):
        self.directory = directory
        self.record = record

    @property
    def status(self) -> str:
        """"complete", "running" (a live process holds the lock), "interrupted" (killed: nobody holds the
        lock but the run never finished) or "failed"."""
        status = self.record.get("status", "running")
        if status == "running" and not _is_locked(self.directory):
            return "interrupted"
        return status

    @property
    def spec(self) -> dict[str, Any]:
        return self.record["spec"]

    @property
    def task(self) -> str:
        return self.record["task"]

    @property
    def models(self) -> list[str]:
        return list(self.record["spec"]["models"])

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.record["stages"]

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return self.record["attempts"]

    @property
    def result_paths(self) -> list[Path]:
        """The assembled results (``results/*.json``), one or more per model."""
        return [self.directory / r["path"] for r in self.record.get("results", [])]

    @property
    def report_path(self) -> Path | None:
        return self.directory / self.record["report"] if self.record.get("report") else None

    def results(self) -> list[Any]:
        """Load the assembled results (:class:`~interp.results.Result` subclasses)."""
        from interp.results import load_result

        return [load_result(p) for p in self.result_paths]

    def frame(self):
        """The summary table (one row per model x dataset x layer x probe) as a :class:`pandas.DataFrame`."""
        import pandas as pd

        if not self.record.get("summary"):
            raise InvalidResultFileError(f"The run in {self.directory} has no summary yet (status: {self.status}).")
        return pd.read_csv(self.directory / self.record["summary"]["csv"])

    def summary(self) -> str:
        stages = ", ".join(f"{name} {s.get('done', '')}{'/' + str(s['total']) if 'total' in s else ''} {s['status']}"
                           .replace("  ", " ") for name, s in self.stages.items())
        return f"{self.task} run of {', '.join(self.models)} in {self.directory}: {self.status} ({stages})"

    def __repr__(self) -> str:
        return f"RunSummary({str(self.directory)!r}, task={self.task!r}, status={self.status!r})"


def load_run(directory: str | os.PathLike) -> RunSummary:
    """Read a run folder (finished or not) written by :func:`run_spec` / ``interp run``.

    Raises:
        InvalidResultFileError: the folder has no valid ``run.json``.
    """
    directory = Path(directory)
    record = _read_record(directory)
    if record is None:
        raise InvalidResultFileError(f"{directory} is not an interp run folder: {RUN_FILE} is missing or not valid.")
    return RunSummary(directory, record)

