"""Truth: does the model represent whether a statement is true, and can we read it off (or steer it)?

- datasets: :func:`load_dataset` (built-in ``DATASETS`` in ``interp/data/truth/``, or your CSV);
- probes: :class:`~interp.probing.estimators.LinearProbe` (LR), :class:`MassMeanProbe` (MM, and its covariance
  variant) and :class:`CCSProbe` (unsupervised, Burns et al. 2022;
  :class:`PairDiffProbe` is interp < 0.3's pair-centred variant), all saved as interp probes;
- :func:`truth_sweep` (accuracy per layer per probe), :func:`generalization_matrix` (train on one
  kind of statement, test on another);
- :func:`truth_report`: the pipeline (sweep, the layer chosen on validation pairs, generalisation and
  a detector there; the accuracy it reports is on test pairs it never chose with);
- :class:`LieDetector` (fit, score statements or every token of a text, save/load; it states its reach:
  in-distribution accuracy next to :func:`leave_one_dataset_out` accuracy and AUC, what to expect on a
  kind of statement it was not trained on) and :func:`detect_model_lies` (the model's own honest vs
  instructed-false answers);
- :func:`steer_truth`: add the mass-mean truth direction during the forward pass.

Names load on first use.

Example:
    >>> import interp
    >>> from interp.truth import LieDetector
    >>> model = interp.load_model()
    >>> detector = LieDetector.fit(model, ["cities", "larger_than", "facts"])
    >>> detector.score(["The city of Paris is in France.", "The city of Paris is in Peru."]).to_frame()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "load_dataset": "interp.truth.datasets",
    "TruthDataset": "interp.truth.datasets",
    "DATASETS": "interp.truth.datasets",
    "MassMeanProbe": "interp.truth.probes",
    "CCSProbe": "interp.truth.probes",
    "PairDiffProbe": "interp.truth.probes",
    "ccs_pair_accuracy": "interp.truth.probes",
    "ccs_accuracy": "interp.truth.probes",
    "truth_sweep": "interp.truth.sweep",
    "TruthSweepResult": "interp.truth.sweep",
    "generalization_matrix": "interp.truth.sweep",
    "GeneralizationResult": "interp.truth.sweep",
    "truth_report": "interp.truth.report",
    "TruthReport": "interp.truth.report",
    "LieDetector": "interp.truth.detector",
    "TruthScoreResult": "interp.truth.detector",
    "leave_one_dataset_out": "interp.truth.detector",
    "TransferScores": "interp.truth.detector",
    "ContrastPCAProbe": "interp.truth.probes",
    "detect_model_lies": "interp.truth.lies",
    "LieDetectionResult": "interp.truth.lies",
    "load_questions": "interp.truth.lies",
    "steer_truth": "interp.truth.steering",
    "SteeringResult": "interp.truth.steering",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
