"""Uncertainty of every reported figure, defined once.

A figure measured on sampled items (statements, questions, words, places, queries, retrain subsets)
is an estimate; how far it could move had other items been drawn is its interval. This module gives
every analysis the same few tools, each resampling the unit that was actually sampled:

- :func:`proportion_interval`: a rate (accuracy, follow rate, share of lies) of ``k`` out of ``n``
  independent items: the Wilson score interval (scipy's ``binomtest(...).proportion_ci``), which
  stays inside [0, 1] and is sound at 0 / n and n / n, where the normal approximation is not.
- :func:`bootstrap_interval`: any statistic of rows (an AUC, an ECE, an R², an MRR, a mean), the
  percentile bootstrap over rows; ``clusters=`` resamples whole clusters (the k orders of one question,
  the words of one sentence) when rows of a cluster are not independent.
- :func:`paired_difference`: two methods scored on the same items; the interval of their difference
  from one paired bootstrap (both statistics on the same resampled rows), and whether it holds 0
  ("within noise"). A ranking whose difference interval holds 0 is not a ranking.
- :func:`correlation_interval`: a Pearson or Spearman correlation over ``n`` points (Fisher's z; the
  Spearman standard error of Fieller, Hartley & Pearson 1957), e.g. an LDS over few retrain subsets.

Every function returns an :class:`Interval` (or a :class:`Comparison`), which formats itself as
``0.890 [0.848, 0.924]`` and travels as a plain dict in saved results.

Example:
    >>> from interp.stats import proportion_interval, paired_difference
    >>> proportion_interval(178, 200).format()
    '0.890 [0.839, 0.926]'
    >>> import numpy as np
    >>> a = np.array([1, 1, 0, 1, 1, 0, 1, 1] * 25, dtype=float); b = np.roll(a, 1)
    >>> paired_difference(a, b).within_noise
    True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from interp.errors import InvalidParameterError

__all__ = ["Interval", "Comparison", "proportion_interval", "bootstrap_interval", "paired_difference",
           "correlation_interval", "mean_interval", "DEFAULT_LEVEL", "DEFAULT_RESAMPLES"]

DEFAULT_LEVEL = 0.95
DEFAULT_RESAMPLES = 2000


@dataclasses.dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval.

    Attributes:
        estimate: the figure measured on all items.
        low, high: the interval's ends (NaN where it cannot be computed, e.g. one item).
        level: its confidence level (0.95).
        n: the number of sampled units the interval is over (items, or clusters).
        method: how it was computed (``"wilson"``, ``"bootstrap"``, ``"cluster bootstrap"``, ``"fisher z"``).
    """

    estimate: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL
    n: int = 0
    method: str = ""

    @property
    def width(self) -> float:
        return self.high - self.low

    def holds(self, value: float) -> bool:
        """True if ``value`` lies inside the interval (False where the interval is undefined)."""
        return bool(self.low <= value <= self.high)

    def excludes(self, value: float) -> bool:
        """True if the whole interval lies on one side of ``value`` (the figure differs from it beyond noise)."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high) and not self.low <= value <= self.high)

    def above(self, value: float) -> bool:
        """True if the whole interval lies above ``value`` (e.g. above chance)."""
        return bool(np.isfinite(self.low) and self.low > value)

    def format(self, digits: int = 3) -> str:
        """``'0.890 [0.848, 0.924]'`` (the estimate alone where the interval is undefined)."""
        if not np.isfinite(self.low) or not np.isfinite(self.high):
            return f"{self.estimate:.{digits}f}"
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    __str__ = format

    def to_dict(self) -> dict[str, Any]:
        """A JSON-native dict (what a saved result stores); :meth:`from_dict` reads it back."""
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Two figures measured on the same items, and the interval of their difference (``a - b``)."""

    name_a: str
    name_b: str
    a: Interval
    b: Interval
    difference: Interval

    @property
    def within_noise(self) -> bool:
        """True if the difference's interval holds 0: the data do not say which is larger."""
        return not self.difference.excludes(0.0)

    @property
    def larger(self) -> str | None:
        """The name of the larger figure, or None when the difference is within noise."""
        if self.within_noise:
            return None
        return self.name_a if self.difference.estimate > 0 else self.name_b

    def sentence(self, digits: int = 3) -> str:
        """One sentence a report can print, e.g. ``'linear 0.890 vs mm 0.850: difference 0.040 [-0.005, 0.085],
        within noise'``."""
        verdict = "within noise" if self.within_noise else f"{self.larger} is larger"
        return (f"{self.name_a} {self.a.format(digits)} vs {self.name_b} {self.b.format(digits)}: difference "
                f"{self.difference.format(digits)}, {verdict}")

    def to_dict(self) -> dict[str, Any]:
        return {"name_a": self.name_a, "name_b": self.name_b, "a": self.a.to_dict(), "b": self.b.to_dict(),
                "difference": self.difference.to_dict(), "within_noise": self.within_noise}


