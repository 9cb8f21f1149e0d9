"""``LensResult``: what a lens reads off every layer at every position of one prompt.

A lens turns the residual stream at layer ``l`` (``interp.layers``: 0 = embeddings, ``n_layers`` =
the final residual) into a next-token distribution. The result keeps, per (layer, position), only
what the plots and tables need, never the vocabulary-sized logits: the top ``k`` tokens and their
probabilities, the KL divergence from the model's own final distribution, the entropy, and the rank
and probability of a target token if one was given.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

__all__ = ["LensResult"]

_LENS_NAMES = {"logit": "Logit lens", "linear": "Linear lens"}


def _label(token: str) -> str:
    """A token as a cell or tick shows it: visible spaces and newlines, at most 12 characters."""
    text = token.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "\u2423")
    return text if len(text) <= 12 else text[:11] + "\u2026"


@dataclasses.dataclass(eq=False)
class LensResult(Result):
    """A lens read at several layers and every position of one prompt.

    Attributes:
        prompt: the text the model saw.
        lens: "logit" (the model's own final norm and unembedding) or "linear" (a fitted affine
            translator per layer, then the same readout; see :mod:`interp.lens.linear`).
        input_tokens: the prompt's tokens (BOS first if the model prepends one), one per position.
        layers: the layers read (``interp.layers``' convention: 0 = embeddings, n_layers = final).
        top_ids: (n_read, pos, k) int64, the lens's ``k`` most likely next tokens, most likely first.
        top_probs: (n_read, pos, k) float32, their probabilities (softmax over the whole vocabulary).
        top_tokens: the same tokens as strings, ``[layer_index][position][rank]``.
        kl: (n_read, pos) float32, KL(final || lens) in nats: how far the lens's distribution is from
            the model's own output at that position (0 at the final layer).
        entropy: (n_read, pos) float32, the entropy of the lens's distribution in nats.
        target: the target continuation as given (e.g. " Paris"), or None.
        target_id: the token the target's rank and probability are of (its first token), or None.
        target_token: that token as a string, or None.
        target_rank: (n_read, pos) int64, 1 + the number of tokens the lens puts strictly above the
            target (1 = top), or None without a target.
        target_prob: (n_read, pos) float32, the target token's probability, or None.
        n_layers: the model's number of blocks (layer n_layers is its final residual stream).
        model_name: the model that produced it.
        lens_info: what the lens is (for a linear lens: its file, fit texts, ridge per layer, ...).
    """

    prompt: str
    lens: str
    input_tokens: list[str]
    layers: list[int]
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_tokens: list[list[list[str]]]
    kl: np.ndarray
    entropy: np.ndarray
    target: str | None = None
    target_id: int | None = None
    target_token: str | None = None
    target_rank: np.ndarray | None = None
    target_prob: np.ndarray | None = None
    n_layers: int = 0
    model_name: str = ""
    lens_info: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Lens"

    # ------------------------------------------------------------------ reading it
    def first_layer_in_top(self, k: int = 1, *, position: int = -1) -> int | None:
        """The first layer read where the target ranks in the top ``k`` at ``position`` (the last by
        default) and stays there in every later layer read; None without a target or if it never does."""
        if self.target_rank is None:
            return None
        ranks = self.target_rank[:, position]
        inside = ranks <= k
        for i in range(len(self.layers)):
            if inside[i:].all():
                return int(self.layers[i])
        return None

    def summary(self) -> str:
        name = _LENS_NAMES.get(self.lens, self.lens)
        last = -1
        top = self.top_tokens[-1][last][0]
        text = (f"{name} of {self.model_name} on {self.prompt[-60:]!r}: {len(self.layers)} layers x "
                f"{len(self.input_tokens)} positions; at layer {self.layers[-1]} the last position predicts "
                f"{top!r} (p={float(self.top_probs[-1, last, 0]):.3f})")
        if self.target_rank is not None:
            ranks = self.target_rank[:, last]
            first = self.first_layer_in_top(10)
            where = f"in the top 10 from layer {first} on" if first is not None else "never in the top 10 for good"
            text += (f"; target {self.target_token!r}: rank {int(ranks[0]):,} at layer {self.layers[0]}, "
                     f"{int(ranks[-1]):,} at layer {self.layers[-1]}, {where}")
        return text

    def to_frame(self) -> DataFrame:
        """One row per (layer, position): the top token and its probability, entropy, KL to the final
        distribution, and the target's rank and probability (if a target was given)."""
        import pandas as pd

        n_read, n_pos = self.kl.shape
        layer = np.repeat(np.asarray(self.layers, dtype=np.int64), n_pos)
        position = np.tile(np.arange(n_pos), n_read)
        data: dict[str, Any] = {
            "layer": layer, "position": position,
            "input_token": [self.input_tokens[p] for p in position],
            "top_token": [self.top_tokens[i][p][0] for i in range(n_read) for p in range(n_pos)],
            "top_prob": self.top_probs[:, :, 0].reshape(-1),
            "entropy": self.entropy.reshape(-1), "kl_to_final": self.kl.reshape(-1),
        }
        if self.target_rank is not None and self.target_prob is not None:
            data["target_rank"] = self.target_rank.reshape(-1)
            data["target_prob"] = self.target_prob.reshape(-1)
        return pd.DataFrame(data)

    def top_frame(self) -> DataFrame:
        """Long form of the top-k tokens: one row per (layer, position, rank)."""
        import pandas as pd

        n_read, n_pos, k = self.top_ids.shape
        rows = [{"layer": self.layers[i], "position": p, "rank": r + 1, "token": self.top_tokens[i][p][r],
                 "token_id": int(self.top_ids[i, p, r]), "prob": float(self.top_probs[i, p, r])}
                for i in range(n_read) for p in range(n_pos) for r in range(k)]
        return pd.DataFrame(rows)

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("Top tokens", self.top_frame())]

    # ------------------------------------------------------------------ plots
    def plot(self) -> Figure:
        """The tuned-lens paper's picture: a layers x positions grid, each cell the lens's top token,
        coloured by its probability (hover: the top k, entropy, KL to the final layer, the target)."""
        import plotly.graph_objects as go

        n_read, n_pos, k = self.top_ids.shape
        x = [f"{p}:{_label(t)}" for p, t in enumerate(self.input_tokens)]
        y = [str(layer) for layer in self.layers]
        text = [[_label(self.top_tokens[i][p][0]) for p in range(n_pos)] for i in range(n_read)]
        hover = []
        for i in range(n_read):
            row = []
            for p in range(n_pos):
                tops = "<br>".join(f"{r + 1}. {self.top_tokens[i][p][r]!r} {float(self.top_probs[i, p, r]):.3f}"
                                   for r in range(k))
                extra = ""
                if self.target_rank is not None and self.target_prob is not None:
                    extra = (f"<br>target {self.target_token!r}: rank {int(self.target_rank[i, p]):,}, "
                             f"p={float(self.target_prob[i, p]):.3g}")
                row.append(f"layer {self.layers[i]}, position {p} ({self.input_tokens[p]!r})<br>{tops}<br>"
                           f"entropy {float(self.entropy[i, p]):.2f} nats, KL to final {float(self.kl[i, p]):.2f}"
                           f"{extra}")
            hover.append(row)
        fig = go.Figure(go.Heatmap(
            z=self.top_probs[:, :, 0], x=x, y=y, text=text, texttemplate="%{text}", textfont={"size": 10},
            customdata=hover, hovertemplate="%{customdata}<extra></extra>", colorscale="Blues", zmin=0, zmax=1,
            colorbar={"title": "p(top)"}))
        name = _LENS_NAMES.get(self.lens, self.lens)
        fig.update_layout(title=f"{name}: top next token by layer ({self.model_name})", xaxis_title="input token",
                          yaxis_title="layer (0 = embeddings)", height=max(320, 22 * n_read + 160),
                          width=max(600, 70 * n_pos + 200), xaxis={"side": "bottom", "tickangle": -45})
        return fig

    def plot_layers(self) -> Figure:
        """By layer, at the last position: KL to the final distribution and, with a target, its rank (log axis)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        with_target = self.target_rank is not None
        fig = make_subplots(rows=1, cols=2 if with_target else 1, subplot_titles=(
            ["KL(final || lens), nats", f"rank of {self.target_token!r}"] if with_target else
            ["KL(final || lens), nats"]))
        fig.add_trace(go.Scatter(x=self.layers, y=self.kl[:, -1], mode="lines+markers", name="KL"), row=1, col=1)
        if with_target and self.target_rank is not None:
            fig.add_trace(go.Scatter(x=self.layers, y=self.target_rank[:, -1], mode="lines+markers", name="rank"),
                          row=1, col=2)
            fig.update_yaxes(type="log", row=1, col=2, autorange="reversed")
        fig.update_xaxes(title_text="layer (0 = embeddings)")
        fig.update_yaxes(title_text="KL, nats", row=1, col=1)
        if with_target:
            fig.update_yaxes(title_text="rank (1 = top)", row=1, col=2)
        name = _LENS_NAMES.get(self.lens, self.lens)
        fig.update_layout(title=f"{name} at the last position ({self.input_tokens[-1]!r})", height=360,
                          showlegend=False)
        return fig

    def figures(self) -> list:
        return [self.plot(), self.plot_layers()]
