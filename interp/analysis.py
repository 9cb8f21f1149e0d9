"""The contract every batch-runnable analysis follows, and the registry ``interp run`` reads its tasks from.

An analysis is defined once, in its own module. Two shapes share one runner, one spec format, one
folder layout and one record (``run.json``):

- **probe per layer** (:class:`Analysis`): extract activations of a dataset at layers to shards on disk,
  then fit one probe job per model x dataset x layer x kind, then assemble (truth_sweep, pos, world_map, sae);
- **shard-map** (:class:`ShardMapAnalysis`): the inputs are items (prompt pairs, questions, training
  examples, texts) cut into shards; each shard is one job that a worker runs with the model loaded and
  that returns a :class:`Part` (arrays + JSON, written as one safetensors file, never pickle); assembly
  combines a model's parts into the library function's usual result (patching, ask, data_attribution,
  lens_fit).

A probe-per-layer analysis has three parts (scikit-learn's estimator contract and
TransformerLens's ``generic_activation_patch`` are the models: a small contract, many small
implementations):

1. **inputs**: everything that does not depend on a model (texts, words, labels, the split), built
   from a spec's ``[data]`` and ``[probe]`` tables (:meth:`Analysis.inputs` -> :class:`Inputs`);
2. **per-layer work**: one probe job, one model x dataset x layer x probe kind, fitted on the
   activations of that layer (:meth:`Analysis.fit` -> a small :class:`~interp.results.Result`);
3. **assembly**: a model's finished jobs into the analysis's usual result (:meth:`Analysis.assemble`),
   and that result into summary rows (:meth:`Analysis.rows`).

A shard-map analysis implements, besides ``read_data`` / ``read_probe`` / ``datasets`` / ``inputs`` (its
items are ``Inputs.payload``, a list), :meth:`ShardMapAnalysis.map_shard` (``run, model, dataset, start, stop``
-> :class:`Part`: the work on items ``start:stop``, with ``run.model(model)`` loaded) and
:meth:`~Analysis.assemble` from ``run.parts(model, dataset)`` (the parts in item order), plus ``rows``.
Shards hold ``[extract].shard_size`` items (default :attr:`ShardMapAnalysis.shard_size`, rounded up to a
multiple of :attr:`ShardMapAnalysis.shard_multiple`); a resumed run skips the shards whose part is on disk.

The library function (``truth_sweep``, ``pos_probe``, ``world_map``) runs the same public building
blocks in memory (collect activations -> per layer -> assemble); ``interp run`` runs them over shards
on an executor through the module's :class:`Analysis` object, so the two give the same numbers.

The batch run hands an analysis a :class:`RunView` (:class:`interp.batch.context.RunContext`): the spec,
the dataset's inputs, one layer's activations, the model's description and the finished jobs. An
analysis never imports :mod:`interp.batch`.

Registering: built-in analyses are named in :data:`BUILTIN` (``"module:attribute"``, imported on first
use); :func:`register` adds another one (in this process: a Ray worker imports only the built-ins).

Example:
    >>> from interp.analysis import analysis_names, get_analysis
    >>> analysis_names()
    ('truth_sweep', 'pos', 'world_map', 'sae', 'patching', 'ask', 'data_attribution', 'lens_fit')
    >>> get_analysis("world_map").metrics
    ('r2_mean', 'r2_lat', 'r2_lon', 'error_km', 'alpha')
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from interp.errors import InvalidParameterError, InvalidSpecError, choices_text

if TYPE_CHECKING:
    import numpy as np

    from interp.results import Result

__all__ = ["BUILTIN", "Analysis", "Inputs", "Part", "RunView", "ShardMapAnalysis", "analysis_names", "fingerprint",
           "get_analysis", "register", "spec_error", "unregister"]

#: The built-in analyses: task name -> ``"module:attribute"`` of its :class:`Analysis` (imported when first asked for).
BUILTIN: dict[str, str] = {
    "truth_sweep": "interp.truth.sweep:TRUTH_SWEEP",
    "pos": "interp.probing.pos:POS",
    "world_map": "interp.projection.world:WORLD_MAP",
    "sae": "interp.features.train:SAE_TRAINING",
    "patching": "interp.patching.batch:PATCHING",
    "ask": "interp.ask.batch:ASK",
    "data_attribution": "interp.data_attribution.batch:DATA_ATTRIBUTION",
    "lens_fit": "interp.lens.batch:LENS_FIT",
}
_REGISTRY: dict[str, Analysis | str] = dict(BUILTIN)


@dataclasses.dataclass
class Inputs:
    """One dataset of a run, before any model: the texts to extract and what the probes need.

    Attributes:
        name: the dataset's key (its folder name under ``activations/<model>/``).
        texts: the texts, in row order; words: per text, its words or spans (word positions only), else None.
        fingerprint: sha256 of everything the numbers depend on besides the model (texts, words, labels);
            a resumed run whose inputs' fingerprint changed is refused.
        payload: the analysis's own model-independent data (its split, labels, places, ...).
    """

    name: str
    texts: list[str]
    words: list | None
    fingerprint: str
    payload: Any


def fingerprint(*parts: Any) -> str:
    """sha256 (hex) of ``parts`` as JSON: what :attr:`Inputs.fingerprint` holds."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def spec_error(spec: Any, key: str, message: str) -> InvalidSpecError:
    """The :class:`~interp.errors.InvalidSpecError` for dotted ``key`` of ``spec`` (``"<source>: [data].corpus: ..."``)."""
    source = getattr(spec, "source", spec if isinstance(spec, str) else "<spec>")
    table, _, name = key.rpartition(".")
    where = f"[{table}].{name}" if table else name
    return InvalidSpecError(f"{source}: {where}: {message}", key=key, source=source)


