"""Lenses on the default model: the linear lens against the logit lens, by layer, on text neither was fitted on.

1. Fits the linear lens (:func:`interp.lens.fit_linear_lens`) on ``--max-texts`` texts of the shipped
   text's fit part and prints the wall time, next to the time of plain forward passes over the same
   texts measured in the same run (the ratio is what the fit adds: caching 31 layers and the sums).
   ``--save`` writes it where ``linear_lens`` and the explorer find it.
2. Mean KL(final || lens) per layer and top-1 agreement, logit vs linear lens, with 95 % intervals over
   texts and the paired difference on the same texts, on (a) the headline: English prose interp did not
   write, the dataset descriptions that ship with scikit-learn (:func:`interp.lens.external_prose`), and
   (b) the held-out template families of the shipped text (never fitted on; other templates, same authors).
3. The rank of " Paris" by layer after "The Eiffel Tower is located in the city of" (a fact in none of
   the lens's texts), for both lenses.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_lens.py --max-texts 1500 --max-tokens 300 --save``

Measured on 2026-12-01, before the split by template family (the held-out part was then split from the fit
texts by a hash of each text, so it was nearly in-distribution; 100 tokens per set): fit 17,382 tokens in
3,507 s, 0.97x plain forward passes over the same tokens; mean KL over layers 0-29, logit -> linear: 15.92 ->
0.83 nats (held-out shipped text), 16.82 -> 2.54 (scikit-learn prose), lower at every layer.

Measured on 2026-12-07 with the split by template family (an equivalent script, not this one's timings: the
machine was shared, so no speed figure): a lens fitted on 300 texts of the fit part (3,221 tokens), 300 token
positions per set, mean KL(final || lens) over layers 0-29 in nats, 95 % cluster-bootstrap intervals over texts:
scikit-learn prose (111 texts), logit 15.96 [15.18, 16.73] vs linear 3.01 [2.73, 3.32], paired difference
12.95 [12.35, 13.56]; held-out templates (276 texts), logit 14.49 [13.88, 15.10] vs linear 1.44 [1.28, 1.61],
difference 13.05 [12.53, 13.55]; the linear lens closer beyond noise at all 30 layers on both. " Paris" after
"The Eiffel Tower is located in the city of" (the model's top token, p = 0.30): in the top 10 for good from
layer 29 (logit) and 24 (linear), top 1 from layer 30 and 24.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import interp
    from interp.lens import external_prose, fit_linear_lens, lens_divergence, lens_texts, linear_lens, logit_lens

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-texts", type=int, default=1500)
    parser.add_argument("--max-tokens", type=int, default=600, help="token positions per evaluation set")
    parser.add_argument("--reference-texts", type=int, default=128, help="texts of the forward-pass reference")
    parser.add_argument("--save", action="store_true", help="save the lens at its default path")
    args = parser.parse_args()
    model = interp.load_model(quiet=True)
    texts = lens_texts("fit", max_texts=args.max_texts)

    reference = texts[:args.reference_texts]
    start = time.perf_counter()
    for begin in range(0, len(reference), 32):
        model.logits(reference[begin:begin + 32])
    forward = time.perf_counter() - start
    reference_tokens = sum(len(model.encode(t)) for t in reference)
    lens = fit_linear_lens(model, texts, save=args.save, progress=False)
    fit_tokens = sum(len(model.encode(t)) for t in texts)
    per_fit, per_forward = lens.fit_seconds_ / fit_tokens * 1000, forward / reference_tokens * 1000
    print(f"fit: {lens.n_texts_} texts, {fit_tokens:,} tokens ({lens.n_tokens_:,} fitted on, first positions left "
          f"out), {lens.fit_seconds_:.1f} s = {per_fit:.2f} s per 1,000 tokens; plain forward passes "
          f"(model.logits) over {len(reference)} of the texts in the same run: {per_forward:.2f} s per 1,000 tokens; "
          f"ratio {per_fit / per_forward:.2f}")
    print("ridge per layer:", ["id" if r == float("inf") else f"{r:g}" for r in lens.ridge_])
    print("validation MSE / identity's, per layer:",
          [round(a / b, 3) for a, b in zip(lens.val_error_, lens.val_error_identity_)])

    sets = {"scikit-learn dataset prose (not interp's text)": external_prose(),
            "held-out templates of the shipped text": lens_texts("heldout")}
    for name, items in sets.items():
        start = time.perf_counter()
        result = lens_divergence(model, items, lens=lens, max_tokens=args.max_tokens, texts_name=name, progress=False)
        print(f"\n{result.summary()}  [{time.perf_counter() - start:.1f} s]")
        print(f"{'layer':>5} {'KL logit [95 % over texts]':>27} {'KL linear [95 %]':>27} {'top1 logit':>10} "
              f"{'top1 linear':>11}")
        for j, layer in enumerate(result.layers):
            print(f"{layer:>5} {result.kl[0, j]:9.3f} [{result.kl_low[0, j]:6.3f}, {result.kl_high[0, j]:6.3f}] "
                  f"{result.kl[1, j]:9.3f} [{result.kl_low[1, j]:6.3f}, {result.kl_high[1, j]:6.3f}] "
                  f"{result.top1_agreement[0, j]:10.3f} {result.top1_agreement[1, j]:11.3f}")
        print(f"mean over layers 0..{model.n_layers - 1}: logit {result.kl[0, :-1].mean():.3f}, linear "
              f"{result.kl[1, :-1].mean():.3f} nats")

    prompt = "The Eiffel Tower is located in the city of"  # no lens text mentions the Eiffel Tower
    start = time.perf_counter()
    logit = logit_lens(model, prompt, target=" Paris")
    lens_time = time.perf_counter() - start
    start = time.perf_counter()
    model.logits(prompt)
    one_pass = time.perf_counter() - start
    linear = linear_lens(model, prompt, lens=lens, target=" Paris")
    print(f"\nlogit_lens on {prompt!r}: {lens_time:.2f} s, {lens_time / one_pass:.1f}x one forward pass")
    print("rank of ' Paris' at the last position, by layer:")
    print("  logit: ", logit.target_rank[:, -1].tolist())
    print("  linear:", linear.target_rank[:, -1].tolist())
    print(f"  first layer from which it stays in the top 10: logit {logit.first_layer_in_top(10)}, "
          f"linear {linear.first_layer_in_top(10)}; top 1: logit {logit.first_layer_in_top(1)}, "
          f"linear {linear.first_layer_in_top(1)}")


if __name__ == "__main__":
    main()
