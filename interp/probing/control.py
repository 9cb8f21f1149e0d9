"""Control tasks and baselines for probes (Hewitt & Liang 2019, "Designing and Interpreting Probes
with Control Tasks").

A probe that reaches high accuracy may have learned the task itself rather than read it off the
representation: a big enough probe can memorise a label per word. The control task measures that
capacity. Every word *type* gets a fixed random label, drawn once from the empirical label
distribution; the control labels therefore have the same marginal distribution as the real ones
and are a function of word identity only, with no linguistic meaning. A probe's **selectivity** is

    selectivity = accuracy on the task - accuracy on the control task (same probe, same split)

High selectivity says the representation makes the real labels easy, not merely any word-keyed
labelling. Two cheap baselines sit beside it: always the majority label, and each word type's
most frequent label in the training split (what a lookup table gets).

Example:
    >>> control_task(["the", "cat", "the"], ["DET", "NOUN", "DET"], seed=0)  # both "the" always agree
    array(['DET', 'DET', 'DET'], dtype='<U4')
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.errors import InvalidParameterError

__all__ = ["control_task", "majority_baseline", "word_type_baseline"]


def _unit_interval(seed: int, word: str) -> float:
    """A number in [0, 1) fixed by (seed, word), the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b(f"{seed}\x00{word}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def control_task(word_types: Sequence[str], labels: Sequence[Any], *, seed: int = 0) -> np.ndarray:
    """Control labels: one fixed random label per word type, from the empirical label distribution.

    The label of a type depends only on ``seed``, the type and the label distribution, not on the
    order of the rows, so the same corpus and seed always give the same control task.

    Args:
        word_types: (n_rows,) the word of each row (its type; compared exactly, case included).
        labels: (n_rows,) the real labels, whose distribution the control labels follow.
        seed: which random assignment.

    Returns:
        (n_rows,) array of control labels, drawn from the same set as ``labels``.
    """
    labels = np.asarray(labels)
    if len(word_types) != len(labels):
        raise InvalidParameterError(f"control_task got {len(word_types)} word types but {len(labels)} labels; "
                                    "they must match.")
    if len(labels) == 0:
        raise InvalidParameterError("control_task needs at least one labelled row.")
    classes, counts = np.unique(labels, return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    table: dict[str, Any] = {}
    for word in word_types:
        if word not in table:
            index = int(np.searchsorted(cdf, _unit_interval(seed, str(word)), side="right"))
            table[word] = classes[min(index, len(classes) - 1)]
    return np.asarray([table[w] for w in word_types], dtype=labels.dtype)


def majority_baseline(train_labels: Sequence[Any], test_labels: Sequence[Any]) -> float:
    """Accuracy on ``test_labels`` of always answering the most frequent training label."""
    if len(train_labels) == 0 or len(test_labels) == 0:
        raise InvalidParameterError("majority_baseline needs non-empty training and test labels.")
    majority = Counter(train_labels).most_common(1)[0][0]
    return float(np.mean(np.asarray(test_labels) == majority))


def word_type_baseline(train_words: Sequence[str], train_labels: Sequence[Any], test_words: Sequence[str],
                       test_labels: Sequence[Any]) -> float:
    """Accuracy of a lookup table: each word type's most frequent training label (else the majority label)."""
    if len(train_words) != len(train_labels) or len(test_words) != len(test_labels):
        raise InvalidParameterError("word_type_baseline: words and labels must have the same length in each split.")
    if len(train_labels) == 0 or len(test_labels) == 0:
        raise InvalidParameterError("word_type_baseline needs non-empty training and test splits.")
    per_word: dict[str, Counter] = {}
    for word, label in zip(train_words, train_labels):
        per_word.setdefault(word, Counter())[label] += 1
    majority = Counter(train_labels).most_common(1)[0][0]
    # ties broken by the label's first appearance in training, as Counter.most_common does
    guesses = [per_word[w].most_common(1)[0][0] if w in per_word else majority for w in test_words]
    return float(np.mean(np.asarray(guesses) == np.asarray(test_labels)))


def random_model(model: Any) -> Any:
    """The same architecture and tokenizer with random weights (seed 1), or None if it cannot be built here
    (the random-weights control of the POS probe and the world map; None for a model that already is one).

    The built-in default model loads by ``None`` (its display name is not a name :func:`interp.load_model`
    takes); any other model by its name, on the same device and dtype.
    """
    from interp.errors import InterpError
    from interp.models.loading import DEFAULT_ALIASES, load_model

    name = model.name
    if name.endswith(" (random weights)"):
        return None  # already the random baseline
    if name in DEFAULT_ALIASES:
        name = None  # the default model loads by None, not by its display name
    try:
        return load_model(name, random_weights=True, seed=1, device=str(model.device), dtype=model.dtype, quiet=True)
    except InterpError:
        return None
