"""The truth pipeline in one call: sweep -> layer chosen on validation -> generalisation -> lie detector.

:func:`truth_report` is what ``interp probe truth`` and the explorer's Lie detector page run. It
keeps three sides of every dataset apart, so that the accuracy it reports was not used to choose
anything:

1. **test**: each dataset is sampled (``max_pairs``, ``seed``) and split by contrast pair exactly as
   :func:`~interp.truth.truth_sweep` splits it (``test_size`` of the pairs held out). The reported
   accuracy per layer is :func:`truth_sweep`'s, on this held-out side, number for number.
2. **validation**: the training side is split again by pair (:func:`split_pairs`, ``val_size`` of
   the training pairs); each probe is fitted on the rest of the training rows and scored on these
   validation pairs, from the same features (one extraction per dataset serves both splits). The
   layer is the best of these validation accuracies (mean over datasets and probes; ties go to the
   lower layer), as :meth:`LieDetector.fit <interp.truth.LieDetector.fit>` chooses its layer. The
   test side is never seen when choosing.
3. At the chosen layer, :func:`~interp.truth.generalization_matrix` (first probe; trained on each
   set's training side, tested on every set's held-out test side) and a
   :class:`~interp.truth.LieDetector` (first probe, refit on every sampled pair, for new text).
4. Its reach: leave-one-dataset-out accuracy and AUC (trained on all sets but one, tested on the one
   left out; each fold chooses its own layer among ``layers`` on the validation pairs of its training
   sets, so the left-out set never helps choose), what to expect on a kind of statement never trained on.

Every accuracy carries a 95% Wilson interval over the test statements it was measured on (whole
contrast pairs held out); the probes are compared at the chosen layer on the same test statements by
a paired bootstrap over contrast pairs (:meth:`TruthReport.comparisons`), "within noise" when the
difference's interval holds 0; :meth:`TruthReport.caveats` says when a figure means nothing.

Choosing the layer on the split whose accuracy is then reported (what interp < 0.2's CLI and
explorer did) reads the best of many noisy test scores and overstates it; on small sets the gap
is several points.

Example:
    >>> import interp
    >>> from interp.truth import truth_report
    >>> report = truth_report(interp.load_model(), ["cities", "larger_than", "facts"], layers=range(0, 31, 3))
    >>> report.layer, report.summary()
    >>> report.plot(); report.generalization().plot(); report.detector.score("Paris is in Peru.")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp import _params as params
from interp.progress import ProgressArg
from interp.results import Result
from interp.stats import Comparison, Interval

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from interp.models.model import Model
    from interp.truth.detector import LieDetector
    from interp.truth.sweep import GeneralizationResult, TruthSweepResult

__all__ = ["TruthReport", "truth_report"]

_STEPS = {"sweep": "probes per layer, on the test split and on validation pairs (which choose the layer)",
          "generalisation": "generalisation across datasets at the chosen layer",
          "detector": "fitting the lie detector at the chosen layer"}


@dataclasses.dataclass(eq=False, kw_only=True)
class TruthReport(Result):
    """A truth sweep with its layer chosen on validation pairs, the generalisation matrix there, and a detector.

    Attributes:
        datasets, probes, layers, n_layers: what was swept (layer 0 = embeddings, l = output of block l-1).
        layer: the layer chosen on the validation pairs; probe: the probe of the generalisation matrix
            and of the detector (the first of ``probes``).
        validation_accuracy: (n_datasets, n_probes, n_layers) accuracy on the validation pairs (carved
            from the training pairs), which chose ``layer``.
        test_accuracy: (n_datasets, n_probes, n_layers) accuracy on the held-out test pairs
            (:func:`truth_sweep`'s ``accuracy``); train_accuracy: on the training side.
        n_train, n_test: rows per dataset on the training and test sides; n_fit, n_val: the training
            side's rows that fit the validation probes and that scored them.
        generalization_train, generalization_test, generalization_accuracy, generalization_auc,
        center_test: :class:`GeneralizationResult` at ``layer`` (see :meth:`generalization`).
        position, test_size, val_size, seed, max_pairs, n_orient: how it was run.
        transfer_datasets, transfer_accuracy, transfer_batch_accuracy, transfer_auc: the reach on kinds of
            statement not trained on: :attr:`probe` at :attr:`layer` trained on all datasets but one and
            tested on every row of the one left out (leave-one-dataset-out,
            :func:`~interp.truth.detector.leave_one_dataset_out`), per left-out dataset; accuracy scoring
            statements one by one, accuracy scoring the left-out set as one centred batch, ROC AUC (empty
            lists with a single dataset). ``center``: the detector's centring ("none" or "dataset").
            transfer_layers: the layer each fold chose on the validation pairs of its own training sets (the
            left-out set never helps choose); transfer_n: rows of each left-out set.
        generalization_n_test: test statements per test set of the generalisation matrix.
        chosen_correct: (n_probes, n_test statements) 1 where each probe at :attr:`layer` got a test statement
            right (every dataset's test rows in order); chosen_pair_ids: the contrast pair of each of those
            statements, the unit :meth:`comparisons` resamples.
        detector: the fitted :class:`LieDetector` (when asked for; not part of the saved file, so
            None after :meth:`load`: save it with ``report.detector.save(path)``).
    """

    datasets: list[str]
    probes: list[str]
    layers: list[int]
    n_layers: int
    layer: int
    probe: str
    validation_accuracy: np.ndarray
    test_accuracy: np.ndarray
    train_accuracy: np.ndarray
    n_train: list[int]
    n_test: list[int]
    n_fit: list[int]
    n_val: list[int]
    generalization_train: list[str]
    generalization_test: list[str]
    generalization_accuracy: np.ndarray
    generalization_auc: np.ndarray
    center_test: bool = True
    position: str = "last"
    test_size: float = 0.25
    val_size: float = 0.25
    seed: int = 0
    max_pairs: int | None = None
    n_orient: int = 16
    model_name: str = ""
    center: str = "none"
    transfer_datasets: list[str] = dataclasses.field(default_factory=list)
    transfer_accuracy: list[float] = dataclasses.field(default_factory=list)
    transfer_batch_accuracy: list[float] = dataclasses.field(default_factory=list)
    transfer_auc: list[float] = dataclasses.field(default_factory=list)
    transfer_layers: list[int] = dataclasses.field(default_factory=list)
    transfer_n: list[int] = dataclasses.field(default_factory=list)
    generalization_n_test: list[int] = dataclasses.field(default_factory=list)
    chosen_correct: list[list[int]] = dataclasses.field(default_factory=list)
    chosen_pair_ids: list[str] = dataclasses.field(default_factory=list)

    title: ClassVar[str] = "Truth report"
    detector: ClassVar[LieDetector | None] = None  # set on the instance by truth_report; never saved

    def sweep(self) -> TruthSweepResult:
        """The :class:`TruthSweepResult` on the held-out test pairs (what :func:`truth_sweep` returns)."""
        from interp.truth.sweep import TruthSweepResult

        return TruthSweepResult(datasets=list(self.datasets), probes=list(self.probes), layers=list(self.layers),
                                n_layers=self.n_layers, accuracy=self.test_accuracy, train_accuracy=self.train_accuracy,
                                n_train=list(self.n_train), n_test=list(self.n_test), position=self.position,
                                test_size=self.test_size, seed=self.seed, max_pairs=self.max_pairs,
                                n_orient=self.n_orient, model_name=self.model_name, model_card=dict(self.model_card))

    def generalization(self) -> GeneralizationResult:
        """The :class:`GeneralizationResult` of :attr:`probe` at :attr:`layer` (tested on the test pairs)."""
        from interp.truth.sweep import GeneralizationResult

        return GeneralizationResult(train=list(self.generalization_train), test=list(self.generalization_test),
                                    accuracy=self.generalization_accuracy, auc=self.generalization_auc,
                                    layer=self.layer, probe=self.probe, n_layers=self.n_layers, position=self.position,
                                    test_size=self.test_size, seed=self.seed, max_pairs=self.max_pairs,
                                    center_test=self.center_test, model_name=self.model_name,
                                    n_test=list(self.generalization_n_test), model_card=dict(self.model_card))

    def _at_layer(self, accuracy: np.ndarray) -> np.ndarray:
        """(n_probes,) ``accuracy`` at the chosen layer, mean over datasets."""
        return accuracy[:, :, self.layers.index(self.layer)].mean(axis=0)

    def test_interval(self, probe: str | None = None) -> Interval:
        """Wilson interval of ``probe``'s (default: :attr:`probe`) test accuracy at :attr:`layer`, pooled over
        every dataset's test statements (they chose nothing)."""
        from interp.truth.sweep import pooled_interval

        b = self.probes.index(probe or self.probe)
        return pooled_interval(self.test_accuracy[:, b, self.layers.index(self.layer)], self.n_test)

    def transfer_interval(self) -> Interval | None:
        """Wilson interval of the leave-one-dataset-out accuracy, pooled over every left-out row (None without it)."""
        from interp.truth.sweep import pooled_interval

        if not self.transfer_datasets:
            return None
        return pooled_interval(self.transfer_accuracy, self.transfer_n)

    def comparisons(self) -> list[Comparison]:
        """Each other probe against :attr:`probe` at :attr:`layer`, on the same test statements: the paired
        bootstrap of the accuracy difference, resampling whole contrast pairs (``within_noise`` when it holds 0)."""
        from interp.stats import paired_difference

        if len(self.chosen_correct) != len(self.probes) or not self.chosen_pair_ids:
            return []
        first = np.asarray(self.chosen_correct[0], dtype=np.float64)
        return [paired_difference(first, np.asarray(self.chosen_correct[b], dtype=np.float64),
                                  names=(self.probes[0], p), clusters=self.chosen_pair_ids)
                for b, p in enumerate(self.probes) if b > 0]

    def caveats(self) -> list[str]:
        from interp.truth.detector import NO_TRANSFER

        out = []
        for p in self.probes:
            ci = self.test_interval(p)
            if ci.holds(0.5):
                out.append(f"{p} at layer {self.layer}: test accuracy {ci.format()} holds chance (0.5).")
        reach, inside = self.transfer_interval(), self.test_interval()
        if reach is not None:
            if reach.holds(0.5) or reach.estimate < NO_TRANSFER:
                out.append(f"Reach {reach.format()} (leave-one-dataset-out) is at or near chance: no truth direction "
                           "that transfers to a new kind of statement; do not trust the detector outside its kinds.")
            if np.isfinite(reach.high) and np.isfinite(inside.low) and reach.high < inside.low:
                out.append(f"Reach {reach.format()} is clearly below the in-distribution test accuracy "
                           f"{inside.format()}: the accuracy on held-out pairs of the training kinds does not carry "
                           "over to kinds it was not trained on.")
        tied = [c for c in self.comparisons() if c.within_noise]
        if tied:
            out.append("No ranking between " + ", ".join(f"{c.name_a} and {c.name_b}" for c in tied) + " at layer "
                       f"{self.layer}: their paired difference on the same test pairs holds 0 (within noise).")
        return out

    def summary(self) -> str:
        val = self._at_layer(self.validation_accuracy)
        held_out = "; ".join(f"{p} {self.test_interval(p).format()}" for p in self.probes)
        compared = "".join(f"; {c.sentence()}" for c in self.comparisons())
        unseen = self.generalization().unseen_accuracy()
        general = (f"; {self.probe} on unseen sets {np.nanmean(unseen):.3f}" if np.isfinite(unseen).any() else "")
        return (f"{self.model_name + ': ' if self.model_name else ''}layer {self.layer} "
                f"({self.layer / self.n_layers:.2f} of depth) chosen on validation pairs (mean accuracy "
                f"{val.mean():.3f}); held-out test accuracy there (95% Wilson interval over {sum(self.n_test)} test "
                f"statements) over {', '.join(self.datasets)}: {held_out}{compared}{general}; {self.reach()}")

    def reach(self) -> str:
        """What to expect on kinds of statement the detector was not trained on (leave-one-dataset-out)."""
        if not self.transfer_datasets:
            return "reach on other kinds of statement unknown (one dataset: nothing to leave out)"
        from interp.truth.detector import NO_TRANSFER

        acc, auc = float(np.mean(self.transfer_accuracy)), float(np.mean(self.transfer_auc))
        pooled = self.transfer_interval()
        folds = (f", each fold at the layer it chose on its own training sets ({sorted(set(self.transfer_layers))})"
                 if self.transfer_layers else "")
        text = (f"on kinds of statement it was not trained on, expect about {pooled.format(2)} accuracy (AUC {auc:.2f}; "
                f"{self.probe} trained on all sets but one, tested on the one left out{folds}, mean over "
                f"{len(self.transfer_datasets)}, from {min(self.transfer_accuracy):.2f} to "
                f"{max(self.transfer_accuracy):.2f}; batch-centred {float(np.mean(self.transfer_batch_accuracy)):.2f})")
        if acc < NO_TRANSFER:
            text += "; this model shows no truth direction that transfers to new kinds of statement"
        return text

    def transfer(self):
        """One row per left-out dataset: accuracy alone and batch-centred, AUC (leave-one-dataset-out)."""
        import pandas as pd

        from interp.truth.sweep import pooled_interval

        n = list(self.transfer_n) or [0] * len(self.transfer_datasets)
        bounds = [pooled_interval(a, k) if k else Interval(a, float("nan"), float("nan"))
                  for a, k in zip(self.transfer_accuracy, n)]
        layers = list(self.transfer_layers) or [self.layer] * len(self.transfer_datasets)
        return pd.DataFrame({"dataset": list(self.transfer_datasets), "layer": layers, "n": n,
                             "accuracy": list(self.transfer_accuracy), "accuracy_low": [b.low for b in bounds],
                             "accuracy_high": [b.high for b in bounds],
                             "batch_accuracy": list(self.transfer_batch_accuracy), "auc": list(self.transfer_auc)})

    def transfer_plot(self) -> Figure:
        """Leave-one-dataset-out accuracy and AUC per left-out set, with the in-distribution test accuracy."""
        import plotly.graph_objects as go

        from interp.truth.sweep import _error_bars

        frame = self.transfer()
        bars = [Interval(a, lo, hi) for a, lo, hi in zip(frame["accuracy"], frame["accuracy_low"], frame["accuracy_high"])]
        fig = go.Figure([go.Bar(x=list(self.transfer_datasets), y=list(self.transfer_accuracy), name="accuracy",
                                error_y=_error_bars(bars)),
                         go.Bar(x=list(self.transfer_datasets), y=list(self.transfer_auc), name="AUC")])
        inside = self.test_interval()
        fig.add_hrect(y0=inside.low, y1=inside.high, line_width=0, fillcolor="grey", opacity=0.15)
        fig.add_hline(y=inside.estimate, line={"dash": "dash", "width": 1},
                      annotation_text=f"held-out pairs of the training kinds: {inside.format(2)}")
        fig.add_hline(y=0.5, line={"dash": "dot", "width": 1}, annotation_text="chance")
        fig.update_layout(title=f"Reach: {self.probe} at layer {self.layer} on the kind left out of training",
                          barmode="group", yaxis={"range": [0, 1.02], "title": "on the left-out set"},
                          xaxis_title="left-out dataset", height=420)
        return fig

    def to_frame(self):
        """One row per dataset, probe and layer: validation, test and training accuracy, and the chosen layer."""
        import pandas as pd

        from interp.truth.sweep import pooled_interval

        rows = []
        for a, d in enumerate(self.datasets):
            for b, p in enumerate(self.probes):
                for c, l in enumerate(self.layers):
                    ci = pooled_interval(self.test_accuracy[a, b, c], self.n_test[a])
                    rows.append({"dataset": d, "probe": p, "layer": l, "depth_fraction": l / self.n_layers,
                                 "validation_accuracy": float(self.validation_accuracy[a, b, c]),
                                 "test_accuracy": float(self.test_accuracy[a, b, c]), "test_accuracy_low": ci.low,
                                 "test_accuracy_high": ci.high, "n_test": int(self.n_test[a]),
                                 "train_accuracy": float(self.train_accuracy[a, b, c]), "chosen": l == self.layer})
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        """Validation (dashed) and held-out test (solid) accuracy by layer per probe, mean over datasets; the
        chosen layer marked."""
        import plotly.express as px
        import plotly.graph_objects as go

        fig = go.Figure()
        colours = px.colors.qualitative.Plotly
        val = self.validation_accuracy.mean(axis=0)
        from interp.truth.sweep import _error_bars, pooled_interval

        for b, p in enumerate(self.probes):
            colour = colours[b % len(colours)]
            bars = [pooled_interval(self.test_accuracy[:, b, c], self.n_test) for c in range(len(self.layers))]
            fig.add_trace(go.Scatter(x=self.layers, y=[i.estimate for i in bars], mode="lines+markers",
                                     name=f"{p} test", error_y=_error_bars(bars), line={"color": colour}))
            fig.add_trace(go.Scatter(x=self.layers, y=val[b], mode="lines", name=f"{p} validation",
                                     line={"color": colour, "dash": "dash"}))
        fig.add_hline(y=0.5, line={"dash": "dot", "width": 1}, annotation_text="chance")
        fig.add_vline(x=self.layer, line={"dash": "dot", "width": 1}, annotation_text=f"chosen: {self.layer}")
        fig.update_layout(title=f"Truth probes by layer (mean over {len(self.datasets)} sets): layer {self.layer} "
                                f"chosen on validation pairs, test pairs held out",
                          xaxis_title=f"layer (0 = embeddings, {self.n_layers} = last)",
                          yaxis_title="accuracy (test: pooled, 95% Wilson interval)",
                          yaxis={"range": [0.3, 1.02]}, height=450, legend={"orientation": "h", "y": -0.2})
        return fig

    def figures(self) -> list:
        return [self.plot(), self.generalization().plot(), *([self.transfer_plot()] if self.transfer_datasets else [])]

    def tables(self) -> list[tuple[str, Any]]:
        return [("By layer", self.to_frame()), ("Generalisation", self.generalization().to_frame()),
                *([("Leave one dataset out", self.transfer())] if self.transfer_datasets else [])]


def _step(progress: ProgressArg, step: str) -> ProgressArg:
    """The ``progress`` argument for one step of the report: a callable sees that step's stages as
    ``"step: stage"``; None / True / False pass through."""
    if progress is None or isinstance(progress, bool):
        return progress
    return lambda stage, done, total: progress(f"{step}: {stage}", done, total)


def _truth_params() -> dict:
    from interp.truth.sweep import TRUTH_PARAMS

    return TRUTH_PARAMS


def _probes() -> tuple[str, ...]:
    from interp.truth.probes import TRUTH_PROBES

    return tuple(TRUTH_PROBES)


def _old_probes() -> tuple[str, ...]:
    from interp.truth.probes import OLD_TRUTH_PROBES

    return OLD_TRUTH_PROBES


@params.validate_params({**_truth_params(), "layers": [params.Layers(allow_embed=True)],
                         "probes": [params.Subset(_probes, single=True, deprecated=_old_probes())],
                         "val_size": [params.Interval(float, 0, 1, closed="neither")], "detector": ["boolean"],
                         "center": [params.Options(("none", "dataset"))]})
def truth_report(model: Model, datasets: Any = ("cities", "larger_than", "facts"), *, layers: Any = "all",
                 probes: Sequence[str] | str = ("linear", "mm", "ccs"), position: str = "last", test_size: float = 0.25,
                 val_size: float = 0.25, max_pairs: int | None = None, seed: int = 0, n_orient: int = 16,
                 detector: bool = True, center: str = "none", batch_size: int | None = None,
                 progress: ProgressArg = None) -> TruthReport:
    """Truth probes per layer, the layer chosen on validation pairs, the generalisation matrix and a detector there.

    Args:
        model: an :class:`interp.Model`.
        datasets: names of built-in sets (``interp.truth.DATASETS``), CSV paths or :class:`TruthDataset`.
        layers: "all", an int, a list of ints or a range string such as "0:31:3" (see
            :func:`interp._validation.parse_layers`).
        probes: as :func:`truth_sweep`; the first is the generalisation matrix's and the detector's.
        position: "last" token or "mean" over tokens.
        test_size: share of each dataset's pairs held out for the reported accuracy (as :func:`truth_sweep`).
        val_size: share of the *training* pairs held out to choose the layer.
        max_pairs, seed, n_orient, batch_size: as :func:`truth_sweep` (the same sample and split).
        detector: also fit a :class:`LieDetector` at the chosen layer (``report.detector``).
        center: the detector's (and the leave-one-dataset-out figures') centring: "none" or "dataset"
            (see :meth:`LieDetector.fit`).
        progress: None, True, False or a callable ``progress(stage, done, total)`` (:mod:`interp.progress`).
            A callable hears each step start as stage ``"truth report: <what runs>"`` (done = steps
            finished, of 3; 2 without the detector), the probe fits as ``"sweep: probes (test and
            validation splits)"``, and the stages of the functions it runs as ``"sweep: ..."``,
            ``"generalisation: ..."``, ``"detector: ..."``.

    Returns:
        :class:`TruthReport`: ``test_accuracy`` is :func:`truth_sweep`'s ``accuracy`` (n_datasets, n_probes,
        n_layers); ``layer`` the best of ``validation_accuracy``.

    Example:
        >>> report = truth_report(model, ["cities", "facts"], layers="0:31:3", probes=["linear", "mm"], max_pairs=200)
        >>> report.layer, report.sweep().best_layer()   # chosen on validation; the test split's own argmax
    """
    from interp.activations import resolve_layers
    from interp.models.card import model_card
    from interp.progress import resolve_progress
    from interp.truth.datasets import load_datasets
    from interp.truth.detector import LieDetector
    from interp.truth.sweep import (
        TruthSplit,
        _check_probes,
        assemble_truth_sweep,
        fit_truth_probe,
        generalization_matrix,
        score_truth_probe,
        split_pairs,
        statement_features,
        truth_split,
    )

    where = "truth_report"  # the checks truth_sweep makes, then one of its own
    loaded = load_datasets(datasets, where=where)
    probe_names = _check_probes(probes, where)
    layer_list = resolve_layers(model, layers, where=where)
    from interp.truth.detector import leave_one_dataset_out
    from interp.truth.probes import CCSProbe

    steps = ["sweep", "generalisation", *(["detector"] if detector else [])]
    # a callable (checked here: anything else but None / True / False is refused) hears the steps; bools pass through
    callback = None if progress is None or isinstance(progress, bool) else resolve_progress(progress, where=where)

    def starting(step: str) -> None:  # a callable hears each step start (and its stages, where they are told)
        if callback is not None:
            callback(f"truth report: {_STEPS[step]}", steps.index(step), len(steps))

    # truth_sweep's building blocks, run once over each dataset's features: the test split's scores are
    # truth_sweep's (the same features, the same fits); the validation split is carved from the training rows
    starting("sweep")
    splits = [truth_split(full, max_pairs=max_pairs, test_size=test_size, seed=seed) for full in loaded]
    val_splits, test_scores, val_scores, features = [], {}, {}, []
    n_fits, done = len(splits) * len(layer_list) * len(probe_names), 0
    for split in splits:
        acts = statement_features(model, split.dataset.statements, layer_list, position=position,
                                  batch_size=batch_size, progress=_step(progress, "sweep"))
        features.append(acts)
        val = split_pairs(split.train, test_size=val_size, seed=seed)  # (n_train,) bool, whole training pairs
        val_split = TruthSplit(split.name, split.train, val, split.train.subset(np.flatnonzero(~val)),
                               split.train.subset(np.flatnonzero(val)))
        val_splits.append(val_split)
        for layer in layer_list:
            X = acts[layer]  # (n_statements, d_model)
            for name in probe_names:
                test_scores[split.name, name, layer] = score_truth_probe(name, X, split, n_orient=n_orient, seed=seed,
                                                                         where=where)
                val_scores[split.name, name, layer] = score_truth_probe(name, X[~split.test], val_split,
                                                                        n_orient=n_orient, seed=seed, where=where)
                done += 1
                if callback is not None:
                    callback("sweep: probes (test and validation splits)", done, n_fits)
    common = {"n_layers": model.n_layers, "position": position, "seed": seed, "n_orient": n_orient,
              "model_name": model.name, "model_card": model_card(model)}
    sweep = assemble_truth_sweep(splits, probe_names, layer_list, test_scores, test_size=test_size,
                                 max_pairs=max_pairs, **common)
    validation = assemble_truth_sweep(val_splits, probe_names, layer_list, val_scores, test_size=val_size,
                                      max_pairs=None, **common)
    layer = validation.best_layer()  # mean over datasets and probes; ties: the lower layer
    probe = sweep.probes[0]
    # every probe at the chosen layer, statement by statement on the test pairs: the paired comparisons' items
    # (the same fits as the sweep's: same rows, same seed)
    correct = [[] for _ in probe_names]
    pair_ids: list[str] = []
    for split, acts in zip(splits, features):
        X = acts[layer]
        pair_ids += [f"{split.name}:{q}" for q in split.held_out.pair_ids]
        for b, name in enumerate(probe_names):
            fitted = fit_truth_probe(name, X[~split.test], split.train, n_orient=n_orient, seed=seed, where=where)
            right = fitted.predict(X[split.test]) == split.held_out.labels
            if isinstance(fitted, CCSProbe) and float(fitted.oriented_[0]) == 0.0 and right.mean() < 0.5:
                right = ~right  # sign-free, as ccs_accuracy scores an unoriented CCS probe
            correct[b] += right.astype(int).tolist()
    starting("generalisation")
    general = generalization_matrix(model, loaded, layer=layer, probe=probe, position=position, test_size=test_size,
                                    max_pairs=max_pairs, seed=seed, n_orient=n_orient, batch_size=batch_size,
                                    progress=_step(progress, "generalisation"))
    report = TruthReport(datasets=sweep.datasets, probes=sweep.probes, layers=sweep.layers, n_layers=sweep.n_layers,
                         layer=layer, probe=probe, validation_accuracy=validation.accuracy,
                         test_accuracy=sweep.accuracy, train_accuracy=sweep.train_accuracy, n_train=sweep.n_train,
                         n_test=sweep.n_test, n_fit=validation.n_train, n_val=validation.n_test,
                         generalization_train=general.train, generalization_test=general.test,
                         generalization_accuracy=general.accuracy, generalization_auc=general.auc,
                         center_test=general.center_test, position=position, test_size=float(test_size),
                         val_size=float(val_size), seed=int(seed), max_pairs=max_pairs, n_orient=int(n_orient),
                         model_name=sweep.model_name, model_card=dict(sweep.model_card),
                         generalization_n_test=list(general.n_test), chosen_correct=correct, chosen_pair_ids=pair_ids)
    transfer = None
    if len(loaded) > 1:
        # the reach: each fold chooses its own layer among the swept ones on its training sets' validation pairs
        by_layer = {l: [acts[l] for acts in features] for l in layer_list} if len(layer_list) > 1 else \
            [acts[layer] for acts in features]
        transfer = leave_one_dataset_out(by_layer, [split.dataset for split in splits], probe=probe, center=center,
                                         seed=seed, val_size=val_size, where=where)
    if detector:
        starting("detector")
        report.detector = LieDetector.fit(model, loaded, layer, probe=probe, position=position, max_pairs=max_pairs,
                                          seed=seed, center=center, test_size=test_size, val_size=val_size,
                                          transfer=False, progress=_step(progress, "detector"))
        report.detector.transfer_ = transfer  # folds that chose their own layers: the left-out set chose nothing
    report.center = center
    if transfer is not None:
        report.transfer_datasets = list(transfer.datasets)
        report.transfer_accuracy = [float(v) for v in transfer.accuracy]
        report.transfer_batch_accuracy = [float(v) for v in transfer.batch_accuracy]
        report.transfer_auc = [float(v) for v in transfer.auc]
        report.transfer_layers = [] if transfer.layers is None else [int(v) for v in transfer.layers]
        report.transfer_n = [int(v) for v in transfer.n]
    if callback is not None:
        callback("truth report: done", len(steps), len(steps))
    return report
