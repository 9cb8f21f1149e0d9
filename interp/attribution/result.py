"""Result types of the attribution analyses, on the shared :class:`interp.results.Result` base.

- :class:`AttributionResult`: one score per input token (or word) per target token, from any
  attribution method (ablation, gradients, integrated gradients, attention rollout).
- :class:`AttentionResult`: every attention pattern of a prompt, (layer, head, query, key).
- :class:`FaithfulnessResult`: ERASER comprehensiveness / sufficiency and deletion / insertion
  curves of one attribution.
- :class:`MethodComparisonResult`: every method on one prompt, their faithfulness and how much they
  agree (Spearman rank correlation).

All of them save to and load from the one JSON format of :mod:`interp.results` and return plotly
figures from ``plot()`` and tidy frames from ``to_frame()``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

__all__ = ["AttributionResult", "AttentionResult", "FaithfulnessResult", "MethodComparisonResult", "display_token",
           "rollout_matrix"]

_SCALE = "RdBu_r"  # diverging: blue = against the target, red = for it; zero is white


def display_token(token: str) -> str:
    """A token as shown in plots and tables: whitespace made visible, never empty."""
    shown = token.replace("\n", "⏎").replace("\t", "⇥").replace("\r", "␍")
    return shown if shown.strip() else shown.replace(" ", "·") or "∅"


def rollout_matrix(patterns: np.ndarray) -> np.ndarray:
    """(pos, pos) attention rollout of (n_layers, n_heads, pos, pos) patterns (Abnar & Zuidema 2020).

    Each layer's heads are averaged, the identity is added for the residual connection and rows are
    renormalised (``(A + I) / 2``); the layers are multiplied first to last. Rows sum to 1.
    """
    n = patterns.shape[-1]
    rollout = np.eye(n)
    for layer in np.asarray(patterns, dtype=np.float64):
        a = layer.mean(axis=0) + np.eye(n)
        a /= a.sum(axis=-1, keepdims=True)
        rollout = a @ rollout
    return rollout


def _unique_labels(tokens: list[str]) -> list[str]:
    return [f"{i}:{display_token(t)}" for i, t in enumerate(tokens)]


@dataclasses.dataclass(eq=False)
class AttributionResult(Result):
    """How much each input token (or word) of a prompt drives the model's prediction of a target.

    Attributes:
        prompt: the text the model saw (after the chat template, when ``chat=True``).
        tokens: the reported input units as text: tokens, or whole words with ``unit="word"``.
            The BOS token is never among them; with ``chat=True`` only the user's units are.
        scores: (n_targets, n_units) float32 score of each unit for each target token. Positive
            means the unit supports the target (for ablation: removing it lowers the metric).
        method: "ablation", "gradient", "grad_x_input", "integrated_gradients" or "rollout".
        target: the target continuation as text.
        target_tokens: the target continuation's tokens, one per row of ``scores``.
        metric: what was attributed: "logprob", "prob", "logit", "logit_diff" (with a contrast), or
            "attention flow" (rollout).
        model_name: the model that produced it.
        input_ids: (pos,) int64 ids of the prompt as the model saw it (BOS / template included).
        target_ids: (n_targets,) int64 ids of the target tokens.
        positions: for each reported unit, its token positions in ``input_ids``.
        target_values: (n_targets,) the metric of each target token on the unchanged prompt.
        segment_scores: with ``chat=True``, the summed score of each chat segment ("system",
            "user", "assistant") per target token; empty otherwise.
        metadata: method parameters and diagnostics (``completeness_error`` for integrated
            gradients, the ablation baseline, ...).
    """

    prompt: str
    tokens: list[str]
    scores: np.ndarray
    method: str
    target: str
    target_tokens: list[str]
    metric: str
    model_name: str = ""
    input_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    target_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    positions: list[list[int]] = dataclasses.field(default_factory=list)
    target_values: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    segment_scores: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Attribution"

    @property
    def total(self) -> np.ndarray:
        """(n_units,) score for the whole target continuation: the sum over target tokens.

        For ``metric="logprob"`` this is exactly the attribution of the continuation's
        log-probability (for ablation, of its change); for the other metrics it is the plain sum.
        """
        return self.scores.sum(axis=0)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` units with the largest total score, highest first."""
        order = np.argsort(-self.total, kind="stable")[:k]
        return [(self.tokens[i], float(self.total[i])) for i in order]

    def summary(self) -> str:
        top = ", ".join(f"{t!r} ({s:+.3g})" for t, s in self.top(3))
        return (f"{self.method} attribution of {self.target!r} ({self.metric}) on {self.model_name or 'a model'}: "
                f"most supportive {top}")

    def to_frame(self) -> DataFrame:
        """Tidy frame, one row per (target token, unit): position, token, score, target, target_index."""
        import pandas as pd

        n_targets, n_units = self.scores.shape
        first_pos = [p[0] if p else -1 for p in self.positions] if self.positions else list(range(n_units))
        return pd.DataFrame({
            "position": np.tile(np.asarray(first_pos, dtype=np.int64), n_targets),
            "token": list(self.tokens) * n_targets,
            "score": self.scores.reshape(-1).astype(np.float64),
            "target": [t for t in self.target_tokens for _ in range(n_units)],
            "target_index": np.repeat(np.arange(n_targets), n_units),
        })

    def plot(self, target_index: int | None = None, *, width: int = 12) -> Figure:
        """A text heat map (tokens coloured by score) above a bar chart of the scores.

        Args:
            target_index: which target token's row to show; None shows the whole continuation
                (:attr:`total`).
            width: tokens per line of the text heat map.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        values = self.total if target_index is None else self.scores[target_index]
        which = repr(self.target) if target_index is None else repr(self.target_tokens[target_index])
        n = len(self.tokens)
        width = max(1, min(width, n))
        rows = max(1, math.ceil(n / width))
        z = np.full((rows, width), np.nan)
        text = [[""] * width for _ in range(rows)]
        hover = [[""] * width for _ in range(rows)]
        for i, (token, value) in enumerate(zip(self.tokens, values)):
            r, c = divmod(i, width)
            z[r, c] = value
            text[r][c] = display_token(token)
            hover[r][c] = f"{i}: {token!r}<br>score {value:+.4g}"
        bound = float(np.nanmax(np.abs(values))) if n and np.any(values) else 1.0
        fig = make_subplots(rows=2, cols=1, row_heights=[0.4, 0.6], vertical_spacing=0.12,
                            subplot_titles=("tokens coloured by score", "score per token"))
        fig.add_trace(go.Heatmap(z=z, text=text, texttemplate="%{text}", hovertext=hover, hoverinfo="text",
                                 colorscale=_SCALE, zmid=0, zmin=-bound, zmax=bound, xgap=2, ygap=2,
                                 colorbar={"title": "score", "len": 0.4, "y": 0.8}), row=1, col=1)
        fig.update_xaxes(visible=False, row=1, col=1)
        fig.update_yaxes(visible=False, autorange="reversed", row=1, col=1)
        fig.add_trace(go.Bar(x=list(range(n)), y=values, marker={"color": values, "colorscale": _SCALE,
                                                                 "cmid": 0, "cmin": -bound, "cmax": bound},
                             hovertext=[f"{t!r}: {v:+.4g}" for t, v in zip(self.tokens, values)], hoverinfo="text",
                             showlegend=False), row=2, col=1)
        fig.update_xaxes(tickvals=list(range(n)), ticktext=[display_token(t) for t in self.tokens], tickangle=-45,
                         row=2, col=1)
        fig.update_yaxes(title_text=f"score ({self.metric})", row=2, col=1)
        fig.update_layout(title=f"{self.method}: attribution of {which} on {self.model_name}",
                          height=260 + 40 * rows + 260, margin={"l": 40, "r": 20})
        return fig


@dataclasses.dataclass(eq=False)
class AttentionResult(Result):
    """Every attention pattern of a prompt.

    Attributes:
        prompt: the text the model saw.
        tokens: every token of it, BOS included, one per query / key position.
        patterns: (n_blocks_kept, n_heads, pos, pos) float32; ``patterns[i, h, q, k]`` is how much
            query position q of head h in block ``layers[i]`` attends to key position k. Rows sum to 1
            and k > q is always 0 (causal).
        layers: the **block** index of each entry of ``patterns``' first axis, in ``[0, n_layers)``
            (also :attr:`blocks`; the field keeps its saved name). Block ``b`` reads the residual-stream
            layer ``b`` of :mod:`interp.layers`; ``L3H2`` and the ``layer`` column name blocks.
        model_name: the model that produced it.
    """

    prompt: str
    tokens: list[str]
    patterns: np.ndarray
    layers: list[int]
    model_name: str = ""

    title: ClassVar[str] = "Attention patterns"

    @property
    def blocks(self) -> list[int]:
        """The block of each pattern (the ``layers`` field under the name :func:`attention_maps` takes)."""
        return self.layers

    def head_summary(self) -> dict[str, np.ndarray]:
        """Per-head statistics, each (n_layers_kept, n_heads), averaged over query positions.

        - ``entropy``: mean entropy (nats) of each query's attention row, over queries 1.. (query 0
          can only attend to itself);
        - ``prev_token``: mean attention from query q to key q - 1 (a previous-token head scores ~1);
        - ``first_token``: mean attention to position 0 (the BOS "attention sink").
        """
        p = self.patterns.astype(np.float64)
        n = p.shape[-1]
        rows = p[..., 1:, :] if n > 1 else p
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.where(rows > 0, rows * np.log(rows), 0.0).sum(-1).mean(-1)
        prev = np.diagonal(p, offset=-1, axis1=-2, axis2=-1).mean(-1) if n > 1 else np.zeros(p.shape[:2])
        first = p[..., :, 0].mean(-1)
        return {"entropy": entropy, "prev_token": prev, "first_token": first}

    def rollout(self) -> np.ndarray:
        """(pos, pos) attention rollout (Abnar & Zuidema 2020) over the kept layers, rows summing to 1.

        Each layer's heads are averaged, the identity is added for the residual connection, rows are
        renormalised, and the layers are multiplied from the first to the last.
        """
        return rollout_matrix(self.patterns)

    def summary(self) -> str:
        stats = self.head_summary()
        layer, head = np.unravel_index(int(np.argmax(stats["prev_token"])), stats["prev_token"].shape)
        return (f"{len(self.layers)} layers × {self.patterns.shape[1]} heads over {len(self.tokens)} tokens of "
                f"{self.model_name}; strongest previous-token head L{self.layers[layer]}H{head} "
                f"({stats['prev_token'][layer, head]:.2f})")

    def to_frame(self) -> DataFrame:
        """One row per head: layer, head, entropy, prev_token, first_token."""
        import pandas as pd

        stats = self.head_summary()
        n_layers, n_heads = stats["entropy"].shape
        return pd.DataFrame({
            "layer": np.repeat(np.asarray(self.layers, dtype=np.int64), n_heads),
            "head": np.tile(np.arange(n_heads), n_layers),
            **{k: v.reshape(-1) for k, v in stats.items()},
        })

    def plot(self, layers: list[int] | None = None, heads: list[int] | None = None) -> Figure:
        """A grid of heatmaps, one per (layer, head): rows are layers, columns heads.

        The grid is one tiled heatmap (fast even for 30 × 9 heads); hover shows layer, head, query and
        key tokens. ``layers`` / ``heads`` pick a subset (layer numbers as in :attr:`layers`).
        """
        import plotly.graph_objects as go

        layer_idx = [self.layers.index(l) for l in layers] if layers is not None else list(range(len(self.layers)))
        head_idx = list(heads) if heads is not None else list(range(self.patterns.shape[1]))
        n = self.patterns.shape[-1]
        gap = 1
        size = n + gap
        z = np.full((len(layer_idx) * size - gap, len(head_idx) * size - gap), np.nan)
        custom = np.full((*z.shape, 4), -1, dtype=np.int64)  # layer, head, query, key under each cell
        q, k = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        for r, li in enumerate(layer_idx):
            for c, h in enumerate(head_idx):
                block = (slice(r * size, r * size + n), slice(c * size, c * size + n))
                z[block] = self.patterns[li, h]
                custom[block] = np.stack([np.full_like(q, self.layers[li]), np.full_like(q, h), q, k], axis=-1)
        fig = go.Figure(go.Heatmap(z=z, customdata=custom, colorscale="Blues", zmin=0, zmax=1,
                                   hovertemplate="L%{customdata[0]}H%{customdata[1]} query %{customdata[2]} → key "
                                                 "%{customdata[3]}: %{z:.3f}<extra></extra>",
                                   colorbar={"title": "attention"}))
        fig.update_xaxes(tickvals=[c * size + (n - 1) / 2 for c in range(len(head_idx))],
                         ticktext=[f"H{h}" for h in head_idx], side="top")
        fig.update_yaxes(tickvals=[r * size + (n - 1) / 2 for r in range(len(layer_idx))],
                         ticktext=[f"L{self.layers[li]}" for li in layer_idx], autorange="reversed")
        cell = max(2, min(24, 600 // max(1, n)))
        fig.update_layout(title=f"Attention patterns of {self.model_name} (rows: query, columns: key)",
                          height=min(4000, 120 + len(layer_idx) * size * cell // 2),
                          width=min(2400, 150 + len(head_idx) * size * cell // 2), plot_bgcolor="white")
        return fig


@dataclasses.dataclass(eq=False)
class FaithfulnessResult(Result):
    """How faithful an attribution is: what happens to the prediction when its top tokens go.

    ERASER (DeYoung et al. 2020): comprehensiveness = f(x) - f(x without its top k% units) (high is
    faithful); sufficiency = f(x) - f(only its top k% units) (low is faithful); each averaged over
    the fractions (AOPC). Deletion / insertion curves (Petsiuk et al. 2018): f as units are removed
    from (inserted into) the prompt, most important first; the area under the deletion curve should be
    low and under the insertion curve high.

    Attributes:
        prompt, method, target, metric, model_name: as in the attribution.
        fractions: the top-k fractions (0.01, 0.05, 0.1, 0.2, 0.5 by default).
        counts: (n_fractions,) how many units each fraction removed or kept.
        comprehensiveness, sufficiency: (n_fractions,) per fraction.
        aopc_comprehensiveness, aopc_sufficiency: their means.
        curve_fractions: (n_points,) fraction of units removed / inserted at each point.
        deletion_curve, insertion_curve: (n_points,) f at each point.
        deletion_auc, insertion_auc: areas under the curves (trapezoid rule over [0, 1]).
        full_value: f on the unchanged prompt; empty_value: f with every unit removed.
    """

    prompt: str
    method: str
    target: str
    metric: str
    fractions: list[float]
    counts: np.ndarray
    comprehensiveness: np.ndarray
    sufficiency: np.ndarray
    aopc_comprehensiveness: float
    aopc_sufficiency: float
    curve_fractions: np.ndarray
    deletion_curve: np.ndarray
    insertion_curve: np.ndarray
    deletion_auc: float
    insertion_auc: float
    full_value: float
    empty_value: float
    model_name: str = ""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Faithfulness"

    def summary(self) -> str:
        return (f"{self.method} on {self.model_name}: comprehensiveness {self.aopc_comprehensiveness:+.3g}, "
                f"sufficiency {self.aopc_sufficiency:+.3g}, deletion AUC {self.deletion_auc:.3g}, "
                f"insertion AUC {self.insertion_auc:.3g} ({self.metric} of {self.target!r})")

    def to_frame(self) -> DataFrame:
        """One row per fraction: fraction, count, comprehensiveness, sufficiency."""
        import pandas as pd

        return pd.DataFrame({"fraction": self.fractions, "count": self.counts,
                             "comprehensiveness": self.comprehensiveness, "sufficiency": self.sufficiency})

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, subplot_titles=("deletion / insertion curves", "ERASER per fraction"))
        fig.add_trace(go.Scatter(x=self.curve_fractions, y=self.deletion_curve, mode="lines+markers",
                                 name=f"deletion (AUC {self.deletion_auc:.3g})"), row=1, col=1)
        fig.add_trace(go.Scatter(x=self.curve_fractions, y=self.insertion_curve, mode="lines+markers",
                                 name=f"insertion (AUC {self.insertion_auc:.3g})"), row=1, col=1)
        labels = [f"{f:.0%}" for f in self.fractions]
        fig.add_trace(go.Bar(x=labels, y=self.comprehensiveness, name="comprehensiveness"), row=1, col=2)
        fig.add_trace(go.Bar(x=labels, y=self.sufficiency, name="sufficiency"), row=1, col=2)
        fig.update_xaxes(title_text="fraction of tokens removed / inserted", row=1, col=1)
        fig.update_yaxes(title_text=self.metric, row=1, col=1)
        fig.update_layout(title=f"Faithfulness of {self.method} for {self.target!r}", barmode="group", height=420)
        return fig


@dataclasses.dataclass(eq=False)
class MethodComparisonResult(Result):
    """Every attribution method on one prompt: faithfulness per method and their rank agreement.

    Attributes:
        prompt, target, metric, model_name: shared by every method.
        tokens: the units scored.
        methods: the method names, one per row of ``scores``.
        scores: (n_methods, n_units) each method's total score per unit.
        comprehensiveness, sufficiency: (n_methods,) ERASER AOPC of each method.
        deletion_auc, insertion_auc: (n_methods,) curve areas of each method.
        correlation: (n_methods, n_methods) Spearman rank correlation between the methods' scores
            (NaN where a method gave every unit the same score).
        seconds: (n_methods,) wall time of each method's attribution.
    """

    prompt: str
    target: str
    metric: str
    tokens: list[str]
    methods: list[str]
    scores: np.ndarray
    comprehensiveness: np.ndarray
    sufficiency: np.ndarray
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray
    correlation: np.ndarray
    seconds: np.ndarray
    model_name: str = ""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Attribution methods compared"

    def summary(self) -> str:
        best = self.methods[int(np.nanargmax(self.comprehensiveness))] if len(self.methods) else "-"
        return (f"{len(self.methods)} methods on {self.model_name} for {self.target!r}: most comprehensive {best}")

    def to_frame(self) -> DataFrame:
        """One row per method: faithfulness columns, then ``rho_<method>`` rank correlations."""
        import pandas as pd

        frame = pd.DataFrame({"method": self.methods, "comprehensiveness": self.comprehensiveness,
                              "sufficiency": self.sufficiency, "deletion_auc": self.deletion_auc,
                              "insertion_auc": self.insertion_auc, "seconds": self.seconds})
        for j, name in enumerate(self.methods):
            frame[f"rho_{name}"] = self.correlation[:, j]
        return frame

    def scores_frame(self) -> DataFrame:
        """Wide frame: one row per unit, one column of scores per method."""
        import pandas as pd

        frame = pd.DataFrame({"token": self.tokens})
        for name, row in zip(self.methods, self.scores):
            frame[name] = row
        return frame

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=3, column_widths=[0.3, 0.3, 0.4],
                            subplot_titles=("Spearman rank correlation", "ERASER AOPC", "scores (max-abs normalised)"))
        fig.add_trace(go.Heatmap(z=self.correlation, x=self.methods, y=self.methods, zmin=-1, zmax=1, zmid=0,
                                 colorscale=_SCALE, texttemplate="%{z:.2f}", showscale=False), row=1, col=1)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
        fig.add_trace(go.Bar(x=self.methods, y=self.comprehensiveness, name="comprehensiveness ↑"), row=1, col=2)
        fig.add_trace(go.Bar(x=self.methods, y=self.sufficiency, name="sufficiency ↓"), row=1, col=2)
        scale = np.abs(self.scores).max(axis=1, keepdims=True)
        normalised = np.divide(self.scores, scale, out=np.zeros_like(self.scores, dtype=np.float64), where=scale > 0)
        fig.add_trace(go.Heatmap(z=normalised, x=_unique_labels(self.tokens), y=self.methods, zmid=0, zmin=-1, zmax=1,
                                 colorscale=_SCALE, colorbar={"title": "score"}), row=1, col=3)
        fig.update_yaxes(autorange="reversed", row=1, col=3)
        fig.update_layout(title=f"Attribution methods for {self.target!r} on {self.model_name}", barmode="group",
                          height=460)
        return fig
