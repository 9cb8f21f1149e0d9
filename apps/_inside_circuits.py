"""The "Circuits" tab of the "Inside the model" page: which edges carry the answer (a thin shell over
:mod:`interp.circuits`).

:func:`render_circuits` draws the tab: a shipped task (IOI-style names, greater-than, country -> capital) and its
size, the method (EAP or EAP-IG), then the direct logit attribution bars, the circuit's graph and the faithfulness
curve (top edges against random edge sets, by exact patching). The page (``inside.py``) calls it inside a tab.
"""

from __future__ import annotations

from typing import Any

import _common
import streamlit as st

import interp

__all__ = ["render_circuits"]

#: Labels of the choices that make_task's and edge_attribution_patching's tables list (options_of).
LABELS = {"ioi": "Indirect object (IOI-style names)", "greater_than": "Greater-than (years)",
          "capitals": "Country -> capital", "eap-ig": "EAP-IG", "eap": "EAP"}


def _run_dla(model: interp.Model, task: str, pairs: int, seed: int):
    from interp.circuits import direct_logit_attribution, make_task

    return _common.cached_result("direct_logit_attribution", model, (task, pairs, seed),
                                 lambda: direct_logit_attribution(model, make_task(task, n=pairs, seed=seed)),
                                 spinner="Direct logit attribution…")


def _run_eap(model: interp.Model, task: str, pairs: int, seed: int, method: str, steps: int, n_random: int):
    """Edge attribution patching with a progress bar, kept in this process once computed."""
    from interp.circuits import edge_attribution_patching, make_task

    def compute():
        with _common.progress_bar("Scoring edges, then patching circuits exactly") as bar:
            return edge_attribution_patching(model, make_task(task, n=pairs, seed=seed), method=method, steps=steps,
                                             n_random=n_random, seed=seed, progress=bar)

    return _common.cached_result("edge_attribution_patching", model, (task, pairs, seed, method, steps, n_random), compute,
                                 max_entries=8)


def render_circuits(model: Any) -> None:
    """Draw the circuits tab for ``model`` (an :class:`interp.Model`, or the page's ``_common.LoadedModel``)."""
    from interp._params import options_of
    from interp.circuits import edge_attribution_patching, make_task

    loaded = model if hasattr(model, "key") and hasattr(model, "model") else _common.LoadedModel(key=model.name, model=model)
    model = loaded.model
    st.caption("Direct logit attribution: what each head and MLP writes onto logit(answer) - logit(foil) at the last "
               "token, the final norm's scale frozen (the bars sum to the logit difference). Edge attribution "
               "patching (Syed et al. 2023; EAP-IG, Hanna et al. 2024): every edge between the embeddings, each head "
               "(query heads of a GQA group on their own), each MLP and the logits, scored from gradients; the top "
               "edges are then checked by patching everything else with the corrupted prompt's activations, against "
               "random edge sets of the same size.")
    with st.form("inside_circuits_form"):
        a, b, c, d, e = st.columns([3, 1, 1, 1, 1])
        task = a.selectbox("Task (seeded clean/corrupted pairs)", options_of(make_task, "name"),
                           format_func=lambda v: LABELS.get(v, v), key="inside_circuits_task")
        pairs = b.number_input("Pairs", 1, 100, 8, key="inside_circuits_pairs")
        methods = options_of(edge_attribution_patching, "method")
        method = c.radio("Method", methods, index=methods.index("eap-ig"), format_func=lambda v: LABELS.get(v, v),
                         horizontal=True, key="inside_circuits_method")
        steps = d.number_input("IG steps", 1, 50, 5, key="inside_circuits_steps")
        n_random = e.number_input("Random circuits per size", 0, 20, 3, key="inside_circuits_random")
        submitted = st.form_submit_button("Find the circuit", type="primary")
    args = (task, int(pairs), 0)
    dla = _common.page_result("inside_circuits_dla", lambda *r: _run_dla(model, *r), args, submitted=submitted,
                              loaded=loaded)
    eap = _common.page_result("inside_circuits_eap", lambda *r: _run_eap(model, *r),
                              (*args, method, int(steps), int(n_random)), submitted=submitted, loaded=loaded)
    if dla is None and eap is None:
        st.info("Press **Find the circuit** (minutes on the default model: every pass runs one copy of the pairs per "
                "head).", icon=":material/play_arrow:")
        return
    if dla is not None:
        st.subheader("Direct logit attribution")
        _common.show_result(dla, "direct_logit_attribution")
    if eap is not None:
        st.subheader("Edge attribution patching")
        _common.show_result(eap, "edge_attribution_patching")
