"""Probing page: where in the model is a word's part of speech readable?

A thin shell over :func:`interp.probing.pos_probe`: it runs the probe sweep (or opens a saved
``result.json`` from ``interp probe pos --out DIR``), shows ``result.plot()`` (accuracy, control accuracy
and selectivity by layer, with the baselines), ``result.plot_confusion()`` and ``result.tag_frame()`` at the best layer, and
``result.predict_layers()`` for a sentence typed in the box. An uploaded CoNLL-U treebank is scored
against its gold tags (``eval_texts``), with spaCy's accuracy on the same words beside it.
"""

import hashlib
import tempfile
from pathlib import Path

import _common
import streamlit as st

import interp
from interp._params import options_of
from interp._validation import every_nth_layer
from interp.probing.pos import POSProbeResult, pos_probe

DEFAULT_SENTENCE = "The old man walked his dog to the park before it started to rain."


def run_pos_probe(model: interp.Model, probe: str, layers: tuple[int, ...], max_sentences: int, random_baseline: bool,
                  corpus: str = "natural", treebank: bytes | None = None) -> POSProbeResult:
    """From this process, else the explorer cache on disk, else computed with a progress bar of what runs."""
    request = (probe, layers, max_sentences, random_baseline, corpus,
               None if treebank is None else hashlib.sha256(treebank).hexdigest())

    def compute() -> POSProbeResult:
        with _common.progress_bar("Probing every chosen layer") as bar, \
                tempfile.TemporaryDirectory(prefix="interp-treebank-") as folder:
            eval_texts = None
            if treebank is not None:
                eval_texts = Path(folder) / "treebank.conllu"
                eval_texts.write_bytes(treebank)
            return pos_probe(model, corpus=corpus, eval_texts=eval_texts, layers=list(layers), probe=probe,
                             max_sentences=max_sentences, random_baseline=random_baseline,
                             progress=bar)

    return _common.cached_result("pos_probe", model, request, compute, disk=True, max_entries=8)


def tags_per_layer(model: interp.Model, result: POSProbeResult, result_key: tuple, text: str):
    """The tags ``result``'s probes (named by ``result_key``: its settings, or the upload's digest) give ``text``."""
    return _common.cached_result("pos_tags", model, (result_key, text), lambda: result.predict_layers(text, model=model),
                                 spinner="Reading the sentence at every layer…", max_entries=64)


def load_saved(data: bytes) -> POSProbeResult:
    return _common.cached_result("pos_probe_upload", None, (data,),
                                 lambda: POSProbeResult.from_json(data, source="the uploaded file"))


loaded = _common.current_model()
model = loaded.model

st.title("Part-of-speech probes")
st.caption("A probe per layer learns each word's spaCy tag from the residual stream (words aligned to their last "
           "sub-token) on training sentences and is scored on held-out sentences. Selectivity = accuracy minus the "
           "accuracy on a control task that gives each word type a fixed random tag (Hewitt & Liang 2019). The "
           "natural corpus is hand-written English of many registers; the grammar corpus is made by a small grammar "
           "whose patterns a probe can learn instead of English. Upload a CoNLL-U treebank to see how the probes do "
           "on real text against gold tags, next to spaCy on the same words.")

_common.defaults_note("probing")
with st.form("probing_form"):
    left, middle, right = st.columns(3)
    probe = left.selectbox("Probe", options_of(pos_probe, "probe"), key="probing_probe")
    step = middle.number_input("Every n-th layer", 1, max(1, model.n_layers), max(1, model.n_layers // 10),
                               key="probing_step", help="Layer 0 (embeddings) and the last layer are always included.")
    max_sentences = right.number_input("Sentences of the built-in corpus", 20, 5000, 600, step=100,
                                       key="probing_sentences")
    corpus = left.selectbox("Built-in corpus", options_of(pos_probe, "corpus"), key="probing_corpus",
                            help="natural: hand-written sentences of many registers; grammar: grammar-made sentences.")
    treebank = st.file_uploader("Score on a treebank (CoNLL-U, optional): gold tags, never trained on",
                                type=["conllu"], key="probing_treebank")
    random_baseline = st.checkbox("Random-weights baseline (probes the same architecture with random weights)",
                                  value=True, key="probing_random")
    submitted = st.form_submit_button("Run the probes", type="primary")
uploaded = st.file_uploader("…or open a saved result (DIR/result.json from `interp probe pos --out DIR`)", type=["json"],
                            key="probing_upload")

layers = tuple(every_nth_layer(model.n_layers, int(step)))
request = (probe, layers, int(max_sentences), bool(random_baseline), corpus,
           None if treebank is None else treebank.getvalue())
result = _common.page_result("probing", lambda *r: run_pos_probe(model, *r), request, submitted=submitted,
                             loaded=loaded)
current = None if result is None else (("run", _common.kept_request("probing")), result)
if uploaded is not None:  # an open upload is shown, whatever ran
    data = uploaded.getvalue()
    result = _common.guarded(load_saved, data, hint="Upload the result.json that `interp probe pos --out DIR` wrote.")
    current = None if result is None else (("upload", data), result)
if current is None:
    st.info("Choose the settings and press **Run the probes** (the default model takes a few minutes on a CPU), or "
            "open a saved result.", icon=":material/play_arrow:")
    st.stop()
result_key, result = current

st.subheader("Accuracy and selectivity by layer")
_common.show_summary(result)
_common.chart(result.plot())
baselines = {"Best layer": f"{result.best_layer}", "Best accuracy": f"{result.accuracy.max():.3f}",
             **{name.replace("_", " ").capitalize(): "-" if value is None else f"{value:.3f}"
                for name, value in result.baselines.items()}}
if result.spacy_accuracy is not None:
    baselines["spaCy vs gold"] = f"{result.spacy_accuracy:.3f}"
if result.eval_accuracy is not None:
    baselines["On the treebank"] = f"{result.eval_at_best:.3f}"
    if result.eval_spacy_accuracy is not None:
        baselines["spaCy on the treebank"] = f"{result.eval_spacy_accuracy:.3f}"
for column, (label, value) in zip(st.columns(len(baselines)), baselines.items()):
    column.metric(label, value, border=True)
with st.expander("Per-layer table"):
    st.dataframe(result.to_frame(), hide_index=True)

st.subheader(f"At the best layer ({result.best_layer})")
chart, table = st.columns([3, 2])
_common.chart(result.plot_confusion(), chart, title_chars=60)
table.dataframe(result.tag_frame(), hide_index=True)

st.subheader("Tags of your sentence at every layer")
sentence = st.text_input("Sentence", value=DEFAULT_SENTENCE, key="probing_sentence")
if result.model_name != model.name:
    st.warning(f"This result was computed on {result.model_name}, but the sidebar model is {model.name}; pick "
               f"{result.model_name} to read a sentence with it.", icon=":material/warning:")
else:
    frame = _common.guarded(tags_per_layer, model, result, result_key, sentence)
    if frame is not None:
        layer_columns = [c for c in frame.columns if c.startswith("layer ")]
        st.dataframe(frame.style.apply(
            lambda row: ["" if c not in layer_columns else
                         ("background-color: #d8f0d8" if row[c] == row["spacy"] else "background-color: #f6d5d5")
                         for c in frame.columns], axis=1), hide_index=True)
        st.caption("Green: the probe agrees with spaCy; red: it does not.")

_common.downloads(result, "pos_probe")
