"""Truth-sweep data: the split of a dataset's contrast pairs into training and held-out statements
(no model here)."""

from __future__ import annotations

import dataclasses

import numpy as np

from interp.truth.datasets import TruthDataset

FEATURE_POSITIONS = ("last", "mean")


def split_pairs(dataset: TruthDataset, *, test_size: float = 0.25, seed: int = 0) -> np.ndarray:
    """(n,) bool mask of held-out rows: whole contrast pairs, minus any statement also in training."""
    from interp.probing.sweep import split_by_group

    test = split_by_group(dataset.pair_ids, test_size=test_size, seed=seed, where="split_pairs")
    seen = {s for s, t in zip(dataset.statements, test) if not t}
    return test & np.array([s not in seen for s in dataset.statements])


# ----------------------------------------------------------------------------- the sweep's building blocks
# truth_sweep is these steps in memory: truth_split per dataset -> score_truth_probe per layer and probe ->
# assemble_truth_sweep; a batch run (TRUTH_SWEEP, interp run) runs the same steps, one probe job at a time.
@dataclasses.dataclass
class TruthSplit:
    """One dataset of a sweep, sampled and split (model-independent).

    Attributes:
        name: the dataset's name in the result; dataset: the sampled :class:`TruthDataset` (rows in order);
        test: (n,) bool, the held-out rows (:func:`split_pairs`); train, held_out: the two sides as datasets.
    """

    name: str
    dataset: TruthDataset
    test: np.ndarray
    train: TruthDataset
    held_out: TruthDataset


def truth_split(dataset: TruthDataset, *, max_pairs: int | None = None, test_size: float = 0.25, seed: int = 0,
                name: str | None = None) -> TruthSplit:
    """``dataset`` sampled to ``max_pairs`` pairs (with ``seed``) and split by pair (:func:`split_pairs`)."""
    ds = dataset.sample(max_pairs, seed=seed)
    test = split_pairs(ds, test_size=test_size, seed=seed)
    return TruthSplit(name if name is not None else dataset.name, ds, test, ds.subset(np.flatnonzero(~test)),
                      ds.subset(np.flatnonzero(test)))


def _concat(parts: list[TruthDataset], *, name: str) -> TruthDataset:
    return TruthDataset(name, [s for p in parts for s in p.statements], np.concatenate([p.labels for p in parts]),
                        [f"{p.name}:{q}" for p in parts for q in p.pair_ids], [s for p in parts for s in p.provenance])
