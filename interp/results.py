"""One results format for every analysis.

Every analysis in interp returns a dataclass that inherits from :class:`Result`. The base gives each
of them the same five doors out, so the notebook, the CLI and the Streamlit explorer handle any
result the same way:

- ``result.to_frame()``: a tidy :class:`pandas.DataFrame`;
- ``result.plot()``: a :class:`plotly.graph_objects.Figure` (returned, never shown);
- ``result.save(path)`` and ``Result.load(path)``: one JSON file, written atomically;
- ``result._repr_html_()``: a rich view in Jupyter;
- ``result.to_html(path=None)``: a self-contained page (plotly.js embedded, no CDN).

The saved file is plain JSON. Scalar and list fields are stored as JSON; every :class:`numpy.ndarray`
field is stored in one safetensors blob, base64-encoded inside the same JSON file::

    {"format": "interp.result", "schema_version": 1, "kind": "TopTokensResult",
     "interp_version": "0.2.0", "fields": {...}, "arrays": {"encoding": "safetensors+base64", "data": "..."}}

The ``kind`` is the result type's registered name (:attr:`Result.kind`, the class name unless the class
sets another), not its module path, so moving a class to another module does not orphan saved files.
Files written before interp 0.2 name their kind by module path (``"interp.models.model.TopTokensResult"``);
:data:`LEGACY_KINDS` maps each of those paths to today's name, and they load as before.

Loading never runs code from the file: JSON and safetensors are data-only formats, and the ``kind``
is only looked up among registered :class:`Result` subclasses; the one module it may import to find
a type is the ``interp`` module that :data:`KIND_MODULES` names for it, never a module the file names.

Example:
    >>> import numpy as np
    >>> from interp.results import Result
    >>> from interp.models.model import TopTokensResult
    >>> r = TopTokensResult(prompt="Hi", tokens=[" there"], token_ids=np.array([1]), probs=np.array([0.5]),
    ...                     logits=np.array([3.0]), model_name="tiny-gpt2")
    >>> r.save("/tmp/top.json"); Result.load("/tmp/top.json") == r
    True
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import html
import importlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.errors import InvalidResultFileError, ResultKindError

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

__all__ = ["Result", "load_result", "atomic_path", "atomic_write_bytes", "SCHEMA_VERSION", "KIND_MODULES",
           "LEGACY_KINDS"]

FORMAT_NAME = "interp.result"
SCHEMA_VERSION = 1
_REGISTRY: dict[str, type[Result]] = {}

#: Registered kind -> the interp module that defines it, so a file can be loaded in a fresh process
#: without importing every analysis. A new result type adds its line here (tests/test_results.py
#: checks that the table and the classes agree).
KIND_MODULES: dict[str, str] = {
    "TopTokensResult": "interp.models.model",
    "AttributionResult": "interp.attribution.result",
    "AttentionResult": "interp.attribution.result",
    "FaithfulnessResult": "interp.attribution.result",
    "MethodComparisonResult": "interp.attribution.result",
    "ProbeSweepResult": "interp.probing.sweep",
    "POSProbeResult": "interp.probing.pos.result",
    "ProjectionResult": "interp.projection.scatter",
    "WorldMapResult": "interp.projection.world.result",
    "TruthSweepResult": "interp.truth.sweep.result",
    "GeneralizationResult": "interp.truth.sweep.result",
    "TruthScoreResult": "interp.truth.detector",
    "LieDetectionResult": "interp.truth.lies",
    "SteeringResult": "interp.truth.steering",
    "WorldMapLayerResult": "interp.projection.world.result",
    "TruthReport": "interp.truth.report",
    "ReplicationResult": "interp.replication",
    "CalibrationResult": "interp.ask.calibration",
    "HintResult": "interp.ask.hints",
    "SelfReportResult": "interp.ask.selfreport",
    "LensResult": "interp.lens.result",
    "LensDivergenceResult": "interp.lens.evaluate",
    "LensFitResult": "interp.lens.batch",
    "PatchingResult": "interp.patching.activation",
    "PatchingPairsResult": "interp.patching.batch",
    "CausalTraceResult": "interp.patching.tracing",
    "AttributionPatchingResult": "interp.patching.attribution",
    "TrainingAttributionResult": "interp.data_attribution.attribute",
    "AttributionEvaluationResult": "interp.data_attribution.evaluate",
    "DLAResult": "interp.circuits.dla",
    "EdgeAttributionResult": "interp.circuits.eap",
    "SAETrainingResult": "interp.features.train",
    "SAELayerResult": "interp.features.train",
    "SAEEvaluationResult": "interp.features.evaluate",
    "FeatureDashboard": "interp.features.dashboard",
    "FeatureLabelsResult": "interp.features.labels",
    "FeatureAttributionResult": "interp.features.use",
    "FeatureSteeringResult": "interp.features.use",
    "ProbeFeatureResult": "interp.features.use",
    "SteeringVector": "interp.steering.vectors",
    "SteeredGenerations": "interp.steering.apply",
    "SteeringSweepResult": "interp.steering.sweep",
}

#: The module-path kinds that interp < 0.2 wrote, each mapped to today's registered kind. Frozen:
#: a class that moves keeps its old path here (and gets its new module in :data:`KIND_MODULES`).
LEGACY_KINDS: dict[str, str] = {
    "interp.models.model.TopTokensResult": "TopTokensResult",
    "interp.attribution.result.AttributionResult": "AttributionResult",
    "interp.attribution.result.AttentionResult": "AttentionResult",
    "interp.attribution.result.FaithfulnessResult": "FaithfulnessResult",
    "interp.attribution.result.MethodComparisonResult": "MethodComparisonResult",
    "interp.probing.sweep.ProbeSweepResult": "ProbeSweepResult",
    "interp.probing.pos.POSProbeResult": "POSProbeResult",
    "interp.projection.scatter.ProjectionResult": "ProjectionResult",
    "interp.projection.world.WorldMapResult": "WorldMapResult",
    "interp.truth.sweep.TruthSweepResult": "TruthSweepResult",
    "interp.truth.sweep.GeneralizationResult": "GeneralizationResult",
    "interp.truth.detector.TruthScoreResult": "TruthScoreResult",
    "interp.truth.detector.LieDetectionResult": "LieDetectionResult",
    "interp.truth.steering.SteeringResult": "SteeringResult",
    "interp.batch.tasks.WorldMapLayerResult": "WorldMapLayerResult",
}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; when the block succeeds, fsync it and rename it to ``path``.

    A reader sees either the old file or the whole new one, never a half-written file, even if the
    process is killed mid-write; on an error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars and tuples so ``json.dumps`` accepts a field and round-trips it."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _register(cls: type[Result]) -> None:
    """Register ``cls`` under its kind (the class name unless the class body sets ``kind``).

    Two different classes may not share a kind; the same class defined again (a module reloaded, a
    class local to a function called twice) replaces its earlier self.
    """
    kind = cls.__dict__.get("kind", cls.__name__)
    if not isinstance(kind, str) or not kind or "." in kind:
        raise ResultKindError(f"The kind of result type {cls.__qualname__} must be a non-empty name "
                                       f"without dots. Got {kind!r} instead.")
    cls.kind = kind
    earlier = _REGISTRY.get(kind)
    if earlier is not None and (earlier.__module__, earlier.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ResultKindError(
            f"Result kind {kind!r} of {cls.__module__}.{cls.__qualname__} is already registered by "
            f"{earlier.__module__}.{earlier.__qualname__}; give one of them another name (class attribute 'kind').")
    _REGISTRY[kind] = cls


@dataclasses.dataclass(eq=False)
class Result:
    """Base of every analysis result. Subclasses are dataclasses declared with ``eq=False``.

    Fields holding :class:`numpy.ndarray` are saved as arrays; every other field must be JSON-native
    (str, int, float, bool, None, and lists or dicts of those). Torch tensors given to a field are
    converted to numpy on construction.

    Attributes:
        model_card: which weights produced the result (:func:`interp.models.card.model_card`: name,
            source file, quantization, dtype, SHA-256 fingerprint); ``{}`` for results that come from no
            model or were saved by interp < 0.2. Keyword-only, in every result type.
    """

    title: ClassVar[str] = "Result"
    #: The registered name saved files use for this type (see the module docstring); the class name
    #: unless a subclass sets it. Unique among result types.
    kind: ClassVar[str] = "Result"
    model_card: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)
        own = cls.__dict__.get("summary")
        if own is not None and not getattr(own, "_leads_with_caveats", False):
            cls.summary = _leading_with_caveats(own)  # every summary() leads with the result's caveats()

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if type(value).__module__ == "torch" and hasattr(value, "detach"):
                setattr(self, field.name, value.detach().cpu().numpy())

    # ----------------------------------------------------------------- overridable views
    def to_frame(self) -> DataFrame:
        """Return the result as a tidy :class:`pandas.DataFrame`. Subclasses override this."""
        import pandas as pd

        rows = {k: v for k, v in self._json_fields().items() if not isinstance(v, (list, dict))}
        return pd.DataFrame([rows])

    def plot(self) -> Figure:
        """Return a :class:`plotly.graph_objects.Figure`. Subclasses override this."""
        import plotly.graph_objects as go

        frame = self.to_frame()
        return go.Figure(go.Table(header={"values": list(frame.columns)},
                                  cells={"values": [frame[c].tolist() for c in frame.columns]}))

    def summary(self) -> str:
        """One line that says what this result is; shown above tables and plots. It leads with
        :meth:`caveats` when there are any (every subclass's ``summary`` does: the base wraps it)."""
        return self.title

    def caveats(self) -> list[str]:
        """Sentences saying when this result's headline number means nothing, or what to do instead: accuracy
        at chance level, no lies produced, a baseline not beaten, an interval that holds 0, a known trap of the
        method. Empty when the number stands. ``summary()``, the CLI and the explorer lead with them.
        Subclasses override this."""
        return []

    def plain_summary(self) -> str:
        """:meth:`summary` without the caveats in front (for a page that shows the caveats in their own box)."""
        method = type(self).summary
        return getattr(method, "__wrapped__", method)(self)

    def figures(self) -> list:
        """Every figure that shows this result, main one first (the HTML export and the explorer show them all).
        Subclasses with more than :meth:`plot` override this."""
        return [self.plot()]

    def tables(self) -> list[tuple[str, Any]]:
        """``(heading, DataFrame)`` for every table that shows this result, :meth:`to_frame` first."""
        return [("", self.to_frame())]

    # ----------------------------------------------------------------- equality
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for field in dataclasses.fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
                    return False
                if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    return False
            elif json.dumps(_jsonable(a), sort_keys=True) != json.dumps(_jsonable(b), sort_keys=True):
                return False
        return True

    __hash__ = None  # mutable dataclass with arrays

    # ----------------------------------------------------------------- saving and loading
    def _array_fields(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if isinstance(getattr(self, f.name), np.ndarray)}

    def _json_fields(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not isinstance(getattr(self, f.name), np.ndarray)}

    def to_json(self) -> str:
        """Serialise to the saved JSON text (what :meth:`save` writes)."""
        from safetensors.numpy import save as save_arrays

        arrays = {k: np.ascontiguousarray(v) for k, v in self._array_fields().items()}
        for name, array in arrays.items():
            if array.dtype == object or array.dtype.kind in "USV":
                raise TypeError(f"Field {name!r} of {type(self).__name__} is a numpy array of {array.dtype}; "
                                "store strings as a list instead.")
        blob = base64.b64encode(save_arrays(arrays)).decode("ascii") if arrays else ""
        from interp import __version__

        document = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "kind": type(self).kind,
            "interp_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "fields": self._json_fields(),
            "arrays": {"encoding": "safetensors+base64", "names": sorted(arrays), "data": blob},
        }
        return json.dumps(document)

    def save(self, path: str | os.PathLike) -> Path:
        """Save to ``path`` (a ``.json`` file) atomically; return the path written.

        If ``path`` ends in ``.html`` the self-contained page of :meth:`to_html` is written instead.
        """
        path = Path(path)
        if path.suffix.lower() in (".html", ".htm"):
            return atomic_write_bytes(path, self.to_html().encode("utf-8"))
        return atomic_write_bytes(path, self.to_json().encode("utf-8"))

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "<string>") -> Result:
        """Rebuild a result from the text :meth:`to_json` wrote. See :meth:`load`."""
        try:
            document = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidResultFileError(f"{source} is not a saved interp result: it is not valid JSON ({exc}).") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise InvalidResultFileError(
                f"{source} is not a saved interp result: its JSON has no \"format\": {FORMAT_NAME!r} entry.")
        version = document.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
            raise InvalidResultFileError(
                f"{source} has schema_version {version!r}; this interp reads versions 1 to {SCHEMA_VERSION}. "
                "Upgrade interp to read it.")
        kind = document.get("kind")
        target = _resolve_kind(kind, source)
        if cls is not Result and not issubclass(target, cls):
            raise InvalidResultFileError(f"{source} holds a {target.__name__}, not a {cls.__name__}.")
        fields = document.get("fields")
        arrays_doc = document.get("arrays") or {}
        if not isinstance(fields, dict) or not isinstance(arrays_doc, dict):
            raise InvalidResultFileError(f"{source} is not a valid interp result: 'fields' or 'arrays' is malformed.")
        arrays: dict[str, np.ndarray] = {}
        if arrays_doc.get("data"):
            if arrays_doc.get("encoding") != "safetensors+base64":
                raise InvalidResultFileError(f"{source}: unknown array encoding {arrays_doc.get('encoding')!r}; "
                                             "expected 'safetensors+base64'.")
            from safetensors.numpy import load as load_arrays

            try:
                arrays = load_arrays(base64.b64decode(arrays_doc["data"], validate=True))
            except Exception as exc:  # binascii.Error, SafetensorError: both mean a broken file
                raise InvalidResultFileError(f"{source}: its array data is corrupt ({exc}).") from None
        known = {f.name for f in dataclasses.fields(target)}
        values = {**fields, **arrays}
        missing = sorted(f.name for f in dataclasses.fields(target)
                         if f.init and f.name not in values
                         and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        unknown = sorted(set(values) - known)
        if missing or unknown:
            raise InvalidResultFileError(
                f"{source} does not match {target.__name__}: missing fields {missing}, unknown fields {unknown}.")
        try:
            return target(**values)
        except (TypeError, ValueError) as exc:
            raise InvalidResultFileError(f"{source} could not be rebuilt as a {target.__name__}: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Result:
        """Load a result saved by :meth:`save`. ``Result.load`` returns whatever kind the file holds;
        ``SomeResult.load`` also checks the kind. Raises :class:`~interp.errors.InvalidResultFileError`
        for anything that is not a valid saved result."""
        path = Path(path)
        if not path.is_file():
            raise InvalidResultFileError(f"{path} is not a saved interp result: no such file.")
        return cls.from_json(path.read_bytes(), source=str(path))

    # ----------------------------------------------------------------- HTML
    def _table_html(self, max_rows: int = 20) -> str:
        return _frame_html(self.to_frame(), max_rows)

    def _repr_html_(self) -> str:
        # plotly.js goes into every output: a notebook's outputs are cleared, re-run and reordered
        # independently, so one that relied on an earlier output's copy would draw nothing (no CDN here)
        figure = self.plot().to_html(full_html=False, include_plotlyjs=True)
        return (f"<div><b>{html.escape(type(self).__name__)}</b>: {html.escape(self.plain_summary())}{_caveats_html(self)}"
                f"{figure}<details><summary>table</summary>{self._table_html()}</details></div>")

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """Return a self-contained HTML page (plotly.js embedded once, nothing fetched) with every figure and
        table of the result; write it to ``path`` if given."""
        figures = "".join(fig.to_html(full_html=False, include_plotlyjs=i == 0) for i, fig in enumerate(self.figures()))
        tables = "".join((f"<h3>{html.escape(heading)}</h3>" if heading else "")
                         + _frame_html(frame, max_rows=200) for heading, frame in self.tables())
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(type(self).__name__)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
            f"<h2>{html.escape(self.title)}</h2>{_caveats_html(self)}<p>{html.escape(self.plain_summary())}</p>"
            f"{figures}{tables}</body></html>"
        )
        if path is not None:
            atomic_write_bytes(path, page.encode("utf-8"))
        return page


def _leading_with_caveats(summary: Any) -> Any:
    """Wrap a subclass's ``summary`` so that its text follows the result's caveats (each once)."""
    import functools

    @functools.wraps(summary)
    def wrapped(self: Result) -> str:
        text = summary(self)
        lead = [c for c in self.caveats() if c and c not in text]
        return " ".join([*lead, text]) if lead else text

    wrapped._leads_with_caveats = True
    return wrapped


def _caveats_html(result: Result) -> str:
    return "".join(f"<p class='interp-caveat' style='color:#8a4b00'><b>Caveat:</b> {html.escape(c)}</p>"
                   for c in result.caveats())


def _frame_html(frame: Any, max_rows: int) -> str:
    more = f"<p><i>{len(frame) - max_rows} more rows</i></p>" if len(frame) > max_rows else ""
    return frame.head(max_rows).to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0) + more


def _resolve_kind(kind: Any, source: str) -> type[Result]:
    """Find the Result subclass a file names: a registered kind, or a pre-0.2 module path from
    :data:`LEGACY_KINDS`. The only module it may import is the interp module :data:`KIND_MODULES` names."""
    if not isinstance(kind, str) or not kind:
        raise InvalidResultFileError(f"{source} names result kind {kind!r}, which is not an interp result type.")
    if "." in kind and not kind.startswith("interp."):
        raise InvalidResultFileError(f"{source} names result kind {kind!r}, which is not an interp result type.")
    name = LEGACY_KINDS.get(kind, kind)
    if name not in _REGISTRY and name in KIND_MODULES:
        importlib.import_module(KIND_MODULES[name])
    if name not in _REGISTRY:
        known = ", ".join(sorted(set(KIND_MODULES) | set(_REGISTRY)))
        raise InvalidResultFileError(f"{source} names result kind {kind!r}, which this interp does not know. Known: {known}.")
    return _REGISTRY[name]


def load_result(path: str | os.PathLike) -> Result:
    """Load any saved interp result (same as ``Result.load(path)``)."""
    return Result.load(path)
