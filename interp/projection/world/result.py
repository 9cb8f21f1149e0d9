"""World map results: :class:`WorldMapResult` (every layer, its controls and figures) and
:class:`WorldMapLayerResult` (one layer of a batch run)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.projection.world.data import CONTINENT_COLORS, haversine_km, land_outlines
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure



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
        prompt, position, seed, test_size, min_population, probe: how it was run ("linear" or "mlp"; "ridge" in
            files of interp < 0.2).
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
