"""The registry of attribution methods and one generic entry point (inseq's ``attribute`` style).

``METHODS`` maps a name to a function ``fn(model, prompt, target=None, **options) ->
AttributionResult``; :func:`attribute` dispatches on the name and checks the options.

Example:
    >>> from interp.attribution import METHODS, attribute
    >>> sorted(METHODS)
    ['ablation', 'grad_x_input', 'gradient', 'integrated_gradients', 'rollout']
    >>> attribute(model, "The capital of France is", method="integrated_gradients", n_steps=16)
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from interp._params import Options, validate_params
from interp.attribution.ablation import token_ablation
from interp.attribution.attention import attention_rollout
from interp.attribution.gradient import grad_x_input, input_gradient, integrated_gradients
from interp.attribution.result import AttributionResult
from interp.errors import InvalidParameterError, choices_text

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["METHODS", "attribute", "check_method"]

#: name -> attribution function ``fn(model, prompt, target=None, **options)``.
METHODS: dict[str, Callable[..., AttributionResult | list[AttributionResult]]] = {
    "ablation": token_ablation,
    "gradient": input_gradient,
    "grad_x_input": grad_x_input,
    "integrated_gradients": integrated_gradients,
    "rollout": attention_rollout,
}


def check_method(method: Any, *, where: str = "attribute") -> str:
    """Return ``method`` if it is registered; else raise InvalidParameterError listing the methods."""
    if isinstance(method, str) and method in METHODS:
        return method
    close = difflib.get_close_matches(str(method), list(METHODS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InvalidParameterError(f"Unknown attribution method: {method!r}. Available methods: "
                                f"{choices_text(METHODS)} (the 'method' parameter of {where}).{hint}")


def _options(fn: Callable[..., Any]) -> list[str]:
    """The keyword options ``fn`` accepts (those of gradient_saliency for its thin wrappers)."""
    params = inspect.signature(fn).parameters
    names = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    if any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values()):  # thin wrappers of gradient_saliency
        from interp.attribution.gradient import gradient_saliency

        names = [p for p, v in inspect.signature(gradient_saliency).parameters.items()
                 if v.kind is inspect.Parameter.KEYWORD_ONLY and p != "method"]
    return names


@validate_params({"model": ["model"], "prompt": ["texts"],
                  "method": [Options(lambda: METHODS, noun="attribution method")], "target": [str, list, tuple, None]})
def attribute(model: Model, prompt: str | Sequence[str], method: str = "ablation", target: str | None = None,
              **options: Any) -> AttributionResult | list[AttributionResult]:
    """Attribute the model's prediction after ``prompt`` to its input tokens with any method.

    Args:
        model: an :class:`interp.Model`.
        prompt: a prompt or a list of prompts.
        method: a name from :data:`METHODS`: "ablation" (default), "gradient", "grad_x_input",
            "integrated_gradients" or "rollout".
        target: the continuation to explain; None for the model's top next token.
        **options: the method's own options (e.g. ``n_steps`` for integrated gradients,
            ``replace_with`` for ablation, ``unit="word"``, ``chat=True``).

    Returns:
        The method's :class:`AttributionResult` (a list for a list of prompts).

    Raises:
        InvalidParameterError: an unknown method (the message lists the available ones) or an option
            the method does not take (the message lists the ones it does).
    """
    method = check_method(method)
    fn = METHODS[method]
    allowed = _options(fn)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidParameterError(f"attribute(method={method!r}) got unknown option(s) {', '.join(unknown)}. "
                                    f"{method} accepts: {', '.join(allowed)}.")
    return fn(model, prompt, target, **options)
