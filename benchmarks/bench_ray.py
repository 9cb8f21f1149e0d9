"""``interp run --executor ray``: extraction throughput with 1 and 2 Ray workers against the local executor.

The same spec (a synthetic truth CSV of N statements, the default model, layers 0, 10, 20 and 30,
the mass-mean probe, 50 texts per shard) runs in a fresh subprocess per configuration:

- ``local``: the local executor (one process, torch's default threads: all cores);
- ``ray x1``: a new local Ray instance, 1 worker (an actor given every core as torch threads);
- ``ray x2``: 2 workers (each given cores / 2 threads), fed shards from one queue.

Each configuration runs at N and 2N statements. "extract" is the extract stage's wall time (for Ray:
actors starting, each loading its model replica, then the shards); "texts/s" divides N by it; "steady
texts/s" is N / (extract(2N) - extract(N)), the rate once the workers are up (start-up cancels out; nan
when the N more texts took no measurable time, as with a tiny model).
The ratios are against ``local``. Prints figures, not pass/fail.

Run: ``.venv/bin/python benchmarks/bench_ray.py`` (``--n 500``, ``--model tiny-gpt2``,
``--configs local ray1 ray2``). Needs the ``interp[ray]`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, os, sys, tempfile, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/benchmarks")
from _synthetic import write_comparisons
n, model, config = int(sys.argv[1]), sys.argv[2], sys.argv[3]
from interp.batch import run_spec

with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
    path = os.path.join(tmp, "numbers.csv")
    write_comparisons(path, n)
    spec = {{"task": "truth_sweep", "models": [model], "data": {{"datasets": [path]}},
             "probe": {{"kinds": ["mm"], "layers": [0, 10, 20, 30] if model != "tiny-gpt2" else [0, 1, 2]}},
             "extract": {{"shard_size": 50}}}}
    if config != "local":
        spec["executor"] = "ray"
        spec["ray"] = {{"workers": int(config[3:])}}
    start = time.perf_counter()
    run = run_spec(spec, out=os.path.join(tmp, "run"), progress=False)
    seconds = time.perf_counter() - start
    attempt = run.attempts[-1]
    print(json.dumps({{"n": n, "config": config, "seconds": seconds, "stage_seconds": attempt["seconds"],
                      "shards": run.stages["extract"]["total"], "texts_forwarded": attempt["texts_forwarded"],
                      "executor_info": attempt.get("executor_info", {{}})}}))
"""


def measure(n: int, model: str, config: str) -> dict:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(n), model, config],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="statements of the smaller run (the larger has 2N)")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct-Q4_1")
    parser.add_argument("--configs", nargs="+", default=["local", "ray1", "ray2"])
    args = parser.parse_args()
    print(f"{args.model}, {os.cpu_count()} CPU cores; N = {args.n} and {2 * args.n} statements, 50 per shard\n")
    rows = {}
    for config in args.configs:
        small, big = measure(args.n, args.model, config), measure(2 * args.n, args.model, config)
        extract = small["stage_seconds"]["extract"], big["stage_seconds"]["extract"]
        rows[config] = {"total": (small["seconds"], big["seconds"]), "extract": extract,
                        "rate": args.n / extract[0],
                        "steady": args.n / (extract[1] - extract[0]) if extract[1] > extract[0] else float("nan"),
                        "info": big["executor_info"]}
    base = rows.get("local")
    print(f"{'config':<8} {'total s (N, 2N)':>16} {'extract s (N, 2N)':>18} {'texts/s':>8} {'steady texts/s':>15} "
          f"{'vs local':>9} {'steady vs local':>16}  workers x threads")
    for config, r in rows.items():
        info = r["info"]
        shape = f"{info['workers']} x {info['cpus_per_worker']}" if info else "1 process"
        vs = f"{r['rate'] / base['rate']:.2f}x" if base else "-"
        steady_vs = f"{r['steady'] / base['steady']:.2f}x" if base else "-"
        print(f"{config:<8} {r['total'][0]:7.1f} {r['total'][1]:7.1f}  {r['extract'][0]:8.1f} {r['extract'][1]:8.1f}  "
              f"{r['rate']:8.1f} {r['steady']:15.1f} {vs:>9} {steady_vs:>16}  {shape}")
    if "ray1" in rows and "ray2" in rows:
        print(f"\nray x2 / ray x1: {rows['ray2']['rate'] / rows['ray1']['rate']:.2f}x texts/s, "
              f"{rows['ray2']['steady'] / rows['ray1']['steady']:.2f}x steady texts/s")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s in all)")
