"""Steering with the truth direction: does adding it make the model call a statement true?

A causal check of a truth probe (Marks & Tegmark 2023, section 5): fit a mass-mean probe at
``layer`` on training statements, then, on held-out statements framed as
``"{statement} This statement is"``, add ``alpha * (mean(true) - mean(false))`` to the residual
stream at that layer (every position) during the forward pass and read
``P(true) = P(" true") / (P(" true") + P(" false"))`` (capitalised variants counted too). If the
direction is what the model uses, positive ``alpha`` raises P(true) of false statements and
negative ``alpha`` lowers it for true ones.

Example:
    >>> r = steer_truth(model, "cities", layer=12, alphas=(-2, -1, 0, 1, 2))
    >>> r.to_frame(), r.plot()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Layer, validate_params
from interp._validation import check_layer
from interp.errors import InvalidParameterError
from interp.models.card import model_card
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["TEMPLATE", "SteeringResult", "steer_truth"]

TEMPLATE = "{statement} This statement is"
ANSWERS = ((" true", " True"), (" false", " False"))


@dataclasses.dataclass(eq=False, kw_only=True)
class SteeringResult(Result):
    """P(true) read from the model's next token, with the truth direction added at several strengths.

    Attributes:
        alphas: (n_alphas,) multiples of the mass-mean difference vector added.
        p_true: (n_alphas, n_statements) P(" true") / (P(" true") + P(" false")) per statement.
        labels: (n_statements,) 1 = true statement.
        statements: the held-out statements; layer, dataset, template, direction_norm: the setting.
    """

    alphas: np.ndarray
    p_true: np.ndarray
    labels: np.ndarray
    statements: list[str]
    layer: int
    dataset: str
    template: str
    direction_norm: float
    model_name: str = ""

    title: ClassVar[str] = "Truth steering"

    def _means(self) -> tuple[np.ndarray, np.ndarray]:
        t, f = self.labels == 1, self.labels == 0
        return self.p_true[:, t].mean(axis=1), self.p_true[:, f].mean(axis=1)

    def summary(self) -> str:
        t, f = self._means()
        i0 = int(np.argmin(np.abs(self.alphas)))
        return (f"{self.model_name + ': ' if self.model_name else ''}layer {self.layer}, {self.dataset}: mean P(true) "
                f"of false statements {f[0]:.2f} → {f[-1]:.2f}, of true ones {t[0]:.2f} → {t[-1]:.2f} as alpha goes "
                f"{self.alphas[0]:g} → {self.alphas[-1]:g} (unsteered: {t[i0]:.2f} / {f[i0]:.2f})")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        t, f = self._means()
        acc = ((self.p_true > 0.5) == (self.labels == 1)[None, :]).mean(axis=1)
        return pd.DataFrame({"alpha": self.alphas, "p_true_true_statements": t, "p_true_false_statements": f,
                             "accuracy": acc})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        t, f = self._means()
        fig = go.Figure([go.Scatter(x=self.alphas, y=t, mode="lines+markers", name="true statements"),
                         go.Scatter(x=self.alphas, y=f, mode="lines+markers", name="false statements")])
        fig.update_layout(title=self.summary()[:140], xaxis_title="alpha (× mean(true) - mean(false))",
                          yaxis={"title": "P(' true') / (P(' true') + P(' false'))", "range": [0, 1]}, height=420)
        return fig


def _answer_ids(model: Any) -> tuple[list[int], list[int]]:
    ids = []
    for variants in ANSWERS:
        ids.append(sorted({model.tokenizer(v, add_special_tokens=False)["input_ids"][0] for v in variants}))
    return ids[0], ids[1]


@validate_params({"model": ["model"], "dataset": ["no_validation"], "layer": [Layer(allow_embed=True)],
                  "alphas": [list, tuple], "template": [str], "max_pairs": [Interval(int, 1, None), None],
                  "n_test": [Interval(int, 1, None)], "seed": [Interval(int, None, None)],
                  "batch_size": [Interval(int, 1, None), None]})
def steer_truth(model: Model, dataset: Any = "cities", *, layer: int, alphas: Sequence[float] = (-2, -1, -0.5, 0, 0.5, 1, 2),
                template: str = TEMPLATE, max_pairs: int | None = 200, n_test: int = 100, seed: int = 0,
                batch_size: int | None = None) -> SteeringResult:
    """Add the mass-mean truth direction at ``layer`` and measure P(" true") on held-out statements.

    Args:
        model: an :class:`interp.Model`.
        dataset: a dataset name, CSV path or :class:`~interp.truth.TruthDataset`.
        layer: where the direction is fitted and added (0 = embeddings, l = output of block l-1).
        alphas: strengths, in units of the mean(true) - mean(false) vector.
        template: the prompt, with ``{statement}``; the next token is read.
        max_pairs: pairs drawn from the dataset; n_test: held-out statements steered (at most).
        seed: split seed.

    Returns:
        :class:`SteeringResult`: ``p_true`` is (n_alphas, n_statements).
    """
    import torch

    from interp.activations import layer_hook_name
    from interp.truth.datasets import load_dataset
    from interp.truth.probes import MassMeanProbe
    from interp.truth.sweep import split_pairs, statement_features

    where = "steer_truth"
    layer = check_layer(layer, model.n_layers, where=where, allow_embed=True)
    if "{statement}" not in template:
        raise InvalidParameterError(f"The 'template' of {where} must contain '{{statement}}'. Got {template!r}.")
    alpha_arr = np.asarray(sorted(float(a) for a in alphas))
    if alpha_arr.size == 0:
        raise InvalidParameterError(f"The 'alphas' parameter of {where} is empty.")
    ds = load_dataset(dataset).sample(max_pairs, seed=seed)
    test = split_pairs(ds, test_size=0.5, seed=seed)
    train = ds.subset(np.flatnonzero(~test))
    X = statement_features(model, train.statements, [layer], batch_size=batch_size, progress=False)[layer]
    direction = MassMeanProbe().fit(X, train.labels).direction_  # (d_model,) raw mean difference
    held = ds.subset(np.flatnonzero(test)[:n_test])
    prompts = [template.format(statement=s.rstrip()) for s in held.statements]
    true_ids, false_ids = _answer_ids(model)
    vector = torch.tensor(direction, dtype=model.dtype, device=model.device)
    p_true = np.zeros((len(alpha_arr), len(prompts)))
    for i, alpha in enumerate(alpha_arr):
        def add(x, hook, alpha=alpha):  # x: (batch, pos, d_model)
            return x + alpha * vector

        with model.hooks([(layer_hook_name(layer), add)] if alpha else []):
            logits = model.logits(prompts, last_only=True, batch_size=batch_size)  # (n, d_vocab)
        probs = torch.softmax(logits.float(), dim=-1)
        pt, pf = probs[:, true_ids].sum(-1), probs[:, false_ids].sum(-1)
        p_true[i] = (pt / (pt + pf)).numpy()
    return SteeringResult(alphas=alpha_arr, p_true=p_true, labels=held.labels, statements=held.statements, layer=layer,
                          dataset=ds.name, template=template, direction_norm=float(np.linalg.norm(direction)),
                          model_name=model.name, model_card=model_card(model))
