"""Steering page: build a concept's steering vector, generate with it beside the unsteered model, draw its curve.

A thin shell over :mod:`interp.steering`: :func:`~interp.steering.steering_vector` from a shipped concept's
contrast pairs, :func:`~interp.steering.steer` at the slider's strength (the unsteered generation beside the
steered one) and :func:`~interp.steering.steering_sweep` (behaviour rate against KL and neutral perplexity).
"""

import _common
import streamlit as st

import interp
from interp.steering import CONCEPTS, concept, middle_layer, parse_strengths, steer, steering_sweep, steering_vector


@st.cache_data(show_spinner="Building the steering vector…", max_entries=16)
def run_vector(_model: interp.Model, model_key: str, name: str, layer: int, method: str):
    c = concept(name)
    return steering_vector(_model, c.positives, c.negatives, layers=[layer], method=method, concept=name)


@st.cache_data(show_spinner="Generating…", max_entries=32)
def run_steer(_model: interp.Model, model_key: str, name: str, layer: int, method: str, prompt: str, strength: float,
              max_new_tokens: int):
    vector = run_vector(_model, model_key, name, layer, method)
    return steer(_model, prompt, vector, strength, max_new_tokens=max_new_tokens, chat=concept(name).chat, scorer=name)


@st.cache_data(show_spinner="Sweeping strengths…", max_entries=8)
def run_sweep(_model: interp.Model, model_key: str, name: str, layer: int, method: str, strengths: tuple[float, ...],
              n_prompts: int, max_new_tokens: int):
    vector = run_vector(_model, model_key, name, layer, method)
    c = concept(name)
    return steering_sweep(_model, vector, c.prompts[:n_prompts], list(strengths), scorer=name, chat=c.chat,
                          max_new_tokens=max_new_tokens, progress=False)


loaded = _common.current_model()
model = loaded.model

st.title("Steering")
_common.defaults_note("steering")
st.caption("Add a concept's direction (the mean difference of its contrast pairs, CAA) to the residual stream at "
           "every position while the model generates; strength 0 is the unsteered model.")
left, middle, right = st.columns(3)
name = left.selectbox("Concept", CONCEPTS, key="steer_concept",
                      format_func=lambda n: f"{n}: {concept(n).description}")
layer = int(middle.number_input("Layer (0 = embeddings)", 0, model.n_layers, middle_layer(model), key="steer_layer"))
method = right.selectbox("Method", ["mean_diff", "pca"], key="steer_method",
                         help="mean_diff: CAA's mean difference; pca: repeng's first principal component of the pair "
                              "differences, scaled the same way.")
vector = _common.guarded(run_vector, model, loaded.key, name, layer, method)
if vector is not None:
    _common.show_summary(vector)

generate_tab, curve_tab = st.tabs(["Generate", "Curve"])
with generate_tab:
    with st.form("steer_generate_form"):
        prompt = st.text_area("Prompt", concept(name).prompts[0], key="steer_prompt")
        left, right = st.columns(2)
        strength = left.slider("Strength (× the direction)", -16.0, 16.0, 4.0, step=0.5, key="steer_strength")
        max_new_tokens = int(right.number_input("New tokens", 1, 128, 32, key="steer_tokens"))
        submitted = st.form_submit_button("Generate", type="primary")
    if submitted and vector is not None:
        st.session_state["steer_generations"] = _common.guarded(run_steer, model, loaded.key, name, layer, method,
                                                                prompt, float(strength), max_new_tokens)
    generations = st.session_state.get("steer_generations")
    if generations is not None:
        _common.show_summary(generations)
        columns = st.columns(len(generations.strengths))
        for column, s, text in zip(columns, generations.strengths, generations.generations[0]):
            column.markdown(f"**strength {s:g}**{' (unsteered)' if s == 0 else ''}")
            column.code(text, language=None, wrap_lines=True)
        _common.downloads(generations, "steered")

with curve_tab:
    with st.form("steer_curve_form"):
        left, middle, right = st.columns(3)
        strengths_text = left.text_input("Strengths", "0.5, 1, 2, 4, 8", key="steer_strengths")
        n_prompts = int(middle.number_input("Held-out prompts", 2, 32, 8, key="steer_prompts"))
        curve_tokens = int(right.number_input("New tokens per prompt", 1, 64, 16, key="steer_curve_tokens"))
        drawn = st.form_submit_button("Draw the curve", type="primary")
    if drawn and vector is not None:
        strengths = _common.guarded(parse_strengths, strengths_text, name="Strengths", where="the Steering page")
        st.session_state["steer_sweep"] = None if strengths is None else _common.guarded(
            run_sweep, model, loaded.key, name, layer, method, strengths, n_prompts, curve_tokens)
    sweep = st.session_state.get("steer_sweep")
    if sweep is None:
        st.info("Press **Draw the curve**: behaviour rate against KL and neutral perplexity, strength by strength "
                "(a minute or two on the default model).", icon=":material/play_arrow:")
    else:
        _common.show_result(sweep, "steering_sweep")
