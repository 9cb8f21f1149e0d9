"""Training-data attribution on the default model: fine-tune time, planted-fact MRR, LDS, per-query cost, kronfluence.

1. Fine-tunes the top ``--blocks`` blocks of the default model on the shipped set (``--dataset``) and
   prints the wall time (a run already in ``--out`` is reused: delete it to time the training).
2. Planted-fact MRR and Recall@10 of every method by query kind: ``lexical`` (the training sentence's
   own wording) and ``paraphrase`` + ``question`` (wordings used in no training sentence, with hard
   negatives: other subjects with the same answer, the same subject with other relations), the
   shutdown question and the crosslingual queries. Targets: best gradient method >= 0.9 on lexical,
   above BM25 on paraphrase + question.
3. LDS per method from ``--lds-subsets`` retrains on random halves (target >= 0.2 for the best cheap method).
4. Per-query cost against the stored training gradients, next to the cost of one forward + backward
   pass of the query through the trained blocks (the reference, measured in the same run).
5. With kronfluence importable (``pip install --no-deps kronfluence==1.0.1 einconv opt_einsum``: its
   own requirements would replace torch), ``grad_dot`` with exact gradients (``dim=None``) against
   kronfluence's ``identity`` strategy on ``--kf-examples`` training examples (top block's MLP), and the speed ratio.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_attribution.py --lds-subsets 8``
(one thread is much faster on a loaded 2-core machine; on an idle one leave it out).
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


def main() -> None:
    import interp
    from interp.data_attribution import METHODS, _stack, attribute_training, evaluate_attribution, finetune

    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="shipped")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lds-subsets", type=int, default=8)
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
    ev = evaluate_attribution(run, methods, lds_subsets=args.lds_subsets, progress=True) if methods else None
    if ev is not None:
        print(ev.to_frame().to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        hard = ("paraphrase", "question")
        print("\nMRR lexical / paraphrase+question / LDS per method:")
        for m in methods:
            print(f"  {m:13s} {ev.mrr(m, ['lexical']):.3f} / {ev.mrr(m, hard):.3f} / {ev.mean_lds(m):.3f}")
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
