"""Inside the model: where the answer forms and which components carry it.

A thin shell over :mod:`interp.lens`, :mod:`interp.patching` and :mod:`interp.circuits`. Tabs: the lens grid for a
prompt (``_inside_lens.render_lens``), activation patching of a clean/corrupted pair, causal tracing
(ROME), attribution patching with its top cells verified by exact patching, and circuits (direct logit
attribution, edge attribution patching and its faithfulness: ``_inside_circuits.render_circuits``). Each tab calls one
library function (through ``_common.cached_result``) and renders ``result.plot()`` /
``result.to_frame()`` through ``_common.show_result``.
"""

import _common
import streamlit as st
from _inside_circuits import render_circuits  # apps/_inside_circuits.py, beside _inside_lens.py
from _inside_lens import render_lens  # apps/_inside_lens.py: apps/ is on sys.path when Streamlit runs a page

import interp
from interp._params import options_of

CLEAN, CORRUPTED = "The capital of France is", "The capital of Italy is"
SITES = {"residual stream": "resid", "attention output": "attn", "MLP output": "mlp", "heads": "head"}


def run_patching(model: interp.Model, clean: str, corrupted: str, answer: str, wrong: str | None, sites: tuple,
                 metric: str, align: str | None):
    from interp.patching import activation_patching
    from interp.targets import Target

    return _common.cached_result(
        "activation_patching", model, (clean, corrupted, answer, wrong, sites, metric, align),
        lambda: activation_patching(model, clean, corrupted, target=Target(answer, foil=wrong), sites=sites,
                                    metric=metric, align=align, progress=False), spinner="Patching every cell…")


def run_tracing(model: interp.Model, prompt: str, subject: str, answer: str | None,
                samples: int, kinds: tuple):
    """Causal tracing with a progress bar, kept in this process once computed."""
    from interp.patching import causal_tracing

    def compute():
        with _common.progress_bar("Tracing (noised runs, one state restored at a time)") as bar:
            return causal_tracing(model, prompt, subject, target=answer, samples=samples, kinds=kinds, progress=bar)

    return _common.cached_result("causal_tracing", model, (prompt, subject, answer, samples, kinds), compute, max_entries=8)


def run_atp(model: interp.Model, clean: str, corrupted: str, answer: str, wrong: str | None, sites: tuple, metric: str,
            align: str | None, top_k: int, method: str):
    from interp.patching import attribution_patching
    from interp.targets import Target

    return _common.cached_result(
        "attribution_patching", model, (clean, corrupted, answer, wrong, sites, metric, align, top_k, method),
        lambda: attribution_patching(model, clean, corrupted, target=Target(answer, foil=wrong), sites=sites,
                                     metric=metric, align=align, verify_top_k=top_k, method=method, progress=False),
        spinner="Attribution patching, then checking its top cells exactly…")


def _pair_form(prefix: str, label: str, *, default_sites: list[str], extra: bool = False):
    """The clean/corrupted pair inputs shared by the patching tabs; returns the form's values."""
    with st.form(f"{prefix}_form"):
        left, right = st.columns(2)
        clean = left.text_input("Clean prompt (activations come from it)", CLEAN, key=f"{prefix}_clean")
        corrupted = right.text_input("Corrupted prompt (runs with them patched in)", CORRUPTED,
                                     key=f"{prefix}_corrupted")
        a, w, m, al = st.columns(4)
        answer = a.text_input("Answer (one token)", " Paris", key=f"{prefix}_answer")
        wrong = w.text_input("Wrong answer (empty: the corrupted prompt's top token)", " Rome", key=f"{prefix}_wrong")
        metric = m.radio("Metric", options_of(interp.patching.activation_patching, "metric"), horizontal=True,
                         key=f"{prefix}_metric")
        align = al.radio("Align positions", ["same length", "right", "left"], horizontal=True, key=f"{prefix}_align",
                         help="For prompts of different lengths: 'right' lines the last tokens up.")
        sites = st.multiselect("Sites", list(SITES), default=default_sites, key=f"{prefix}_sites")
        top_k, method = 0, "atp"
        if extra:
            left, right = st.columns(2)
            top_k = left.number_input("Cells to verify by exact patching", 0, 50, 10, key=f"{prefix}_top")
            method = right.radio("Estimate", options_of(interp.patching.attribution_patching, "method"), horizontal=True,
                                 key=f"{prefix}_method",
                                 help="atp: one gradient at the corrupted run (Nanda 2023). ig: gradients averaged "
                                      "over inputs interpolated from corrupted to clean (EAP-IG; same-length prompts).")
        submitted = st.form_submit_button(label, type="primary")
    return submitted, clean, corrupted, answer, (wrong or None), metric, (None if align == "same length" else align), \
        tuple(SITES[s] for s in sites), int(top_k), method


