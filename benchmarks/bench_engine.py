"""Forward passes and peak memory of each analysis on the default model: this checkout's code (the one engine,
``Model.run``) against the code before it (``git archive 3cbc3de``, the commit the engine branch left from).

Each (code, analysis) runs in a fresh process that loads the default model, runs one small warm-up pass, then
the analysis once, counting the bridge's forward passes (a wrapper on ``model.bridge.forward``, which every pass of
either code goes through) and sampling the process's resident memory every millisecond (peak minus the level
just before the analysis: what the analysis itself added, on CPU). Analyses, at small sizes: integrated gradients
(16 steps), token ablation, activation patching (resid + mlp), causal tracing (2 samples, hidden states), the
logit lens, one data-attribution step (the query residuals under the fine-tuned top blocks) and collecting
activations (64 short texts, every layer and position).

Run: ``.venv/bin/python benchmarks/bench_engine.py [--before-rev 3cbc3de] [--only NAME] [--out PATH]``.
Figures: passes (count) and peak MB of each analysis, each with the before-code's figure as the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import ROOT, run

BEFORE_REV = "3cbc3de"
PROMPT = "The capital of France is"
CLEAN, CORRUPTED = "The capital of France is", "The capital of Italy is"
PAIRS = [("Q: What is the capital of France?\nA:", " Paris"), ("Q: What is the capital of Italy?\nA:", " Rome"),
         ("Q: Who wrote Hamlet?\nA:", " Shakespeare"), ("Q: What colour is the sky?\nA:", " Blue"),
         ("Q: How many legs has a spider?\nA:", " Eight"), ("Q: What is frozen water?\nA:", " Ice"),
         ("Q: Which planet is red?\nA:", " Mars"), ("Q: What do bees make?\nA:", " Honey")]


def _analyses():
    """name -> fn(model), written against the API both codes share (the old parameter names still work)."""
    from interp import attribution, lens, patching

    def data_attribution(model):
        from interp.data_attribution import _stack

        encoded = _stack.encode_pairs(model, PAIRS, where="bench_engine")
        return _stack.residuals(model, encoded, model.n_layers - 2)

    def activations(model):
        from interp.activations import collect

        texts = [f"{q} {a}" for q, a in PAIRS] * 8  # 64 short texts, every layer, every position
        return collect(model, texts, layers="all", position="all", progress=False)

    return {
        "integrated gradients": lambda m: attribution.integrated_gradients(m, PROMPT, " Paris", n_steps=16),
        "token ablation": lambda m: attribution.token_ablation(m, PROMPT, " Paris"),
        "activation patching": lambda m: patching.activation_patching(m, CLEAN, CORRUPTED, answer=" Paris",
                                                                      wrong_answer=" Rome", sites=("resid", "mlp")),
        "causal tracing": lambda m: patching.causal_tracing(m, PROMPT, "France", answer=" Paris", samples=2,
                                                            kinds=("hidden",)),
        "logit lens": lambda m: lens.logit_lens(m, PROMPT, target=" Paris"),
        "data attribution (query residuals)": data_attribution,
        "activations (collect)": activations,
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(name: str) -> dict:
    """In a fresh process: load the default model, run analysis ``name`` once; its passes and peak added memory."""
    import warnings

    import interp

    warnings.simplefilter("ignore", DeprecationWarning)  # the old parameter names, on the new code
    model = interp.load_model(quiet=True)
    model.logits("Hello")  # warm-up: first-call allocations are not the analysis's
    passes, rows = [0], [0]
    forward = model.bridge.forward

    def counting(*args, **kwargs):
        passes[0] += 1
        tokens = args[0] if args else kwargs.get("input")
        rows[0] += int(getattr(tokens, "shape", [1])[0])
        return forward(*args, **kwargs)

    object.__setattr__(model.bridge, "forward", counting)
    base, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    _analyses()[name](model)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss())
    return {"passes": passes[0], "rows": rows[0], "peak_mb": (peak[0] - base) / 2**20, "seconds": seconds}


def _measure(code_root: Path, name: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", name], capture_output=True,
                         text=True, env=env, cwd=code_root, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _argument(flag: str, default: str | None) -> str | None:
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else default


def main(bench) -> None:
    rev = _argument("--before-rev", BEFORE_REV)
    only = _argument("--only", None)
    names = [only] if only else list(_analyses())
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "interp"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        for name in names:
            before, after = _measure(Path(tmp), name), _measure(ROOT, name)
            bench.figure(f"{name}: forward passes", after["passes"], reference=before["passes"],
                         reference_label=f"{rev} (before the engine)", unit="passes",
                         note=f"rows {after['rows']} vs {before['rows']}")
            bench.figure(f"{name}: peak added memory", after["peak_mb"], reference=max(before["peak_mb"], 1e-9),
                         reference_label=f"{rev} (before the engine)", unit="MB",
                         note=f"time {after['seconds']:.2f} s vs {before['seconds']:.2f} s (one run, not a timing)")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        print(json.dumps(worker(sys.argv[sys.argv.index("--worker") + 1])))
    else:
        run("engine", main)
