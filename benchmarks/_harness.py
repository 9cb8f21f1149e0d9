"""One harness for the benchmark scripts: every figure with its reference, the machine, its load, a JSON record.

A figure means something only beside a reference measured in the same run on the same machine (a plain
Hugging Face forward, the import floor ``python -c "import torch"``), and only on a quiet machine. So each
figure the harness prints carries its reference and their ratio, and the run records the machine (cores,
CPU model), the date, the git commit and the load average before and after (``os.getloadavg``). A run that
started with a 1-minute load above :data:`MAX_LOAD` (something else was running) is marked ``loaded: not for the
README``; the load during the run is recorded with each figure but not judged, since the benchmark's own threads
raise it to about the number of cores.

Porting a benchmark is a few lines: put its work in ``main(bench)`` and report each figure through
``bench.figure(...)``::

    from _harness import run, seconds

    def main(bench):
        ours = seconds(lambda: model.logits(texts))               # median of 3 (after one warm-up)
        ref = seconds(lambda: hf_model(**batch))
        bench.figure("forward pass", ours, reference=ref, reference_label="plain HF forward", target=1.5)

    if __name__ == "__main__":
        run("forward", main)

``python benchmarks/bench_x.py`` then prints the figures and writes ``benchmarks/results/x-<timestamp>.json``
(``--out PATH`` writes there instead).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Bench", "MAX_LOAD", "fresh_process_seconds", "machine", "run", "seconds"]

MAX_LOAD = 1.5  # a figure taken with a higher 1-minute load average is not reported
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, Any]:
    """Cores, CPU model, platform and Python of this machine."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "platform": platform.platform(), "python": platform.python_version()}


def git_commit() -> str:
    """The commit of the checkout (with ``-dirty`` when it has uncommitted changes), or "unknown"."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def seconds(fn: Callable[[], Any], *, repeat: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after ``warmup`` runs that are not timed."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_process_seconds(args: list[str], *, repeat: int = 3, env: dict[str, str] | None = None) -> float:
    """Median wall time of running ``args`` in a fresh process (its exit status must be 0)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Bench:
    """The record of one benchmark run: figures with their references, machine, load, date and commit."""

    def __init__(self, name: str):
        self.name = name
        self.figures: list[dict[str, Any]] = []
        self.load_before = os.getloadavg()
        self.started = _dt.datetime.now(_dt.timezone.utc)

    def figure(self, label: str, value: float, *, reference: float | None = None, reference_label: str | None = None,
               unit: str = "s", target: float | None = None, note: str = "") -> dict[str, Any]:
        """Record and print one figure, with the reference measured in the same run and their ratio."""
        row = {"label": label, "value": value, "unit": unit, "reference": reference,
               "reference_label": reference_label, "ratio": value / reference if reference else None,
               "target": target, "meets_target": None if target is None else value <= target, "note": note,
               "load_at": os.getloadavg()[0]}
        self.figures.append(row)
        text = f"{label:<38} {value:8.3f} {unit}"
        if reference is not None:
            text += f"   reference {reference_label or 'reference'}: {reference:.3f} {unit}, ratio {row['ratio']:.2f}x"
        if target is not None:
            text += f"   (target <= {target} {unit}: {'met' if row['meets_target'] else 'NOT met'})"
        print(text + (f"   {note}" if note else ""), flush=True)
        return row

    @property
    def loaded(self) -> bool:
        """True if the machine was busy when the run started (1-minute load above :data:`MAX_LOAD`). The load during
        the run is recorded but not judged: the benchmark's own threads raise it (to about the number of cores)."""
        return self.load_before[0] > MAX_LOAD

    def record(self) -> dict[str, Any]:
        return {"benchmark": self.name, "date": self.started.isoformat(timespec="seconds"), "commit": git_commit(),
                "machine": machine(), "load_before": list(self.load_before), "load_after": list(os.getloadavg()),
                "max_load": MAX_LOAD, "loaded": self.loaded,
                "status": "loaded: not for the README" if self.loaded else "quiet", "figures": self.figures}

    def finish(self, out: str | Path | None = None) -> Path:
        """Print the run's context and write its JSON record (to ``out``, or benchmarks/results/<name>-<time>.json)."""
        record = self.record()
        path = Path(out) if out else RESULTS / f"{self.name}-{self.started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
        m = record["machine"]
        print(f"machine: {m['cores']} cores, {m['cpu']}; {m['platform']}; Python {m['python']}")
        print(f"date {record['date']}, commit {record['commit'][:12]}")
        print("load average (1, 5, 15 min): before " + ", ".join(f"{x:.2f}" for x in record["load_before"])
              + "; after " + ", ".join(f"{x:.2f}" for x in record["load_after"]))
        if record["loaded"]:
            print(f"LOADED (1-minute load above {MAX_LOAD}): loaded: not for the README")
        print(f"wrote {path}")
        return path


def run(name: str, main: Callable[[Bench], None], argv: list[str] | None = None) -> Bench:
    """Run ``main(bench)`` as benchmark ``name`` and write its record (``--out PATH`` to choose where)."""
    parser = argparse.ArgumentParser(description=f"benchmark {name}")
    parser.add_argument("--out", help="JSON record to write (default: benchmarks/results/<name>-<timestamp>.json)")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    bench = Bench(name)
    print(f"== {name}", flush=True)
    main(bench)
    bench.finish(args.out)
    return bench