class RunView(Protocol):
    """What a batch run lets an analysis see (:class:`interp.batch.context.RunContext` implements it)."""

    spec: Any  # the validated spec (interp.batch.spec.RunSpec): .seed, .data, .probe, .source
    cache: dict[Any, Any]  # the analysis's own per-process state (e.g. a split computed from the activations)

    def inputs(self, dataset: str) -> Inputs: ...

    def activations(self, model: str, dataset: str) -> Any: ...  # interp.activations.Activations (lazy)

    def features(self, model: str, dataset: str, layer: int) -> np.ndarray: ...  # (n_rows, d_model) float32

    def model_info(self, model: str) -> dict[str, Any]: ...  # name, n_layers, d_model, card, layers

    def part(self, model: str, dataset: str, layer: int, kind: str) -> Result: ...  # a finished job's result

    def model(self, name: str) -> Any: ...  # the loaded interp.Model (shard-map jobs)

    def parts(self, model: str, dataset: str) -> list[Part]: ...  # a shard-map dataset's parts, in item order


class Analysis:
    """The definition of one analysis, as ``interp run`` runs it (see the module docstring).

    A subclass sets the class attributes and implements the methods; ``job`` is a probe job with
    ``model``, ``dataset``, ``layer`` and ``probe`` (the kind) attributes.

    Attributes:
        name: the task name (``task = "..."`` in a spec); metrics: the summary's metric columns;
        headline: the metric the report plots by layer; kinds: the probe kinds ``[probe].kinds`` accepts
        (default: the first); data_keys / probe_keys: the keys ``[data]`` / ``[probe]`` accept besides
        ``[probe].layers`` and ``kinds``; add_embeddings: whether layer 0 is always probed (a baseline).
    """

    name: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]
    headline: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    data_keys: ClassVar[tuple[str, ...]] = ()
    probe_keys: ClassVar[tuple[str, ...]] = ()
    add_embeddings: ClassVar[bool] = False

    # ---------------------------------------------------------------- the spec's tables
    def read_data(self, table: dict[str, Any], check: Any, base: Path) -> dict[str, Any]:
        """``[data]`` validated, defaults filled in (``check``: the spec's checker; ``base``: relative paths' folder)."""
        return dict(table)

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        """``[probe]`` without ``layers``, validated, defaults filled in; the default checks ``kinds`` only."""
        return {**table, "kinds": check.choices(table.get("kinds", [self.kinds[0]]), self.kinds, "probe.kinds")}

    # ---------------------------------------------------------------- 1. inputs
    def datasets(self, spec: Any) -> list[str]:
        """The datasets' keys, in order."""
        raise NotImplementedError

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        """The model-independent :class:`Inputs` of ``dataset``."""
        raise NotImplementedError

    def position(self, spec: Any) -> str:
        """The ``position`` of :func:`interp.activations.collect` (``"last"``, ``"mean"``, ``"word_last"``, ...)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- 2. per layer
    def fit(self, run: RunView, job: Any) -> Result:
        """One probe job's result (saved as the job's file)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- 3. assembly
    def assemble(self, run: RunView, model: str) -> list[tuple[str, Result]]:
        """The finished results of one model: ``[(file stem, result), ...]``."""
        raise NotImplementedError

    def rows(self, run: RunView, model: str, result: Result) -> list[dict[str, Any]]:
        """Summary rows of an assembled result: task, model, dataset, probe, layer, depth, then the metrics."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={getattr(self, 'name', '?')!r})"


PART_FORMAT = "interp.part"


def _plain(value: Any) -> Any:
    """A numpy scalar in a part's ``meta`` as its Python value (anything else not JSON-native is refused)."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    raise TypeError(f"A batch part's meta must be JSON-native; got {type(value).__name__}.")


