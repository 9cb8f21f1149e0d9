"""One target type and one metric vocabulary for every analysis that scores what a model says next.

- :class:`Target` ``(answer, foil=None)``: the continuation to explain (a string such as ``" Paris"``, a token
  id, or a list of ids) and an optional foil (``" Rome"``) whose logit is subtracted. Analyses take
  ``target=`` as a string, an id, a ``Target``, or a list of those with one per prompt.
- ``metric=``: a named choice, ``"logprob"``, ``"prob"``, ``"logit"`` or ``"logit_diff"`` (``logit(answer) -
  logit(foil)``), or a callable ``metric(logits, target_ids, foil_ids) -> tensor`` (TransformerLens's
  ``patching_metric``, kronfluence's ``compute_measurement``): ``logits`` (..., d_vocab), ``target_ids`` (...)
  and ``foil_ids`` (...) or None, returning (...) values. :func:`metric_values` applies either.
- :func:`token_ids`: THE token resolver. It turns a string, an id or a list of ids into token ids with one
  clear error for each way that can fail (wrong type, no tokens, not exactly one token, id out of range).
- :func:`renamed_parameter`: an old parameter name (``answer`` / ``wrong_answer``, ``contrast``) keeps working
  for one release with a ``DeprecationWarning``.

Example:
    >>> from interp.targets import Target
    >>> activation_patching(model, clean, corrupted, target=Target(" Paris", foil=" Rome"))
    >>> token_ablation(model, "The capital of France is", Target(" Paris", foil=" Rome"))
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from interp._validation import check_int
from interp.errors import EmptyPromptError, InvalidParameterError

__all__ = ["Target", "METRICS", "Metric", "token_ids", "one_token", "per_prompt", "check_metric", "metric_values",
           "metric_label", "renamed_parameter", "REMOVED_IN"]

#: The named metrics; a callable ``metric(logits, target_ids, foil_ids)`` is accepted wherever these are.
METRICS = ("logprob", "prob", "logit", "logit_diff")
#: The release that removes the old parameter names this module maps (``answer``, ``wrong_answer``, ``contrast``).
REMOVED_IN = "0.4"

TokenLike = str | int | Sequence[int]
Metric = str | Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Target:
    """What an analysis scores: ``answer`` (a string, a token id or a list of ids) and an optional one-token
    ``foil`` whose logit is subtracted (the metric is then ``logit_diff``)."""

    answer: TokenLike
    foil: str | int | None = None


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def token_ids(model: Any, value: Any, *, name: str = "target", where: str, one: bool = False) -> list[int]:
    """THE token resolver: the ids of ``value`` (a string, tokenized without special tokens; a token id; or a
    list of ids). With ``one=True`` it must be exactly one token.

    Raises:
        InvalidParameterError: another type, an id outside ``[0, d_vocab)``, or (``one``) several tokens.
        EmptyPromptError: a string that tokenizes to no tokens.
    """
    if _is_id(value):
        return [check_int(int(value), name=name, where=where, low=0, high=model.d_vocab)]
    if isinstance(value, str):
        ids = [int(i) for i in model.tokenizer(value, add_special_tokens=False)["input_ids"]]
        if not ids:
            raise EmptyPromptError(f"The {name!r} parameter of {where} tokenizes to no tokens: got {value!r}. Give a "
                                   "continuation such as ' Paris' (mind the leading space), or a token id.")
    elif isinstance(value, (Sequence, np.ndarray, torch.Tensor)) and len(value) and all(_is_id(v) for v in
                                                                                           list(value)):
        ids = [check_int(int(v), name=name, where=where, low=0, high=model.d_vocab) for v in list(value)]
    else:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be a str (e.g. ' Paris'), a token id, a "
                                    f"list of token ids or an interp.Target. Got {value!r} instead.")
    if one and len(ids) != 1:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be one token: got {value!r}, which is "
                                    f"{len(ids)} tokens ({model.ids_to_str(ids)}), and it needs exactly one token. "
                                    "Mind the leading space (' Paris', not 'Paris').")
    return ids


def one_token(model: Any, value: Any, *, name: str = "target", where: str) -> int:
    """:func:`token_ids` of a value that must be exactly one token."""
    return token_ids(model, value, name=name, where=where, one=True)[0]


def per_prompt(value: Any, n: int, *, name: str = "target", where: str) -> list[Any]:
    """One entry per prompt: None or a single value (str, id, :class:`Target`) repeated, or a list of ``n``."""
    if value is None or isinstance(value, (str, Target)) or _is_id(value):
        return [value] * n
    if isinstance(value, Sequence) and len(value) == n:
        return list(value)
    raise InvalidParameterError(f"The {name!r} parameter of {where} must be None, a str, a token id, an "
                                f"interp.Target, or a list with one per prompt ({n}). Got {value!r} instead.")


def split(value: Any, foil: Any = None) -> tuple[Any, Any]:
    """``(answer, foil)`` of a target given as a :class:`Target` or as a bare answer (with ``foil`` apart)."""
    if isinstance(value, Target):
        if foil is not None and value.foil is not None:
            raise InvalidParameterError(f"Two foils given: {value.foil!r} in the Target and {foil!r} apart; give one.")
        return value.answer, value.foil if value.foil is not None else foil
    return value, foil


def check_metric(metric: Any, *, where: str, allowed: Sequence[str] = METRICS) -> None:
    """``metric`` is one of ``allowed`` or a callable ``metric(logits, target_ids, foil_ids)``."""
    if callable(metric):
        return
    if not isinstance(metric, str) or metric not in allowed:
        raise InvalidParameterError(f"The 'metric' parameter of {where} must be one of {', '.join(map(repr, allowed))} "
                                    f"or a callable metric(logits, target_ids, foil_ids). Got {metric!r} instead.")


def metric_label(metric: Any) -> str:
    """The name a result records for ``metric`` (a callable's ``__name__``)."""
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")


def metric_values(metric: Metric, logits: torch.Tensor, target_ids: torch.Tensor,
                  foil_ids: torch.Tensor | None = None) -> torch.Tensor:
    """The metric of ``target_ids`` (...) under ``logits`` (..., d_vocab): float32 values of shape (...).

    Named metrics: ``"logit"``; ``"logprob"`` (logit minus the log-sum-exp over the vocabulary); ``"prob"``
    (its exponential); ``"logit_diff"``, and any metric when ``foil_ids`` is given, ``logit(target) -
    logit(foil)``. A callable gets ``(logits, target_ids, foil_ids)`` as they are.
    """
    if callable(metric):
        return metric(logits, target_ids, foil_ids)
    logits = logits.float()
    picked = logits.gather(-1, target_ids.unsqueeze(-1)).squeeze(-1)
    if foil_ids is not None:
        foil = foil_ids.expand_as(target_ids) if foil_ids.dim() == target_ids.dim() else foil_ids.view(
            *foil_ids.shape, *([1] * (target_ids.dim() - foil_ids.dim()))).expand_as(target_ids)
        return picked - logits.gather(-1, foil.unsqueeze(-1)).squeeze(-1)
    if metric == "logit_diff":
        raise InvalidParameterError("metric='logit_diff' needs a foil: give target=Target(answer, foil=...).")
    if metric == "logit":
        return picked
    logprob = picked - torch.logsumexp(logits, dim=-1)
    return logprob.exp() if metric == "prob" else logprob


def renamed_parameter(where: str, old: str, new: str, value: Any, current: Any = None) -> Any:
    """The value of a renamed parameter: ``value`` given under the ``old`` name warns (DeprecationWarning, gone
    in interp :data:`REMOVED_IN`) and is used unless the ``new`` one (``current``) is given too, which is an error."""
    if value is None:
        return current
    if current is not None:
        raise InvalidParameterError(f"{where}: give {new!r} only; {old!r} is its old name (interp < 0.3).")
    warnings.warn(f"The {old!r} parameter of {where} is now {new!r}; {old!r} goes away in interp {REMOVED_IN}.",
                  DeprecationWarning, stacklevel=3)
    return value
