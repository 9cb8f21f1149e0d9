"""Run specs: a TOML file that says what to probe, on which models, layers and data.

A spec names a ``task`` and fills three tables, ``[data]`` (what to read), ``[probe]`` (which probes,
at which layers) and ``[extract]`` (how to run the model). Everything has a default except ``task``::

    task = "truth_sweep"                 # "truth_sweep", "pos" or "world_map"
    models = ["SmolLM2-135M-Instruct-Q4_1"]   # one name or a list ("default" = SmolLM2-135M-Instruct-Q4_1)
    seed = 0
    out = "runs/truth"                   # where `interp run` writes (relative to the current folder)

    [data]
    datasets = "all"                     # built-in names (interp.truth.DATASETS) or CSV paths
    max_pairs = 300

    [probe]
    layers = "all"                       # "all", a list [0, 6, 12] or a range "0:31:3"
    kinds = ["linear", "mm", "ccs"]

Where the jobs run is not part of what a run computes: ``executor = "local"`` (the default, this
process) or ``"ray"`` with an optional ``[ray]`` table (``address``, ``workers``, ``gpus_per_worker``;
:mod:`interp.batch.ray_executor`). A run started with one executor can be resumed with the other.

:func:`load_spec` validates it all at once: an unknown key, a wrong type or value or a missing
file raises :class:`~interp.errors.InvalidSpecError` naming the key
(``spec.toml: [probe].kinds: ...``); layers are checked against each model when the run loads it.
Relative input paths are resolved against the spec file's folder. The task names and what each
task's ``[data]`` and ``[probe]`` tables accept come from the analyses' own definitions
(:mod:`interp.analysis`: ``data_keys``, ``probe_keys``, ``read_data``, ``read_probe``).

Example:
    >>> from interp.batch import load_spec
    >>> spec = load_spec("probes/truth_sweep.toml", overrides={"data.max_pairs": 50})
    >>> spec.task, spec.models, spec.data["max_pairs"]
    ('truth_sweep', ('SmolLM2-135M-Instruct-Q4_1',), 50)
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.analysis import analysis_names, get_analysis, spec_error
from interp.errors import InvalidSpecError, choices_text

__all__ = ["EXECUTORS", "RunSpec", "load_spec", "model_slug", "parse_layers", "resolve_spec_layers"]

EXECUTORS = ("local", "ray")
# Spec keys that do not change what a run computes: a folder's run may be resumed with other values.
NOT_IDENTITY = ("out", "description", "executor", "ray")
DEFAULT_MODEL = "SmolLM2-135M-Instruct-Q4_1"  # = interp.models._cache.DEFAULT_MODEL (kept import-free)
_MISSING = object()


# ----------------------------------------------------------------------------- the spec
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """A validated, normalised spec: every key present, paths absolute.

    Attributes:
        task: the analysis, a name registered in :mod:`interp.analysis` ("truth_sweep", "pos", "world_map", ...).
        models: model names, in order (``"default"`` and the pre-0.2 name "SmolLM2-135M-Instruct" normalised
            to SmolLM2-135M-Instruct-Q4_1).
        seed: seed of every sample, split and probe initialisation.
        out: the output folder named in the spec, or None (``interp run --out`` overrides it).
        description: free text shown in the report.
        data, probe, extract: the three tables, with defaults filled in.
        source: the spec file, or ``"<dict>"``.
        executor: where the jobs run, ``"local"`` or ``"ray"``; ray: the ``[ray]`` table (``address``,
            ``workers``, ``gpus_per_worker``). Neither is part of the run's identity.
    """

    task: str
    models: tuple[str, ...]
    seed: int
    out: str | None
    description: str
    data: dict
    probe: dict
    extract: dict
    source: str = "<dict>"
    executor: str = "local"
    ray: dict = dataclasses.field(default_factory=lambda: dict(_RAY_DEFAULTS))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON data (what run.json stores; ``load_spec`` accepts it back)."""
        return {"task": self.task, "models": list(self.models), "seed": self.seed, "out": self.out,
                "description": self.description, "data": copy.deepcopy(self.data),
                "probe": copy.deepcopy(self.probe), "extract": copy.deepcopy(self.extract),
                "executor": self.executor, "ray": copy.deepcopy(self.ray)}

    def identity(self) -> dict[str, Any]:
        """What must match for a folder's run to be resumed: the spec without ``out``, ``description`` and
        the executor settings (:data:`NOT_IDENTITY`)."""
        return {k: v for k, v in self.to_dict().items() if k not in NOT_IDENTITY}

    def hash(self) -> str:
        """sha256 of :meth:`identity` (hex)."""
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode("utf-8")).hexdigest()

    def differences(self, other: Mapping[str, Any]) -> list[str]:
        """``["data.max_pairs: 300 here, 50 there", ...]`` against another spec's :meth:`identity`."""
        return _differences(self.identity(), dict(other), "")


