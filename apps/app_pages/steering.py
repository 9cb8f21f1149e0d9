"""Steering page: build a concept's steering vector, generate with it beside the unsteered model, draw its curve.

A thin shell over :mod:`interp.steering`: :func:`~interp.steering.steering_vector` from a shipped concept's
contrast pairs, :func:`~interp.steering.steer` at the slider's strength (the unsteered generation beside the
steered one) and :func:`~interp.steering.steering_sweep` (behaviour rate against KL and neutral perplexity).
"""

import _common
import streamlit as st

import interp
from interp.steering import CONCEPTS, concept, middle_layer, parse_strengths, steer, steering_sweep, steering_vector


def run_vector(model: interp.Model, name: str, layer: int, method: str):
    def compute():
        c = concept(name)
        return steering_vector(model, c.positives, c.negatives, layers=[layer], method=method, concept=name)

    return _common.cached_result("steering_vector", model, (name, layer, method), compute,
                                 spinner="Building the steering vector…")


def run_steer(model: interp.Model, name: str, layer: int, method: str, prompt: str, strength: float,
              max_new_tokens: int):
    def compute():
        vector = run_vector(model, name, layer, method)
        return steer(model, prompt, vector, strength, max_new_tokens=max_new_tokens, chat=concept(name).chat,
                     scorer=name)

    return _common.cached_result("steered", model, (name, layer, method, prompt, strength, max_new_tokens), compute,
                                 spinner="Generating…", max_entries=32)


def run_sweep(model: interp.Model, name: str, layer: int, method: str, strengths: tuple[float, ...], n_prompts: int,
              max_new_tokens: int):
    def compute():
        vector = run_vector(model, name, layer, method)
        c = concept(name)
        return steering_sweep(model, vector, c.prompts[:n_prompts], list(strengths), scorer=name, chat=c.chat,
                              max_new_tokens=max_new_tokens, progress=False)

    return _common.cached_result("steering_sweep", model, (name, layer, method, strengths, n_prompts, max_new_tokens),
                                 compute, spinner="Sweeping strengths…", max_entries=8)


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
vector = _common.guarded(run_vector, model, name, layer, method)
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
    generations = _common.page_result("steer_generations", lambda *r: run_steer(model, *r),
                                      (name, layer, method, prompt, float(strength), max_new_tokens),
                                      submitted=submitted and vector is not None, loaded=loaded)
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
    strengths = (_common.guarded(parse_strengths, strengths_text, name="Strengths", where="the Steering page")
                 if drawn and vector is not None else None)
    sweep = _common.page_result("steer_sweep", lambda *r: run_sweep(model, *r),
                                None if strengths is None else (name, layer, method, strengths, n_prompts, curve_tokens),
                                submitted=drawn and vector is not None, loaded=loaded)
    if sweep is None:
        st.info("Press **Draw the curve**: behaviour rate against KL and neutral perplexity, strength by strength "
                "(a minute or two on the default model).", icon=":material/play_arrow:")
    else:
        _common.show_result(sweep, "steering_sweep")
