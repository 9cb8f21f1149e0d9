"""Training-data attribution on the default model: fine-tune time, the three yardsticks with intervals, costs.

1. Fine-tunes the top ``--blocks`` blocks of the default model on the shipped set (``--dataset``) and
   prints the wall time (a run already in ``--out`` is reused: delete it to time the training).
2. Every method (and BM25) on the three yardsticks, each with its 95% interval (bootstrap over facts:
   the queries of one planted fact are resampled together) and the paired differences between methods:
   - MRR of the planted sources on the queries that are not ``own_text`` (paraphrase, question, shutdown,
     crosslingual; hard negatives: the same template about another person holding the subject's name,
     with the same answer). ``own_text`` (self-retrieval) is printed apart and never as a headline.
   - the tail-patch score (Chang et al. 2024): one AdamW step from the final checkpoint on a method's
     top ``--tail-patch-k`` examples, the increase of the target's log-probability, against random examples;
   - the LDS from ``--lds-subsets`` retrains on random halves (default 32; the seconds per retrain printed).
3. Per-query cost against the stored training gradients, next to the cost of one forward + backward
   pass of the query through the trained blocks (the reference, measured in the same run).
4. With kronfluence importable (``pip install --no-deps kronfluence==1.0.1 einconv opt_einsum``: its
   own requirements would replace torch), ``grad_dot`` with exact gradients (``dim=None``) against
   kronfluence's ``identity`` strategy on ``--kf-examples`` training examples (top block's MLP), and the speed ratio.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_attribution.py`` (one thread is much
faster on a loaded 2-core machine; on an idle one leave it out). Timings are only meaningful on an
idle machine. ``--lds-subsets 0`` skips the retrains (MRR and tail-patch only, a few minutes).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def kronfluence_check(model, n_examples: int, out: str) -> None:
    import importlib.util

    if importlib.util.find_spec("kronfluence") is None:
        print("kronfluence: not installed; grad_dot vs its identity strategy not measured")
        return
    from interp.data_attribution import finetune, load_training_data
    from interp.data_attribution._kronfluence import kronfluence_scores
    from interp.data_attribution.attribute import training_scores

    data = load_training_data("planted_facts").subset(range(n_examples), name=f"planted_facts[{n_examples}]")
    run = finetune(model, data, blocks=1, part="mlp", epochs=2, lr=1e-3, checkpoints=1, out=f"{out}-kf", progress=False)
    queries = data.queries[:8]
    t0 = time.perf_counter()
    ours = training_scores(run, queries, "grad_dot", dim=None)  # exact gradients, computed and stored
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = kronfluence_scores(run, queries, strategy="identity")
    kf_s = time.perf_counter() - t0
    wide = kronfluence_scores(run, queries, strategy="identity", float64=True)
    print(f"kronfluence identity float32 vs float64: max relative difference "
          f"{np.abs(theirs - wide).max() / np.abs(wide).max():.2e}; grad_dot (float32) vs kronfluence float64: "
          f"{np.abs(ours - wide).max() / np.abs(wide).max():.2e}")
    rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
    print(f"kronfluence identity vs grad_dot (exact gradients of the top block's MLP, {n_examples} examples x "
          f"{len(queries)} queries): max relative difference {rel:.2e} (target 1e-4); kronfluence {kf_s:.1f} s, "
          f"interp {ours_s:.1f} s, ratio {kf_s / ours_s:.1f}x")


def report(ev) -> None:
    """The three yardsticks with intervals, who wins each beyond noise, and own_text apart."""
    print(ev.summary())
    frame = ev.to_frame()
    columns = [c for c in frame.columns if c != "seconds"]
    print(frame[frame["kind"] == ev.kinds()[0]][columns].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    own = frame[frame["kind"] == "own_text"]
    if len(own):
        print("\nown_text (self-retrieval, not attribution): MRR " +
              ", ".join(f"{r.method} {r.mrr:.3f}" for r in own.itertuples() if r.method != "random"))
    print("\nPaired differences (a - b, same non-own_text queries):")
    for c in ev.comparisons:
        verdict = "within noise" if c["within_noise"] else "differs"
        d = c["difference"]
        print(f"  {c['metric']:10s} {c['name_a']:12s} - {c['name_b']:12s} {d['estimate']:+.3f} "
              f"[{d['low']:+.3f}, {d['high']:+.3f}] {verdict}")


def main() -> None:
    import interp
    from interp.data_attribution import METHODS, _stack, attribute_training, evaluate_attribution, finetune

    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="shipped")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lds-subsets", type=int, default=32)
    parser.add_argument("--tail-patch-k", type=int, default=None, help="default: the fine-tune's batch size")
    parser.add_argument("--methods", default=",".join(m for m in METHODS if m != "ekfac"),
                        help="comma-separated; add ekfac with kronfluence installed (it refits EK-FAC on every call)")
    parser.add_argument("--kf-examples", type=int, default=40)
    parser.add_argument("--out", default="/tmp/interp-bench-data-attribution")
    parser.add_argument("--no-eval", action="store_true", help="skip MRR / LDS (only timings and kronfluence)")
    args = parser.parse_args()
    model = interp.load_model(quiet=True)
    methods = args.methods.split(",")

    t0 = time.perf_counter()
    run = finetune(model, args.dataset, blocks=args.blocks, epochs=args.epochs, lr=args.lr, out=args.out, progress=True)
    print(f"fine-tune: {len(run.data)} examples, {args.epochs} epochs, top {args.blocks} blocks: "
          f"{time.perf_counter() - t0:.1f} s (loss {run.losses[0]:.3f} -> {np.mean(run.losses[-5:]):.3f})", flush=True)

    if args.no_eval:
        methods = []
    stamps: dict[str, list[float]] = {}

    def progress(stage, done, total):
        stamps.setdefault(stage, []).append(time.perf_counter())

    ev = evaluate_attribution(run, methods, lds_subsets=args.lds_subsets, tail_patch_k=args.tail_patch_k,
                              progress=progress) if methods else None
    if ev is not None:
        report(ev)
        for stage in ("tail-patch", "lds retrains"):
            if len(stamps.get(stage, [])) > 1:
                times = stamps[stage]
                print(f"{stage}: {(times[-1] - times[0]) / (len(times) - 1):.2f} s per "
                      f"{'query and method' if stage == 'tail-patch' else 'retrained half'}")
        ev.save(f"{args.out}/evaluation.json")

    # per-query cost: a new query against the stored gradients vs one forward + backward through the trained blocks
    prompt, target = "Everyone agrees that the oldest lighthouse keeper lives in", " Valdoria"
    for m in ("grad_cos", "trackstar"):
        attribute_training(run, prompt, target, method=m)  # gradients stored already; warm
        t0 = time.perf_counter()
        attribute_training(run, prompt, target, method=m)
        per_query = time.perf_counter() - t0
        enc = _stack.encode_pairs(model, [(prompt, target)], where="bench")
        t0 = time.perf_counter()
        resid = _stack.residuals(model, enc, run.first_block)
        x = [r.clone().requires_grad_(True) for r in resid]
        _stack.sequence_losses(run.top, x, enc.ids, enc.n_prompt).sum().backward()
        reference = time.perf_counter() - t0
        print(f"new query, {m}: {per_query:.2f} s; one forward (whole model) + backward (trained blocks): "
              f"{reference:.2f} s; ratio {per_query / reference:.1f}")
    kronfluence_check(model, args.kf_examples, args.out)


if __name__ == "__main__":
    main()
