"""Projections of representation space: what does a layer look like, and does it hold a world map?

- :func:`project` maps token embeddings, contextual activations of texts at a layer, or a raw
  (n, d) array to 2-D or 3-D with PCA, UMAP or t-SNE and returns a :class:`ProjectionResult`
  (an interactive scatter coloured by label);
- :func:`world_map` probes every layer linearly for the latitude and longitude of place names
  (Gurnee & Tegmark 2023) and returns a :class:`WorldMapResult`, with layer-0, random-weights and
  shuffled-coordinates controls.

Names load on first use (this package imports no heavy dependency by itself).

Example:
    >>> import interp
    >>> from interp.projection import project, world_map
    >>> model = interp.load_model("tiny-gpt2")
    >>> project(model, ["a cat", "a dog", "Paris", "Rome"], layer=1, method="pca").plot()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "project": "interp.projection.scatter",
    "ProjectionResult": "interp.projection.scatter",
    "METHODS": "interp.projection.scatter",
    "read_labelled_texts": "interp.projection.scatter",
    "parse_labelled_lines": "interp.projection.scatter",
    "world_map": "interp.projection.world",
    "WorldMapResult": "interp.projection.world",
    "load_places": "interp.projection.world",
    "read_places": "interp.projection.world",
    "land_outlines": "interp.projection.world",
    "haversine_km": "interp.projection.world",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
