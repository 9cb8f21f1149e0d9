"""Edge attribution patching (EAP, Syed et al. 2023; EAP-IG, Hanna et al. 2024) and circuit faithfulness.

The graph's nodes are the embeddings, every attention head (each query head of a GQA group on its own),
every MLP and the logits; an edge ``u -> v`` is the part of ``v``'s input that ``u`` writes (see
:mod:`interp.circuits._graph` for the convention at a head's input). Corrupting one edge means giving
``v`` the corrupted prompt's output of ``u`` instead of the clean one. EAP estimates every edge's effect
on the metric (the logit difference answer - foil at the last position, mean over pairs) from one
forward and one backward pass::

    score(u -> v) = (a_u(corrupted) - a_u(clean)) . d metric / d input_v |clean

summed over positions. EAP-IG (Hanna et al. 2024, "Have Faith in Faithfulness") averages the gradient over
``steps`` passes whose input embeddings are interpolated from the corrupted to the clean prompt
(``alpha = k / steps``, k = 1..steps). The circuit is the ``n`` edges with the largest |score|.

**Faithfulness** is measured exactly, not estimated: one pass on the clean prompts in which every edge
outside the circuit carries its source's corrupted output (each node's input is recomputed as the sum of
its circuit sources' outputs in this pass plus its other sources' corrupted outputs), normalised as
``(m(circuit) - m(corrupted)) / (m(clean) - m(corrupted))``: 1 for the whole graph and 0 for the empty
circuit, by construction. Circuits of growing size are compared with random edge sets of the same size.

Example:
    >>> from interp.circuits import edge_attribution_patching, make_task
    >>> result = edge_attribution_patching(model, make_task("ioi", n=20), method="eap-ig")
    >>> result.faithfulness_frame()   # circuit vs random edges, by size, with intervals
    >>> result.plot()                 # the circuit as a graph
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import InstanceOf, Interval, ListOf, Options, validate_params
from interp._validation import check_int
from interp.circuits._graph import Graph, build_graph, check_supported, run_graph, source_outputs
from interp.circuits.tasks import CircuitTask, PreparedTask, prepare_task
from interp.errors import InvalidParameterError
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["edge_attribution_patching", "circuit_faithfulness", "EdgeAttributionResult", "METHODS",
           "DEFAULT_FRACTIONS"]

METHODS = ("eap", "eap-ig")
#: Circuit sizes of the faithfulness curve, as fractions of the graph's edges.
DEFAULT_FRACTIONS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.3)
TOKENS_PER_PASS = 2048  # n_heads copies * pairs * padded length per pass


def _chunks(prepared: PreparedTask, n_heads: int, batch_size: int | None) -> list[slice]:
    n, width = len(prepared.answers), prepared.clean.shape[1]
    size = batch_size or max(1, TOKENS_PER_PASS // (n_heads * width))
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


def _patched_metrics(model: Model, graph: Graph, prepared: PreparedTask, corrupted: list[torch.Tensor],
                     chunks: list[slice], keep: np.ndarray) -> np.ndarray:
    out = []
    for chunk, corr in zip(chunks, corrupted):
        run = run_graph(model, graph, prepared.clean[chunk], prepared.mask[chunk], prepared.last[chunk],
                        prepared.answers[chunk], prepared.foils[chunk], corrupted=corr, keep=keep)
        out.append(run.metric.numpy())
    return np.concatenate(out).astype(np.float64)


def _keep_top(scores: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    flat = np.where(valid.ravel(), np.abs(scores.ravel()), -np.inf)
    order = np.argsort(-flat, kind="stable")[:n]
    keep = np.zeros(valid.size, dtype=bool)
    keep[order] = True
    return keep.reshape(valid.shape)


def circuit_faithfulness(model: Model, task: CircuitTask, keep: np.ndarray, *, batch_size: int | None = None
                         ) -> dict[str, np.ndarray]:
    """Exact patching of every edge outside a circuit.

    Args:
        task: the clean/corrupted pairs.
        keep: (n_sources, n_targets) bool, True for the circuit's edges (see :func:`interp.circuits._graph.build_graph`
            for the node order; ``EdgeAttributionResult.circuit(n)`` gives one).

    Returns:
        ``{"clean", "corrupted", "circuit"}``: (n_pairs,) logit differences; faithfulness is
        ``(circuit - corrupted).mean() / (clean - corrupted).mean()``.
    """
    where = "circuit_faithfulness"
    check_supported(model, where)
    graph = build_graph(model)
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != graph.valid.shape:
        raise InvalidParameterError(f"The 'keep' parameter of {where} must be a bool array of shape "
                                    f"{graph.valid.shape} (sources x targets). Got shape {keep.shape}.")
    prepared = prepare_task(model, task, where=where)
    chunks = _chunks(prepared, graph.n_heads, batch_size)
    corrupted, clean_metric, corrupted_metric = [], [], []
    for c in chunks:
        targets = (prepared.last[c], prepared.answers[c], prepared.foils[c])
        outputs, metric = source_outputs(model, prepared.corrupted[c], prepared.mask[c], *targets)
        corrupted.append(outputs)
        corrupted_metric.append(metric.numpy())
        clean_metric.append(source_outputs(model, prepared.clean[c], prepared.mask[c], *targets)[1].numpy())
    return {"clean": np.concatenate(clean_metric).astype(np.float64),
            "corrupted": np.concatenate(corrupted_metric).astype(np.float64),
            "circuit": _patched_metrics(model, graph, prepared, corrupted, chunks, keep)}


@validate_params({
    "model": ["model"], "task": [InstanceOf(CircuitTask, name="a CircuitTask (see interp.circuits.make_task)")],
    "method": [Options(METHODS)], "steps": [Interval(int, 1, 1000)],
    "sizes": [ListOf(Interval(int, 0, None), min_len=0), None], "n_random": [Interval(int, 0, 10_000)],
    "seed": [Interval(int, 0, None)], "batch_size": [Interval(int, 1, None), None], "progress": ["progress"],
})
def edge_attribution_patching(model: Model, task: CircuitTask, *, method: str = "eap-ig", steps: int = 5,
                              sizes: Sequence[int] | None = None, n_random: int = 5, seed: int = 0,
                              batch_size: int | None = None, progress: ProgressArg = None
                              ) -> EdgeAttributionResult:
    """Score every edge of the model's graph by EAP or EAP-IG, and check circuits of growing size by exact patching.

    Args:
        model: a model whose attention output is the sum of its heads' outputs (not Gemma 2/3, which normalise it).
        task: clean/corrupted pairs (:func:`~interp.circuits.make_task`, :func:`~interp.circuits.read_task_csv`);
            pairs that do not fit the tokenizer are dropped (the result says how many).
        method: "eap" (one gradient at the clean input) or "eap-ig" (gradients averaged over ``steps`` inputs
            interpolated from corrupted to clean).
        steps: EAP-IG's interpolation steps.
        sizes: circuit sizes (numbers of edges) of the faithfulness curve; by default
            :data:`DEFAULT_FRACTIONS` of the edges. An empty list skips the check.
        n_random: random edge sets drawn per size.
        seed: the random sets' seed.
        batch_size: pairs per pass (each pass runs ``n_heads`` copies of them).

    Returns:
        :class:`EdgeAttributionResult`.
    """
    where = "edge_attribution_patching"
    check_supported(model, where)
    report = resolve_progress(progress, where=where)
    graph = build_graph(model)
    if sizes is None:
        sizes = sorted({max(1, round(f * graph.n_edges)) for f in DEFAULT_FRACTIONS})
    sizes = [check_int(s, name="sizes", where=where, low=0, high=graph.n_edges + 1) for s in sizes]
    prepared = prepare_task(model, task, where=where)
    chunks = _chunks(prepared, graph.n_heads, batch_size)
    n = len(prepared.answers)
    start = time.perf_counter()
    scores = torch.zeros(graph.valid.shape, dtype=torch.float64)
    corrupted, clean_metric, corrupted_metric = [], [], []
    n_grad = 1 if method == "eap" else steps
    for i, chunk in enumerate(chunks):
        report("attribute", i, len(chunks))
        args = (prepared.clean[chunk], prepared.mask[chunk], prepared.last[chunk], prepared.answers[chunk],
                prepared.foils[chunk])
        clean_out, clean_m = source_outputs(model, prepared.clean[chunk], prepared.mask[chunk], *args[2:])
        corr_out, corr_m = source_outputs(model, prepared.corrupted[chunk], prepared.mask[chunk], *args[2:])
        corrupted.append(corr_out)
        clean_metric.append(clean_m.numpy())
        corrupted_metric.append(corr_m.numpy())
        grads = torch.zeros((len(graph.targets), *clean_out.shape[1:]))
        for k in range(1, n_grad + 1):
            embed = None
            if method == "eap-ig":
                alpha = k / steps
                embed = corr_out[0] + alpha * (clean_out[0] - corr_out[0])
            run = run_graph(model, graph, *args, gradients=True, embed=embed)
            grads += run.grads / n_grad
        weight = (chunk.stop - chunk.start) / n  # gradients are of the chunk's mean metric
        delta = (corr_out - clean_out).flatten(1)  # (n_sources, batch * pos * d_model)
        scores += weight * (delta @ grads.flatten(1).T).double()
    report("attribute", len(chunks), len(chunks))
    seconds = time.perf_counter() - start
    scores_np = np.where(graph.valid, scores.numpy(), 0.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    valid_flat = np.flatnonzero(graph.valid.ravel())
    circuit_metric = np.zeros((len(sizes), n))
    random_faith = np.full((len(sizes), n_random), np.nan)
    clean_m, corr_m = np.concatenate(clean_metric), np.concatenate(corrupted_metric)
    denominator = clean_m.mean() - corr_m.mean()
    total = len(sizes) * (1 + n_random)
    for i, size in enumerate(sizes):
        report("faithfulness", i * (1 + n_random), total)
        circuit_metric[i] = _patched_metrics(model, graph, prepared, corrupted, chunks,
                                             _keep_top(scores_np, graph.valid, size))
        for j in range(n_random):
            keep = np.zeros(graph.valid.size, dtype=bool)
            keep[rng.choice(valid_flat, size=size, replace=False)] = True
            metric = _patched_metrics(model, graph, prepared, corrupted, chunks, keep.reshape(graph.valid.shape))
            random_faith[i, j] = (metric.mean() - corr_m.mean()) / denominator
    report("faithfulness", total, total)
    from interp.models.card import model_card

    return EdgeAttributionResult(
        task=prepared.task.to_dict(), dropped=prepared.dropped, method=method, steps=1 if method == "eap" else steps,
        sources=graph.sources, targets=graph.targets, parallel=graph.parallel, n_layers=graph.n_layers,
        n_heads=graph.n_heads, valid=graph.valid.astype(np.uint8), scores=scores_np, clean_metric=clean_m,
        corrupted_metric=corr_m, sizes=list(sizes), circuit_metric=circuit_metric, random_faithfulness=random_faith,
        seed=seed, attribution_seconds=seconds, model_name=model.name, model_card=model_card(model))


@dataclasses.dataclass(eq=False)
class EdgeAttributionResult(Result):
    """Edge scores of a clean/corrupted task and the exact faithfulness of its top-``n`` circuits.

    Attributes:
        task: the pairs used (``CircuitTask.to_dict()``); dropped: pairs that did not fit the tokenizer.
        method, steps: "eap" or "eap-ig" and its interpolation steps.
        sources, targets, parallel, n_layers, n_heads: the graph (:class:`interp.circuits._graph.Graph`).
        valid: (n_sources, n_targets) uint8, 1 where the edge exists.
        scores: (n_sources, n_targets) float32 estimated change of the mean logit difference when the edge is
            corrupted (0 where no edge).
        clean_metric, corrupted_metric: (n_pairs,) logit differences answer - foil on the clean and corrupted prompts.
        sizes: circuit sizes of the faithfulness curve (edges).
        circuit_metric: (n_sizes, n_pairs) logit differences with only the top-``size`` edges clean.
        random_faithfulness: (n_sizes, n_random) normalised faithfulness of random edge sets of each size.
        attribution_seconds: wall time of the attribution (clean, corrupted, gradient passes), not the check.
    """

    task: dict[str, Any]
    dropped: int
    method: str
    steps: int
    sources: list[str]
    targets: list[str]
    parallel: bool
    n_layers: int
    n_heads: int
    valid: np.ndarray
    scores: np.ndarray
    clean_metric: np.ndarray
    corrupted_metric: np.ndarray
    sizes: list[int]
    circuit_metric: np.ndarray
    random_faithfulness: np.ndarray
    seed: int = 0
    attribution_seconds: float = 0.0
    model_name: str = ""

    title: ClassVar[str] = "Edge attribution patching"

    @property
    def graph(self) -> Graph:
        return Graph(self.n_layers, self.n_heads, self.parallel, self.sources, self.targets,
                     np.asarray(self.valid, dtype=bool))

    @property
    def n_edges(self) -> int:
        return int(np.asarray(self.valid, dtype=bool).sum())

    def circuit(self, n: int) -> np.ndarray:
        """(n_sources, n_targets) bool: the ``n`` edges with the largest |score|."""
        return _keep_top(self.scores, np.asarray(self.valid, dtype=bool), n)

    def top_edges(self, n: int = 20) -> list[tuple[str, str, float]]:
        keep = self.circuit(n)
        rows = [(self.sources[s], self.targets[t], float(self.scores[s, t])) for s, t in zip(*np.nonzero(keep))]
        return sorted(rows, key=lambda r: -abs(r[2]))

    def faithfulness(self, i: int) -> Any:
        """:class:`~interp.stats.Interval` of size ``sizes[i]``'s faithfulness, bootstrapped over pairs."""
        from interp.stats import bootstrap_interval

        circuit, clean, corr = self.circuit_metric[i], self.clean_metric, self.corrupted_metric

        def ratio(rows: np.ndarray) -> float:
            den = clean[rows].mean() - corr[rows].mean()
            return float((circuit[rows].mean() - corr[rows].mean()) / den) if den != 0 else float("nan")

        return bootstrap_interval(ratio, len(clean), n_resamples=400)

    def solved(self) -> Any:
        """Share of pairs whose clean prompt puts the answer above the foil, with its Wilson interval."""
        from interp.stats import proportion_interval

        return proportion_interval(int((self.clean_metric > 0).sum()), len(self.clean_metric))

    def faithfulness_frame(self) -> DataFrame:
        """One row per circuit size: the top edges' faithfulness (interval over pairs) and random edge sets' (mean
        and the central 95 % of the draws)."""
        import pandas as pd

        rows = []
        for i, size in enumerate(self.sizes):
            f = self.faithfulness(i)
            draws = self.random_faithfulness[i]
            draws = draws[np.isfinite(draws)]
            rows.append({"edges": size, "share_of_edges": size / max(1, self.n_edges), "faithfulness": f.estimate,
                         "faithfulness_low": f.low, "faithfulness_high": f.high,
                         "random_mean": float(draws.mean()) if len(draws) else float("nan"),
                         "random_low": float(np.quantile(draws, 0.025)) if len(draws) else float("nan"),
                         "random_high": float(np.quantile(draws, 0.975)) if len(draws) else float("nan"),
                         "n_random": len(draws)})
        return pd.DataFrame(rows)

    def to_frame(self) -> DataFrame:
        """One row per edge, largest |score| first: source, target, score, rank."""
        import pandas as pd

        s, t = np.nonzero(np.asarray(self.valid, dtype=bool))
        frame = pd.DataFrame({"source": [self.sources[i] for i in s], "target": [self.targets[j] for j in t],
                              "score": self.scores[s, t].astype(np.float64)})
        frame = frame.reindex(frame["score"].abs().sort_values(ascending=False, kind="stable").index)
        frame["rank"] = np.arange(1, len(frame) + 1)
        return frame.reset_index(drop=True)

    def tables(self) -> list[tuple[str, Any]]:
        return [("Edges", self.to_frame()), ("Faithfulness", self.faithfulness_frame())]

    def _shown_size(self) -> int:
        """The circuit drawn: the smallest checked size whose faithfulness reaches 0.8, else the largest checked
        size up to 60 edges (30 when nothing was checked)."""
        for i, size in enumerate(self.sizes):
            if self.faithfulness(i).estimate >= 0.8:
                return min(size, 150)
        small = [s for s in self.sizes if s <= 60]
        return max(small) if small else 30

    def summary(self) -> str:
        mean_clean, mean_corr = float(self.clean_metric.mean()), float(self.corrupted_metric.mean())
        text = (f"{self.model_name}: {self.method.upper()} over {self.n_edges} edges, task "
                f"{self.task.get('name')!r} ({len(self.clean_metric)} pairs): logit difference clean "
                f"{mean_clean:.3f}, corrupted {mean_corr:.3f}; answer above foil on {self.solved().format(2)} "
                "of clean prompts")
        frame = self.faithfulness_frame()
        if len(frame):
            best = frame.iloc[int(np.argmin(np.abs(frame["share_of_edges"] - 0.05)))]
            text += (f"; top {int(best.edges)} edges ({best.share_of_edges:.1%}) recover {best.faithfulness:.2f} "
                     f"[{best.faithfulness_low:.2f}, {best.faithfulness_high:.2f}] of the difference, random edge "
                     f"sets {best.random_mean:.2f} [{best.random_low:.2f}, {best.random_high:.2f}]")
        return text

    def caveats(self) -> list[str]:
        notes = []
        solved = self.solved()
        if not solved.above(0.5):
            notes.append(f"The model is not shown to solve this task above chance: the answer beats the foil on "
                         f"{solved.format(2)} of clean prompts (the interval reaches 0.5). The circuit explains a "
                         "logit difference, not a skill.")
        from interp.stats import mean_interval

        gap = mean_interval(self.clean_metric - self.corrupted_metric, n_resamples=400)
        if gap.holds(0.0):
            notes.append(f"The clean and corrupted logit differences do not differ beyond noise ({gap.format(3)}): "
                         "faithfulness divides by this gap and means little.")
        for i, size in enumerate(self.sizes):
            draws = self.random_faithfulness[i]
            draws = draws[np.isfinite(draws)]
            f = self.faithfulness(i)
            if len(draws) and np.isfinite(f.low) and f.low <= np.quantile(draws, 0.975):
                notes.append(f"At {size} edges the circuit's faithfulness {f.format(2)} overlaps random edge sets' "
                             f"range: this size does not single out a circuit.")
                break
        if self.dropped:
            notes.append(f"{self.dropped} pairs did not fit the tokenizer (prompts of different lengths or answers of "
                         "several tokens) and were left out.")
        return notes

    def plot(self) -> Figure:
        """The circuit (top edges) as a graph: nodes by layer, edges coloured by the sign of their score."""
        import plotly.graph_objects as go

        n = self._shown_size()
        edges = self.top_edges(n)
        graph = self.graph
        nodes = sorted({x for s, t, _ in edges for x in (s, t)}, key=lambda x: (graph.node_layer(x), x))

        def y_of(name: str) -> float:
            if name in ("input", "logits"):
                return self.n_heads / 2
            if name.startswith("m"):
                return self.n_heads + 1.0
            return float(name.split(".h")[1])

        pos = {x: (graph.node_layer(x), y_of(x)) for x in nodes}
        fig = go.Figure()
        biggest = max((abs(v) for *_, v in edges), default=1.0) or 1.0
        for s, t, v in edges:
            (x0, y0), (x1, y1) = pos[s], pos[t]
            fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="text",
                                     text=f"{s} -> {t}: {v:+.4f}", showlegend=False,
                                     line={"width": 1 + 5 * abs(v) / biggest,
                                           "color": "#c0392b" if v < 0 else "#2471a3"}))
        fig.add_trace(go.Scatter(x=[pos[x][0] for x in nodes], y=[pos[x][1] for x in nodes], mode="markers+text",
                                 text=nodes, textposition="top center", marker={"size": 10, "color": "#555"},
                                 hoverinfo="text", showlegend=False))
        fig.update_layout(title=f"Top {len(edges)} edges ({self.method.upper()}); blue: corrupting lowers the "
                                "logit difference, red: raises it",
                          xaxis_title="layer", yaxis_title="head (MLP above)", height=520)
        return fig

    def faithfulness_plot(self) -> Figure:
        """Faithfulness of the top-n circuit and of random edge sets against circuit size."""
        import plotly.graph_objects as go

        frame = self.faithfulness_frame()
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=frame["edges"].tolist(), y=frame["faithfulness"].tolist(), mode="lines+markers",
                                 name=f"top edges ({self.method.upper()})",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": (frame["faithfulness_high"] - frame["faithfulness"]).tolist(),
                                          "arrayminus": (frame["faithfulness"] - frame["faithfulness_low"]).tolist()}))
        fig.add_trace(go.Scatter(x=frame["edges"].tolist(), y=frame["random_mean"].tolist(), mode="lines+markers",
                                 name="random edges",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": (frame["random_high"] - frame["random_mean"]).tolist(),
                                          "arrayminus": (frame["random_mean"] - frame["random_low"]).tolist()}))
        fig.update_layout(title="Faithfulness by circuit size (exact patching; 1 = clean, 0 = corrupted)",
                          xaxis_title="edges in the circuit", xaxis_type="log", yaxis_title="faithfulness",
                          height=420)
        return fig

    def figures(self) -> list:
        return [self.plot(), self.faithfulness_plot()]