loaded = _common.current_model()
model = loaded.model

st.title("Inside the model")
st.caption("Where inside the forward pass the answer forms, and which components carry it.")
_common.defaults_note("inside")
lens_tab, patch_tab, trace_tab, atp_tab, circuits_tab = st.tabs(["Lens", "Activation patching", "Causal tracing",
                                                                  "Attribution patching", "Circuits"])

with lens_tab:
    render_lens(loaded)

with patch_tab:
    st.caption("Each cell: the corrupted prompt run with one clean activation patched in (residual stream at a "
               "layer and position, a block's attention or MLP output, one head's output). 1 = the clean "
               "answer fully restored, 0 = no change.")
    submitted, clean, corrupted, answer, wrong, metric, align, sites, _, _ = _pair_form(
        "inside_patch", "Patch", default_sites=["residual stream", "attention output", "MLP output"])
    result = _common.page_result("inside_patch", lambda *r: run_patching(model, *r),
                                 (clean, corrupted, answer, wrong, sites, metric, align), submitted=submitted,
                                 loaded=loaded)
    if result is not None:
        _common.show_result(result, "activation_patching")

with trace_tab:
    st.caption("Causal tracing (Meng et al. 2022): the subject's embeddings are noised (3x their standard "
               "deviation), then one state is restored to its clean value; colour = p(answer) afterwards.")
    with st.form("inside_trace_form"):
        left, middle, right, last = st.columns([4, 2, 2, 1])
        prompt = left.text_input("Prompt", CLEAN, key="inside_trace_prompt")
        subject = middle.text_input("Subject (noised)", "France", key="inside_trace_subject")
        answer_t = right.text_input("Answer (empty: the top token)", " Paris", key="inside_trace_answer")
        samples = last.number_input("Noise samples", 1, 20, 3, key="inside_trace_samples")
        kinds = st.multiselect("Restore", options_of(interp.patching.causal_tracing, "kinds"),
                               default=list(options_of(interp.patching.causal_tracing, "kinds")),
                               key="inside_trace_kinds")
        traced = st.form_submit_button("Trace", type="primary")
    trace = _common.page_result("inside_trace", lambda *r: run_tracing(model, *r),
                                (prompt, subject, answer_t or None, int(samples), tuple(kinds)), submitted=traced,
                                loaded=loaded)
    if trace is not None:
        _common.show_result(trace, "causal_tracing")

with atp_tab:
    st.caption("Attribution patching (Nanda 2023): every cell estimated from one backward pass; the cells with the "
               "largest estimates are then re-run by exact patching to show how far the estimate holds.")
    submitted, clean, corrupted, answer, wrong, metric, align, sites, top_k, method = _pair_form(
        "inside_atp", "Estimate and verify", default_sites=["attention output", "MLP output", "heads"], extra=True)
    atp = _common.page_result("inside_atp", lambda *r: run_atp(model, *r),
                              (clean, corrupted, answer, wrong, sites, metric, align, top_k, method), submitted=submitted,
                              loaded=loaded)
    if atp is not None:
        _common.show_result(atp, "attribution_patching")

with circuits_tab:
    render_circuits(loaded)
