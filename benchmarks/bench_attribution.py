"""Attribution speed on the default model (SmolLM2-135M-Instruct, CPU), against Captum, in one run.

Measured here, each the best of ``REPEATS`` runs after a warm-up:

- ``token_ablation`` vs Captum ``LLMAttribution(FeatureAblation)`` (same baseline token 0, same BOS
  handling) and vs one plain batched forward over the same 25 sequences (original + 24 ablations);
  scores must agree to 1e-4;
- ``gradient_saliency(method="integrated_gradients")`` (50 Gauss-Legendre steps) vs Captum
  ``LLMGradientAttribution(LayerIntegratedGradients)`` (its default, also Gauss-Legendre) and vs one
  plain batched forward + backward over the 50 steps; attributions must agree to 1e-3 (relative);
- completeness error of integrated gradients by quadrature and steps (Gauss-Legendre vs Riemann);
- ablation of a longer prompt with and without reusing the unchanged prefix's keys and values.

Run: ``.venv/bin/python benchmarks/bench_attribution.py`` (the machine should be otherwise idle); with
``--eraser`` it measures ERASER comprehensiveness / sufficiency per method over ``ATTRIBUTION_PROMPTS`` instead,
with intervals over the prompts and the random-ranking baseline (accuracy-type: needs no idle machine).
"""

from __future__ import annotations

import time

import numpy as np
import torch

REPEATS = 3
PROMPT = "In 1889 the engineer Gustave Eiffel opened his new iron tower to visitors in the capital city of"  # 24 tokens
TARGET = " Paris"


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    fn()  # warm-up
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    from captum.attr import (
        FeatureAblation,
        LayerIntegratedGradients,
        LLMAttribution,
        LLMGradientAttribution,
        TextTokenInput,
    )

    import interp
    from interp.attribution import gradient_saliency, token_ablation
    from interp.attribution.ablation import ablate

    model = interp.load_model(quiet=True)
    hf, tokenizer = model.bridge.original_model, model.tokenizer
    ids = model.encode(PROMPT)
    target = tokenizer(TARGET, add_special_tokens=False)["input_ids"]
    bos, unk, pad = tokenizer.bos_token_id, tokenizer.unk_token_id, model.pad_token_id
    import os

    print(f"model {model.name}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
          f"prompt {len(ids) - 1} tokens + BOS, "
          f"target {TARGET!r} ({len(target)} token)")
    captum_input = TextTokenInput(tokenizer.bos_token + PROMPT, tokenizer, skip_tokens=[bos])
    assert captum_input.inp_tensor[0].tolist() == ids, "Captum must see the same tokens"

    # ------------------------------------------------------------------ ablation
    fa = LLMAttribution(FeatureAblation(hf), tokenizer)
    t_captum_fa, captum_fa = best_of(lambda: fa.attribute(captum_input, target=TARGET))
    variants = [ids] + [ablate(ids, [i], unk) for i in range(1, len(ids))]
    batch = torch.tensor(variants)

    def plain_forward():
        with torch.inference_mode():
            return model.bridge(batch)

    t_plain, _ = best_of(plain_forward)
    t_ours, ours = best_of(lambda: token_ablation(model, PROMPT, TARGET))
    diff = float(np.abs(ours.scores - captum_fa.token_attr.cpu().numpy()).max())
    print("\ntoken ablation (24 tokens, 25 sequences)")
    print(f"  Captum LLMAttribution(FeatureAblation)  {t_captum_fa:7.3f} s")
    print(f"  one plain batched forward (25 seqs)     {t_plain:7.3f} s")
    print(f"  interp token_ablation                   {t_ours:7.3f} s   max |score - Captum| = {diff:.2e}")
    print(f"  speed-up vs Captum {t_captum_fa / t_ours:5.2f}x (target >= 3x);  "
          f"time / plain forward {t_ours / t_plain:4.2f} (target <= 1.2)")

    # ------------------------------------------------------------------ integrated gradients
    lig = LLMGradientAttribution(LayerIntegratedGradients(hf, hf.model.embed_tokens), tokenizer)
    pad_input = TextTokenInput(tokenizer.bos_token + PROMPT, tokenizer, baselines=pad, skip_tokens=[bos])
    t_captum_ig, captum_ig = best_of(lambda: lig.attribute(pad_input, target=TARGET, n_steps=50))
    alphas = torch.tensor(np.polynomial.legendre.leggauss(50)[0] * 0.5 + 0.5, dtype=torch.float32)

    def plain_forward_backward():
        seq = torch.tensor([ids])
        x = hf.model.embed_tokens(seq).detach()
        x0 = x.clone()
        x0[:, 1:] = hf.model.embed_tokens(torch.tensor([[pad]])).detach()
        inputs = (x0 + alphas.view(-1, 1, 1) * (x - x0)).requires_grad_(True)
        with model.hooks([("hook_embed", lambda e, hook: inputs)]):
            logits = model.bridge(seq.expand(50, -1))
        logprob = torch.log_softmax(logits[:, -1], -1)[:, target[0]]
        return torch.autograd.grad(logprob.sum(), inputs)[0]

    t_plain_fb, _ = best_of(plain_forward_backward)
    t_ig, ig = best_of(lambda: gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", n_steps=50,
                                                 baseline="pad"))
    reference = captum_ig.token_attr.cpu().numpy()
    rel = float(np.abs(ig.scores - reference).max() / np.abs(reference).max())
    print("\nintegrated gradients (50 Gauss-Legendre steps)")
    print(f"  Captum LLMGradientAttribution(LIG)      {t_captum_ig:7.3f} s")
    print(f"  one plain batched forward+backward      {t_plain_fb:7.3f} s")
    print(f"  interp integrated_gradients             {t_ig:7.3f} s   max rel. diff vs Captum = {rel:.2e}")
    print(f"  speed-up vs Captum {t_captum_ig / t_ig:5.2f}x (target >= 1.3x);  "
          f"time / plain forward+backward {t_ig / t_plain_fb:4.2f}")

    # ------------------------------------------------------------------ completeness by quadrature
    print("\nintegrated gradients completeness error |sum(attr) - (f(x) - f(x'))| by baseline and quadrature")
    for baseline in ("space", "pad"):
        for quadrature in ("gauss-legendre", "riemann_middle"):
            row = []
            for steps in (8, 16, 32, 64):
                r = gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", n_steps=steps,
                                      quadrature=quadrature, baseline=baseline)
                row.append(f"{steps:3d}: {r.metadata['completeness_error'][0]:.4f}")
            diff = r.metadata["f_input"][0] - r.metadata["f_baseline"][0]
            print(f"  {baseline:5s} {quadrature:18s} " + "   ".join(row) + f"   (f(x) - f(x') = {diff:.2f})")

    # ------------------------------------------------------------------ prefix reuse on a longer prompt
    long_prompt = " ".join([PROMPT] * 3)
    n_long = len(model.encode(long_prompt))
    t_full, full = best_of(lambda: token_ablation(model, long_prompt, TARGET, reuse_prefix=False), repeats=1)
    t_reuse, reused = best_of(lambda: token_ablation(model, long_prompt, TARGET, reuse_prefix=True), repeats=1)
    print(f"\ntoken ablation of a {n_long}-token prompt: batched {t_full:.2f} s, reusing the prefix KV cache "
          f"{t_reuse:.2f} s ({t_full / t_reuse:.2f}x), max |diff| {np.abs(full.scores - reused.scores).max():.1e}")


