"""Batched activation patching vs TransformerLens's ``get_act_patch_*`` (one forward pass per cell), same run.

    python benchmarks/bench_patching.py                          # tiny-llama, every site
    python benchmarks/bench_patching.py --model SmolLM2-135M-Instruct-Q4_1 --sites resid
    python benchmarks/bench_patching.py --atp                    # also: attribution patching vs exact patching

Prints the wall time of each, the speed ratio (TL / interp, target >= 5x) and the largest difference
between the two results (they compute the same numbers). With ``--atp``: attribution patching's time,
and its Pearson correlation and top-10 overlap with exact patching over the same cells, for
method="atp" (one gradient) and method="ig" (five interpolated inputs), with Fisher-z intervals, over
the three capital pairs of ``CAPITALS`` (attention and MLP outputs at the subject and the last token) and
the hand-off layer of the France/Italy pair (the first residual layer where patching the last token
restores more than patching the subject).

Figures once pinned in tests/test_patching.py (moved here; SmolLM2-135M-Instruct-Q4_1, measured before
2026-12-07 and not re-measured since): hand-off at layer 24 (the subject carries the answer through layer
23); over 3 pairs x 120 cells, Pearson with exact patching 0.989 (method="ig") and 0.786 ("atp"); top-10
overlap 10/10 over the set (per pair 8, 7, 8).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import interp
from interp.patching import activation_patching, attribution_patching
from interp.patching.attribution import pearson
from interp.stats import correlation_interval

CLEAN, CORRUPTED = "The capital of France is", "The capital of Italy is"
CAPITALS = [("France", " Paris", "Italy", " Rome"), ("Germany", " Berlin", "Spain", " Madrid"),
            ("Japan", " Tokyo", "Russia", " Moscow")]
TL_FUNCTIONS = {"resid": "get_act_patch_resid_pre", "attn": "get_act_patch_attn_out", "mlp": "get_act_patch_mlp_out",
                "head": "get_act_patch_attn_head_out_by_pos"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-llama")
    parser.add_argument("--sites", default="resid,attn,mlp,head")
    parser.add_argument("--atp", action="store_true")
    args = parser.parse_args()
    from transformer_lens import patching as tlp

    model = interp.load_model(args.model, quiet=True)
    sites = tuple(args.sites.split(","))
    kw = {"answer": " Paris", "wrong_answer": " Rome"}
    start = time.perf_counter()
    ours = activation_patching(model, CLEAN, CORRUPTED, sites=sites, progress=False, **kw)
    t_ours = time.perf_counter() - start
    a, w = (model.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in (" Paris", " Rome"))

    def metric(logits):
        diff = logits[0, -1, a] - logits[0, -1, w]
        return (diff - ours.corrupted_metric) / (ours.clean_metric - ours.corrupted_metric)

    start = time.perf_counter()
    with model.lock:  # TL's own loop: one run_with_hooks per cell, autograd on as TL leaves it
        _, cache = model.bridge.run_with_cache(model.to_tokens(CLEAN))
        corrupted = model.to_tokens(CORRUPTED)
        reference = {s: getattr(tlp, TL_FUNCTIONS[s])(model.bridge, corrupted, cache, metric).detach().cpu().numpy()
                     for s in sites}
    t_tl = time.perf_counter() - start
    cells = sum(getattr(ours, s).size for s in sites)
    diff = max(float(np.abs(getattr(ours, s)[:model.n_layers] - reference[s]).max()) for s in sites)
    print(f"{model.name}: {cells} cells ({', '.join(sites)}), {len(ours.positions)} positions")
    print(f"TransformerLens get_act_patch_*: {t_tl:.2f} s   interp activation_patching: {t_ours:.2f} s   "
          f"ratio {t_tl / t_ours:.1f}x   max |difference| {diff:.2e}")
    if args.atp:
        val = np.concatenate([getattr(ours, s).ravel() for s in sites])
        for method in ("atp", "ig"):
            start = time.perf_counter()
            atp = attribution_patching(model, CLEAN, CORRUPTED, sites=sites, verify_top_k=0, method=method,
                                       progress=False, **kw)
            t_atp = time.perf_counter() - start
            est = np.concatenate([getattr(atp, s).ravel() for s in sites])
            overlap = len(set(np.argsort(-np.abs(est))[:10]) & set(np.argsort(-np.abs(val))[:10]))
            print(f"attribution_patching(method={method!r}): {t_atp:.2f} s ({t_ours / t_atp:.1f}x the speed of exact "
                  f"patching), Pearson with exact {pearson(est, val):.4f}, top-10 overlap {overlap}/10")
        capital_pairs(model)


def capital_pairs(model: interp.Model) -> None:
    """Attribution vs exact patching over CAPITALS, and the France/Italy hand-off layer."""
    hand = activation_patching(model, CLEAN, CORRUPTED, answer=" Paris", wrong_answer=" Rome", sites=("resid",),
                               positions=[4, 5], progress=False)
    print(f"hand-off: the last token restores more than the subject from layer "
          f"{int(np.argmax(hand.resid[:, 1] > hand.resid[:, 0]))}")
    for method in ("atp", "ig"):
        estimates, values = [], []
        for clean_c, clean_a, corr_c, corr_a in CAPITALS:
            args = (f"The capital of {clean_c} is", f"The capital of {corr_c} is")
            kw = {"answer": clean_a, "wrong_answer": corr_a, "sites": ("attn", "mlp"), "positions": [4, 5],
                  "progress": False}
            atp = attribution_patching(model, *args, method=method, verify_top_k=0, verify_random=0, **kw)
            exact = activation_patching(model, *args, **kw)
            estimates.append(np.concatenate([atp.attn.ravel(), atp.mlp.ravel()]))
            values.append(np.concatenate([exact.attn.ravel(), exact.mlp.ravel()]))
        est, val = np.concatenate(estimates), np.concatenate(values)
        r = correlation_interval(pearson(est, val), len(est))
        recall = len(set(np.argsort(-np.abs(est))[:10]) & set(np.argsort(-np.abs(val))[:10]))
        print(f"{method}: {len(CAPITALS)} pairs x {len(est) // len(CAPITALS)} cells, Pearson with exact {r.format()} "
              f"(Fisher z over cells, which are not independent: optimistic), top-10 overlap {recall}/10")


if __name__ == "__main__":
    main()
