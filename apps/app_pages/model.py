"""Model page: the model card, the most likely next tokens after a prompt, and a short continuation.

Everything shown comes from ``interp.Model``: ``info()``, ``top_next_tokens()`` (rendered with its
``plot()`` and ``to_frame()``) and ``generate()``.
"""

import _common
import pandas as pd
import streamlit as st

import interp

DEFAULT_PROMPT = "The capital of France is"


def top_next_tokens(model: interp.Model, prompt: str, k: int, chat: bool) -> interp.TopTokensResult:
    return _common.cached_result("top_next_tokens", model, (prompt, k, chat),
                                 lambda: model.top_next_tokens(prompt, k=k, chat=chat),
                                 spinner="Computing the next-token distribution…", max_entries=64)


def generate(model: interp.Model, prompt: str, max_new_tokens: int, chat: bool) -> str:
    return _common.cached_result("generate", model, (prompt, max_new_tokens, chat),
                                 lambda: model.generate(prompt, max_new_tokens, chat=chat), spinner="Generating…",
                                 max_entries=64)


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


loaded = _common.current_model()
model = loaded.model
info = model.info()

# ---------------------------------------------------------------- model card
st.title(info["name"])
st.caption(f"{info['architecture']} · {info['n_layers']} layers · {info['n_heads']} heads · "
           f"d_model {info['d_model']} · {_count(info['n_params'])} parameters · {info['device']}, {info['dtype']}")
for column, (label, value) in zip(st.columns(6), [
        ("Layers", info["n_layers"]), ("Heads", info["n_heads"]), ("d_model", info["d_model"]),
        ("Vocabulary", f"{info['d_vocab']:,}"), ("Context", f"{info['n_ctx']:,}"),
        ("Parameters", _count(info["n_params"]))]):
    column.metric(label, value, border=True)
with st.expander("Model card"):
    st.table(pd.DataFrame({"field": list(info), "value": [str(v) for v in info.values()]}).set_index("field"))

# ---------------------------------------------------------------- top next tokens
st.header("Top next tokens")
_common.defaults_note("model")
prompt_col, k_col, chat_col = st.columns([6, 3, 2], vertical_alignment="bottom", gap="medium")
prompt = prompt_col.text_input("Prompt", value=DEFAULT_PROMPT, key="model_prompt")
k = k_col.slider("Number of tokens (k)", 1, min(50, model.d_vocab), 10, key="model_k")
chat = chat_col.checkbox("Chat template", key="model_chat", disabled=not model.is_chat,
                         help="Wrap the prompt in the tokenizer's chat template (instruct models only)."
                         if model.is_chat else f"{info['name']} has no chat template.") and model.is_chat

result = _common.guarded(top_next_tokens, model, prompt, k, chat)
if result is not None:
    _common.show_summary(result)
    chart, table = st.columns([3, 2])
    _common.chart(result.plot(), chart, title_chars=60)
    frame = result.to_frame()
    frame["token"] = frame["token"].map(repr)  # quoted, so a leading space or a newline shows (as in the chart)
    table.dataframe(frame, hide_index=True)
    _common.downloads(result, "top_next_tokens")

# ---------------------------------------------------------------- generation
st.header("Generate")
max_new_tokens = st.slider("Max new tokens", 1, 128, 32, key="model_max_new_tokens")
clicked = st.button("Generate", type="primary", key="model_generate")
generated = _common.page_result("model_generated", lambda *r: generate(model, *r), (prompt, max_new_tokens, chat),
                                submitted=clicked, loaded=loaded, same_request=True)  # shown while the inputs are unchanged
if generated is not None:
    st.caption("Continuation (greedy decoding)" + (", the assistant's answer" if chat else ""))
    st.code(generated or "(nothing: the model ended the text at once)", language=None, wrap_lines=True)
