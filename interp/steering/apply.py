"""Applying a steering vector: add ``strength * direction`` to the residual stream while the model generates.

At each layer ``l`` of the vector a forward hook on ``layer_hook_name(l)`` (``blocks.{l-1}.hook_resid_post``, or
``blocks.0.hook_resid_pre`` for layer 0) adds ``strength * direction(l)`` at every position, prompt included, as
ActAdd / CAA (Turner et al. 2023; Rimsky et al. 2024) and llama.cpp's control vectors do. Strength 0 adds no
hook at all, so it is the unsteered model bit for bit. The hooks go through ``model.hooks(...)``, which holds the
model's lock: another thread's passes never see them.

Example:
    >>> r = steer(model, "Tell me about your weekend.", vector, strength=4)
    >>> r.to_frame()   # the unsteered and the steered generation side by side
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Attr, InstanceOf, Interval, ListOf, Options, validate_params
from interp._validation import check_texts
from interp.errors import InvalidParameterError
from interp.results import Result
from interp.steering.concepts import CONCEPTS
from interp.steering.vectors import SteeringVector

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["SteeredGenerations", "steer", "steering_hooks", "check_strengths", "parse_strengths", "STEERING_PARAMS"]

_FINITE = Interval(float, -math.inf, math.inf, closed="neither")
_VECTOR_LAYER = Interval(int, 0, None)

#: The table entries steer and steering_sweep share (whether the vector fits the model is _check_vector's).
STEERING_PARAMS: dict[str, list[Any]] = {
    "model": ["model"],
    "vector": [InstanceOf(SteeringVector, name="a SteeringVector (steering_vector(...), SteeringVector.load(path) or "
                                               "load_control_vector(path))")],
    "layers": [_VECTOR_LAYER, ListOf(_VECTOR_LAYER), None],
    "max_new_tokens": [Interval(int, 1, Attr("n_ctx"))],
    "chat": ["boolean", None],
}


def check_strengths(strengths: Any, *, where: str, add_zero: bool = True) -> list[float]:
    """Sorted distinct finite strengths (a number or a list), with 0 (the unsteered model) added if asked."""
    items = [strengths] if isinstance(strengths, (int, float)) and not isinstance(strengths, bool) else strengths
    try:
        values = [float(s) for s in items if not isinstance(s, bool)]
    except (TypeError, ValueError):
        values = []
    if not values or len(values) != len(list(items)) or not all(math.isfinite(v) for v in values):
        raise InvalidParameterError(f"The 'strengths' parameter of {where} must be a finite number or a non-empty list "
                                    f"of them. Got {strengths!r} instead.")
    return sorted(set(values) | ({0.0} if add_zero else set()))


@validate_params({"text": [str], "name": [str], "where": [str]})
def parse_strengths(text: str, *, name: str = "strengths", where: str = "parse_strengths") -> tuple[float, ...]:
    """The strengths a user typed (``"0.5, 1, 2, 4, 8"``), in the order given: the CLI's ``--strength`` /
    ``--strengths`` and the explorer's box read them here, then :func:`check_strengths` (through the functions'
    tables) decides which numbers are allowed (finite ones).

    Args:
        text: numbers separated by commas; blanks around them and empty parts (``"1,,2,"``) are ignored.
        name, where: the option or box and the command or page, for the error message.

    Returns:
        The numbers, e.g. ``(0.5, 1.0, 2.0)``.

    Raises:
        InvalidParameterError: a part is not a number, or there is no number at all.

    Example:
        >>> parse_strengths("0.5, 1, 2")
        (0.5, 1.0, 2.0)
    """
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be a non-empty list of comma-separated "
                                    f"numbers, such as 1, 2, 4, 8. Got {text!r} instead.")
    return values


def _check_vector(model: Model, vector: SteeringVector, layers: Any, where: str) -> list[int]:
    from interp.steering.vectors import SteeringVector

    if not isinstance(vector, SteeringVector):
        raise InvalidParameterError(f"The 'vector' parameter of {where} must be a SteeringVector (steering_vector(...), "
                                    f"SteeringVector.load(path) or load_control_vector(path)). Got {type(vector).__name__}.")
    if vector.d_model != model.d_model:
        raise InvalidParameterError(f"This steering vector has d_model={vector.d_model} (built on "
                                    f"{vector.model_name or 'another model'}); {model.name} has d_model={model.d_model}.")
    chosen = list(vector.layers) if layers is None else ([layers] if isinstance(layers, int) else list(layers))
    for layer in chosen:
        if layer not in vector.layers:
            raise InvalidParameterError(f"The 'layers' parameter of {where} must be among the vector's layers "
                                        f"{vector.layers}. Got {layer!r}.")
        if not 0 <= layer <= model.n_layers:
            raise InvalidParameterError(f"Layer {layer} of this steering vector is not a layer of {model.name} "
                                        f"(0..{model.n_layers}).")
    return chosen


def steering_hooks(model: Model, vector: SteeringVector, strength: float, *,
                   layers: Sequence[int] | int | None = None) -> list[tuple[str, Callable]]:
    """The forward hooks that add ``strength * direction`` at each of the vector's layers (every position).

    Use them as ``with model.hooks(steering_hooks(model, vector, 4.0)): model.generate(...)``. Strength 0 gives no
    hook (the unsteered model, bit for bit).

    Args:
        model: the model they will run on (dtype, device, d_model checked).
        vector: a :class:`~interp.steering.SteeringVector`.
        strength: the multiple of each direction added.
        layers: a subset of the vector's layers (default: all of them).

    Returns:
        ``[(hook_name, fn)]``; ``fn(x, hook)`` returns ``x + strength * direction`` for x (batch, pos, d_model).
    """
    import torch

    from interp.layers import layer_hook_name

    where = "steering_hooks"
    chosen = _check_vector(model, vector, layers, where)
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.floating)) or not math.isfinite(strength):
        raise InvalidParameterError(f"The 'strength' parameter of {where} must be a finite number. Got {strength!r}.")
    if strength == 0:
        return []
    hooks = []
    for layer in chosen:
        add = torch.as_tensor(vector.direction(layer), dtype=model.dtype, device=model.device) * float(strength)

        def fn(x, hook, add=add):  # x: (batch, pos, d_model)
            return x + add

        hooks.append((layer_hook_name(layer), fn))
    return hooks


@dataclasses.dataclass(eq=False, kw_only=True)
class SteeredGenerations(Result):
    """Generations of the same prompts without steering (strength 0) and with it, side by side.

    Attributes:
        prompts: the prompts (as given; ``chat`` says whether the chat template wrapped them).
        strengths: (n_strengths,) ascending, 0 included (the unsteered model).
        generations: ``generations[i][j]`` the continuation of prompt i at ``strengths[j]``.
        scores: (n_prompts, n_strengths) 1.0 where ``scorer`` found the behaviour, NaN without a scorer.
    """

    prompts: list[str]
    strengths: np.ndarray
    generations: list[list[str]]
    scores: np.ndarray
    layers: list[int]
    concept: str = ""
    scorer: str = ""
    chat: bool = False
    max_new_tokens: int = 32
    model_name: str = ""

    title: ClassVar[str] = "Steered generations"

    def summary(self) -> str:
        where = f"{self.model_name + ': ' if self.model_name else ''}{self.concept or 'steering'} vector at layer(s) " \
                f"{', '.join(map(str, self.layers))}"
        text = f"{where}: {len(self.prompts)} prompt(s) generated at strengths {', '.join(f'{s:g}' for s in self.strengths)}"
        if self.scorer and np.isfinite(self.scores).all():
            rates = ", ".join(f"{s:g}: {r:.2f}" for s, r in zip(self.strengths, self.scores.mean(0)))
            text += f"; share scored {self.scorer!r} by strength {rates}"
        return text

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = [{"prompt": p, "strength": float(s), "generation": self.generations[i][j],
                 "score": float(self.scores[i, j])}
                for i, p in enumerate(self.prompts) for j, s in enumerate(self.strengths)]
        return pd.DataFrame(rows)

    def side_by_side(self) -> DataFrame:
        """One row per prompt, one column per strength (``strength 0`` is the unsteered model)."""
        import pandas as pd

        return pd.DataFrame({"prompt": self.prompts, **{f"strength {s:g}": [g[j] for g in self.generations]
                                                         for j, s in enumerate(self.strengths)}})

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("side by side", self.side_by_side())]

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.side_by_side()
        fig = go.Figure(go.Table(header={"values": list(frame.columns), "align": "left"},
                                 cells={"values": [frame[c].tolist() for c in frame.columns], "align": "left"}))
        fig.update_layout(title=self.plain_summary()[:140], height=120 + 90 * len(frame))
        return fig


@validate_params({
    **STEERING_PARAMS, "prompt": ["texts"], "strength": [_FINITE, ListOf(_FINITE)],
    "temperature": [Interval(float, 0, None)], "seed": [int, None], "scorer": [Options(CONCEPTS), "callable", None],
})
def steer(model: Model, prompt: str | Sequence[str], vector: SteeringVector, strength: float | Sequence[float] = 4.0,
          *, layers: Sequence[int] | int | None = None, max_new_tokens: int = 32, chat: bool | None = None,
          temperature: float = 0.0, seed: int | None = 0, scorer: Any = None) -> SteeredGenerations:
    """Generate from ``prompt`` with and without the steering vector added; the generations side by side.

    Args:
        model: an :class:`interp.Model`.
        prompt: a prompt or a list of them.
        vector: a :class:`~interp.steering.SteeringVector` built on this model (same d_model).
        strength: a strength or a list; 0 (unsteered) is always added.
        layers: a subset of the vector's layers (default: all).
        max_new_tokens, temperature, seed: as :meth:`interp.Model.generate` (greedy by default).
        chat: wrap the prompt in the chat template (default: when the model has one).
        scorer: optional: a built-in concept name ("french", "sentiment", "truth") or a callable ``text -> bool``
            that says whether a generation shows the behaviour.

    Returns:
        :class:`SteeredGenerations`; ``generations[i][j]`` is prompt i at ``strengths[j]``.

    Example:
        >>> steer(model, "Tell me about Paris.", vector, 6).side_by_side()
    """
    from interp.steering.concepts import resolve_scorer

    where = "steer"
    prompts, _ = check_texts(prompt, where=where)
    strengths = check_strengths(strength, where=where)
    chosen = _check_vector(model, vector, layers, where)
    use_chat = model.has_chat_template if chat is None else bool(chat)
    score, scorer_name = resolve_scorer(scorer, where=where) if scorer is not None else (None, "")
    generations = [["" for _ in strengths] for _ in prompts]
    scores = np.full((len(prompts), len(strengths)), np.nan)
    for j, s in enumerate(strengths):
        with model.hooks(steering_hooks(model, vector, s, layers=chosen)):
            for i, p in enumerate(prompts):
                generations[i][j] = model.generate(p, max_new_tokens, temperature=temperature, seed=seed, chat=use_chat)
                if score is not None:
                    scores[i, j] = float(bool(score(generations[i][j])))
    from interp.models.card import model_card

    return SteeredGenerations(prompts=prompts, strengths=np.asarray(strengths), generations=generations, scores=scores,
                              layers=chosen, concept=vector.concept, scorer=scorer_name, chat=use_chat,
                              max_new_tokens=max_new_tokens, model_name=model.name, model_card=model_card(model))
