"""Are the attribution scores right? Three yardsticks, each with its interval over queries.

- **Retrieval of planted sources** (known sources): for each query with gold sources, the reciprocal
  rank of the best-ranked gold example (MRR is its mean) and Recall@10 (the share of gold examples
  among the 10 top-scored ones), by query kind (paraphrase, question, shutdown, crosslingual_*, and
  ``own_text``). An ``own_text`` query *is* a training example's own prompt and target, so ranking
  that example first is self-retrieval, not attribution: headlines (:meth:`summary`, the first rows of
  :meth:`to_frame`) leave those queries out. Retrieval is what word overlap is good at: BM25 beats
  gradient methods at finding a fact's source (Akyurek et al. 2022, FTRACE; Chang et al. 2024).
- **Tail-patch score** (Chang et al. 2024, "Scalable influence and fact tracing for large language
  model pretraining", TrackStar): does training on the examples a method ranks first move the model's
  output? Per query, one more AdamW step of the fine-tune (same learning rate, weight decay and betas,
  continuing from the final checkpoint's weights *and* AdamW moments) on the method's top ``k``
  examples as one batch, and the increase of the query target's log-probability (summed over its
  tokens); the weights are restored after each query. The same step on ``k`` examples drawn at random
  is the reference a method must beat. This is influence, what gradient methods are for.
- **Linear datamodeling score** (LDS, Park et al. 2023, "TRAK"): retrain the same fine-tuning on
  ``lds_subsets`` random halves of the training set (same settings, from the same base weights),
  measure each query's target loss after each retrain, and take per query the Spearman correlation
  between the method's predicted effect of the half (the sum of its examples' scores) and the actual
  *negative* loss (higher is better); LDS is the mean over queries. Deviation from the paper: one
  training run per subset (TRAK averages several seeds), so retraining noise lowers the LDS ceiling.
  Each query's Spearman is over ``lds_subsets`` points only (with 8 subsets a single rho of 0.5 has
  a Fisher-z interval of about [-0.3, 0.9]); use 32 or more.

Every mean carries a 95% interval from a bootstrap over queries that resamples whole facts (the
queries of one planted fact are not independent); two methods are compared by a paired bootstrap on
the same queries, and a difference whose interval holds 0 is reported as within noise.

Example:
    >>> ev = evaluate_attribution(run, ["bm25", "grad_cos", "trackstar"], lds_subsets=32)
    >>> print(ev.summary()); ev.to_frame()
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import Interval, Subset, validate_params
from interp._validation import check_int
from interp.data_attribution import _stack
from interp.data_attribution.attribute import (
    DEFAULT_DIM,
    METHODS,
    RENAMED_METHODS,
    GradientStore,
    renamed_method,
    training_scores,
)
from interp.data_attribution.datasets import Query
from interp.errors import InvalidParameterError
from interp.progress import ProgressArg, ProgressCallback
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.data_attribution.finetune import FineTuneRun

__all__ = ["AttributionEvaluationResult", "evaluate_attribution", "rank_metrics", "lds_retrain_losses", "lds_scores",
           "tail_patch_scores", "SELF_KINDS", "RANDOM"]

SELF_KINDS = ("own_text", "lexical")  # queries that are a training example's own text ("lexical": older data)
HEADLINE = "all_but_own_text"  # the kind label of the headline rows: every query that is not self-retrieval
RANDOM = "random"  # the tail-patch reference: k training examples drawn at random
METRICS = ("mrr", "recall_at_10", "tail_patch", "lds")
LDS_ENOUGH = 32  # retrain subsets below which each query's Spearman is too noisy to rank methods


def rank_metrics(scores: np.ndarray, ids: Sequence[str], gold: Sequence[str], k: int = 10) -> tuple[float, float]:
    """(reciprocal rank of the best gold example, Recall@k) of one query's (n_train,) scores."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    index = {x: i for i, x in enumerate(ids)}
    gold_idx = {index[g] for g in gold}
    ranks = [r + 1 for r, i in enumerate(order) if int(i) in gold_idx]
    top = {int(i) for i in order[:k]}
    return 1.0 / min(ranks), len(gold_idx & top) / len(gold_idx)


