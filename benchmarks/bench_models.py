"""Every analysis's headline figure on both real models, side by side, with load times and memory.

SmolLM2-135M-Instruct-Q4_1 (the default; Llama architecture, 30 layers, instruct) against gemma-3-270m-Q4_K_M
(Gemma 3 base: 18 layers, grouped-query and sliding-window attention, a 262,144-token vocabulary; the
``interp[gemma]`` extra). Each model is measured in a fresh interpreter (so its peak memory is its own), with
the same small, seeded settings; the table prints each figure for both and Gemma's ratio to SmolLM2 for the
costs (load, forward, memory). A chat-only analysis on the base model prints the named error it refuses with.

Run (a few minutes per model on a quiet 2-core CPU; ``nice`` on a shared machine)::

    nice -n 10 .venv/bin/python benchmarks/bench_models.py            # quick settings
    nice -n 10 .venv/bin/python benchmarks/bench_models.py --full     # the README's settings (much longer)
    .venv/bin/python benchmarks/bench_models.py --json out.json       # also save the raw figures

Figures are for these settings (held-out splits, few layers in quick mode): the best layer of a sweep is
the best of the layers probed, and its relative depth is layer / n_layers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

MODELS = ("SmolLM2-135M-Instruct-Q4_1", "gemma-3-270m-Q4_K_M")
PARIS = "The Eiffel Tower is located in the city of"


def settings(full: bool) -> dict[str, Any]:
    if full:
        return {"depths": None, "truth_pairs": 400, "pos_sentences": 1200, "places": 3000, "steer_pairs": 200,
                "ig_steps": 50, "lie_questions": None}
    return {"depths": 6, "truth_pairs": 200, "pos_sentences": 300, "places": 1000, "steer_pairs": 100,
            "ig_steps": 16, "lie_questions": 12}


# ----------------------------------------------------------------------------- child: one model
def measure(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    import resource

    import numpy as np

    import interp
    from interp.errors import InterpError

    def rss_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    out: dict[str, Any] = {"model": name, "figures": {}, "seconds": {}}
    before = rss_mib()
    start = time.perf_counter()
    model = interp.load_model(name, quiet=True)
    out["load_s"] = time.perf_counter() - start
    out["load_rss_mib"] = rss_mib() - before
    out["n_layers"], out["d_vocab"] = model.n_layers, model.d_vocab
    out["n_params"] = int(sum(p.numel() for p in model.bridge.original_model.parameters()))
    # the same relative depths on both models: every layer, or 0, 1/6, ..., 1 of the way through
    probed = (list(range(model.n_layers + 1)) if cfg["depths"] is None
              else sorted({round(k * model.n_layers / cfg["depths"]) for k in range(cfg["depths"] + 1)}))
    out["layers"] = probed

    def run(label: str, fn) -> None:
        t = time.perf_counter()
        try:
            figures = fn()
        except InterpError as exc:  # a refusal with a named error is a result too
            figures = {"refused": type(exc).__name__}
            out.setdefault("refusals", {})[label] = str(exc)
        out["seconds"][label] = time.perf_counter() - t
        out["figures"][label] = figures
        print(f"  {name}: {label} done in {out['seconds'][label]:.1f} s", file=sys.stderr, flush=True)

    texts = [f"Sentence number {i} talks about the weather in a city far away." for i in range(32)]
    model.logits(texts[:2])  # warm up
    t = time.perf_counter()
    for _ in range(3):
        model.run_with_cache(texts, names=[f"blocks.{model.n_layers - 1}.hook_resid_post"])
    out["forward_s"] = (time.perf_counter() - t) / 3

    def top() -> dict[str, Any]:
        result = model.top_next_tokens(PARIS, k=5)
        return {"top token": result.tokens[0], "P(' Paris')": float(result.probs[result.tokens.index(" Paris")])
                if " Paris" in result.tokens else 0.0}

    def attribution() -> dict[str, Any]:
        from interp.attribution import attribute

        ablation = attribute(model, "The capital of France is", method="ablation", target=" Paris", replace_with=None)
        ig = attribute(model, "The capital of France is", method="integrated_gradients", target=" Paris",
                       n_steps=cfg["ig_steps"])
        return {"ablation top unit": ablation.top(1)[0][0], "IG top unit": ig.top(1)[0][0],
                "IG completeness error": float(ig.metadata["completeness_error"][0])}

    def truth() -> dict[str, Any]:
        from interp.truth import truth_sweep

        sweep = truth_sweep(model, ["cities"], layers=probed, probes=["lr", "mm"],
                            max_pairs=cfg["truth_pairs"], progress=False)
        acc = sweep.accuracy[0]  # (probes, layers)
        best = int(np.argmax(acc[0]))
        return {"cities lr best acc": float(acc[0, best]), "cities mm best acc": float(acc[1].max()),
                "lr best depth": sweep.layers[best] / model.n_layers}

    def steering() -> dict[str, Any]:
        from interp.truth import steer_truth

        layer = round(model.n_layers * 0.4)
        result = steer_truth(model, "cities", layer=layer, alphas=(-2, 0, 2), max_pairs=cfg["steer_pairs"], n_test=40)
        return {"P(true) shift, alpha -2 -> +2": float(result.p_true[2].mean() - result.p_true[0].mean())}

    def lies() -> dict[str, Any]:
        from interp.truth import detect_model_lies

        result = detect_model_lies(model, max_questions=cfg["lie_questions"], progress=False)
        return {"lie AUC": float(result.auc)}

    def pos() -> dict[str, Any]:
        from interp.probing import pos_probe

        result = pos_probe(model, layers=probed, max_sentences=cfg["pos_sentences"],
                           random_baseline=False, progress=False)
        best = int(np.argmax(result.accuracy))
        return {"POS best acc": float(result.accuracy[best]), "POS selectivity there": float(result.selectivity[best]),
                "POS best depth": result.layers[best] / model.n_layers, "majority": float(result.majority_accuracy)}

    def world() -> dict[str, Any]:
        from interp.projection import world_map

        result = world_map(model, n_places=cfg["places"], layers=probed, random_baseline=False,
                           progress=False)
        best = int(np.argmax(result.r2_lat + result.r2_lon))
        return {"world R2 lat": float(result.r2_lat[best]), "world R2 lon": float(result.r2_lon[best]),
                "world best depth": result.layers[best] / model.n_layers}

    for label, fn in (("next token", top), ("attribution", attribution), ("truth sweep", truth),
                      ("steering", steering), ("model lies", lies), ("POS probe", pos), ("world map", world)):
        run(label, fn)
    out["peak_rss_mib"] = rss_mib()
    return out


# ----------------------------------------------------------------------------- parent: the table
def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README's settings (much longer)")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = settings(args.full)
    if args.child:
        print(json.dumps(measure(args.child, cfg)))
        return
    results = []
    for name in args.models:
        command = [sys.executable, __file__, "--child", name] + (["--full"] if args.full else [])
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"settings": cfg, "results": results}, handle, indent=1)
    names = [r["model"] for r in results]
    width = max(34, *(len(n) + 2 for n in names))
    print(f"settings: {'full' if args.full else 'quick'} {cfg}")
    print(f"{'':<34}" + "".join(f"{n:>{width}}" for n in names) + ("   ratio" if len(results) == 2 else ""))

    def row(label: str, values: list[Any], ratio: bool = False) -> None:
        line = f"{label:<34}" + "".join(f"{fmt(v):>{width}}" for v in values)
        if ratio and len(values) == 2 and all(isinstance(v, (int, float)) for v in values) and values[0]:
            line += f"   {values[1] / values[0]:.2f}x"
        print(line)

    row("parameters", [r["n_params"] for r in results], ratio=True)
    row("layers", [r["n_layers"] for r in results])
    row("vocabulary", [r["d_vocab"] for r in results], ratio=True)
    row("cached load (s)", [r["load_s"] for r in results], ratio=True)
    row("memory after load (MiB RSS)", [r["load_rss_mib"] for r in results], ratio=True)
    row("peak memory, all analyses (MiB)", [r["peak_rss_mib"] for r in results], ratio=True)
    row("forward, 32 texts x ~16 tokens (s)", [r["forward_s"] for r in results], ratio=True)
    labels = list(dict.fromkeys(label for r in results for label in r["figures"]))
    for label in labels:
        keys = list(dict.fromkeys(k for r in results for k in r["figures"].get(label, {})))
        for key in keys:
            figures = [r["figures"].get(label, {}) for r in results]
            row(f"{label}: {key}"[:34], [f.get(key, "refused" if "refused" in f else "-") for f in figures])
        row(f"{label}: seconds", [r["seconds"].get(label, float("nan")) for r in results], ratio=True)
    for r in results:
        for label, message in r.get("refusals", {}).items():
            print(f"{r['model']} refuses {label}: {message}")


if __name__ == "__main__":
    main()
