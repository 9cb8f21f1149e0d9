"""Frames and heat maps shared by the patching result types: one (layer, position) map per site and a
(layer, head) grid for heads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from interp.attribution.result import display_token

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

_SCALE = "RdBu_r"
SITE_TITLES = {"resid": "residual stream (layer l = after block l-1)", "attn": "attention output (block)",
               "mlp": "MLP output (block)", "head": "attention heads (block x head)",
               "hidden": "hidden state (layer l = after block l-1)"}


def position_labels(tokens: list[str], positions: list[int]) -> list[str]:
    return [f"{p}:{display_token(tokens[p])}" for p in positions]


def site_frame(maps: dict[str, np.ndarray], tokens: list[str], positions: list[int], *,
               value: str = "value") -> DataFrame:
    """Tidy rows ``site, layer, position, token, head, <value>`` (head is -1 outside the head site)."""
    import pandas as pd

    parts = []
    for site, arr in maps.items():
        if arr.size == 0:
            continue
        if arr.ndim == 3:  # (layer, pos, head)
            layer, pos, head = np.meshgrid(np.arange(arr.shape[0]), np.arange(arr.shape[1]), np.arange(arr.shape[2]),
                                           indexing="ij")
        else:
            layer, pos = np.meshgrid(np.arange(arr.shape[0]), np.arange(arr.shape[1]), indexing="ij")
            head = np.full(layer.shape, -1)
        p = np.asarray(positions)[pos.ravel()]
        parts.append(pd.DataFrame({"site": site, "layer": layer.ravel(), "position": p,
                                   "token": [tokens[i] for i in p], "head": head.ravel(), value: arr.ravel()}))
    if not parts:
        return pd.DataFrame(columns=["site", "layer", "position", "token", "head", value])
    return pd.concat(parts, ignore_index=True)


def site_figure(maps: dict[str, np.ndarray], tokens: list[str], positions: list[int], *, title: str,
                colorbar: str, site: str | None = None) -> Figure:
    """Heat maps: layers (rows, 0 at the bottom) x positions for each site; heads as a layer x head grid
    of the signed value with the largest magnitude over positions (hover names that position)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = {k: v for k, v in maps.items() if v.size and (site is None or k == site)}
    if not shown:
        return go.Figure().update_layout(title=f"{title}: nothing computed")
    finite = [np.abs(v[np.isfinite(v)]).max() for v in shown.values() if np.isfinite(v).any()]
    bound = float(max(finite)) if finite and max(finite) > 0 else 1.0
    labels = position_labels(tokens, positions)
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[SITE_TITLES.get(k, k) for k in shown],
                        horizontal_spacing=0.06)
    for col, (name, arr) in enumerate(shown.items(), start=1):
        if arr.ndim == 3:  # (layer, pos, head) -> (layer, head) at each head's strongest position
            idx = np.nanargmax(np.abs(np.nan_to_num(arr)), axis=1)  # (layer, head)
            z = np.take_along_axis(arr, idx[:, None, :], axis=1)[:, 0, :]
            hover = [[f"L{layer}H{h} at {labels[idx[layer, h]]}: {z[layer, h]:.4g}" for h in range(z.shape[1])]
                     for layer in range(z.shape[0])]
            x = [f"H{h}" for h in range(z.shape[1])]
        else:
            z = arr
            hover = [[f"{name} layer {layer}, {labels[j]}: {z[layer, j]:.4g}" for j in range(z.shape[1])]
                     for layer in range(z.shape[0])]
            x = labels
        fig.add_trace(go.Heatmap(z=z, x=x, y=list(range(z.shape[0])), colorscale=_SCALE, zmid=0, zmin=-bound,
                                 zmax=bound, hovertext=hover, hoverinfo="text", showscale=col == len(shown),
                                 colorbar={"title": colorbar}), row=1, col=col)
        fig.update_yaxes(title_text="layer" if name != "resid" else "layer (0 = embeddings)", row=1, col=col)
        fig.update_xaxes(title_text="head (at its strongest position)" if arr.ndim == 3 else "position: token",
                         row=1, col=col)
    fig.update_layout(title=title, height=max(350, 14 * max(v.shape[0] for v in shown.values()) + 150),
                      width=max(700, 330 * len(shown)))
    return fig
