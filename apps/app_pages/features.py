"""Features page: train a sparse autoencoder on a layer, then browse what its features mean.

A thin shell over :mod:`interp.features`: :func:`~interp.features.train_sae` (with a progress bar) or an SAE folder
in SAELens's layout (:func:`~interp.features.load_sae`); a :func:`~interp.features.feature_store` of held-out text
(encoded once, so a dashboard opens without a model pass); :func:`~interp.features.label_features` for labels;
search by label or token; :func:`~interp.features.feature_dashboard`; a prompt's active features.
"""

import hashlib
import json
from pathlib import Path

import _common
import streamlit as st

from interp.features import (
    SOURCES,
    default_annotations,
    default_texts,
    feature_dashboard,
    feature_store,
    label_features,
    load_sae,
    train_sae,
)

loaded = _common.current_model()
model = loaded.model
QUICK_SOURCES = ["conversation", "statements", "stories"]  # "docs" parses the standard library first (seconds)


def run_training(layer: int, width: int, k: int, n_texts: int, sources: tuple[str, ...], batch_size: int):
    request = (layer, width, k, n_texts, sources, batch_size)
    folder = _common.explorer_cache_dir() / "sae" / hashlib.sha256(json.dumps((loaded.key, *request)).encode()).hexdigest()[:16]

    def compute():
        texts = default_texts(max_texts=n_texts, sources=sources)
        with _common.progress_bar("Training the SAE") as bar:
            return train_sae(model, texts, layer, k=k, width=width, batch_size=batch_size, out=folder,
                             progress=bar)

    return _common.cached_result("sae_train", model, request, compute, max_entries=4)


def open_sae(folder: str):
    """The SAE in ``folder`` (read again when a file in it changed)."""
    path = Path(folder)
    stamp = sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir()) if path.is_dir() else None
    return _common.cached_result("sae_open", None, (folder, stamp), lambda: load_sae(folder), max_entries=4)


def current_sae(source: str, arg: tuple) -> tuple:
    """(the SAE, a key naming it) from the last training (``source`` "train", its settings) or folder opened."""
    if source == "train":
        run = run_training(*arg)
        return run.sae, run.sae_dir
    return open_sae(*arg), arg[0]


def run_labels(sae, sae_key: str):
    return _common.cached_result(
        "feature_labels", model, (sae_key,),
        lambda: label_features(model, sae, default_annotations(max_sentences=300, n_places=100, n_statements=100),
                               top_n=200, progress=False), spinner="Labelling features…", max_entries=4)


def run_store(sae, sae_key: str, n_texts: int, sources: tuple[str, ...]):
    def compute():
        texts = default_texts(split="heldout", max_texts=n_texts, sources=sources)
        with _common.progress_bar("Encoding held-out text") as bar:
            return feature_store(model, sae, texts, progress=bar)

    return _common.cached_result("sae_store", model, (sae_key, n_texts, sources), compute, max_entries=4)


st.title("Sparse features")
st.caption("Train a sparse autoencoder (TopK, Gao et al. 2024) on one layer, then open its features: top contexts, "
           "activation histogram, promoted tokens, labels from annotated words.")
train_tab, open_tab = st.tabs(["Train", "Open an SAE folder"])
with train_tab:
    with st.form("features_train_form"):
        left, middle, right = st.columns(3)
        layer = left.number_input("Layer (0 = embeddings)", 0, model.n_layers, model.n_layers // 2,
                                  key="features_layer")
        width = middle.number_input("Latents", 8, 65536, 8 * model.d_model, key="features_width")
        k = right.number_input("Active latents per token (k)", 1, 512, 32, key="features_k")
        left, middle, right = st.columns(3)
        n_texts = left.number_input("Training texts (built-in corpus)", 10, 100000, 2000, step=10,
                                    key="features_n_texts")
        batch_size = middle.number_input("Tokens per step", 16, 65536, 4096, key="features_batch")
        sources = right.multiselect("Corpus sources", list(SOURCES), QUICK_SOURCES, key="features_sources")
        submitted = st.form_submit_button("Train", type="primary")
    training = (int(layer), int(width), int(k), int(n_texts), tuple(sources), int(batch_size))
    run = _common.page_result("features_run", run_training, training, submitted=submitted, loaded=loaded,
                              hint="Pick at least one corpus source.")
    source = ("train", training) if submitted and run is not None else None
    if run is not None:
        _common.show_result(run, "sae_training")
with open_tab:
    folder = st.text_input("SAE folder (cfg.json + sae_weights.safetensors, SAELens's layout)", key="features_folder")
    if st.button("Open", key="features_open") and folder.strip():
        sae = _common.guarded(open_sae, folder.strip(), hint="Give a folder written by `interp sae train` or SAELens.")
        source = ("open", (folder.strip(),)) if sae is not None else source

current = _common.page_result("features_sae", current_sae, source, submitted=source is not None, loaded=loaded)
if current is None:
    st.info("Train an SAE, or open a saved one, to browse its features.", icon=":material/play_arrow:")
    st.stop()
sae, sae_key = current
st.subheader(f"Features of {sae.hook_name} ({sae.d_sae:,} latents)")
left, right = st.columns(2)
store_texts = left.number_input("Held-out texts to search", 10, 5000, 100, step=10, key="features_store_texts")
store_sources = right.multiselect("Their sources", list(SOURCES), QUICK_SOURCES, key="features_store_sources")
store = _common.guarded(run_store, sae, sae_key, int(store_texts), tuple(store_sources))
if store is None:
    st.stop()

labelled = _common.page_result("features_labels", lambda key: run_labels(sae, key), (sae_key,),
                               submitted=st.button("Label features from annotations (POS tags, places, true/false)",
                                                   key="features_label"),
                               loaded=loaded, same_request=True)  # the labels of the SAE shown, none of another's
label_of = labelled.label_of() if labelled is not None else {}
if labelled is not None:
    with st.expander("Labels"):
        _common.show_result(labelled, "feature_labels")

query = st.text_input("Search features by label (e.g. pos:NOUN, place) or by token (e.g. the)", key="features_query")
if query.strip():
    by_label = [f for f, lab in label_of.items() if query.strip().lower() in lab.lower()]
    hits = [(f, float("nan")) for f in by_label] + store.features_on_token(query)[:20]
    st.dataframe([{"feature": f, "label": label_of.get(f, ""), "mean activation on the token": v,
                   "top tokens": " | ".join(store.top_tokens(f))} for f, v in hits], hide_index=True)

counts = store.firing_counts()
start = int(counts.argmax()) if counts.any() else 0
feature = st.number_input("Feature", 0, sae.d_sae - 1, start, key="features_feature")
dash = _common.guarded(feature_dashboard, model, sae, int(feature), store=store)
if dash is not None:
    if int(feature) in label_of:
        st.markdown(f"**Label:** {label_of[int(feature)]}")
    st.html(dash.context_html())
    _common.show_result(dash, f"feature_{int(feature)}")

prompt = st.text_input("A prompt's active features", "The city of Paris is in France.", key="features_prompt")
if prompt.strip():
    one = _common.guarded(feature_store, model, sae, [prompt], progress=False)
    if one is not None:
        st.dataframe(one.active_features(0, labels=label_of), hide_index=True)
