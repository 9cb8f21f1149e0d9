"""Calibration metrics of a confidence signal: ECE, Brier, AUROC, reliability bins and bootstrap intervals.

Each item has a confidence ``p`` in [0, 1] that the model's answer is right and a 0/1 ``correct``.

- ECE (expected calibration error, Naeini et al. 2015; Guo et al. 2017): split the items into bins by
  ``p``; ECE = sum over bins of (n_b / n) * |accuracy_b - mean p_b|. ``strategy="uniform"``: equal-width
  bins on [0, 1]; ``"quantile"``: equal-mass bins (edges at the quantiles of ``p``). The binning is
  scikit-learn's ``calibration_curve`` (same edges, same rule for a value on an edge), so ECE equals
  what its curve gives when weighted by the bin counts (tests check it to 1e-9).
- Brier score: mean (p - correct)^2 (``sklearn.metrics.brier_score_loss``).
- AUROC: how well ``p`` ranks right answers above wrong ones (``sklearn.metrics.roc_auc_score``'s value); 0.5 is
  chance, NaN when every answer is right or every one wrong.
- Intervals (:mod:`interp.stats`): accuracy, a rate over independent items, carries the Wilson interval
  (:func:`~interp.stats.proportion_interval`); ECE, Brier and AUROC the percentile bootstrap over items
  (:func:`~interp.stats.bootstrap_interval`, seeded).

Example:
    >>> import numpy as np
    >>> from interp.ask.metrics import ece, calibration_metrics
    >>> ece(np.array([0.9, 0.8, 0.3]), np.array([1, 1, 0]))
    0.2
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from interp._validation import check_choice, check_int
from interp.errors import InvalidParameterError

__all__ = ["STRATEGIES", "METRICS", "bin_ids", "reliability", "ece", "brier", "auroc", "bootstrap_ci",
           "calibration_metrics"]

STRATEGIES = ("uniform", "quantile")
METRICS = ("accuracy", "ece", "ece_mass", "brier", "auroc")


def _check(p: np.ndarray, correct: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    correct = np.asarray(correct, dtype=np.float64).reshape(-1)
    if p.shape != correct.shape:
        raise InvalidParameterError(f"{where}: confidence and correct must have the same length; got {len(p)} and "
                                    f"{len(correct)}.")
    finite = p[np.isfinite(p)]
    if len(finite) and (finite.min() < 0 or finite.max() > 1):
        raise InvalidParameterError(f"{where}: confidences must lie in [0, 1]; got values from {finite.min()} to "
                                    f"{finite.max()}.")
    if len(correct) and not np.isin(correct, (0.0, 1.0)).all():
        raise InvalidParameterError(f"{where}: 'correct' must hold only 0 and 1.")
    return p, correct


def bin_ids(p: np.ndarray, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    """(n,) the bin of each confidence, as in ``sklearn.calibration.calibration_curve``."""
    check_int(n_bins, name="n_bins", where="bin_ids", low=1)
    check_choice(strategy, STRATEGIES, name="strategy", where="bin_ids")
    p = np.asarray(p, dtype=np.float64)
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p)


def reliability(p: np.ndarray, correct: np.ndarray, n_bins: int = 10, strategy: str = "uniform"
                ) -> dict[str, np.ndarray]:
    """The reliability diagram: per bin its count, mean confidence and accuracy (NaN for an empty bin).

    Returns:
        ``{"count": (n_bins,), "confidence": (n_bins,), "accuracy": (n_bins,), "lower": (n_bins,),
        "upper": (n_bins,)}``: ``lower``/``upper`` are the bin's edges (equal-mass: the quantiles).
    """
    p, correct = _check(p, correct, "reliability")
    ids = bin_ids(p, n_bins, strategy)
    count = np.bincount(ids, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(ids, weights=p, minlength=n_bins) / count
        accuracy = np.bincount(ids, weights=correct, minlength=n_bins) / count
    edges = (np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100) if strategy == "quantile" and len(p)
             else np.linspace(0, 1, n_bins + 1))
    return {"count": count, "confidence": confidence, "accuracy": accuracy, "lower": edges[:-1], "upper": edges[1:]}


def ece(p: np.ndarray, correct: np.ndarray, n_bins: int = 10, strategy: str = "uniform") -> float:
    """Expected calibration error: sum_b (n_b / n) |accuracy_b - confidence_b| (NaN for no items)."""
    p, correct = _check(p, correct, "ece")
    if not len(p):
        return float("nan")
    ids = bin_ids(p, n_bins, strategy)
    gap = np.abs(np.bincount(ids, weights=correct, minlength=n_bins) - np.bincount(ids, weights=p, minlength=n_bins))
    return float(gap.sum() / len(p))  # sum_b n_b |acc_b - conf_b| / n, with n_b acc_b = sum of correct in b


def brier(p: np.ndarray, correct: np.ndarray) -> float:
    """Mean squared error of the confidence against correctness (NaN for no items)."""
    p, correct = _check(p, correct, "brier")
    return float(np.mean((p - correct) ** 2)) if len(p) else float("nan")


def auroc(p: np.ndarray, correct: np.ndarray) -> float:
    """ROC AUC of the confidence for telling right answers from wrong ones; NaN with only one class."""
    from scipy.stats import rankdata

    p, correct = _check(p, correct, "auroc")
    right = np.asarray(correct) == 1
    n_right, n_wrong = int(right.sum()), int((~right).sum())
    if not n_right or not n_wrong:
        return float("nan")
    # The Mann-Whitney form of ``sklearn.metrics.roc_auc_score`` (ties count one half, through average ranks): the
    # same number (tested to 1e-12) without sklearn's input checks, which cost ~15 ms a call: the bootstrap
    # intervals call this thousands of times.
    ranks = rankdata(p)
    return float((ranks[right].sum() - n_right * (n_right + 1) / 2) / (n_right * n_wrong))


def _all(p: np.ndarray, correct: np.ndarray, n_bins: int) -> dict[str, float]:
    return {"accuracy": float(np.mean(correct)) if len(correct) else float("nan"),
            "ece": ece(p, correct, n_bins, "uniform"), "ece_mass": ece(p, correct, n_bins, "quantile"),
            "brier": brier(p, correct), "auroc": auroc(p, correct)}


def bootstrap_ci(statistic: Callable[[np.ndarray], float], n: int, *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic(rows)`` over ``n_boot`` resamples of ``n`` row indices (NaNs dropped):
    :func:`interp.stats.bootstrap_interval`'s ends, kept for callers of this name."""
    from interp.stats import bootstrap_interval

    if n == 0 or n_boot == 0:
        return float("nan"), float("nan")
    interval = bootstrap_interval(statistic, n, n_resamples=n_boot, level=level, seed=seed)
    return interval.low, interval.high


