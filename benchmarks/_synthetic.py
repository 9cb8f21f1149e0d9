"""Synthetic truth statements for the batch benchmarks (``bench_batch.py``, ``bench_ray.py``)."""

from __future__ import annotations

import csv
import random


def write_comparisons(path: str, n: int, seed: int = 0) -> None:
    """Write a truth CSV of ``n`` statements (``n // 2`` pairs): "The number A is larger than B." and
    "... smaller than B.", one true and one false, with random A != B in 10..9,999."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["statement", "label", "provenance", "pair_id"])
        for i in range(n // 2):
            a, b = rng.randrange(10, 10_000), rng.randrange(10, 10_000)
            b += a == b
            writer.writerow([f"The number {a} is larger than {b}.", int(a > b), "synthetic", f"p{i}"])
            writer.writerow([f"The number {a} is smaller than {b}.", int(a < b), "synthetic", f"p{i}"])
