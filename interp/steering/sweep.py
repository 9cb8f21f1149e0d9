"""The trade-off of steering: how often the behaviour appears against what it costs, strength by strength.

For each strength ``s`` (0, the unsteered model, always included), with ``s * direction`` added at the vector's
layers (:func:`~interp.steering.steering_hooks`):

- **behaviour rate**: greedy generations from held-out ``prompts``, scored by ``scorer`` (a callable
  ``text -> bool`` or a built-in concept's scorer); the share scored, with its Wilson interval over prompts;
- **KL**: ``KL(P_unsteered || P_steered)`` of the next-token distribution at each prompt's last position (nats),
  the mean over prompts with a bootstrap interval;
- **perplexity on neutral text**: ``exp`` of the mean next-token loss over every token of ``neutral_texts``
  (the steered model reading text that has nothing to do with the concept), with a bootstrap interval over
  texts; and its ratio to the unsteered perplexity (a paired bootstrap: the same resampled texts).

The headline is the behaviour rate at the largest positive strength whose perplexity ratio is at most
``max_ppl_ratio`` (1.5: fluency mostly kept), with its interval, and its paired difference to the unsteered
rate. ActAdd (Turner et al. 2023) and CAA (Rimsky et al. 2024) report the same two sides: the behaviour moved
and the capability kept.

Example:
    >>> c = concept("french")
    >>> v = steering_vector(model, c.positives, c.negatives, layers=[12])
    >>> r = steering_sweep(model, v, c.prompts, [0, 2, 4, 8], scorer="french")
    >>> r.summary(), r.plot()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, ListOf, Options, validate_params
from interp._validation import check_texts
from interp.errors import InvalidParameterError
from interp.results import Result
from interp.steering.apply import _FINITE, STEERING_PARAMS
from interp.steering.concepts import CONCEPTS

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model
    from interp.progress import ProgressArg
    from interp.steering.vectors import SteeringVector

__all__ = ["SteeringSweepResult", "steering_sweep", "MAX_PPL_RATIO"]

MAX_PPL_RATIO = 1.5


def _ppl_stat(nll: np.ndarray, counts: np.ndarray):
    return lambda rows: float(np.exp(nll[rows].sum() / counts[rows].sum()))


@dataclasses.dataclass(eq=False, kw_only=True)
class SteeringSweepResult(Result):
    """Behaviour rate and fluency cost of a steering vector at several strengths.

    Attributes:
        strengths: (n_strengths,) ascending, 0 included.
        scores: (n_strengths, n_prompts) 1.0 where the scorer found the behaviour in the generation.
        kl: (n_strengths, n_prompts) KL(unsteered || steered) of the next token at each prompt's end, nats.
        nll: (n_strengths, n_texts) summed next-token loss of each neutral text; n_tokens: (n_texts,) its tokens.
        generations: ``generations[j][i]``, prompt i at ``strengths[j]``.
        rate, rate_low, rate_high; kl_mean, kl_low, kl_high; ppl, ppl_low, ppl_high; ppl_ratio, ppl_ratio_low,
        ppl_ratio_high: (n_strengths,) each figure with its interval.
        chosen_strength: the largest positive strength with ``ppl_ratio <= max_ppl_ratio`` (None if none).
    """

    strengths: np.ndarray
    scores: np.ndarray
    kl: np.ndarray
    nll: np.ndarray
    n_tokens: np.ndarray
    generations: list[list[str]]
    prompts: list[str]
    rate: np.ndarray
    rate_low: np.ndarray
    rate_high: np.ndarray
    kl_mean: np.ndarray
    kl_low: np.ndarray
    kl_high: np.ndarray
    ppl: np.ndarray
    ppl_low: np.ndarray
    ppl_high: np.ndarray
    ppl_ratio: np.ndarray
    ppl_ratio_low: np.ndarray
    ppl_ratio_high: np.ndarray
    chosen_strength: float | None
    max_ppl_ratio: float
    layers: list[int]
    concept: str = ""
    scorer: str = ""
    scorer_accuracy: dict[str, Any] | None = None
    chat: bool = False
    max_new_tokens: int = 24
    model_name: str = ""

    title: ClassVar[str] = "Steering sweep"

    def _index(self, strength: float) -> int:
        return int(np.flatnonzero(self.strengths == strength)[0])

    def headline(self) -> dict[str, Any] | None:
        """The behaviour rate at :attr:`chosen_strength` with its interval, the unsteered rate, and the paired
        difference between them (None when no positive strength kept perplexity within the bound)."""
        if self.chosen_strength is None:
            return None
        from interp.stats import paired_difference

        j, j0 = self._index(self.chosen_strength), self._index(0.0)
        diff = paired_difference(self.scores[j], self.scores[j0], names=(f"strength {self.chosen_strength:g}", "unsteered"))
        return {"strength": self.chosen_strength, "rate": float(self.rate[j]), "rate_low": float(self.rate_low[j]),
                "rate_high": float(self.rate_high[j]), "unsteered_rate": float(self.rate[j0]),
                "difference": diff.difference.to_dict(), "ppl_ratio": float(self.ppl_ratio[j])}

    def summary(self) -> str:
        who = f"{self.model_name + ': ' if self.model_name else ''}{self.concept or 'steering'} vector at layer(s) " \
              f"{', '.join(map(str, self.layers))}"
        j0 = self._index(0.0)
        base = f"unsteered rate {self.rate[j0]:.2f} [{self.rate_low[j0]:.2f}, {self.rate_high[j0]:.2f}]"
        head = self.headline()
        if head is None:
            return f"{who}: no positive strength kept neutral perplexity within {self.max_ppl_ratio:g}x; {base}"
        return (f"{who}: behaviour rate {head['rate']:.2f} [{head['rate_low']:.2f}, {head['rate_high']:.2f}] at strength "
                f"{head['strength']:g}, the largest where neutral perplexity rose at most {self.max_ppl_ratio:g}x "
                f"(x{head['ppl_ratio']:.2f}); {base}; {len(self.prompts)} held-out prompts, scorer {self.scorer!r}")

    def caveats(self) -> list[str]:
        out = []
        head = self.headline()
        if head is None:
            out.append(f"Every positive strength raised perplexity on neutral text by more than {self.max_ppl_ratio:g}x:"
                       " try smaller strengths or another layer.")
        else:
            low, high = head["difference"]["low"], head["difference"]["high"]
            if not (low > 0 or high < 0):
                out.append(f"At strength {head['strength']:g} the behaviour rate is within noise of the unsteered "
                           f"rate (paired difference interval [{low:.2f}, {high:.2f}] holds 0).")
        if self.scorer_accuracy:
            acc = self.scorer_accuracy
            out.append(f"The scorer {self.scorer!r} is {acc['estimate']:.2f} [{acc['low']:.2f}, {acc['high']:.2f}] "
                       f"accurate on {acc['n']} labelled examples written for interp: rates are that scorer's reading.")
        if len(self.prompts) < 10:
            out.append(f"Only {len(self.prompts)} prompts: wide intervals.")
        return out

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"strength": self.strengths, "rate": self.rate, "rate_low": self.rate_low,
                             "rate_high": self.rate_high, "kl": self.kl_mean, "kl_low": self.kl_low,
                             "kl_high": self.kl_high, "ppl": self.ppl, "ppl_low": self.ppl_low, "ppl_high": self.ppl_high,
                             "ppl_ratio": self.ppl_ratio, "ppl_ratio_low": self.ppl_ratio_low,
                             "ppl_ratio_high": self.ppl_ratio_high})

    def generations_frame(self) -> DataFrame:
        """One row per prompt and strength: the generation and its score."""
        import pandas as pd

        return pd.DataFrame([{"strength": float(s), "prompt": p, "generation": self.generations[j][i],
                              "score": float(self.scores[j, i])}
                             for j, s in enumerate(self.strengths) for i, p in enumerate(self.prompts)])

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("generations", self.generations_frame())]

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        def band(y, low, high):
            return {"type": "data", "symmetric": False, "array": high - y, "arrayminus": y - low}

        fig = make_subplots(rows=1, cols=3, subplot_titles=("behaviour rate", "KL to unsteered (nats)",
                                                            "neutral perplexity / unsteered"))
        s = self.strengths
        fig.add_trace(go.Scatter(x=s, y=self.rate, mode="lines+markers", name="rate",
                                 error_y=band(self.rate, self.rate_low, self.rate_high)), row=1, col=1)
        fig.add_trace(go.Scatter(x=s, y=self.kl_mean, mode="lines+markers", name="KL",
                                 error_y=band(self.kl_mean, self.kl_low, self.kl_high)), row=1, col=2)
        fig.add_trace(go.Scatter(x=s, y=self.ppl_ratio, mode="lines+markers", name="ppl ratio",
                                 error_y=band(self.ppl_ratio, self.ppl_ratio_low, self.ppl_ratio_high)), row=1, col=3)
        fig.add_hline(y=self.max_ppl_ratio, line_dash="dot", row=1, col=3)
        if self.chosen_strength is not None:
            for col in (1, 2, 3):
                fig.add_vline(x=self.chosen_strength, line_dash="dash", line_color="grey", row=1, col=col)
        fig.update_yaxes(range=[0, 1.05], row=1, col=1)
        fig.update_xaxes(title_text="strength")
        fig.update_layout(title=self.plain_summary()[:140], height=400, showlegend=False)
        return fig


@validate_params({
    **STEERING_PARAMS, "prompts": ["texts"], "strengths": [ListOf(_FINITE), _FINITE],
    "scorer": [Options(CONCEPTS), "callable"], "neutral_texts": ["texts", None],
    "max_ppl_ratio": [Interval(float, 1, None)], "batch_size": [Interval(int, 1, None), None],
    "n_resamples": [Interval(int, 1, None)], "seed": [Interval(int, 0, None)], "progress": ["progress"],
})
def steering_sweep(model: Model, vector: SteeringVector, prompts: Sequence[str], strengths: Sequence[float], *,
                   scorer: Any, neutral_texts: Sequence[str] | None = None, layers: Sequence[int] | None = None,
                   max_new_tokens: int = 24, chat: bool | None = None, max_ppl_ratio: float = MAX_PPL_RATIO,
                   batch_size: int | None = None, n_resamples: int = 1000, seed: int = 0,
                   progress: ProgressArg = None) -> SteeringSweepResult:
    """Behaviour rate (with Wilson intervals) against KL and neutral perplexity (bootstrap) at each strength.

    Args:
        model: an :class:`interp.Model`.
        vector: a :class:`~interp.steering.SteeringVector` of this model.
        prompts: held-out prompts (not the pairs the vector was built from).
        strengths: multiples of the direction; 0 (unsteered) is always added.
        scorer: "french", "sentiment", "truth" (the built-in scorers) or a callable ``text -> bool``.
        neutral_texts: text for the perplexity cost (default :data:`~interp.steering.concepts.NEUTRAL_TEXTS`).
        layers: a subset of the vector's layers (default: all).
        max_new_tokens: tokens generated per prompt (greedy).
        chat: wrap prompts in the chat template (default: when the model has one).
        max_ppl_ratio: the perplexity rise allowed for the headline strength.
        batch_size, n_resamples, seed: forward-pass batch; bootstrap resamples and seed.
        progress: stage ``"steering"``, counted in strengths (:mod:`interp.progress`).

    Returns:
        :class:`SteeringSweepResult`.
    """
    import torch

    from interp.models.card import model_card
    from interp.progress import resolve_progress
    from interp.stats import bootstrap_interval, mean_interval, proportion_interval
    from interp.steering.apply import _check_vector, check_strengths, steering_hooks
    from interp.steering.concepts import LABELLED, NEUTRAL_TEXTS, resolve_scorer, scorer_accuracy

    where = "steering_sweep"
    items, _ = check_texts(prompts, where=where, name="prompts")
    neutral, _ = check_texts(list(NEUTRAL_TEXTS) if neutral_texts is None else neutral_texts, where=where,
                             name="neutral_texts")
    values = check_strengths(strengths, where=where)
    chosen_layers = _check_vector(model, vector, layers, where)
    score, scorer_name = resolve_scorer(scorer, where=where)
    accuracy = scorer_accuracy(scorer).to_dict() if isinstance(scorer, str) and scorer in LABELLED else None
    use_chat = model.has_chat_template if chat is None else bool(chat)
    texts = [model.chat_prompt(p) for p in items] if use_chat else items
    tell = resolve_progress(progress, where=where)

    n_s = len(values)
    scores = np.zeros((n_s, len(items)))
    kl = np.zeros((n_s, len(items)))
    nll = np.zeros((n_s, len(neutral)))
    counts = np.zeros(len(neutral))
    generations: list[list[str]] = []
    logps = []  # (n_prompts, d_vocab) next-token log-probabilities at each strength
    for j, s in enumerate(values):
        tell("steering", j, n_s)
        with model.hooks(steering_hooks(model, vector, s, layers=chosen_layers)):
            gens = [model.generate(p, max_new_tokens, chat=use_chat) for p in items]
            last = model.logits(texts, last_only=True, batch_size=batch_size)  # (n_prompts, d_vocab)
            full = model.logits(neutral, batch_size=batch_size)  # list of (pos_t, d_vocab)
        generations.append(gens)
        scores[j] = [float(bool(score(g))) for g in gens]
        logps.append(torch.log_softmax(last.double(), dim=-1))
        for t, (text_logits, text) in enumerate(zip(full, neutral)):
            ids = torch.tensor(model.encode(text, where=where))  # the tokens model.logits read
            lp = torch.log_softmax(text_logits.double(), dim=-1)[:-1]  # predictions of tokens 1..
            nll[j, t] = float(-lp.gather(1, ids[1:, None]).sum())
            counts[t] = len(ids) - 1
    base = logps[values.index(0.0)]
    for j, logp in enumerate(logps):  # KL(unsteered || steered): exactly 0 at strength 0 (the same numbers)
        kl[j] = (base.exp() * (base - logp)).sum(-1).numpy()
    tell("steering", n_s, n_s)
    if (counts < 1).any():
        raise InvalidParameterError(f"Every neutral text given to {where} needs at least 2 tokens (one to predict).")

    rate_i = [proportion_interval(int(row.sum()), len(items)) for row in scores]
    kl_i = [mean_interval(row, n_resamples=n_resamples, seed=seed) for row in kl]
    ppl_i = [bootstrap_interval(_ppl_stat(row, counts), len(neutral), n_resamples=n_resamples, seed=seed)
             for row in nll]
    j0 = values.index(0.0)
    ratio_i = [bootstrap_interval(lambda r, a=row: _ppl_stat(a, counts)(r) / _ppl_stat(nll[j0], counts)(r),
                                  len(neutral), n_resamples=n_resamples, seed=seed) for row in nll]
    ratio = np.array([i.estimate for i in ratio_i])
    ok = [s for s, r in zip(values, ratio) if s > 0 and r <= max_ppl_ratio]
    chosen = max(ok) if ok else None

    def arr(intervals, key):
        return np.array([getattr(i, key) for i in intervals], dtype=np.float64)

    return SteeringSweepResult(
        strengths=np.asarray(values, dtype=np.float64), scores=scores, kl=kl, nll=nll, n_tokens=counts,
        generations=generations, prompts=items,
        rate=arr(rate_i, "estimate"), rate_low=arr(rate_i, "low"), rate_high=arr(rate_i, "high"),
        kl_mean=arr(kl_i, "estimate"), kl_low=arr(kl_i, "low"), kl_high=arr(kl_i, "high"),
        ppl=arr(ppl_i, "estimate"), ppl_low=arr(ppl_i, "low"), ppl_high=arr(ppl_i, "high"),
        ppl_ratio=ratio, ppl_ratio_low=arr(ratio_i, "low"), ppl_ratio_high=arr(ratio_i, "high"),
        chosen_strength=chosen, max_ppl_ratio=float(max_ppl_ratio), layers=chosen_layers, concept=vector.concept,
        scorer=scorer_name, scorer_accuracy=accuracy, chat=use_chat, max_new_tokens=max_new_tokens,
        model_name=model.name, model_card=model_card(model))
