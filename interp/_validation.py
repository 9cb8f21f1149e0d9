"""Input checks shared by every public function.

Each helper raises a named error from :mod:`interp.errors` whose message says what was wrong, what
is allowed and what was given, so callers never need to format those messages themselves.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from interp.errors import (
    EmptyPromptError,
    InvalidParameterError,
    LayerIndexError,
    choices_text,
)


def check_choice(value: Any, choices: Iterable[Any], *, name: str, where: str, error=InvalidParameterError) -> Any:
    """Return ``value`` if it is one of ``choices``; else raise ``error`` listing them."""
    choices = list(choices)
    if value in choices:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [c for c in choices if isinstance(c, str)], n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise error(
        f"The {name!r} parameter of {where} must be one of {choices_text(choices)}. "
        f"Got {value!r} instead.{hint}"
    )


def check_int(value: Any, *, name: str, where: str, low: int | None = None, high: int | None = None,
              error=InvalidParameterError) -> int:
    """Return ``value`` if it is an int in ``[low, high)``; else raise ``error``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(
            f"The {name!r} parameter of {where} must be an int{_range_text(low, high)}. "
            f"Got {value!r} of type {type(value).__name__} instead."
        )
    if (low is not None and value < low) or (high is not None and value >= high):
        raise error(f"The {name!r} parameter of {where} must be an int{_range_text(low, high)}. Got {value} instead.")
    return value


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high})"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" < {high}"
    return ""


def check_layer(layer: Any, n_layers: int, *, where: str, name: str = "layer", allow_embed: bool = False) -> int:
    """Check a layer index; negative indices count from the end like Python lists.

    With ``allow_embed`` the valid range is ``[0, n_layers]`` where 0 is the embedding output and
    ``l`` the output of block ``l - 1``; otherwise it is ``[0, n_layers)``, one entry per block.
    """
    high = n_layers + 1 if allow_embed else n_layers
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise LayerIndexError(
            f"The {name!r} parameter of {where} must be an int in [0, {high}). "
            f"Got {layer!r} of type {type(layer).__name__} instead."
        )
    resolved = layer + high if layer < 0 else layer
    if not 0 <= resolved < high:
        raise LayerIndexError(
            f"The {name!r} parameter of {where} must be an int in [0, {high}) (negative counts from the end). "
            f"Got {layer} instead."
        )
    return resolved


def check_texts(texts: Any, *, where: str, name: str = "prompt") -> tuple[list[str], bool]:
    """Normalise a prompt or list of prompts; return ``(list_of_texts, was_single)``.

    Raises :class:`EmptyPromptError` for an empty list or a prompt that is empty or only whitespace,
    and :class:`InvalidParameterError` for anything that is not a string.
    """
    if isinstance(texts, str):
        single, items = True, [texts]
    elif isinstance(texts, Sequence) and not isinstance(texts, (bytes, bytearray)):
        single, items = False, list(texts)
        if not items:
            raise EmptyPromptError(f"The {name!r} parameter of {where} is an empty list: give at least one non-empty string.")
    else:
        raise InvalidParameterError(
            f"The {name!r} parameter of {where} must be a str or a list of str. Got {type(texts).__name__} instead."
        )
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"The {name!r} parameter of {where} must hold only str. Item {i} is {type(text).__name__}: {text!r}."
            )
        if not text.strip():
            where_item = "" if single else f" (item {i})"
            raise EmptyPromptError(
                f"The {name!r} parameter of {where} is empty{where_item}: got {text!r}. Give text with at least one "
                "non-whitespace character."
            )
    return items, single
