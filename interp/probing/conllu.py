"""Read a CoNLL-U treebank (Universal Dependencies) as gold-tagged sentences for the POS probe.

A treebank brings its own tokenisation and its own, human-checked UPOS tags, so a probe trained or
scored on it is measured against gold rather than against spaCy. :func:`read_conllu` parses the
file with the ``conllu`` package and returns one record per sentence, in the shape of the tagged
corpora (``{"sentence", "words", "tags"}``), plus ``"spans"``: each word's character span in the
sentence, which is what the words are aligned to the model's tokens by.

How the CoNLL-U format's special lines are read (https://universaldependencies.org/format.html):

- **Multiword tokens** (``2-3 don't`` over ``2 do`` and ``3 n't``): when the syntactic words spell
  the surface token (English contractions, ``cannot``, ``gonna``), each word is kept with its own
  span inside the token; otherwise (French ``du`` = ``de le``) the surface token is one word, tagged
  with the UPOS of its head word (the one whose head lies outside the range).
- **Empty nodes** (``8.1``) have no surface form and are skipped.
- The sentence is the ``# text =`` comment when its words can be found in it in order; otherwise it
  is rebuilt from the surface tokens and their ``SpaceAfter=No`` marks.

Example:
    >>> from interp.probing.conllu import read_conllu
    >>> read_conllu("en_ewt-ud-test.conllu", max_sentences=1)[0]["tags"]
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from interp.errors import InvalidTreebankError

__all__ = ["read_conllu", "is_conllu_path", "CONLLU_SUFFIXES"]

CONLLU_SUFFIXES = (".conllu", ".conll")
_UPOS = frozenset(("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
                   "PUNCT", "SCONJ", "SYM", "VERB", "X"))


def is_conllu_path(path: str | os.PathLike) -> bool:
    """True for a file name ending in ``.conllu`` or ``.conll`` (any case)."""
    return Path(path).suffix.lower() in CONLLU_SUFFIXES


def _fail(path: Any, sentence: int, message: str) -> InvalidTreebankError:
    return InvalidTreebankError(f"{path}, sentence {sentence}: {message} A CoNLL-U file has one token per line "
                                "(10 tab-separated columns: ID FORM LEMMA UPOS ...) and a blank line after each "
                                "sentence; see https://universaldependencies.org/format.html.")


def _surface(sentence: Any, path: Any, number: int) -> list[tuple[str, bool, list[dict[str, Any]]]]:
    """The sentence's surface tokens: (form, space after?, its syntactic words), empty nodes left out."""
    tokens: list[tuple[str, bool, list[dict[str, Any]]]] = []
    covered: set[int] = set()
    by_id = {t["id"]: t for t in sentence if isinstance(t["id"], int)}
    for token in sentence:
        tid, form = token["id"], token["form"]
        space = not (token["misc"] or {}).get("SpaceAfter") == "No"
        if isinstance(tid, tuple):
            if len(tid) == 3 and tid[1] == ".":
                continue  # an empty node: no surface form
            if len(tid) != 3 or tid[1] != "-" or not all(isinstance(v, int) for v in (tid[0], tid[2])):
                raise _fail(path, number, f"the ID {tid!r} is neither a word (1), a multiword token (1-2) nor an "
                                          "empty node (1.1).")
            words = [by_id.get(i) for i in range(tid[0], tid[2] + 1)]
            if tid[0] > tid[2] or any(w is None for w in words):
                raise _fail(path, number, f"the multiword token {tid[0]}-{tid[2]} ({form!r}) covers words the "
                                          "sentence does not have.")
            covered.update(range(tid[0], tid[2] + 1))
            tokens.append((form, space, words))
        elif isinstance(tid, int):
            if tid not in covered:
                tokens.append((form, space, [token]))
        else:
            raise _fail(path, number, f"a token has no valid ID ({tid!r}).")
    return tokens


