"""A run folder's record, ``run.json``: written as the run goes, read back by :func:`load_run` as a :class:`RunSummary`.

The folder::

    run.json                           spec, interp version, status of each stage, attempts, results
    activations/<model>/<dataset>/     shards + manifest.json (interp.activations.Activations.load)
    jobs/<model>/<dataset>/<probe>-L<layer>.json   one Result per probe job
    parts/<model>/<dataset>/part-NNNNN.safetensors  a shard-map analysis's parts (interp.analysis.Part)
    results/<model>.<task>.json|.html  the assembled results (interp.load_result)
    summary.csv, summary.parquet, report.html
    .lock                              held (fcntl.flock) while a run writes here (interp.batch.lock)

A folder that holds an unfinished run of the same spec is continued only with ``resume=True``; a
folder holding another spec's run, or files that are not a run, is refused
(:class:`~interp.errors.RunFolderError`); nothing is ever deleted but interp's own temporary files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from interp.batch.lock import LOCK_FILE, is_locked, now
from interp.batch.spec import NOT_IDENTITY, RunSpec
from interp.errors import InvalidResultFileError, RunFolderError
from interp.results import atomic_write_bytes

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "RUN_FILE", "STAGES", "Record", "RunSummary", "check_folder",
           "clean_temporaries", "load_run", "new_record", "read_record"]

RUN_FILE = "run.json"
FORMAT_NAME = "interp.run"
FORMAT_VERSION = 1
STAGES = ("plan", "extract", "probe", "report")
_SAVE_EVERY_S = 2.0


def read_record(directory: Path) -> dict[str, Any] | None:
    path = directory / RUN_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT_NAME else None


class Record:
    """run.json: read once, changed in memory, written atomically (at most every few seconds, and at
    each stage's end)."""

    def __init__(self, directory: Path, data: dict[str, Any]):
        self.path = directory / RUN_FILE
        self.data = data
        self._saved = 0.0

    def save(self, *, force: bool = True) -> None:
        if not force and time.monotonic() - self._saved < _SAVE_EVERY_S:
            return
        self.data["updated"] = now()
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1).encode("utf-8"))
        self._saved = time.monotonic()

    def stage(self, name: str, **values: Any) -> dict[str, Any]:
        entry = self.data["stages"][name]
        entry.update(values)
        return entry


def new_record(spec: RunSpec) -> dict[str, Any]:
    from interp import __version__

    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "interp_version": __version__, "task": spec.task,
            "source": spec.source, "spec": spec.to_dict(), "spec_hash": spec.hash(), "status": "running",
            "created": now(), "updated": now(), "finished": None, "error": None,
            "stages": {name: {"status": "pending", "started": None, "finished": None} for name in STAGES},
            "inputs": {}, "models": {}, "attempts": [], "results": [], "summary": None, "report": None}


def check_folder(directory: Path, spec: RunSpec, resume: bool) -> dict[str, Any] | None:
    """The folder's run record if this run may continue it, None if the folder is new; else RunFolderError."""
    record = read_record(directory)
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


def clean_temporaries(directory: Path) -> int:
    """Remove the temporary files of atomic writes that a killed run left (``.<name>.<random>.tmp``)."""
    removed = 0
    for sub in ("activations", "jobs", "parts", "results", "."):
        root = directory / sub
        if not root.is_dir():
            continue
        for path in (root.glob(".*.tmp") if sub == "." else root.rglob(".*.tmp")):
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


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
        if status == "running" and not is_locked(self.directory):
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

    def best_layers(self):
        """The best layer per model, dataset and probe by the run's headline metric (a :class:`pandas.DataFrame`:
        model, dataset, probe, layer, depth, ``best <metric>``); what report.html and ``interp run`` show."""
        from interp.batch.report import best_layers

        return best_layers(self.frame(), self.record["summary"]["headline"])

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
    record = read_record(directory)
    if record is None:
        raise InvalidResultFileError(f"{directory} is not an interp run folder: {RUN_FILE} is missing or not valid.")
    return RunSummary(directory, record)

