"""The papers' findings next to what interp measures on each model: one table, a column per model.

Each row is a finding of a paper interp implements (Marks & Tegmark 2023, Gurnee & Tegmark 2023,
Hewitt & Liang 2019, ERASER), with the models the paper measured it on, what is measured here with
interp's public functions and the criterion for "reproduces" (see :mod:`interp.replication`, which
builds the table; ``examples/replication.ipynb`` is the same table as a notebook).

Run: ``.venv/bin/python benchmarks/replication.py`` (the default model, full settings: tens of minutes
on a CPU), ``--quick`` (small samples, every few layers: a few minutes), ``--models default,tiny-gpt2``
(one column per model; ``default`` is the default model), ``--parts truth,space`` (only some papers),
``--out results/replication.json`` (also writes the .html page beside it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="default",
                        help="comma-separated model names ('default' = the default model), one column each")
    parser.add_argument("--quick", action="store_true", help="small samples and every few layers")
    parser.add_argument("--parts", default="truth,space,pos,attribution",
                        help="comma-separated: truth, space, pos, attribution, ask (not run by default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="save the result (.json) and its page (.html)")
    args = parser.parse_args()

    import pandas as pd

    from interp.replication import replication_table

    models = [None if m.strip() in ("", "default") else m.strip() for m in args.models.split(",")]
    start = time.perf_counter()
    result = replication_table(models, quick=args.quick, parts=[p.strip() for p in args.parts.split(",")],
                               seed=args.seed, progress=False)
    frame = result.to_frame().drop(columns=["measured"])
    with pd.option_context("display.max_colwidth", 60, "display.width", 250, "display.float_format", "{:.3f}".format):
        print(frame.to_string(index=False))
    print(result.summary())
    for line in result.details:
        print(" ", line)
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.out is not None:
        path = result.save(args.out)
        result.to_html(Path(path).with_suffix(".html"))
        print(f"wrote {path} and its .html")


if __name__ == "__main__":
    main()
