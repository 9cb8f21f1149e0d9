"""Are the attribution scores right? Two checks against ground truth.

- **Planted facts** (known sources): for each query with gold sources, the reciprocal rank of the
  best-ranked gold example (MRR is its mean) and Recall@10 (the share of gold examples among the 10
  top-scored ones), by query kind (lexical, paraphrase, question, shutdown, crosslingual_*).
- **Linear datamodeling score** (LDS, Park et al. 2023, "TRAK"): retrain the same fine-tuning on
  ``lds_subsets`` random halves of the training set (same settings, from the same base weights),
  measure each query's target loss after each retrain, and take per query the Spearman correlation
  between the method's predicted effect of the half (the sum of its examples' scores) and the actual
  *negative* loss (higher is better); LDS is the mean over queries. Deviation from the paper: one
  training run per subset (TRAK averages several seeds), so retraining noise lowers the LDS ceiling.

Example:
    >>> evaluate_attribution(run, ["bm25", "grad_cos", "trackstar"], lds_subsets=8).to_frame()
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._validation import check_choice, check_int
from interp.data_attribution import _stack
from interp.data_attribution.attribute import DEFAULT_DIM, METHODS, GradientStore, training_scores
from interp.data_attribution.datasets import Query
from interp.errors import InvalidParameterError
from interp.progress import ProgressArg
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.data_attribution.finetune import FineTuneRun

__all__ = ["AttributionEvaluationResult", "evaluate_attribution", "rank_metrics", "lds_retrain_losses", "lds_scores"]


def rank_metrics(scores: np.ndarray, ids: Sequence[str], gold: Sequence[str], k: int = 10) -> tuple[float, float]:
    """(reciprocal rank of the best gold example, Recall@k) of one query's (n_train,) scores."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    index = {x: i for i, x in enumerate(ids)}
    gold_idx = {index[g] for g in gold}
    ranks = [r + 1 for r, i in enumerate(order) if int(i) in gold_idx]
    top = {int(i) for i in order[:k]}
    return 1.0 / min(ranks), len(gold_idx & top) / len(gold_idx)


