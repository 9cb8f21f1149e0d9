"""Input checks shared by every public function.

Each helper raises a named error from :mod:`interp.errors` whose message says what was wrong, what
is allowed and what was given, so callers never need to format those messages themselves.
"""

from __future__ import annotations

import difflib
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
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


_RANGE = re.compile(r"(-?\d*):(-?\d+)(?::(-?\d*))?")


def parse_layers(value: Any, *, where: str | None, name: str = "layers", negative: bool = True,
                 error: Callable[[str], Exception] = InvalidParameterError) -> str | list[int]:
    """The one reader of a layer selection (the CLI's ``--layers``, a batch spec's ``probe.layers``, a page).

    Accepts ``"all"``; an int; a list (or tuple, range, array) of ints; or a string holding one int
    (``"3"``), a comma list (``"0,3,6"``) or a Python-style range ``"start:stop[:step]"`` (``"0:31:3"``,
    ``":4"``; ``stop`` is excluded, ``start`` defaults to 0 and ``step`` to 1). With ``negative=False``
    (batch specs, read before any model's depth is known) a negative layer is refused; otherwise it
    counts from the end, as :func:`check_layer` resolves it once the model is known.

    Returns:
        ``"all"``, or the sorted distinct layers. Whether they exist in a model is not checked here.

    Raises:
        ``error(message)`` (:class:`InvalidParameterError` by default) naming ``name``, ``where``, what is
        accepted and what was given; or saying that a range holds no layer. With ``where=None`` the message
        leaves out "The 'name' parameter of where" (for a caller that names the place itself, as a batch
        spec's ``[probe].layers: ...`` does).

    Example:
        >>> parse_layers("0:31:10", where="f"), parse_layers(" 4, 8 ", where="f"), parse_layers([3, 1], where="f")
        ([0, 10, 20, 30], [4, 8], [1, 3])
    """
    allowed = (f"'all', {'an int' if negative else 'a non-negative int'}, a list of them, a comma list such as "
               f"0,3,6 or a range 'start:stop[:step]' such as 0:31:3")

    subject = "" if where is None else f"The {name!r} parameter of {where} "

    def fail() -> Exception:
        return error(f"{subject}must be {allowed}. Got {value!r} instead.")

    if isinstance(value, str):
        text = "".join(value.split())
        if text == "all":
            return "all"
        if ":" in text:
            match = _RANGE.fullmatch(text)
            if not match or match.group(3) in ("0", "-0"):
                raise fail()
            start, stop, step = int(match.group(1) or 0), int(match.group(2)), int(match.group(3) or 1)
            layers = list(range(start, stop, step))
            if not layers:
                raise error(f"{subject.rstrip() + ': ' if subject else ''}the range {value!r} holds no layer.")
        else:
            try:
                layers = [int(part) for part in text.split(",") if part]
            except ValueError:
                raise fail() from None
    elif isinstance(value, bool):
        raise fail()
    elif isinstance(value, numbers.Integral):
        layers = [int(value)]
    elif isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        items = items if isinstance(items, list) else [items]
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
            raise fail()
        layers = [int(v) for v in items]
    else:
        raise fail()
    if not layers or (not negative and min(layers) < 0):
        raise fail()
    return sorted(set(layers))


def every_nth_layer(n_layers: int, step: int) -> list[int]:
    """Every ``step``-th layer of a model with ``n_layers`` blocks, from 0 (the embeddings) up, and always
    the last layer ``n_layers`` (layer l is the residual stream after block l - 1).

    Example:
        >>> every_nth_layer(30, 10), every_nth_layer(30, 7), every_nth_layer(2, 1)
        ([0, 10, 20, 30], [0, 7, 14, 21, 28, 30], [0, 1, 2])
    """
    check_int(n_layers, name="n_layers", where="every_nth_layer", low=0)
    check_int(step, name="step", where="every_nth_layer", low=1)
    return sorted({*range(0, n_layers + 1, step), n_layers})


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
