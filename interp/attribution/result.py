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
DISAGREEMENT = 0.3  # a rank correlation below this says two methods do not agree on the tokens' order


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


def _interval(data: dict[str, Any]):
    from interp.stats import Interval

    return Interval.from_dict(data)


def _fmt(interval: Any) -> str:
    """An interval (or its dict) to 3 significant digits: attribution metrics span 1e-6 (a probability on a
    random model) to tens of nats, so a fixed number of decimals would print zeros."""
    i = _interval(interval) if isinstance(interval, dict) else interval
    if not (np.isfinite(i.low) and np.isfinite(i.high)):
        return f"{i.estimate:.3g}"
    return f"{i.estimate:.3g} [{i.low:.3g}, {i.high:.3g}]"


def _sentence(c: Any) -> str:
    """:meth:`interp.stats.Comparison.sentence` with :func:`_fmt`'s significant digits."""
    verdict = "within noise" if c.within_noise else f"{c.larger} is larger"
    return f"{c.name_a} {_fmt(c.a)} vs {c.name_b} {_fmt(c.b)}: difference {_fmt(c.difference)}, {verdict}"


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

    def last_token_ranked_first(self) -> bool:
        """True for an ablation whose top-scored unit holds the position the target is predicted from (the prompt's
        last token): removing it changes what is being predicted, not which evidence supports it."""
        if self.method != "ablation" or not self.positions or not len(self.input_ids) or not len(self.tokens):
            return False
        top = int(np.argmax(self.total))
        return (len(self.input_ids) - 1) in self.positions[top]

    def completeness(self) -> str | None:
        """Integrated gradients' completeness check as a sentence (None for the other methods): the largest
        relative gap between the scores' sum and ``f(x) - f(baseline)`` over the target tokens."""
        relative = self.metadata.get("completeness_relative")
        if not relative:
            return None
        worst = float(np.max(relative))
        absolute = float(np.max(self.metadata.get("completeness_error", [float("nan")])))
        verdict = ("the scores add up to the prediction's change" if worst <= 0.05 else
                   "the integral has not converged: raise n_steps before reading the scores")
        return (f"completeness: the scores' sum misses f(input) - f(baseline) by at most {worst:.1%} "
                f"({absolute:.3g} {self.metric}) over {len(relative)} target token(s) with "
                f"{self.metadata.get('n_steps', '?')} steps; {verdict}")

    def caveats(self) -> list[str]:
        notes = []
        if self.last_token_ranked_first():
            top = int(np.argmax(self.total))
            notes.append(
                f"Ablation ranks the last token {self.tokens[top]!r} first ({float(self.total[top]):+.3g} "
                f"{self.metric}): the target is predicted from that position, so removing it changes what is being "
                "predicted, not which evidence supports the target. Its score is not comparable with the others'. "
                "Read only the earlier tokens, ablate with replace_with= a neutral token, or use "
                "integrated_gradients; faithfulness() checks a ranking against the model.")
        relative = self.metadata.get("completeness_relative")
        if relative and float(np.max(relative)) > 0.05:
            notes.append(f"Integrated gradients has not converged (completeness off by up to {float(np.max(relative)):.0%}"
                         "): raise n_steps before trusting the scores.")
        return notes

    def summary(self) -> str:
        top = ", ".join(f"{t!r} ({s:+.3g})" for t, s in self.top(3))
        text = (f"{self.method} attribution of {self.target!r} ({self.metric}) on {self.model_name or 'a model'}: "
                f"most supportive {top}")
        check = self.completeness()
        return text if check is None else f"{text}. {check[0].upper()}{check[1:]}."

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
        fig.update_xaxes(title_text="input token", row=2, col=1)
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
        shown = [display_token(t) for t in self.tokens]
        # token labels on both axes, repeated under every head (keys) and beside every layer (queries); with
        # more than ~40 ticks per axis every k-th token is labelled so they stay legible
        step_x = max(1, math.ceil(n * len(head_idx) / 60))
        step_y = max(1, math.ceil(n * len(layer_idx) / 60))
        fig.update_xaxes(tickvals=[c * size + k for c in range(len(head_idx)) for k in range(0, n, step_x)],
                         ticktext=[shown[k] for _ in head_idx for k in range(0, n, step_x)], tickangle=-60,
                         tickfont={"size": 9}, title_text="key token (one block per head)")
        fig.update_yaxes(tickvals=[r * size + k for r in range(len(layer_idx)) for k in range(0, n, step_y)],
                         ticktext=[shown[k] for _ in layer_idx for k in range(0, n, step_y)], tickfont={"size": 9},
                         autorange="reversed", title_text="query token (one block per layer)")
        for c, h in enumerate(head_idx):  # the head above each column of blocks, the layer left of each row
            fig.add_annotation(x=c * size + (n - 1) / 2, y=1.0, yref="paper", yanchor="bottom", text=f"H{h}",
                               showarrow=False)
        for r, li in enumerate(layer_idx):
            fig.add_annotation(x=1.0, xref="paper", xanchor="left", y=r * size + (n - 1) / 2, text=f"L{self.layers[li]}",
                               showarrow=False)
        cell = max(2, min(24, 600 // max(1, n)))
        fig.update_layout(title=f"Attention patterns of {self.model_name} (rows: query, columns: key)",
                          height=min(4000, 220 + len(layer_idx) * size * cell // 2),
                          width=min(2400, 250 + len(head_idx) * size * cell // 2), plot_bgcolor="white",
                          margin={"t": 90, "r": 60})
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
        random_comprehensiveness, random_sufficiency: (n_random, n_fractions) the same figures for seeded random
            orders of the units (the random-ranking baseline); None in files saved before it existed.
        intervals: ``{"comprehensiveness": Interval dict, "sufficiency": ...}`` of the AOPCs, a bootstrap over the
            fractions (the items sampled on one prompt); random_intervals: the same for the random orders'
            per-fraction mean.
        versus_random: ``{"comprehensiveness": Comparison dict, "sufficiency": ...}``, method - random over the
            same fractions (:func:`interp.stats.paired_difference`).
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
    random_comprehensiveness: np.ndarray | None = None
    random_sufficiency: np.ndarray | None = None
    intervals: dict[str, Any] = dataclasses.field(default_factory=dict)
    random_intervals: dict[str, Any] = dataclasses.field(default_factory=dict)
    versus_random: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Faithfulness"

    def beats_random(self, metric: str = "comprehensiveness") -> bool | None:
        """True if the attribution's AOPC beats the random orders beyond noise (comprehensiveness higher,
        sufficiency lower), False if not, None without the baseline."""
        c = self.versus_random.get(metric)
        if not c:
            return None
        diff = c["difference"]
        better = diff["low"] > 0 if metric == "comprehensiveness" else diff["high"] < 0
        return bool(better)

    def caveats(self) -> list[str]:
        notes = []
        if self.beats_random("comprehensiveness") is False:
            d = _fmt(self.versus_random["comprehensiveness"]["difference"])
            notes.append(f"{self.method}'s ranking removes no more of the prediction than random orders of the tokens "
                         f"(comprehensiveness minus random {d} over {len(self.fractions)} fractions): this "
                         "prompt does not show the attribution to be faithful.")
        return notes

    def summary(self) -> str:
        comp = _fmt(self.intervals["comprehensiveness"]) if self.intervals else f"{self.aopc_comprehensiveness:+.3g}"
        suff = _fmt(self.intervals["sufficiency"]) if self.intervals else f"{self.aopc_sufficiency:+.3g}"
        text = (f"{self.method} on {self.model_name}: comprehensiveness {comp}, sufficiency {suff}, deletion AUC "
                f"{self.deletion_auc:.3g}, insertion AUC {self.insertion_auc:.3g} ({self.metric} of {self.target!r})")
        if self.random_intervals:
            c = self.versus_random["comprehensiveness"]
            verdict = "within noise" if c["within_noise"] else ("beats random" if self.beats_random() else
                                                                 "worse than random")
            text += (f"; {self.metadata.get('n_random', '')} random orders: comprehensiveness "
                     f"{_fmt(self.random_intervals['comprehensiveness'])}, sufficiency "
                     f"{_fmt(self.random_intervals['sufficiency'])}; difference in comprehensiveness "
                     f"{_fmt(c['difference'])}, {verdict} (intervals over the "
                     f"{len(self.fractions)} ablation fractions of this prompt)")
        return text

    def to_frame(self) -> DataFrame:
        """One row per fraction: fraction, count, comprehensiveness, sufficiency, and the random orders' mean with
        ``_low`` / ``_high`` (the 2.5% and 97.5% quantiles over the orders)."""
        import pandas as pd

        frame = pd.DataFrame({"fraction": self.fractions, "count": self.counts,
                              "comprehensiveness": self.comprehensiveness, "sufficiency": self.sufficiency})
        for name, table in (("random_comprehensiveness", self.random_comprehensiveness),
                            ("random_sufficiency", self.random_sufficiency)):
            if table is not None:
                frame[name] = table.mean(axis=0)
                frame[f"{name}_low"] = np.quantile(table, 0.025, axis=0)
                frame[f"{name}_high"] = np.quantile(table, 0.975, axis=0)
        return frame

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, subplot_titles=("deletion / insertion curves", "ERASER per fraction"))
        fig.add_trace(go.Scatter(x=self.curve_fractions, y=self.deletion_curve, mode="lines+markers",
                                 name=f"deletion (AUC {self.deletion_auc:.3g})"), row=1, col=1)
        fig.add_trace(go.Scatter(x=self.curve_fractions, y=self.insertion_curve, mode="lines+markers",
                                 name=f"insertion (AUC {self.insertion_auc:.3g})"), row=1, col=1)
        labels = [f"{f:.0%}" for f in self.fractions]
        fig.add_trace(go.Bar(x=labels, y=self.comprehensiveness, name="comprehensiveness ↑"), row=1, col=2)
        fig.add_trace(go.Bar(x=labels, y=self.sufficiency, name="sufficiency ↓"), row=1, col=2)
        frame = self.to_frame()
        for name in ("comprehensiveness", "sufficiency"):
            if f"random_{name}" in frame:
                mean = frame[f"random_{name}"].to_numpy()
                fig.add_trace(go.Scatter(
                    x=labels, y=mean, mode="markers", marker={"symbol": "line-ew-open", "size": 14},
                    name=f"random orders: {name} (95% of orders)",
                    error_y={"type": "data", "symmetric": False, "array": frame[f"random_{name}_high"] - mean,
                             "arrayminus": mean - frame[f"random_{name}_low"]}), row=1, col=2)
        fig.update_xaxes(title_text="fraction of tokens removed / inserted", row=1, col=1)
        fig.update_yaxes(title_text=self.metric, row=1, col=1)
        fig.update_xaxes(title_text="top-k fraction of tokens removed (comp.) / kept (suff.)", row=1, col=2)
        fig.update_yaxes(title_text=f"drop in {self.metric}", row=1, col=2)
        fig.update_layout(title=f"Faithfulness of {self.method} for {self.target!r}", barmode="group", height=420)
        return fig


@dataclasses.dataclass(eq=False)
class MethodComparisonResult(Result):
    """Every attribution method on one prompt: faithfulness per method, the random-ranking baseline, and the
    methods' rank agreement.

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
        comprehensiveness_by_fraction, sufficiency_by_fraction: (n_methods, n_fractions) per ablation fraction.
        random_comprehensiveness, random_sufficiency: (n_random, n_fractions) seeded random orders of the units
            (the baseline a method has to beat).
        intervals: ``intervals[metric][method or "random"]``, an Interval dict of the AOPC over the fractions.
        versus_random: ``versus_random[metric][method]``, the Comparison dict of method - random over the same
            fractions (:func:`interp.stats.paired_difference`).
        ablation_last_token_top: ablation ranked the prompt's last token first (see
            :meth:`AttributionResult.caveats`).

    The fields after ``seconds`` are None / empty in files saved before the random baseline existed.
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
    comprehensiveness_by_fraction: np.ndarray | None = None
    sufficiency_by_fraction: np.ndarray | None = None
    random_comprehensiveness: np.ndarray | None = None
    random_sufficiency: np.ndarray | None = None
    intervals: dict[str, Any] = dataclasses.field(default_factory=dict)
    versus_random: dict[str, Any] = dataclasses.field(default_factory=dict)
    ablation_last_token_top: bool = False

    title: ClassVar[str] = "Attribution methods compared"

    def ranking(self) -> dict[str, Any]:
        """The most comprehensive method and whether the data support it.

        Returns:
            ``{"best": name or None, "leader": the highest AOPC, "runner_up": name or None,
            "versus_runner_up": Comparison or None, "versus_random": Comparison or None}``; ``best`` is set only
            when the leader's paired difference (over the same fractions) from the runner-up and from the random
            orders both exclude 0 in its favour.
        """
        from interp.stats import paired_difference

        out: dict[str, Any] = {"best": None, "leader": None, "runner_up": None, "versus_runner_up": None,
                               "versus_random": None}
        if not len(self.methods):
            return out
        order = np.argsort(-np.nan_to_num(self.comprehensiveness, nan=-np.inf), kind="stable")
        out["leader"] = self.methods[int(order[0])]
        if self.comprehensiveness_by_fraction is None:
            return out
        rows = self.comprehensiveness_by_fraction
        lead = int(order[0])
        counts = self.metadata.get("counts")  # fractions removing as many units are one item
        if len(order) > 1:
            out["runner_up"] = self.methods[int(order[1])]
            out["versus_runner_up"] = paired_difference(rows[lead], rows[int(order[1])], clusters=counts,
                                                        names=(out["leader"], out["runner_up"]))
        if self.random_comprehensiveness is not None:
            out["versus_random"] = paired_difference(rows[lead], self.random_comprehensiveness.mean(axis=0),
                                                     clusters=counts, names=(out["leader"], "random"))
        beats = [c for c in (out["versus_runner_up"], out["versus_random"]) if c is not None]
        if beats and all(c.larger == out["leader"] for c in beats):
            out["best"] = out["leader"]
        return out

    def correlation_intervals(self) -> dict[tuple[str, str], Any]:
        """``{(method a, method b): Interval}`` of each pair's Spearman correlation over the units (Fisher z)."""
        from interp.stats import correlation_interval

        n = len(self.tokens)
        return {(a, b): correlation_interval(float(self.correlation[i, j]), n, kind="spearman")
                for i, a in enumerate(self.methods) for j, b in enumerate(self.methods) if i < j}

    def disagreements(self) -> list[tuple[str, str, Any]]:
        """Pairs of methods whose rankings disagree: a Spearman correlation near or below 0 (under 0.3), each with
        its interval (which on a short prompt is wide: a few tokens cannot show agreement either)."""
        return [(a, b, interval) for (a, b), interval in self.correlation_intervals().items()
                if np.isfinite(interval.estimate) and interval.estimate < DISAGREEMENT]

    def _beats_random(self, name: str) -> bool:
        c = self.versus_random.get("comprehensiveness", {}).get(name)
        return bool(c) and c["difference"]["low"] > 0

    def caveats(self) -> list[str]:
        notes = []
        if self.versus_random and not any(self._beats_random(m) for m in self.methods):
            notes.append("No method removes more of the prediction than random orders of the tokens "
                         "(every comprehensiveness minus random holds 0 or is negative): on this prompt the "
                         "faithfulness numbers do not show any attribution to be faithful, so none is the best.")
        pairs = self.disagreements()
        if pairs:
            worst = sorted(pairs, key=lambda p: p[2].estimate)[:3]
            listed = "; ".join(f"{a} vs {b} {interval.format(2)}" for a, b, interval in worst)
            more = f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
            notes.append(f"The methods disagree on which tokens matter (Spearman correlation over {len(self.tokens)} "
                         f"tokens: {listed}{more}): they cannot all be right. Faithfulness (comprehensiveness "
                         "against random orders) is the figure checked against the model's own output; trust the "
                         "ranking that beats random there, not the agreement between methods.")
        if self.ablation_last_token_top:
            notes.append("Ablation ranks the prompt's last token first: removing the position the target is "
                         "predicted from changes what is predicted (see the ablation result's caveat); compare the "
                         "earlier tokens only, or ablate with replace_with= a neutral token.")
        return notes

    def summary(self) -> str:
        head = f"{len(self.methods)} methods on {self.model_name} for {self.target!r}"
        if not self.intervals:
            return f"{head}: most comprehensive {self.ranking()['leader'] or '-'}"
        comp = self.intervals["comprehensiveness"]
        listed = ", ".join(f"{m} {_fmt(comp[m])}" for m in [*self.methods, "random"])
        rank = self.ranking()
        n_fractions = len(self.metadata.get("fractions", [])) or self.comprehensiveness_by_fraction.shape[1]
        text = (f"{head}. Comprehensiveness AOPC (higher = more faithful; intervals over the {n_fractions} ablation "
                f"fractions of this one prompt, those removing as many tokens counted once): {listed}. ")
        if rank["best"] is not None:
            text += (f"Most comprehensive: {rank['best']} ("
                     + "; ".join(_sentence(c) for c in (rank["versus_runner_up"], rank["versus_random"]) if c)
                     + ").")
        else:
            reasons = [_sentence(c) for c in (rank["versus_runner_up"], rank["versus_random"])
                       if c is not None and c.larger != rank["leader"]]
            text += f"No method is the most comprehensive beyond noise ({'; '.join(reasons)})."
        return text

    def to_frame(self) -> DataFrame:
        """One row per method, then a "random" row (the random orders): AOPC columns with ``_low`` / ``_high``
        (over the fractions), ``comprehensiveness_vs_random`` with its interval, deletion / insertion AUC,
        seconds, then ``rho_<method>`` rank correlations."""
        import pandas as pd

        frame = pd.DataFrame({"method": self.methods, "comprehensiveness": self.comprehensiveness,
                              "sufficiency": self.sufficiency, "deletion_auc": self.deletion_auc,
                              "insertion_auc": self.insertion_auc, "seconds": self.seconds})
        for j, name in enumerate(self.methods):
            frame[f"rho_{name}"] = self.correlation[:, j]
        if not self.intervals:
            return frame
        row: dict[str, Any] = {"method": "random"}
        for metric, table in (("comprehensiveness", self.random_comprehensiveness),
                              ("sufficiency", self.random_sufficiency)):
            row[metric] = float(table.mean())
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
        names = [*self.methods, "random"]
        for metric in ("comprehensiveness", "sufficiency"):
            frame[f"{metric}_low"] = [self.intervals[metric][m]["low"] for m in names]
            frame[f"{metric}_high"] = [self.intervals[metric][m]["high"] for m in names]
            versus = self.versus_random[metric]
            for key, suffix in (("estimate", ""), ("low", "_low"), ("high", "_high")):
                frame[f"{metric}_vs_random{suffix}"] = [versus[m]["difference"][key] if m in versus else np.nan
                                                       for m in names]
        first = ["method", "comprehensiveness", "comprehensiveness_low", "comprehensiveness_high",
                 "comprehensiveness_vs_random", "comprehensiveness_vs_random_low", "comprehensiveness_vs_random_high",
                 "sufficiency", "sufficiency_low", "sufficiency_high"]
        return frame[first + [c for c in frame.columns if c not in first]]

    def scores_frame(self) -> DataFrame:
        """Wide frame: one row per unit, one column of scores per method."""
        import pandas as pd

        frame = pd.DataFrame({"token": self.tokens})
        for name, row in zip(self.methods, self.scores):
            frame[name] = row
        return frame

    def plot(self) -> Figure:
        """Rank correlations (top left), AOPC bars with their intervals and the random orders (top right), and
        every method's scores (bottom, full width, so the method names have the left margin to themselves)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=2, cols=2, column_widths=[0.42, 0.58], row_heights=[0.55, 0.45],
                            horizontal_spacing=0.22, vertical_spacing=0.22,
                            specs=[[{}, {}], [{"colspan": 2}, None]],
                            subplot_titles=("Spearman rank correlation between methods",
                                            "ERASER AOPC (bars: 95% interval over fractions)",
                                            "scores per token (each method max-abs normalised)"))
        fig.add_trace(go.Heatmap(z=self.correlation, x=self.methods, y=self.methods, zmin=-1, zmax=1, zmid=0,
                                 colorscale=_SCALE, texttemplate="%{z:.2f}", showscale=False), row=1, col=1)
        fig.update_yaxes(autorange="reversed", title_text="method", row=1, col=1)
        fig.update_xaxes(tickangle=-35, title_text="method", row=1, col=1)
        names = list(self.methods)
        for metric, values, label in (("comprehensiveness", self.comprehensiveness, "comprehensiveness ↑"),
                                      ("sufficiency", self.sufficiency, "sufficiency ↓")):
            y = list(values)
            error = None
            if self.intervals:
                y.append(float(self.intervals[metric]["random"]["estimate"]))
                lows = np.array([self.intervals[metric][m]["low"] for m in [*names, "random"]])
                highs = np.array([self.intervals[metric][m]["high"] for m in [*names, "random"]])
                error = {"type": "data", "symmetric": False, "array": highs - np.array(y),
                         "arrayminus": np.array(y) - lows}
            fig.add_trace(go.Bar(x=names + (["random"] if self.intervals else []), y=y, name=label, error_y=error),
                          row=1, col=2)
        fig.update_xaxes(tickangle=-35, title_text="method", row=1, col=2)
        fig.update_yaxes(title_text=f"AOPC ({self.metric})", row=1, col=2)
        scale = np.abs(self.scores).max(axis=1, keepdims=True)
        normalised = np.divide(self.scores, scale, out=np.zeros_like(self.scores, dtype=np.float64), where=scale > 0)
        fig.add_trace(go.Heatmap(z=normalised, x=_unique_labels(self.tokens), y=self.methods, zmid=0, zmin=-1, zmax=1,
                                 colorscale=_SCALE, colorbar={"title": "score", "len": 0.4, "y": 0.2}), row=2, col=1)
        fig.update_yaxes(autorange="reversed", title_text="method", row=2, col=1)
        fig.update_xaxes(tickangle=-45, title_text="input token", row=2, col=1)
        fig.update_xaxes(automargin=True)
        fig.update_yaxes(automargin=True)
        fig.update_layout(title=f"Attribution methods for {self.target!r} on {self.model_name}", barmode="group",
                          height=820, width=1200, margin={"l": 170, "r": 40, "t": 90, "b": 90},
                          legend={"orientation": "h", "y": 1.06, "x": 0.55})
        return fig
