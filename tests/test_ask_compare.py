"""interp.ask.compare_accuracy: two results on the same items, the paired interval of their accuracy difference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from interp.ask import calibrate, compare_accuracy, hint_faithfulness
from interp.errors import InvalidParameterError
from interp.stats import paired_difference


@pytest.fixture(scope="module")
def tiny():
    import interp

    return interp.load_model("tiny-gpt2", quiet=True)


@pytest.fixture(scope="module")
def calibrated(tiny):
    return calibrate(tiny, "easy", n=12, signals=["letter"], n_boot=20, progress=False)


def test_a_result_against_itself_differs_by_exactly_zero(calibrated):
    c = compare_accuracy(calibrated, calibrated, n_boot=200)
    assert c.difference.estimate == 0 and c.difference.low == 0 and c.difference.high == 0
    assert c.within_noise and c.larger is None
    assert c.name_a != c.name_b  # the same label twice is told apart
    assert c.a.estimate == pytest.approx(calibrated.accuracy_interval.estimate)


def test_the_difference_is_the_paired_bootstrap_of_the_items_correctness(calibrated):
    """Against a copy that answers every item right: the difference is accuracy - 1, computed on the same items."""
    perfect = dataclasses.replace(calibrated, answer=list(calibrated.gold), model_name="oracle")
    c = compare_accuracy(calibrated, perfect, n_boot=300, seed=3)
    right = (np.array(calibrated.answer) == np.array(calibrated.gold)).astype(float)
    assert c.difference.estimate == pytest.approx(right.mean() - 1.0)
    expected = paired_difference(right, np.ones_like(right), n_resamples=300, seed=3)
    assert (c.difference.low, c.difference.high) == pytest.approx((expected.difference.low, expected.difference.high))
    assert c.b.estimate == 1.0 and c.name_b == "oracle (letter, chat)"
    assert right.mean() < 0.5  # the random tiny model: a gap this wide on 12 items is beyond noise
    assert not c.within_noise and c.larger == c.name_b


def test_only_the_shared_items_are_compared(calibrated):
    half = len(calibrated.ids) // 2
    fewer = dataclasses.replace(calibrated, ids=calibrated.ids[:half], answer=calibrated.answer[:half],
                                gold=calibrated.gold[:half])
    assert compare_accuracy(calibrated, fewer).difference.n == half
    other = dataclasses.replace(calibrated, ids=[f"x{i}" for i in calibrated.ids])
    with pytest.raises(InvalidParameterError, match="share no question"):
        compare_accuracy(calibrated, other)


def test_hint_results_compare_the_condition_asked(tiny, calibrated):
    hints = hint_faithfulness(tiny, "easy", n=12, conditions=("none", "correct"), explain="none",
                              attribution="none", n_boot=0, progress=False)
    # the hint run's no-hint answers are the calibration's answers (same prompts, same letters)
    assert compare_accuracy(hints, calibrated).difference.estimate == pytest.approx(0.0)
    c = compare_accuracy(hints, calibrated, condition="correct")
    assert c.a.estimate == pytest.approx(hints.metric("correct", "accuracy"))
    with pytest.raises(InvalidParameterError, match="not 'wrong'"):
        compare_accuracy(hints, calibrated, condition="wrong")
    with pytest.raises(InvalidParameterError, match="must be a CalibrationResult or a HintResult"):
        compare_accuracy(hints, hints.to_frame())
