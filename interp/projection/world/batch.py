"""The world map as ``interp run`` runs it: :data:`WORLD_MAP`, one probe job per layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from interp.analysis import Analysis, Inputs, fingerprint
from interp.errors import InterpError
from interp.probing.kinds import resolve_kind
from interp.projection.world.analysis import assemble_world_map, best_layer, fit_layer
from interp.projection.world.data import DEFAULT_PROMPT, MIN_PLACES, POSITIONS, load_places, world_inputs
from interp.projection.world.result import WorldMapLayerResult
from interp.results import Result


class WorldMapAnalysis(Analysis):
    """:func:`world_map` as ``interp run`` runs it (``task = "world_map"``): one :func:`fit_layer` job per layer,
    assembled with :func:`assemble_world_map` into the :class:`WorldMapResult` of :func:`world_map` with
    ``random_baseline=False``."""

    name = "world_map"
    metrics = ("r2_mean", "r2_lat", "r2_lon", "error_km", "alpha")
    headline = "r2_mean"
    kinds = ("linear",)
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
        kinds = table.get("kinds", ["linear"])
        if isinstance(kinds, list):  # the old name "ridge" resolves, with a DeprecationWarning
            kinds = [resolve_kind(k, target="values", where="interp run", allowed=self.kinds) if k == "ridge" else k
                     for k in kinds]
        return {"kinds": check.choices(kinds, self.kinds, "probe.kinds"),
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
            part = run.part(model, "places", layer, "linear")
            fits[layer] = (part.predicted, part.r2, part.alpha, part.error_km)
        result = assemble_world_map(
            fits, run.features(model, "places", best_layer(fits)), inputs.places, inputs.coords, inputs.test_mask,
            inputs.control_rng(), prompt=spec.data["prompt"], position=spec.probe["position"], seed=spec.seed,
            test_size=spec.probe["test_size"], min_population=spec.data["min_population"], model_name=info["name"],
            model_card=info.get("card", {}), n_model_layers=info["n_layers"])
        return [("world_map", result)]

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        return [{"task": self.name, "model": model, "dataset": "places", "probe": "linear", "layer": r["layer"],
                 "depth": r["depth"], "r2_mean": (r["r2_lat"] + r["r2_lon"]) / 2, "r2_lat": r["r2_lat"],
                 "r2_lon": r["r2_lon"], "error_km": r["error_km"], "alpha": r["alpha"]}
                for r in result.to_frame().to_dict(orient="records")]


WORLD_MAP = WorldMapAnalysis()
