"""World map on the default model: which design choices raise held-out R^2, and by how much.

Every configuration uses the same places (the ``--n-places`` most populous cities over
``--min-population``), the same seeded 80/20 split and the same ridge probe, so the rows differ only
in the choice named: the prompt template, the position (the prompt's last token, or the mean over
the name's tokens) and the probe (``--probes linear,mlp``: linear, or Gurnee & Tegmark's nonlinear
comparison). Each row prints the best layer (and its fraction of depth), held-out R^2 of latitude and
longitude with 95% intervals (bootstrap over held-out places), mean great-circle error, the controls (each with
the best layer's paired difference from it) (layer 0, shuffled coordinates and, with ``--random``,
random weights at the best layer) and the wall time, for each split seed of ``--seeds`` and then their
mean (a choice is kept only if it helps on several splits). Activations are cached under ``--cache`` so a
re-run (or another seed, or another probe) only refits the probes.

Run: ``.venv/bin/python benchmarks/bench_world_map.py --n-places 3000 --configs 0,1,2,3,4 --random``
     ``.venv/bin/python benchmarks/bench_world_map.py --configs 2 --probes linear,mlp --seeds 0,1,2``
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from pathlib import Path

CONFIGS = [("{name}", "last"), ("{name}", "mean"), ("The city of {name}", "last"), ("The city of {name}", "mean"),
           ("{name} is a city located in the country of", "last"), ("{name} is a city located in the country of", "mean")]


def main() -> None:
    import interp
    from interp.projection import world_map

    parser = argparse.ArgumentParser()
    parser.add_argument("--n-places", type=int, default=3000)
    parser.add_argument("--min-population", type=int, default=100_000)
    parser.add_argument("--configs", default=",".join(str(i) for i in range(len(CONFIGS))))
    parser.add_argument("--random", action="store_true", help="also the random-weights control (slower)")
    parser.add_argument("--probes", default="linear", help="comma-separated: linear (ridge regression), mlp")
    parser.add_argument("--seeds", default="0", help="comma-separated split seeds; the mean is printed after them")
    parser.add_argument("--layers", default="all", help="as world_map's layers, e.g. 0:31:2")
    parser.add_argument("--window", type=int, default=0, help="world_map's window: the mean of layers l-w..l+w")
    parser.add_argument("--cache", default="/tmp/interp-bench-world")
    args = parser.parse_args()
    model = interp.load_model(quiet=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    for index in (int(i) for i in args.configs.split(",")):
        prompt, position = CONFIGS[index]
        key = f"{zlib.crc32(prompt.encode())}_{position}_{args.n_places}_{args.min_population}"
        for probe in args.probes.split(","):
            rows = []
            for seed in seeds:
                start = time.perf_counter()
                result = world_map(model, n_places=args.n_places, min_population=args.min_population, prompt=prompt,
                                   position=position, random_baseline=args.random, cache_dir=Path(args.cache) / key,
                                   probe=probe, seed=seed, layers=args.layers, window=args.window, progress=False)
                i = result.best_index
                rows.append({"prompt": prompt, "position": position, "probe": probe, "window": args.window, "seed": seed,
                             "best_layer": result.best_layer, "depth": round(result.best_depth, 2),
                             "r2_lat": round(float(result.r2_lat[i]), 3), "r2_lon": round(float(result.r2_lon[i]), 3),
                             "r2_lat_95": [round(float(result.r2_lat_low[i]), 3), round(float(result.r2_lat_high[i]), 3)],
                             "r2_lon_95": [round(float(result.r2_lon_low[i]), 3), round(float(result.r2_lon_high[i]), 3)],
                             "error_km": round(float(result.error_km[i])), "controls": result.controls,
                             "seconds": round(time.perf_counter() - start, 1)})
                print(json.dumps(rows[-1]), flush=True)
            if len(rows) > 1:
                print(json.dumps({"prompt": prompt, "position": position, "probe": probe, "seeds": seeds,
                                  **{k: round(sum(r[k] for r in rows) / len(rows), 3) for k in ("r2_lat", "r2_lon")}}),
                      flush=True)


if __name__ == "__main__":
    main()
