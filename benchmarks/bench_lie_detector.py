"""The lie detector's reach on the default model: leave-one-dataset-out (LODO) per method, and whether LODO
predicts the accuracy on kinds of statement that were never used to choose anything.

Three tables:

1. **methods** (``--layers`` x ``--positions`` x ``--probes`` x ``--centers``): LODO over the
   development sets (every built-in set but the held-out ones): train on all of them but one, test on
   every row of the one left out; mean accuracy scoring statements one by one, mean accuracy scoring
   the left-out set as one centred batch (label-free), mean AUC, and the worst set;
2. **the issue's baseline**: trained on cities + larger_than + facts only, tested on every other set;
3. **the check**: the chosen method (``--probe``, ``--center``, ``--position``, ``--layer``) trained on
   all development sets, its LODO estimate next to its accuracy on the held-out sets
   (``--held-out``: translations_fr, neg_companies and qa_facts, the last a hand-written set in a
   question-and-answer style) -- the sets no method was chosen on; the LODO figure pooled with its
   Wilson interval, and LODO with each fold choosing its own layer among ``--layers`` on its
   training sets' validation pairs (what ``LieDetector.fit`` reports when it chooses the layer).

Features are extracted once per set (``--max-pairs`` pairs, seed 0) at every layer asked for, at the
last token, the token before it ("prev": the last word before the full stop) and the mean over tokens;
``--cache DIR`` keeps them as ``DIR/<set>.npz`` so a second run only fits probes.

Run: ``.venv/bin/python benchmarks/bench_lie_detector.py --cache /tmp/truthfeat`` (extraction: about
25 minutes on 2 busy CPU cores; the fits: minutes for mm / lat / mm_iid, longer for linear).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

HELD_OUT = ["translations_fr", "neg_companies", "qa_facts"]
BASELINE = ["cities", "larger_than", "facts"]


def features(model, names, layers, max_pairs, cache):
    """name -> (dataset, {f"{position}{layer}": (n, d) array}) at positions last, prev (the token before) and mean."""
    from interp.activations import collect
    from interp.truth import TruthDataset, load_dataset

    out = {}
    for name in names:
        path = Path(cache) / f"{name}.npz" if cache else None
        if path is not None and path.is_file():
            z = np.load(path)
            if all(f"last{l}" in z for l in layers):
                ds = TruthDataset(name, [str(s) for s in z["statements"]], z["labels"], [str(p) for p in z["pair_ids"]],
                                  [name] * len(z["labels"]))
                out[name] = (ds, {k: z[k] for k in z.files if k[:4] in ("last", "prev", "mean")})
                continue
        ds = load_dataset(name).sample(max_pairs, seed=0)
        start = time.perf_counter()
        acts = collect(model, ds.statements, layers=layers, position="all", progress=False)
        index = np.asarray(acts.text_index)
        rows = [np.flatnonzero(index == i) for i in range(len(ds))]
        arrays = {}
        for l in layers:
            X = acts[l]
            arrays[f"last{l}"] = X[[r[-1] for r in rows]]
            arrays[f"prev{l}"] = X[[r[-2] if len(r) > 1 else r[-1] for r in rows]]
            arrays[f"mean{l}"] = np.stack([X[r].mean(0) for r in rows])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, labels=ds.labels, pair_ids=np.array(ds.pair_ids), statements=np.array(ds.statements),
                     **arrays)
        print(f"  features of {name}: {len(ds)} statements, {time.perf_counter() - start:.0f} s", flush=True)
        out[name] = (ds, arrays)
    return out


def _fit_and_test(train, test, probe, center):
    """A probe trained on the union of ``train`` [(dataset, X)], scored on each of ``test``: (accuracy alone,
    accuracy batch-centred, AUC) per test set, scored as :class:`interp.truth.LieDetector` scores."""
    from sklearn.metrics import roc_auc_score

    from interp.truth.detector import _center_sets
    from interp.truth.probes import ccs_accuracy
    from interp.truth.sweep import _concat, fit_truth_probe

    blocks = _center_sets([X.astype(np.float64) for _, X in train], center)
    X_train = np.concatenate(blocks)
    fitted = fit_truth_probe(probe, X_train, _concat([d for d, _ in train], name="train"), where="bench")
    reference = np.concatenate([X for _, X in train]).mean(0) if center == "dataset" else 0.0
    rows = []
    for ds, X in test:
        X = X.astype(np.float64)
        alone, batch = X - reference, X - X.mean(0) + X_train.mean(0)
        rows.append((ccs_accuracy(fitted, alone, ds.labels), ccs_accuracy(fitted, batch, ds.labels),
                     roc_auc_score(ds.labels, fitted.decision_function(alone)[:, 0])))
    return rows


def main() -> None:
    import warnings

    import interp
    from interp.truth import DATASETS
    from interp.truth.detector import leave_one_dataset_out

    warnings.filterwarnings("ignore", category=UserWarning)
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="8,12,16,20")
    parser.add_argument("--positions", default="last,prev,mean")
    parser.add_argument("--probes", default="mm,lat,mm_iid")
    parser.add_argument("--centers", default="none")
    parser.add_argument("--probe", default="linear")
    parser.add_argument("--center", default="none")
    parser.add_argument("--position", default="last")
    parser.add_argument("--layer", type=int, default=16)
    parser.add_argument("--held-out", default=",".join(HELD_OUT))
    parser.add_argument("--max-pairs", type=int, default=150)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--skip-methods", action="store_true")
    args = parser.parse_args()
    layers = sorted({int(x) for x in args.layers.split(",")} | {args.layer})
    held = [h for h in args.held_out.split(",") if h]
    dev = [d for d in DATASETS if d not in held]
    model = interp.load_model(quiet=True)
    print(f"model: {model.name}; development sets ({len(dev)}): {', '.join(dev)}; held out: {', '.join(held)}")
    data = features(model, [*dev, *held], layers, args.max_pairs, args.cache)

    if not args.skip_methods:
        print("\n## Methods: leave-one-dataset-out over the development sets (accuracy alone / batch-centred / AUC)")
        for position, layer, probe, center in itertools.product(args.positions.split(","), layers,
                                                                args.probes.split(","), args.centers.split(",")):
            start = time.perf_counter()
            key = f"{position}{layer}"
            r = leave_one_dataset_out([data[n][1][key] for n in dev], [data[n][0] for n in dev], probe=probe,
                                      center=center)
            worst = int(np.argmin(r.accuracy))
            print(f"  {position:4s} layer {layer:2d} {probe:6s} center={center:7s} accuracy {r.accuracy.mean():.3f}  "
                  f"batch {r.batch_accuracy.mean():.3f}  AUC {r.auc.mean():.3f}  worst {dev[worst]} "
                  f"{r.accuracy[worst]:.2f}  ({time.perf_counter() - start:.0f} s)", flush=True)

    key = f"{args.position}{args.layer}"
    print(f"\n## The issue's baseline: {args.probe} trained on {' + '.join(BASELINE)} at {key}, center={args.center}")
    others = [n for n in [*dev, *held] if n not in BASELINE]
    rows = _fit_and_test([(data[n][0], data[n][1][key]) for n in BASELINE],
                         [(data[n][0], data[n][1][key]) for n in others], args.probe, args.center)
    for name, (acc, batch, auc) in zip(others, rows):
        print(f"  {name:20s} accuracy {acc:.3f}  batch {batch:.3f}  AUC {auc:.3f}")
    print(f"  mean over {len(others)} sets: accuracy {np.mean([r[0] for r in rows]):.3f}  "
          f"batch {np.mean([r[1] for r in rows]):.3f}  AUC {np.mean([r[2] for r in rows]):.3f}")

    print(f"\n## The check: {args.probe} at {key}, center={args.center}, trained on the {len(dev)} development sets")
    lodo = leave_one_dataset_out([data[n][1][key] for n in dev], [data[n][0] for n in dev], probe=args.probe,
                                 center=args.center)
    for name, acc, batch, auc in zip(dev, lodo.accuracy, lodo.batch_accuracy, lodo.auc):
        print(f"  LODO {name:20s} accuracy {acc:.3f}  batch {batch:.3f}  AUC {auc:.3f}")
    print(f"  LODO pooled over {int(lodo.n.sum())} left-out statements: {lodo.accuracy_interval().format()} (95 % Wilson)")
    folds = leave_one_dataset_out({l: [data[n][1][f"{args.position}{l}"] for n in dev] for l in layers},
                                  [data[n][0] for n in dev], probe=args.probe, center=args.center)
    print(f"  LODO with each fold choosing its layer among {layers} on its own training sets: "
          f"{folds.accuracy_interval().format()} (layers chosen: {sorted(set(folds.layers.tolist()))})")
    rows = _fit_and_test([(data[n][0], data[n][1][key]) for n in dev], [(data[n][0], data[n][1][key]) for n in held],
                         args.probe, args.center)
    for name, (acc, batch, auc) in zip(held, rows):
        print(f"  held out {name:16s} accuracy {acc:.3f}  batch {batch:.3f}  AUC {auc:.3f}")
    for i, what in enumerate(("accuracy", "batch-centred accuracy", "AUC")):
        estimate = [lodo.accuracy, lodo.batch_accuracy, lodo.auc][i].mean()
        actual = np.mean([r[i] for r in rows])
        print(f"  {what:24s} LODO estimate {estimate:.3f}  on the held-out sets {actual:.3f}  "
              f"difference {actual - estimate:+.3f} ({'within' if abs(actual - estimate) <= 0.05 else 'outside'} 0.05)")


if __name__ == "__main__":
    main()
