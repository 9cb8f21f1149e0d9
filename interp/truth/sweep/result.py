"""Truth-sweep results: :class:`TruthSweepResult` (accuracy by dataset, probe and layer) and
:class:`GeneralizationResult` (train on one dataset, test on another), with their intervals."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._validation import check_choice
from interp.results import Result
from interp.stats import Interval

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure



def pooled_interval(accuracy: Any, n: Any) -> Interval:
    """Wilson interval of the accuracy over every test statement of several sets: ``accuracy[i]`` was
    measured on ``n[i]`` statements (whole contrast pairs held out), so ``accuracy[i] * n[i]`` were right."""
    from interp.stats import proportion_interval

    acc, counts = np.atleast_1d(np.asarray(accuracy, dtype=np.float64)), np.atleast_1d(np.asarray(n, dtype=np.int64))
    if len(counts) != len(acc) or not len(acc) or not np.isfinite(acc).all():
        return Interval(float(np.nanmean(acc)) if len(acc) else float("nan"), float("nan"), float("nan"))
    return proportion_interval(int(round(float(np.sum(acc * counts)))), int(counts.sum()))


def _error_bars(intervals: Sequence[Interval]) -> dict[str, Any]:
    """plotly ``error_y`` of intervals around their estimates."""
    return {"type": "data", "symmetric": False, "array": [i.high - i.estimate for i in intervals],
            "arrayminus": [i.estimate - i.low for i in intervals], "thickness": 1}


@dataclasses.dataclass(eq=False, kw_only=True)
class TruthSweepResult(Result):
    """Held-out accuracy of each truth probe at each layer on each dataset.

    Attributes:
        datasets: dataset names; probes: probe names ("linear", "mm", "mm_iid", "mm_std", "ccs", "lat"; "lr"
            for "linear" in files saved before interp 0.2, which load unchanged).
        layers: layers probed (0 = embeddings, l = output of block l-1); n_layers: the model's depth.
        accuracy: (n_datasets, n_probes, n_layers) held-out accuracy.
        train_accuracy: same shape, on the training rows.
        n_train, n_test: rows on each side, per dataset.
        position: "last" or "mean"; test_size, seed, max_pairs, n_orient: how it was run.
    """

    datasets: list[str]
    probes: list[str]
    layers: list[int]
    n_layers: int
    accuracy: np.ndarray
    train_accuracy: np.ndarray
    n_train: list[int]
    n_test: list[int]
    position: str = "last"
    test_size: float = 0.25
    seed: int = 0
    max_pairs: int | None = None
    n_orient: int = 16
    model_name: str = ""

    title: ClassVar[str] = "Truth probe accuracy by layer"

    def mean_accuracy(self) -> np.ndarray:
        """(n_probes, n_layers) accuracy averaged over datasets."""
        return self.accuracy.mean(axis=0)

    def best_layer(self, probe: str | None = None, dataset: str | None = None) -> int:
        """The layer with the best held-out accuracy (of one probe / dataset, else averaged)."""
        acc = self.accuracy
        if dataset is not None:
            acc = acc[[check_choice(dataset, self.datasets, name="dataset", where="best_layer") and
                       self.datasets.index(dataset)]]
        if probe is not None:
            acc = acc[:, [self.probes.index(check_choice(probe, self.probes, name="probe", where="best_layer"))]]
        return int(self.layers[int(np.argmax(acc.mean(axis=(0, 1))))])

    def best_layer_fraction(self, probe: str | None = None, dataset: str | None = None) -> float:
        """:meth:`best_layer` as a fraction of depth (layer / n_layers)."""
        return self.best_layer(probe, dataset) / self.n_layers

    def accuracy_interval(self, probe: str, layer: int, dataset: str | None = None) -> Interval:
        """Wilson interval of ``probe``'s held-out accuracy at ``layer``, over the test statements of one
        dataset or of all of them pooled."""
        b = self.probes.index(check_choice(probe, self.probes, name="probe", where="accuracy_interval"))
        c = self.layers.index(int(layer))
        rows = range(len(self.datasets)) if dataset is None else [self.datasets.index(
            check_choice(dataset, self.datasets, name="dataset", where="accuracy_interval"))]
        return pooled_interval([self.accuracy[a, b, c] for a in rows], [self.n_test[a] for a in rows])

    def _best(self, b: int) -> int:
        """Index of the layer where probe ``b``'s pooled held-out accuracy is highest."""
        return int(np.argmax([self.accuracy_interval(self.probes[b], l).estimate for l in self.layers]))

    def summary(self) -> str:
        parts = []
        for j, p in enumerate(self.probes):
            i = self._best(j)
            parts.append(f"{p} {self.accuracy_interval(p, self.layers[i]).format()} at layer {self.layers[i]} "
                         f"({self.layers[i] / self.n_layers:.2f} of depth)")
        return (f"{self.model_name + ': ' if self.model_name else ''}best held-out accuracy (95% Wilson interval over "
                f"{sum(self.n_test)} test statements) over {', '.join(self.datasets)}: " + "; ".join(parts))

    def caveats(self) -> list[str]:
        out = []
        for j, p in enumerate(self.probes):
            i = self._best(j)
            ci = self.accuracy_interval(p, self.layers[i])
            if ci.holds(0.5):
                out.append(f"{p}: even its best layer's accuracy {ci.format()} holds chance (0.5); it reads no truth here.")
        if len(self.layers) > 1:
            out.append(f"The best layer is the highest of {len(self.layers)} noisy test accuracies (a winner's curse): "
                       "its figure overstates what a layer chosen in advance would give. truth_report chooses the "
                       "layer on validation pairs and reports the test pairs.")
        return out

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = []
        for a, d in enumerate(self.datasets):
            for b, p in enumerate(self.probes):
                for c, l in enumerate(self.layers):
                    ci = pooled_interval(self.accuracy[a, b, c], self.n_test[a])
                    rows.append({"dataset": d, "probe": p, "layer": l, "depth_fraction": l / self.n_layers,
                                 "accuracy": float(self.accuracy[a, b, c]), "accuracy_low": ci.low,
                                 "accuracy_high": ci.high, "n_test": int(self.n_test[a]),
                                 "train_accuracy": float(self.train_accuracy[a, b, c])})
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.express as px
        import plotly.graph_objects as go

        fig = go.Figure()
        colours = px.colors.qualitative.Plotly
        dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
        for b, p in enumerate(self.probes):
            for a, d in enumerate(self.datasets):
                bars = [pooled_interval(self.accuracy[a, b, c], self.n_test[a]) for c in range(len(self.layers))]
                fig.add_trace(go.Scatter(x=self.layers, y=self.accuracy[a, b], mode="lines+markers",
                                         name=f"{p} / {d}", error_y=_error_bars(bars),
                                         line={"color": colours[b % len(colours)], "dash": dashes[a % len(dashes)]}))
        fig.add_hline(y=0.5, line={"dash": "dot", "width": 1}, annotation_text="chance")
        fig.update_layout(title=f"Truth probes: held-out accuracy by layer (best layer {self.best_layer()}, "
                                f"{self.best_layer_fraction():.2f} of depth)",
                          xaxis_title=f"layer (0 = embeddings, {self.n_layers} = last)",
                          yaxis_title="held-out accuracy (95% Wilson interval)", yaxis={"range": [0.3, 1.02]}, height=450,
                          legend={"orientation": "h", "y": -0.2})
        return fig