def _record(sentence: Any, path: Any, number: int) -> dict[str, Any]:
    tokens = _surface(sentence, path, number)
    if not tokens:
        raise _fail(path, number, "it has no words.")
    for form, _, words in tokens:
        if not isinstance(form, str) or not form.strip():
            raise _fail(path, number, f"a token has no form ({form!r}).")
        for word in words:
            if word["upos"] in (None, "_", ""):
                raise _fail(path, number, f"word {word['id']} ({word['form']!r}) has no UPOS tag ('_'); a gold "
                                          "treebank tags every word.")
            if word["upos"] not in _UPOS:
                raise _fail(path, number, f"word {word['id']} ({word['form']!r}) has UPOS {word['upos']!r}; "
                                          f"expected one of the 17 Universal POS tags ({', '.join(sorted(_UPOS))}).")
    # the text: the '# text' comment if the surface forms are found in it in order, else rebuilt from the tokens
    text = sentence.metadata.get("text") if sentence.metadata else None
    starts = _find_all(text, [form for form, _, _ in tokens]) if isinstance(text, str) else None
    if starts is None:
        text, starts, cursor = "", [], 0
        for form, space, _ in tokens:
            starts.append(cursor)
            text += form + (" " if space else "")
            cursor = len(text)
        text = text.rstrip()
    words, tags, spans = [], [], []
    for (form, _, parts), start in zip(tokens, starts):
        pieces = [p["form"] for p in parts]
        if len(parts) > 1 and "".join(pieces) == form and all(pieces):
            offset = start
            for part in parts:
                words.append(part["form"])
                tags.append(part["upos"])
                spans.append([offset, offset + len(part["form"])])
                offset += len(part["form"])
        else:
            ids = {p["id"] for p in parts}
            heads = [p for p in parts if p.get("head") not in ids]
            words.append(form)
            tags.append((heads or parts)[0]["upos"])
            spans.append([start, start + len(form)])
    return {"sentence": text, "words": words, "tags": tags, "spans": spans}


def _find_all(text: str, forms: list[str]) -> list[int] | None:
    """Start of each form in ``text``, in order with only whitespace between them, or None."""
    starts, cursor = [], 0
    for form in forms:
        start = text.find(form, cursor)
        if start < 0 or text[cursor:start].strip():
            return None
        starts.append(start)
        cursor = start + len(form)
    return starts if not text[cursor:].strip() else None


def read_conllu(path: str | os.PathLike, *, max_sentences: int | None = None) -> list[dict[str, Any]]:
    """The sentences of a CoNLL-U file with their gold UPOS tags.

    Args:
        path: a ``.conllu`` file (UTF-8).
        max_sentences: read only the first N sentences.

    Returns:
        One ``{"sentence": str, "words": [str], "tags": [str], "spans": [[start, end]]}`` per sentence:
        the words of the treebank's tokenisation (see the module docstring for multiword tokens and
        empty nodes), their gold UPOS tags, and each word's character span in ``sentence``.

    Raises:
        FileNotFoundError: no such file.
        InvalidTreebankError: not UTF-8, binary, a malformed line, a word without a UPOS tag (``_``) or
            with a tag outside the 17 UPOS tags, a broken multiword token, or no sentence at all.
    """
    import conllu
    from conllu.exceptions import ParseException

    from interp._textfiles import read_text

    path = Path(path)
    text = read_text(path, expect="a UTF-8 CoNLL-U file", what="CoNLL-U file", error=InvalidTreebankError)
    records: list[dict[str, Any]] = []
    number = 0
    try:
        for number, sentence in enumerate(conllu.parse_incr(io.StringIO(text)), start=1):
            if not len(sentence):
                continue  # comment lines without tokens
            for token in sentence:
                if len(token) < 10 or "upos" not in token:
                    raise _fail(path, number, f"the line of token {token.get('id')!r} has {len(token)} columns, not 10.")
            records.append(_record(sentence, path, number))
            if max_sentences is not None and len(records) >= max_sentences:
                break
    except InvalidTreebankError:
        raise
    except ParseException as exc:
        raise _fail(path, number + 1, f"the conllu parser refused a line ({exc}).") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise _fail(path, number + 1, f"a line could not be read ({type(exc).__name__}: {exc}).") from None
    if not records:
        raise InvalidTreebankError(f"{path} holds no CoNLL-U sentence (no token lines).")
    return records

