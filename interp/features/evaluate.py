"""How good an SAE is on held-out text: reconstruction, sparsity, and the loss when it replaces the layer.

For each text (one forward pass each, no padding), at the SAE's hook point:

- explained variance ``1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2`` over the tokens;
- L0, the mean number of active latents per token; the dead fraction (latents that never fire on these
  tokens) and the dense fraction (latents that fire on more than 10 % of them);
- cross-entropy loss recovered (SAELens's "CE loss score"): the reconstruction is spliced into the forward
  pass in place of the activation, and ``(CE_zero - CE_spliced) / (CE_zero - CE_clean)``, with zero-ablation
  of the activation as the floor (1 = as good as the model, 0 = as bad as deleting the layer's content).

The first position (BOS, or the first token without one) is never replaced nor counted, as in training.
Every figure has a bootstrap interval over the texts (:func:`interp.stats.bootstrap_interval`, texts resampled
whole: the tokens of one text are not independent).

Example:
    >>> from interp.features import evaluate_sae, default_texts
    >>> evaluate_sae(model, sae, default_texts(split="heldout", max_texts=100)).summary()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import InstanceOf, Interval, validate_params
from interp._validation import check_texts
from interp.errors import InvalidParameterError
from interp.features.sae import SparseAutoencoder
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["evaluate_sae", "SAEEvaluationResult", "METRICS", "DENSE_THRESHOLD", "check_sae", "SAE_PARAM"]

METRICS = ("explained_variance", "l0", "dead_fraction", "dense_fraction", "ce_loss_recovered")
DENSE_THRESHOLD = 0.1


#: The table entry of an ``sae`` parameter (whether it fits the model is :func:`check_sae`'s, which needs the model).
SAE_PARAM = [InstanceOf(SparseAutoencoder, name="a SparseAutoencoder (see interp.features.load_sae)")]


def check_sae(model: Model, sae: Any, where: str) -> None:
    """The SAE fits the model: a :class:`SparseAutoencoder` of width d_model reading one of its hook points."""
    if not isinstance(sae, SparseAutoencoder):
        raise InvalidParameterError(f"The 'sae' parameter of {where} must be a SparseAutoencoder (see "
                                    f"interp.features.load_sae). Got {type(sae).__name__} instead.")
    if sae.d_in != model.d_model:
        raise InvalidParameterError(f"The SAE given to {where} reads {sae.d_in}-wide activations, but {model.name} has "
                                    f"d_model={model.d_model}.")
    model.check_hook_names([sae.hook_name], where=where)


@dataclasses.dataclass(eq=False)
class SAEEvaluationResult(Result):
    """An SAE's figures on held-out texts, each with its interval over texts.

    Attributes:
        model_name, hook_name, d_sae: what was evaluated. n_texts, n_tokens: the held-out data.
        metrics: per name in :data:`METRICS`: ``{"estimate", "low", "high"}``.
        ce_clean, ce_spliced, ce_zero: mean next-token cross-entropy (nats) of the model, with the
            reconstruction spliced in, and with the activation zeroed.
        firing_rate: (d_sae,) the share of tokens on which each latent fires.
    """

    title: ClassVar[str] = "SAE evaluation"
    model_name: str
    hook_name: str
    d_sae: int
    n_texts: int
    n_tokens: int
    metrics: dict[str, dict[str, float]]
    ce_clean: float
    ce_spliced: float
    ce_zero: float
    firing_rate: np.ndarray

    def summary(self) -> str:
        m = self.metrics

        def f(name: str, fmt: str = ".3f") -> str:
            return f"{m[name]['estimate']:{fmt}} [{m[name]['low']:{fmt}}, {m[name]['high']:{fmt}}]"

        return (f"On {self.n_tokens:,} held-out tokens of {self.n_texts} texts at {self.hook_name}: explained variance "
                f"{f('explained_variance')}, L0 {f('l0', '.1f')}, CE loss recovered {f('ce_loss_recovered')} "
                f"(CE {self.ce_clean:.3f} clean, {self.ce_spliced:.3f} spliced, {self.ce_zero:.3f} zeroed), dead "
                f"{f('dead_fraction', '.1%')}, dense {f('dense_fraction', '.1%')}.")

    def caveats(self) -> list[str]:
        out = []
        if self.ce_zero - self.ce_clean < 0.05:
            out.append("Zeroing this layer barely changes the loss, so CE loss recovered is close to 0/0 and "
                       "means little here.")
        if self.n_texts < 10:
            out.append(f"Only {self.n_texts} texts: the intervals are wide or missing.")
        return out

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame([{"metric": name, "estimate": v["estimate"], "low": v["low"], "high": v["high"]}
                             for name, v in self.metrics.items()])

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        rate = np.sort(self.firing_rate[self.firing_rate > 0])
        fig = go.Figure(go.Histogram(x=np.log10(rate) if len(rate) else [], nbinsx=50, name="latents"))
        fig.update_layout(title=f"Latent firing rates (log10); {self.plain_summary()[:80]}…",
                          xaxis_title="log10 share of tokens a latent fires on", yaxis_title="latents")
        return fig


@validate_params({
    "model": ["model"], "sae": SAE_PARAM, "texts": ["texts", None], "max_texts": [Interval(int, 1, None), None],
    "seed": [Interval(int, 0, None)], "progress": ["progress"],
})
def evaluate_sae(model: Model, sae: SparseAutoencoder, texts: str | Sequence[str] | None = None, *,
                 max_texts: int | None = 200, seed: int = 0, progress: ProgressArg = None) -> SAEEvaluationResult:
    """Explained variance, L0, dead / dense fractions and CE loss recovered of ``sae`` on ``texts``.

    Args:
        model: the model the SAE reads. sae: a :class:`SparseAutoencoder` of one of its hook points.
        texts: held-out texts; None = :func:`~interp.features.default_texts` ``(split="heldout")``.
        max_texts: use at most this many texts. seed: the bootstrap's seed.
        progress: stage ``"evaluate"``, counted in texts.

    Returns:
        :class:`SAEEvaluationResult`.

    Raises:
        InvalidParameterError: an SAE that does not fit the model. EmptyPromptError: no texts.
    """
    import torch

    from interp.features.corpus import default_texts
    from interp.models.card import model_card
    from interp.stats import bootstrap_interval

    where = "evaluate_sae"
    check_sae(model, sae, where)
    items = default_texts(split="heldout") if texts is None else check_texts(texts, where=where, name="texts")[0]
    if max_texts is not None:
        items = items[:max_texts]
    bar = resolve_progress(progress, where=where)
    bar("evaluate", 0, len(items))
    state: dict[str, Any] = {}

    def splice(x, hook):  # x: (1, pos, d_model)
        if state["mode"] == "clean":
            return None
        out = x.clone()
        if state["mode"] == "zero":
            out[:, 1:] = 0
            return out
        rows = x[0, 1:].float()
        z = sae.encode(rows)
        x_hat = sae.decode(z)
        state["x"], state["z"], state["x_hat"] = rows, z, x_hat
        out[0, 1:] = x_hat.to(x.dtype)
        return out

    per_text: list[dict[str, Any]] = []
    fire_count = np.zeros(sae.d_sae, dtype=np.int64)
    with model.hooks([(sae.hook_name, splice)]):
        for i, text in enumerate(items):
            ids = model.encode(text, where=where)
            losses = {}
            for mode in ("clean", "spliced", "zero"):
                state["mode"] = mode
                logits = model.logits(text).float()  # (pos, d_vocab)
                logprobs = torch.log_softmax(logits[:-1], dim=-1)
                target = torch.tensor(ids[1:])
                losses[mode] = -logprobs[torch.arange(len(target)), target]  # (pos - 1,)
            x, z, x_hat = state["x"], state["z"], state["x_hat"]
            fires = (z > 0).numpy()
            fire_count += fires.sum(0)
            # positions >= 1 are replaced; the loss of predicting token t+1 from position t counts from t = 1
            per_text.append({"ce": {m: float(v[1:].sum()) for m, v in losses.items()}, "n_ce": len(losses["clean"]) - 1,
                             "sse": float(((x - x_hat) ** 2).sum()), "x_sum": x.double().sum(0).numpy(),
                             "x_sq": float((x.double() ** 2).sum()), "n": len(x), "l0": float(fires.sum()),
                             "fires": fires.sum(0)})
            bar("evaluate", i + 1, len(items))
    n_tok = np.array([t["n"] for t in per_text], dtype=np.float64)
    n_ce = np.array([t["n_ce"] for t in per_text], dtype=np.float64)
    sse = np.array([t["sse"] for t in per_text])
    x_sq = np.array([t["x_sq"] for t in per_text])
    x_sum = np.stack([t["x_sum"] for t in per_text])
    l0 = np.array([t["l0"] for t in per_text])
    ce = {m: np.array([t["ce"][m] for t in per_text]) for m in ("clean", "spliced", "zero")}
    fire_counts = np.stack([t["fires"] for t in per_text])  # (n_texts, d_sae): tokens each latent fires on

    def ev(rows: np.ndarray) -> float:
        n = n_tok[rows].sum()
        total = x_sq[rows].sum() - (x_sum[rows].sum(0) ** 2).sum() / max(n, 1)
        return float(1 - sse[rows].sum() / total) if total > 0 else float("nan")

    def recovered(rows: np.ndarray) -> float:
        clean, spliced, zero = (ce[m][rows].sum() / max(n_ce[rows].sum(), 1) for m in ("clean", "spliced", "zero"))
        return float((zero - spliced) / (zero - clean)) if zero != clean else float("nan")

    def rates(rows: np.ndarray) -> np.ndarray:
        return fire_counts[rows].sum(0) / max(n_tok[rows].sum(), 1)

    statistics = {
        "explained_variance": ev,
        "l0": lambda rows: float(l0[rows].sum() / max(n_tok[rows].sum(), 1)),
        "dead_fraction": lambda rows: float((rates(rows) == 0).mean()),
        "dense_fraction": lambda rows: float((rates(rows) > DENSE_THRESHOLD).mean()),
        "ce_loss_recovered": recovered,
    }
    metrics = {}
    for name, statistic in statistics.items():
        resamples = 200 if name in ("dead_fraction", "dense_fraction") else 1000
        interval = bootstrap_interval(statistic, len(per_text), n_resamples=resamples, seed=seed)
        metrics[name] = {"estimate": interval.estimate, "low": interval.low, "high": interval.high}
    total_ce = max(n_ce.sum(), 1)
    return SAEEvaluationResult(
        model_name=model.name, hook_name=sae.hook_name, d_sae=sae.d_sae, n_texts=len(items), n_tokens=int(n_tok.sum()),
        metrics=metrics, ce_clean=float(ce["clean"].sum() / total_ce), ce_spliced=float(ce["spliced"].sum() / total_ce),
        ce_zero=float(ce["zero"].sum() / total_ce), firing_rate=fire_count / max(n_tok.sum(), 1),
        model_card=model_card(model))