def _check_level(level: float, where: str) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidParameterError(f"The 'level' parameter of {where} must be a float in (0, 1). Got {level!r} instead.")
    return float(level)


def _check_resamples(n_resamples: int, where: str) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise InvalidParameterError(f"The 'n_resamples' parameter of {where} must be an int >= 1. "
                                    f"Got {n_resamples!r} instead.")
    return int(n_resamples)


def proportion_interval(successes: int | float, n: int, *, level: float = DEFAULT_LEVEL) -> Interval:
    """The Wilson score interval of a rate ``successes / n`` over ``n`` independent items.

    Args:
        successes: how many items succeeded (an int in [0, n]; a float that is a whole number is accepted).
        n: how many items there were (>= 0; with 0 the estimate and interval are NaN).
        level: the confidence level.

    Returns:
        :class:`Interval` with ``method="wilson"``.

    Example:
        >>> proportion_interval(0, 10).format(2)
        '0.00 [0.00, 0.28]'
    """
    level = _check_level(level, "proportion_interval")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidParameterError(f"The 'n' parameter of proportion_interval must be an int >= 0. Got {n!r} instead.")
    k = float(successes)
    if not k.is_integer() or not 0 <= k <= n:
        raise InvalidParameterError("The 'successes' parameter of proportion_interval must be a whole number in "
                                    f"[0, n={n}]. Got {successes!r} instead.")
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), level, 0, "wilson")
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(k / n, float(ci.low), float(ci.high), level, int(n), "wilson")


def _resample_rows(n: int, clusters: np.ndarray | None, rng: np.random.Generator,
                   groups: list[np.ndarray] | None) -> np.ndarray:
    if clusters is None:
        return rng.integers(0, n, n)
    picked = rng.integers(0, len(groups), len(groups))
    return np.concatenate([groups[i] for i in picked])


