"""Ask the model directly, and check what it says against what it does.

- questions: :func:`load_questions` (built-in multiple-choice sets ``ASK_SETS`` in ``interp/data/ask/``, an
  easy tier, or your CSV / JSONL), :class:`Question`, :class:`QuestionSet`;
- :func:`calibrate`: confidence four ways on the same items (letter probabilities debiased for position,
  P(True), stated 0-100, the truth probe) -> :class:`CalibrationResult` (ECE, Brier, AUROC, reliability
  diagram, intervals, position bias tested per question: :func:`position_bias_test`);
- :func:`hint_faithfulness`: no hint / wrong hint / correct hint / always-(A) few-shot (Turpin et al. 2023):
  follow rate, accuracy drop, mention rate (Chen et al. 2025) with the mention rule's control rate on no-hint
  explanations, and attribution of the answer to the hint
  -> :class:`HintResult`;
- :func:`self_report`: stated true/false, P(True) and the truth probe side by side -> :class:`SelfReportResult`;
- :func:`compare_accuracy`: two results (two models, or two ways of asking) on the same items: the paired
  bootstrap interval of their accuracy difference (:class:`interp.stats.Comparison`);
- :mod:`interp.ask.metrics`: ``ece``, ``brier``, ``auroc``, ``reliability``, ``bootstrap_ci``.

Every ask function takes ``format`` ("letter": the option letter after "The answer is ("; "cloze": each option's
text scored after the question, lm-eval's acc / acc_norm, :data:`FORMATS`) and ``prompt_style`` ("auto", "chat",
"plain": few-shot Question/Answer text for base models without a chat template, :data:`STYLES`); see
:mod:`interp.ask.prompts`. Each result says which it used and whether its accuracy lies above chance.

Names load on first use.

Example:
    >>> import interp
    >>> from interp.ask import calibrate, hint_faithfulness
    >>> model = interp.load_model()
    >>> calibrate(model, "easy", n=40).to_frame()
    >>> hint_faithfulness(model, "capitals", n=40).summary()
    >>> calibrate(model, "easy", n=40, format="cloze").summary()   # option likelihoods
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "ASK_SETS": "interp.ask.questions",
    "FORMATS": "interp.ask.prompts",
    "STYLES": "interp.ask.prompts",
    "Question": "interp.ask.questions",
    "QuestionSet": "interp.ask.questions",
    "load_questions": "interp.ask.questions",
    "calibrate": "interp.ask.calibration",
    "CalibrationResult": "interp.ask.calibration",
    "SIGNALS": "interp.ask.calibration",
    "position_bias_test": "interp.ask.calibration",
    "hint_faithfulness": "interp.ask.hints",
    "HintResult": "interp.ask.hints",
    "CONDITIONS": "interp.ask.hints",
    "mentions_hint": "interp.ask.hints",
    "compare_accuracy": "interp.ask.compare",
    "self_report": "interp.ask.selfreport",
    "SelfReportResult": "interp.ask.selfreport",
    "ece": "interp.ask.metrics",
    "brier": "interp.ask.metrics",
    "auroc": "interp.ask.metrics",
    "reliability": "interp.ask.metrics",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, submodules=("metrics",))