def _differences(a: Any, b: Any, prefix: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key, _MISSING), b.get(key, _MISSING), f"{prefix}{key}.")
        return out
    if a == b:
        return []
    def show(v: Any) -> str:
        return "(absent)" if v is _MISSING else json.dumps(v)

    return [f"{prefix[:-1]}: {show(a)} here, {show(b)} in the folder"]


# ----------------------------------------------------------------------------- field checks
class _Checker:
    """Raises InvalidSpecError with the spec's source and the key in every message."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> InvalidSpecError:
        return spec_error(self.source, key, message)

    def path(self, value: str, base: Path) -> Path:
        """``value`` (``~`` expanded) as an absolute path, relative ones taken from ``base`` (the spec's folder)."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (base / path).resolve()

    def keys(self, table: Mapping[str, Any], allowed: Mapping[str, Any], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                table = f" in [{prefix[:-1]}]" if prefix else ""
                raise self.fail(prefix + str(key), f"unknown key. Allowed keys{table}: {', '.join(allowed)}.{hint}")

    def int(self, value: Any, key: str, *, low: int | None = None, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        bound = f" >= {low}" if low is not None else ""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an int{bound}{' (or left out)' if optional else ''}. "
                                 f"Got {value!r} ({type(value).__name__}).")
        if low is not None and value < low:
            raise self.fail(key, f"must be an int{bound}. Got {value}.")
        return value

    def fraction(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise self.fail(key, f"must be a number in (0, 1). Got {value!r} ({type(value).__name__}).")
        return float(value)

    def bool(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false. Got {value!r} ({type(value).__name__}).")
        return value

    def str(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string. Got {value!r} ({type(value).__name__}).")
        return value

    def choice(self, value: Any, choices: tuple[str, ...], key: str) -> str:
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise self.fail(key, f"must be one of {choices_text(choices)}. Got {value!r}.{hint}")
        return value

    def names(self, value: Any, key: str) -> list[str]:
        """A string or a non-empty list of strings, without repeats."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise self.fail(key, f"must be a string or a non-empty list of strings. Got {value!r}.")
        repeated = sorted({v for v in items if items.count(v) > 1})
        if repeated:
            raise self.fail(key, f"lists {repeated} more than once.")
        return list(items)

    def choices(self, value: Any, choices: tuple[str, ...], key: str) -> list[str]:
        items = self.names(value, key)
        for item in items:
            self.choice(item, choices, key)
        return items


def parse_layers(value: Any, *, check: _Checker | None = None, key: str = "probe.layers") -> str | list[int]:
    """``"all"``, an int, a list of ints, a comma list or a range string ``"start:stop[:step]"`` -> ``"all"`` or
    sorted ints: :func:`interp._validation.parse_layers` (the CLI's ``--layers`` reader), without negative layers
    (a spec is read before any model's depth is known).

    Example:
        >>> parse_layers("0:31:10"), parse_layers([3, 1]), parse_layers("all")
        ([0, 10, 20, 30], [1, 3], 'all')
    """
    from interp._validation import parse_layers as parse

    check = check or _Checker("<spec>")
    return parse(value, where=None, name=key, negative=False, error=lambda message: check.fail(key, message))


def resolve_spec_layers(spec: RunSpec, model_name: str, n_layers: int, *, add_embeddings: bool = False) -> list[int]:
    """The spec's ``[probe].layers`` for a model of ``n_layers`` blocks (valid layers: 0..n_layers).

    Raises:
        InvalidSpecError: a layer beyond the model's last (the message names the model and the range).
    """
    layers = spec.probe["layers"]
    resolved = list(range(n_layers + 1)) if layers == "all" else list(layers)
    too_deep = [layer for layer in resolved if layer > n_layers]
    if too_deep:
        which = f"layer {too_deep[0]} is" if len(too_deep) == 1 else f"layers {too_deep} are"
        raise _Checker(spec.source).fail("probe.layers", f"{which} out of range for {model_name} (0..{n_layers}: "
                                                         f"0 is the embeddings, {n_layers} the last block's output).")
    return sorted({0, *resolved}) if add_embeddings else resolved


# ----------------------------------------------------------------------------- tables
_TOP = ("task", "models", "seed", "out", "description", "data", "probe", "extract", "executor", "ray")
_EXTRACT = ("batch_size", "shard_size", "device", "dtype")
_RAY_DEFAULTS = {"address": None, "workers": None, "gpus_per_worker": 0.0}
_ADDRESS = re.compile(r"[^\s:/]+:\d{1,5}")


# ----------------------------------------------------------------------------- loading
def load_spec(spec: str | os.PathLike | Mapping[str, Any] | RunSpec, *,
              overrides: Mapping[str, Any] | None = None) -> RunSpec:
    """Read and validate a spec: a TOML file path, a dict of the same shape, or a :class:`RunSpec`.

    Args:
        spec: the spec.
        overrides: dotted keys to set before validation, e.g. ``{"data.max_pairs": 50, "models": ["tiny-gpt2"]}``.

    Returns:
        :class:`RunSpec`, every default filled in.

    Raises:
        InvalidSpecError: not TOML, an unknown key, a wrong type or value, a missing dataset file; the
            error's ``key`` is the dotted key (``"data.datasets"``) and the message names it.
    """
    if isinstance(spec, RunSpec):
        if not overrides:
            return spec
        spec, source, base = spec.to_dict(), spec.source, Path.cwd()
    elif isinstance(spec, Mapping):
        spec, source, base = copy.deepcopy(dict(spec)), "<dict>", Path.cwd()
    elif isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        source, base = str(spec), path.resolve().parent
        if not path.is_file():
            raise InvalidSpecError(f"{source}: no such spec file.", source=source)
        import tomllib

        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidSpecError(f"{source}: not valid TOML ({exc}).", source=source) from None
    else:
        raise InvalidSpecError(f"A spec must be a TOML file path or a dict. Got {type(spec).__name__}.")
    check = _Checker(source)
    for dotted, value in (overrides or {}).items():
        _set(spec, str(dotted), value, check)
    return _validate(spec, check, base)


def _set(spec: dict[str, Any], dotted: str, value: Any, check: _Checker) -> None:
    *tables, name = dotted.split(".")
    if len(tables) > 1 or (tables and tables[0] not in ("data", "probe", "extract", "ray")):
        raise check.fail(dotted, "cannot be overridden: give a top-level key or data.KEY, probe.KEY, extract.KEY "
                                 "or ray.KEY.")
    target = spec
    for table in tables:
        target = target.setdefault(table, {})
        if not isinstance(target, dict):
            raise check.fail(table, "must be a table.")
    target[name] = value


def _validate(raw: dict[str, Any], check: _Checker, base: Path) -> RunSpec:
    check.keys(raw, dict.fromkeys(_TOP), "")
    if "task" not in raw:
        raise check.fail("task", f"missing: say which analysis to run ({choices_text(analysis_names())}).")
    task = check.choice(raw["task"], analysis_names(), "task")
    analysis = get_analysis(task)
    tables = {}
    for name in ("data", "probe", "extract", "ray"):
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise check.fail(name, f"must be a table ([{name}]). Got {table!r}.")
        tables[name] = table
    check.keys(tables["data"], dict.fromkeys(analysis.data_keys), "data.")
    check.keys(tables["probe"], dict.fromkeys(("layers", *dict.fromkeys(("kinds", *analysis.probe_keys)))), "probe.")
    check.keys(tables["extract"], dict.fromkeys(_EXTRACT), "extract.")
    check.keys(tables["ray"], _RAY_DEFAULTS, "ray.")

    models = [DEFAULT_MODEL if m in ("default", "SmolLM2-135M-Instruct") else m
              for m in check.names(raw.get("models", DEFAULT_MODEL), "models")]
    for i, name in enumerate(models):
        if name.startswith(("./", "../", "/", "~")):
            path = check.path(name, base)
            if not path.is_dir():
                raise check.fail("models", f"no model folder {name!r} (looked for {path}).")
            models[i] = str(path)
    if len(set(models)) != len(models):
        raise check.fail("models", f"lists a model twice: {models}.")
    slugs = [model_slug(m) for m in models]
    if len(set(slugs)) != len(slugs):
        raise check.fail("models", f"two models would share the folder name {slugs}; give distinct names.")
    seed = check.int(raw.get("seed", 0), "seed", low=0)
    out = raw.get("out")
    if out is not None:
        out = check.str(out, "out")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise check.fail("description", f"must be a string. Got {description!r}.")

    data = analysis.read_data(tables["data"], check, base)
    probe = {"layers": parse_layers(tables["probe"].get("layers", "all"), check=check),
             **analysis.read_probe({k: v for k, v in tables["probe"].items() if k != "layers"}, check)}
    ex = tables["extract"]
    extract = {"batch_size": check.int(ex.get("batch_size"), "extract.batch_size", low=1, optional=True),
               "shard_size": check.int(ex.get("shard_size"), "extract.shard_size", low=1, optional=True),
               "device": None if ex.get("device") is None else check.str(ex["device"], "extract.device"),
               "dtype": check.choice(ex.get("dtype", "float32"), ("float32", "float16", "bfloat16", "float64"),
                                     "extract.dtype")}
    executor = check.choice(raw.get("executor", "local"), EXECUTORS, "executor")
    return RunSpec(task=task, models=tuple(models), seed=seed, out=out, description=description, data=data,
                   probe=probe, extract=extract, source=check.source, executor=executor,
                   ray=_ray_table(tables["ray"], check))


def _ray_table(table: dict[str, Any], check: _Checker) -> dict[str, Any]:
    """``[ray]``: ``address`` ("auto", "local" or "HOST:PORT"), ``workers`` (>= 1), ``gpus_per_worker`` (>= 0)."""
    address = table.get("address")
    if address is not None and (not isinstance(address, str)
                                or not (address in ("auto", "local") or _ADDRESS.fullmatch(address))):
        raise check.fail("ray.address", f"must be 'auto' (the cluster this machine belongs to), 'local' (a new Ray "
                                        f"instance on this machine) or 'HOST:PORT' of a head node. Got {address!r}.")
    gpus = table.get("gpus_per_worker", 0.0)
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
        raise check.fail("ray.gpus_per_worker", f"must be a number >= 0 (a fraction shares a GPU). Got {gpus!r}.")
    return {"address": address, "workers": check.int(table.get("workers"), "ray.workers", low=1, optional=True),
            "gpus_per_worker": float(gpus)}


def model_slug(name: str) -> str:
    """A folder name for a model: its last path part, anything but letters, digits, ``.``, ``_``, ``-`` replaced."""
    tail = Path(name).name if name.startswith(("/", "~", ".")) else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tail).strip("_.") or "model"
