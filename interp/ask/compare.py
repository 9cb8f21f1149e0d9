"""Two models (or two ways of asking one) on the same questions: does their accuracy differ beyond noise?

:func:`compare_accuracy` takes two results of the same ask function, :class:`~interp.ask.CalibrationResult` or
:class:`~interp.ask.HintResult` (one condition's accuracy, by default without a hint), matches their items by id
(a question set drawn with the same ``n`` and ``seed`` gives both models the same items) and returns the paired
bootstrap of the accuracy difference (:func:`interp.stats.paired_difference`: both accuracies on the same resampled
items, so what the items share, their difficulty, cancels out of the difference). A difference whose interval holds
0 is within noise: the data do not say which model knows more.

Example:
    >>> from interp.ask import calibrate, compare_accuracy
    >>> a = calibrate(smollm, "easy", n=60, format="cloze")
    >>> b = calibrate(gemma, "easy", n=60, format="cloze")
    >>> compare_accuracy(a, b).sentence(2)
    'SmolLM2 ... 0.60 [0.48, 0.72] vs gemma ... 0.78 [0.67, 0.88]: difference -0.18 [-0.32, -0.05], gemma ... is larger'
"""

from __future__ import annotations

import numpy as np

from interp._params import InstanceOf, Interval, Options, validate_params
from interp.ask.calibration import CalibrationResult
from interp.ask.hints import CONDITIONS, HintResult
from interp.errors import InvalidParameterError
from interp.stats import Comparison, paired_difference

__all__ = ["compare_accuracy", "result_label"]

_RESULTS = InstanceOf(CalibrationResult, HintResult, name="a CalibrationResult or a HintResult")


def result_label(result: CalibrationResult | HintResult) -> str:
    """The model's name, with the format and prompt style it was asked in (``'tiny-gpt2 (cloze, plain)'``)."""
    return f"{result.model_name or 'model'} ({result.format}, {result.prompt_style})"


def _correct(result: CalibrationResult | HintResult, condition: str, name: str) -> dict[str, float]:
    """Item id -> 1.0 where the result's answer is the correct letter (a HintResult: in ``condition``)."""
    if isinstance(result, HintResult):
        if condition not in result.conditions:
            raise InvalidParameterError(f"compare_accuracy: {name} was asked in the conditions "
                                        f"{result.conditions}, not {condition!r}.")
        answers = result.answers[condition]
    else:
        answers = result.answer
    return {i: float(a == g) for i, a, g in zip(result.ids, answers, result.gold)}


@validate_params({
    "a": [_RESULTS], "b": [_RESULTS], "condition": [Options(CONDITIONS)],
    "n_boot": [Interval(int, 1, None)], "seed": [Interval(int, 0, None)],
})
def compare_accuracy(a: CalibrationResult | HintResult, b: CalibrationResult | HintResult, *, condition: str = "none",
                     n_boot: int = 1000, seed: int = 0) -> Comparison:
    """The accuracy of ``a`` minus that of ``b`` on the items both asked, with its paired bootstrap interval.

    Args:
        a, b: two results of :func:`~interp.ask.calibrate` or of :func:`~interp.ask.hint_faithfulness` (one kind
            each; mixing them compares the calibration's answers with the hint run's answers in ``condition``).
        condition: for a :class:`HintResult`, whose answers are compared (default "none": without a hint).
        n_boot: bootstrap resamples of the items.
        seed: the resampling seed.

    Returns:
        :class:`interp.stats.Comparison` named by :func:`result_label` of each (the two accuracies on the shared
        items, and the difference ``a - b``); ``.within_noise`` is True when the difference's interval holds 0,
        ``.sentence()`` says it in one line.

    Raises:
        InvalidParameterError: the two results share no item (different question sets, or ``n`` / ``seed`` drew
            different items), or a HintResult lacks ``condition``.
    """
    right_a, right_b = _correct(a, condition, "a"), _correct(b, condition, "b")
    shared = [i for i in right_a if i in right_b]
    if not shared:
        raise InvalidParameterError(f"compare_accuracy: the two results share no question (a: {a.question_set!r}, "
                                    f"{len(right_a)} items; b: {b.question_set!r}, {len(right_b)} items). Ask both "
                                    "models the same set with the same n and seed.")
    names = (result_label(a), result_label(b))
    if names[0] == names[1]:
        names = (f"{names[0]} [a]", f"{names[1]} [b]")
    xa = np.array([right_a[i] for i in shared])  # (n_shared,) 1.0 right, 0.0 wrong
    xb = np.array([right_b[i] for i in shared])
    return paired_difference(xa, xb, names=names, n_resamples=n_boot, seed=seed)