def lds_retrain_losses(run: FineTuneRun, queries: list[Query], n_subsets: int, *, seed: int = 0,
                       progress: ProgressCallback | None = None
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
    """(n_queries,) Spearman correlation per query of ``masks @ scores`` (predicted) with ``-losses`` (actual).

    ``scores``: (n_queries, n_train); ``masks``: (n_subsets, n_train) bool; ``losses``: (n_subsets, n_queries).
    NaN where the prediction or the loss does not vary over the subsets."""
    from scipy.stats import spearmanr

    predicted = masks.astype(np.float64) @ scores.T  # (n_subsets, n_queries)
    out = np.full(scores.shape[0], np.nan)
    for j in range(scores.shape[0]):
        if np.ptp(predicted[:, j]) > 0 and np.ptp(losses[:, j]) > 0:
            out[j] = spearmanr(predicted[:, j], -losses[:, j]).statistic
    return out


def _target_logprobs(top: torch.nn.Module, resid: list[torch.Tensor], encoded: _stack.Encoded, rows: Sequence[int]
                     ) -> np.ndarray:
    """(len(rows),) log-probability of each query's whole target (the sum over its tokens) under ``top``."""
    with torch.no_grad():
        mean_nll = _stack.sequence_losses(top, [resid[r] for r in rows], [encoded.ids[r] for r in rows],
                                          [encoded.n_prompt[r] for r in rows])
    counts = torch.tensor([len(encoded.ids[r]) - encoded.n_prompt[r] for r in rows], dtype=mean_nll.dtype)
    return (-mean_nll * counts).numpy().astype(np.float64)


def tail_patch_scores(run: FineTuneRun, queries: list[Query], rankings: Sequence[np.ndarray], *, k: int | None = None,
                      progress: ProgressCallback | None = None) -> np.ndarray:
    """Chang et al.'s tail-patch score of each ranking for each query (see the module docstring).

    Args:
        run: the fine-tuning run (its final checkpoint's weights and AdamW moments are the starting point).
        queries: the n_queries queries.
        rankings: per method, (n_queries, n_train) scores (higher: more supporting) or (n_queries, k) int
            arrays of the training indices to patch with (e.g. a random draw).
        k: how many top-ranked examples one step trains on (default: the fine-tune's batch size).

    Returns:
        (n_methods, n_queries) increase of each query target's log-probability (nats) after one step.
    """
    from safetensors.torch import load_file

    from interp.data_attribution.finetune import _param_names

    k = run.config.batch_size if k is None else k
    top = copy.deepcopy(run.top)
    named = _param_names(top, run.config.part)
    params = [p for _, p in named]
    last = run.checkpoints[-1]
    tensors = load_file(run.path / last["file"])
    original = [p.detach().clone() for p in params]
    config = run.config
    opt = torch.optim.AdamW(params, lr=float(last["lr"]), weight_decay=config.weight_decay, betas=(0.9, 0.999), eps=1e-8)
    encoded = _stack.encode_pairs(run.base, [(q.prompt, q.target) for q in queries], where="evaluate_attribution")
    resid_q = _stack.residuals(run.base, encoded, run.first_block)
    before = np.concatenate([_target_logprobs(top, resid_q, encoded, range(s, min(s + 32, len(queries))))
                             for s in range(0, len(queries), 32)])
    train_resid, train_enc = run.residuals, run.encoded
    out = np.zeros((len(rankings), len(queries)))
    done: dict[tuple, float] = {}  # (query, examples) already patched: methods that agree share the step
    total = len(rankings) * len(queries)
    if progress is not None:
        progress("tail-patch", 0, total)
    for p in params:
        p.requires_grad_(True)
    try:
        for m, ranking in enumerate(rankings):
            ranking = np.asarray(ranking)
            for j in range(len(queries)):
                picks = ranking[j] if ranking.dtype.kind in "iu" else np.argsort(-ranking[j], kind="stable")[:k]
                key = (j, tuple(sorted(int(i) for i in picks)))
                if key not in done:
                    for p, (name, _) in zip(params, named):
                        opt.state[p] = {"step": torch.tensor(float(last["step"])),
                                        "exp_avg": tensors[f"exp_avg.{name}"].clone(),
                                        "exp_avg_sq": tensors[f"exp_avg_sq.{name}"].clone()}
                    opt.zero_grad(set_to_none=True)
                    batch = list(key[1])
                    loss = _stack.sequence_losses(top, [train_resid[i] for i in batch], [train_enc.ids[i] for i in batch],
                                                  [train_enc.n_prompt[i] for i in batch]).mean()
                    loss.backward()
                    opt.step()
                    done[key] = float(_target_logprobs(top, resid_q, encoded, [j])[0] - before[j])
                    with torch.no_grad():
                        for p, value in zip(params, original):
                            p.copy_(value)
                out[m, j] = done[key]
                if progress is not None:
                    progress("tail-patch", m * len(queries) + j + 1, total)
    finally:
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    return out


# --------------------------------------------------------------------------------------------- intervals
def _by_fact(values: np.ndarray, clusters: Sequence[str]) -> np.ndarray:
    """(n_clusters, 2): the sum of the finite values of each cluster and their count. A bootstrap over these rows
    with the statistic ``sum(col 0) / sum(col 1)`` is the cluster bootstrap of the mean over queries."""
    values = np.asarray(values, dtype=np.float64)
    labels = list(dict.fromkeys(clusters))
    where = {c: i for i, c in enumerate(labels)}
    out = np.zeros((len(labels), 2))
    for v, c in zip(values, clusters):
        if np.isfinite(v):
            out[where[c]] += (v, 1.0)
    return out


def _ratio(rows: np.ndarray) -> float:
    return float(rows[:, 0].sum() / rows[:, 1].sum()) if rows[:, 1].sum() > 0 else float("nan")


def _interval(values: np.ndarray, clusters: Sequence[str]) -> dict:
    from interp.stats import bootstrap_interval

    rows = _by_fact(values, clusters)
    rows = rows[rows[:, 1] > 0]
    interval = bootstrap_interval(lambda idx: _ratio(rows[idx]), len(rows))
    return dataclasses.replace(interval, method="cluster bootstrap (queries of one fact together)").to_dict()


def _compare(a: np.ndarray, b: np.ndarray, clusters: Sequence[str], names: tuple[str, str]) -> dict:
    from interp.stats import paired_difference

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)  # the same queries on both sides
    cl = [c for c, keep in zip(clusters, both) if keep]
    ra, rb = _by_fact(a[both], cl), _by_fact(b[both], cl)
    if not len(ra):
        return {}
    return paired_difference(ra, rb, statistic=_ratio, names=names).to_dict()


