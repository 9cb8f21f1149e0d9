#!/usr/bin/env bash
# Runs each analysis once on CUDA in bfloat16 on both real models (SmolLM2-135M-Instruct-Q4_1 and
# gemma-3-270m-Q4_K_M) and prints how each figure agrees with the same call on the CPU in float32.
#
#   benchmarks/gpu_check.sh                  # from the repository root, on a machine with a CUDA GPU
#   PYTHON=.venv/bin/python benchmarks/gpu_check.sh
#
# Agreement, per analysis and numeric column of result.to_frame() (rows in the same order on both devices):
# Pearson r and the largest absolute difference; next-token predictions also compare the top-1 token.
# "LOW" marks r < 0.95 (bfloat16 keeps ~3 significant digits, so small differences are expected). Sizes are
# small so the whole check stays under 10 minutes (a hard limit of 600 s); the numbers are no benchmark.
# Not covered: interp.ask (generation-heavy) and interp.data_attribution (fine-tuning runs).
# Exit status: 2 without CUDA, 124 past the time limit, 1 if an analysis failed, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False); run it on a machine with a GPU." >&2
  exit 2
fi

exec timeout 600 "$PYTHON" - <<'EOF'
import sys
import time
import traceback

import numpy as np
import torch

import interp
from interp import attribution, lens, patching, probing, projection, truth
from interp.activations import collect

MODELS = ["SmolLM2-135M-Instruct-Q4_1", "gemma-3-270m-Q4_K_M"]
PROMPT = "The capital of France is"
failures = 0


def analyses(m):
    mid = m.info()["n_layers"] // 2  # a middle block; interp's layer index (0 = embeddings)
    return [
        ("top_next_tokens", lambda: m.top_next_tokens(PROMPT, k=10)),
        ("attribute ablation", lambda: attribution.attribute(m, PROMPT, "ablation", " Paris")),
        ("attribute integrated_gradients", lambda: attribution.attribute(m, PROMPT, "integrated_gradients", " Paris",
                                                                         n_steps=16)),
        ("attention_maps", lambda: attribution.attention_maps(m, PROMPT)),
        ("logit_lens", lambda: lens.logit_lens(m, PROMPT, target=" Paris", top_k=3)),
        ("activation_patching", lambda: patching.activation_patching(
            m, PROMPT, "The capital of Italy is", answer=" Paris", wrong_answer=" Rome", sites=("resid",),
            progress=False)),
        ("collect (activations)", lambda: collect(m, ["The cat sat.", "Paris is in France.", "Two plus two is four."],
                                                  layers=[mid], progress=False)[mid]),  # (3, d_model)
        ("truth_sweep cities", lambda: truth.truth_sweep(m, "cities", layers=[mid], probes=["linear", "mm"],
                                                         max_pairs=200, progress=False)),
        ("world_map", lambda: projection.world_map(m, n_places=300, layers=[mid], random_baseline=False,
                                                   progress=False)),
        ("pos_probe", lambda: probing.pos_probe(m, layers=[mid], max_sentences=150, random_baseline=False,
                                                progress=False)),
    ]


INDEX_COLUMNS = {"layer", "position", "head", "rank", "text_index", "token_position", "word_index", "target_index",
                 "depth", "depth_fraction", "alpha", "token_id"}  # the same on both devices by construction


def table_of(result, mid):
    """A dict column -> float array: the result frame's numeric columns, or the activations themselves."""
    if isinstance(result, np.ndarray):
        return {f"activations, layer {mid}": result.astype(float).ravel()}
    frame = result.to_frame()
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns
            if frame[c].dtype.kind in "fiu" and c not in INDEX_COLUMNS}


def agreement(name, cpu, gpu, mid):
    global failures
    a, b = table_of(cpu, mid), table_of(gpu, mid)
    if name == "top_next_tokens":
        same = cpu.tokens[0] == gpu.tokens[0]
        overlap = len(set(cpu.tokens) & set(gpu.tokens))
        print(f"    top-1 token: cpu {cpu.tokens[0]!r}, cuda {gpu.tokens[0]!r} ({'same' if same else 'DIFFERENT'}); "
              f"top-10 overlap {overlap}/10")
    for column in a:
        if column not in b or a[column].shape != b[column].shape:
            print(f"    {column}: shapes differ ({a[column].shape} vs {b.get(column, np.array([])).shape})")
            failures += 1
            continue
        x, y = a[column], b[column]
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            continue
        x, y = x[ok], y[ok]
        diff = float(np.max(np.abs(x - y)))
        if x.std() > 0 and y.std() > 0:
            r = float(np.corrcoef(x, y)[0, 1])
            flag = "" if r >= 0.95 else "  LOW"
            print(f"    {column:<24} r = {r:.4f}   max |diff| = {diff:.4g}{flag}")
        else:
            print(f"    {column:<24} constant; max |diff| = {diff:.4g}")


for name in MODELS:
    print(f"== {name}", flush=True)
    start = time.perf_counter()
    cpu_model = interp.load_model(name, device="cpu", dtype="float32", quiet=True)
    gpu_model = interp.load_model(name, device="cuda", dtype="bfloat16", quiet=True)
    print(f"  loaded on cpu/float32 and cuda/bfloat16 in {time.perf_counter() - start:.1f} s", flush=True)
    mid = cpu_model.info()["n_layers"] // 2
    for (label, on_cpu), (_, on_gpu) in zip(analyses(cpu_model), analyses(gpu_model)):
        try:
            t0 = time.perf_counter()
            cpu = on_cpu()
            t1 = time.perf_counter()
            gpu = on_gpu()
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            print(f"  {label}  (cpu {t1 - t0:.1f} s, cuda {t2 - t1:.1f} s)", flush=True)
            agreement(label, cpu, gpu, mid)
        except Exception:  # report and go on: one broken analysis must not hide the others
            failures += 1
            print(f"  {label}: FAILED", flush=True)
            traceback.print_exc(limit=3)
    del cpu_model, gpu_model
    torch.cuda.empty_cache()

print(f"gpu_check: done, {failures} failure(s)")
sys.exit(1 if failures else 0)
EOF