def calibration_metrics(p: np.ndarray, correct: np.ndarray, *, n_bins: int = 10, n_boot: int = 1000,
                        level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Accuracy, ECE (equal-width and equal-mass), Brier and AUROC, each with its interval (keys ``<metric>``,
    ``<metric>_low``, ``<metric>_high``) and ``n``: accuracy the Wilson interval, the others a bootstrap over
    items with ``n_boot`` resamples (0: no bootstrap intervals). Items with NaN confidence are left out."""
    from interp.stats import bootstrap_interval, proportion_interval

    p, correct = _check(p, correct, "calibration_metrics")
    keep = np.isfinite(p)
    p, correct = p[keep], correct[keep]
    point = _all(p, correct, n_bins)
    out: dict[str, float] = {"n": float(len(p))}
    accuracy = proportion_interval(int(correct.sum()), len(p), level=level)
    out.update(accuracy=point["accuracy"], accuracy_low=accuracy.low, accuracy_high=accuracy.high)
    statistics = {"ece": lambda rows: ece(p[rows], correct[rows], n_bins, "uniform"),
                  "ece_mass": lambda rows: ece(p[rows], correct[rows], n_bins, "quantile"),
                  "brier": lambda rows: brier(p[rows], correct[rows]), "auroc": lambda rows: auroc(p[rows], correct[rows])}
    for name, statistic in statistics.items():
        out[name] = point[name]
        if n_boot and len(p):
            interval = bootstrap_interval(statistic, len(p), n_resamples=n_boot, level=level, seed=seed)
            out[f"{name}_low"], out[f"{name}_high"] = interval.low, interval.high
        else:
            out[f"{name}_low"] = out[f"{name}_high"] = float("nan")
    return out
