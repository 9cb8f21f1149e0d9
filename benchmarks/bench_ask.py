"""interp.ask on the default model (SmolLM2-135M-Instruct) and Gemma 3 270M (a base model, asked in plain few-shot
text): the lecture's claims with intervals, and the time of 200 items x 4 hint conditions against its floor.

Measured in one run, per model, on the shipped easy question set (``--questions``, default "easy"):

- accuracy in each answer format (letter: the letter after "The answer is ("; cloze: each option's text scored,
  summed / per token / per byte as lm-eval's acc / acc_norm), each with its Wilson interval and whether it lies
  above chance (:func:`interp.ask.calibrate`);
- calibration of the cloze option probability against the stated 0-100 confidence on the same items: ECE, Brier
  and AUROC of each, and the paired bootstrap interval of each difference
  (:meth:`~interp.ask.CalibrationResult.compare_signals`);
- hints (:func:`interp.ask.hint_faithfulness`, cloze format): follow rate of a wrong hint, the share of switched
  answers whose explanation mentions the hint, and the mention rule's control rate on no-hint explanations;
- self-report against the truth probe (:func:`interp.ask.self_report` on capitals statements): how often P(True)
  and the probe disagree, and which is right more often (paired interval);
- the replication rows (:data:`interp.replication.ASK_FINDINGS`, from :func:`interp.replication.ask_values`);
- speed: ``hint_faithfulness`` on ``--n`` items (default 200) x the four conditions (letter format; explanations
  only for hint-caused switches and ``--control`` no-hint answers for the mention rule's control), no attribution:
  wall time, the share in forward passes and in generation; and the **floor**: one bare batched forward pass
  (``model.run``, the last position's logits, nothing else) over the same 4 x n prompts' tokens, built as the
  analysis builds them for the model's prompt style (chat template, or plain few-shot text for a base model:
  :func:`interp.ask.calibration.letter_prompt_ids`), measured in the same run. The target is under 300 s for 200 x 4
  on the 2-core machine with nothing else running.

Question sets: the shipped "easy" set has 180 questions, fewer than the timed run's 200; "capitals" and "continents"
have 230, "sums" and "larger" 240, "all" 980 ("facts" 40). The script prints the set's size, and a line that says so
when ``--n`` or ``--n-cal`` asks for more items than the set has (the run then uses the whole set).

Run: ``.venv/bin/python benchmarks/bench_ask.py [--models default,gemma-3-270m-Q4_K_M] [--n 200] [--n-cal 180]``;
``--parts speed`` runs only the timed hint run and its floor (e.g. ``--parts speed --questions capitals --n 200``);
``--small`` runs every part at a few items (a check that the script works, not a measurement). Through the harness
(:mod:`_harness`): the timed figure with its floor and their ratio, the machine, its load, a JSON record.
"""

from __future__ import annotations

import argparse
import time

from _harness import run

GEMMA = "gemma-3-270m-Q4_K_M"


def _ci(m: dict, name: str) -> str:
    return f"{m[name]:.3f} [{m[name + '_low']:.3f}, {m[name + '_high']:.3f}]"


def _floor(model, qs, hints) -> tuple[float, int]:
    """Seconds of one bare batched forward (``model.run``, last position's logits, nothing else) over the letter
    prompts of every condition (the tokens the hint run scores), built for the run's prompt style as the analysis
    builds them (plain style: its few-shot examples first, except in the always-(A) condition, which brings its
    own), and the number of tokens."""
    from interp.ask.calibration import letter_prompt_ids
    from interp.ask.hints import hint_messages

    seqs = []
    for c in hints.conditions:
        chats = [hint_messages(q, c, h) for q, h in zip(qs, hints.hint_letters[c])]
        seqs += letter_prompt_ids(model, chats, style=hints.prompt_style, shots=c != "few_shot", where="bench")
    start = time.perf_counter()
    model.run(seqs, keep="last")
    return time.perf_counter() - start, sum(len(s) for s in seqs)


def _set_size(questions: str, asked: dict[str, int]) -> int:
    """Print the question set's size, and a line for each count in ``asked`` that exceeds it; return the size."""
    from interp.ask import load_questions

    size = len(load_questions(questions))
    print(f"question set {questions!r}: {size} questions")
    for option, n in asked.items():
        if n > size:
            print(f"  {option} {n} asks for more questions than {questions!r} has: the run uses all {size} (sets with "
                  "200 or more: capitals, continents, sums, larger, all)")
    return size


def bench_model(bench, name: str | None, args) -> None:
    import interp

    model = interp.load_model(name, quiet=True)
    print(f"\n=== {model.name} ({'chat template' if model.has_chat_template else 'no chat template: plain prompts'})")
    if args.parts == "all":
        _claims(model, args)
    _speed(bench, model, args)


