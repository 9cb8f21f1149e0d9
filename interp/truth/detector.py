"""A lie detector: a truth probe at one layer, applied to statements and to every token of a text.

:meth:`LieDetector.fit` fits a truth probe (logistic regression by default, see
:mod:`interp.truth.probes`) on the last-token residual of labelled statements; without ``layer`` it
picks the layer whose validation (by contrast pair) accuracy, averaged over the datasets, is highest,
and reports its in-distribution accuracy on test pairs that chose nothing (with a Wilson interval).
:meth:`LieDetector.score` gives P(true) of each statement, or with ``per_token=True`` of every token
of a longer text (a text heat map).

**Its reach.** Accuracy on held-out pairs of the kinds it was trained on says little about a kind it
never saw: :meth:`LieDetector.fit` also measures :func:`leave_one_dataset_out` (trained on all its
datasets but one, tested on every row of the one left out; each fold chooses its own layer on the
validation pairs of its training sets, so the left-out set never helps choose), and ``repr`` /
:meth:`LieDetector.reach` say "on kinds of statement it was not trained on, expect about X". Below
``NO_TRANSFER`` (0.6) it says that the model shows no truth direction that transfers. Measured on
SmolLM2-135M (``benchmarks/bench_lie_detector.py``, 15 development sets, layer 16): logistic
regression 0.53 (AUC 0.53), the covariance-corrected mass-mean ("mm_iid") 0.53, mass-mean 0.51,
RepE's contrast-pair direction ("lat") 0.49; per-dataset centring (``center="dataset"``) and
centring a batch at test time (``batch_center=True``, label-free, the mean threshold: a median
threshold is the same up to the skew of the scores) change these by at most 0.01; other layers
(linear at 12: 0.47, at 20: 0.51) and other positions (linear on the mean over tokens 0.49, on the token
before the full stop 0.47; mass-mean likewise) do no better. Training on the union of many kinds
does help a little: the 3-set default (cities, larger_than, facts) scores 0.49 on the 15 other
sets, mostly because it inverts every negated set. Marks & Tegmark saw
transfer only from 13B parameters on; a 135M model has no truth direction that transfers, and
its detector says so.

The experiment on the model's own answers,
:func:`~interp.truth.lies.detect_model_lies`, lives in :mod:`interp.truth.lies`.

A detector saves to one JSON file: its settings plus the probe in :mod:`interp.probing.estimators`'s format,
under a checksum over both, so an edited file is refused (:class:`~interp.errors.InvalidProbeFileError`).

Example:
    >>> detector = LieDetector.fit(model, ["cities", "larger_than", "facts"])
    >>> detector.score(["Paris is in France.", "Paris is in Peru."]).p_true
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp import _params as params
from interp._validation import check_choice, check_layer, check_texts
from interp.errors import InvalidParameterError, InvalidProbeFileError
from interp.models.card import model_card
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result, atomic_write_bytes
from interp.stats import Interval
from interp.truth.datasets import TruthDataset, load_datasets
from interp.truth.probes import CCSProbe, ccs_accuracy

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["CENTERINGS", "LieDetector", "TransferScores", "TruthScoreResult", "choose_layer", "leave_one_dataset_out"]

FORMAT_NAME = "interp.lie_detector"
FORMAT_VERSION = 1


@dataclasses.dataclass(eq=False, kw_only=True)
class TruthScoreResult(Result):
    """P(true) of each text (its last token), and optionally of each token.

    Attributes:
        texts: the texts scored.
        p_true: (n_texts,) the detector's P(true) at each text's last token.
        tokens: per text, its tokens (BOS excluded), or None.
        token_p_true: per text, P(true) at each token, or None.
        layer, probe, model_name: the detector that scored them.
    """

    texts: list[str]
    p_true: np.ndarray
    layer: int
    probe: str
    tokens: list | None = None
    token_p_true: list | None = None
    model_name: str = ""

    title: ClassVar[str] = "Truth scores"

    def summary(self) -> str:
        return (f"{len(self.texts)} text(s) scored by a {self.probe} at layer {self.layer}: mean P(true) "
                f"{float(np.mean(self.p_true)):.3f}")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        if self.tokens is None:
            return pd.DataFrame({"text": self.texts, "p_true": self.p_true})
        return pd.DataFrame([{"text_index": i, "position": j, "token": tok, "p_true": float(p)}
                             for i, (toks, ps) in enumerate(zip(self.tokens, self.token_p_true))
                             for j, (tok, p) in enumerate(zip(toks, ps))])

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        if self.tokens is None:
            fig = go.Figure(go.Bar(x=self.p_true, y=[t[:60] for t in self.texts], orientation="h",
                                   marker={"color": self.p_true, "colorscale": "RdYlGn", "cmin": 0, "cmax": 1}))
            fig.update_layout(title=self.summary(), xaxis={"title": "P(true)", "range": [0, 1]},
                              yaxis={"autorange": "reversed", "title": "statement"},
                              height=max(300, 160 + 28 * len(self.texts)))
            return fig
        width = max(len(t) for t in self.tokens)
        z = np.full((len(self.tokens), width), np.nan)
        labels = np.full((len(self.tokens), width), "", dtype=object)
        for i, (toks, ps) in enumerate(zip(self.tokens, self.token_p_true)):
            z[i, :len(ps)] = ps
            labels[i, :len(toks)] = [t.replace(" ", "␣") for t in toks]
        fig = go.Figure(go.Heatmap(z=z, text=labels, texttemplate="%{text}", colorscale="RdYlGn", zmin=0, zmax=1,
                                   hovertemplate="%{text}: P(true) %{z:.2f}<extra></extra>",
                                   colorbar={"title": "P(true)"}))
        fig.update_layout(title=self.summary(), xaxis={"title": "token", "showticklabels": False},
                          yaxis={"title": "text", "autorange": "reversed"}, height=max(300, 150 + 40 * len(self.tokens)))
        return fig


CENTERINGS = ("none", "dataset")


@dataclasses.dataclass
class TransferScores:
    """Leave-one-dataset-out figures (:func:`leave_one_dataset_out`), one entry per left-out dataset.

    Attributes:
        datasets: the dataset left out in each fold.
        accuracy: (n,) accuracy scoring each statement alone (what :meth:`LieDetector.score` does by default).
        batch_accuracy: (n,) accuracy when the left-out set is scored as one batch centred on its own mean
            (``LieDetector.score(..., batch_center=True)``: no labels, but it assumes about half are true).
        auc: (n,) ROC AUC of the probe's score on the left-out set (threshold-free; the same either way).
    """

    datasets: list[str]
    accuracy: np.ndarray
    batch_accuracy: np.ndarray
    auc: np.ndarray
    layers: np.ndarray | None = None
    n: np.ndarray | None = None

    def accuracy_interval(self, k: int | None = None) -> Interval:
        """Wilson interval of the accuracy on the left-out rows: of fold ``k``, or pooled over every fold."""
        from interp.stats import proportion_interval

        if self.n is None:
            return Interval(float(np.mean(self.accuracy) if k is None else self.accuracy[k]), float("nan"),
                            float("nan"))
        n = self.n.astype(int)
        if k is not None:
            return proportion_interval(int(round(self.accuracy[k] * n[k])), int(n[k]))
        return proportion_interval(int(round(float(np.sum(self.accuracy * n)))), int(n.sum()))


def _validation_accuracy(blocks: Sequence[np.ndarray], datasets: Sequence[TruthDataset], val: Sequence[np.ndarray], *,
                         probe: str, center: str, seed: int, where: str) -> float:
    """Mean accuracy over datasets on their ``val`` rows of ``probe`` fitted on every other row of ``blocks``."""
    from interp.truth.sweep import _concat, fit_truth_probe

    # with center="dataset" a set is centred on its fitting rows' mean, its validation rows too
    shift = [X[~v].mean(0) if center == "dataset" else 0.0 for X, v in zip(blocks, val)]
    X_fit = np.concatenate([X[~v] - m for X, v, m in zip(blocks, val, shift)])
    fit_ds = _concat([d.subset(np.flatnonzero(~v)) for d, v in zip(datasets, val)], name="fit")
    fitted = fit_truth_probe(probe, X_fit, fit_ds, seed=seed, where=where)
    return float(np.mean([ccs_accuracy(fitted, X[v] - m, d.labels[v])
                          for d, X, v, m in zip(datasets, blocks, val, shift)]))


def choose_layer(features: Mapping[int, Sequence[np.ndarray]], datasets: Sequence[TruthDataset], *, probe: str = "linear",
                 center: str = "none", val_size: float = 0.25, seed: int = 0, where: str = "choose_layer",
                 on_layer: Any = None) -> tuple[int, dict[int, float]]:
    """The layer whose validation accuracy (mean over ``datasets``) is best; ties go to the lower layer.

    Each dataset's validation pairs (:func:`interp.truth.sweep.split_pairs` with ``val_size``) are scored by
    the probe fitted on every other row of every dataset. Only the rows given here are read.

    Args:
        features: layer -> per dataset, its (n_i, d_model) rows at that layer.
        datasets: the :class:`TruthDataset` of each block.
        on_layer: called as ``on_layer(done, total)`` after each layer's validation fit (progress).

    Returns:
        ``(layer, {layer: validation accuracy})``; with one layer it is returned (its accuracy measured).
    """
    from interp.truth.probes import truth_probe_name
    from interp.truth.sweep import split_pairs

    probe = truth_probe_name(probe, where=where)  # once: "lr" warns here, not per layer
    val = [split_pairs(d, test_size=val_size, seed=seed) for d in datasets]
    if not all(v.any() and (~v).any() for v in val):
        first = min(features)
        return first, {}
    scores = {}
    for done, (l, blocks) in enumerate(features.items(), start=1):
        scores[int(l)] = _validation_accuracy(blocks, datasets, val, probe=probe, center=center, seed=seed, where=where)
        if on_layer is not None:
            on_layer(done, len(features))
    return max(scores, key=lambda l: (scores[l], -l)), scores


def _center_sets(parts: Sequence[np.ndarray], center: str) -> list[np.ndarray]:
    """Each (n_i, d) block minus its own mean ("dataset") or unchanged ("none")."""
    return [X - X.mean(0) for X in parts] if center == "dataset" else [np.asarray(X) for X in parts]


def leave_one_dataset_out(features: Sequence[np.ndarray] | Mapping[int, Sequence[np.ndarray]],
                          datasets: Sequence[TruthDataset], *, probe: str = "linear", center: str = "none", seed: int = 0,
                          val_size: float = 0.25, where: str = "leave_one_dataset_out") -> TransferScores:
    """Accuracy and ROC AUC on each dataset of a probe trained on all the *other* datasets.

    The figure to expect on a kind of statement the probe was not trained on: each set in turn is left
    out, the probe is fitted on the union of the rest and scored on every row of the left-out set,
    statement by statement and as one centred batch. Given features at several layers, **each fold
    chooses its own layer** (:func:`choose_layer` on the validation pairs of its training sets only):
    the left-out set never helps choose the layer it is scored at.

    Args:
        features: per dataset, its (n_i, d_model) features at one layer (rows in the dataset's order); or
            layer -> such a list, to choose the layer inside each fold.
        datasets: the :class:`TruthDataset` of each block (labels and pairs).
        probe: a truth probe name (``interp.truth.probes.TRUTH_PROBES``).
        center: "none" (the probe trains on raw features) or "dataset" (each training set minus its
            own mean, no labels used; a statement scored alone is then taken minus the mean of all
            training rows, a batch minus its own mean).
        seed: the probe's seed (CCS) and the validation split's.
        val_size: share of each training set's pairs that chooses the fold's layer (several layers only).

    Returns:
        :class:`TransferScores` (``layers``: each fold's layer; ``n``: rows per left-out set); for an
        unoriented CCS probe the figures are sign-free.
    """
    from sklearn.metrics import roc_auc_score

    from interp.truth.probes import truth_probe_name
    from interp.truth.sweep import _concat, fit_truth_probe

    probe = truth_probe_name(probe, where=where)  # once: "lr" warns here, not per fold
    check_choice(center, CENTERINGS, name="center", where=where)
    by_layer = dict(features) if isinstance(features, Mapping) else {-1: list(features)}
    if not by_layer or any(len(f) != len(datasets) for f in by_layer.values()) or len(datasets) < 2:
        raise InvalidParameterError(f"{where} needs features for each of at least 2 datasets; got "
                                    f"{[len(f) for f in by_layer.values()]} feature blocks for {len(datasets)} datasets.")
    n = len(datasets)
    acc, batch_acc, auc, chosen = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    for k, held in enumerate(datasets):
        rest = [i for i in range(n) if i != k]
        if len(by_layer) > 1:  # the fold's own layer, on its training sets' validation pairs
            layer, _ = choose_layer({l: [f[i] for i in rest] for l, f in by_layer.items()},
                                    [datasets[i] for i in rest], probe=probe, center=center, val_size=val_size,
                                    seed=seed, where=where)
        else:
            layer = next(iter(by_layer))
        chosen[k] = layer
        feats = by_layer[layer]
        blocks = _center_sets([feats[i] for i in rest], center)
        X_train = np.concatenate(blocks)
        fitted = fit_truth_probe(probe, X_train, _concat([datasets[i] for i in rest], name="rest"), seed=seed,
                                 where=where)
        X = np.asarray(feats[k], dtype=np.float64)
        reference = np.concatenate([feats[i] for i in rest]).mean(0) if center == "dataset" else 0.0
        alone = X - reference
        batch = X - X.mean(0) + X_train.mean(0)  # onto the training rows' mean (0 when they are centred)
        acc[k] = ccs_accuracy(fitted, alone, held.labels)
        batch_acc[k] = ccs_accuracy(fitted, batch, held.labels)
        auc[k] = roc_auc_score(held.labels, fitted.decision_function(alone)[:, 0])
        if isinstance(fitted, CCSProbe) and float(fitted.oriented_[0]) == 0.0:
            auc[k] = max(auc[k], 1 - auc[k])
    return TransferScores([d.name for d in datasets], acc, batch_acc, auc,
                          layers=None if -1 in by_layer else chosen, n=np.array([len(d) for d in datasets]))


NO_TRANSFER = 0.6  # below this leave-one-dataset-out accuracy, a detector says it found no truth direction that transfers


class LieDetector:
    """A fitted truth probe at one layer of one model, with the reach it measured for itself.

    Build one with :meth:`fit` or :meth:`load`. Attributes: ``probe_`` (the fitted probe),
    ``layer_``, ``position_``, ``model_name_``, ``datasets_``, ``validation_`` (layer -> accuracy on the
    validation pairs that chose the layer), ``in_distribution_`` (``{"accuracy", "n"}``: accuracy on test
    pairs of the training kinds that chose nothing, over ``n`` test statements; None for a detector saved
    by interp < 0.3), ``center_`` ("none" or "dataset"), ``reference_mean_``
    ((d_model,) the mean a statement is centred on before scoring with ``center_="dataset"``, else
    None), ``transfer_`` (:class:`TransferScores`, leave-one-dataset-out, each fold at the layer it chose
    on its own training sets, or None with fewer than 2 datasets), ``model_card_`` (the weights it was
    fitted on; a model with another fingerprint is refused), ``model`` (the model it scores with; None after ``load``).
    """

    def __init__(self, probe: Any, layer: int, *, model_name: str, position: str = "last",
                 datasets: Sequence[str] = (), validation: dict[int, float] | None = None, model: Model | None = None,
                 center: str = "none", reference_mean: np.ndarray | None = None,
                 transfer: TransferScores | None = None, in_distribution: dict[str, float] | None = None):
        self.probe_ = probe
        self.layer_ = int(layer)
        self.position_ = position
        self.model_name_ = model_name
        self.datasets_ = list(datasets)
        self.validation_ = dict(validation or {})
        self.center_ = center
        self.reference_mean_ = None if reference_mean is None else np.asarray(reference_mean, dtype=np.float64)
        self.transfer_ = transfer
        self.in_distribution_ = None if in_distribution is None else {"accuracy": float(in_distribution["accuracy"]),
                                                                      "n": int(in_distribution["n"])}
        self.model = model
        self.model_card_: dict[str, Any] = model_card(model) if model is not None else {}

    # ------------------------------------------------------------------ its reach
    @property
    def in_distribution_accuracy_(self) -> float | None:
        """Accuracy at ``layer_`` on test pairs of the training kinds that chose nothing (None if unmeasured)."""
        return None if self.in_distribution_ is None else float(self.in_distribution_["accuracy"])

    def in_distribution_interval(self) -> Interval | None:
        """Wilson interval of :attr:`in_distribution_accuracy_` over its test statements (None if unmeasured)."""
        from interp.stats import proportion_interval

        if self.in_distribution_ is None:
            return None
        n = int(self.in_distribution_["n"])
        return proportion_interval(int(round(self.in_distribution_["accuracy"] * n)), n)

    def transfer_interval(self) -> Interval | None:
        """Wilson interval of the leave-one-dataset-out accuracy, pooled over every left-out row (None without it)."""
        return None if self.transfer_ is None else self.transfer_.accuracy_interval()

    @property
    def transfer_accuracy_(self) -> float | None:
        """Mean leave-one-dataset-out accuracy, scoring statements one by one (None without it)."""
        return None if self.transfer_ is None else float(np.mean(self.transfer_.accuracy))

    def reach(self) -> str:
        """One sentence: what to expect of this detector in distribution and on kinds it was not trained on."""
        parts = []
        inside = self.in_distribution_interval()
        if inside is not None:
            parts.append(f"on held-out test statements of the {len(self.datasets_)} kind(s) it was trained on "
                         f"(they chose nothing): {inside.format(2)} accuracy (95% interval, {inside.n} statements)")
        if self.transfer_ is None:
            parts.append("on other kinds of statement: unknown (fit on at least 2 datasets to measure it)")
        else:
            t = self.transfer_
            worst, best = int(np.argmin(t.accuracy)), int(np.argmax(t.accuracy))
            pooled = t.accuracy_interval()
            folds = ("" if t.layers is None else
                     f", each fold at the layer it chose on its own training sets ({sorted({int(v) for v in t.layers})})")
            parts.append(f"on kinds of statement it was not trained on, expect about {pooled.format(2)} "
                         f"accuracy (AUC {np.mean(t.auc):.2f}; leave-one-dataset-out over {len(t.datasets)} sets{folds}, "
                         f"from {t.accuracy[worst]:.2f} on {t.datasets[worst]} to {t.accuracy[best]:.2f} on "
                         f"{t.datasets[best]}; scoring a batch of one kind with batch_center=True: "
                         f"{np.mean(t.batch_accuracy):.2f})")
            if pooled.holds(0.5):
                parts.append("its interval holds chance (0.5)")
            if np.mean(t.accuracy) < NO_TRANSFER:
                parts.append(f"below {NO_TRANSFER:.2f}: this model shows no truth direction that transfers to new "
                             "kinds of statement; do not trust its scores outside the kinds it was trained on")
        return "; ".join(parts)

    def transfer_frame(self) -> DataFrame:
        """One row per left-out dataset: accuracy alone, accuracy batch-centred, AUC (empty without it)."""
        import pandas as pd

        columns = ["dataset", "layer", "n", "accuracy", "accuracy_low", "accuracy_high", "batch_accuracy", "auc"]
        if self.transfer_ is None:
            return pd.DataFrame(columns=columns)
        t = self.transfer_
        bounds = [t.accuracy_interval(k) for k in range(len(t.datasets))]
        layers = t.layers if t.layers is not None else [self.layer_] * len(t.datasets)
        return pd.DataFrame({"dataset": t.datasets, "layer": [int(v) for v in layers],
                             "n": [i.n for i in bounds], "accuracy": t.accuracy,
                             "accuracy_low": [i.low for i in bounds], "accuracy_high": [i.high for i in bounds],
                             "batch_accuracy": t.batch_accuracy, "auc": t.auc})

    def __repr__(self) -> str:
        return (f"LieDetector({type(self.probe_).__name__} at layer {self.layer_} of {self.model_name_!r}, "
                f"trained on {self.datasets_}{', centred per dataset' if self.center_ == 'dataset' else ''}; "
                f"{self.reach()})")

    @classmethod
    def fit(cls, model: Model, datasets: Any = ("cities", "larger_than", "facts"), layer: int | None = None, *,
            probe: str = "linear", layers: Sequence[int] | None = None, position: str = "last", center: str = "none",
            max_pairs: int | None = 400, val_size: float = 0.25, test_size: float = 0.25, seed: int = 0,
            transfer: bool = True,
            progress: ProgressArg = None) -> LieDetector:
        """Fit a detector; without ``layer``, choose it by held-out accuracy; measure its reach (leave-one-dataset-out).

        Args:
            model: an :class:`interp.Model`.
            datasets: names, CSV paths or :class:`TruthDataset` (the probe trains on all of them).
            layer: the layer to read (0 = embeddings); None: the best of ``layers`` on validation pairs.
            probe: "linear", "mm", "mm_iid", "mm_std", "ccs" or "lat" ("lr": "linear", deprecated).
            layers: candidate layers (default: every second layer in the middle two thirds).
            position: "last" or "mean" token features.
            center: "none" or "dataset": each training set minus its own mean before the probe is
                fitted (no labels used); :meth:`score` then centres a statement on the mean of all
                training rows, or a batch on its own mean (``batch_center=True``).
            max_pairs: at most this many pairs per dataset (for speed; None: all).
            test_size: share of each dataset's pairs held out as test pairs: they choose nothing, and score
                ``in_distribution_`` (the probe fitted on the other rows, at the chosen layer).
            val_size: share of the remaining (training) pairs that choose the layer.
            seed: split and subsample seed.
            transfer: measure leave-one-dataset-out accuracy and AUC (``transfer_``; each fold chooses its
                layer among the candidates on its own training sets' validation pairs, so the left-out set
                never helps choose; one fit per fold and candidate layer, on features already extracted);
                needs 2 datasets or more.
            progress: stages ``"activations"`` (texts), ``"layers"`` when choosing the layer (one validation
                fit per candidate layer) and ``"transfer"`` (one fit per left-out dataset); see
                :mod:`interp.progress`.

        Returns:
            A fitted :class:`LieDetector` (refit on all rows at the chosen layer); ``repr`` and
            :meth:`reach` state its in-distribution and leave-one-dataset-out accuracy.
        """
        from interp.truth.probes import truth_probe_name
        from interp.truth.sweep import (
            FEATURE_POSITIONS,
            _check_common,
            _concat,
            fit_truth_probe,
            split_pairs,
            statement_features,
        )

        where = "LieDetector.fit"
        loaded = [d.sample(max_pairs, seed=seed) for d in load_datasets(datasets, where=where)]
        probe = truth_probe_name(probe, where=where)
        check_choice(position, FEATURE_POSITIONS, name="position", where=where)
        check_choice(center, CENTERINGS, name="center", where=where)
        _check_common(test_size, max_pairs, 0, where)
        if not isinstance(val_size, (int, float)) or isinstance(val_size, bool) or not 0 < val_size < 1:
            raise InvalidParameterError(f"The 'val_size' parameter of {where} must be a float in (0, 1). Got {val_size!r}.")
        if layer is not None:
            candidates = [check_layer(layer, model.n_layers, where=where, allow_embed=True)]
        elif layers is not None:
            candidates = sorted({check_layer(int(l), model.n_layers, where=where, name="layers", allow_embed=True)
                                 for l in layers})
        else:
            n = model.n_layers
            candidates = list(range(max(1, n // 6), max(2, 5 * n // 6) + 1, 2 if n > 6 else 1))
        combined = _concat(loaded, name="+".join(d.name for d in loaded))
        offsets = np.cumsum([0, *[len(d) for d in loaded]])
        report = resolve_progress(progress, where=where)
        acts = statement_features(model, combined.statements, candidates, position=position, progress=report)

        def blocks(l: int) -> list[np.ndarray]:  # per dataset, its rows at layer l
            X = acts[l]
            return [X[a:b] for a, b in zip(offsets[:-1], offsets[1:])]

        # three sides per dataset: test pairs (score in_distribution_, choose nothing), and the training side,
        # whose validation pairs choose the layer (choose_layer splits it again)
        tests = [split_pairs(d, test_size=test_size, seed=seed) for d in loaded]
        splittable = all(t.any() and (~t).any() for t in tests)
        trains = [d.subset(np.flatnonzero(~t)) for d, t in zip(loaded, tests)] if splittable else loaded
        choosing = len(candidates) > 1
        if choosing:
            report("layers", 0, len(candidates))
        best, validation = choose_layer({l: [X[~t] for X, t in zip(blocks(l), tests)] if splittable else blocks(l)
                                         for l in candidates}, trains, probe=probe, center=center, val_size=val_size,
                                        seed=seed, where=where,
                                        on_layer=(lambda done, total: report("layers", done, total)) if choosing else None)
        best = best if choosing else candidates[0]
        parts = blocks(best)
        in_distribution = None
        if splittable:
            shift = [X[~t].mean(0) if center == "dataset" else 0.0 for X, t in zip(parts, tests)]
            fitted = fit_truth_probe(probe, np.concatenate([X[~t] - m for X, t, m in zip(parts, tests, shift)]),
                                     _concat(trains, name="train"), seed=seed, where=where)
            correct = sum(ccs_accuracy(fitted, X[t] - m, d.labels[t]) * int(t.sum())
                          for d, X, t, m in zip(loaded, parts, tests, shift))
            n_test = int(sum(int(t.sum()) for t in tests))
            in_distribution = {"accuracy": float(round(correct) / n_test), "n": n_test}
        scores = None
        if transfer and len(loaded) > 1:
            report("transfer", 0, 1)
            scores = leave_one_dataset_out({l: blocks(l) for l in candidates} if choosing else parts, loaded,
                                           probe=probe, center=center, seed=seed, val_size=val_size, where=where)
            report("transfer", 1, 1)
        fitted = fit_truth_probe(probe, np.concatenate(_center_sets(parts, center)), combined, seed=seed, where=where)
        reference = np.concatenate(parts).mean(0) if center == "dataset" else None
        return cls(fitted, best, model_name=model.name, position=position, datasets=[d.name for d in loaded],
                   validation=validation, model=model, center=center, reference_mean=reference, transfer=scores,
                   in_distribution=in_distribution)

    def _model(self, model: Model | None, where: str) -> Model:
        model = model if model is not None else self.model
        if model is None:
            raise InvalidParameterError(f"{where} needs the model: pass model=... (a loaded detector holds none).")
        from interp.models.loading import canonical_model_name

        if canonical_model_name(model.name) != canonical_model_name(self.model_name_):
            raise InvalidParameterError(f"This detector was fitted on {self.model_name_!r}; got model {model.name!r}.")
        expected = self.model_card_.get("fingerprint")
        if expected and model_card(model)["fingerprint"] != expected:
            raise InvalidParameterError(f"This detector was fitted on other weights of {self.model_name_!r} (fingerprint "
                                        f"{expected[:19]}...); the model given has {model_card(model)['fingerprint'][:19]}...")
        if model.d_model != self.probe_.n_features_in_:
            raise InvalidParameterError(f"This detector reads {self.probe_.n_features_in_} features; the model has "
                                        f"d_model={model.d_model}.")
        return model

    def predict_proba_features(self, X: np.ndarray, *, shift: np.ndarray | None = None) -> np.ndarray:
        """(n,) P(true) of (n, d_model) residual-stream rows at the detector's layer.

        ``shift``: (d_model,) subtracted first; by default ``reference_mean_`` (detectors fitted with
        ``center="dataset"``) or nothing.
        """
        column = list(self.probe_.classes_).index(1) if 1 in list(self.probe_.classes_) else -1
        if shift is None and self.reference_mean_ is not None:
            shift = self.reference_mean_
        X = np.asarray(X, dtype=np.float64)
        return self.probe_.predict_proba(X if shift is None else X - shift)[:, column]

    @params.validate_params({"texts": ["texts"], "model": ["model", None], "per_token": ["boolean"],
                             "batch_center": ["boolean"], "batch_size": [params.Interval(int, 1, None), None]})
    def score(self, texts: str | Sequence[str], *, model: Model | None = None, per_token: bool = False,
              batch_center: bool = False, batch_size: int | None = None) -> TruthScoreResult:
        """P(true) of each text at its last token (and of every token with ``per_token=True``).

        Args:
            texts: a statement or a list of them (or longer texts, with ``per_token``).
            model: the model (default: the one the detector was fitted with).
            per_token: also score every token (BOS excluded), for a text heat map.
            batch_center: move the texts' mean feature onto the training mean before scoring (no labels
                used). For a batch of statements of one kind, about half of them true: it removes the
                offset of a new kind of statement that otherwise pushes the whole batch to one side of the
                threshold (see ``transfer_.batch_accuracy``). Wrong for a single statement or a batch
                that is mostly true or mostly false. Not with ``per_token``.

        Returns:
            :class:`TruthScoreResult`; ``p_true`` is (n_texts,).
        """
        from interp.activations import collect

        where = "LieDetector.score"
        items, _ = check_texts(texts, where=where, name="texts")
        if batch_center and per_token:
            raise InvalidParameterError(f"{where}: batch_center centres whole statements; it cannot be combined "
                                        "with per_token=True.")
        if batch_center and len(items) < 2:
            raise InvalidParameterError(f"{where}: batch_center=True needs a batch of statements (at least 2, "
                                        f"about half of them true); got {len(items)}.")
        model = self._model(model, where)
        acts = collect(model, items, layers=[self.layer_], position="all" if per_token else self.position_,
                       batch_size=batch_size, progress=False)
        shift = None
        if batch_center:
            # onto the training rows' mean, which every truth probe keeps as scaler_mean_ (0 when centred per set)
            shift = np.asarray(acts[self.layer_], dtype=np.float64).mean(0) - self.probe_.scaler_mean_
        p = self.predict_proba_features(acts[self.layer_], shift=shift)
        tokens = token_p = None
        if per_token:
            index = acts.text_index
            tokens = [[t for t, k in zip(acts.tokens, index) if k == i] for i in range(len(items))]
            token_p = [p[index == i].tolist() for i in range(len(items))]
            if self.position_ == "mean":
                p_text = np.array([np.mean(x) for x in token_p])  # approximate: mean of per-token P
                last = self.predict_proba_features(collect(model, items, layers=[self.layer_], position="mean",
                                                           progress=False)[self.layer_])
                p_text = last if len(last) == len(items) else p_text
            else:
                p_text = np.array([x[-1] for x in token_p])
        else:
            p_text = p
        return TruthScoreResult(texts=items, p_true=np.asarray(p_text, dtype=np.float64), layer=self.layer_,
                                probe=type(self.probe_).__name__, tokens=tokens, token_p_true=token_p,
                                model_name=model.name, model_card=model_card(model))

    # ------------------------------------------------------------------ saving
    def _meta(self) -> dict[str, Any]:
        meta = {"layer": self.layer_, "position": self.position_, "model": self.model_name_,
                "datasets": self.datasets_, "validation": {str(k): v for k, v in self.validation_.items()},
                "model_card": self.model_card_}
        if self.center_ != "none":  # files of detectors without centring or reach keep their earlier form
            meta["center"] = self.center_
            meta["reference_mean"] = [float(v) for v in self.reference_mean_]
        if self.transfer_ is not None:
            t = self.transfer_
            meta["transfer"] = {"datasets": list(t.datasets), "accuracy": [float(v) for v in t.accuracy],
                                "batch_accuracy": [float(v) for v in t.batch_accuracy], "auc": [float(v) for v in t.auc]}
            if t.layers is not None:
                meta["transfer"]["layers"] = [int(v) for v in t.layers]
            if t.n is not None:
                meta["transfer"]["n"] = [int(v) for v in t.n]
        if self.in_distribution_ is not None:
            meta["in_distribution"] = dict(self.in_distribution_)
        return meta

    def save(self, path: str | os.PathLike) -> Path:
        """Write the detector to one JSON file (settings + probe, checksummed), atomically."""
        meta = self._meta()
        probe_doc = self.probe_.to_document()
        document = {"format": FORMAT_NAME, "schema_version": FORMAT_VERSION, "meta": meta, "probe": probe_doc,
                    "sha256": _checksum(meta, probe_doc)}
        return atomic_write_bytes(path, json.dumps(document).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike, *, model: Model | None = None) -> LieDetector:
        """Load a detector written by :meth:`save` (pass ``model`` to score without passing it again).

        Raises:
            InvalidProbeFileError: no such file, not a saved detector, or a file edited after saving.
        """
        from interp.probing.estimators import probe_from_document, read_document

        path = Path(path)
        document = read_document(path, FORMAT_NAME, "lie detector")
        if document.get("schema_version") != FORMAT_VERSION:
            raise InvalidProbeFileError(f"{path} has schema_version {document.get('schema_version')!r}; this interp "
                                        f"reads {FORMAT_VERSION}.")
        meta, probe_doc = document.get("meta"), document.get("probe")
        if not isinstance(meta, dict) or not isinstance(probe_doc, dict):
            raise InvalidProbeFileError(f"{path} is not a valid saved lie detector: 'meta' or 'probe' is malformed.")
        if document.get("sha256") != _checksum(meta, probe_doc):
            raise InvalidProbeFileError(f"{path} was modified after it was saved (its checksum does not match its "
                                        "content); refusing to load it.")
        probe = probe_from_document(probe_doc, source=f"{path} (probe)")
        try:
            transfer = meta.get("transfer")
            if transfer is not None:
                transfer = TransferScores(list(transfer["datasets"]), np.asarray(transfer["accuracy"], dtype=np.float64),
                                          np.asarray(transfer["batch_accuracy"], dtype=np.float64),
                                          np.asarray(transfer["auc"], dtype=np.float64),
                                          layers=None if "layers" not in transfer else np.asarray(transfer["layers"],
                                                                                                  dtype=np.int64),
                                          n=None if "n" not in transfer else np.asarray(transfer["n"], dtype=np.int64))
            center = str(meta.get("center", "none"))
            reference = meta.get("reference_mean")
            if center not in CENTERINGS or (center == "dataset") != (reference is not None):
                raise ValueError(f"center {center!r} with{'out' if reference is None else ''} a reference mean")
            detector = cls(probe, int(meta["layer"]), model_name=str(meta["model"]), position=str(meta["position"]),
                           datasets=list(meta.get("datasets", [])),
                           validation={int(k): float(v) for k, v in meta.get("validation", {}).items()},
                           center=center, reference_mean=None if reference is None else np.asarray(reference, dtype=np.float64),
                           transfer=transfer, in_distribution=meta.get("in_distribution"))
            detector.model_card_ = dict(meta.get("model_card") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidProbeFileError(f"{path} is not a valid saved lie detector: bad setting {exc}.") from None
        if model is not None:
            detector.model = detector._model(model, "LieDetector.load")
        return detector


def _checksum(meta: dict[str, Any], probe_doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([FORMAT_NAME, meta, probe_doc], sort_keys=True).encode("utf-8")).hexdigest()
