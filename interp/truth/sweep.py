"""Truth probes per layer (:func:`truth_sweep`) and across datasets (:func:`generalization_matrix`).

Where does a model represent whether a statement is true? Following Marks & Tegmark 2023 ("The
Geometry of Truth") and Burns et al. 2022 ("Discovering Latent Knowledge ... Without Supervision"),
:func:`truth_sweep` takes the residual stream at the statement's last token (or the mean over its
tokens) at every layer, splits each dataset **by contrast pair** (a pair is never on both sides, and a
held-out statement that also occurs in training is dropped), fits logistic regression ("lr"),
mass-mean ("mm", and "mm_iid", its covariance variant) and CCS ("ccs", no labels) probes on the
training side and reports held-out accuracy with its 95% Wilson interval over the test statements.
CCS (Burns et al.: each side of the pairs normalised on its own) gets every pair in a random, seeded
order, so that its sides do not follow the label; its sign is set with ``n_orient`` labelled training
rows after it is trained (only the sign: the direction is found without labels).

:func:`generalization_matrix` trains on each dataset (or union of datasets, ``"cities+facts"``) at one
layer and tests on the held-out side of every dataset: off the diagonal is generalisation to
statements of a kind never seen.

Example:
    >>> import interp
    >>> from interp.truth import truth_sweep, generalization_matrix
    >>> model = interp.load_model()
    >>> sweep = truth_sweep(model, ["cities", "larger_than"], layers=range(0, 31, 3))
    >>> sweep.best_layer("lr"), sweep.plot()
    >>> generalization_matrix(model, ["cities", "larger_than", "facts"], layer=12, probe="mm").plot()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._validation import check_choice, check_int
from interp.analysis import Analysis, Inputs, fingerprint
from interp.errors import InvalidParameterError
from interp.models.card import model_card
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result
from interp.stats import Interval
from interp.truth.datasets import TruthDataset, load_dataset, load_datasets
from interp.truth.probes import TRUTH_PROBES, CCSProbe, ContrastPCAProbe, ccs_accuracy, make_truth_probe

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.activations import Activations
    from interp.models.model import Model
    from interp.probing.estimators import Probe as _Probe

__all__ = [
    "TRUTH_SWEEP",
    "GeneralizationResult",
    "TruthSplit",
    "TruthSweepAnalysis",
    "TruthSweepResult",
    "assemble_truth_sweep",
    "fit_truth_probe",
    "generalization_matrix",
    "pooled_interval",
    "score_truth_probe",
    "split_pairs",
    "statement_features",
    "truth_split",
    "truth_sweep",
]

FEATURE_POSITIONS = ("last", "mean")


def split_pairs(dataset: TruthDataset, *, test_size: float = 0.25, seed: int = 0) -> np.ndarray:
    """(n,) bool mask of held-out rows: whole contrast pairs, minus any statement also in training."""
    from interp.probing.sweep import split_by_group

    test = split_by_group(dataset.pair_ids, test_size=test_size, seed=seed, where="split_pairs")
    seen = {s for s, t in zip(dataset.statements, test) if not t}
    return test & np.array([s not in seen for s in dataset.statements])


def statement_features(model: Model, statements: Sequence[str], layers: Any, *, position: str = "last",
                       batch_size: int | None = None, progress: ProgressArg = None) -> Activations:
    """:func:`interp.activations.collect` of the statements at ``layers`` (BOS excluded), one row each."""
    from interp.activations import collect

    check_choice(position, FEATURE_POSITIONS, name="position", where="statement_features")
    return collect(model, list(statements), layers=layers, position=position, batch_size=batch_size,
                   progress=progress)


def fit_truth_probe(name: str, X: np.ndarray, dataset: TruthDataset, *, n_orient: int = 16, seed: int = 0,
                    params: dict[str, Any] | None = None, where: str = "fit_truth_probe") -> _Probe:
    """Fit probe ``name`` on (n, d) ``X`` of ``dataset``'s rows; CCS uses only its pairs, then ``n_orient`` labels."""
    probe = make_truth_probe(name, where=where, random_state=seed, params=params)
    if isinstance(probe, ContrastPCAProbe):
        pairs = dataset.pairs()
        return probe.fit(X, dataset.labels, pairs=pairs if len(pairs) else None)
    if isinstance(probe, CCSProbe):
        pairs = dataset.pairs()
        if len(pairs) < 2:
            raise InvalidParameterError(f"{where}: CCS needs contrast pairs (rows sharing a pair_id, one true and one "
                                        f"false); dataset {dataset.name!r} has {len(pairs)}.")
        # the true statement comes first in every pair of interp's datasets: a random (seeded) order per pair
        # makes CCS's sides label-free, as its per-side normalisation needs (see CCSProbe)
        swap = np.random.default_rng([seed, 1]).random(len(pairs)) < 0.5
        probe.fit(X, pairs=np.where(swap[:, None], pairs[:, ::-1], pairs))
        if n_orient > 0:
            order = np.random.default_rng(seed).permutation(len(X))
            rows = order[:n_orient]
            if len(np.unique(dataset.labels[rows])) < 2:  # one class only: add the first row of the other class
                other = order[dataset.labels[order] != dataset.labels[rows[0]]]
                rows = np.concatenate([rows, other[:1]])
            probe.orient(X[rows], dataset.labels[rows])
        return probe
    return probe.fit(X, dataset.labels)


