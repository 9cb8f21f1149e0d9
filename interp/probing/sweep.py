"""Layer sweep: fit the same probe at every layer and compare held-out accuracy.

Where in the network a property becomes readable is the first question a probe answers. The sweep
splits the rows once **by group** (a sentence: rows of one sentence are never on both sides, or a
probe could score by recognising the sentence), fits one probe per layer on the training side,
and reports accuracy on the held-out side. Given control labels (:mod:`interp.probing.control`),
it fits a second probe per layer on them over the same split and reports selectivity = task
accuracy - control accuracy (Hewitt & Liang 2019).

The fitted task probes are kept as arrays in the result (``coef``, ``scaler_mean``, ...; float32),
so a saved sweep can still predict: ``result.probe_at(layer)`` rebuilds the probe.

Example:
    >>> from interp.activations import collect
    >>> from interp.probing import probe_layers
    >>> acts = collect(model, texts, layers="all", position="word_last", words=words)
    >>> result = probe_layers(acts, tags, groups=acts.text_index, control=control_tags)
    >>> result.best_layer, result.plot()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import InstanceOf, Interval, Options, validate_params
from interp.errors import InvalidParameterError
from interp.probing.estimators import PROBES, _Probe, make_probe
from interp.probing.layer_sweep import sweep_layers
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.probing.estimators import _Probe

__all__ = ["probe_layers", "ProbeSweepResult", "split_by_group"]

_WEIGHTS = ("scaler_mean", "scaler_scale", "hidden_coef", "hidden_intercept", "coef", "intercept")
_INTERVALS = ("accuracy_low", "accuracy_high", "control_accuracy_low", "control_accuracy_high", "selectivity_low",
              "selectivity_high")


def layer_intervals(correct: np.ndarray, control_correct: np.ndarray | None, groups: np.ndarray) -> dict[str, float]:
    """95% intervals of one layer's held-out accuracy, control accuracy and selectivity.

    Args:
        correct: (n_test,) 1 where the task probe is right on a held-out row.
        control_correct: (n_test,) the same for the control probe, or None.
        groups: (n_test,) each row's group (sentence): whole groups are resampled
            (:func:`interp.stats.bootstrap_interval` with ``clusters``); the three figures use the same
            resamples (one seed), so selectivity's interval is that of the paired difference.

    Returns:
        ``{"accuracy_low": ..., "accuracy_high": ..., ...}`` (the control and selectivity keys only with a control).
    """
    from interp.stats import bootstrap_interval

    correct = np.asarray(correct, dtype=np.float64)
    n = len(correct)
    acc = bootstrap_interval(lambda rows: float(correct[rows].mean()), n, clusters=groups)
    out = {"accuracy_low": acc.low, "accuracy_high": acc.high}
    if control_correct is not None:
        control = np.asarray(control_correct, dtype=np.float64)
        ctl = bootstrap_interval(lambda rows: float(control[rows].mean()), n, clusters=groups)
        sel = bootstrap_interval(lambda rows: float(correct[rows].mean() - control[rows].mean()), n, clusters=groups)
        out.update(control_accuracy_low=ctl.low, control_accuracy_high=ctl.high, selectivity_low=sel.low,
                   selectivity_high=sel.high)
    return out


def split_by_group(groups: Any, *, test_size: float = 0.2, seed: int = 0, where: str = "split_by_group") -> np.ndarray:
    """(n_rows,) bool mask of the held-out rows: a random ``test_size`` share of the groups, whole."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.asarray(groups)
    if not isinstance(test_size, (int, float)) or isinstance(test_size, bool) or not 0 < test_size < 1:
        raise InvalidParameterError(f"The 'test_size' parameter of {where} must be a float in (0, 1). Got {test_size!r}.")
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InvalidParameterError(f"{where} needs rows from at least 2 groups (sentences) to hold some out; "
                                    f"got {n_groups}.")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    _, test = next(splitter.split(np.zeros(len(groups)), groups=groups))
    mask = np.zeros(len(groups), dtype=bool)
    mask[test] = True
    return mask


