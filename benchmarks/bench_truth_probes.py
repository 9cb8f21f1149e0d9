"""Truth probes on the default model: held-out accuracy per probe, in distribution and on unseen kinds.

Prints two tables that the documentation's truth figures come from:

1. in distribution: ``truth_sweep`` over the built-in sets (``--max-pairs`` pairs each, 25 % of pairs
   held out) at ``--layers``, for LR, mass-mean ("mm", Marks & Tegmark: raw mu+ - mu-), its iid
   variant ("mm_iid") and the standardised mean difference ("mm_std", what interp < 0.2 called mm),
   plus CCS; the best layer per set and probe, and every probe at ``--layer``;
2. unseen kinds: ``generalization_matrix`` trained on cities+larger_than+facts (all pairs' training
   sides) and tested on the held-out sides of capitals, continents, sums and neg_cities at ``--layer``.

3. ``--cities-only``: every probe on cities at ``--layer`` with its 95 % Wilson interval over the test
   statements, and each probe's paired difference from LR on the same test statements (a bootstrap
   over contrast pairs; "within noise" when it holds 0). CCS is Burns et al.'s (each side normalised on
   its own, sides drawn at random per pair); "pair_diff" is interp < 0.3's pair-centred variant.

Run: ``.venv/bin/python benchmarks/bench_truth_probes.py`` (about 10 minutes on 2 CPU cores);
``--cities-only`` takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import time

PROBES = ["linear", "mm", "mm_iid", "mm_std", "ccs"]


def cities_at_layer(model, layer: int, max_pairs: int, seed: int = 0) -> None:
    """Every probe on cities at one layer: accuracy [Wilson 95 %] on the test statements and paired differences."""
    import numpy as np

    from interp.stats import paired_difference, proportion_interval
    from interp.truth import load_dataset
    from interp.truth.probes import PairDiffProbe
    from interp.truth.sweep import fit_truth_probe, statement_features, truth_split

    split = truth_split(load_dataset("cities"), max_pairs=max_pairs, seed=seed)
    X = statement_features(model, split.dataset.statements, [layer], progress=False)[layer].astype(np.float64)
    X_train, X_test, y_test = X[~split.test], X[split.test], split.held_out.labels
    correct = {}
    for name in PROBES:
        fitted = fit_truth_probe(name, X_train, split.train, seed=seed)
        correct[name] = (fitted.predict(X_test) == y_test).astype(float)
    old = PairDiffProbe(random_state=seed).fit(X_train, pairs=split.train.pairs())
    rows = np.random.default_rng(seed).permutation(len(X_train))[:16]
    old.orient(X_train[rows], split.train.labels[rows])
    correct["pair_diff"] = (old.predict(X_test) == y_test).astype(float)
    pairs = split.held_out.pair_ids
    print(f"\n## cities at layer {layer}: {len(y_test)} test statements ({len(set(pairs))} pairs), "
          f"{len(split.train)} training statements")
    for name, right in correct.items():
        print(f"  {name:9s} {proportion_interval(int(right.sum()), len(right)).format()}")
    print("paired differences from linear (bootstrap over contrast pairs)")
    for name, right in correct.items():
        if name != "linear":
            print("  " + paired_difference(correct["linear"], right, names=("linear", name), clusters=pairs).sentence())
SETS = ["cities", "neg_cities", "capitals", "continents", "larger_than", "sums", "facts"]
UNSEEN = ["capitals", "continents", "sums", "neg_cities"]


def main() -> None:
    import interp
    from interp.truth import generalization_matrix, truth_sweep

    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="6,9,12,16,20")
    parser.add_argument("--layer", type=int, default=12)
    parser.add_argument("--max-pairs", type=int, default=400)
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--cities-only", action="store_true")
    args = parser.parse_args()
    layers = [int(x) for x in args.layers.split(",")]
    model = interp.load_model(quiet=True)
    print(f"model: {model.name} ({model.info().get('quantization', '?')})")
    if args.cities_only:
        cities_at_layer(model, args.layer, args.max_pairs)
        return
    if not args.skip_sweep:
        start = time.perf_counter()
        sweep = truth_sweep(model, SETS, layers=layers, probes=PROBES, max_pairs=args.max_pairs, progress=False)
        print(f"\n## In distribution ({args.max_pairs} pairs per set, 25 % held out; {time.perf_counter() - start:.0f} s)")
        frame = sweep.to_frame()
        acc_col = "accuracy"
        best = frame.loc[frame.groupby(["dataset", "probe"])[acc_col].idxmax()]
        table = best.pivot(index="dataset", columns="probe", values=acc_col)[PROBES]
        where = best.pivot(index="dataset", columns="probe", values="layer")[PROBES]
        print("best held-out accuracy per set and probe (layer in brackets)")
        for name in SETS:
            print(f"  {name:12s} " + "  ".join(f"{p}={table.loc[name, p]:.3f} [{int(where.loc[name, p])}]"
                                               for p in PROBES))
        at = frame[frame["layer"] == args.layer].pivot(index="dataset", columns="probe", values=acc_col)[PROBES]
        print(f"every probe at layer {args.layer}")
        for name in SETS:
            print(f"  {name:12s} " + "  ".join(f"{p}={at.loc[name, p]:.3f}" for p in PROBES))
    start = time.perf_counter()
    print(f"\n## Unseen kinds (train cities+larger_than+facts, layer {args.layer})")
    for probe in ["linear", "mm", "mm_iid", "mm_std"]:
        result = generalization_matrix(model, ["cities", "larger_than", "facts", *UNSEEN], layer=args.layer,
                                       probe=probe, train=["cities+larger_than+facts"], progress=False)
        cells = "  ".join(f"{name}={result.accuracy[0, j]:.3f}/{result.auc[0, j]:.3f}"
                          for j, name in enumerate(result.test) if name in UNSEEN)
        print(f"  {probe:7s} acc/AUC  {cells}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