def _score(probe, X: np.ndarray, y: np.ndarray) -> float:
    return ccs_accuracy(probe, X, y)


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


# ----------------------------------------------------------------------------- the sweep's building blocks
# truth_sweep is these steps in memory: truth_split per dataset -> score_truth_probe per layer and probe ->
# assemble_truth_sweep; a batch run (TRUTH_SWEEP, interp run) runs the same steps, one probe job at a time.
@dataclasses.dataclass
class TruthSplit:
    """One dataset of a sweep, sampled and split (model-independent).

    Attributes:
        name: the dataset's name in the result; dataset: the sampled :class:`TruthDataset` (rows in order);
        test: (n,) bool, the held-out rows (:func:`split_pairs`); train, held_out: the two sides as datasets.
    """

    name: str
    dataset: TruthDataset
    test: np.ndarray
    train: TruthDataset
    held_out: TruthDataset


def truth_split(dataset: TruthDataset, *, max_pairs: int | None = None, test_size: float = 0.25, seed: int = 0,
                name: str | None = None) -> TruthSplit:
    """``dataset`` sampled to ``max_pairs`` pairs (with ``seed``) and split by pair (:func:`split_pairs`)."""
    ds = dataset.sample(max_pairs, seed=seed)
    test = split_pairs(ds, test_size=test_size, seed=seed)
    return TruthSplit(name if name is not None else dataset.name, ds, test, ds.subset(np.flatnonzero(~test)),
                      ds.subset(np.flatnonzero(test)))


def score_truth_probe(probe: str, X: np.ndarray, split: TruthSplit, *, n_orient: int = 16, seed: int = 0,
                      params: dict[str, Any] | None = None, where: str = "score_truth_probe") -> tuple[float, float]:
    """Fit ``probe`` on the training rows of (n, d) ``X`` (one layer of ``split.dataset``'s statements) and
    return (held-out accuracy, training accuracy)."""
    fitted = fit_truth_probe(probe, X[~split.test], split.train, n_orient=n_orient, seed=seed, params=params,
                             where=where)
    return _score(fitted, X[split.test], split.held_out.labels), _score(fitted, X[~split.test], split.train.labels)


