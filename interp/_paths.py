"""Root folders the explorer may read, and bounded scans for saved results under them.

The explorer serves whoever can reach it, so it reads files only under roots its operator chose:

- saved runs and results: ``$INTERP_RUNS_DIR``, by default ``./runs`` (relative to the folder the
  app was started in);
- model directories: the interp cache, the Hugging Face cache, ``$INTERP_MODELS_DIR`` (one folder or
  several separated by ``os.pathsep``; none by default) and the directory ``$INTERP_MODEL`` names.

A path is resolved (``~``, symlinks, ``..``) before it is compared with a root, so a link or a
``../..`` cannot leave it. Scans for saved results stop at a depth, a number of files and a time,
and say so when they stop early. The library's own functions (``interp.load_model``,
``interp.load_result``) take any path: the roots are the explorer's policy.

Example:
    >>> from interp import _paths
    >>> root = _paths.runs_root()
    >>> folder = _paths.resolve_under("runs/france", [root], what="folder")  # or PathOutsideRootError
    >>> scan = _paths.find_results(folder)
    >>> scan.files, scan.complete
    (['attribution.json'], True)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from interp.errors import PathOutsideRootError

__all__ = ["Root", "ResultScan", "RUNS_ENV", "MODELS_ENV", "runs_root", "model_roots", "is_under", "resolve_under",
           "check_model_choice", "find_results"]

RUNS_ENV = "INTERP_RUNS_DIR"
MODELS_ENV = "INTERP_MODELS_DIR"
STARTING_MODEL_ENV = "INTERP_MODEL"
RESULT_MARKER = b'"interp.result"'  # every saved result names its format near the start of the file
SKIP_FOLDERS = frozenset({"activations", "jobs", ".git", "__pycache__"})  # shards, a batch run's per-probe files
MAX_DEPTH = 8  # folder levels below the scanned folder
MAX_FILES = 20_000  # directory entries looked at
MAX_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class Root:
    """A folder the explorer may read under.

    Attributes:
        path: the folder, resolved (absolute, symlinks followed); it need not exist yet.
        label: where it comes from, for messages (e.g. "$INTERP_RUNS_DIR", "the interp cache").
        setting: how to allow a path outside it (e.g. "set INTERP_RUNS_DIR to a folder that holds it").
    """

    path: Path
    label: str
    setting: str = ""

    def describe(self) -> str:
        return f"{self.path} ({self.label})"


def _resolve(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def runs_root() -> Root:
    """The folder the Runs page reads under: ``$INTERP_RUNS_DIR``, else ``./runs``."""
    given = os.environ.get(RUNS_ENV, "").strip()
    label = f"${RUNS_ENV}" if given else f"the default runs folder (${RUNS_ENV} is not set)"
    return Root(_resolve(given or "runs"), label,
                f"set {RUNS_ENV} to a folder that holds it before starting the explorer")


def model_roots() -> list[Root]:
    """The folders a model directory may be loaded from in the explorer (see the module docstring)."""
    from interp.models._cache import cache_root

    setting = (f"set {MODELS_ENV} to a folder that holds it (several folders separated by {os.pathsep!r}) before "
               "starting the explorer")
    roots = [Root(_resolve(cache_root()), "the interp cache", setting)]
    try:
        from huggingface_hub import constants

        roots.append(Root(_resolve(constants.HF_HUB_CACHE), "the Hugging Face cache", setting))
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        pass
    for folder in os.environ.get(MODELS_ENV, "").split(os.pathsep):
        if folder.strip():
            roots.append(Root(_resolve(folder.strip()), f"${MODELS_ENV}", setting))
    starting = os.environ.get(STARTING_MODEL_ENV, "").strip()
    if starting and Path(starting).expanduser().is_dir():  # the operator chose this one
        roots.append(Root(_resolve(starting), f"${STARTING_MODEL_ENV}", setting))
    return roots


def is_under(path: str | os.PathLike, root: Root | str | os.PathLike) -> bool:
    """Whether ``path``, resolved, is ``root`` or inside it."""
    base = root.path if isinstance(root, Root) else _resolve(root)
    return _resolve(path).is_relative_to(base)


def resolve_under(path: str | os.PathLike, roots: Sequence[Root], *, what: str = "path") -> Path:
    """``path`` resolved, if it is under one of ``roots``; else :class:`PathOutsideRootError`.

    Args:
        path: what a user entered (relative paths are relative to the working directory).
        roots: the allowed roots.
        what: what the path is, for the message ("folder", "model directory").
    """
    if not roots:
        raise PathOutsideRootError(f"No {what} can be read here: no root folder is allowed.")
    resolved = _resolve(path)
    if any(resolved.is_relative_to(root.path) for root in roots):
        return resolved
    where = roots[0].describe() if len(roots) == 1 else "one of " + "; ".join(r.describe() for r in roots)
    shown = str(path) if str(path) == str(resolved) else f"{str(path)!r}, which is {resolved}"
    raise PathOutsideRootError(
        f"The {what} {shown} is outside the folder the explorer may read: it must be under {where}. "
        f"To read it, {roots[0].setting or 'move it under that folder'}.")


def check_model_choice(name: str) -> str:
    """What the explorer's model picker may pass to ``interp.load_model``: ``name`` itself if it is not a
    path (a built-in name or a cached Hugging Face id), else the resolved directory if it is under
    :func:`model_roots`; raises :class:`PathOutsideRootError` otherwise."""
    from interp.models.loading import DEFAULT_ALIASES, TINY_MODELS

    text = name.strip()
    if text in TINY_MODELS or text in DEFAULT_ALIASES:  # built in, whatever folders the working directory has
        return text
    if not (text.startswith(("/", ".", "~")) or Path(text).expanduser().exists()):
        return text  # a cached Hugging Face id (or unknown: load_model says so)
    return str(resolve_under(text, model_roots(), what="model directory"))


@dataclasses.dataclass(frozen=True)
class ResultScan:
    """Saved results found under a folder.

    Attributes:
        folder: the folder scanned (resolved).
        files: the results found, as paths relative to ``folder`` (a folder's own files first, then
            its subfolders, in name order).
        stopped: None if the whole folder was searched; else why it stopped early ("depth",
            "files" or "time").
        n_entries: directory entries looked at.
        limits: the bounds it ran under (max_depth, max_files, max_seconds).
    """

    folder: Path
    files: list[str]
    stopped: str | None
    n_entries: int
    limits: tuple[int, int, float]

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def note(self) -> str:
        """One sentence for a page: what was not searched, and what to do; empty when complete."""
        max_depth, max_files, max_seconds = self.limits
        if self.stopped is None:
            return ""
        reason = {"depth": f"folders more than {max_depth} levels down were not searched",
                  "files": f"it stopped after {max_files:,} files and folders",
                  "time": f"it stopped after {max_seconds:g} s"}[self.stopped]
        return (f"The search of {self.folder} stopped early: {reason}, so results further down are not listed "
                f"({len(self.files)} found). Enter a subfolder to search it.")


def find_results(folder: str | os.PathLike, *, max_depth: int = MAX_DEPTH, max_files: int = MAX_FILES,
                 max_seconds: float = MAX_SECONDS, clock: Callable[[], float] = time.monotonic) -> ResultScan:
    """Saved interp results under ``folder``: JSON files that name the results format in their first 4 KiB.

    Activation shards (``activations/``), a batch run's per-job files (``jobs/``) and hidden folders
    are skipped; folder links are not followed, and a file link is read only if it resolves inside
    ``folder``. No file is parsed: a found file is opened later with ``interp.load_result``.

    Args:
        folder: the folder to scan (check it with :func:`resolve_under` first).
        max_depth: folder levels searched below ``folder`` (0: its own files only).
        max_files: directory entries looked at before stopping.
        max_seconds: time before stopping (measured with ``clock``).

    Returns:
        :class:`ResultScan`; ``scan.stopped`` says whether and why it stopped early.
    """
    base = _resolve(folder)
    start = clock()
    found: list[str] = []
    seen = 0
    stopped: str | None = None
    too_deep = False
    stack: list[tuple[Path, int]] = [(base, 0)]
    while stack and stopped is None:
        directory, depth = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            seen += 1
            if seen > max_files:
                stopped = "files"
                break
            if clock() - start > max_seconds:
                stopped = "time"
                break
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_FOLDERS and not entry.name.startswith("."):
                        subfolders.append(Path(entry.path))
                    continue
                if not entry.name.endswith(".json") or not entry.is_file():
                    continue
                if entry.is_symlink() and not _resolve(entry.path).is_relative_to(base):
                    continue
                with open(entry.path, "rb") as handle:
                    head = handle.read(4096)
            except OSError:
                continue
            if RESULT_MARKER in head:
                found.append(Path(entry.path).relative_to(base).as_posix())
        if subfolders and depth >= max_depth:
            too_deep = True  # not searched; the rest of the tree still is
            continue
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))  # the first name is searched first
    if stopped is None and too_deep:
        stopped = "depth"
    return ResultScan(base, found, stopped, min(seen, max_files), (max_depth, max_files, max_seconds))
