"""Edge attribution patching: EAP against EAP-IG faithfulness curves (with intervals), and the time of a 20-pair task
against one forward + backward pass over the same tokens.

For each task (default: IOI-style names and greater-than), both methods rank the edges of the same pairs; circuits of
growing size are then checked by exact patching (everything outside the circuit gets the corrupted prompt's
activations) against random edge sets of the same size. Printed: the faithfulness curves (interval over pairs for
the circuits, the central 95 % of the random draws), the share of pairs the model solves (answer above foil on the
clean prompt, Wilson interval; a task the model does not solve is said so), EAP-IG minus EAP at the size nearest 5 %
of the edges, and the attribution's time (the issue's target: <= 10 minutes for 20 pairs on a 2-core CPU) with the
reference measured in the same run: one forward and one backward pass of the model over the clean prompts.

Run: ``.venv/bin/python benchmarks/bench_circuits.py [--model NAME] [--tasks ioi,greater_than] [--pairs 20]
[--steps 5] [--random 5] [--small] [--out PATH]``. ``--small``: tiny-llama, 3 pairs, 2 random draws (a smoke run).
"""

from __future__ import annotations

import argparse
import sys

from _harness import run, seconds


def _args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--tasks", default="ioi,greater_than")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--random", type=int, default=5)
    parser.add_argument("--small", action="store_true")
    args, _ = parser.parse_known_args(sys.argv[1:])
    if args.small:
        args.model, args.pairs, args.random = args.model or "tiny-llama", 3, 2
    return args


def _forward_backward(model, task) -> float:
    """Seconds of one forward and one backward pass of the plain model over the task's clean prompts."""
    import torch

    from interp.circuits import prepare_task

    prepared = prepare_task(model, task)

    def once():
        with model.lock, torch.enable_grad():
            logits = model.bridge(prepared.clean, attention_mask=prepared.mask)
            rows = torch.arange(len(prepared.last))
            final = logits[rows, prepared.last]
            (final[rows, prepared.answers] - final[rows, prepared.foils]).mean().backward()
            model.bridge.zero_grad(set_to_none=True)

    return seconds(once, repeat=2, warmup=1)


def main(bench) -> None:
    import numpy as np

    import interp
    from interp.circuits import edge_attribution_patching, make_task

    args = _args()
    model = interp.load_model(args.model, quiet=True)
    print(f"model {model.name}: {model.n_layers} layers x {model.n_heads} heads")
    for name in args.tasks.split(","):
        task = make_task(name, n=args.pairs, seed=0)
        results = {}
        for method in ("eap", "eap-ig"):
            results[method] = edge_attribution_patching(model, task, method=method, steps=args.steps,
                                                        n_random=args.random, seed=0, progress=False)
            result = results[method]
            print(f"\n[{name}] {result.summary()}")
            print(result.faithfulness_frame().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        eap, ig = results["eap"], results["eap-ig"]
        solved = eap.solved()
        print(f"[{name}] answer above foil on {solved.format(2)} of clean prompts"
              + ("" if solved.above(0.5) else
                 ": the model is NOT shown to solve this task above chance (the interval reaches 0.5)"))
        frame_e, frame_i = eap.faithfulness_frame(), ig.faithfulness_frame()
        i = int(np.argmin(np.abs(frame_e["share_of_edges"] - 0.05)))
        size = int(frame_e["edges"][i])
        for label, frame, result in (("EAP", frame_e, eap), ("EAP-IG", frame_i, ig)):
            f = result.faithfulness(i)
            bench.figure(f"{name}: {label} faithfulness at {size} edges", f.estimate, unit="",
                         reference=float(frame["random_mean"][i]), reference_label="random edge sets (mean)",
                         note=f"{f.format(2)} over pairs; random {frame['random_low'][i]:.2f}..{frame['random_high'][i]:.2f}")
        from interp.stats import bootstrap_interval

        clean, corr = eap.clean_metric, eap.corrupted_metric
        ig_metric, eap_metric = ig.circuit_metric[i], eap.circuit_metric[i]

        def gap(rows, clean=clean, corr=corr, ig_metric=ig_metric, eap_metric=eap_metric):
            den = clean[rows].mean() - corr[rows].mean()
            return float((ig_metric[rows].mean() - eap_metric[rows].mean()) / den)

        diff = bootstrap_interval(gap, len(clean), n_resamples=1000)
        print(f"[{name}] EAP-IG minus EAP faithfulness at {size} edges: {diff.format(3)} (paired bootstrap over pairs)")
        reference = _forward_backward(model, task)
        bench.figure(f"{name}: EAP attribution, {len(clean)} pairs", eap.attribution_seconds, reference=reference,
                     reference_label="one forward+backward", target=600.0)
        bench.figure(f"{name}: EAP-IG ({args.steps} steps) attribution", ig.attribution_seconds, reference=reference,
                     reference_label="one forward+backward", target=600.0)


if __name__ == "__main__":
    run("circuits", main)