def assemble_truth_sweep(splits: Sequence[TruthSplit], probes: Sequence[str], layers: Sequence[int],
                         scores: Any, *, n_layers: int, position: str, test_size: float, seed: int,
                         max_pairs: int | None, n_orient: int, model_name: str,
                         model_card: dict | None = None) -> TruthSweepResult:
    """The :class:`TruthSweepResult` of :func:`score_truth_probe`'s scores: ``scores[(split name, probe, layer)]``
    is its (held-out accuracy, training accuracy)."""
    acc = np.zeros((len(splits), len(probes), len(layers)))
    train_acc = np.zeros_like(acc)
    for a, split in enumerate(splits):
        for b, probe in enumerate(probes):
            for c, layer in enumerate(layers):
                acc[a, b, c], train_acc[a, b, c] = scores[split.name, probe, layer]
    return TruthSweepResult(datasets=[s.name for s in splits], probes=list(probes), layers=list(layers),
                            n_layers=int(n_layers), accuracy=acc, train_accuracy=train_acc,
                            n_train=[len(s.train) for s in splits], n_test=[len(s.held_out) for s in splits],
                            position=position, test_size=float(test_size), seed=int(seed), max_pairs=max_pairs,
                            n_orient=int(n_orient), model_name=str(model_name), model_card=dict(model_card or {}))


def _check_probes(probes: Any, where: str) -> list[str]:
    items = [probes] if isinstance(probes, str) else list(probes)
    if not items:
        raise InvalidParameterError(f"The 'probes' parameter of {where} is empty; choose from {list(TRUTH_PROBES)}.")
    for p in items:
        check_choice(p, list(TRUTH_PROBES), name="probes", where=where)
    return list(dict.fromkeys(items))


