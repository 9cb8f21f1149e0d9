"""Units of work of a batch run: plain, picklable data, and what running one did.

A run of a probe-per-layer analysis is two lists of jobs, each committed to its own file so a killed
run loses at most the jobs in flight:

- :class:`ShardJob` (model, dataset, shard index): run the model over one shard of the dataset's
  texts and commit ``activations/<model>/<dataset>/shard-NNNNN.safetensors``;
- :class:`ProbeJob` (model, dataset, layer, probe kind): fit one probe on the activations read back
  from the shards and commit its result to ``jobs/<model>/<dataset>/<probe>-L<layer>.json``.

A run of a shard-map analysis (:class:`interp.analysis.ShardMapAnalysis`) is one list:

- :class:`MapJob` (model, dataset, shard index, items ``start:stop``): run the analysis's ``map_shard`` with
  the model loaded and commit its part to ``parts/<model>/<dataset>/part-NNNNN.safetensors``.

How a job is run and committed is :mod:`interp.batch.context` (:func:`~interp.batch.context.run_shard`,
:func:`~interp.batch.context.run_probe`); where it runs, :mod:`interp.batch.executors`.

The layers of :mod:`interp.batch`, each importing only the ones before it: ``spec`` -> ``jobs`` ->
``context`` (given its :class:`~interp.analysis.Analysis`) -> ``executors`` / ``ray_executor`` ->
``lock``, ``record``, ``report``, ``bars`` -> ``runner``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from interp.batch.spec import model_slug

__all__ = ["MapJob", "Outcome", "ProbeJob", "ShardJob"]


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """Extract shard ``shard`` (``n_texts`` texts) of ``dataset`` with ``model`` (a name as in the spec)."""

    model: str
    dataset: str
    shard: int
    n_texts: int

    needs_model: ClassVar[bool] = True  # runs where a model replica is loaded (a Ray actor keeps one)

    @property
    def key(self) -> str:
        return f"{model_slug(self.model)}/{self.dataset}/shard-{self.shard:05d}"


@dataclasses.dataclass(frozen=True)
class ProbeJob:
    """Fit probe ``probe`` at ``layer`` on ``dataset``'s activations from ``model``."""

    model: str
    dataset: str
    layer: int
    probe: str

    needs_model: ClassVar[bool] = False  # reads activations only

    @property
    def key(self) -> str:
        return f"{model_slug(self.model)}/{self.dataset}/{self.probe}-L{self.layer:03d}"


@dataclasses.dataclass(frozen=True)
class MapJob:
    """Run a shard-map analysis on items ``start:stop`` (shard ``shard``) of ``dataset`` with ``model``."""

    model: str
    dataset: str
    shard: int
    start: int
    stop: int

    needs_model: ClassVar[bool] = True  # runs where a model replica is loaded (a Ray actor keeps one)

    @property
    def n_texts(self) -> int:
        """The shard's items (what the progress bar of the extract stage counts for a shard-map run)."""
        return self.stop - self.start

    @property
    def key(self) -> str:
        return f"{model_slug(self.model)}/{self.dataset}/part-{self.shard:05d}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What running a job did: ``computed`` is False when a committed result was found and reused;
    ``texts`` counts the texts the model ran on (forward passes over texts)."""

    job: ShardJob | ProbeJob | MapJob
    computed: bool
    texts: int = 0
    seconds: float = 0.0
