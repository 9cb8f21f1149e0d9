"""Attribution page: which input tokens drive the model's next-token prediction.

A thin shell over :mod:`interp.attribution`: it calls ``attribute`` / ``compare_methods`` /
``attention_maps`` / ``faithfulness`` and renders each result's ``plot()`` and ``to_frame()``.
"""

import _common
import streamlit as st

import interp
from interp._params import options_of
from interp.attribution import METHODS, attention_maps, attribute, compare_methods, faithfulness

DEFAULT_PROMPT = "The capital of France is"
COMPARE = "compare all methods"
LABELS = {"ablation": "Token ablation", "gradient": "Gradient (saliency)", "grad_x_input": "Gradient × input",
          "integrated_gradients": "Integrated gradients", "rollout": "Attention rollout",
          COMPARE: "Compare all methods"}


def run_method(model: interp.Model, prompt: str, method: str, target: str | None, options: dict):
    return _common.cached_result("attribution", model, (prompt, method, target, options),
                                 lambda: attribute(model, prompt, method, target, **options), spinner="Attributing…",
                                 max_entries=32)


def run_compare(model: interp.Model, prompt: str, target: str | None, unit: str, chat: bool, n_steps: int):
    return _common.cached_result("attribution_comparison", model, (prompt, target, unit, chat, n_steps),
                                 lambda: compare_methods(model, prompt, target, unit=unit, chat=chat, n_steps=n_steps),
                                 spinner="Running every method and its faithfulness…")


def run_faithfulness(model: interp.Model, prompt: str, result, result_key: str):
    """ERASER's curves of ``result`` (named by ``result_key``: its method, target and options)."""
    return _common.cached_result("faithfulness", model, (prompt, result_key), lambda: faithfulness(model, prompt, result),
                                 spinner="Measuring faithfulness…", max_entries=32)


def run_attention(model: interp.Model, prompt: str, chat: bool):
    return _common.cached_result("attention_maps", model, (prompt, chat), lambda: attention_maps(model, prompt, chat=chat),
                                 spinner="Recording attention patterns…")


loaded = _common.current_model()
model = loaded.model

st.title("Attribution")
st.caption("Which input tokens make the model predict what it predicts. Positive (red) supports the target, "
           "negative (blue) works against it.")
prompt = st.text_area("Prompt", value=DEFAULT_PROMPT, key="attr_prompt", height=80)
left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
method = left.selectbox("Method", [*METHODS, COMPARE], format_func=lambda m: LABELS.get(m, m), key="attr_method")
target_text = middle.text_input("Target continuation", value="", key="attr_target",
                                help="Leave empty for the model's most likely next token. Several tokens are "
                                     "scored one by one and as a whole.")
chat = right.checkbox("Chat template", key="attr_chat", disabled=not model.is_chat,
                      help="Wrap the prompt in the chat template and report the user's tokens only.") and model.is_chat
unit = st.radio("Unit", options_of(interp.attribution.gradient_saliency, "unit"), horizontal=True, key="attr_unit")
target = target_text if target_text else None

options: dict = {"unit": unit, "chat": chat}
n_steps = 50
if method in ("integrated_gradients", COMPARE):
    n_steps = st.slider("Integration steps", 4, 128, 50, key="attr_steps")  # the library's and the CLI's default
if method == "integrated_gradients":
    options["n_steps"] = n_steps
    options["baseline"] = st.radio("Baseline", options_of(interp.attribution.gradient_saliency, "baseline"),
                                   horizontal=True, key="attr_baseline")
if method == "ablation":
    removal = st.radio("Ablate by", ["replace with <unk>", "delete"], horizontal=True, key="attr_removal")
    options["replace_with"] = None if removal == "delete" else "<unk>"

if method == COMPARE:
    comparison = _common.guarded(run_compare, model, prompt, target, unit, chat, n_steps)
    if comparison is not None:
        _common.show_summary(comparison)
        _common.chart(comparison.plot())
        st.dataframe(comparison.to_frame(), hide_index=True)
        with st.expander("Scores of every method"):
            st.dataframe(comparison.scores_frame(), hide_index=True)
        _common.downloads(comparison, "attribution_comparison")
else:
    result = _common.guarded(run_method, model, prompt, method, target, options)
    if result is not None:
        _common.show_summary(result)
        if "completeness_error" in result.metadata:
            st.caption(f"Completeness error (sum of attributions vs f(input) - f(baseline)): "
                       f"{result.metadata['completeness_error']}")
        if result.segment_scores:
            st.caption("Chat segments: " + ", ".join(f"{k} {sum(v):+.3g}" for k, v in result.segment_scores.items()))
        _common.chart(result.plot())
        st.dataframe(result.to_frame(), hide_index=True)
        _common.downloads(result, f"attribution_{method}")
        if st.toggle("Faithfulness (ERASER, deletion / insertion curves)", key="attr_faith"):
            key = f"{method}|{target}|{sorted(options.items())}"
            faith = _common.guarded(run_faithfulness, model, prompt, result, key)
            if faith is not None:
                _common.show_summary(faith)
                _common.chart(faith.plot())
                st.dataframe(faith.to_frame(), hide_index=True)
                _common.downloads(faith, f"faithfulness_{method}")

if st.toggle("Attention patterns (every layer and head)", key="attr_attention"):
    maps = _common.guarded(run_attention, model, prompt, chat)
    if maps is not None:
        _common.show_summary(maps)
        _common.chart(maps.plot())
        st.dataframe(maps.to_frame(), hide_index=True)
        _common.downloads(maps, "attention")