@dataclasses.dataclass(eq=False, kw_only=True)
class ProbeSweepResult(Result):
    """Held-out accuracy of one probe per layer, with control-task selectivity if a control was given.

    Attributes:
        layers: the layers probed (0 = embeddings, l = output of block l-1).
        accuracy: (n_layers,) held-out accuracy of the task probe.
        train_accuracy: (n_layers,) accuracy on the training rows.
        control_accuracy: (n_layers,) held-out accuracy on the control labels, or None.
        selectivity: (n_layers,) accuracy - control_accuracy, or None.
        classes: the labels, in the order of the probes' outputs.
        probe: "LinearProbe" or "MLPProbe"; probe_params: its parameters.
        majority_accuracy: held-out accuracy of always answering the most frequent training label.
        n_train, n_test: rows on each side; n_train_groups, n_test_groups: groups on each side.
        test_size, seed: how the split was drawn.
        test_mask: (n_rows,) bool, the held-out rows.
        scaler_mean, scaler_scale: (n_layers, d) float32; coef: (n_layers, n_out, width);
        intercept: (n_layers, n_out); hidden_coef: (n_layers, hidden, d) and hidden_intercept:
            (n_layers, hidden) for MLP probes, else None. ``probe_at(layer)`` rebuilds a probe.
        model_name: the model the activations came from.
        accuracy_low, accuracy_high, control_accuracy_low, control_accuracy_high, selectivity_low,
            selectivity_high: (n_layers,) 95% intervals, a bootstrap over the held-out groups (whole sentences:
            the words of one sentence are not independent); selectivity's from the same resamples as its two
            accuracies. None in files saved before they existed.
    """

    layers: list[int]
    accuracy: np.ndarray
    train_accuracy: np.ndarray
    control_accuracy: np.ndarray | None
    selectivity: np.ndarray | None
    classes: list
    probe: str
    probe_params: dict
    majority_accuracy: float
    n_train: int
    n_test: int
    n_train_groups: int
    n_test_groups: int
    test_size: float
    seed: int
    test_mask: np.ndarray
    scaler_mean: np.ndarray
    scaler_scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    hidden_coef: np.ndarray | None = None
    hidden_intercept: np.ndarray | None = None
    model_name: str = ""
    accuracy_low: np.ndarray | None = None
    accuracy_high: np.ndarray | None = None
    control_accuracy_low: np.ndarray | None = None
    control_accuracy_high: np.ndarray | None = None
    selectivity_low: np.ndarray | None = None
    selectivity_high: np.ndarray | None = None

    title: ClassVar[str] = "Probe accuracy by layer"

    @property
    def best_layer(self) -> int:
        """The layer with the highest held-out accuracy (the shallowest one on a tie)."""
        return int(self.layers[int(np.argmax(self.accuracy))])

    @property
    def best_selectivity_layer(self) -> int | None:
        """The layer with the highest selectivity, or None without a control task."""
        return None if self.selectivity is None else int(self.layers[int(np.argmax(self.selectivity))])

    def _index(self, layer: int) -> int:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) not in self.layers:
            raise InvalidParameterError(f"This result has probes at layers {self.layers}; got layer {layer!r}.")
        return self.layers.index(int(layer))

    def probe_at(self, layer: int | None = None) -> _Probe:
        """The fitted probe of ``layer`` (default: the best layer), rebuilt from the stored arrays."""
        from interp.probing.estimators import _KINDS

        i = self._index(self.best_layer if layer is None else layer)
        arrays = {f"{name}_": getattr(self, name)[i] for name in _WEIGHTS if getattr(self, name) is not None}
        return _KINDS[self.probe].from_state(self.probe_params, list(self.classes), arrays,
                                             source=f"{type(self).__name__} layer {self.layers[i]}")

    @classmethod
    def concat(cls, parts: Sequence[ProbeSweepResult]) -> ProbeSweepResult:
        """One sweep from sweeps of the same rows, split and probe at other layers (``interp run`` fits
        one layer per job); layers end up sorted.

        Raises:
            InvalidParameterError: no parts, a layer twice, or parts of other probes, splits or classes.
        """
        parts = sorted(parts, key=lambda p: p.layers[0] if p.layers else -1)
        if not parts:
            raise InvalidParameterError("ProbeSweepResult.concat needs at least one sweep.")
        first = parts[0]
        layers = [l for p in parts for l in p.layers]
        if len(set(layers)) != len(layers):
            raise InvalidParameterError(f"ProbeSweepResult.concat got layer(s) twice: {sorted(layers)}.")
        for p in parts[1:]:
            if (p.probe != first.probe or p.classes != first.classes or p.probe_params != first.probe_params
                    or not np.array_equal(p.test_mask, first.test_mask)):
                raise InvalidParameterError("ProbeSweepResult.concat needs sweeps of one probe on one split and "
                                            "one set of classes.")

        def join(name: str) -> np.ndarray | None:
            values = [getattr(p, name) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        fields = {f.name: getattr(first, f.name) for f in dataclasses.fields(first)}
        fields["layers"] = layers
        for name in ("accuracy", "train_accuracy", "control_accuracy", "selectivity", *_WEIGHTS, *_INTERVALS):
            fields[name] = join(name)
        return type(first)(**fields)

    def interval(self, name: str, layer: int | None = None) -> Any:
        """:class:`interp.stats.Interval` of ``name`` ("accuracy", "control_accuracy" or "selectivity") at ``layer``
        (default: the best layer); its ends are NaN in files saved without intervals."""
        from interp.stats import Interval

        i = self._index(self.best_layer if layer is None else layer)
        values = getattr(self, name)
        low, high = getattr(self, f"{name}_low"), getattr(self, f"{name}_high")
        return Interval(float(values[i]), float("nan") if low is None else float(low[i]),
                        float("nan") if high is None else float(high[i]), n=self.n_test_groups,
                        method="cluster bootstrap")

    def caveats(self) -> list[str]:
        notes = []
        if self.accuracy_low is None:
            return notes
        acc = self.interval("accuracy")
        if not acc.above(self.majority_accuracy):
            notes.append(f"The best layer's accuracy {acc.format()} does not lie above the majority baseline "
                         f"({self.majority_accuracy:.3f}): the probe reads nothing beyond the most frequent label.")
        if self.selectivity is not None:
            layer = self.best_selectivity_layer
            sel = self.interval("selectivity", layer)
            if not sel.above(0.0):
                notes.append(f"Selectivity {sel.format()} at layer {layer} (its best) holds 0: the probe does no better "
                             "on the task than on the control task of random labels per word type, so its accuracy "
                             "may come from memorising words rather than from the representation.")
        return notes

    def summary(self) -> str:
        text = (f"{self.model_name + ': ' if self.model_name else ''}{self.probe} best at layer {self.best_layer} "
                f"(accuracy {self.interval('accuracy').format()}; majority {self.majority_accuracy:.3f})")
        if self.selectivity is not None:
            layer = self.best_selectivity_layer
            text += f", selectivity peaks at layer {layer} ({self.interval('selectivity', layer).format()})"
        return text + (f"; {self.n_test} held-out rows from {self.n_test_groups} groups (intervals: bootstrap over "
                       "the held-out groups)")

    def to_frame(self) -> DataFrame:
        """One row per layer: accuracy, train_accuracy, control_accuracy, selectivity, each held-out figure with
        ``_low`` / ``_high`` (95%, bootstrap over held-out groups) when the result has them."""
        import pandas as pd

        frame = pd.DataFrame({"layer": self.layers, "accuracy": self.accuracy, "train_accuracy": self.train_accuracy})
        if self.accuracy_low is not None:
            frame["accuracy_low"], frame["accuracy_high"] = self.accuracy_low, self.accuracy_high
        if self.control_accuracy is not None:
            frame["control_accuracy"] = self.control_accuracy
            if self.control_accuracy_low is not None:
                frame["control_accuracy_low"] = self.control_accuracy_low
                frame["control_accuracy_high"] = self.control_accuracy_high
            frame["selectivity"] = self.selectivity
            if self.selectivity_low is not None:
                frame["selectivity_low"], frame["selectivity_high"] = self.selectivity_low, self.selectivity_high
        return frame

    def _band(self, name: str) -> dict[str, Any] | None:
        low, high = getattr(self, f"{name}_low"), getattr(self, f"{name}_high")
        if low is None:
            return None
        values = getattr(self, name)
        return {"type": "data", "symmetric": False, "array": high - values, "arrayminus": values - low}

    def _baselines(self) -> dict[str, float]:
        return {"majority": self.majority_accuracy}

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_trace(go.Scatter(x=self.layers, y=self.accuracy, mode="lines+markers", name=f"{self.probe} accuracy",
                                 error_y=self._band("accuracy")))
        if self.control_accuracy is not None:
            fig.add_trace(go.Scatter(x=self.layers, y=self.control_accuracy, mode="lines+markers", name="control accuracy",
                                     line={"dash": "dash"}, error_y=self._band("control_accuracy")))
            fig.add_trace(go.Scatter(x=self.layers, y=self.selectivity, mode="lines+markers", name="selectivity",
                                     error_y=self._band("selectivity")))
        for i, (name, value) in enumerate(self._baselines().items()):
            if value is not None:
                fig.add_hline(y=value, line={"dash": "dot", "width": 1}, annotation_text=f"{name} {value:.3f}",
                              annotation_position="bottom right" if i % 2 else "top right")
        lowest = self.selectivity if self.selectivity_low is None else self.selectivity_low
        low = 0.0 if self.selectivity is None else min(0.0, float(np.nanmin(lowest)) - 0.05)
        fig.update_layout(title=f"{self.model_name + ': ' if self.model_name else ''}{self.probe} probe accuracy by layer",
                          xaxis_title="layer (0 = embeddings)",
                          yaxis_title="held-out accuracy (bars: 95% interval over held-out sentences)",
                          yaxis={"range": [low, 1.02]},
                          legend={"orientation": "h", "y": -0.2}, height=450)
        return fig


def _layer_arrays(acts: Any, where: str) -> tuple[list[int], Any, int]:
    if isinstance(acts, Mapping):
        layers = sorted(int(l) for l in acts)
        if not layers:
            raise InvalidParameterError(f"The 'acts' given to {where} hold no layers.")
        return layers, acts, len(np.asarray(acts[layers[0]]))
    if hasattr(acts, "layers") and hasattr(acts, "__getitem__"):
        return list(acts.layers), acts, len(acts)
    raise InvalidParameterError(f"The 'acts' parameter of {where} must be interp Activations or a dict "
                                f"layer -> (n_rows, d) array. Got {type(acts).__name__} instead.")


def _check_rows(values: Any, n_rows: int, *, name: str, where: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != n_rows:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must have one entry per activation row "
                                    f"({n_rows}). Got shape {array.shape} instead.")
    return array


@validate_params({
    "acts": ["no_validation"], "labels": ["no_validation"], "groups": ["no_validation"],  # checked against the rows
    "probe": [Options(lambda: PROBES), InstanceOf(_Probe, name="a probe estimator (interp.probing.LinearProbe)")],
    "control": ["no_validation"], "layers": ["no_validation"], "test_size": [Interval(float, 0, 1, closed="neither")],
    "seed": [Interval(int, None, None)], "probe_params": [dict, None], "test_mask": ["no_validation"],
    "progress": ["progress"],
})
def probe_layers(acts: Any, labels: Sequence[Any], *, groups: Sequence[Any], probe: str | Any = "linear",
                 control: Sequence[Any] | None = None, layers: Sequence[int] | None = None, test_size: float = 0.2,
                 seed: int = 0, probe_params: dict[str, Any] | None = None, test_mask: np.ndarray | None = None,
                 progress: ProgressArg = None) -> ProbeSweepResult:
    """Fit a probe per layer on a split by group and report held-out accuracy (and selectivity).

    Args:
        acts: :class:`~interp.activations.Activations` (or a dict layer -> (n_rows, d) array).
        labels: (n_rows,) the label of each row.
        groups: (n_rows,) the group of each row (a sentence id; ``acts.text_index``): the split
            never separates a group's rows.
        probe: "linear" (:class:`~interp.probing.estimators.LinearProbe`), "mlp" (:class:`~interp.probing.estimators.MLPProbe`)
            or an unfitted probe instance to clone.
        control: (n_rows,) control labels (:func:`~interp.probing.control.control_task`) for selectivity.
        layers: a subset of the activations' layers (default: all of them).
        test_size: the share of groups held out.
        seed: the split's seed.
        probe_params: parameters for the probe (e.g. ``{"C": 0.1}``).
        test_mask: (n_rows,) bool, a ready-made split instead of drawing one.
        progress: stage ``"probes"``, counted in layers (:mod:`interp.progress`: None = a bar on a terminal,
            True / False, or a callable ``progress(stage, done, total)``).

    Returns:
        :class:`ProbeSweepResult`.

    Example:
        >>> r = probe_layers(acts, tags, groups=acts.text_index, probe="linear", control=control_tags)
        >>> r.to_frame()[["layer", "accuracy", "selectivity"]]
    """
    where = "probe_layers"
    all_layers, source, n_rows = _layer_arrays(acts, where)
    if n_rows == 0:
        raise InvalidParameterError(f"The activations given to {where} have no rows.")
    labels = _check_rows(labels, n_rows, name="labels", where=where)
    groups = _check_rows(groups, n_rows, name="groups", where=where)
    control_labels = None if control is None else _check_rows(control, n_rows, name="control", where=where)
    if layers is None:
        layers = all_layers
    else:
        layers = [int(l) for l in layers]
        unknown = [l for l in layers if l not in all_layers]
        if unknown or not layers:
            raise InvalidParameterError(f"The 'layers' parameter of {where} must be a non-empty subset of the "
                                        f"activations' layers {all_layers}. Got {layers}.")
    template = make_probe(probe, where=where, params=probe_params)
    if test_mask is None:
        test_mask = split_by_group(groups, test_size=test_size, seed=seed, where=where)
    else:
        test_mask = _check_rows(test_mask, n_rows, name="test_mask", where=where).astype(bool)
    train = ~test_mask
    if train.sum() == 0 or test_mask.sum() == 0:
        raise InvalidParameterError(f"{where}: the split left no training or no test rows; use more groups.")
    if len(np.unique(labels[train])) < 2:
        raise InvalidParameterError(f"{where}: the training rows hold fewer than 2 distinct labels "
                                    f"({np.unique(labels[train]).tolist()}); a probe needs at least 2.")

    from sklearn.base import clone

    from interp.probing.control import majority_baseline

    report = resolve_progress(progress, where=where)
    accuracy, train_accuracy, control_accuracy, weights = [], [], [], {name: [] for name in _WEIGHTS}
    intervals: dict[str, list[float]] = {name: [] for name in _INTERVALS}

    def fit_layer(X: np.ndarray, layer: int, kind: Any) -> _Probe:
        fitted = clone(template).fit(X[train], labels[train])
        correct = fitted.predict(X[test_mask]) == labels[test_mask]
        accuracy.append(float(correct.mean()))
        train_accuracy.append(fitted.score(X[train], labels[train]))
        for name, array in fitted.state_arrays().items():
            weights[name.rstrip("_")].append(array.astype(np.float32))
        control_correct = None
        if control_labels is not None:
            control_probe = clone(template).fit(X[train], control_labels[train])
            control_correct = control_probe.predict(X[test_mask]) == control_labels[test_mask]
            control_accuracy.append(float(control_correct.mean()))
        for name, value in layer_intervals(correct, control_correct, groups[test_mask]).items():
            intervals[name].append(value)
        return fitted

    fits = sweep_layers(layers, lambda layer: np.asarray(source[layer], dtype=np.float32), fit_layer, report=report)
    fitted = fits[layers[-1], None]
    accuracy_arr = np.asarray(accuracy, dtype=np.float64)
    control_arr = None if control_labels is None else np.asarray(control_accuracy, dtype=np.float64)
    classes = fitted.classes_.tolist()
    return ProbeSweepResult(
        layers=list(layers), accuracy=accuracy_arr, train_accuracy=np.asarray(train_accuracy, dtype=np.float64),
        control_accuracy=control_arr, selectivity=None if control_arr is None else accuracy_arr - control_arr,
        classes=classes, probe=type(template).kind, probe_params=template.get_params(),
        majority_accuracy=majority_baseline(labels[train], labels[test_mask]),
        n_train=int(train.sum()), n_test=int(test_mask.sum()), n_train_groups=len(np.unique(groups[train])),
        n_test_groups=len(np.unique(groups[test_mask])), test_size=float(test_size), seed=int(seed),
        test_mask=test_mask, model_name=str(getattr(acts, "model_name", "")),
        **{name: (np.asarray(values, dtype=np.float64) if values else None) for name, values in intervals.items()},
        model_card=dict(getattr(acts, "model_card", None) or {}),
        **{name: (np.stack(values) if values else None) for name, values in weights.items()})

