"""interp.stats: the intervals every figure carries, checked against hand computations and references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interp.errors import InvalidParameterError
from interp.stats import Interval, bootstrap_interval, correlation_interval, mean_interval, paired_difference, proportion_interval


def test_wilson_interval_equals_the_closed_form():
    k, n, z = 178, 200, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    got = proportion_interval(k, n)
    assert got.estimate == p and got.n == n and got.method == "wilson"
    assert got.low == pytest.approx(centre - half, abs=1e-12) and got.high == pytest.approx(centre + half, abs=1e-12)


def test_wilson_interval_at_the_edges_stays_in_the_unit_interval():
    zero, full = proportion_interval(0, 10), proportion_interval(10, 10)
    assert zero.low == 0 and 0.2 < zero.high < 0.35
    assert full.high == pytest.approx(1) and 0.65 < full.low < 0.8
    assert math.isnan(proportion_interval(0, 0).estimate)


@pytest.mark.parametrize("bad", [dict(successes=11, n=10), dict(successes=1.5, n=10), dict(successes=1, n=-1),
                                 dict(successes=1, n=10, level=1.0)])
def test_bad_input_is_a_named_error(bad):
    with pytest.raises(InvalidParameterError):
        proportion_interval(**bad)


def test_bootstrap_interval_of_a_mean_is_near_the_normal_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    got = mean_interval(x)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert got.estimate == pytest.approx(x.mean())
    assert got.low == pytest.approx(x.mean() - 1.96 * se, abs=0.3 * se)
    assert got.high == pytest.approx(x.mean() + 1.96 * se, abs=0.3 * se)
    assert mean_interval(x, seed=1) != got and mean_interval(x) == got  # seeded: reproducible


def test_cluster_bootstrap_is_wider_when_rows_of_a_cluster_repeat_each_other():
    rng = np.random.default_rng(1)
    per_item = rng.normal(size=50)
    x = np.repeat(per_item, 8)  # 8 identical "orders" per item: 50 independent units, not 400
    labels = np.repeat(np.arange(50), 8)
    naive, clustered = mean_interval(x), mean_interval(x, clusters=labels)
    assert clustered.n == 50 and clustered.method == "cluster bootstrap"
    assert clustered.width > 2 * naive.width  # about sqrt(8) = 2.8 times


def test_paired_difference_cancels_what_the_items_share():
    rng = np.random.default_rng(2)
    difficulty = rng.normal(size=300)
    a = difficulty + 0.1
    b = difficulty + rng.normal(scale=0.05, size=300)
    cmp = paired_difference(a, b, names=("a", "b"))
    assert not cmp.within_noise and cmp.larger == "a"
    assert cmp.a.width > 5 * cmp.difference.width  # the unpaired intervals overlap, the paired one does not
    assert cmp.a.holds(cmp.b.estimate)
    same = paired_difference(a, a + rng.normal(scale=0.05, size=300) - rng.normal(scale=0.05, size=300).mean())
    assert "within noise" in same.sentence() or same.larger is not None


def test_paired_difference_of_equal_methods_is_within_noise():
    a = np.array([1, 1, 0, 1, 1, 0, 1, 1] * 25, dtype=float)
    cmp = paired_difference(a, np.roll(a, 1), names=("lr", "mm"))
    assert cmp.within_noise and cmp.larger is None and cmp.sentence().endswith("within noise")
    with pytest.raises(InvalidParameterError):
        paired_difference(a, a[:-1])


def test_correlation_interval_is_fishers():
    r, n = 0.5, 28
    got = correlation_interval(r, n)
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    assert got.low == pytest.approx(math.tanh(z - 1.959963984540054 * se))
    assert got.high == pytest.approx(math.tanh(z + 1.959963984540054 * se))
    assert correlation_interval(r, n, kind="spearman").width > got.width
    assert math.isnan(correlation_interval(0.9, 3).low)  # too few points for any interval
    assert not correlation_interval(0.49, 4, kind="spearman").excludes(0.0)  # 4 retrains rank nothing


def test_interval_round_trips_and_formats():
    iv = Interval(0.5, 0.25, 0.75, n=10, method="wilson")
    assert Interval.from_dict(iv.to_dict()) == iv and iv.format(2) == "0.50 [0.25, 0.75]"
    assert iv.holds(0.3) and not iv.excludes(0.3) and iv.above(0.2) and not iv.above(0.3)


def test_bootstrap_statistic_that_is_sometimes_undefined_drops_those_draws():
    y = np.array([0] * 3 + [1] * 3)
    got = bootstrap_interval(lambda rows: float(y[rows].mean()) if len(set(y[rows])) == 2 else float("nan"), 6)
    assert 0 <= got.low <= got.high <= 1
