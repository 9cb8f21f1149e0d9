"""Start-up of the command line in a fresh process: ``interp predict`` on the default model and ``interp --help``.

References measured in the same run: ``python -c "import torch"`` (the floor under any command that runs a
model) and ``python -c pass``. Targets: predict <= 7.5 s, --help <= 0.3 s (wall, quiet machine). The model
cache must exist (``interp predict`` builds it once otherwise; the build is not timed here).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--out PATH]``.
"""

from __future__ import annotations

import subprocess
import sys

from _harness import ROOT, fresh_process_seconds, run

PROMPT = "The capital of France is"


def main(bench) -> None:
    py = sys.executable
    interp_cli = [py, "-m", "interp.cli"]
    subprocess.run([*interp_cli, "predict", PROMPT], capture_output=True, check=True, cwd=ROOT)  # cache built, files warm
    bench.figure("interp --help (fresh process)", fresh_process_seconds([*interp_cli, "--help"], repeat=5),
                 reference=fresh_process_seconds([py, "-c", "pass"], repeat=5), reference_label="python -c pass",
                 target=0.3)
    bench.figure(f"interp predict {PROMPT!r}", fresh_process_seconds([*interp_cli, "predict", PROMPT]),
                 reference=fresh_process_seconds([py, "-c", "import torch"]), reference_label="import torch",
                 target=7.5)


if __name__ == "__main__":
    run("startup", main)
