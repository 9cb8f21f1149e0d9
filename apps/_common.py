"""Helpers shared by every page of the explorer: the sidebar model picker, caching and error display.

The explorer's entrypoint (``explorer.py``) calls :func:`model_sidebar` once per run, before the
page runs; a page gets the loaded model with :func:`current_model` and wraps each library call in
:func:`guarded`, which turns an :class:`interp.errors.InterpError` into an ``st.error`` box instead
of a traceback.

Caching: two functions, one for each kind of thing a page keeps.

* :func:`shared_model` (``st.cache_resource``): the loaded :class:`interp.Model`, once per process and name, the
  same object in every session. Sessions are threads of one process: a page runs it only through the library's
  functions and the Model's own methods (``model.run`` and the others hold ``model.lock``), or under
  ``with model.lock``.
* :func:`cached_result`: everything a page computes (a result, a fitted detector or SAE, a parsed upload),
  kept in this process under its kind, the weights fingerprint of the model it was computed on
  (:func:`interp.models.card.weights_fingerprint`) and the call's parameters; ``disk=True`` also keeps it in the
  explorer cache folder across restarts. The same inputs answer from the cache, a changed input or another model
  computes afresh. A miss shows a spinner or, inside ``compute``, a :func:`progress_bar` (drawn live: nothing is
  recorded and replayed).

Session state keeps what a session asked for, never a result: :func:`page_result` keeps the settings a form
last submitted and asks :func:`cached_result` for their result on every rerun (a hit), only while the sidebar
holds the model they were run on.

Example (a page script)::

    import _common

    loaded = _common.current_model()

    def run(prompt):
        return _common.cached_result("my_analysis", loaded.model, (prompt,), lambda: my_analysis(loaded.model, prompt),
                                     spinner="Analysing…")

    result = _common.guarded(run, prompt)
    if result is not None:
        _common.show_result(result, "my_analysis")
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import logging
import numbers
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

import interp
from interp import _paths
from interp.errors import InterpError
from interp.models.card import weights_fingerprint

__all__ = ["LoadedModel", "model_sidebar", "current_model", "guarded", "shared_model", "cached_result", "page_result",
           "kept_request", "LOCAL_PATH", "downloads", "chart", "show_result", "explorer_cache_dir", "StreamlitProgress",
           "progress_bar", "DEFAULTS_DIFFER", "defaults_note", "image_export_available", "figure_image",
           "NO_COMPARISON", "second_model", "escape"]

T = TypeVar("T")
LOCAL_PATH = "Local path…"
ENV_VAR = "INTERP_MODEL"  # the starting choice, e.g. INTERP_MODEL=tiny-gpt2 or a model directory
# where trained probes persist across sessions (default: <interp cache>/explorer)
CACHE_ENV_VAR = "INTERP_EXPLORER_CACHE"
_CHOICE_KEY = "interp_model_choice"  # session-state keys of the picker's widgets
_PATH_KEY = "interp_model_path"
_LOADED_KEY = "_interp_loaded_model"
_SEEN_KEY = "_interp_models_seen"  # the names this session loaded, the most recent last
NO_COMPARISON = "(none)"
TITLE_CHARS = 100  # about what one line of a full-width chart's title holds in the wide layout (1400 px window)
MIN_CHART_HEIGHT = 300  # px: below this a plot sized for a notebook has no room left between its margins
_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """The model the sidebar loaded.

    Attributes:
        key: the name it was loaded by (a built-in name or a directory path): what the sidebar shows, and what
            :func:`page_result` compares to tell whose result a kept request was (results are cached under the
            weights' fingerprint, :func:`cached_result`).
        model: the loaded :class:`interp.Model`.
    """

    key: str
    model: interp.Model


@st.cache_resource(show_spinner=False, max_entries=3)  # a few models at most: each holds its weights
def shared_model(name: str) -> interp.Model:
    """``interp.load_model(name)``, once per process and name: the same object in every session.

    The one cache of shared model objects. Sessions are threads of one process, so a page runs the model only
    through the library's functions and the Model's own methods (they hold ``model.lock``), or under
    ``with model.lock``. Everything computed from a model goes through :func:`cached_result`.
    """
    return interp.load_model(name, quiet=True)


def _model_choices() -> dict[str, str]:
    """Picker label -> name to load: the default model, the tiny models, HF-cache models (listed again after a
    minute: a model downloaded meanwhile appears)."""
    return cached_result("model_choices", None, (), _list_models, ttl=60)


def _list_models() -> dict[str, str]:
    choices = {}
    for row in interp.list_models():
        label = f"{row['name']} (default)" if row["kind"] == "default" else row["name"]
        choices[label] = row["name"]
    return choices


def _starting_choice(choices: dict[str, str]) -> tuple[str, str]:
    """(label, local path) to start from: $INTERP_MODEL if set, else the default model."""
    wanted = os.environ.get(ENV_VAR, "").strip()
    default_label = next(iter(choices))
    if not wanted or wanted == "default":
        return default_label, ""
    for label, name in choices.items():
        if wanted == name:
            return label, ""
    return LOCAL_PATH, wanted  # a directory (or a cached HF id): interp.load_model tells which it is


def guarded(fn: Callable[..., T], *args: Any, hint: str = "", **kwargs: Any) -> T | None:
    """Call ``fn(*args, **kwargs)``; on failure show ``st.error`` and return None.

    An :class:`~interp.errors.InterpError` (bad input) shows its message, which says what was
    wrong and what is allowed, followed by ``hint`` (what to do here). Any other exception is a bug:
    its traceback goes to the server log and the page shows one line, never the traceback.
    """
    try:
        return fn(*args, **kwargs)
    except InterpError as exc:
        st.error(_escape(str(exc)) + (f"\n\n{hint}" if hint else ""), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - the app must keep running; the log keeps the traceback
        _log.exception("explorer: %s failed", getattr(fn, "__name__", fn))
        st.error(_escape(f"Unexpected error in {getattr(fn, '__name__', 'the analysis')}: {type(exc).__name__}: {exc}")
                 + "\n\nThis is a bug in interp; the server log has the traceback.", icon=":material/bug_report:")
    return None


def _escape(text: str) -> str:
    """Backslash-escape Markdown (and Streamlit's $LaTeX$) in a message that quotes user input."""
    return re.sub(r"([\\`*_\[\]<>#|~$])", r"\\\1", text)


def escape(text: str) -> str:
    """``text`` as plain text inside ``st.markdown`` (Markdown and $LaTeX$ characters backslash-escaped): for model
    names, user input and intervals ("[0.1, 0.2]") written into Markdown."""
    return _escape(text)


def model_sidebar() -> LoadedModel | None:
    """Draw the sidebar model picker and load the chosen model; errors go to the main area.

    Call once per run from the entrypoint, before ``page.run()``. Pages read the result with
    :func:`current_model`.
    """
    choices = _model_choices()
    labels = [*choices, LOCAL_PATH]
    if _CHOICE_KEY not in st.session_state or st.session_state[_CHOICE_KEY] not in labels:
        st.session_state[_CHOICE_KEY], st.session_state[_PATH_KEY] = _starting_choice(choices)

    st.sidebar.title("interp explorer")
    choice = st.sidebar.selectbox("Model", labels, key=_CHOICE_KEY)
    if choice == LOCAL_PATH:
        name = st.sidebar.text_input("Model directory", key=_PATH_KEY, placeholder="/path/to/hf-model",
                                     help="A folder with config.json, tokenizer files and weights "
                                          "(what save_pretrained writes), or a model id already in the "
                                          "local Hugging Face cache. Folders are read only under the interp "
                                          "cache, the Hugging Face cache and $INTERP_MODELS_DIR.").strip()
        if name:  # a path must be under an allowed root (interp._paths.model_roots)
            name = guarded(_paths.check_model_choice, name,
                           hint="Pick a model above, or enter a folder under one of those roots.") or ""
    else:
        name = choices[choice]

    loaded = None
    if name:  # an empty "Model directory" box: nothing to load yet (current_model says so)
        with st.spinner(_loading_message(name)):
            model = guarded(shared_model, name, hint="Fix the path in the sidebar, or pick another model there.")
        if model is not None:
            loaded = LoadedModel(key=name, model=model)
            seen = [n for n in st.session_state.get(_SEEN_KEY, []) if n != name]
            st.session_state[_SEEN_KEY] = [*seen, name]
            st.sidebar.caption(f"{model.n_layers} layers · d_model {model.d_model} · n_ctx {model.n_ctx} · "
                               f"{model.device}")
    st.session_state[_LOADED_KEY] = loaded
    return loaded


def _loading_message(name: str) -> str:
    """The spinner's text: the default model's one-time build says what it does and how long it takes."""
    from interp.models import _cache

    if name in ("default", _cache.DEFAULT_MODEL) and _cache.check_cache(_cache.default_model_dir()) is not None:
        return (f"Building {_cache.DEFAULT_MODEL} from its GGUF file (de-quantizing, then caching as safetensors): "
                "about 20 s, once per machine…")
    return f"Loading {name}…"


def current_model(*, required: bool = True) -> LoadedModel | None:
    """The model picked in the sidebar; if none is loaded, say so and stop this page's run (``required=False``: return
    None instead, for a page part that works without a model)."""
    loaded = st.session_state.get(_LOADED_KEY)
    if loaded is None and required:
        st.info("No model is loaded: pick one in the sidebar, or enter a model directory there.",
                icon=":material/arrow_back:")
        st.stop()
    return loaded


def second_model(key: str, label: str = "Compare with", *, where: Any = None) -> LoadedModel | None:
    """A select box of the other models to show beside the sidebar's (``key``: its widget key; ``where``: a
    column), loaded as the sidebar loads one (once per process); None for :data:`NO_COMPARISON` or a failed load.

    It starts on the model this session loaded before the current one, if any (both are then loaded: the
    sidebar's model and the one it replaced), else on :data:`NO_COMPARISON`.
    """
    current = st.session_state.get(_LOADED_KEY)
    current_name = current.key if current is not None else None
    choices = {label_: name for label_, name in _model_choices().items() if name != current_name}
    for name in st.session_state.get(_SEEN_KEY, []):  # models loaded by path are offered too
        if name != current_name and name not in choices.values():
            choices[name] = name
    options = [NO_COMPARISON, *choices]
    if st.session_state.get(key) not in options:
        earlier = [n for n in st.session_state.get(_SEEN_KEY, []) if n != current_name]
        st.session_state[key] = next((lbl for lbl, n in choices.items() if earlier and n == earlier[-1]), NO_COMPARISON)
    choice = (where if where is not None else st).selectbox(
        label, options, key=key, help="A second model asked the same questions with the same settings; its figures "
                                      "show beside the sidebar model's, with the difference in accuracy.")
    if choice == NO_COMPARISON:
        return None
    name = choices[choice]
    with st.spinner(_loading_message(name)):
        model = guarded(shared_model, name, hint="Pick another model to compare with.")
    return None if model is None else LoadedModel(key=name, model=model)


def image_export_available() -> bool:
    """Whether figures can be written as PNG / SVG here: kaleido >= 1 (``pip install 'interp[export]'``), which
    drives a Chrome or Chromium found on this machine (``$BROWSER_PATH``, or one on ``$PATH``)."""
    import importlib.metadata
    import shutil

    try:
        major = int(importlib.metadata.version("kaleido").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    browsers = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
    return major >= 1 and (bool(os.environ.get("BROWSER_PATH")) or any(shutil.which(b) for b in browsers))


def figure_image(figure: Any, fmt: str = "png", *, width: int = 1200, scale: float = 2) -> bytes:
    """``figure`` as a static image (``fmt``: "png" or "svg"), ``width`` px wide at its own height (500 px if it
    has none), rendered by kaleido in the local browser: nothing is fetched (plotly.js comes from the plotly
    package)."""
    height = figure.layout.height or 500
    return figure.to_image(format=fmt, width=width, height=height, scale=scale)


def downloads(result: Any, stem: str) -> None:
    """"Download JSON" and "Download HTML" buttons for a result (the shared format; HTML is built on click), and
    "Download PNG" of its figure where :func:`image_export_available` (built on click)."""
    with st.container(horizontal=True):
        st.download_button("Download JSON", result.to_json(), file_name=f"{stem}.json", mime="application/json",
                           on_click="ignore", icon=":material/download:", key=f"download_json_{stem}")
        st.download_button("Download HTML", result.to_html, file_name=f"{stem}.html", mime="text/html",
                           on_click="ignore", icon=":material/download:", key=f"download_html_{stem}")
        if image_export_available():
            st.download_button("Download PNG", lambda: figure_image(result.plot()), file_name=f"{stem}.png",
                               mime="image/png", on_click="ignore", icon=":material/image:",
                               key=f"download_png_{stem}")


def _wrap(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters (plotly's ``<br>``) after a ``;``, ``:`` or ``,``."""
    if len(text) <= width or "<br>" in text:
        return text
    lines = [""]
    for piece in re.split(r"(?<=[;:,]) ", text):
        if lines[-1] and len(lines[-1]) + 1 + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] = f"{lines[-1]} {piece}" if lines[-1] else piece
    return "<br>".join(lines)


def chart(figure: Any, where: Any = None, *, title_chars: int = TITLE_CHARS) -> None:
    """``st.plotly_chart(figure)`` (in ``where``, a column, if given) with room to read it.

    A result's ``plot()`` is sized for a notebook: a title longer than the chart is wide would be
    cut off at its right edge, so it wraps onto more lines; a figure shorter than
    :data:`MIN_CHART_HEIGHT` (a bar per statement for two statements) would have no plot area left
    between its margins, so it grows to that height. The data are drawn as ``plot()`` made them.
    """
    title = figure.layout.title.text
    if title and _wrap(title, title_chars) != title:
        wrapped = _wrap(title, title_chars)  # pinned to the top left, with a top margin that holds every line
        figure.update_layout(title={"text": wrapped, "x": 0, "xanchor": "left", "y": 1, "yanchor": "top",
                                    "yref": "container", "pad": {"t": 16}},
                             margin_t=40 + 22 * (wrapped.count("<br>") + 1))
    if figure.layout.height is not None and figure.layout.height < MIN_CHART_HEIGHT:
        figure.update_layout(height=MIN_CHART_HEIGHT)
    (st if where is None else where).plotly_chart(figure)


def show_caveats(result: Any) -> None:
    """Each of the result's caveats (when its number means nothing, or a known trap) in a warning box."""
    for caveat in result.caveats():
        st.warning(_escape(caveat), icon=":material/warning:")


def show_summary(result: Any, suffix: str = "") -> None:
    """The result's caveats in warning boxes, then its summary (without them) as a caption."""
    show_caveats(result)
    st.caption(_escape(result.plain_summary() + suffix))


def show_result(result: Any, stem: str, *, tables: bool = True) -> None:
    """A result the same way on every page: its caveats (when its number means nothing, or a trap), its summary,
    every figure, its tables (folded) and downloads."""
    show_summary(result)
    for figure in result.figures():
        chart(figure)
    if tables:
        for heading, frame in result.tables():
            with st.expander(heading or "Table"):
                st.dataframe(frame, hide_index=True)
    downloads(result, stem)


# ----------------------------------------------------------------------------- one set of defaults
# Where a page starts from another value than the library function and the CLI command of the same analysis, and
# why: (page, widget key) -> (the setting's label, the reason). Every other widget default equals the library's
# signature default and the CLI option's default; tests/test_app_defaults.py compares them and fails on a difference
# not listed here. Each page shows its rows with defaults_note().
DEFAULTS_DIFFER: dict[tuple[str, str], tuple[str, str]] = {
    ("replication", "replication_quick"): (
        "Quick settings", "on here, off in replicate() and `interp replicate` (--quick): the full settings take tens of "
        "minutes on a CPU, more than a page should wait for; untick it to get the CLI's numbers."),
    ("inside", "inside_circuits_pairs"): (
        "Pairs", "8 here, 20 in `interp circuit eap|dla` (make_task's n=20): every pass runs one copy of the pairs per "
        "head, so a page waits minutes for 20 pairs on the default model."),
    ("inside", "inside_circuits_random"): (
        "Random circuits per size", "3 here, 5 in edge_attribution_patching and `interp circuit eap` (--random), "
        "for time."),
    ("model", "model_k"): (
        "Number of tokens (k)", "10 here and in Model.top_next_tokens; `interp predict` prints 5 rows (-k 5) to fit a "
        "terminal."),
    ("probing", "probing_step"): (
        "Every n-th layer", "every n_layers // 10-th layer here (every 3rd on the default model), every layer in "
        "pos_probe and `interp probe pos`: a sweep a page waits for takes a third of the time. The best layer and its "
        "selectivity therefore differ (the default model: layer 6, selectivity 0.36 here; layer 5, 0.28 from the "
        "CLI); set 1 to get the CLI's numbers."),
    ("probing", "probing_sentences"): (
        "Sentences of the built-in corpus", "600 here, the whole corpus in pos_probe and `interp probe pos`, to keep "
        "a sweep to a few minutes on a CPU."),
    ("maps", "maps_layer"): (
        "Layer (0 = embeddings)", "the middle layer here; `interp project` takes the last layer (--layer -1) and "
        "project() has no default (a layer is required)."),
    ("maps", "maps_world_step"): (
        "Every n-th layer", "every n_layers // 10-th layer here, every layer in world_map and `interp map world`, "
        "for time; set 1 to get the CLI's numbers."),
    ("lie_detector", "truth_step"): (
        "Every n-th layer", "every n_layers // 10-th layer here, every layer in truth_report and `interp probe "
        "truth`, for time. The chosen layer can differ (the default model: layer 15 here, 13 from the CLI); set 1 "
        "to get the CLI's layer."),
    ("lie_detector", "truth_pairs"): (
        "Pairs per dataset", "200 here, every pair in truth_report and `interp probe truth` (--max-pairs unset), "
        "to keep the sweep to about a minute on a CPU."),
    ("inside", "inside_patch_sites"): (
        "Sites", "the residual stream, attention and MLP outputs here; activation_patching and `interp patch` also "
        "patch every head (n_heads more cells per layer and position); add 'heads' to get them."),
    ("inside", "inside_trace_samples"): (
        "Noise samples", "3 here, 10 (ROME's) in causal_tracing and `interp trace`: a third of the time, noisier "
        "cells."),
    ("inside", "inside_atp_sites"): (
        "Sites", "attention, MLP outputs and heads here; attribution_patching and `interp atp` also estimate the "
        "residual stream; add it to get the CLI's cells."),
    ("ask", "ask_cal_n"): (
        "Questions asked", "40 here, 60 in calibrate and `interp ask calibrate`, for time."),
    ("ask", "ask_cal_signals"): (
        "Signals", "every signal but 'probe' here (the probe fits a truth probe first, minutes on a CPU); calibrate "
        "and `interp ask calibrate` include it."),
    ("ask", "ask_hint_n"): (
        "Questions asked", "24 here, 60 in hint_faithfulness and `interp ask hints`: each question is asked under "
        "four conditions and explained, the slow part."),
    ("ask", "ask_hint_items"): (
        "Items attributed", "2 here, 4 in hint_faithfulness and `interp ask hints`, for time."),
    ("training_data", "td_methods"): (
        "Methods", "bm25, grad_cos and trackstar side by side here; attribute_training and `interp train-data "
        "attribute` run one method, trackstar."),
    ("steering", "steer_prompts"): (
        "Held-out prompts", "8 here, 16 in `interp steer sweep` (--max-prompts) and every prompt given to "
        "steering_sweep: each prompt is generated at every strength, the slow part."),
    ("steering", "steer_curve_tokens"): (
        "New tokens per prompt", "16 here, 24 in steering_sweep and `interp steer sweep`, for time."),
    ("training_data", "td_top_k"): (
        "Examples shown per direction", "5 here (three columns side by side), 10 in attribute_training and "
        "`interp train-data attribute`."),
}


def defaults_note(page: str) -> None:
    """A folded note listing where ``page``'s defaults differ from the library and the CLI, and why."""
    rows = [(label, why) for (p, _), (label, why) in DEFAULTS_DIFFER.items() if p == page]
    if rows:
        with st.expander("Defaults that differ from the library and the CLI", icon=":material/tune:"):
            st.markdown("\n".join(f"- **{_escape(label)}**: {why}" for label, why in rows))


def explorer_cache_dir() -> Path:
    """Where the explorer keeps trained probes between sessions: ``$INTERP_EXPLORER_CACHE``, else
    ``<interp cache>/explorer``."""
    from interp.models._cache import cache_root

    return Path(os.environ.get(CACHE_ENV_VAR) or cache_root() / "explorer")


# ----------------------------------------------------------------------------- progress of long calls
class StreamlitProgress:
    """A progress callback (:mod:`interp.progress`: ``progress(stage, done, total)``) drawing ``st.progress`` with a
    caption saying what runs (the stage's name, done / total). Call it from the script's thread, inside the ``compute`` of
    :func:`cached_result` (drawn live; a ``st.cache_data`` function would record the bar's updates and replay them)."""

    def __init__(self, what: str, where: Any = None):
        self.what = what
        self._slot = (where if where is not None else st).empty()
        self._slot.progress(0.0, text=f"{what}…")

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        fraction = min(1.0, max(0.0, done / total)) if total else 0.0
        counted = f" ({done}/{total})" if total else ""
        self._slot.progress(fraction, text=_escape(f"{self.what}: {stage}{counted}"))

    def clear(self) -> None:
        self._slot.empty()


@contextlib.contextmanager
def progress_bar(what: str, where: Any = None) -> Iterator[StreamlitProgress]:
    """A :class:`StreamlitProgress` shown while the block runs (``what``: e.g. "Running the truth report"),
    removed after it. Pass it as ``progress=`` to any long library call: every one takes a callable
    (:mod:`interp.progress`)."""
    bar = StreamlitProgress(what, where)
    try:
        yield bar
    finally:
        bar.clear()


# ----------------------------------------------------------------------------- caching
@st.cache_resource(show_spinner=False)
def _store() -> tuple[collections.OrderedDict, threading.Lock]:
    """The process's result cache: slot -> (value, time made). In ``st.cache_resource``, so clearing that empties it."""
    return collections.OrderedDict(), threading.Lock()


def _plain(value: Any) -> Any:
    """``value`` as a hashable structure whose repr is stable across processes (the cache key of :func:`cached_result`):
    str, numbers, bools and None as they are, bytes by their SHA-256, tuples and lists as tuples, dicts as sorted
    (key, value) tuples. Anything else (a model, a result, an array) is refused: its repr would not say what it is."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, bytes):
        return ("sha256", hashlib.sha256(value).hexdigest())
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _plain(v)) for k, v in value.items())))
    raise TypeError(f"cached_result's params must be plain values (str, numbers, bools, None, bytes, tuples, lists, "
                    f"dicts of them); got a {type(value).__name__}. Pass a key that says what the object is instead.")


def cached_result(kind: str, model: interp.Model | None, params: tuple, compute: Callable[[], T], *,
                  spinner: str | None = None, disk: bool = False, load: Callable[[Path], T] | None = None,
                  max_entries: int = 16, ttl: float | None = None) -> T:
    """``compute()``, kept in this process under ``(kind, the model's weights fingerprint, params)``.

    The one cache of everything a page computes (results, fitted detectors and SAEs, parsed uploads, folder
    listings); the loaded models themselves are :func:`shared_model`'s. A call with the same kind, model and
    params answers from the cache (every session of this process: the same object, so never mutate it); a changed
    parameter or another model's weights compute afresh (the key is
    :func:`interp.models.card.weights_fingerprint`, not the name the model was loaded by).

    Args:
        kind: what is computed (e.g. "attribution"); at most ``max_entries`` values of one kind are kept, the least
            recently used go first.
        model: the model ``compute`` runs, or None for a value that needs none.
        params: everything else the value depends on, as plain values (:func:`_plain`: strings, numbers, bools,
            None, bytes, tuples, lists, dicts); an object the value depends on (a result, a detector) is named by
            a key that says what it is.
        compute: makes the value on a miss. A long one draws a :func:`progress_bar` inside (drawn live).
        spinner: text of a spinner shown while ``compute`` runs (None: no spinner).
        disk: also keep the value in the explorer cache folder (:func:`explorer_cache_dir`), so a restarted
            explorer loads it instead of computing it again. The value must have ``save(path)``; ``load`` reads
            it back (default :func:`interp.load_result`). A file that no longer loads (an older interp, a damaged
            file) is computed again and replaced; a folder that cannot be written only costs the reuse.
        ttl: seconds after which a kept value is computed again (a folder listing); None: kept until evicted.

    The memory mirrors one explorer cache folder (a value kept for one folder never answers for another).
    """
    fingerprint = None if model is None else weights_fingerprint(model)
    key = _plain(params)
    slot = (kind, str(explorer_cache_dir()), fingerprint, key)
    store, lock = _store()
    with lock:
        if slot in store:
            value, made = store[slot]
            if ttl is None or time.monotonic() - made < ttl:
                store.move_to_end(slot)
                return value
            del store[slot]

    def make() -> T:
        if spinner is None:
            return compute()
        with st.spinner(spinner):
            return compute()

    value = _from_disk(kind, (fingerprint, key), make, load) if disk else make()
    with lock:
        store[slot] = (value, time.monotonic())
        store.move_to_end(slot)
        mine = [s for s in store if s[0] == kind]
        for old in mine[:max(0, len(mine) - max_entries)]:
            del store[old]
    return value


def _from_disk(kind: str, key: tuple, compute: Callable[[], T], load: Callable[[Path], T] | None) -> T:
    """``compute()``, saved under the explorer cache folder and loaded from there the next time (any process)."""
    digest = hashlib.sha256(repr((kind, interp.__version__, key)).encode("utf-8")).hexdigest()[:20]
    path = explorer_cache_dir() / f"{kind}-{digest}.json"
    if path.is_file():
        try:
            return (load or interp.load_result)(path)
        except InterpError:
            _log.warning("explorer: recomputing %s, its cached file %s does not load", kind, path)
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        value.save(path)  # atomic: a file is whole or absent
    except OSError as exc:
        _log.warning("explorer: could not cache %s in %s: %s", kind, path, exc)
    return value


def page_result(name: str, run: Callable[..., T], request: tuple | None, *, submitted: bool,
                loaded: LoadedModel | None = None, same_request: bool = False, hint: str = "") -> T | None:
    """The result page part ``name`` shows in this run of this session, or None (nothing asked yet, or it failed).

    On submit (``submitted``): ``guarded(run, *request, hint=hint)``, and ``request`` (the form's settings) is kept
    in this session's state if it gave a result, forgotten if it failed or is None (input that did not parse). On
    every other run: ``run(*kept request)`` again, which answers from :func:`cached_result` (``run`` must go
    through it), while the sidebar holds the model the request ran on (``loaded``; None for a part that needs no
    model) and, with ``same_request``, only while ``request`` (the widgets' current values) still equals it.
    Session state keeps the request, never the result.
    """
    slot = f"_interp_request_{name}"
    owner = None if loaded is None else loaded.key
    if not submitted:
        kept = st.session_state.get(slot)
        if kept is None or kept[0] != owner or (same_request and kept[1] != request):
            return None
        request = kept[1]
    elif request is None:
        st.session_state[slot] = None
        return None
    result = guarded(run, *request, hint=hint)
    st.session_state[slot] = None if result is None else (owner, request)
    return result


def kept_request(name: str) -> tuple | None:
    """(the sidebar model's key it ran on, the request) that :func:`page_result` keeps for page part ``name`` in this
    session, or None (nothing asked yet, or the last ask failed): says what the shown result is (a key for what is
    computed from it) or whose it was."""
    return st.session_state.get(f"_interp_request_{name}")
