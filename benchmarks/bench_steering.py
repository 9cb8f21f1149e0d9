"""Steering on the default model: for each shipped concept, the behaviour rate at the largest strength where
perplexity on neutral text rises by at most 1.5x, with its Wilson interval, beside the unsteered rate.

For each concept (``--concepts``: french, sentiment, truth) a mean-difference (CAA) vector is built from the
concept's contrast pairs at ``--layer`` (default: the middle layer), then :func:`interp.steering.steering_sweep`
runs ``--prompts`` held-out prompts at ``--strengths`` (0 added) with ``--tokens`` greedy new tokens each, and
the 16 neutral texts of :data:`interp.steering.NEUTRAL_TEXTS` for the perplexity cost. Each concept prints two
figures: the headline rate (reference: the unsteered rate on the same prompts, so the ratio is the lift), and the
sweep's time (reference: the unsteered generations alone, timed in the same run).

Run: ``.venv/bin/python benchmarks/bench_steering.py`` (the issue's setting: 16 prompts, 24 tokens, strengths
0.5,1,2,4,8). A quick check: ``--prompts 4 --tokens 6 --strengths 1,4``. On a machine shared with
other helpers (load average 14 on 2 cores) one SmolLM2 forward pass took 6.5 s and one concept at 4 prompts, 6 tokens
and strengths 4,8 took 11 minutes; a quiet machine is many times faster.
"""

from __future__ import annotations

import argparse
import sys
import time

from _harness import run


def main(bench) -> None:
    import interp
    from interp.steering import concept, middle_layer, steering_sweep, steering_vector

    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", default="french,sentiment,truth")
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--strengths", default="0.5,1,2,4,8")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--model", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    strengths = [float(s) for s in args.strengths.split(",")]
    model = interp.load_model(args.model, quiet=True)
    layer = middle_layer(model) if args.layer is None else args.layer
    for name in args.concepts.split(","):
        c = concept(name)
        prompts = c.prompts[:args.prompts]
        vector = steering_vector(model, c.positives, c.negatives, layers=[layer], concept=name)
        start = time.perf_counter()
        sweep = steering_sweep(model, vector, prompts, strengths, scorer=name, chat=c.chat,
                               max_new_tokens=args.tokens, progress=False)
        swept = time.perf_counter() - start
        start = time.perf_counter()
        for p in prompts:
            model.generate(p, args.tokens, chat=sweep.chat)
        plain = time.perf_counter() - start
        head = sweep.headline()
        j0 = list(sweep.strengths).index(0.0)
        base = float(sweep.rate[j0])
        if head is None:
            bench.figure(f"{name}: rate (no strength within 1.5x ppl)", base, unit="rate", note=sweep.summary())
        else:
            diff = head["difference"]
            bench.figure(f"{name}: rate at strength {head['strength']:g}, layer {layer}", head["rate"], unit="rate",
                         reference=base or None, reference_label="unsteered rate",
                         note=f"interval [{head['rate_low']:.2f}, {head['rate_high']:.2f}], unsteered {base:.2f}, "
                              f"difference {diff['estimate']:+.2f} [{diff['low']:+.2f}, {diff['high']:+.2f}], "
                              f"ppl x{head['ppl_ratio']:.2f}, n={len(prompts)}")
        bench.figure(f"{name}: sweep ({len(sweep.strengths)} strengths)", swept, reference=plain,
                     reference_label="unsteered generations alone")


if __name__ == "__main__":
    run("steering", main)
