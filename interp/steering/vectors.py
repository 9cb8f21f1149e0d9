"""Steering vectors from contrast pairs: one direction per layer that moves the model toward a behaviour.

Contrastive activation addition (CAA; Rimsky et al. 2024, "Steering Llama 2 via Contrastive Activation
Addition", building on Turner et al.'s ActAdd): run the model on ``positives`` (texts that show the
behaviour) and ``negatives`` (matched texts that do not), keep the residual stream at each text's last
token at ``layers``, and take the difference of the two means. Adding ``strength * direction`` to the
residual stream during generation (:func:`interp.steering.steer`) pushes the model toward the behaviour.

Three ways to choose the axis ``u``, each then scaled the same way, ``direction = u * mean_i((p_i - n_i) . u)``
(the mean pair difference along ``u``), so ``strength`` means the same for every method and positives always
project higher than negatives on average:

- ``"mean_diff"`` (CAA): ``u`` along ``mean(p) - mean(n)``, which makes ``direction = mean(p) - mean(n)``
  exactly (the vector :func:`interp.truth.steer_truth` adds, at ``alpha = 1``);
- ``"pca"`` (repeng's ``pca_diff``): ``u`` the first principal component of the centred pair differences
  ``p_i - n_i``; repeng keeps the unit vector and fixes its sign by a vote of projections, interp scales it
  as above (so the sign is fixed by the mean projection);
- ``"probe"``: ``u`` a direction you bring: a fitted probe (its weights on the raw features), an
  :class:`interp.truth.LieDetector` (its probe, at its layer), an array ``(d_model,)`` or a ``{layer: array}``.

Layers follow interp's convention (:mod:`interp.layers`): layer ``l`` is the residual stream after block
``l - 1`` (``blocks.{l-1}.hook_resid_post``; layer 0 the embeddings, ``blocks.0.hook_resid_pre``).

Example:
    >>> from interp.steering import concept, steering_vector
    >>> c = concept("french")
    >>> vector = steering_vector(model, c.positives, c.negatives, layers=[15])
    >>> vector.to_frame()   # per layer: norm, share of pairs ordered, with its interval
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Layers, Options, validate_params
from interp._validation import check_choice, check_texts, parse_layers
from interp.errors import InvalidParameterError
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["METHODS", "SteeringVector", "steering_vector", "directions_from_activations", "middle_layer"]

METHODS = ("mean_diff", "pca", "probe")


@dataclasses.dataclass(eq=False, kw_only=True)
class SteeringVector(Result):
    """Per-layer steering directions (float32), with how well each separates the pairs it was built from.

    Attributes:
        directions: (n_layers_chosen, d_model) float32, row i the direction added at ``layers[i]``.
        layers: interp layers (0 = embeddings, l = output of block l - 1), ascending.
        method: "mean_diff", "pca" or "probe" (or "control_vector" for a file read by
            :func:`~interp.steering.load_control_vector`).
        pairs_ordered: per layer, how many pairs have ``(p_i - n_i) . direction > 0`` (in-sample), of ``n_pairs``.
        concept: a name for the behaviour ("french", or yours); architecture: the model's (for llama.cpp's hint).
    """

    directions: np.ndarray
    layers: list[int]
    method: str
    n_pairs: int = 0
    pairs_ordered: list[int] = dataclasses.field(default_factory=list)
    concept: str = ""
    model_name: str = ""
    architecture: str = ""

    title: ClassVar[str] = "Steering vector"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.directions = np.ascontiguousarray(np.asarray(self.directions, dtype=np.float32))
        self.layers = [int(layer) for layer in self.layers]
        if self.directions.ndim != 2 or self.directions.shape[0] != len(self.layers):
            raise InvalidParameterError(f"A SteeringVector needs one direction row per layer: directions has shape "
                                        f"{self.directions.shape} for layers {self.layers}.")
        if len(set(self.layers)) != len(self.layers):
            raise InvalidParameterError(f"The layers of a SteeringVector must be distinct. Got {self.layers}.")

    @property
    def d_model(self) -> int:
        return int(self.directions.shape[1])

    def direction(self, layer: int) -> np.ndarray:
        """(d_model,) the direction added at ``layer``."""
        if layer not in self.layers:
            raise InvalidParameterError(f"This steering vector has no direction at layer {layer}; it has layers "
                                        f"{self.layers}.")
        return self.directions[self.layers.index(layer)]

    def norms(self) -> np.ndarray:
        """(n_layers_chosen,) the Euclidean norm of each direction."""
        return np.linalg.norm(self.directions.astype(np.float64), axis=1)

    def _intervals(self) -> list:
        from interp.stats import proportion_interval

        return [proportion_interval(k, self.n_pairs) for k in self.pairs_ordered] if self.n_pairs else []

    def summary(self) -> str:
        name = f"{self.concept!r} " if self.concept else ""
        head = f"{self.model_name + ': ' if self.model_name else ''}{name}{self.method} steering vector at layer(s) " \
               f"{', '.join(map(str, self.layers))}, norm {', '.join(f'{n:.3g}' for n in self.norms())}"
        intervals = self._intervals()
        if intervals:
            head += "; pairs ordered along it (in-sample) " + ", ".join(i.format(2) for i in intervals)
        return head

    def caveats(self) -> list[str]:
        out = []
        for layer, interval in zip(self.layers, self._intervals()):
            if interval.holds(0.5):
                out.append(f"At layer {layer} the direction does not order the pairs better than chance (interval "
                           f"{interval.format(2)} holds 0.5): it may not carry the behaviour there.")
        if self.n_pairs and self.n_pairs < 8:
            out.append(f"Built from {self.n_pairs} pairs only: a noisy direction.")
        return out

    def to_frame(self) -> DataFrame:
        import pandas as pd

        intervals = self._intervals()
        nan = float("nan")
        return pd.DataFrame({
            "layer": self.layers, "norm": self.norms(),
            "pairs_ordered": [i.estimate for i in intervals] if intervals else [nan] * len(self.layers),
            "pairs_ordered_low": [i.low for i in intervals] if intervals else [nan] * len(self.layers),
            "pairs_ordered_high": [i.high for i in intervals] if intervals else [nan] * len(self.layers),
        })

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        frame = self.to_frame()
        fig = make_subplots(rows=1, cols=2, subplot_titles=("norm per layer", "share of pairs ordered (in-sample)"))
        fig.add_trace(go.Bar(x=frame["layer"], y=frame["norm"], name="norm"), row=1, col=1)
        fig.add_trace(go.Scatter(x=frame["layer"], y=frame["pairs_ordered"], mode="markers", name="pairs ordered",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": frame["pairs_ordered_high"] - frame["pairs_ordered"],
                                          "arrayminus": frame["pairs_ordered"] - frame["pairs_ordered_low"]}),
                      row=1, col=2)
        fig.update_yaxes(range=[0, 1.05], row=1, col=2)
        fig.update_layout(title=self.plain_summary()[:140], height=380, showlegend=False)
        return fig


def directions_from_activations(positives: np.ndarray, negatives: np.ndarray, *, method: str = "mean_diff",
                                axis: np.ndarray | None = None) -> np.ndarray:
    """The steering direction of one layer from paired activations (the method's core, without a model).

    Args:
        positives, negatives: (n_pairs, d_model) activations; row i of each is pair i.
        method: "mean_diff", "pca" (needs 2 pairs or more) or "probe" (then ``axis`` is the (d_model,) direction).

    Returns:
        (d_model,) float64 ``u * mean_i((p_i - n_i) . u)`` with ``u`` the method's unit axis (see the module
        docstring); for "mean_diff" exactly ``mean(p) - mean(n)``.
    """
    where = "directions_from_activations"
    check_choice(method, METHODS, name="method", where=where)
    p, n = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    if p.ndim != 2 or p.shape != n.shape or not len(p):
        raise InvalidParameterError(f"The 'positives' and 'negatives' of {where} must be (n_pairs, d_model) arrays of "
                                    f"the same shape with n_pairs >= 1. Got {p.shape} and {n.shape}.")
    diffs = p - n  # (n_pairs, d_model)
    if method == "mean_diff":
        return p.mean(0) - n.mean(0)
    if method == "pca":
        if len(diffs) < 2:
            raise InvalidParameterError(f"method='pca' of {where} needs at least 2 pairs (the principal component of "
                                        f"their differences). Got {len(diffs)}.")
        centred = diffs - diffs.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        u = vt[0]
    else:
        if axis is None:
            raise InvalidParameterError(f"method='probe' of {where} needs the probe's direction as 'axis'.")
        u = np.asarray(axis, dtype=np.float64).ravel()
        if u.shape != (p.shape[1],) or not np.all(np.isfinite(u)) or not np.linalg.norm(u):
            raise InvalidParameterError(f"The probe direction given to {where} must be a finite, non-zero vector of "
                                        f"length d_model={p.shape[1]}. Got shape {u.shape}.")
    u = u / np.linalg.norm(u)
    return u * float((diffs @ u).mean())


def _probe_axes(probe: Any, layers: list[int], d_model: int, where: str) -> dict[int, np.ndarray]:
    """``{layer: (d_model,) axis}`` from what ``probe=`` may be: an array, a dict, a fitted probe, a LieDetector."""
    if probe is None:
        raise InvalidParameterError(f"method='probe' of {where} needs 'probe': a fitted probe, a LieDetector, an "
                                    "array (d_model,) or a {layer: array} dict.")
    if hasattr(probe, "probe_") and hasattr(probe, "layer_"):  # a LieDetector: its probe, at its own layer
        if layers != [probe.layer_]:
            raise InvalidParameterError(f"A LieDetector given to {where} holds a direction at layer {probe.layer_}; "
                                        f"pass layers=[{probe.layer_}]. Got layers={layers}.")
        probe = probe.probe_
    if isinstance(probe, dict):
        missing = [layer for layer in layers if layer not in probe]
        if missing:
            raise InvalidParameterError(f"The 'probe' dict given to {where} has no direction for layer(s) {missing}; "
                                        f"it has {sorted(probe)}.")
        return {layer: np.asarray(probe[layer], dtype=np.float64) for layer in layers}
    if hasattr(probe, "coef_"):
        from interp.truth.probes import raw_direction

        axis = getattr(probe, "direction_", None)
        axis = raw_direction(probe) if axis is None else np.asarray(axis, dtype=np.float64)
        return {layer: axis for layer in layers}
    if hasattr(probe, "shape") or isinstance(probe, (list, tuple)):
        return {layer: np.asarray(probe, dtype=np.float64) for layer in layers}
    raise InvalidParameterError(f"The 'probe' of {where} must be a fitted probe, a LieDetector, an array (d_model,) "
                                f"or a {{layer: array}} dict. Got {type(probe).__name__}.")


@validate_params({
    "model": ["model"], "positives": ["texts"], "negatives": ["texts"], "layers": [Layers(allow_embed=True)],
    "method": [Options(METHODS)], "probe": ["no_validation"], "concept": [str],
    "batch_size": [Interval(int, 1, None), None],
})
def steering_vector(model: Model, positives: Sequence[str], negatives: Sequence[str], *, layers: Any,
                    method: str = "mean_diff", probe: Any = None, concept: str = "",
                    batch_size: int | None = None) -> SteeringVector:
    """Build a steering vector from contrast pairs: the residual stream at each text's last token.

    Args:
        model: an :class:`interp.Model`.
        positives, negatives: texts with and without the behaviour, paired (item i of each is pair i).
        layers: where (an int, a list, "all", "0:30:3"; 0 = embeddings, l = output of block l - 1).
        method: "mean_diff" (CAA), "pca" (repeng) or "probe" (the direction of ``probe``).
        probe: for method="probe": a fitted probe, a LieDetector, an array (d_model,) or ``{layer: array}``.
        concept: a name stored with the vector.
        batch_size: texts per forward pass.

    Returns:
        :class:`SteeringVector`: ``directions`` is (n_layers_chosen, d_model) float32.

    Example:
        >>> v = steering_vector(model, ["Il fait beau."], ["The weather is nice."], layers=[10])
        >>> v.direction(10).shape
        (576,)
    """
    from interp.activations import collect
    from interp.models.card import model_card

    where = "steering_vector"
    pos, _ = check_texts(positives, where=where, name="positives")
    neg, _ = check_texts(negatives, where=where, name="negatives")
    if len(pos) != len(neg):
        raise InvalidParameterError(f"The 'positives' and 'negatives' of {where} must be contrast pairs of equal "
                                    f"length. Got {len(pos)} positives and {len(neg)} negatives.")
    parsed = parse_layers(layers, where=where)
    chosen = list(range(model.n_layers + 1)) if parsed == "all" else sorted(
        {layer % (model.n_layers + 1) for layer in parsed})  # the table checked the range; negative counts from the end
    axes = _probe_axes(probe, chosen, model.d_model, where) if method == "probe" else {}
    acts = collect(model, pos + neg, layers=chosen, position="last", batch_size=batch_size, progress=False)
    rows, ordered = [], []
    for layer in chosen:
        x = np.asarray(acts[layer], dtype=np.float64)  # (2 * n_pairs, d_model)
        p, n = x[:len(pos)], x[len(pos):]
        direction = directions_from_activations(p, n, method=method, axis=axes.get(layer))
        rows.append(direction)
        ordered.append(int(((p - n) @ direction > 0).sum()))
    return SteeringVector(directions=np.stack(rows).astype(np.float32), layers=chosen, method=method,
                          n_pairs=len(pos), pairs_ordered=ordered, concept=concept, model_name=model.name,
                          architecture=model.architecture, model_card=model_card(model))


def middle_layer(model: Model) -> int:
    """The default steering layer: the middle of the residual stream (``n_layers // 2``; CAA finds middle layers
    steer best, Rimsky et al. 2024, section 4)."""
    return max(1, model.n_layers // 2)