def _claims(model, args) -> None:
    """The lecture's claims on one model: accuracy per format, calibration, hints, self-report, replication rows."""
    from interp.ask import calibrate, hint_faithfulness, self_report
    from interp.replication import ASK_FINDINGS, ask_values
    from interp.truth import LieDetector

    # accuracy per format, and the stated confidence next to the option probability (same items)
    cal = {}
    for fmt, signals in (("letter", ("letter", "letter_debiased", "p_true")), ("cloze", ("option", "p_true", "stated"))):
        start = time.perf_counter()
        cal[fmt] = calibrate(model, args.questions, n=args.n_cal, signals=signals, format=fmt, n_boot=args.boot,
                             progress=False)
        r = cal[fmt]
        print(f"{fmt:6s} ({r.prompt_style} prompt) accuracy {r.accuracy_interval.format(3)} chance {r._chance():.2f}: "
              f"{'above' if r.above_chance else 'NOT above'} chance  ({time.perf_counter() - start:.1f} s)")
    cloze = cal["cloze"]
    for norm in ("sum", "token", "byte"):
        print(f"  cloze accuracy, {norm:5s}-normalised: {cloze.cloze_accuracy(norm).format(3)}")
    print(f"  letter position bias p={cal['letter'].position_p:.2g}; picks {cal['letter'].position['pick_share_asked']}")
    for s, m in zip(cloze.signals, cloze.metrics):
        print(f"  {s:8s} n={int(m['n']):4d} ECE {_ci(m, 'ece')} Brier {_ci(m, 'brier')} AUROC {_ci(m, 'auroc')}")
    print(f"  stated confidence parse rate {cloze.stated_parse_rate:.2f}")
    print("  stated minus option (paired bootstrap over the same items):")
    print(cloze.compare_signals("stated", "option", n_boot=args.boot).to_string(index=False))

    hints = hint_faithfulness(model, args.questions, n=args.n_cal, conditions=("none", "wrong", "correct"),
                              format="cloze", attribution="none", control_items=args.control, n_boot=args.boot,
                              progress=False)
    print(hints.summary())
    w = hints.metrics[hints.conditions.index("wrong")]
    print(f"  wrong hint: follow {_ci(w, 'follow_rate')} of {int(w['eligible'])}; mention {_ci(w, 'mention_rate')} of "
          f"{int(w['explained'])} switches; rule's control rate {_ci(w, 'control_rate')} of {int(w['control_n'])}; "
          f"accuracy drop {_ci(w, 'accuracy_drop')}")

    detector = LieDetector.fit(model, ("cities", "larger_than", "facts"), max_pairs=args.probe_pairs, progress=False)
    report = self_report(model, "capitals", n=args.n_self, detector=detector, progress=False)
    print(report.summary())
    print(f"  disagreements (P(True) vs probe): {len(report.disagreements())} of {len(report.statements)}")

    values = ask_values(cloze, cal["letter"], hints, report, n_boot=args.boot)
    print("  replication rows:")
    for f in ASK_FINDINGS:
        v = values.get(f.key, float("nan"))
        verdict = "n/a" if f.holds is None or v != v else ("yes" if f.holds(v, values) else "no")
        print(f"    {f.key:30s} {v:7.3f}  reproduces: {verdict:3s}  ({f.criterion})")
    for caveat in cal["letter"].caveats() + cloze.caveats() + hints.caveats() + report.caveats():
        print(f"  caveat: {caveat}")


def _speed(bench, model, args) -> None:
    """The timed run: ``--n`` items x the four conditions (letter format, explanations for switches only and the
    control's no-hint answers, no attribution), and the bare forward over the same prompts (the floor)."""
    from interp.ask import hint_faithfulness, load_questions

    start = time.perf_counter()
    timed = hint_faithfulness(model, args.questions, n=args.n, attribution="none", control_items=args.control,
                              n_boot=1000, progress=False)
    wall = time.perf_counter() - start
    t = timed.timing
    explained = sum(1 for c in timed.conditions for e in timed.explanations[c] if e)
    qs = load_questions(args.questions).sample(args.n, seed=0)
    if [q.id for q in qs] != timed.ids:
        raise RuntimeError("bench_ask: the floor's questions are not the timed run's")
    floor, n_tokens = _floor(model, qs, timed)
    short = f" (asked {args.n}; the set has {len(qs)})" if len(qs) < args.n else ""
    print(f"hint_faithfulness {len(qs)}{short} x {len(timed.conditions)} (letter, {timed.prompt_style}): {wall:.1f} s "
          f"wall (floor {floor:.1f} s over {n_tokens} tokens); "
          f"forward {t['forward_s']:.1f} s, generation {t['generate_s']:.1f} s for {explained} explanations; "
          f"target < 300 s: {'met' if wall < 300 else 'missed'}")
    bench.figure(f"{model.name}: hints {len(qs)} x {len(timed.conditions)} ({args.questions}{short})", wall,
                 reference=floor,
                 reference_label=f"bare batched forward over the same {n_tokens} prompt tokens ({timed.prompt_style})",
                 target=300.0,
                 note=f"letter scoring {t['forward_s']:.1f} s, generation {t['generate_s']:.1f} s")


def main(bench) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=f"default,{GEMMA}", help="comma list; 'default' is the default model")
    parser.add_argument("--questions", default="easy",
                        help="a built-in set (easy: 180 questions; capitals, continents: 230; sums, larger: 240; all: 980)")
    parser.add_argument("--parts", choices=("all", "speed"), default="all",
                        help="speed: only the timed hint run and its floor")
    parser.add_argument("--n", type=int, default=200, help="items of the timed 4-condition hint run")
    parser.add_argument("--n-cal", type=int, default=180, help="items for accuracy, calibration and hints")
    parser.add_argument("--n-self", type=int, default=80, help="statements for self-report")
    parser.add_argument("--control", type=int, default=40, help="no-hint explanations for the mention rule's control")
    parser.add_argument("--probe-pairs", type=int, default=150)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--small", action="store_true", help="a few items everywhere (checks that the script runs)")
    parser.add_argument("--out", help="the JSON record (the harness's option)")
    args = parser.parse_args()
    if args.small:
        args.n, args.n_cal, args.n_self, args.control, args.probe_pairs, args.boot = 8, 12, 8, 4, 20, 100
    asked = {"--n": args.n, **({"--n-cal": args.n_cal} if args.parts == "all" else {})}
    _set_size(args.questions, asked)
    for name in args.models.split(","):
        bench_model(bench, None if name.strip() in ("", "default") else name.strip(), args)


if __name__ == "__main__":
    run("ask", main)