def lds_retrain_losses(run: FineTuneRun, queries: list[Query], n_subsets: int, *, seed: int = 0, progress=None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Retrain the run on ``n_subsets`` random halves; return the (n_subsets, n_train) bool masks and
    the (n_subsets, n_queries) query losses after each retrain."""
    from interp.data_attribution.finetune import train_top_stack

    n = len(run.data)
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_subsets, n), dtype=bool)
    for s in range(n_subsets):
        masks[s, rng.choice(n, n // 2, replace=False)] = True
    base_top = _stack.top_stack(run.base, run.first_block)
    encoded_q = _stack.encode_pairs(run.base, [(q.prompt, q.target) for q in queries], where="evaluate_attribution")
    resid_q = _stack.residuals(run.base, encoded_q, run.first_block)
    enc = run.encoded
    losses = np.zeros((n_subsets, len(queries)))
    if progress is not None:
        progress("lds retrains", 0, n_subsets)
    for s in range(n_subsets):
        top = copy.deepcopy(base_top)
        config = dataclasses.replace(run.config, seed=run.config.seed + 1000 + s)
        train_top_stack(top, _stack.trainable_layers(top, run.config.part), run.residuals, enc.ids, enc.n_prompt, config,
                        subset=np.flatnonzero(masks[s]))
        with torch.no_grad():
            for start in range(0, len(queries), 32):
                sl = slice(start, start + 32)
                losses[s, sl] = _stack.sequence_losses(top, resid_q[sl], encoded_q.ids[sl], encoded_q.n_prompt[sl]).numpy()
        if progress is not None:
            progress("lds retrains", s + 1, n_subsets)
    return masks, losses


def lds_scores(scores: np.ndarray, masks: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """(n_queries,) Spearman correlation per query of ``masks @ scores`` (predicted) with ``-losses`` (actual)."""
    from scipy.stats import spearmanr

    predicted = masks.astype(np.float64) @ scores.T  # (n_subsets, n_queries)
    out = np.full(scores.shape[0], np.nan)
    for j in range(scores.shape[0]):
        if np.ptp(predicted[:, j]) > 0 and np.ptp(losses[:, j]) > 0:
            out[j] = spearmanr(predicted[:, j], -losses[:, j]).statistic
    return out


@dataclasses.dataclass(eq=False)
class AttributionEvaluationResult(Result):
    """MRR, Recall@10 and LDS of attribution methods on one fine-tuning run.

    Attributes:
        methods: the methods evaluated.
        query_ids, query_kinds: (n_queries,) the queries with gold sources.
        reciprocal_rank, recall_at_10: (n_methods, n_queries) per query.
        lds_query_ids: the queries the LDS was measured on.
        lds: (n_methods, n_lds_queries) Spearman per query (NaN where a query's loss did not vary).
        lds_subsets: how many random halves were retrained (0: no LDS).
        seconds: (n_methods,) wall time of each method's scores for all queries (the training gradients and the
            query gradients a method computes first are counted for it; later methods reuse them).
        run: the run folder, dataset name and fine-tuned model name.
    """

    methods: list[str]
    query_ids: list[str]
    query_kinds: list[str]
    reciprocal_rank: np.ndarray
    recall_at_10: np.ndarray
    lds_query_ids: list[str]
    lds: np.ndarray
    lds_subsets: int
    seconds: np.ndarray
    run: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Training-data attribution: evaluation"

    def mrr(self, method: str, kinds: Sequence[str] | None = None) -> float:
        cols = [j for j, k in enumerate(self.query_kinds) if kinds is None or k in kinds]
        return float(self.reciprocal_rank[self.methods.index(method), cols].mean()) if cols else float("nan")

    def mean_lds(self, method: str) -> float:
        row = self.lds[self.methods.index(method)]
        return float(np.nanmean(row)) if np.isfinite(row).any() else float("nan")

    def summary(self) -> str:
        parts = [f"{m}: MRR {self.mrr(m):.3f}" + (f", LDS {self.mean_lds(m):.3f}" if self.lds_subsets else "")
                 for m in self.methods]
        return f"{len(self.query_ids)} queries, {self.run.get('model', '')}: " + "; ".join(parts)

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = []
        kinds = ["all", *sorted(set(self.query_kinds))]
        for i, method in enumerate(self.methods):
            for kind in kinds:
                cols = [j for j, k in enumerate(self.query_kinds) if kind == "all" or k == kind]
                if not cols:
                    continue
                rows.append({"method": method, "kind": kind, "n_queries": len(cols),
                             "mrr": float(self.reciprocal_rank[i, cols].mean()),
                             "recall_at_10": float(self.recall_at_10[i, cols].mean()),
                             "lds": self.mean_lds(method) if kind == "all" and self.lds_subsets else float("nan"),
                             "seconds": float(self.seconds[i]) if kind == "all" else float("nan")})
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure()
        for method in self.methods:
            part = frame[frame["method"] == method]
            fig.add_trace(go.Bar(x=part["kind"].tolist(), y=part["mrr"].tolist(), name=method,
                                 hovertemplate=f"{method} %{{x}}: MRR %{{y:.3f}}<extra></extra>"))
        title = "Planted-fact MRR by query kind"
        if self.lds_subsets:
            title += " — LDS: " + ", ".join(f"{m} {self.mean_lds(m):.2f}" for m in self.methods)
        fig.update_layout(title=title, barmode="group", yaxis_title="MRR", yaxis_range=[0, 1])
        return fig


def evaluate_attribution(run: FineTuneRun, method: str | Sequence[str] = METHODS, *, lds_subsets: int = 0,
                         queries: Sequence[str] | None = None, dim: int | None = DEFAULT_DIM, seed: int = 0,
                         progress: ProgressArg = None) -> AttributionEvaluationResult:
    """MRR and Recall@10 of each method over the run's queries with gold sources, and (``lds_subsets > 0``) the LDS.

    Args:
        run: a :class:`~interp.data_attribution.finetune.FineTuneRun`.
        method: one method or several (see :data:`~interp.data_attribution.attribute.METHODS`).
        lds_subsets: how many random halves to retrain on for the LDS (0: skip it; each retrain is
            a fine-tuning of half the data).
        queries: query ids to use (default: every query of the run's data with gold sources).
        dim, seed: the gradient projection (see :func:`~interp.data_attribution.attribute.attribute_training`).
        progress: see :mod:`interp.progress`.

    Returns:
        :class:`AttributionEvaluationResult`.
    """
    from interp.models.card import model_card
    from interp.progress import resolve_progress

    where = "evaluate_attribution"
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise InvalidParameterError(f"The 'method' parameter of {where} is empty; give one or more of {list(METHODS)}.")
    for m in methods:
        check_choice(m, METHODS, name="method", where=where)
    check_int(lds_subsets, name="lds_subsets", where=where, low=0)
    report = resolve_progress(progress, where=where)
    pool = [q for q in run.data.queries if q.gold]
    if queries is not None:
        chosen = [run.data.query(q) for q in queries]
        pool = [q for q in chosen if q.gold]
    if not pool:
        raise InvalidParameterError(f"{where}: the run's data {run.data.name!r} has no queries with gold sources to evaluate.")
    ids = run.data.ids
    rr = np.zeros((len(methods), len(pool)))
    recall = np.zeros((len(methods), len(pool)))
    all_scores = []
    seconds = np.zeros(len(methods))
    store = GradientStore(run, dim=dim, seed=seed)  # shared: the query gradients are computed once for all methods
    for i, m in enumerate(methods):
        t0 = time.perf_counter()
        scores = training_scores(run, pool, m, dim=dim, seed=seed, progress=report, store=store)
        seconds[i] = time.perf_counter() - t0
        all_scores.append(scores)
        for j, q in enumerate(pool):
            rr[i, j], recall[i, j] = rank_metrics(scores[j], ids, q.gold)
    lds = np.full((len(methods), len(pool)), np.nan)
    if lds_subsets:
        masks, losses = lds_retrain_losses(run, pool, lds_subsets, seed=seed, progress=report)
        for i in range(len(methods)):
            lds[i] = lds_scores(all_scores[i], masks, losses)
    return AttributionEvaluationResult(
        methods=methods, query_ids=[q.id for q in pool], query_kinds=[q.kind for q in pool], reciprocal_rank=rr,
        recall_at_10=recall, lds_query_ids=[q.id for q in pool], lds=lds, lds_subsets=lds_subsets, seconds=seconds,
        run={"path": str(run.path), "data": run.data.name, "model": run.model_name()}, model_card=model_card(run.model))
