"""Truth probes per layer (:func:`truth_sweep`) and across datasets (:func:`generalization_matrix`).

Where does a model represent whether a statement is true? Following Marks & Tegmark 2023 ("The
Geometry of Truth") and Burns et al. 2022 ("Discovering Latent Knowledge ... Without Supervision"),
:func:`truth_sweep` takes the residual stream at the statement's last token (or the mean over its
tokens) at every layer, splits each dataset **by contrast pair** (a pair is never on both sides, and a
held-out statement that also occurs in training is dropped), fits logistic regression ("linear"),
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
    >>> sweep.best_layer("linear"), sweep.plot()
    >>> generalization_matrix(model, ["cities", "larger_than", "facts"], layer=12, probe="mm").plot()
"""

from __future__ import annotations

from interp.truth.sweep.analysis import (  # noqa: F401  (every name of the old module, private ones too)
    TRUTH_PARAMS,
    _check_common,
    _check_probes,
    _score,
    assemble_truth_sweep,
    fit_truth_probe,
    generalization_matrix,
    score_truth_probe,
    statement_features,
    truth_sweep,
)
from interp.truth.sweep.batch import (  # noqa: F401  (every name of the old module, private ones too)
    TRUTH_SWEEP,
    TruthSweepAnalysis,
)
from interp.truth.sweep.data import (  # noqa: F401  (every name of the old module, private ones too)
    FEATURE_POSITIONS,
    TruthSplit,
    _concat,
    split_pairs,
    truth_split,
)
from interp.truth.sweep.result import (  # noqa: F401  (every name of the old module, private ones too)
    GeneralizationResult,
    TruthSweepResult,
    _error_bars,
    pooled_interval,
)

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
