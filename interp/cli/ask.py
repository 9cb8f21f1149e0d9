"""``interp ask calibrate|hints|self-report``: ask the model directly (a thin shell over interp.ask).

    interp ask calibrate --questions easy -n 60 --out results/ask        # five confidence signals, position bias
    interp ask hints --questions capitals -n 60 --out results/ask        # no / wrong / correct / always-(A) hint
    interp ask self-report --statements capitals -n 40                   # stated, P(True) and the truth probe
    interp ask calibrate --questions my_questions.jsonl --signals letter,letter_debiased,p_true --json
    interp ask calibrate --format cloze --model gemma-3-270m-Q4_K_M      # option likelihoods; a base model in plain text

``--questions`` takes a built-in set (capitals, continents, sums, larger, facts, easy, all) or a .jsonl /
.csv file (see :mod:`interp.ask.questions`). ``--out DIR`` writes ``result.json`` and ``result.html``.
"""

# No ``from __future__ import annotations``: Typer reads the annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, progress_bars, show

__all__ = ["app"]

app = typer.Typer(help="Ask the model directly: calibration, hint faithfulness, self-report vs probe.",
                  no_args_is_help=True)

QuestionsOpt = Annotated[str, typer.Option("--questions", "-q", help="Built-in set (capitals, continents, sums, "
                                           "larger, facts, easy, all) or a .jsonl/.csv file.")]
NOpt = Annotated[int | None, typer.Option("--n", "-n", help="Ask this many questions (seeded, letters balanced).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Sampling seed.")]
FormatOpt = Annotated[str, typer.Option("--format", help="'letter' (the option letter after \"The answer is (\") or "
                                        "'cloze' (each option's text scored after the question).")]
StyleOpt = Annotated[str, typer.Option("--prompt-style", help="'auto' (chat with a chat template, else plain), 'chat' "
                                       "or 'plain' (few-shot Question/Answer text, for base models).")]
NormOpt = Annotated[str, typer.Option("--length-norm", help="Cloze: compare options by 'sum', 'token' or 'byte' "
                                      "(lm-eval acc / acc_norm) log-likelihood.")]


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _show(result, out_dir: Path | None, as_json: bool, extra: list[tuple[str, object]] = (),
          columns: list[str] | None = None) -> None:
    frame = result.to_frame()
    frame = frame[[c for c in columns if c in frame.columns] if columns else frame.columns]
    show(result, as_json=as_json, out_dir=out_dir, tables=[(None, frame), *extra])


@app.command("calibrate")
@clean_errors
def calibrate_cmd(questions: QuestionsOpt = "easy", n: NOpt = 60, model: ModelOpt = None,
                  signals: Annotated[str, typer.Option("--signals", help="Comma list of letter, letter_debiased, "
                                                       "p_true, stated, probe.")] =
                  "letter,letter_debiased,p_true,stated,probe",
                  detector: Annotated[Path | None, typer.Option("--detector", help="A saved LieDetector (interp probe "
                                                                "truth writes one) for the probe signal.")] = None,
                  n_bins: Annotated[int, typer.Option("--bins", help="Bins of ECE and the reliability diagram.")] = 10,
                  answer_format: FormatOpt = "letter", prompt_style: StyleOpt = "auto", length_norm: NormOpt = "byte",
                  seed: SeedOpt = 0, out_dir: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Confidence four ways on the same items (interp.ask.calibrate): ECE, Brier, AUROC, position bias."""
    from interp.ask.calibration import calibrate
    from interp.ask.questions import load_questions
    from interp.models.loading import load_model

    qs = load_questions(questions)  # fail on a bad file before loading the model
    m = load_model(model)
    fitted = None
    if detector is not None:
        from interp.truth.detector import LieDetector

        fitted = LieDetector.load(detector, model=m)
    with progress_bars(quiet=as_json) as bars:
        result = calibrate(m, qs, n=n, seed=seed, signals=_names(signals), detector=fitted, n_bins=n_bins,
                           format=answer_format, prompt_style=prompt_style, length_norm=length_norm,
                           progress=bars)
    _show(result, out_dir, as_json, [("Position bias", result.position_frame())] if result.position else [],
          columns=["signal", "n", "accuracy", "accuracy_low", "accuracy_high", "ece", "ece_low", "ece_high", "brier",
                   "auroc", "auroc_low", "auroc_high"])


@app.command("hints")
@clean_errors
def hints_cmd(questions: QuestionsOpt = "easy", n: NOpt = 60, model: ModelOpt = None,
              conditions: Annotated[str, typer.Option("--conditions", help="Comma list of none, wrong, correct, "
                                                      "few_shot (default: all the format allows; cloze has no "
                                                      "few_shot).")] = "",
              explain: Annotated[str, typer.Option("--explain", help="Explanations for 'switches', 'all' or "
                                                   "'none'.")] = "switches",
              attribution: Annotated[str, typer.Option("--attribution", help="'ablation', 'integrated_gradients' "
                                                       "or 'none'.")] = "ablation",
              attribute_items: Annotated[int, typer.Option("--attribute-items", help="Wrong-hint items to "
                                                           "attribute (switches first).")] = 4,
              answer_format: FormatOpt = "letter", prompt_style: StyleOpt = "auto", length_norm: NormOpt = "byte",
              seed: SeedOpt = 0, out_dir: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Hint faithfulness (interp.ask.hint_faithfulness): follow rate, accuracy drop, mention rate, attribution."""
    from interp.ask.hints import hint_faithfulness
    from interp.ask.questions import load_questions
    from interp.models.loading import load_model

    qs = load_questions(questions)
    m = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = hint_faithfulness(m, qs, n=n, seed=seed, conditions=_names(conditions) or None, explain=explain,
                                   attribution=attribution, attribute_items=attribute_items, format=answer_format,
                                   prompt_style=prompt_style, length_norm=length_norm,
                                   progress=bars)
    extra = [("Attribution to the hint", result.attribution_frame())] if result.attribution else []
    _show(result, out_dir, as_json, extra,
          columns=["condition", "accuracy", "accuracy_low", "accuracy_high", "eligible", "follow_rate", "follow_rate_low",
                   "follow_rate_high", "switches", "mention_rate", "mention_rate_low", "mention_rate_high",
                   "control_rate", "control_rate_high"])


@app.command("self-report")
@clean_errors
def self_report_cmd(statements: Annotated[str, typer.Option("--statements", "-s", help="A truth dataset name or "
                                                            "CSV.")] = "capitals",
                    n: NOpt = 40, model: ModelOpt = None, seed: SeedOpt = 0,
                    answer_format: Annotated[str, typer.Option("--format", help="P(True) read as the next token "
                                                               "('letter') or the continuations ' true.' / ' false.' "
                                                               "scored whole ('cloze').")] = "letter",
                    prompt_style: StyleOpt = "auto", out_dir: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Stated true/false, P(True) and the truth probe side by side (interp.ask.self_report)."""
    from interp.ask.selfreport import self_report
    from interp.models.loading import load_model

    m = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = self_report(m, statements, n=n, seed=seed, format=answer_format, prompt_style=prompt_style,
                             progress=bars)
    _show(result, out_dir, as_json, [("Disagreements", result.disagreements().head(20))])
