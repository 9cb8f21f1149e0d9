"""The README's ten-minute tour, timed: each step on the default model in one process, as a notebook runs it.

Each figure is the wall time of one step (one call, after the model is loaded), beside the same-run reference
of one plain forward pass over the tour's prompt (``model.logits``), so the ratio says how many forward passes
a step costs. The settings are the tour's (small samples; the CLI's defaults take longer and the README says
so). Take the figures on a quiet machine: the harness marks a run above load 1.5 "not for the README".

Run: ``.venv/bin/python benchmarks/bench_tour.py [--out PATH] [--skip-finetune]``.
"""

from __future__ import annotations

import sys
import time

from _harness import run, seconds

PROMPT = "The capital of France is"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(bench) -> None:
    import interp
    from interp.ask import calibrate
    from interp.attribution import attribute
    from interp.lens import logit_lens
    from interp.patching import activation_patching, causal_tracing
    from interp.probing import pos_probe
    from interp.projection import world_map
    from interp.truth import truth_report

    load = _timed(lambda: interp.load_model(quiet=True))
    model = interp.load_model(quiet=True)
    forward = seconds(lambda: model.logits(PROMPT))
    bench.figure("load the default model (cached)", load, reference=forward, reference_label="one forward pass")
    steps = {
        "1 inputs: attribute(method='ablation')": lambda: attribute(model, PROMPT, "ablation"),
        "1 inputs: attribute(method='integrated_gradients')": lambda: attribute(model, PROMPT, "integrated_gradients",
                                                                                target=" Paris"),
        "3 inside: logit_lens": lambda: logit_lens(model, "The Eiffel Tower is located in the city of", target=" Paris"),
        "3 inside: activation_patching (resid, attn, mlp)": lambda: activation_patching(
            model, PROMPT, "The capital of Italy is", answer=" Paris", wrong_answer=" Rome",
            sites=("resid", "attn", "mlp"), progress=False),
        "3 inside: causal_tracing (3 samples)": lambda: causal_tracing(model, PROMPT, "France", answer=" Paris",
                                                                       samples=3, progress=False),
        "3 encode: pos_probe (300 sentences, 4 layers)": lambda: pos_probe(model, layers=[0, 10, 20, 30],
                                                                           max_sentences=300, progress=False),
        "4 space: world_map (500 places, 4 layers)": lambda: world_map(model, n_places=500, layers=[0, 10, 20, 30],
                                                                      random_baseline=False, progress=False),
        "5 truth: truth_report (3 sets x 150 pairs, 4 layers)": lambda: truth_report(
            model, layers=[8, 12, 16, 20], max_pairs=150, progress=False),
        "6 ask: calibrate('easy', n=40, letter + P(True))": lambda: calibrate(
            model, "easy", n=40, signals=("letter", "letter_debiased", "p_true"), progress=False),
    }
    if "--skip-finetune" not in sys.argv:
        from interp.data_attribution import attribute_training, finetune

        steps["2 data: finetune (shipped set, 2 blocks, 4 epochs; reused if cached)"] = lambda: finetune(
            model, "shipped", progress=False)
        steps["2 data: attribute_training (trackstar, one query)"] = lambda: attribute_training(
            finetune(model, "shipped", progress=False), "shutdown_resist", method="trackstar", progress=False)
    for name, step in steps.items():
        bench.figure(name, _timed(step), reference=forward, reference_label="one forward pass")


if __name__ == "__main__":
    run("tour", main)  # --skip-finetune is read by main(); the harness ignores options it does not know
