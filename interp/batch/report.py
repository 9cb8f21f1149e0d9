"""The run's ``report.html``: one self-contained page (plotly.js inlined once, nothing fetched).

It shows what ran (spec, models, status, attempts and timings), the headline metric by layer for
every model and probe, each assembled result's own figure and summary, the best layer per model x
dataset x probe, and the whole summary table.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp.results import atomic_write_bytes

if TYPE_CHECKING:
    from pandas import DataFrame

__all__ = ["best_layers", "write_report"]

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
          "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}pre{background:#f6f6f6;padding:1em;"
          "overflow:auto}details{margin:1em 0}.muted{color:#666}")


def _headline_figure(frame, metric: str, by_depth: bool):
    import plotly.graph_objects as go

    fig = go.Figure()
    x = "depth" if by_depth else "layer"
    mean = frame.groupby(["model", "probe", x], sort=False)[metric].mean().reset_index()
    for (model, probe), group in mean.groupby(["model", "probe"], sort=False):
        fig.add_trace(go.Scatter(x=group[x], y=group[metric], mode="lines+markers", name=f"{model} / {probe}"))
    n_sets = frame["dataset"].nunique()
    fig.update_layout(title=f"{metric} by {'depth (layer / n_layers)' if by_depth else 'layer'}"
                            f"{f', mean over {n_sets} datasets' if n_sets > 1 else ''}",
                      xaxis_title="depth" if by_depth else "layer (0 = embeddings)", yaxis_title=metric, height=420,
                      legend={"orientation": "h", "y": -0.25})
    return fig


def best_layers(frame: DataFrame, metric: str, *, lower_is_better: bool = False) -> DataFrame:
    """The best layer per model, dataset and probe of a run's summary table (``summary.csv``) by ``metric``.

    Returns:
        A :class:`pandas.DataFrame`: model, dataset, probe, layer, depth and ``best <metric>``, one row per
        model x dataset x probe, in the summary's order (report.html's table; ``interp run`` prints it).
    """
    keys = ["model", "dataset", "probe"]
    pick = frame.loc[frame.groupby(keys, sort=False)[metric].idxmin() if lower_is_better
                     else frame.groupby(keys, sort=False)[metric].idxmax()]
    return pick[keys + ["layer", "depth", metric]].rename(columns={metric: f"best {metric}"})


def write_report(ctx: Any, record: dict[str, Any], frame, path: Path) -> Path:
    """Write ``path``: the report of the run in ``ctx.out`` (a :class:`~interp.batch.context.RunContext`;
    record: run.json's content; frame: the summary)."""
    from plotly.offline import get_plotlyjs

    from interp.results import load_result

    spec = ctx.spec
    metric = ctx.analysis.headline
    fmt = {"float_format": lambda v: f"{v:.4g}", "index": False, "border": 0}
    attempts = record.get("attempts", [])
    attempt_rows = "".join(
        f"<tr><td>{i + 1}</td><td>{html.escape(str(a.get('started')))}</td>"
        f"<td>{html.escape('complete' if i == len(attempts) - 1 else str(a.get('status')))}</td>"  # this one
        f"<td>{a.get('shards_computed', 0)} computed / {a.get('shards_reused', 0)} reused</td>"
        f"<td>{a.get('texts_forwarded', 0)}</td>"
        f"<td>{a.get('probes_computed', 0)} computed / {a.get('probes_reused', 0)} reused</td>"
        f"<td>{html.escape(', '.join(f'{k} {v:.1f} s' for k, v in a.get('seconds', {}).items()))}</td></tr>"
        for i, a in enumerate(attempts))
    models = "".join(f"<li>{html.escape(info['name'])}: {info['n_layers']} layers, d_model {info['d_model']}, probed "
                     f"at {len(info['layers'])} layers</li>" for info in record.get("models", {}).values())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>interp run: {html.escape(spec.task)}</title><style>{_STYLE}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>interp run: {html.escape(spec.task)}</h1>",
        f"<p>{html.escape(spec.description)}</p>" if spec.description else "",
        (f"<p class='muted'>spec {html.escape(str(record.get('source')))}, interp "
         f"{html.escape(record['interp_version'])}, created {html.escape(str(record.get('created')))}, folder "
         f"{html.escape(str(ctx.out))}</p>"),
        f"<ul>{models}</ul>",
        ("<h2>Attempts</h2><table><tr><th>#</th><th>started</th><th>status</th><th>shards</th><th>texts run</th>"
         f"<th>probes</th><th>time</th></tr>{attempt_rows}</table>"),
    ]
    if len(frame) and "layer" in frame and frame["layer"].notna().any():  # a shard-map task may have no layers
        by_depth = frame["model"].nunique() > 1
        parts.append(f"<h2>{html.escape(metric)} by layer</h2>")
        parts.append(_headline_figure(frame, metric, by_depth).to_html(full_html=False, include_plotlyjs=False))
        parts.append("<h2>Best layer per model, dataset and probe</h2>")
        parts.append(best_layers(frame, metric).to_html(**fmt))
    for entry in record.get("results", []):
        result = load_result(ctx.out / entry["path"])
        parts.append(f"<h2>{html.escape(entry['model_name'])}: {html.escape(type(result).__name__)}</h2>")
        parts.append(f"<p>{html.escape(result.summary())}</p><p class='muted'>saved as {html.escape(entry['path'])} "
                     f"(open with interp.load_result); page: <a href='{html.escape(entry['html'])}'>"
                     f"{html.escape(entry['html'])}</a></p>")
        parts.append(result.plot().to_html(full_html=False, include_plotlyjs=False))
    parts.append(f"<details><summary>Summary table ({len(frame)} rows; also summary.csv)</summary>"
                 f"{frame.to_html(**fmt)}</details>")
    parts.append(f"<details><summary>Spec</summary><pre>{html.escape(json.dumps(spec.to_dict(), indent=2))}</pre>"
                 "</details></body></html>")
    return atomic_write_bytes(path, "".join(parts).encode("utf-8"))
