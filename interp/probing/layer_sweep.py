"""The layer-sweep core: the loop every probe analysis runs (part of speech, truth, the world map).

Each analysis fits probes layer by layer: it reads one layer's features once, fits one probe of each kind
it was asked for on them, and reports progress in (layer, kind) steps. :func:`sweep_layers` is that loop,
once; what a fit computes (accuracy and selectivity, truth accuracy, held-out R^2) stays the analysis's own
``fit`` function, and the kinds come from :mod:`interp.probing.kinds`.

Example:
    >>> from interp.probing.layer_sweep import sweep_layers
    >>> fits = sweep_layers([0, 1], lambda layer: X[layer], lambda x, layer, kind: kind_fit(kind, x),
    ...                     kinds=["linear", "mm"])
    >>> fits[1, "mm"]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

__all__ = ["sweep_layers"]

T = TypeVar("T")


def sweep_layers(layers: Sequence[int], features: Callable[[int], Any], fit: Callable[[Any, int, Any], T], *,
                 kinds: Sequence[Hashable] = (None,), report: Callable[[str, int, int], None] | None = None,
                 stage: str = "probes") -> dict[tuple[int, Any], T]:
    """Fit every kind at every layer, layer by layer.

    Args:
        layers: the layers, in the order they are fitted.
        features: ``features(layer)`` -> that layer's (n_rows, d) features, read once per layer.
        fit: ``fit(X, layer, kind)`` -> whatever the analysis keeps of one probe.
        kinds: the probe kinds fitted at each layer, in order (``(None,)``: one probe per layer).
        report: a progress callable ``report(stage, done, total)`` (:func:`interp.progress.resolve_progress`),
            called with 0 first, then after each fit.
        stage: the progress stage's name.

    Returns:
        ``{(layer, kind): fit(...)}`` in the order fitted.
    """
    total = len(layers) * len(kinds)
    if report is not None:
        report(stage, 0, total)
    out: dict[tuple[int, Any], T] = {}
    for c, layer in enumerate(layers):
        X = features(layer)
        for b, kind in enumerate(kinds, start=1):
            out[layer, kind] = fit(X, layer, kind)
            if report is not None:
                report(stage, c * len(kinds) + b, total)
        del X
    return out
