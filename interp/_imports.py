"""Importing third-party libraries without keeping their import-time changes to the process.

Some libraries interp uses change process-wide settings when they are first imported: scikit-learn
sets the OpenMP variables ``KMP_DUPLICATE_LIB_OK`` and ``KMP_INIT_AT_FORK``, TransformerLens 4.3 sets
the ``transformers`` logger to ERROR (hiding the user's warnings), and torch's compiler modules set
``TORCHINDUCTOR_CACHE_DIR``. interp promises that importing or calling it changes nothing of the
kind, so the places that import these libraries first do it inside :func:`preserving_process_state`,
which puts the environment, the watched loggers' levels and the warning filters back as they were
(TransformerLens also adds a filter that hides a transformers warning from all code).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType

__all__ = ["preserving_process_state", "import_preserving_state", "restore_environ"]

_WATCHED_LOGGERS = ("transformers", "torch", "sklearn")


@contextlib.contextmanager
def preserving_process_state() -> Iterator[None]:
    """Restore ``os.environ``, the levels of the watched loggers and ``warnings.filters`` when the block ends."""
    env = dict(os.environ)
    levels = {name: logging.getLogger(name).level for name in _WATCHED_LOGGERS}
    filters = list(warnings.filters)
    try:
        yield
    finally:
        if warnings.filters != filters:
            warnings.filters[:] = filters
            warnings._filters_mutated()  # clear the per-module "already warned" caches, as filterwarnings does
        restore_environ(env)
        for name, level in levels.items():
            if logging.getLogger(name).level != level:
                logging.getLogger(name).setLevel(level)


def restore_environ(snapshot: dict[str, str]) -> None:
    """Put ``os.environ`` back to ``snapshot`` (a ``dict(os.environ)`` taken earlier): the undo of changes
    a library made, never a setting of interp's own."""
    for key in set(os.environ) - set(snapshot):
        del os.environ[key]
    for key, value in snapshot.items():
        if os.environ.get(key) != value:
            os.environ[key] = value  # process-state: ok - puts back the snapshot taken before a library's import


def import_preserving_state(name: str) -> ModuleType:
    """``importlib.import_module(name)``; the first import runs inside :func:`preserving_process_state`."""
    if name in sys.modules:
        return sys.modules[name]
    with preserving_process_state():
        return importlib.import_module(name)