@dataclasses.dataclass(eq=False, kw_only=True)
class GeneralizationResult(Result):
    """Accuracy of a probe trained on one dataset (row) and tested on another's held-out side (column).

    Attributes:
        train: training set names (a union is written "a+b"); test: test set names.
        accuracy: (n_train, n_test) held-out accuracy.
        layer, probe, position: where and what was probed; n_layers: the model's depth.
        auc: (n_train, n_test) ROC AUC of the probe's score (threshold-free).
        center_test: whether each test set's mean activation was moved onto the training mean first.
    """

    train: list[str]
    test: list[str]
    accuracy: np.ndarray
    auc: np.ndarray
    layer: int
    probe: str
    n_layers: int
    position: str = "last"
    test_size: float = 0.25
    seed: int = 0
    max_pairs: int | None = None
    center_test: bool = True
    model_name: str = ""
    n_test: list[int] = dataclasses.field(default_factory=list)

    title: ClassVar[str] = "Truth probe generalisation"

    def accuracy_interval(self, i: int, j: int) -> Interval:
        """Wilson interval of ``accuracy[i, j]`` over test set ``j``'s held-out statements."""
        return pooled_interval(self.accuracy[i, j], self.n_test[j] if self.n_test else [])

    def unseen_interval(self, i: int) -> Interval:
        """Wilson interval of row ``i``'s accuracy pooled over the test sets it was not trained on."""
        seen = set(self.train[i].split("+"))
        cols = [j for j, t in enumerate(self.test) if t not in seen]
        if not cols:
            return Interval(float("nan"), float("nan"), float("nan"))
        return pooled_interval(self.accuracy[i, cols], [self.n_test[j] for j in cols] if self.n_test else [])

    def caveats(self) -> list[str]:
        out = []
        for i, row in enumerate(self.train):
            ci = self.unseen_interval(i)
            if np.isfinite(ci.estimate) and ci.holds(0.5):
                out.append(f"Trained on {row}: accuracy on the sets it did not see, {ci.format()}, holds chance (0.5); "
                           "its direction does not transfer.")
        return out

    def unseen_accuracy(self) -> np.ndarray:
        """(n_train,) mean accuracy over the test sets that are not part of the row's training sets."""
        out = []
        for i, row in enumerate(self.train):
            seen = set(row.split("+"))
            cols = [j for j, t in enumerate(self.test) if t not in seen]
            out.append(float(np.mean(self.accuracy[i, cols])) if cols else float("nan"))
        return np.asarray(out)

    def summary(self) -> str:
        unseen = self.unseen_accuracy()
        best = int(np.nanargmax(unseen)) if np.isfinite(unseen).any() else 0
        return (f"{self.model_name + ': ' if self.model_name else ''}{self.probe} at layer {self.layer}: mean accuracy "
                f"on unseen sets {np.nanmean(unseen):.3f} (best: trained on {self.train[best]}, "
                f"{self.unseen_interval(best).format()}, 95% Wilson interval over its unseen test statements)")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = []
        for i, r in enumerate(self.train):
            for j, t in enumerate(self.test):
                ci = self.accuracy_interval(i, j)
                rows.append({"train": r, "test": t, "accuracy": float(self.accuracy[i, j]), "accuracy_low": ci.low,
                             "accuracy_high": ci.high, "auc": float(self.auc[i, j]), "seen": t in r.split("+")})
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        text = [[self.accuracy_interval(i, j).format(2).replace(" [", "<br>[") for j in range(len(self.test))]
                for i in range(len(self.train))]
        fig = go.Figure(go.Heatmap(z=self.accuracy, x=self.test, y=self.train, zmin=0.0, zmax=1.0,
                                   colorscale="RdBu", text=text, texttemplate="%{text}",
                                   colorbar={"title": "accuracy"}))
        fig.update_layout(title=f"Generalisation: {self.probe} at layer {self.layer}, held-out accuracy "
                                "[95% Wilson interval]",
                          xaxis_title="tested on", yaxis_title="trained on",
                          yaxis={"autorange": "reversed"}, height=150 + 45 * len(self.train))
        return fig