def _groups(n: int, clusters: Sequence | np.ndarray | None, where: str) -> tuple[np.ndarray | None, list | None]:
    if clusters is None:
        return None, None
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise InvalidParameterError(f"The 'clusters' parameter of {where} must give one label per row ({n}). "
                                    f"Got shape {labels.shape} instead.")
    _, inverse = np.unique(labels, return_inverse=True)
    return labels, [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)] if n else []


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, *, clusters: Sequence | np.ndarray | None = None,
                       n_resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic(rows)`` over resamples of ``n`` rows.

    Args:
        statistic: takes an index array into your rows (with repeats) and returns a float; NaN draws (e.g. an
            AUC of a resample with one class) are dropped.
        n: the number of rows.
        clusters: one label per row; whole clusters are resampled (a cluster bootstrap) when rows of one
            cluster are not independent (the orders of one question, the tokens of one text).
        n_resamples: bootstrap resamples.
        level: the confidence level.
        seed: the resampling seed (the interval is reproducible).

    Returns:
        :class:`Interval`; ``n`` is the number of clusters when ``clusters`` is given.

    Example:
        >>> import numpy as np
        >>> x = np.arange(100.0)
        >>> bootstrap_interval(lambda rows: x[rows].mean(), 100).holds(49.5)
        True
    """
    level = _check_level(level, "bootstrap_interval")
    n_resamples = _check_resamples(n_resamples, "bootstrap_interval")
    labels, groups = _groups(n, clusters, "bootstrap_interval")
    estimate = float(statistic(np.arange(n))) if n else float("nan")
    units = len(groups) if groups is not None else n
    method = "cluster bootstrap" if groups is not None else "bootstrap"
    if units < 2:
        return Interval(estimate, float("nan"), float("nan"), level, units, method)
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(_resample_rows(n, labels, rng, groups)) for _ in range(n_resamples)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return Interval(estimate, float("nan"), float("nan"), level, units, method)
    alpha = (1 - level) / 2
    return Interval(estimate, float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha)), level, units,
                    method)


def mean_interval(values: Sequence[float] | np.ndarray, *, clusters: Sequence | np.ndarray | None = None,
                  n_resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL, seed: int = 0) -> Interval:
    """The bootstrap interval of the mean of ``values`` (NaNs dropped), e.g. an MRR over queries.

    Example:
        >>> mean_interval([1.0, 0.5, 1.0, 0.25] * 10).holds(0.6875)
        True
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(x)
    labels = None if clusters is None else np.asarray(clusters)[keep]
    x = x[keep]
    return bootstrap_interval(lambda rows: float(x[rows].mean()), len(x), clusters=labels, n_resamples=n_resamples,
                              level=level, seed=seed)


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                      statistic: Callable[[np.ndarray], float] | None = None, names: tuple[str, str] = ("a", "b"),
                      clusters: Sequence | np.ndarray | None = None, n_resamples: int = DEFAULT_RESAMPLES,
                      level: float = DEFAULT_LEVEL, seed: int = 0) -> Comparison:
    """Compare two methods scored on the same items by a paired bootstrap.

    Args:
        a, b: per-item scores of the two methods, aligned (item i of ``a`` is item i of ``b``), e.g. 0/1
            correctness or a reciprocal rank. With ``statistic`` they may be 2-D (rows = items).
        statistic: maps an item array to the figure (default: the mean).
        names: the two methods' names, for :meth:`Comparison.sentence`.
        clusters, n_resamples, level, seed: as in :func:`bootstrap_interval`; both figures are computed on
            the same resampled items, so what the two share cancels out of the difference.

    Returns:
        :class:`Comparison`; ``comparison.within_noise`` is True when the difference's interval holds 0.
    """
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_arr.shape[:1] != b_arr.shape[:1]:
        raise InvalidParameterError("The 'a' and 'b' parameters of paired_difference must score the same items "
                                    f"(equal lengths). Got {len(a_arr)} and {len(b_arr)} instead.")
    stat = statistic or (lambda x: float(np.nanmean(x)))
    n = len(a_arr)
    kw = dict(clusters=clusters, n_resamples=n_resamples, level=level, seed=seed)
    ia = bootstrap_interval(lambda rows: stat(a_arr[rows]), n, **kw)
    ib = bootstrap_interval(lambda rows: stat(b_arr[rows]), n, **kw)
    diff = bootstrap_interval(lambda rows: stat(a_arr[rows]) - stat(b_arr[rows]), n, **kw)  # same seed: same rows
    return Comparison(names[0], names[1], ia, ib, diff)


def correlation_interval(r: float, n: int, *, kind: str = "pearson", level: float = DEFAULT_LEVEL) -> Interval:
    """The interval of a correlation ``r`` over ``n`` points by Fisher's z transform.

    ``kind="spearman"`` uses the standard error ``sqrt(1.06 / (n - 3))`` (Fieller, Hartley & Pearson 1957).
    Needs ``n >= 4``; with fewer points the interval is NaN. A Spearman over 4 retrain subsets spans
    nearly all of [-1, 1]: it cannot rank anything.

    Example:
        >>> correlation_interval(0.49, 4, kind="spearman").format(2)
        '0.49 [-0.90, 0.99]'
        >>> correlation_interval(0.49, 32, kind="spearman").excludes(0.0)
        True
    """
    level = _check_level(level, "correlation_interval")
    if kind not in ("pearson", "spearman"):
        raise InvalidParameterError("The 'kind' parameter of correlation_interval must be one of 'pearson', "
                                    f"'spearman'. Got {kind!r} instead.")
    method = f"fisher z ({kind})"
    if not np.isfinite(r) or n < 4:
        return Interval(float(r), float("nan"), float("nan"), level, int(n), method)
    from scipy.stats import norm

    z = math.atanh(min(max(float(r), -0.999999), 0.999999))
    se = math.sqrt((1.06 if kind == "spearman" else 1.0) / (n - 3))
    q = float(norm.ppf(0.5 + level / 2))
    return Interval(float(r), math.tanh(z - q * se), math.tanh(z + q * se), level, int(n), method)
