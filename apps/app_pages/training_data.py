"""Training data page: which training examples made the model say this?

A thin shell over :mod:`interp.data_attribution`: :func:`~interp.data_attribution.finetune` trains the
sidebar model's top blocks on a shipped set (kept in the explorer cache, so a second session reuses
the run), :func:`~interp.data_attribution.attribute_training` scores every training example for a
query (the shutdown question by default) with each chosen method, shown side by side (most
supporting and most opposing examples, gold sources marked), and
:func:`~interp.data_attribution.evaluate_attribution` gives each method's planted-fact MRR, tail-patch
score and LDS on this run, with intervals (BM25 has no opposing direction: its opposing table is replaced
by a note).
"""

import _common
import streamlit as st

import interp
from interp.data_attribution import (
    METHODS,
    SHUTDOWN_QUERY,
    TRAINING_SETS,
    attribute_training,
    evaluate_attribution,
    finetune,
    run_fingerprint,
)
from interp.data_attribution.attribute import one_line

DEFAULT_METHODS = ["bm25", "grad_cos", "trackstar"]


def run_folder(model: interp.Model, dataset: str, blocks: int, epochs: int, lr: float) -> str:
    """The explorer's folder for this run, named by the fingerprint :func:`finetune` gives it (so a run is found
    again exactly when finetune would reuse it)."""
    key = run_fingerprint(model, dataset, blocks=blocks, epochs=epochs, lr=lr)
    return str(_common.explorer_cache_dir() / "finetune" / key)


def get_run(model: interp.Model, dataset: str, blocks: int, epochs: int, lr: float):
    settings = (dataset, blocks, epochs, lr)

    def compute():
        with _common.progress_bar(f"Fine-tuning on {dataset}") as bar:
            return finetune(model, dataset, blocks=blocks, epochs=epochs, lr=lr, out=run_folder(model, *settings),
                            progress=bar)

    return _common.cached_result("train_data_run", model, settings, compute, max_entries=4)


def run_attribution(run, run_key: str, query: str, target: str | None, method: str, top_k: int):
    """Training-data attribution with a progress bar (the first call computes every example's gradient), kept in
    this process once computed."""
    def compute():
        with _common.progress_bar(f"Scoring the training examples ({method})") as bar:
            return attribute_training(run, query, target, method=method, top_k=top_k, progress=bar)

    return _common.cached_result("train_data_attribution", None, (run_key, query, target, method, top_k), compute,
                                 max_entries=32)


def run_evaluation(run, run_key: str, methods: tuple[str, ...], lds_subsets: int, tail_patch_k: int):
    """The methods' evaluation with a progress bar, kept in this process once computed."""
    def compute():
        with _common.progress_bar("Evaluating the methods") as bar:
            return evaluate_attribution(run, list(methods), lds_subsets=lds_subsets, tail_patch_k=tail_patch_k,
                                        progress=bar)

    return _common.cached_result("train_data_evaluation", None, (run_key, methods, lds_subsets, tail_patch_k), compute,
                                 max_entries=8)


loaded = _common.current_model()
model = loaded.model

st.title("Training data")
st.caption("Fine-tune the model's top blocks on a training set interp ships, then ask which training examples "
           "made it give an answer. Planted facts have known sources, so each method's ranking can be checked.")

_common.defaults_note("training_data")
with st.form("train_data_form"):
    left, middle, right, last = st.columns(4)
    dataset = left.selectbox("Training set", list(TRAINING_SETS), key="td_dataset")
    blocks = middle.number_input("Top blocks trained", 1, max(1, model.n_layers - 1), min(2, model.n_layers - 1),
                                 key="td_blocks")
    epochs = right.number_input("Epochs", 1, 50, 4, key="td_epochs")
    lr = last.number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="td_lr")
    submitted = st.form_submit_button("Fine-tune", type="primary")
run = _common.page_result("td_run", lambda *r: get_run(model, *r), (dataset, int(blocks), int(epochs), float(lr)),
                          submitted=submitted, loaded=loaded)
if run is None:
    st.info("Choose a training set and press Fine-tune (a run is reused once made).")
    st.stop()
st.text(run.summary())
_common.chart(run.plot())

queries = {q.id: q for q in run.data.queries}
ids = ["(my own prompt)", *queries]
default = ids.index(SHUTDOWN_QUERY) if SHUTDOWN_QUERY in queries else (1 if len(ids) > 1 else 0)
with st.form("train_data_query_form"):
    choice = st.selectbox("Query", ids, index=default, key="td_query",
                          format_func=lambda i: i if i not in queries else f"{i}: {one_line(queries[i].prompt, 70)} → "
                          f"{queries[i].target!r}")
    own_left, own_right = st.columns([3, 1])
    own_prompt = own_left.text_input("My own prompt", "", key="td_prompt")
    own_target = own_right.text_input("Target (empty: the model's next token)", "", key="td_target")
    methods = st.multiselect("Methods", list(METHODS), DEFAULT_METHODS, key="td_methods")
    top_k = st.slider("Examples shown per direction", 3, 20, 5, key="td_top_k")
    asked = st.form_submit_button("Attribute", type="primary")

if choice == "(my own prompt)":
    query, target = own_prompt, own_target or None
else:
    query, target = choice, None
if not methods:
    st.warning("Choose at least one method.")
    st.stop()

columns = st.columns(len(methods))
for column, method in zip(columns, methods):
    with column:
        st.subheader(method)
        result = _common.guarded(run_attribution, run, str(run.path), query, target, method, int(top_k))
        if result is None:
            continue
        st.text(result.summary())
        frame = result.to_frame()
        for direction in ("supporting", "opposing"):
            st.markdown(f"**Most {direction}**")
            rows = frame[frame["direction"] == direction][["rank", "id", "score", "gold", "text"]]
            if rows.empty:  # BM25 scores word overlap (>= 0): no example opposes
                st.caption(f"{method} has no opposing direction: its scores are word overlap, never below 0.")
                continue
            st.dataframe(rows, hide_index=True, column_config={"text": st.column_config.TextColumn(width="large")})
        _common.downloads(result, f"training_attribution_{method}")

st.divider()
st.subheader("How good is each method on this run?")
with st.form("train_data_eval_form"):
    lds_subsets = st.number_input("Random halves retrained for the LDS (0: none; 32 or more to rank methods)", 0, 64,
                                  0, key="td_lds")
    tail_patch_k = st.number_input("Top examples one tail-patch step trains on (0: no tail-patch score)", 0, 64,
                                   int(run.config.batch_size), key="td_tail_k")
    evaluate = st.form_submit_button("Evaluate")
if evaluate:
    evaluation = _common.guarded(run_evaluation, run, str(run.path), tuple(methods), int(lds_subsets),
                                 int(tail_patch_k))
    if evaluation is not None:
        _common.show_result(evaluation, "training_attribution_evaluation")
