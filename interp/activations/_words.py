"""Words and tokens: where each word of a text is, in characters and in the model's token positions.

:func:`word_token_positions` aligns words (e.g. spaCy tokens) to the tokens of ``model.encode(text)``
through the tokenizer's character offsets; :func:`collect`'s ``"word_last"`` / ``"word_mean"`` rows use it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from interp.errors import InvalidParameterError

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["WordsArg", "word_spans", "word_token_positions"]

WordsArg = Sequence[Sequence[str] | Sequence[tuple[int, int]]]


def word_spans(text: str, words: Sequence[str] | Sequence[tuple[int, int]], *, where: str = "word_spans",
               item: int | None = None) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of each word of ``text``.

    ``words`` is either the words themselves, in order (each is found after the previous one, with
    only whitespace allowed between them, as a tokenizer such as spaCy's produces), or the spans.
    """
    label = f" (text {item})" if item is not None else ""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise InvalidParameterError(f"The 'words' of {where}{label} must be a list of words or of (start, end) spans. "
                                    f"Got {type(words).__name__} instead.")
    spans: list[tuple[int, int]] = []
    cursor = 0
    for j, word in enumerate(words):
        if isinstance(word, str):
            if not word or not word.strip():
                raise InvalidParameterError(f"Word {j} given to {where}{label} is empty or only whitespace: {word!r}.")
            start = text.find(word, cursor)
            if start < 0 or text[cursor:start].strip():
                raise InvalidParameterError(
                    f"Word {j} given to {where}{label}, {word!r}, is not the next word of the text after character "
                    f"{cursor} (text: {text[:60]!r}). Words must be substrings of the text, in order.")
            spans.append((start, start + len(word)))
            cursor = start + len(word)
        elif (isinstance(word, (tuple, list)) and len(word) == 2
              and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in word)):
            start, end = int(word[0]), int(word[1])
            if not 0 <= start < end <= len(text):
                raise InvalidParameterError(f"Span {j} given to {where}{label} is {tuple(word)}; spans must satisfy "
                                            f"0 <= start < end <= len(text) = {len(text)}.")
            spans.append((start, end))
        else:
            raise InvalidParameterError(f"Word {j} given to {where}{label} must be a str or a (start, end) pair of ints. "
                                        f"Got {word!r} instead.")
    return spans


def word_token_positions(model: Model, text: str, words: Sequence[str] | Sequence[tuple[int, int]], *,
                         where: str = "word_token_positions", item: int | None = None) -> list[list[int]]:
    """The token positions of each word, in the coordinates of ``model.encode(text)`` (BOS counted).

    A token belongs to a word when their character spans overlap (the tokenizer's offsets mapping),
    so a word split into several tokens gets all of them, punctuation gets its own token, and a
    token that is only whitespace (``" "`` before a digit, say) belongs to no word.

    Example:
        >>> word_token_positions(model, "Unbelievably, 12345!", ["Unbelievably", ",", "12345", "!"])
        [[1, 2, 3, 4], [5], [7, 8, 9, 10, 11], [12]]
    """
    spans = word_spans(text, words, where=where, item=item)
    try:
        encoded = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError:  # slow (Python) tokenizers have no offsets
        raise InvalidParameterError(f"{where} needs a fast tokenizer with offsets to align words and tokens; "
                                    f"{model.name}'s tokenizer has none.") from None
    offsets = encoded["offset_mapping"]
    shift = 1 if model.prepend_bos else 0
    starts = [s for s, _ in spans]
    positions: list[list[int]] = [[] for _ in spans]
    for i, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        j = bisect.bisect_right(starts, end - 1) - 1  # last word starting inside the token
        while j >= 0 and spans[j][1] > start:
            if spans[j][0] < end:
                positions[j].append(i + shift)
            j -= 1
    for j, found in enumerate(positions):
        if not found:
            label = f" (text {item})" if item is not None else ""
            raise InvalidParameterError(f"Word {j} given to {where}{label}, {text[spans[j][0]:spans[j][1]]!r}, "
                                        "covers no token of the text.")
        found.sort()
    return positions

