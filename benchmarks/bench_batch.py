"""Batch runs (``interp run``): peak memory and time of a truth sweep over 5,000 vs 50,000 statements.

Each size runs in a fresh subprocess: a synthetic truth CSV (pairs "The number A is larger than B." /
"... smaller than B.", true and false) and a spec over it (tiny-gpt2, every layer, probes linear and mm,
default shard size), run with :func:`interp.batch.run_spec` into a temporary folder. A thread samples
the resident set size every 5 ms and files each sample under the stage that was running (plan,
extract, probe, report), so the figures say where memory goes:

- extract streams shard by shard to disk: its peak should not grow with the number of statements;
- probe holds one layer of one dataset at a time, (n_statements, d_model) float32, plus the probe's
  float64 working copy: it grows with n x d (for tiny-gpt2, d = 64: ~0.8 KB per statement), which
  is the floor of any exact (non-streaming) probe fit.

Prints figures and ratios, not pass/fail. Run: ``.venv/bin/python benchmarks/bench_batch.py``
(``--sizes 5000 50000``; ``--probes linear,mm,ccs`` to add CCS).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, os, resource, sys, tempfile, threading, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/benchmarks")
from _synthetic import write_comparisons
n, probes = int(sys.argv[1]), sys.argv[2].split(",")
import interp.batch.runner as runner
from interp.batch import run_spec

def rss_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20

stage = ["setup"]
peaks = {{}}
stop = threading.Event()
def sample():
    while not stop.is_set():
        value = rss_mib()
        peaks[stage[0]] = max(peaks.get(stage[0], 0.0), value)
        time.sleep(0.005)

for name in ("_plan", "_extract", "_probe", "_report"):  # file each RSS sample under the running stage
    method = getattr(runner._Run, name)
    def wrapped(self, _method=method, _name=name[1:]):
        stage[0] = _name
        try:
            return _method(self)
        finally:
            stage[0] = "between"
    setattr(runner._Run, name, wrapped)

with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
    path = os.path.join(tmp, "numbers.csv")
    write_comparisons(path, n)
    spec = {{"task": "truth_sweep", "models": ["tiny-gpt2"], "data": {{"datasets": [path]}},
             "probe": {{"kinds": probes}}}}
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    run = run_spec(spec, out=os.path.join(tmp, "run"), progress=False)
    seconds = time.perf_counter() - start
    stop.set(); sampler.join()
    attempt = run.attempts[-1]
    print(json.dumps({{"n": n, "seconds": seconds, "stage_seconds": attempt["seconds"],
                      "shards": run.stages["extract"]["total"], "texts_forwarded": attempt["texts_forwarded"],
                      "probes": run.stages["probe"]["total"], "peak_rss_mib": resource.getrusage(
                          resource.RUSAGE_SELF).ru_maxrss / 1024, "stage_peak_mib": peaks}}))
"""


def measure(n: int, probes: str) -> dict:
    code = CHILD.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, str(n), probes], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--probes", default="linear,mm")
    args = parser.parse_args()
    figures = []
    for n in args.sizes:
        start = time.perf_counter()
        result = measure(n, args.probes)
        figures.append(result)
        peaks = result["stage_peak_mib"]
        print(f"{n:>7,} statements: {result['seconds']:6.1f} s in the run ({time.perf_counter() - start:.1f} s with "
              f"start-up), {result['shards']} shards, {result['probes']} probes; peak RSS {result['peak_rss_mib']:.0f} "
              f"MiB; by stage: " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items() if k != "between") + " MiB")
        print(f"         stage seconds: {result['stage_seconds']}")
    if len(figures) >= 2:
        small, big = figures[0], figures[-1]
        ratio = big["peak_rss_mib"] / small["peak_rss_mib"]
        print(f"\npeak RSS {big['n']:,} / {small['n']:,} statements: {ratio:.3f} "
              f"({big['peak_rss_mib'] - small['peak_rss_mib']:+.0f} MiB)")
        for stage in ("plan", "extract", "probe", "report"):
            a, b = small["stage_peak_mib"].get(stage), big["stage_peak_mib"].get(stage)
            if a and b:
                print(f"  {stage:<8} peak {a:7.0f} -> {b:7.0f} MiB  ratio {b / a:.3f}  ({b - a:+.0f} MiB)")
        print(f"  time ratio {big['seconds'] / small['seconds']:.1f}x for {big['n'] / small['n']:.0f}x the statements")


if __name__ == "__main__":
    main()
