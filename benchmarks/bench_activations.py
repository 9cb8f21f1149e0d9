"""Activation extraction: throughput against a bare Hugging Face forward, and memory of streaming to disk.

1. Throughput (default model): ``interp.activations.collect`` at one layer vs the same HF model with
   its layer list cut to that depth (``model.model.layers[:L]``), over the same texts, the same
   micro-batches (same batch size, same length-sorted order, same right padding), measured in the
   same run, alternating, best of several repeats. ``collect``'s time includes tokenization, word
   alignment-free row gathering and the copy to numpy; the HF time is the forward alone on
   pre-tokenized batches. Target: collect >= 0.9x the bare forward's tokens/s.
2. Memory: peak RSS (``resource.getrusage`` in a fresh subprocess each, and the RSS sampled every
   5 ms while ``collect`` runs, since the process peak can be set by the model load) of extracting
   5,000 and 50,000 sentences to disk with ``out=DIR``. A tiny model (tiny-gpt2) keeps the 50,000-sentence run
   short on a CPU; the streaming code is the same for every model. Target: 50k peak <= 5k peak
   (within a few MiB of allocator noise).

Run: ``.venv/bin/python benchmarks/bench_activations.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import interp
from interp.activations import collect
sys.path.insert(0, {root!r} + "/probes/pos")
from generate_corpus import generate
n, out = int(sys.argv[1]), sys.argv[2]
texts = generate(n, seed=5)
model = interp.load_model("tiny-gpt2", quiet=True)
import threading
def rss_mib():  # current resident set size
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
samples, stop = [], threading.Event()
def sample():
    while not stop.is_set():
        samples.append(rss_mib())
        time.sleep(0.005)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start_rss = rss_mib()
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
start = time.perf_counter()
acts = collect(model, texts, layers="all", position="all", out=out, progress=False)
seconds = time.perf_counter() - start
stop.set(); sampler.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"n": n, "rows": int(len(acts.text_index)), "seconds": seconds,
                  "rss_before_mib": before / 1024, "peak_rss_mib": peak / 1024, "rss_start_mib": start_rss,
                  "collect_peak_rss_mib": max(samples)}}))
"""


def throughput(n_texts: int, layer: int, batch_size: int, repeats: int) -> dict:
    import torch

    import interp
    from interp.activations import collect
    from interp.probing.pos import load_corpus

    model = interp.load_model(quiet=True)
    texts = [r["sentence"] for r in load_corpus(max_sentences=n_texts)]
    ids = [model.encode(t) for t in texts]
    n_tokens = sum(len(x) for x in ids)
    batches = [model._pad([ids[i] for i in group], "right") for group in model._micro_batches([len(x) for x in ids], batch_size)]
    hf = model.bridge.original_model
    full_layers = hf.model.layers

    def run_hf() -> None:
        hf.model.layers = full_layers[:layer]  # the bare model stopped at the same depth
        try:
            with torch.inference_mode():
                for batch in batches:
                    hf.model(input_ids=batch.tokens, attention_mask=batch.attention_mask)
        finally:
            hf.model.layers = full_layers

    def run_collect() -> None:
        collect(model, texts, layers=[layer], position="all", batch_size=batch_size, progress=False)

    times: dict[str, list[float]] = {"hf": [], "collect": []}
    run_hf(), run_collect()  # warm-up
    for _ in range(repeats):
        for name, fn in (("hf", run_hf), ("collect", run_collect)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    return {"model": model.name, "layer": layer, "texts": n_texts, "tokens": n_tokens, "batch_size": batch_size,
            "threads": torch.get_num_threads(), "hf_tokens_per_s": n_tokens / best["hf"],
            "collect_tokens_per_s": n_tokens / best["collect"], "ratio": best["hf"] / best["collect"],
            "hf_median_s": statistics.median(times["hf"]), "collect_median_s": statistics.median(times["collect"])}


def memory(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-acts-") as out:
        done = subprocess.run([sys.executable, "-c", MEMORY_CHILD.format(root=str(ROOT)), str(n), out],
                              capture_output=True, text=True, check=True)
        size = sum(p.stat().st_size for p in Path(out).iterdir()) / 2**20
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "disk_mib": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts and repeats")
    args = parser.parse_args()
    n_texts, repeats = (64, 2) if args.quick else (256, 3)
    result = throughput(n_texts, layer=15, batch_size=32, repeats=repeats)
    print(f"throughput, {result['model']}, layer {result['layer']} (stops after block {result['layer'] - 1}), "
          f"{result['texts']} texts / {result['tokens']} tokens, batch size {result['batch_size']}, "
          f"{result['threads']} threads:")
    print(f"  bare HF forward (layers cut):  {result['hf_tokens_per_s']:8.0f} tokens/s")
    print(f"  interp collect:                {result['collect_tokens_per_s']:8.0f} tokens/s")
    print(f"  ratio collect / HF:            {result['ratio']:.3f}   (target >= 0.9)")
    sizes = (500, 5000) if args.quick else (5000, 50000)
    runs = [memory(n) for n in sizes]
    print("memory, tiny-gpt2, layers all, position 'all', streamed to disk (fresh process each):")
    for run in runs:
        print(f"  {run['n']:>6} sentences: {run['rows']:>8} rows, {run['disk_mib']:5.0f} MiB on disk, "
              f"{run['seconds']:5.1f} s; peak RSS (getrusage) {run['peak_rss_mib']:5.0f} MiB; RSS during collect "
              f"{run['rss_start_mib']:.0f} -> max {run['collect_peak_rss_mib']:.0f} MiB")
    ratio = runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"]
    during = runs[1]["collect_peak_rss_mib"] / runs[0]["collect_peak_rss_mib"]
    print(f"  peak RSS {sizes[1]} / {sizes[0]}:   {ratio:.3f} (getrusage, whole process)   "
          f"{during:.3f} (sampled during collect)   (target <= 1.0)")


if __name__ == "__main__":
    main()
