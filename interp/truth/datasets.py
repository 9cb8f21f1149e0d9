"""True/false statement datasets for truth probes, and their loader.

The built-in sets ship inside the package (``interp/data/truth/*.csv``, read with ``importlib.resources``),
written by the seeded ``probes/truth/generate.py``
(curated after Marks & Tegmark 2023, "The Geometry of Truth"): ``cities``, ``neg_cities``,
``capitals``, ``continents``, ``larger_than``, ``sums`` and the hand-written ``facts``; and, in the
forms users bring (word lists in ``probes/truth/lexicon.py``): numbers as words
(``larger_than_words``), ``smaller_than``, ``neg_larger_than``, Spanish and French words and their
English meaning (``translations_es``, ``translations_fr``, ``neg_translations_es``), products and
their makers (``companies``, ``neg_companies``), everyday claims (``everyday``, ``neg_everyday``)
and question-and-answer facts (``qa_facts``). A CSV has
the columns ``statement``, ``label`` (1 true, 0 false), ``provenance`` and ``pair_id``; rows that
share a ``pair_id`` are a contrast pair (one true, one false) for CCS, and splits never separate a
pair. Your own CSV with the same columns loads the same way.

Example:
    >>> from interp.truth import load_dataset
    >>> ds = load_dataset("cities")
    >>> len(ds), ds.statements[0], ds.labels[:2]
    (1500, 'The city of Nampula is in Mozambique.', array([1, 0]))
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.errors import InvalidDatasetError

if TYPE_CHECKING:
    from pandas import DataFrame

__all__ = ["COLUMNS", "DATASETS", "DATA_DIR", "TruthDataset", "load_dataset", "load_datasets"]

# The built-in CSVs, inside the installed package (a Traversable: a Path for any unpacked install).
DATA_DIR = resources.files("interp") / "data" / "truth"
DATASETS = ("cities", "neg_cities", "capitals", "continents", "larger_than", "sums", "facts",
            "larger_than_words", "smaller_than", "neg_larger_than", "translations_es", "translations_fr",
            "neg_translations_es", "companies", "neg_companies", "everyday", "neg_everyday", "qa_facts")
COLUMNS = ("statement", "label", "provenance", "pair_id")


@dataclasses.dataclass(eq=False)
class TruthDataset:
    """Labelled statements with contrast pairs.

    Attributes:
        name: the set's name (a built-in name or the CSV's stem).
        statements: (n,) the statements.
        labels: (n,) int array, 1 = true, 0 = false.
        pair_ids: (n,) the contrast pair of each statement.
        provenance: (n,) where each statement came from.
    """

    name: str
    statements: list[str]
    labels: np.ndarray
    pair_ids: list[str]
    provenance: list[str]

    def __len__(self) -> int:
        return len(self.statements)

    def pairs(self) -> np.ndarray:
        """(n_pairs, 2) row indices of the complete pairs (one true and one false row), in order."""
        rows: dict[str, list[int]] = {}
        for i, pid in enumerate(self.pair_ids):
            rows.setdefault(pid, []).append(i)
        good = [r for r in rows.values() if len(r) == 2 and self.labels[r[0]] != self.labels[r[1]]]
        return np.asarray(good, dtype=np.int64).reshape(-1, 2)

    def subset(self, rows: Sequence[int] | np.ndarray, name: str | None = None) -> TruthDataset:
        rows = np.asarray(rows, dtype=np.int64)
        return TruthDataset(name or self.name, [self.statements[i] for i in rows], self.labels[rows],
                            [self.pair_ids[i] for i in rows], [self.provenance[i] for i in rows])

    def sample(self, max_pairs: int | None, seed: int = 0) -> TruthDataset:
        """At most ``max_pairs`` whole pairs drawn at random (all of them if None), rows kept in order."""
        pairs = self.pairs()
        if max_pairs is None or len(pairs) <= max_pairs:
            return self.subset(np.sort(pairs.ravel()))
        keep = np.random.default_rng(seed).choice(len(pairs), size=int(max_pairs), replace=False)
        return self.subset(np.sort(pairs[keep].ravel()))

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"statement": self.statements, "label": self.labels, "provenance": self.provenance,
                             "pair_id": self.pair_ids})


def load_dataset(name_or_path: str | os.PathLike | TruthDataset) -> TruthDataset:
    """A built-in set by name (see ``DATASETS``) or a CSV with the columns statement, label, provenance, pair_id.

    ``label`` accepts 1/0, true/false (any case). ``provenance`` may be left out (it becomes the
    file name); ``pair_id`` may be left out (then each row is its own group and CCS has no pairs).

    Raises:
        InvalidDatasetError: an unknown name, a missing file, a missing ``statement`` or ``label``
            column, an empty statement, a label that is not true/false, or only one class.
    """
    if isinstance(name_or_path, TruthDataset):
        return name_or_path
    text = str(name_or_path)
    if text in DATASETS:
        path, name = DATA_DIR / f"{text}.csv", text
        if not path.is_file():
            raise InvalidDatasetError(f"The built-in dataset {text!r} is missing ({path}); regenerate it with "
                                      "`python probes/truth/generate.py`.")
    else:
        path, name = Path(text), Path(text).stem
        if path.suffix.lower() != ".csv" or not path.is_file():
            from interp.errors import choices_text

            raise InvalidDatasetError(f"Unknown dataset {text!r}: give one of {choices_text(DATASETS)} or the path "
                                      "of an existing .csv file with columns statement, label, provenance, pair_id.")
    try:
        with path.open("r", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDatasetError(f"{path} is not a readable UTF-8 CSV file: {exc}.") from None
    missing = [c for c in ("statement", "label") if c not in fields]
    if missing:
        raise InvalidDatasetError(f"{path} lacks the column(s) {missing}; a truth CSV needs the columns "
                                  f"{list(COLUMNS)} (provenance and pair_id optional). Found {fields}.")
    if not rows:
        raise InvalidDatasetError(f"{path} holds no statements.")
    statements, labels, pair_ids, provenance = [], [], [], []
    for i, row in enumerate(rows):
        statement = (row.get("statement") or "").strip()
        if not statement:
            raise InvalidDatasetError(f"{path}, data row {i + 1}: the statement is empty.")
        labels.append(_label(row.get("label"), path, i))
        statements.append(statement)
        pair_ids.append((row.get("pair_id") or "").strip() or f"row-{i}")
        provenance.append((row.get("provenance") or "").strip() or path.name)
    labels_arr = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels_arr)) < 2:
        raise InvalidDatasetError(f"{path} holds only {'true' if labels_arr[0] else 'false'} statements; a truth "
                                  "dataset needs both.")
    return TruthDataset(name, statements, labels_arr, pair_ids, provenance)


def _label(value: Any, path: Path, i: int) -> int:
    text = str(value if value is not None else "").strip().lower()
    if text in ("1", "true", "t", "yes"):
        return 1
    if text in ("0", "false", "f", "no"):
        return 0
    raise InvalidDatasetError(f"{path}, data row {i + 1}: label {value!r} is not one of 1, 0, true, false.")


def load_datasets(datasets: Any, *, where: str) -> list[TruthDataset]:
    """A name, a path, a dataset or a list of them -> a non-empty list of :class:`TruthDataset`."""
    items = [datasets] if isinstance(datasets, (str, os.PathLike, TruthDataset)) else list(datasets or [])
    if not items:
        raise InvalidDatasetError(f"The 'datasets' parameter of {where} is empty; give at least one of {list(DATASETS)} "
                                  "or a CSV path.")
    loaded = [load_dataset(d) for d in items]
    names = [d.name for d in loaded]
    if len(set(names)) != len(names):
        raise InvalidDatasetError(f"The 'datasets' of {where} repeat a name: {names}.")
    return loaded