# --------------------------------------------------------------------------------------------- the result
@dataclasses.dataclass(eq=False)
class AttributionEvaluationResult(Result):
    """MRR, Recall@10, tail-patch score and LDS of attribution methods on one fine-tuning run, with intervals.

    Attributes:
        methods: the methods evaluated.
        query_ids, query_kinds, query_groups: (n_queries,) the queries with gold sources, their kind and the
            fact they ask about (the bootstrap resamples facts).
        reciprocal_rank, recall_at_10: (n_methods, n_queries) per query.
        lds_query_ids: the queries the LDS was measured on.
        lds: (n_methods, n_lds_queries) Spearman per query over the retrain subsets (NaN where a query's loss
            or a method's prediction did not vary).
        lds_subsets: how many random halves were retrained (0: no LDS).
        tail_patch: (n_methods + 1, n_queries) increase of each target's log-probability (nats) after one AdamW
            step on the method's top ``tail_patch_k`` examples; the last row is the step on random examples
            (:data:`RANDOM`). Empty when ``tail_patch_k`` is 0.
        tail_patch_k: the examples per tail-patch step (0: not measured).
        intervals: ``"<metric>|<method>|<kind>"`` -> an :class:`interp.stats.Interval` dict (95%, bootstrap over
            facts), for every metric, method and query kind (``all_but_own_text``: the headline).
        comparisons: one :class:`interp.stats.Comparison` dict per metric and pair of methods (``a - b`` on the
            same non-own-text queries), with ``"metric"`` added.
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
    query_groups: list[str] = dataclasses.field(default_factory=list)
    tail_patch: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    tail_patch_k: int = 0
    intervals: dict[str, Any] = dataclasses.field(default_factory=dict)
    comparisons: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    title: ClassVar[str] = "Training-data attribution: evaluation"

    # ------------------------------------------------------------------ figures
    def kinds(self) -> list[str]:
        """The headline label, then every query kind, self-retrieval kinds last."""
        present = sorted(set(self.query_kinds), key=lambda k: (k in SELF_KINDS, k))
        return [HEADLINE, *present] if any(k not in SELF_KINDS for k in present) else present

    def _columns(self, kind: str) -> list[int]:
        if kind == HEADLINE:
            return [j for j, k in enumerate(self.query_kinds) if k not in SELF_KINDS]
        return [j for j, k in enumerate(self.query_kinds) if kind in ("all", k)]

    def _values(self, metric: str, method: str) -> np.ndarray | None:
        if metric == "tail_patch":
            if not self.tail_patch_k:
                return None
            row = len(self.methods) if method == RANDOM else self.methods.index(method)
            return self.tail_patch[row]
        if metric == "lds":
            return self.lds[self.methods.index(method)] if self.lds_subsets else None
        return {"mrr": self.reciprocal_rank, "recall_at_10": self.recall_at_10}[metric][self.methods.index(method)]

    def interval(self, metric: str, method: str, kind: str = HEADLINE):
        """The :class:`interp.stats.Interval` of ``metric`` ("mrr", "recall_at_10", "tail_patch", "lds") for
        ``method`` on the queries of ``kind`` (default: all but own_text), or None when it was not measured."""
        from interp.stats import Interval

        data = self.intervals.get(f"{metric}|{method}|{kind}")
        return Interval.from_dict(data) if data else None

    def mrr(self, method: str, kinds: Sequence[str] | None = None) -> float:
        """Mean reciprocal rank over the queries of ``kinds`` (default: every kind but own_text)."""
        cols = [j for j, k in enumerate(self.query_kinds) if (k in kinds if kinds is not None else k not in SELF_KINDS)]
        return float(self.reciprocal_rank[self.methods.index(method), cols].mean()) if cols else float("nan")

    def mean_lds(self, method: str) -> float:
        """The LDS over the queries that are not own_text (NaN without retrains)."""
        if not self.lds_subsets:
            return float("nan")
        row = self.lds[self.methods.index(method), self._columns(HEADLINE) or slice(None)]
        return float(np.nanmean(row)) if np.isfinite(row).any() else float("nan")

    def mean_tail_patch(self, method: str) -> float:
        """The mean tail-patch score over the queries that are not own_text (NaN when not measured)."""
        values = self._values("tail_patch", method)
        return float("nan") if values is None else float(np.mean(values[self._columns(HEADLINE) or slice(None)]))

    def comparison(self, metric: str, a: str, b: str):
        """The :class:`interp.stats.Comparison` of ``a - b`` on ``metric`` (None when not measured)."""
        from interp.stats import Comparison, Interval

        for c in self.comparisons:
            if c["metric"] == metric and {c["name_a"], c["name_b"]} == {a, b}:
                made = Comparison(c["name_a"], c["name_b"], *(Interval.from_dict(c[x]) for x in ("a", "b", "difference")))
                if made.name_a == a:
                    return made
                flip = made.difference
                return Comparison(a, b, made.b, made.a, dataclasses.replace(flip, estimate=-flip.estimate,
                                                                            low=-flip.high, high=-flip.low))
        return None

    def winner(self, metric: str) -> tuple[str | None, str]:
        """(the method that is best on ``metric`` beyond noise, or None, and a sentence saying so)."""
        estimates = {m: self.interval(metric, m) for m in self.methods}
        estimates = {m: i for m, i in estimates.items() if i is not None and np.isfinite(i.estimate)}
        if not estimates:
            return None, f"{metric}: not measured"
        ranked = sorted(estimates, key=lambda m: -estimates[m].estimate)
        best = ranked[0]
        if len(ranked) == 1:
            return best, f"{metric}: {best} {estimates[best].format()} (one method)"
        second = self.comparison(metric, best, ranked[1])
        if second is None or second.within_noise:
            tied = [m for m in ranked[1:] if (c := self.comparison(metric, best, m)) is None or c.within_noise]
            return None, (f"{metric}: {best} {estimates[best].format()} leads, within noise of {', '.join(tied)}")
        return best, f"{metric}: {best} wins ({second.sentence()})"

    # ------------------------------------------------------------------ views
    def caveats(self) -> list[str]:
        notes = []
        if any(k in SELF_KINDS for k in self.query_kinds):
            notes.append("own_text queries are a training example's own prompt and target: ranking it first is "
                         "self-retrieval, not attribution. Headline figures leave them out.")
        if "bm25" in self.methods:
            beaten = [m for m in self.methods if m != "bm25" and (c := self.comparison("mrr", "bm25", m)) is not None
                      and not c.within_noise and c.larger == "bm25"]
            if beaten:
                notes.append(f"BM25 retrieves the planted sources better than {', '.join(beaten)} (MRR): finding a "
                             "fact's source is word overlap's strength. Judge gradient methods by influence: the "
                             "tail-patch score and the LDS.")
        if self.tail_patch_k:
            weak = [m for m in self.methods if (c := self.comparison("tail_patch", m, RANDOM)) is not None
                    and c.larger != m]
            if weak:
                notes.append(f"Training on the top {self.tail_patch_k} examples of {', '.join(weak)} raises the targets "
                             "no more than training on random examples does (tail-patch within noise of random or "
                             "below): their rankings do not carry influence here.")
        if self.lds_subsets:
            from interp.stats import correlation_interval

            if self.lds_subsets < LDS_ENOUGH:
                one = correlation_interval(0.5, self.lds_subsets, kind="spearman")
                notes.append(f"The LDS comes from {self.lds_subsets} retrained subsets: one query's Spearman of 0.5 "
                             f"over them has the interval {one.format(2)}. Use {LDS_ENOUGH} or more.")
            null = [m for m in self.methods if (i := self.interval("lds", m)) is not None and not i.above(0.0)]
            if null:
                notes.append(f"The LDS interval of {', '.join(null)} does not lie above 0: no evidence that their "
                             "scores predict retraining.")
        return notes

    def summary(self) -> str:
        n = len(self._columns(HEADLINE))
        own = len(self.query_ids) - n
        head = (f"{n} queries ({own} own_text queries left out), {self.run.get('model', '')}"
                + (f"; tail-patch: one AdamW step on the top {self.tail_patch_k}" if self.tail_patch_k else "")
                + (f"; LDS over {self.lds_subsets} retrained halves" if self.lds_subsets else ""))
        lines = [head]
        for m in self.methods:
            parts = [f"MRR {self.interval('mrr', m).format()}" if self.interval("mrr", m) else f"MRR {self.mrr(m):.3f}"]
            if self.interval("tail_patch", m):
                parts.append(f"tail-patch {self.interval('tail_patch', m).format()} nats")
            if self.interval("lds", m):
                parts.append(f"LDS {self.interval('lds', m).format()}")
            lines.append(f"  {m}: " + ", ".join(parts))
        if self.interval("tail_patch", RANDOM):
            lines.append(f"  ({RANDOM} {self.tail_patch_k} examples: tail-patch {self.interval('tail_patch', RANDOM).format()})")
        if self.intervals:
            lines += ["  " + self.winner(metric)[1] for metric in ("mrr", "tail_patch", "lds")
                      if any(self.interval(metric, m) for m in self.methods)]
        return "\n".join(lines)

    def to_frame(self) -> DataFrame:
        """One row per method and query kind (``all_but_own_text`` first, own_text last): each metric with its
        ``_low`` / ``_high`` interval, plus the random-examples tail-patch reference."""
        import pandas as pd

        rows = []
        names = [*self.methods, *([RANDOM] if self.tail_patch_k else [])]
        for method in names:
            for kind in self.kinds():
                cols = self._columns(kind)
                if not cols:
                    continue
                row: dict[str, Any] = {"method": method, "kind": kind, "n_queries": len(cols)}
                for metric in METRICS:
                    values = None if method == RANDOM and metric != "tail_patch" else self._values(metric, method)
                    estimate = float(np.nanmean(values[cols])) if values is not None and np.isfinite(values[cols]).any() \
                        else float("nan")
                    interval = self.interval(metric, method, kind)
                    row[metric] = estimate
                    row[f"{metric}_low"] = interval.low if interval else float("nan")
                    row[f"{metric}_high"] = interval.high if interval else float("nan")
                row["seconds"] = float(self.seconds[self.methods.index(method)]) \
                    if kind == self.kinds()[0] and method != RANDOM else float("nan")
                rows.append(row)
        return pd.DataFrame(rows)

    def comparisons_frame(self) -> DataFrame:
        """The paired differences (``a - b`` on the same queries, all but own_text) per metric and pair."""
        import pandas as pd

        return pd.DataFrame([{"metric": c["metric"], "a": c["name_a"], "b": c["name_b"],
                              "difference": c["difference"]["estimate"], "low": c["difference"]["low"],
                              "high": c["difference"]["high"], "within_noise": c["within_noise"]}
                             for c in self.comparisons])

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("Paired differences (a - b, same queries)", self.comparisons_frame())]

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        frame = self.to_frame()
        frame = frame[frame["kind"] == self.kinds()[0]]
        titles = ["MRR (retrieval)", "tail-patch (nats)", "LDS"]
        fig = make_subplots(rows=1, cols=3, subplot_titles=titles)
        for c, metric in enumerate(("mrr", "tail_patch", "lds"), 1):
            part = frame[np.isfinite(frame[metric])]
            fig.add_trace(go.Bar(x=part["method"].tolist(), y=part[metric].tolist(), name=titles[c - 1], showlegend=False,
                                 error_y={"type": "data", "symmetric": False,
                                          "array": (part[f"{metric}_high"] - part[metric]).tolist(),
                                          "arrayminus": (part[metric] - part[f"{metric}_low"]).tolist()},
                                 hovertemplate=f"%{{x}}: {metric} %{{y:.3f}}<extra></extra>"), row=1, col=c)
        fig.update_xaxes(title_text="method")
        for c, label in enumerate(("MRR", "log-prob rise (nats)", "Spearman"), 1):
            fig.update_yaxes(title_text=label, row=1, col=c)
        fig.update_layout(title=f"Attribution on {self.kinds()[0]} queries, 95% intervals (bootstrap over facts)")
        return fig


def assemble_evaluation(methods: list[str], pool: list[Query], rr: np.ndarray, recall: np.ndarray, lds: np.ndarray,
                        lds_subsets: int, tail: np.ndarray, tail_k: int, seconds: np.ndarray, run: dict,
                        model_card: dict) -> AttributionEvaluationResult:
    """The result with every interval and paired difference computed once (so saving keeps them)."""
    result = AttributionEvaluationResult(
        methods=methods, query_ids=[q.id for q in pool], query_kinds=[q.kind for q in pool], reciprocal_rank=rr,
        recall_at_10=recall, lds_query_ids=[q.id for q in pool], lds=lds, lds_subsets=lds_subsets, seconds=seconds,
        run=run, query_groups=[q.group or q.id for q in pool], tail_patch=tail, tail_patch_k=tail_k,
        model_card=model_card)
    groups = result.query_groups
    intervals: dict[str, Any] = {}
    for method in [*methods, *([RANDOM] if tail_k else [])]:
        for metric in METRICS:
            if method == RANDOM and metric != "tail_patch":
                continue
            values = result._values(metric, method)
            if values is None:
                continue
            for kind in result.kinds():
                cols = result._columns(kind)
                if cols and np.isfinite(values[cols]).any():
                    intervals[f"{metric}|{method}|{kind}"] = _interval(values[cols], [groups[j] for j in cols])
    result.intervals = intervals
    cols = result._columns(HEADLINE) or list(range(len(pool)))
    cl = [groups[j] for j in cols]
    comparisons = []
    for metric in ("mrr", "tail_patch", "lds"):
        names = [*methods, *([RANDOM] if metric == "tail_patch" and tail_k else [])]
        for a, b in itertools.combinations(names, 2):
            va, vb = result._values(metric, a), result._values(metric, b)
            if va is None or vb is None:
                continue
            made = _compare(va[cols], vb[cols], cl, (a, b))
            if made:
                comparisons.append({"metric": metric, **made})
    result.comparisons = comparisons
    return result


@validate_params({
    "run": ["no_validation"], "method": [Subset(METHODS, single=True, deprecated=RENAMED_METHODS)],
    "lds_subsets": [Interval(int, 0, None)], "tail_patch_k": [Interval(int, 0, None), None],
    "queries": [list, tuple, None], "dim": [Interval(int, 1, None), None], "seed": [Interval(int, None, None)],
    "progress": ["progress"],
})
def evaluate_attribution(run: FineTuneRun, method: str | Sequence[str] = METHODS, *, lds_subsets: int = 0,
                         tail_patch_k: int | None = None, queries: Sequence[str] | None = None,
                         dim: int | None = DEFAULT_DIM, seed: int = 0,
                         progress: ProgressArg = None) -> AttributionEvaluationResult:
    """MRR, Recall@10 and the tail-patch score of each method over the run's queries with gold sources, and
    (``lds_subsets > 0``) the LDS; every figure with its interval, every pair of methods compared.

    Args:
        run: a :class:`~interp.data_attribution.finetune.FineTuneRun`.
        method: one method or several (see :data:`~interp.data_attribution.attribute.METHODS`).
        lds_subsets: how many random halves to retrain on for the LDS (0: skip it; each retrain is
            a fine-tuning of half the data; 32 or more for an LDS that can rank methods).
        tail_patch_k: the top-ranked examples one tail-patch step trains on (default: the fine-tune's
            batch size; 0: skip the tail-patch score).
        queries: query ids to use (default: every query of the run's data with gold sources).
        dim, seed: the gradient projection (see :func:`~interp.data_attribution.attribute.attribute_training`);
            ``seed`` also draws the LDS halves and the random tail-patch examples.
        progress: see :mod:`interp.progress`.

    Returns:
        :class:`AttributionEvaluationResult`.
    """
    from interp.models.card import model_card
    from interp.progress import resolve_progress

    where = "evaluate_attribution"
    methods = [renamed_method(m) for m in ([method] if isinstance(method, str) else list(method))]
    tail_k = run.config.batch_size if tail_patch_k is None else tail_patch_k
    check_int(tail_k, name="tail_patch_k", where=where, low=0, high=len(run.data) + 1)
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
    tail = np.zeros((0, 0))
    if tail_k:
        rng = np.random.default_rng(seed)
        random_picks = np.stack([rng.choice(len(run.data), tail_k, replace=False) for _ in pool])
        tail = tail_patch_scores(run, pool, [*all_scores, random_picks], k=tail_k, progress=report)
    lds = np.full((len(methods), len(pool)), np.nan)
    if lds_subsets:
        masks, losses = lds_retrain_losses(run, pool, lds_subsets, seed=seed, progress=report)
        for i in range(len(methods)):
            lds[i] = lds_scores(all_scores[i], masks, losses)
    return assemble_evaluation(methods, pool, rr, recall, lds, lds_subsets, tail, tail_k, seconds,
                               {"path": str(run.path), "data": run.data.name, "model": run.model_name()},
                               model_card(run.model))
