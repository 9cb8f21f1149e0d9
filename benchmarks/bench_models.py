"""Every analysis's headline figure on both real models, side by side, with load times and memory.

SmolLM2-135M-Instruct-Q4_1 (the default; Llama architecture, 30 layers, instruct) against gemma-3-270m-Q4_K_M
(Gemma 3 base: 18 layers, grouped-query and sliding-window attention, a 262,144-token vocabulary; the
``interp[gemma]`` extra). Each model is measured in a fresh interpreter (so its peak memory is its own), with
the same small, seeded settings; the table prints each figure for both and Gemma's ratio to SmolLM2 for the
costs (load, forward, memory). A chat-only analysis on the base model prints the named error it refuses with.

Every accuracy, R², AUC, ECE and rate carries its 95% interval from the result that measured it (or
:mod:`interp.stats`), and the last column is the second model's difference from the first with its interval:
a paired bootstrap over the same items where both models scored the same items (``paired``: the steering shift
per statement, the multiple-choice accuracy per question), else the two intervals' half-widths combined as
independent (``unpaired``, a normal approximation; conservative where the items are shared). A difference whose
interval holds 0 is printed "within noise": the figures do not rank the two models there.

Run (a few minutes per model on a quiet 2-core CPU; ``nice`` on a shared machine)::

    nice -n 10 .venv/bin/python benchmarks/bench_models.py            # quick settings
    nice -n 10 .venv/bin/python benchmarks/bench_models.py --full     # the README's settings (much longer)
    .venv/bin/python benchmarks/bench_models.py --json out.json       # also save the raw figures
    .venv/bin/python benchmarks/bench_models.py --models tiny-gpt2 tiny-llama   # a dry run of the script (seconds)

Figures are for these settings (held-out splits, few layers in quick mode): the best layer of a sweep is
the best of the layers probed, and its relative depth is layer / n_layers.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from typing import Any

MODELS = ("SmolLM2-135M-Instruct-Q4_1", "gemma-3-270m-Q4_K_M")
PARIS = "The Eiffel Tower is located in the city of"


def settings(full: bool) -> dict[str, Any]:
    if full:
        return {"depths": None, "truth_pairs": 400, "pos_sentences": 1200, "places": 3000, "steer_pairs": 200,
                "ig_steps": 50, "lie_questions": None, "ask_questions": 60}
    return {"depths": 4, "truth_pairs": 120, "pos_sentences": 150, "places": 600, "steer_pairs": 60,
            "ig_steps": 8, "lie_questions": 6, "ask_questions": 12}


# ----------------------------------------------------------------------------- child: one model
def measure(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    import resource

    import numpy as np

    import interp
    from interp.errors import InterpError
    from interp.stats import Interval, mean_interval, proportion_interval

    def iv(interval: Interval, items: Any = None, ids: Any = None) -> dict[str, Any]:
        """An interval figure; with per-item scores (and their ids) a later comparison can pair the models."""
        out = interval.to_dict()
        if items is not None:
            out["items"] = [float(x) for x in items]
            out["item_ids"] = [str(i) for i in ids]
        return out

    def ends(value: float, low: Any, high: Any, n: int = 0, method: str = "") -> dict[str, Any]:
        return Interval(float(value), float("nan") if low is None else float(low),
                        float("nan") if high is None else float(high), n=int(n), method=method).to_dict()

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
    # the same relative depths on both models: every layer, or 0, 1/4, ..., 1 of the way through
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

        sweep = truth_sweep(model, ["cities"], layers=probed, probes=["linear", "mm"],
                            max_pairs=cfg["truth_pairs"], progress=False)
        acc = sweep.accuracy[0]  # (probes, layers)
        best, best_mm = int(np.argmax(acc[0])), int(np.argmax(acc[1]))
        return {"cities linear best acc": iv(sweep.accuracy_interval("linear", sweep.layers[best])),  # Wilson
                "cities mm best acc": iv(sweep.accuracy_interval("mm", sweep.layers[best_mm])),
                "linear best depth": sweep.layers[best] / model.n_layers}

    def steering() -> dict[str, Any]:
        from interp.truth import steer_truth

        layer = round(model.n_layers * 0.4)
        result = steer_truth(model, "cities", layer=layer, alphas=(-2, 2), max_pairs=cfg["steer_pairs"], n_test=20)
        shift = result.p_true[1] - result.p_true[0]  # (n_statements,) the same held-out statements on every model
        return {"P(true) shift, alpha -2 -> +2": iv(mean_interval(shift), shift, result.statements)}

    def lies() -> dict[str, Any]:
        from interp.truth import LieDetector, detect_model_lies

        model.require_chat_template("detect_model_lies", why="it asks the model in chat form")  # before fitting
        detector = LieDetector.fit(model, ["cities", "facts"], layer=round(model.n_layers * 0.4),
                                   max_pairs=cfg["truth_pairs"], transfer=False, progress=False)
        result = detect_model_lies(model, detector=detector, max_questions=cfg["lie_questions"], progress=False)
        return {"lie AUC": result.intervals["auc"],  # bootstrap over questions
                "lie AUC in the chat": result.intervals["auc_in_context"]}

    def lens() -> dict[str, Any]:
        from interp.lens import logit_lens

        result = logit_lens(model, PARIS, target=" Paris")
        rank = result.target_rank[:, -1]  # (n_read,) at the last position
        first = next((layer for layer, r in zip(result.layers, rank) if r == 1), None)
        return {"' Paris' top-1 from depth": first / model.n_layers if first is not None else float("nan"),
                "' Paris' rank at half depth": int(rank[len(rank) // 2])}

    def ask() -> dict[str, Any]:
        from interp.ask import calibrate

        result = calibrate(model, n=cfg["ask_questions"], signals=("letter",), progress=False)
        metrics = result.metrics[list(result.signals).index("letter")]
        right = (np.asarray(result.gold) == np.asarray(result.answer)).astype(float)  # (n_questions,)
        return {"MC accuracy": iv(result.accuracy_interval, right, result.ids),  # Wilson over questions
                "ECE (letter prob)": ends(metrics["ece"], metrics.get("ece_low"), metrics.get("ece_high"),
                                          len(right), "bootstrap")}

    def pos() -> dict[str, Any]:
        from interp.probing import pos_probe

        result = pos_probe(model, layers=probed, max_sentences=cfg["pos_sentences"],
                           random_baseline=False, progress=False)
        best = result.best_layer  # cluster bootstrap over the held-out sentences
        majority = proportion_interval(round(result.majority_accuracy * result.n_test), result.n_test)  # words
        return {"POS best acc": iv(result.interval("accuracy", best)),
                "POS selectivity there": iv(result.interval("selectivity", best)),
                "POS best depth": best / model.n_layers, "majority (Wilson over words)": iv(majority)}

    def world() -> dict[str, Any]:
        from interp.projection import world_map

        result = world_map(model, n_places=cfg["places"], layers=probed, random_baseline=False,
                           progress=False)
        best = int(np.argmax(result.r2_lat + result.r2_lon))

        def r2(name: str) -> dict[str, Any]:  # bootstrap over the held-out places
            low, high = getattr(result, f"{name}_low"), getattr(result, f"{name}_high")
            return ends(getattr(result, name)[best], None if low is None else low[best],
                        None if high is None else high[best], method="bootstrap")

        return {"world R2 lat": r2("r2_lat"), "world R2 lon": r2("r2_lon"),
                "world best depth": result.layers[best] / model.n_layers}

    for label, fn in (("next token", top), ("attribution", attribution), ("logit lens", lens), ("truth sweep", truth),
                      ("steering", steering), ("model lies", lies), ("ask (calibration)", ask), ("POS probe", pos),
                      ("world map", world)):
        run(label, fn)
    out["peak_rss_mib"] = rss_mib()
    return out


# ----------------------------------------------------------------------------- parent: the table
def is_interval(value: Any) -> bool:
    return isinstance(value, dict) and "estimate" in value


def fmt(value: Any) -> str:
    if is_interval(value):
        from interp.stats import Interval

        return Interval.from_dict(value).format(3)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def difference(first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]) -> str:
    """``second - first`` with its 95% interval, and whether it ranks the two: a paired bootstrap over the items
    both scored (the same item ids), else the two intervals combined as independent (normal approximation)."""
    from interp.stats import Interval, paired_difference

    if first.get("item_ids") and first.get("item_ids") == second.get("item_ids"):
        diff = paired_difference(second["items"], first["items"], names=(names[1], names[0])).difference
        how = "paired"
    else:
        a, b = Interval.from_dict(first), Interval.from_dict(second)
        half = math.sqrt(((a.high - a.low) / 2) ** 2 + ((b.high - b.low) / 2) ** 2)
        d = b.estimate - a.estimate
        diff, how = Interval(d, d - half, d + half, method="normal"), "unpaired"
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        verdict = "no interval"
    elif diff.holds(0.0):
        verdict = "within noise"
    else:
        verdict = f"{names[1]} {'higher' if diff.estimate > 0 else 'lower'}"
    return f"{diff.format(3)} {verdict} ({how})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README's settings (much longer)")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--parallel", action="store_true", help="measure the models at the same time (noisier timings)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = settings(args.full)
    if args.child:
        print(json.dumps(measure(args.child, cfg)))
        return
    commands = [[sys.executable, __file__, "--child", name] + (["--full"] if args.full else []) for name in args.models]
    if args.parallel:  # one process per model at once: less wall time, timings and ratios noisier
        children = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
        outputs = [child.communicate()[0] for child in children]
        if any(child.returncode for child in children):
            raise SystemExit(f"a model's run failed: {[child.returncode for child in children]}")
    else:
        outputs = [subprocess.run(c, stdout=subprocess.PIPE, text=True, check=True).stdout for c in commands]
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"settings": cfg, "results": results}, handle, indent=1)
    names = [r["model"] for r in results]
    width = max(34, *(len(n) + 2 for n in names))
    print(f"settings: {'full' if args.full else 'quick'}{', models measured in parallel' if args.parallel else ''} {cfg}")
    width = max(width, 26)  # "0.890 [0.839, 0.926]" and a margin
    short = tuple(n.split("-")[0] for n in names)  # "SmolLM2", "gemma"
    short = short if len(set(short)) == len(short) else tuple(names)
    print(f"{'':<34}" + "".join(f"{n:>{width}}" for n in names)
          + (f"   ratio, or {short[1]} - {short[0]} [95%]" if len(results) == 2 else ""))

    def row(label: str, values: list[Any], ratio: bool = False) -> None:
        line = f"{label:<34}" + "".join(f"{fmt(v):>{width}}" for v in values)
        if ratio and len(values) == 2 and all(isinstance(v, (int, float)) for v in values) and values[0]:
            line += f"   {values[1] / values[0]:.2f}x"
        elif len(values) == 2 and all(is_interval(v) for v in values):
            line += f"   {difference(values[0], values[1], short[:2])}"
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
