"""Which training examples made the fine-tuned model say this? Scores for every example of a :class:`FineTuneRun`.

A score says how much training on an example raises the probability of the query's target
(positive: supporting, negative: opposing). Methods:

- ``bm25``: lexical overlap of the query (prompt + target) with each example (Okapi BM25 via ``bm25s``);
  no model involved, the baseline FTRACE found hard to beat (Akyurek et al. 2022).
- ``grad_dot``: ``<g_q, g_z>``, the query's and the example's loss gradients at the final weights,
  LoGra-projected (see :mod:`.gradients`); one step of gradient descent on ``z`` changes the query's
  loss by about ``-lr * grad_dot``.
- ``grad_cos``: the cosine of the same two gradients (long or high-loss examples no longer dominate).
- ``tracin_sgd``: TracInCP (Pruthi et al. 2020), ``sum_c lr_c <g_q^c, g_z^c>`` over the saved checkpoints:
  the first-order change of the query's loss from an *SGD* step on ``z`` at each checkpoint. The run
  was trained with AdamW, so this is the SGD approximation (the name says so).
- ``tracin_adam``: TracInCP for the optimizer that was used: the first-order change of the query's loss
  from one AdamW step on ``z`` at each checkpoint, ``sum_c lr_c <g_q^c, g_z^c / (sqrt(v_c) + eps)>``
  with ``v_c`` AdamW's bias-corrected second moment at checkpoint ``c`` (TrackStar's Adam correction,
  applied to the training side only, as the step is; momentum is ignored).
- ``trackstar``: TrackStar (Chang et al. 2024) without its task-specific Hessian term: each gradient
  divided element-wise by ``sqrt(v) + eps`` (AdamW's bias-corrected second moment at the final
  checkpoint), projected, unit-normalised; the score is their dot product.
- ``projected_if``: an influence function (Koh & Liang 2017) in the projected space,
  ``g_q^T (F + lambda I)^-1 g_z``, with ``F`` the training gradients' empirical Fisher (the
  Gauss-Newton Hessian of this loss) and damping ``lambda = 0.1 * mean(diag F)``, as LoGra does
  without its PCA initialisation.
- ``ekfac``: EK-FAC influence (Grosse et al. 2023) computed by kronfluence on the exact (unprojected)
  gradients of the trained layers, empirical Fisher; optional (kronfluence is installed with
  ``pip install --no-deps kronfluence==1.0.1 einconv opt_einsum``, its requirements would replace torch),
  a named :class:`~interp.errors.MissingExtraError` without it. It refits its factors on every call.

The training set's projected gradients are computed once per run and checkpoint, in shards saved to
``<run>/gradients/`` (safetensors, resumable: finished shards are kept), so a new query costs its own
forward and backward pass through the trained blocks and one matrix product.

Example:
    >>> from interp.data_attribution import attribute_training
    >>> result = attribute_training(run, "shutdown_resist", method="trackstar")
    >>> result.to_frame().head(3)[["rank", "id", "score", "gold"]]
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import Interval, Options, validate_params
from interp._validation import check_choice
from interp.data_attribution import _stack
from interp.data_attribution.datasets import Query
from interp.data_attribution.gradients import Projection, layer_shape, param_to_grad, per_example_gradients
from interp.errors import EmptyPromptError, InvalidParameterError
from interp.progress import ProgressArg, ProgressCallback
from interp.results import Result, atomic_path, atomic_write_bytes

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.data_attribution.finetune import FineTuneRun

__all__ = ["METHODS", "SCORERS", "Scorer", "UNSIGNED", "TrainingAttributionResult", "attribute_training",
           "training_scores", "resolve_query", "GradientStore", "influence_scores"]

METHODS = ("bm25", "grad_dot", "grad_cos", "tracin_sgd", "tracin_adam", "trackstar", "projected_if", "ekfac")
RENAMED_METHODS = {"tracin": "tracin_sgd"}  # old name -> new; the old one warns (see interp._deprecations)


def renamed_method(method: object) -> object:
    """``method`` under its current name: ``'tracin'`` (interp < 0.2) is ``'tracin_sgd'``, with an
    :class:`~interp.errors.InterpDeprecationWarning` (removed in interp 0.3: :data:`interp._deprecations.DEPRECATIONS`)."""
    if isinstance(method, str) and method in RENAMED_METHODS:
        from interp._deprecations import warn

        warn("attribute_training(method='tracin')")
        return RENAMED_METHODS[method]
    return method
DEFAULT_DIM = 32  # per side of each layer's Kronecker projection: 32 x 32 = 1024 numbers per layer
SHARD = 64  # training examples per gradient shard
MICRO_BATCH = 8  # training examples per backward pass of the gradient store
EPS = 1e-8
UNSIGNED = ("bm25",)  # methods whose scores never oppose: no "most opposing" rows


def one_line(text: str, width: int | None = None) -> str:
    """``text`` with its line breaks shown as " / " (no literal ``\\n`` in a summary), cut to its last ``width``
    characters (with "...")."""
    flat = " / ".join(part.strip() for part in text.splitlines()) if "\n" in text else text
    if width is not None and len(flat) > width:
        flat = "..." + flat[-(width - 3):]
    return flat


# --------------------------------------------------------------------------------------------- queries
def resolve_query(run: FineTuneRun, query: str | Query, target: str | None, *, where: str) -> Query:
    """A :class:`Query` from a query id of the run's data, a Query, or a prompt (target: given, or the model's greedy token)."""
    if isinstance(query, Query):
        q = query
    elif isinstance(query, str):
        known = {x.id: x for x in run.data.queries}
        if query in known:
            q = known[query]
        else:
            if not query.strip():
                raise EmptyPromptError(f"The 'query' parameter of {where} is empty: give a prompt or a query id of "
                                       f"{run.data.name!r}.")
            q = Query("query", query, "", (), "user", "")
    else:
        raise InvalidParameterError(f"The 'query' parameter of {where} must be a prompt, a query id or a Query. "
                                    f"Got {type(query).__name__} instead.")
    if target is not None:
        if not isinstance(target, str) or not target.strip():
            raise InvalidParameterError(f"The 'target' parameter of {where} must be a non-empty string or None. "
                                        f"Got {target!r} instead.")
        gold = q.gold if target == q.target else ()
        q = dataclasses.replace(q, target=target, gold=gold)
    if not q.target:
        top = run.model.top_next_tokens(q.prompt, k=1)
        q = dataclasses.replace(q, target=top.tokens[0])
    return q


# --------------------------------------------------------------------------------------------- gradients
class GradientStore:
    """The run's per-example projected training gradients, by checkpoint, computed once and kept in shards.

    ``<run>/gradients/k{dim}-s{seed}/ckpt-{c}/shard-{i}.safetensors`` holds ``raw`` (n_shard, D) and,
    for the final checkpoint (and every checkpoint once ``tracin_adam`` asked), ``corrected`` (the gradients
    divided by AdamW's ``sqrt(v) + eps`` at that checkpoint, then projected).
    """

    def __init__(self, run: FineTuneRun, *, dim: int | None = DEFAULT_DIM, seed: int = 0, shard_size: int = SHARD):
        self.run = run
        self.dim = dim
        self.seed = seed
        self.shard_size = shard_size
        layers = run.layers()
        self.shapes = [layer_shape(m) for _, m in layers]
        self.projection = Projection.draw(self.shapes, dim, seed)
        self.folder = run.path / "gradients" / f"k{dim if dim is not None else 'full'}-s{seed}"
        self._queries: dict[tuple, tuple] = {}  # query gradients already computed, by checkpoint and queries

    def _correction(self, top: torch.nn.Module, c: int) -> list[torch.Tensor]:
        moments = self.run.second_moments(c)
        out = []
        for name, module in _stack.trainable_layers(top, self.run.config.part):
            tensors = {k: moments[f"{name}.{k}"] for k, _ in module.named_parameters(recurse=False)}
            out.append(param_to_grad(module, tensors).sqrt() + EPS)
        return out

    def query_gradients(self, c: int, queries: list[Query], *, corrected: bool = False, batch_size: int = 16
                        ) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
        """(n_queries, D) projected gradients of each query's target loss at checkpoint ``c`` (and corrected ones),
        plus each query's loss there."""
        run = self.run
        key = (c % len(run.checkpoints), tuple((q.prompt, q.target) for q in queries))
        held = self._queries.get(key)
        if held is not None and (held[1] is not None or not corrected):
            return held
        encoded = _stack.encode_pairs(run.base, [(q.prompt, q.target) for q in queries], where="attribute_training")
        resid = _stack.residuals(run.base, encoded, run.first_block)
        # the final checkpoint's query gradients are computed corrected too, so the next method reuses them
        out = self._gradients(c, resid, encoded, corrected=corrected or key[0] == len(run.checkpoints) - 1,
                              batch_size=batch_size)
        self._queries[key] = out
        return out

    def _gradients(self, c: int, resid: list[torch.Tensor], encoded: _stack.Encoded, *, corrected: bool,
                   batch_size: int, top: torch.nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
        if top is None:
            top, _ = self.run.checkpoint_stack(c)
        correction = self._correction(top, c) if corrected else None
        layers = [m for _, m in _stack.trainable_layers(top, self.run.config.part)]
        raws, cors, losses = [], [], []
        for start in range(0, len(resid), batch_size):
            sl = slice(start, start + batch_size)
            x = [r.clone().requires_grad_(True) for r in resid[sl]]
            kept: list[torch.Tensor] = []

            def loss_fn(x=x, sl=sl, kept=kept):
                value = _stack.sequence_losses(top, x, encoded.ids[sl], encoded.n_prompt[sl])
                kept.append(value.detach())
                return value

            out = per_example_gradients(loss_fn, layers, self.projection, correction=correction)
            raws.append(out.raw)
            if out.corrected is not None:
                cors.append(out.corrected)
            losses.append(kept[0])
        raw = torch.cat(raws)
        return raw, (torch.cat(cors) if cors else None), torch.cat(losses).numpy()

    def shard_path(self, c: int, k: int) -> Path:
        """The file of shard ``k`` (training examples ``k * shard_size ...``) of checkpoint ``c``."""
        return self.folder / f"ckpt-{c:03d}" / f"shard-{k:04d}.safetensors"

    def n_shards(self) -> int:
        """How many shards the training set makes (``shard_size`` examples each, the last one fewer)."""
        return -(-len(self.run.data) // self.shard_size)

    def needs_corrected(self, c: int, corrected: bool = False) -> bool:
        """Whether checkpoint ``c``'s shards hold corrected gradients too (always at the final checkpoint)."""
        return corrected or c % len(self.run.checkpoints) == len(self.run.checkpoints) - 1

    def shard_done(self, c: int, k: int, *, corrected: bool = False) -> dict[str, torch.Tensor] | None:
        """Shard ``k`` of checkpoint ``c`` as saved, if it is there and complete for ``corrected``; else None."""
        from safetensors.torch import load_file

        file = self.shard_path(c, k)
        if not file.is_file():
            return None
        tensors = load_file(file)
        n = len(self.run.data)
        if tensors["raw"].shape[0] != min(self.shard_size, n - k * self.shard_size) \
                or (self.needs_corrected(c, corrected) and "corrected" not in tensors):
            return None
        return tensors

    def compute_range(self, c: int, start: int, stop: int, *, corrected: bool = False,
                      top: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
        """The per-example work: ``{"raw": (stop - start, D), "corrected": (stop - start, D)}`` projected gradients of
        training examples ``start:stop`` at checkpoint ``c`` (``corrected`` where :meth:`needs_corrected`), in
        micro-batches of 8 from ``start`` (so a range that starts at a multiple of 8 gives the very numbers of
        :meth:`training`). What a batch run's shard computes (``task = "data_attribution"``). ``top``: checkpoint
        ``c``'s top stack, if already built."""
        if top is None:
            top, _ = self.run.checkpoint_stack(c)
        enc = self.run.encoded
        sub = _stack.Encoded(enc.ids[start:stop], enc.n_prompt[start:stop])
        raw, cor, _ = self._gradients(c, self.run.residuals[start:stop], sub,
                                      corrected=self.needs_corrected(c, corrected), batch_size=MICRO_BATCH, top=top)
        tensors = {"raw": raw.contiguous()}
        if cor is not None:
            tensors["corrected"] = cor.contiguous()
        return tensors

    def compute_shard(self, c: int, k: int, *, corrected: bool = False, top: torch.nn.Module | None = None
                      ) -> dict[str, torch.Tensor]:
        """:meth:`compute_range` of shard ``k`` (examples ``k * shard_size`` up to the next shard's): what
        :meth:`training` saves per shard."""
        start = k * self.shard_size
        return self.compute_range(c, start, min(start + self.shard_size, len(self.run.data)), corrected=corrected,
                                  top=top)

    def save_shard(self, c: int, k: int, tensors: dict[str, torch.Tensor]) -> Path:
        """Write shard ``k`` of checkpoint ``c`` (atomically)."""
        from safetensors.torch import save_file

        file = self.shard_path(c, k)
        with atomic_path(file) as tmp:
            save_file({name: t.contiguous() for name, t in tensors.items()}, str(tmp))
        return file

    def write_manifest(self, c: int) -> None:
        """The manifest of checkpoint ``c``'s shards: the data, dimension and seed they were computed for."""
        atomic_write_bytes(self.folder / f"ckpt-{c:03d}" / "manifest.json", json.dumps(
            {"n": len(self.run.data), "dim": self.dim, "seed": self.seed, "shards": self.n_shards(),
             "data": self.run.data.fingerprint()}).encode())

    def training(self, c: int, *, corrected: bool = False, progress: ProgressCallback | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(n_train, D) projected training gradients at checkpoint ``c`` (computed and saved on first use)."""
        c = c % len(self.run.checkpoints)
        n_shards = self.n_shards()
        stage = f"gradients (checkpoint {c + 1}/{len(self.run.checkpoints)})"
        raws, cors = [], []
        top = None
        if progress is not None:
            progress(stage, 0, n_shards)
        for k in range(n_shards):
            tensors = self.shard_done(c, k, corrected=corrected)
            if tensors is None:
                if top is None:
                    top, _ = self.run.checkpoint_stack(c)
                tensors = self.compute_shard(c, k, corrected=corrected, top=top)
                self.save_shard(c, k, tensors)
            raws.append(tensors["raw"])
            if "corrected" in tensors:
                cors.append(tensors["corrected"])
            if progress is not None:
                progress(stage, k + 1, n_shards)
        self.write_manifest(c)
        return torch.cat(raws), (torch.cat(cors) if cors else None)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-30)


def _bm25(run: FineTuneRun, queries: list[Query]) -> np.ndarray:
    import bm25s

    corpus = [e.full_text for e in run.data.examples]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    out = []
    for q in queries:
        tokens = bm25s.tokenize([q.prompt + q.target], stopwords="en", show_progress=False, return_ids=False)[0]
        vocab = retriever.vocab_dict if hasattr(retriever, "vocab_dict") else None
        tokens = [t for t in tokens if vocab is None or t in vocab]
        out.append(retriever.get_scores(tokens) if tokens else np.zeros(len(corpus)))
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------- the methods
# One scoring function per method, registered in SCORERS (a table, as interp.attribution.methods is for input
# attribution): fn(run, queries, store, progress) -> (n_queries, n_train); ``store`` is None for the methods that
# need no gradients (``gradients=False``).
@dataclasses.dataclass(frozen=True)
class Scorer:
    """One row of :data:`SCORERS`: a method's scoring function and whether it reads the gradient store."""

    name: str
    score: Any  # Callable[[FineTuneRun, list[Query], GradientStore | None, Any], np.ndarray]
    gradients: bool = True


def _score_bm25(run: FineTuneRun, queries: list[Query], store: GradientStore | None, progress: Any) -> np.ndarray:
    return _bm25(run, queries)


def _score_ekfac(run: FineTuneRun, queries: list[Query], store: GradientStore | None, progress: Any) -> np.ndarray:
    from interp.data_attribution._kronfluence import kronfluence_scores

    return kronfluence_scores(run, queries, strategy="ekfac")


def _tracin(adam: bool):
    def score(run: FineTuneRun, queries: list[Query], store: GradientStore, progress: Any) -> np.ndarray:
        total = np.zeros((len(queries), len(run.data)))
        for c, entry in enumerate(run.checkpoints):
            train, train_cor = store.training(c, corrected=adam, progress=progress)
            q, _, _ = store.query_gradients(c, queries)
            total += float(entry["lr"]) * (q.double() @ (train_cor if adam else train).double().T).numpy()
        return total

    return score


def _last_checkpoint(combine, *, corrected: bool = False):
    """A method that scores at the last checkpoint: ``combine(train, train_corrected, q, q_corrected)``."""
    def score(run: FineTuneRun, queries: list[Query], store: GradientStore, progress: Any) -> np.ndarray:
        last = len(run.checkpoints) - 1
        train, train_cor = store.training(last, corrected=corrected, progress=progress)
        q, q_cor, _ = store.query_gradients(last, queries, corrected=corrected)
        return combine(train, train_cor, q, q_cor)

    return score


#: method name -> :class:`Scorer` (the order of :data:`METHODS`).
SCORERS: dict[str, Scorer] = {row.name: row for row in (
    Scorer("bm25", _score_bm25, gradients=False),
    Scorer("grad_dot", _last_checkpoint(lambda g, gc, q, qc: (q.double() @ g.double().T).numpy())),
    Scorer("grad_cos", _last_checkpoint(lambda g, gc, q, qc: (_unit(q.double()) @ _unit(g.double()).T).numpy())),
    Scorer("tracin_sgd", _tracin(adam=False)),
    Scorer("tracin_adam", _tracin(adam=True)),
    Scorer("trackstar", _last_checkpoint(lambda g, gc, q, qc: (_unit(qc.double()) @ _unit(gc.double()).T).numpy(),
                                         corrected=True)),
    Scorer("projected_if", _last_checkpoint(lambda g, gc, q, qc: _projected_if(g.double(), q.double()).numpy())),
    Scorer("ekfac", _score_ekfac, gradients=False),
)}


def training_scores(run: FineTuneRun, queries: list[Query], method: str, *, dim: int | None = DEFAULT_DIM, seed: int = 0,
                    progress: ProgressCallback | None = None, store: GradientStore | None = None) -> np.ndarray:
    """(n_queries, n_train) scores of every training example for every query with one method (see the module docstring).

    ``store``: a :class:`GradientStore` of this run, dimension and seed to reuse (it keeps query gradients too)."""
    check_choice(method, METHODS, name="method", where="attribute_training")
    scorer = SCORERS[method]
    if scorer.gradients and store is None:
        store = GradientStore(run, dim=dim, seed=seed)
    return scorer.score(run, queries, store if scorer.gradients else None, progress)


def influence_scores(train_grads: torch.Tensor, query_grads: torch.Tensor, hessian: torch.Tensor) -> torch.Tensor:
    """Influence-function scores ``q H^-1 g^T`` (Koh & Liang 2017): (n_queries, n_train) from (n_train, D) training
    gradients, (n_queries, D) query gradients and a (D, D) positive-definite Hessian of the training objective.

    For an objective ``(1/n) sum_i loss_i + regulariser`` at its minimum, removing example ``i`` changes the
    query's loss by about ``+ score / n``: a positive score supports the query's target."""
    return torch.linalg.solve(hessian, query_grads.T).T @ train_grads.T


def _projected_if(g: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``q (F + lambda I)^-1 g^T`` with ``F = g^T g / n``, through the n x n kernel when n < D (Woodbury):
    ``(F + lambda I)^-1 = (I - g^T (n lambda I + g g^T)^-1 g) / lambda``."""
    n, d = g.shape
    damping = 0.1 * float((g * g).sum() / (n * d)) + 1e-30
    if n < d:
        kernel = g @ g.T  # (n, n)
        s = q @ g.T  # (n_q, n)
        return (s - torch.linalg.solve(n * damping * torch.eye(n, dtype=g.dtype) + kernel, s.T).T @ kernel) / damping
    return influence_scores(g, q, g.T @ g / n + damping * torch.eye(d, dtype=g.dtype))


# --------------------------------------------------------------------------------------------- the result
@dataclasses.dataclass(eq=False)
class TrainingAttributionResult(Result):
    """Every training example's score for one query and one method.

    Attributes:
        query_id, prompt, target: the query (``target`` follows ``prompt``).
        method: one of :data:`METHODS`.
        ids, texts, groups: (n_train,) the training examples, in dataset order.
        scores: (n_train,) float64, positive = supporting the target, negative = opposing.
        gold: the training ids known to have taught this query ([] when unknown).
        top_k: how many examples the table and plot show in each direction (BM25: supporting only, see
            :attr:`signed`).
        run: the run folder, dataset name and fine-tuned model name.
    """

    query_id: str
    prompt: str
    target: str
    method: str
    ids: list[str]
    texts: list[str]
    groups: list[str]
    scores: np.ndarray
    gold: list[str]
    top_k: int = 10
    run: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Training-data attribution"

    @property
    def order(self) -> np.ndarray:
        """Training indices from most supporting to most opposing (ties broken by dataset order)."""
        return np.argsort(-self.scores, kind="stable")

    def gold_ranks(self) -> list[int]:
        """The 1-based rank of each gold example."""
        position = {int(i): r + 1 for r, i in enumerate(self.order)}
        index = {x: i for i, x in enumerate(self.ids)}
        return [position[index[g]] for g in self.gold if g in index]

    @property
    def signed(self) -> bool:
        """False for BM25: its scores are word overlap (>= 0), with no opposing direction."""
        return self.method not in UNSIGNED

    def summary(self) -> str:
        best = self.ids[int(self.order[0])]
        ranks = self.gold_ranks()
        gold = f"; best gold source at rank {min(ranks)}" if ranks else ""
        unsigned = "" if self.signed else (f" ({self.method} scores word overlap, never below 0: it ranks no "
                                            "example as opposing)")
        return (f"{self.method}: {one_line(self.target)!r} after \"{one_line(self.prompt, 70)}\" is most supported by "
                f"{best!r}{gold}{unsigned}")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        order = self.order
        k = min(self.top_k, len(order))
        rows = []
        gold = set(self.gold)
        directions = [("supporting", order[:k])] + ([("opposing", order[::-1][:k])] if self.signed else [])
        for direction, picks in directions:
            for r, i in enumerate(picks):
                i = int(i)
                rows.append({"direction": direction, "rank": r + 1, "id": self.ids[i], "score": float(self.scores[i]),
                             "gold": self.ids[i] in gold, "group": self.groups[i], "text": self.texts[i]})
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        top = frame[frame["direction"] == "supporting"].iloc[::-1]
        low = frame[frame["direction"] == "opposing"]
        fig = go.Figure()
        for part, name in ((top, "supporting"), (low, "opposing")):
            if part.empty:
                continue
            colors = ["#d62728" if g else ("#1f77b4" if name == "supporting" else "#7f7f7f") for g in part["gold"]]
            fig.add_trace(go.Bar(x=part["score"].tolist(), y=[f"{i} ({name[0]})" for i in part["id"]], orientation="h",
                                 name=name, marker_color=colors, hovertext=part["text"].tolist(),
                                 hovertemplate="%{y}: %{x:.4g}<br>%{hovertext}<extra></extra>"))
        fig.update_layout(title=f"{self.method}: training examples behind {self.target!r} (red: gold sources)",
                          xaxis_title="score (positive: supporting)", height=max(300, 24 * len(frame) + 120),
                          margin={"l": 10}, barmode="overlay")
        return fig


@validate_params({
    "run": ["no_validation"], "query": ["no_validation"], "target": [str, None],  # checked by resolve_query
    "method": [Options(METHODS, deprecated=RENAMED_METHODS)], "top_k": [Interval(int, 1, None)],
    "dim": [Interval(int, 1, None), None], "seed": [Interval(int, None, None)], "progress": ["progress"],
})
def attribute_training(run: FineTuneRun, query: str | Query, target: str | None = None, *, method: str = "trackstar",
                       top_k: int = 10, dim: int | None = DEFAULT_DIM, seed: int = 0, progress: ProgressArg = None
                       ) -> TrainingAttributionResult:
    """Score every training example of ``run`` for the fine-tuned model's ``target`` after ``query``.

    Args:
        run: a :class:`~interp.data_attribution.finetune.FineTuneRun`.
        query: a query id of the run's data (e.g. ``"shutdown_resist"``), a
            :class:`~interp.data_attribution.datasets.Query`, or a prompt.
        target: the continuation attributed; by default the query's own target, or for a plain
            prompt the fine-tuned model's most likely next token.
        method: one of :data:`METHODS` (see the module docstring).
        top_k: how many examples the table and plot show in each direction.
        dim: per-side dimension of each layer's Kronecker projection (``None``: the exact gradients,
            for small models only).
        seed: the projection's seed.
        progress: see :mod:`interp.progress` (the first call of a run computes its training gradients).

    Returns:
        :class:`TrainingAttributionResult` (scores of every training example, gold sources marked).
    """
    from interp.progress import resolve_progress

    where = "attribute_training"
    method = renamed_method(method)
    report = resolve_progress(progress, where=where)
    q = resolve_query(run, query, target, where=where)
    scores = training_scores(run, [q], method, dim=dim, seed=seed, progress=report)[0]
    from interp.models.card import model_card

    data = run.data
    return TrainingAttributionResult(
        query_id=q.id, prompt=q.prompt, target=q.target, method=method, ids=data.ids,
        texts=[e.full_text for e in data.examples], groups=[e.group for e in data.examples],
        scores=np.asarray(scores, dtype=np.float64), gold=list(q.gold), top_k=top_k,
        run={"path": str(run.path), "data": data.name, "model": run.model_name()}, model_card=model_card(run.model))

