"""The "Lens" tab of the "Inside the model" page: what every layer would predict (a thin shell over
:mod:`interp.lens`).

:func:`render_lens` draws the tab: a prompt, an optional target, the lens (logit, or a linear lens
fitted per model and saved under the interp cache), and the lens's layers x positions grid of top
tokens with the target's rank by layer. The page (``inside.py``) calls it inside its first tab.
"""

from __future__ import annotations

from typing import Any

import _common
import streamlit as st

import interp

__all__ = ["render_lens"]

DEFAULT_PROMPT = "The capital of France is"
DEFAULT_TARGET = " Paris"
KINDS = {"Logit lens": "logit", "Linear lens": "linear"}


def _run_lens(model: interp.Model, kind: str, prompt: str, target: str | None, top_k: int, lens_stamp: str):
    """The lens grid (``lens_stamp``: which fitted linear lens, so a refitted one reads afresh)."""
    from interp.lens import linear_lens, logit_lens

    read = linear_lens if kind == "linear" else logit_lens
    return _common.cached_result("lens", model, (kind, prompt, target, top_k, lens_stamp),
                                 lambda: read(model, prompt, target=target, top_k=top_k), spinner="Reading the lens…",
                                 max_entries=32)


def _fit(model: interp.Model) -> None:
    from interp.lens import fit_linear_lens

    with _common.progress_bar("Fitting the linear lens") as bar:
        fit_linear_lens(model, progress=bar)


def render_lens(model: Any) -> None:
    """Draw the lens tab for ``model`` (an :class:`interp.Model`, or the page's ``_common.LoadedModel``)."""
    loaded = model if hasattr(model, "key") and hasattr(model, "model") else _common.LoadedModel(key=model.name, model=model)
    model = loaded.model
    from interp.lens import lens_status

    st.caption("The logit lens puts each layer's residual stream through the model's own final norm and "
               "unembedding (nostalgebraist 2020). The linear lens first maps each layer to the last with an "
               "affine map fitted by least squares on text interp ships (Din et al. 2023; not Belrose et al.'s "
               "trained tuned lens). Cells: the top next token, coloured by its probability.")
    with st.form("inside_lens_form"):
        left, middle, right, last = st.columns([4, 2, 2, 1])
        prompt = left.text_input("Prompt", DEFAULT_PROMPT, key="inside_lens_prompt")
        target = middle.text_input("Target (optional; its first token is tracked)", DEFAULT_TARGET,
                                   key="inside_lens_target")
        kind = KINDS[right.radio("Lens", list(KINDS), horizontal=True, key="inside_lens_kind")]
        top_k = last.number_input("Top k", 1, 20, 5, key="inside_lens_top_k")
        submitted = st.form_submit_button("Read the lens", type="primary")
    status = lens_status(model)
    if kind == "linear" and not status.fitted:
        st.info(f"No linear lens is fitted for {model.name} yet ({status.path}). Fitting reads the text interp "
                "ships through the model once and solves one least-squares problem per layer "
                f"({status.estimate}).", icon=":material/school:")
        if st.button("Fit the linear lens", key="inside_lens_fit"):
            _common.guarded(_fit, model)
            st.rerun()
        return
    result = _common.page_result("inside_lens", lambda *r: _run_lens(model, *r),
                                 (kind, prompt, target or None, int(top_k), status.stamp), submitted=submitted,
                                 loaded=loaded, hint="Give a non-empty prompt; the target is optional.")
    if result is None:
        st.info("Press **Read the lens**.", icon=":material/play_arrow:")
    else:
        _common.show_result(result, f"lens_{result.lens}")
