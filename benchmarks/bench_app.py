"""Explorer render times on the default model (SmolLM2-135M-Instruct, CPU), against a plain HF forward, in one run.

Each row is one uncached rerun of the explorer (``streamlit.testing.v1.AppTest``, in process, the model
already loaded and warm): the entrypoint, the sidebar, and the page with its library call and every
element it draws, after changing the prompt the way a user does. The prompt has 24 tokens (plus BOS);
each run uses another year in it, so ``st.cache_data`` cannot answer from memory. Rows:

- Model page, top next tokens (k = 10; the model card is drawn too);
- Attribution page, token ablation (replace with ``<unk>``), without and with the attention-patterns toggle
  (every layer and head);
- Attribution page, gradient x input, without and with the attention toggle.

Next to each: the library call alone on the same prompt, the page's overhead over it, and both as
ratios against one plain Hugging Face forward of the same 25 tokens measured in this run (the
reference; the figures scale with the machine, the ratios much less). The browser's own drawing
(plotly in Chromium) is not included. Medians of ``REPEATS`` runs after one warm-up.

Run: ``.venv/bin/python benchmarks/bench_app.py`` (the machine should be otherwise idle).

Recorded on the 2-core CPU machine (torch 2 threads, load average 1.1; a plain forward of the prompt 121 ms)::

                                              page s library s overhead s  page/fwd  lib/fwd
    Model: top next tokens                     0.178     0.124      0.053       1.5      1.0
    Attribution: ablation                      1.178     1.058      0.120       9.8      8.8
    Attribution: ablation + attention          1.359     1.146      0.214      11.3      9.5
    Attribution: grad x input                  0.471     0.357      0.115       3.9      3.0
    Attribution: grad x input + attention      0.805     0.477      0.328       6.7      4.0

Every page renders its analysis of the 24-token prompt in under 2 s (the issue's target); the app adds
0.05-0.33 s to the library call (the script rerun, the figures' JSON, the tables).

Below the table, what ``model.lock`` (every forward pass and hook block holds it, so that concurrent
sessions get their own numbers) costs one pass. Recorded on the same machine while it was shared (load
average 6-7, so a forward took 1.9 s instead of 0.16 s and the page rows above could not be compared)::

    model.lock: uncontended acquire + release 0.30 µs; a locked entry point's whole overhead 0.55 µs per call
    SmolLM2-135M-Instruct-Q4_1  forward of 25 tokens: locked  1886.05 ms, unlocked  2026.30 ms (medians of 40, alternated)
    tiny-gpt2                   forward of 25 tokens: locked    19.76 ms, unlocked    22.60 ms (medians of 40, alternated)

About 0.5 µs per pass, 3 millionths of the default model's 160 ms forward; locked and unlocked passes
agree within the noise. Concurrent sessions on one model take turns: the wait, not the lock, is the cost.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from pathlib import Path

REPEATS = 5
APP = Path(__file__).resolve().parents[1] / "apps" / "explorer.py"
PROMPT = "In {year} the engineer Gustave Eiffel opened his new iron tower to visitors in the capital city of"
_years = itertools.count(1801)  # a new year for every run: a prompt no cache has seen, same 24 tokens


def fresh_prompt(model) -> str:
    prompt = PROMPT.format(year=next(_years))
    n = len(model.encode(prompt)) - 1  # without BOS
    if n != 24:
        raise RuntimeError(f"the benchmark prompt must have 24 tokens; {prompt!r} has {n}")
    return prompt


def median_seconds(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import torch
    from streamlit.testing.v1 import AppTest

    import interp
    from interp.attribution import attention_maps, attribute

    os.environ.pop("INTERP_MODEL", None)  # the default model
    os.environ.setdefault("INTERP_EXPLORER_CACHE", "/tmp/interp-bench-app")
    model = interp.load_model(quiet=True)
    hf = model.bridge.original_model
    ids = torch.tensor([model.encode(fresh_prompt(model))])

    def plain_forward():
        with torch.inference_mode():
            return hf(ids).logits

    t_forward = median_seconds(plain_forward, repeats=20)

    at = AppTest.from_file(str(APP), default_timeout=600).run()  # loads the model once (st.cache_resource)
    if at.exception or at.error:
        raise RuntimeError(f"the explorer failed to start: {[e.value for e in [*at.exception, *at.error]]}")

    def page_run(page: str, widgets: dict, prompt: tuple[str, str], n_charts: int):
        """Switch to ``page`` and set ``widgets`` ({(kind, key): value}); return a function that types a fresh prompt
        into the ``prompt`` widget (kind, key), reruns the page and checks that it drew ``n_charts`` charts."""
        at.switch_page(f"app_pages/{page}.py").run()
        for (kind, key), value in widgets.items():
            getattr(at, kind)(key=key).set_value(value)
        at.run()

        def run():
            getattr(at, prompt[0])(key=prompt[1]).set_value(fresh_prompt(model))
            at.run()
            if at.exception or at.error or len(at.get("plotly_chart")) != n_charts:
                raise RuntimeError(f"{page} did not render: {[e.value for e in [*at.exception, *at.error]]}")

        return run

    def library(fn):
        return lambda: fn(fresh_prompt(model))

    attribution_prompt = ("text_area", "attr_prompt")
    rows = [
        ("Model: top next tokens",
         lambda: page_run("model", {("slider", "model_k"): 10}, ("text_input", "model_prompt"), 1),
         library(lambda p: model.top_next_tokens(p, k=10))),
        ("Attribution: ablation",
         lambda: page_run("attribution", {("selectbox", "attr_method"): "ablation",
                                          ("toggle", "attr_attention"): False}, attribution_prompt, 1),
         library(lambda p: attribute(model, p, "ablation", None, unit="token", chat=False, replace_with="<unk>"))),
        ("Attribution: ablation + attention",
         lambda: page_run("attribution", {("selectbox", "attr_method"): "ablation",
                                          ("toggle", "attr_attention"): True}, attribution_prompt, 2),
         library(lambda p: (attribute(model, p, "ablation", None, unit="token", chat=False, replace_with="<unk>"),
                            attention_maps(model, p, chat=False)))),
        ("Attribution: grad x input",
         lambda: page_run("attribution", {("selectbox", "attr_method"): "grad_x_input",
                                          ("toggle", "attr_attention"): False}, attribution_prompt, 1),
         library(lambda p: attribute(model, p, "grad_x_input", None, unit="token", chat=False))),
        ("Attribution: grad x input + attention",
         lambda: page_run("attribution", {("selectbox", "attr_method"): "grad_x_input",
                                          ("toggle", "attr_attention"): True}, attribution_prompt, 2),
         library(lambda p: (attribute(model, p, "grad_x_input", None, unit="token", chat=False),
                            attention_maps(model, p, chat=False)))),
    ]

    print(f"model {model.name}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
          f"prompt 24 tokens + BOS, median of {REPEATS} uncached runs after a warm-up")
    print(f"reference: one plain HF forward of the prompt   {t_forward * 1000:7.1f} ms\n")
    print(f"{'':40s} {'page s':>7s} {'library s':>9s} {'overhead s':>10s} {'page/fwd':>9s} {'lib/fwd':>8s}")
    for name, setup, lib in rows:
        t_page, t_lib = median_seconds(setup()), median_seconds(lib)
        print(f"{name:40s} {t_page:7.3f} {t_lib:9.3f} {t_page - t_lib:10.3f} {t_page / t_forward:9.1f} "
              f"{t_lib / t_forward:8.1f}")
    lock_overhead(model)


def lock_overhead(model) -> None:
    """What ``model.lock`` costs a forward pass. The lock's own cost (an uncontended acquire + release, and the
    locked entry point's dispatch around a method that does nothing), then the bridge's locked ``forward``
    against its class's own (unlocked) forward on the same tokens, alternated so that a change of load hits both,
    on the default model and on tiny-gpt2 (short passes: the lock's largest share)."""
    import torch

    import interp
    from interp.models.model import ModelLock, _Locked

    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        with model.lock:
            pass
    per_lock = (time.perf_counter() - start) / n

    class Idle:
        def forward(self):
            return None

    idle = Idle()
    locked = _Locked(idle, "forward", ModelLock())
    start = time.perf_counter()
    for _ in range(n):
        locked()
    per_call = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n):
        idle.forward()
    per_call -= (time.perf_counter() - start) / n
    print(f"\nmodel.lock: uncontended acquire + release {per_lock * 1e6:.2f} µs; a locked entry point's whole "
          f"overhead {per_call * 1e6:.2f} µs per call")
    for m in [model, interp.load_model("tiny-gpt2", quiet=True)]:
        tokens = m.to_tokens(PROMPT.format(year=1900))
        unlocked = type(m.bridge).forward.__get__(m.bridge)  # the class's forward: no lock
        times: dict[str, list[float]] = {"locked": [], "unlocked": []}
        with torch.inference_mode():
            for i in range(41):
                for name, fn in (("locked", m.bridge), ("unlocked", unlocked))[:: 1 if i % 2 else -1]:
                    begin = time.perf_counter()
                    fn(tokens)
                    times[name].append(time.perf_counter() - begin)
        t_locked, t_plain = (statistics.median(times[k][1:]) for k in ("locked", "unlocked"))
        print(f"{m.name:27s} forward of 25 tokens: locked {t_locked * 1000:8.2f} ms, unlocked {t_plain * 1000:8.2f} ms "
              f"(medians of 40, alternated)")

if __name__ == "__main__":
    main()
