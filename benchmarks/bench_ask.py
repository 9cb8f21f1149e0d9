"""interp.ask on the default model (SmolLM2-135M-Instruct, CPU): time of 200 items x 4 hint conditions, and the
pilot's figures (accuracy, position bias, ECE / AUROC per confidence signal, follow and mention rates and the
mention rule's control rate) with intervals (Wilson for rates, bootstrap over items otherwise).

Measured in one run:

- ``hint_faithfulness`` on ``--n`` questions (default 200) x the four conditions (none, wrong, correct,
  always-(A) few-shot), explanations for every hint-caused switch, no attribution: wall time, and the
  share of it in forward passes (letter scoring) and in generation (explanations), from the result's
  ``timing``;
- the reference in the same run: the same letter-scoring prompts of ``--ref`` items one at a time
  (``batch_size=1``), so the batching speed-up is a ratio measured on this machine, not a figure from
  elsewhere;
- ``calibrate`` on ``--n-cal`` easy-tier questions with all five signals (the probe fitted on cities,
  larger_than and facts) and the position-bias table.

Run: ``.venv/bin/python benchmarks/bench_ask.py [--n 200] [--questions capitals] [--n-cal 100]``
(the machine should be otherwise idle; the target is under 5 minutes for 200 x 4).
"""

from __future__ import annotations

import argparse
import time


def _ci(m: dict, name: str) -> str:
    return f"{m[name]:.3f} [{m[name + '_low']:.3f}, {m[name + '_high']:.3f}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--questions", default="capitals")
    parser.add_argument("--n-cal", type=int, default=100)
    parser.add_argument("--cal-questions", default="easy")
    parser.add_argument("--ref", type=int, default=20)
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args(argv)

    import interp
    from interp.ask import _engine, calibrate, hint_faithfulness, load_questions
    from interp.ask.calibration import letter_probabilities

    model = interp.load_model(quiet=True)
    print(f"{model.name}, {args.n} questions from {args.questions!r} x 4 conditions")
    start = time.perf_counter()
    hints = hint_faithfulness(model, args.questions, n=args.n, attribute_items=0, n_boot=1000, progress=False)
    wall = time.perf_counter() - start
    t = hints.timing
    print(f"hint_faithfulness: {wall:.1f} s wall; forward passes {t['forward_s']:.1f} s "
          f"({t['forward_s'] / wall:.0%}), generation {t['generate_s']:.1f} s ({t['generate_s'] / wall:.0%}) for "
          f"{sum(1 for c in hints.conditions for e in hints.explanations[c] if e)} explanations; "
          f"target < 300 s: {'met' if wall < 300 else 'missed'}")

    qs = load_questions(args.questions).sample(args.n, seed=0)[:args.ref]
    timer_batched, timer_single = _engine.Timer(), _engine.Timer()
    letter_probabilities(model, qs, timer=timer_batched)
    letter_probabilities(model, qs, batch_size=1, timer=timer_single)
    print(f"letter scoring of {len(qs)} prompts: batched {timer_batched.forward:.2f} s, one at a time "
          f"{timer_single.forward:.2f} s: x{timer_single.forward / max(timer_batched.forward, 1e-9):.1f}")

    print(hints.summary())
    for c, m in zip(hints.conditions, hints.metrics):
        line = f"  {c:9s} accuracy {_ci(m, 'accuracy')}"
        if c != "none":
            line += (f"  follow {_ci(m, 'follow_rate')} of {int(m['eligible'])}  mention {_ci(m, 'mention_rate')} of "
                     f"{int(m['explained'])} switches  rule's control rate {_ci(m, 'control_rate')} of "
                     f"{int(m['control_n'])} no-hint explanations  accuracy drop {_ci(m, 'accuracy_drop')}")
        print(line)
    print(f"  chance accuracy {1 / 4:.2f}")

    if args.skip_calibration:
        return
    start = time.perf_counter()
    cal = calibrate(model, args.cal_questions, n=args.n_cal, progress=False)
    print(f"calibrate: {time.perf_counter() - start:.1f} s ({cal.timing})")
    print(cal.summary())
    print(f"  stated confidence parse rate {cal.stated_parse_rate:.2f}; probe {cal.probe_info}")
    for s, m in zip(cal.signals, cal.metrics):
        print(f"  {s:16s} n={int(m['n']):4d} acc {_ci(m, 'accuracy')} ECE {_ci(m, 'ece')} "
              f"ECE(mass) {_ci(m, 'ece_mass')} Brier {_ci(m, 'brier')} AUROC {_ci(m, 'auroc')}")
    print(cal.position_frame().to_string(index=False))
    print(f"  position bias chi-square {cal.position_chi2:.1f}, p={cal.position_p:.2g} ({cal.position_test})")
    for caveat in hints.caveats() + cal.caveats():
        print(f"  caveat: {caveat}")


if __name__ == "__main__":
    main()