@dataclasses.dataclass(eq=False, kw_only=True)
class TruthSweepResult(Result):
    """Held-out accuracy of each truth probe at each layer on each dataset.

    Attributes:
        datasets: dataset names; probes: probe names ("lr", "mm", "mm_iid", "mm_std", "ccs").
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


def _check_common(test_size: Any, max_pairs: Any, n_orient: Any, where: str) -> None:
    if not isinstance(test_size, (int, float)) or isinstance(test_size, bool) or not 0 < test_size < 1:
        raise InvalidParameterError(f"The 'test_size' parameter of {where} must be a float in (0, 1). Got {test_size!r}.")
    if max_pairs is not None:
        check_int(max_pairs, name="max_pairs", where=where, low=4)
    check_int(n_orient, name="n_orient", where=where, low=0)


def truth_sweep(model: Model, datasets: Any, *, layers: Any = "all", probes: Sequence[str] | str = ("lr", "mm", "ccs"),
                position: str = "last", test_size: float = 0.25, max_pairs: int | None = None, seed: int = 0,
                n_orient: int = 16, probe_params: dict[str, dict[str, Any]] | None = None,
                batch_size: int | None = None, progress: ProgressArg = None) -> TruthSweepResult:
    """Held-out accuracy of truth probes at each layer, per dataset.

    Args:
        model: an :class:`interp.Model`.
        datasets: names of built-in sets (``interp.truth.DATASETS``), CSV paths or :class:`TruthDataset`.
        layers: "all" (0..n_layers), an int or a list of ints.
        probes: any of "lr", "mm" (Marks & Tegmark's mass-mean), "mm_iid", "mm_std" (standardised mean
            difference, interp < 0.2's "mm"), "ccs".
        position: features from the "last" token or the "mean" over the statement's tokens.
        test_size: share of pairs held out.
        max_pairs: use at most this many pairs per dataset (drawn with ``seed``), for speed.
        seed: the split's and the subsample's seed.
        n_orient: labelled training rows used to set CCS's sign (after training; 0: report max(acc, 1-acc)).
        probe_params: per probe name, parameters to set, e.g. ``{"ccs": {"n_restarts": 4}}``.
        batch_size: passed to :func:`interp.activations.collect`.
        progress: per dataset, stage ``"activations"`` (texts, :func:`~interp.activations.collect`) then
            ``"probes"`` (layers x probes); see :mod:`interp.progress`.

    Returns:
        :class:`TruthSweepResult`: ``accuracy`` is (n_datasets, n_probes, n_layers).

    Example:
        >>> truth_sweep(model, "cities", layers=[4, 8, 12], probes=["lr", "mm"]).to_frame()
    """
    where = "truth_sweep"
    from interp.activations import resolve_layers

    loaded = load_datasets(datasets, where=where)
    probe_names = _check_probes(probes, where)
    layer_list = resolve_layers(model, layers, where=where)
    check_choice(position, FEATURE_POSITIONS, name="position", where=where)
    _check_common(test_size, max_pairs, n_orient, where)
    splits = [truth_split(full, max_pairs=max_pairs, test_size=test_size, seed=seed) for full in loaded]
    scores = {}
    report = resolve_progress(progress, where=where)
    for split in splits:
        acts = statement_features(model, split.dataset.statements, layer_list, position=position,
                                  batch_size=batch_size, progress=report)
        report("probes", 0, len(layer_list) * len(probe_names))
        for c, layer in enumerate(layer_list):
            X = acts[layer]
            for b, name in enumerate(probe_names, start=1):
                scores[split.name, name, layer] = score_truth_probe(
                    name, X, split, n_orient=n_orient, seed=seed, params=(probe_params or {}).get(name), where=where)
                report("probes", c * len(probe_names) + b, len(layer_list) * len(probe_names))
    return assemble_truth_sweep(splits, probe_names, layer_list, scores, n_layers=model.n_layers, position=position,
                                test_size=test_size, seed=seed, max_pairs=max_pairs, n_orient=n_orient,
                                model_name=model.name, model_card=model_card(model))


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


def generalization_matrix(model: Model, datasets: Any, *, layer: int, probe: str = "mm",
                          train: Sequence[str] | None = None, center_test: bool = True, position: str = "last",
                          test_size: float = 0.25,
                          max_pairs: int | None = None, seed: int = 0, n_orient: int = 16,
                          batch_size: int | None = None, progress: ProgressArg = None) -> GeneralizationResult:
    """Train a truth probe on each dataset at ``layer`` and test it on every dataset's held-out side.

    Args:
        model: an :class:`interp.Model`.
        datasets: the test sets (names, CSV paths or :class:`TruthDataset`); by default also the training sets.
        layer: the layer (0 = embeddings, l = output of block l-1).
        probe: "lr", "mm", "mm_iid", "mm_std" or "ccs".
        train: training rows, each a dataset name or a union "cities+larger_than+facts" (names must be
            among ``datasets`` or built-in); by default one row per dataset.
        center_test: move each test set's mean activation onto the training rows' mean before
            scoring. It uses no labels (the sets are balanced), and removes the offset between kinds of
            statement that otherwise puts a whole unseen set on one side of the threshold.
        position, test_size, max_pairs, seed, n_orient, batch_size: as :func:`truth_sweep`.
        progress: stage ``"activations"`` per dataset, then ``"probes"`` (one per training row); see
            :mod:`interp.progress`.
            Training always uses only each set's training side, testing only its held-out side.

    Returns:
        :class:`GeneralizationResult` with ``accuracy`` (n_train, n_test).

    Example:
        >>> r = generalization_matrix(model, ["cities", "larger_than", "facts", "sums"], layer=12, probe="mm",
        ...                           train=["cities+larger_than+facts"])
        >>> r.to_frame()
    """
    where = "generalization_matrix"
    from interp._validation import check_layer

    loaded = load_datasets(datasets, where=where)
    check_choice(probe, list(TRUTH_PROBES), name="probe", where=where)
    layer = check_layer(layer, model.n_layers, where=where, allow_embed=True)
    check_choice(position, FEATURE_POSITIONS, name="position", where=where)
    _check_common(test_size, max_pairs, n_orient, where)
    by_name = {d.name: d for d in loaded}
    rows = [d.name for d in loaded] if train is None else [train] if isinstance(train, str) else list(train)
    if not rows:
        raise InvalidParameterError(f"The 'train' parameter of {where} is empty.")
    for row in rows:
        for name in str(row).split("+"):
            if name not in by_name:
                by_name[name] = load_dataset(name)
    features: dict[str, tuple[TruthDataset, np.ndarray, np.ndarray]] = {}  # (sample, (n, d) rows, test mask)
    report = resolve_progress(progress, where=where)
    for name, full in by_name.items():
        ds = full.sample(max_pairs, seed=seed)
        test = split_pairs(ds, test_size=test_size, seed=seed)
        X = statement_features(model, ds.statements, [layer], position=position, batch_size=batch_size,
                               progress=report)[layer]
        features[name] = (ds, X, test)
    from sklearn.metrics import roc_auc_score

    acc = np.zeros((len(rows), len(loaded)))
    auc = np.zeros_like(acc)
    report("probes", 0, len(rows))
    for i, row in enumerate(rows):
        parts = [features[n] for n in str(row).split("+")]
        train_ds = _concat([ds.subset(np.flatnonzero(~test)) for ds, _, test in parts], name=str(row))
        X_train = np.concatenate([X[~test] for _, X, test in parts])
        fitted = fit_truth_probe(probe, X_train, train_ds, n_orient=n_orient, seed=seed, where=where)
        for j, ds in enumerate(loaded):
            test_ds, X, test = features[ds.name]
            X_test = X[test] - X[test].mean(0) + X_train.mean(0) if center_test else X[test]
            acc[i, j] = _score(fitted, X_test, test_ds.labels[test])
            margin = fitted.decision_function(X_test)[:, 0]
            auc[i, j] = roc_auc_score(test_ds.labels[test], margin)
            if isinstance(fitted, CCSProbe) and float(fitted.oriented_[0]) == 0.0:
                auc[i, j] = max(auc[i, j], 1 - auc[i, j])
        report("probes", i + 1, len(rows))
    return GeneralizationResult(train=[str(r) for r in rows], test=[d.name for d in loaded], accuracy=acc, auc=auc,
                                center_test=bool(center_test), layer=layer,
                                n_test=[int(features[d.name][2].sum()) for d in loaded],
                                probe=probe, n_layers=int(model.n_layers), position=position,
                                test_size=float(test_size), seed=int(seed), max_pairs=max_pairs,
                                model_name=str(model.name), model_card=model_card(model))


def _concat(parts: list[TruthDataset], *, name: str) -> TruthDataset:
    return TruthDataset(name, [s for p in parts for s in p.statements], np.concatenate([p.labels for p in parts]),
                        [f"{p.name}:{q}" for p in parts for q in p.pair_ids], [s for p in parts for s in p.provenance])


# ----------------------------------------------------------------------------- as a batch task
class TruthSweepAnalysis(Analysis):
    """:func:`truth_sweep` as ``interp run`` runs it (``task = "truth_sweep"``): one job per dataset x layer x
    probe kind, assembled into the :class:`TruthSweepResult` that :func:`truth_sweep` returns."""

    name = "truth_sweep"
    metrics = ("accuracy", "train_accuracy", "n_train", "n_test")
    headline = "accuracy"
    kinds = tuple(TRUTH_PROBES)
    data_keys = ("datasets", "max_pairs")
    probe_keys = ("kinds", "position", "test_size", "n_orient")

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        from interp.errors import InvalidDatasetError
        from interp.truth.datasets import DATASETS

        key = "data.datasets"
        raw = table.get("datasets", "all")
        items = list(DATASETS) if raw == "all" else check.names(raw, key)
        datasets, names = [], []
        for item in items:
            if item in DATASETS:
                datasets.append(item)
                names.append(item)
                continue
            path = check.path(item, base)
            if path.suffix.lower() != ".csv":
                raise check.fail(key, f"{item!r} is neither a built-in dataset ({', '.join(DATASETS)}) nor a .csv file.")
            if not path.is_file():
                raise check.fail(key, f"no such file {item!r} (looked for {path}); give a built-in dataset "
                                      f"({', '.join(DATASETS)}) or an existing .csv path.")
            try:
                load_dataset(path)
            except InvalidDatasetError as exc:
                raise check.fail(key, str(exc)) from None
            datasets.append(str(path))
            names.append(path.stem)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise check.fail(key, f"two datasets share the name {repeated[0]!r}; rename one file.")
        max_pairs = check.int(table.get("max_pairs"), "data.max_pairs", low=4, optional=True)
        return {"datasets": datasets, "max_pairs": max_pairs}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        return {"kinds": check.choices(table.get("kinds", ["lr", "mm", "ccs"]), self.kinds, "probe.kinds"),
                "position": check.choice(table.get("position", "last"), FEATURE_POSITIONS, "probe.position"),
                "test_size": check.fraction(table.get("test_size", 0.25), "probe.test_size"),
                "n_orient": check.int(table.get("n_orient", 16), "probe.n_orient", low=0)}

    @staticmethod
    def _sources(spec: Any) -> dict[str, str]:
        """dataset name -> built-in name or CSV path (a CSV's name is its stem, as load_dataset names it)."""
        from pathlib import Path

        from interp.truth.datasets import DATASETS

        return {(d if d in DATASETS else Path(d).stem): d for d in spec.data["datasets"]}

    def datasets(self, spec: Any) -> list[str]:
        return list(self._sources(spec))

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        split = truth_split(load_dataset(self._sources(spec)[dataset]), max_pairs=spec.data["max_pairs"],
                            test_size=spec.probe["test_size"], seed=spec.seed, name=dataset)
        ds = split.dataset
        return Inputs(dataset, ds.statements, None, fingerprint(ds.statements, ds.labels.tolist(), ds.pair_ids), split)

    def position(self, spec: Any) -> str:
        return spec.probe["position"]

    def _result(self, spec: Any, info: dict[str, Any], splits: Sequence[TruthSplit], probes: Sequence[str],
                layers: Sequence[int], scores: Any) -> TruthSweepResult:
        return assemble_truth_sweep(splits, probes, layers, scores, n_layers=info["n_layers"],
                                    position=spec.probe["position"], test_size=spec.probe["test_size"],
                                    seed=spec.seed, max_pairs=spec.data["max_pairs"], n_orient=spec.probe["n_orient"],
                                    model_name=info["name"], model_card=info.get("card", {}))

    def fit(self, run: Any, job: Any) -> TruthSweepResult:
        spec, split = run.spec, run.inputs(job.dataset).payload
        X = run.features(job.model, job.dataset, job.layer)  # (n_statements, d_model)
        score = score_truth_probe(job.probe, X, split, n_orient=spec.probe["n_orient"], seed=spec.seed,
                                  where="interp run")
        return self._result(spec, run.model_info(job.model), [split], [job.probe], [job.layer],
                            {(split.name, job.probe, job.layer): score})

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        spec, info = run.spec, run.model_info(model)
        splits = [run.inputs(d).payload for d in self.datasets(spec)]
        kinds, layers = spec.probe["kinds"], info["layers"]
        scores = {}
        for split in splits:
            for kind in kinds:
                for layer in layers:
                    part = run.part(model, split.name, layer, kind)
                    scores[split.name, kind, layer] = (part.accuracy[0, 0, 0], part.train_accuracy[0, 0, 0])
        return [("truth_sweep", self._result(spec, info, splits, kinds, layers, scores))]

    def rows(self, run: Any, model: str, result: Result) -> list[dict[str, Any]]:
        sizes = {d: (result.n_train[i], result.n_test[i]) for i, d in enumerate(result.datasets)}
        return [{"task": self.name, "model": model, "dataset": r["dataset"], "probe": r["probe"], "layer": r["layer"],
                 "depth": r["depth_fraction"], "accuracy": r["accuracy"], "train_accuracy": r["train_accuracy"],
                 "n_train": sizes[r["dataset"]][0], "n_test": sizes[r["dataset"]][1]}
                for r in result.to_frame().to_dict(orient="records")]


TRUTH_SWEEP = TruthSweepAnalysis()