@dataclasses.dataclass
class Part:
    """What one shard-map job returns and commits: numpy arrays and JSON-native ``meta``.

    Saved as one safetensors file (the arrays; ``meta`` as JSON in its header), written atomically: a part
    is on disk whole or not at all, and loading it never runs code.

    Attributes:
        arrays: name -> numpy array (numeric dtypes).
        meta: JSON-native values (str, int, float, bool, None, lists and dicts of those).
    """

    arrays: dict[str, Any] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the part to ``path`` atomically; returns the path."""
        import numpy as np
        from safetensors.numpy import save

        from interp.results import atomic_write_bytes

        arrays = {k: np.ascontiguousarray(v) for k, v in self.arrays.items()}
        arrays["__part__"] = np.zeros(1, dtype=np.int8)  # safetensors needs one tensor; marks the format
        header = {"format": PART_FORMAT, "meta": json.dumps(self.meta, default=_plain)}
        return atomic_write_bytes(path, save(arrays, metadata=header))

    @classmethod
    def load(cls, path: str | Path) -> Part:
        """Read a part :meth:`save` wrote. Raises :class:`~interp.errors.InvalidResultFileError` for anything else."""
        from safetensors.numpy import load

        from interp.errors import InvalidResultFileError

        try:
            raw = Path(path).read_bytes()
            arrays = load(raw)
            length = int.from_bytes(raw[:8], "little")
            header = json.loads(raw[8:8 + length]).get("__metadata__", {})
        except Exception as exc:  # OSError, SafetensorError, JSON errors: a broken or foreign file
            raise InvalidResultFileError(f"{path} is not a saved batch part ({type(exc).__name__}: {exc}).") from None
        if header.get("format") != PART_FORMAT:
            raise InvalidResultFileError(f"{path} is not a saved batch part (format {header.get('format')!r}).")
        arrays.pop("__part__", None)
        return cls(arrays, json.loads(header["meta"]))


class ShardMapAnalysis(Analysis):
    """An analysis whose inputs are items cut into shards, one job per shard (see the module docstring).

    A subclass sets ``name``, ``metrics``, ``headline``, ``data_keys`` / ``probe_keys`` and implements
    ``read_data``, ``read_probe``, ``datasets``, ``inputs`` (``payload``: the list of items), :meth:`map_shard`,
    ``assemble`` (from ``run.parts(model, dataset)``) and ``rows``. ``[probe]`` holds the analysis's options
    (it never names probe kinds); ``[extract].shard_size`` the items per shard.

    Attributes:
        shard_size: items per shard unless the spec's ``[extract].shard_size`` says otherwise.
        shard_multiple: shard sizes are rounded up to a multiple of this (so each shard's passes are the
            library function's passes, e.g. the lens fit's texts per step).
        unit: what an item is, for progress and messages ("pairs", "questions", ...).
    """

    kinds: ClassVar[tuple[str, ...]] = ()
    shard_size: ClassVar[int] = 16
    shard_multiple: ClassVar[int] = 1
    unit: ClassVar[str] = "items"

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        """``[probe]``: the analysis's options (the default accepts none)."""
        if "kinds" in table:
            raise check.fail("probe.kinds", f"task {self.name!r} fits no probes; it takes no kinds.")
        return dict(table)

    def position(self, spec: Any) -> str:  # no activations are extracted
        return "last"

    def n_items(self, inputs: Inputs) -> int:
        """How many items ``inputs`` holds (default: ``len(inputs.payload)``)."""
        return len(inputs.payload)

    def shard_bounds(self, spec: Any, n_items: int) -> list[tuple[int, int]]:
        """``[(start, stop), ...]`` of the shards of ``n_items`` items."""
        size = spec.extract.get("shard_size") or self.shard_size
        size = -(-size // self.shard_multiple) * self.shard_multiple
        return [(a, min(a + size, n_items)) for a in range(0, n_items, size)]

    def map_shard(self, run: RunView, model: str, dataset: str, start: int, stop: int) -> Part:
        """The work on items ``start:stop`` of ``dataset`` with ``run.model(model)``: the shard's :class:`Part`."""
        raise NotImplementedError

    def fit(self, run: RunView, job: Any) -> Result:  # no probe jobs
        raise NotImplementedError(f"{self.name} is a shard-map analysis: it has no probe jobs")


# ----------------------------------------------------------------------------- the registry
def register(analysis: Analysis) -> Analysis:
    """Make ``analysis`` runnable as ``task = analysis.name`` (in this process); returns it.

    Raises:
        InvalidParameterError: not an :class:`Analysis`, or its name is taken by another one.
    """
    if not isinstance(analysis, Analysis):
        raise InvalidParameterError(f"The 'analysis' parameter of register must be an interp.analysis.Analysis. "
                                    f"Got {type(analysis).__name__} instead.")
    name = getattr(analysis, "name", None)
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"{type(analysis).__name__}.name must be a non-empty str. Got {name!r} instead.")
    current = _REGISTRY.get(name)
    if current is not None and current is not analysis and not (isinstance(current, str) and
                                                                _resolve(current) is analysis):
        raise InvalidParameterError(f"An analysis named {name!r} is already registered ({_describe(current)}); "
                                    "give yours another name.")
    _REGISTRY[name] = analysis
    return analysis


def unregister(name: str) -> None:
    """Remove a registered analysis (built-in ones cannot be removed)."""
    if name in BUILTIN:
        raise InvalidParameterError(f"{name!r} is a built-in analysis; it cannot be unregistered.")
    _REGISTRY.pop(name, None)


def analysis_names() -> tuple[str, ...]:
    """The task names ``interp run`` accepts, built-in ones first."""
    return tuple(_REGISTRY)


def get_analysis(name: str) -> Analysis:
    """The registered :class:`Analysis` called ``name`` (a built-in one is imported on first use).

    Raises:
        InvalidParameterError: no analysis has that name (the message lists them).
    """
    if name not in _REGISTRY:
        raise InvalidParameterError(f"Unknown analysis {name!r}. Available analyses: {choices_text(_REGISTRY)}.")
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        entry = _REGISTRY[name] = _resolve(entry)
    return entry


def _resolve(target: str) -> Analysis:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _describe(entry: Analysis | str) -> str:
    return entry if isinstance(entry, str) else f"{type(entry).__module__}.{type(entry).__qualname__}"