def eraser(model=None, n_steps: int = 16, n_random: int = 10) -> None:
    """ERASER comprehensiveness / sufficiency of every method over ``interp.replication.ATTRIBUTION_PROMPTS``, with
    95% intervals over the prompts and each method's paired difference from the random-ranking baseline (and the
    leader's from the runner-up) on the same prompts. An accuracy-type figure: it does not depend on load.
    Also counts the prompts where ablation ranks the prompt's last token first (the trap its caveat names)."""
    import interp
    from interp.attribution import compare_methods
    from interp.replication import ATTRIBUTION_PROMPTS
    from interp.stats import mean_interval, paired_difference

    model = model or interp.load_model(quiet=True)
    comp, suff, trap, disagree = {}, {}, 0, 0
    for prompt, target in ATTRIBUTION_PROMPTS:
        table = compare_methods(model, prompt, target, n_steps=n_steps, n_random=n_random)
        for k, name in enumerate([*table.methods, "random"]):
            c = table.comprehensiveness[k] if name != "random" else table.random_comprehensiveness.mean()
            s = table.sufficiency[k] if name != "random" else table.random_sufficiency.mean()
            comp.setdefault(name, []).append(float(c))
            suff.setdefault(name, []).append(float(s))
        trap += table.ablation_last_token_top
        disagree += bool(table.disagreements())
        print(f"  {prompt!r}: " + ", ".join(f"{k} {v[-1]:.3g}" for k, v in comp.items()), flush=True)
    n = len(ATTRIBUTION_PROMPTS)
    print(f"\nERASER on {model.name}, {n} prompts ({n_random} random orders each; intervals over prompts)")
    print(f"  {'method':22s} {'comprehensiveness':>30s} {'minus random':>30s} {'sufficiency':>30s}")
    for name in comp:
        line = f"  {name:22s} {mean_interval(comp[name]).format(3):>30s} "
        line += (f"{paired_difference(comp[name], comp['random']).difference.format(3):>30s} " if name != "random"
                 else f"{'':>30s} ")
        print(line + f"{mean_interval(suff[name]).format(3):>30s}")
    ranked = sorted((m for m in comp if m != "random"), key=lambda m: -np.mean(comp[m]))
    print("  " + paired_difference(comp[ranked[0]], comp[ranked[1]], names=(ranked[0], ranked[1])).sentence(3))
    print(f"  ablation ranked the last token first on {trap} of {n} prompts; methods disagreed in rank "
          f"(a Spearman correlation < 0.3) on {disagree} of {n}")


if __name__ == "__main__":
    import sys

    eraser() if "--eraser" in sys.argv else main()
