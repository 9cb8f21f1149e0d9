"""The truth sweep: statement features, one truth probe per (dataset, probe kind, layer)
(:mod:`interp.probing.kinds`), :func:`truth_sweep` and :func:`generalization_matrix`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interp import _params as params
from interp._validation import check_choice, check_int
from interp.errors import InvalidParameterError
from interp.models.card import model_card
from interp.probing.layer_sweep import sweep_layers
from interp.progress import ProgressArg, resolve_progress
from interp.truth.datasets import TruthDataset, load_dataset, load_datasets
from interp.truth.probes import (
    OLD_TRUTH_PROBES,
    TRUTH_PROBES,
    CCSProbe,
    ContrastPCAProbe,
    ccs_accuracy,
    make_truth_probe,
    truth_probe_name,
    truth_probe_names,
)
from interp.truth.sweep.data import FEATURE_POSITIONS, TruthSplit, _concat, split_pairs, truth_split
from interp.truth.sweep.result import GeneralizationResult, TruthSweepResult

if TYPE_CHECKING:
    from interp.activations import Activations
    from interp.models.model import Model
    from interp.probing.estimators import Probe as _Probe


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


def score_truth_probe(probe: str, X: np.ndarray, split: TruthSplit, *, n_orient: int = 16, seed: int = 0,
                      params: dict[str, Any] | None = None, where: str = "score_truth_probe") -> tuple[float, float]:
    """Fit ``probe`` on the training rows of (n, d) ``X`` (one layer of ``split.dataset``'s statements) and
    return (held-out accuracy, training accuracy)."""
    fitted = fit_truth_probe(probe, X[~split.test], split.train, n_orient=n_orient, seed=seed, params=params,
                             where=where)
    return _score(fitted, X[split.test], split.held_out.labels), _score(fitted, X[~split.test], split.train.labels)


def _score_split(X: np.ndarray, layer: int, name: str, *, split: TruthSplit, n_orient: int, seed: int,
                 probe_params: dict[str, Any], where: str) -> tuple[float, float]:
    """One (layer, probe) step of the truth sweep's :func:`~interp.probing.layer_sweep.sweep_layers`."""
    return score_truth_probe(name, X, split, n_orient=n_orient, seed=seed, params=probe_params.get(name), where=where)


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
    """The truth probe kinds asked for, each once; the old name "lr" is "linear" (one InterpDeprecationWarning)."""
    return truth_probe_names(probes, where=where)


def _renamed_params(probe_params: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """``probe_params`` keyed by the kinds' current names ("lr" -> "linear", with an InterpDeprecationWarning)."""
    return {truth_probe_name(k, where=where, param="probe_params") if k in OLD_TRUTH_PROBES else k: v
            for k, v in (probe_params or {}).items()}


def _check_common(test_size: Any, max_pairs: Any, n_orient: Any, where: str) -> None:
    if not isinstance(test_size, (int, float)) or isinstance(test_size, bool) or not 0 < test_size < 1:
        raise InvalidParameterError(f"The 'test_size' parameter of {where} must be a float in (0, 1). Got {test_size!r}.")
    if max_pairs is not None:
        check_int(max_pairs, name="max_pairs", where=where, low=4)
    check_int(n_orient, name="n_orient", where=where, low=0)


#: What truth_sweep, generalization_matrix and truth_report share (``datasets`` is read by ``load_datasets``).
TRUTH_PARAMS = {
    "model": ["model"], "datasets": ["no_validation"], "position": [params.Options(FEATURE_POSITIONS)],
    "test_size": [params.Interval(float, 0, 1, closed="neither")], "max_pairs": [params.Interval(int, 4, None), None],
    "seed": [params.Interval(int, None, None)], "n_orient": [params.Interval(int, 0, None)],
    "batch_size": [params.Interval(int, 1, None), None], "progress": ["progress"],
}


@params.validate_params({**TRUTH_PARAMS, "layers": [params.Layers(allow_embed=True)],
                         "probes": [params.Subset(lambda: TRUTH_PROBES, single=True, deprecated=OLD_TRUTH_PROBES)],
                         "probe_params": [dict, None]})
def truth_sweep(model: Model, datasets: Any, *, layers: Any = "all",
                probes: Sequence[str] | str = ("linear", "mm", "ccs"),
                position: str = "last", test_size: float = 0.25, max_pairs: int | None = None, seed: int = 0,
                n_orient: int = 16, probe_params: dict[str, dict[str, Any]] | None = None,
                batch_size: int | None = None, progress: ProgressArg = None) -> TruthSweepResult:
    """Held-out accuracy of truth probes at each layer, per dataset.

    Args:
        model: an :class:`interp.Model`.
        datasets: names of built-in sets (``interp.truth.DATASETS``), CSV paths or :class:`TruthDataset`.
        layers: "all" (0..n_layers), an int or a list of ints.
        probes: any of "linear" (logistic regression; "lr" is its old name, with an InterpDeprecationWarning),
            "mm" (Marks & Tegmark's mass-mean), "mm_iid", "mm_std" (standardised mean difference, interp < 0.2's
            "mm"), "ccs", "lat".
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
        >>> truth_sweep(model, "cities", layers=[4, 8, 12], probes=["linear", "mm"]).to_frame()
    """
    where = "truth_sweep"
    from interp.activations import resolve_layers

    loaded = load_datasets(datasets, where=where)
    probe_names = _check_probes(probes, where)
    probe_params = _renamed_params(probe_params, where)
    layer_list = resolve_layers(model, layers, where=where)
    splits = [truth_split(full, max_pairs=max_pairs, test_size=test_size, seed=seed) for full in loaded]
    scores = {}
    report = resolve_progress(progress, where=where)
    for split in splits:
        acts = statement_features(model, split.dataset.statements, layer_list, position=position,
                                  batch_size=batch_size, progress=report)
        fits = sweep_layers(layer_list, acts.__getitem__, functools.partial(
            _score_split, split=split, n_orient=n_orient, seed=seed, probe_params=probe_params or {}, where=where),
            kinds=probe_names, report=report)
        scores.update({(split.name, name, layer): score for (layer, name), score in fits.items()})
    return assemble_truth_sweep(splits, probe_names, layer_list, scores, n_layers=model.n_layers, position=position,
                                test_size=test_size, seed=seed, max_pairs=max_pairs, n_orient=n_orient,
                                model_name=model.name, model_card=model_card(model))


@params.validate_params({**TRUTH_PARAMS, "layer": [params.Layer(allow_embed=True)],
                         "probe": [params.Options(lambda: TRUTH_PROBES, deprecated=OLD_TRUTH_PROBES)],
                         "train": [list, tuple, None],
                         "center_test": ["boolean"]})
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
        probe: "linear", "mm", "mm_iid", "mm_std", "ccs" or "lat" ("lr": "linear", deprecated).
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
    probe = truth_probe_name(probe, where=where)
    layer = check_layer(layer, model.n_layers, where=where, allow_embed=True)
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
