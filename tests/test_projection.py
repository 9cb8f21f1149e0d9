"""interp.projection: projections (PCA / UMAP / t-SNE) and the linear world map of place names."""

import numpy as np
import pytest

import interp
from interp.errors import InvalidDatasetError, InvalidParameterError, InvalidTextFileError, LayerIndexError
from interp.projection import (
    ProjectionResult,
    WorldMapResult,
    haversine_km,
    land_outlines,
    load_places,
    project,
    read_places,
    world_map,
)
from interp.projection.world import _fit_score


def planted(n=120, d=24, noise=0.05, seed=0):
    """(n, d) points that lie near a 2-D plane: x = z A + noise, with z (n, 2) the planted coordinates."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)) * [3.0, 1.5]
    a = rng.normal(size=(2, d))
    return z @ a + noise * rng.normal(size=(n, d)), z


# ----------------------------------------------------------------------------- project
def test_public_names_resolve():
    from interp import projection

    for name in projection.__all__:
        assert getattr(projection, name) is not None, name


def test_pca_recovers_planted_plane():
    from scipy.spatial import procrustes

    x, z = planted()
    raw = project(x, method="pca", standardize=False)
    _, _, disparity = procrustes(z, raw.coords.astype(np.float64))  # up to rotation, reflection and scale
    assert disparity < 0.01
    result = project(x, method="pca")  # standardised: a linear (not similarity) map of the plane
    assert isinstance(result, ProjectionResult) and result.coords.shape == (120, 2)
    design = np.c_[result.coords, np.ones(len(z))]
    residual = z - design @ np.linalg.lstsq(design, z, rcond=None)[0]
    assert (1 - residual.var(0) / z.var(0) > 0.99).all()
    assert result.explained_variance.sum() > 0.95


def test_same_seed_same_coordinates_pca_and_umap():
    x, _ = planted(n=60)
    for method in ("pca", "umap"):
        a, b = project(x, method=method, seed=3), project(x, method=method, seed=3)
        np.testing.assert_array_equal(a.coords, b.coords)


def test_umap_keeps_planted_clusters_apart():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 10)), rng.normal(size=(30, 10)) + 8])
    coords = project(x, method="umap", labels=["a"] * 30 + ["b"] * 30).coords
    gap = np.linalg.norm(coords[:30].mean(0) - coords[30:].mean(0))
    spread = max(coords[:30].std(0).max(), coords[30:].std(0).max())
    assert gap > 3 * spread


def test_project_texts_and_vocab_on_tiny_model(tiny_models, tmp_path):
    model = tiny_models["tiny-gpt2"]
    texts = ["a cat", "a dog", "Paris", "Rome", "the sea"]
    result = project(model, texts, layer=-1, labels=["x", "x", "y", "y", "z"])
    assert result.layer == model.n_layers and result.hover == texts and result.source == "texts"
    fig = result.plot()
    assert len(fig.data) == 3  # one trace per label
    three = project(model, texts, layer=1, n_components=3)
    assert three.coords.shape == (5, 3) and three.plot().data[0].type == "scatter3d"
    vocab = project(model, vocab=[" cat", " dog", " Paris", 11, 12])
    w_e = model.bridge.W_E.detach().numpy()
    ids = [model.tokenizer.encode(t, add_special_tokens=False)[0] for t in (" cat", " dog", " Paris")] + [11, 12]
    np.testing.assert_array_equal(vocab.coords, project(w_e[ids]).coords)  # same rows as W_E
    path = result.save(tmp_path / "p.json")
    assert interp.load_result(path) == result
    assert ProjectionResult.load(three.save(tmp_path / "p3.json")) == three


def test_project_rejects_bad_input(tiny_models):
    model = tiny_models["tiny-gpt2"]
    with pytest.raises(InvalidParameterError, match="'method'.*'pca', 'umap' or 'tsne'.*Got 'svd'"):
        project(np.zeros((10, 3)), method="svd")
    with pytest.raises(LayerIndexError, match=r"\[0, 3\)"):
        project(model, ["a", "b", "c", "d"], layer=7)
    with pytest.raises(InvalidParameterError, match="exactly one of 'texts'"):
        project(model)
    with pytest.raises(InvalidParameterError, match="one label per point"):
        project(np.random.default_rng(0).normal(size=(10, 3)), labels=["a"])
    with pytest.raises(InvalidParameterError, match="not one"):
        project(model, vocab=[" antidisestablishmentarianism"])
    with pytest.raises(InvalidParameterError, match="'n_components'"):
        project(np.zeros((10, 3)), n_components=4)


def test_read_labelled_texts(tmp_path):
    from interp.projection import read_labelled_texts

    (tmp_path / "a.txt").write_text("city\tParis\nanimal\tcat\n")
    assert read_labelled_texts(tmp_path / "a.txt") == (["Paris", "cat"], ["city", "animal"])
    (tmp_path / "b.txt").write_text("Paris\ncat\n")
    assert read_labelled_texts(tmp_path / "b.txt") == (["Paris", "cat"], None)
    (tmp_path / "c.txt").write_text("city\tParis\ncat\n")
    with pytest.raises(InvalidTextFileError, match="line 2"):
        read_labelled_texts(tmp_path / "c.txt")


# ----------------------------------------------------------------------------- world map
def test_haversine_known_distances():
    assert haversine_km(0, 0, 0, 180) == pytest.approx(np.pi * 6371.0)
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(344, abs=2)  # Paris-London


def test_load_places_most_populous_unique_names():
    places = load_places(300, min_population=100_000)
    names = [p["name"] for p in places]
    assert len(places) == 300 and len(set(names)) == 300
    assert all(p["population"] >= 100_000 and -90 <= p["lat"] <= 90 for p in places)
    assert [p["population"] for p in places] == sorted((p["population"] for p in places), reverse=True)
    assert {p["continent"] for p in places} >= {"Asia", "Europe", "Africa", "North America", "South America"}


def test_ridge_probe_recovers_planted_coordinates():
    x, z = planted(n=300, d=40, noise=0.3, seed=1)
    coords = z * [20, 50]  # "lat", "lon"
    _, r2, _ = _fit_score(x[:240], coords[:240], x[240:], coords[240:])
    assert (r2 > 0.95).all()
    _, r2_shuffled, _ = _fit_score(x[:240], coords[:240][np.random.default_rng(0).permutation(240)], x[240:],
                                   coords[240:])
    assert (r2_shuffled < 0.1).all()


def test_mlp_probe_fits_a_nonlinear_map_ridge_cannot():
    """A planted (lat, lon) that is a nonlinear function of the features: the MLP probe recovers it, ridge does not."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1200, 8))
    coords = np.stack([40 * np.cos(1.5 * x[:, 0]), 90 * np.tanh(x[:, 2] * x[:, 3])], axis=1)  # no linear part
    _, r2_ridge, _ = _fit_score(x[:1000], coords[:1000], x[1000:], coords[1000:], "linear")  # ridge regression
    _, r2_mlp, alpha = _fit_score(x[:1000], coords[:1000], x[1000:], coords[1000:], "mlp", 0)
    assert (r2_ridge < 0.05).all() and (r2_mlp > 0.8).all() and alpha == 1.0


def test_land_outlines_are_natural_earth_coastlines():
    """Known coasts lie on the shipped outlines: Cabo da Roca (Europe's westernmost point), Cape Agulhas and
    Cape Horn are within 100 km of a vertex (1:110m is coarse); the middle of the Atlantic and of the Sahara are
    more than 500 km from any."""
    lon, lat = land_outlines()
    assert len(lon) == len(lat) > 5000
    points = np.array([(a, b) for a, b in zip(lon, lat) if a is not None])
    assert (np.abs(points[:, 0]) <= 180).all() and (np.abs(points[:, 1]) <= 90).all()

    def nearest_km(la, lo):
        return float(haversine_km(la, lo, points[:, 1], points[:, 0]).min())

    for la, lo in ((38.78, -9.50), (-34.83, 20.00), (-55.98, -67.27)):
        assert nearest_km(la, lo) < 100, (la, lo)
    assert nearest_km(0.0, -30.0) > 500 and nearest_km(23.0, 12.0) > 500
    breaks = [i for i, v in enumerate(lon) if v is None]
    segments = np.split(np.array([np.nan if v is None else v for v in lon]), breaks)
    assert all(np.nanmax(np.abs(np.diff(seg[~np.isnan(seg)]))) < 180 for seg in segments if np.sum(~np.isnan(seg)) > 1)


def test_read_places_and_its_errors(tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("name,lat,lon,country\nEiffel Tower,48.858,2.294,France\nSydney Opera House,-33.857,151.215,\n")
    assert read_places(good) == [
        {"name": "Eiffel Tower", "lat": 48.858, "lon": 2.294, "country": "France", "continent": "?", "kind": "place"},
        {"name": "Sydney Opera House", "lat": -33.857, "lon": 151.215, "country": "", "continent": "?",
         "kind": "place"}]
    for text, fragment in (("name,lat\nA,1\n", r"lacks the column\(s\) \['lon'\]"),
                           ("name,lat,lon\nA,95,0\n", "data row 1: needs a name, lat in \\[-90, 90\\]"),
                           ("name,lat,lon\nA,1,x\n", "lon 'x'")):
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(InvalidDatasetError, match=fragment):
            read_places(tmp_path / "bad.csv")
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        read_places(tmp_path / "missing.csv")


def test_world_map_on_tiny_model(tiny_models, tmp_path):
    """Shapes, controls, determinism and the save round trip on real places and a tiny model."""
    model = tiny_models["tiny-gpt2"]
    places = load_places(80, min_population=0)
    result = world_map(model, places=places, layers=[1, 2], seed=0, position="mean")
    assert isinstance(result, WorldMapResult) and result.layers == [0, 1, 2]
    assert result.r2_lat.shape == (3,) and result.test_mask.sum() == 16
    assert len(result.pred_lat) == 16 and result.pca.shape == (80, 2)
    assert set(result.controls) == {"layer0", "random_weights", "shuffled"}
    assert result.controls["random_weights"] is not None
    assert result.best_layer in result.layers and 0 <= result.best_depth <= 1
    for fig in (result.plot(), result.plot_layers(), result.plot_pca()):
        assert fig.data and not any(t.type.startswith("scattergeo") or "mapbox" in t.type for t in fig.data)
        assert "http" not in fig.to_json()  # nothing for plotly.js to fetch: no geo trace, no tiles, no topojson
    coast = result.plot().data[0]
    assert coast.name == "coastlines" and coast.mode == "lines" and len(coast.x) == len(land_outlines()[0])
    assert [t.name for t in result.plot(coastlines=False).data][0] == "true position"
    again = world_map(model, places=places, layers=[1, 2], seed=0, position="mean", random_baseline=False)
    np.testing.assert_array_equal(again.r2_lat, result.r2_lat)
    assert WorldMapResult.load(result.save(tmp_path / "w.json")) == result
    assert "<html>" in result.to_html() and len(result.places_frame()) == 16


def test_world_map_window_probes_the_mean_of_neighbouring_layers(tiny_models):
    """window=1 at layer 1 of a 2-block model is the ridge probe on the mean of layers 1 and 2 of collect() (clipped:
    layer 0 is never pooled in; a reference written with the public pieces); layer 0 stays the embeddings alone,
    and window=0 is the plain probe."""
    from interp.activations import collect
    from interp.projection.world import fit_layer, place_prompts, split_places

    model = tiny_models["tiny-llama"]
    places = load_places(60, min_population=0)
    pooled = world_map(model, places=places, layers=[1], window=1, random_baseline=False, progress=False)
    plain = world_map(model, places=places, layers=[1], random_baseline=False, progress=False)
    texts, _ = place_prompts(places, "The city of {name}")
    acts = collect(model, texts, layers=[0, 1, 2], position="last", progress=False)
    coords = np.array([[p["lat"], p["lon"]] for p in places])
    test_mask, _ = split_places(60, 0.2, 0)
    mean = np.mean([np.asarray(acts[l], dtype=np.float64) for l in (1, 2)], axis=0)
    np.testing.assert_allclose(pooled.r2_lat[1], fit_layer(mean, coords, test_mask)[1][0], rtol=1e-9)
    np.testing.assert_allclose(plain.r2_lat[1], fit_layer(acts[1], coords, test_mask)[1][0], rtol=1e-9)
    assert pooled.r2_lat[0] == plain.r2_lat[0] and pooled.window == 1 and "window of +-1" in pooled.summary()
    with pytest.raises(InvalidParameterError, match="'window'"):
        world_map(model, places=places, layers=[1], window=-1)


def test_world_map_rejects_bad_input(tiny_models):
    model = tiny_models["tiny-gpt2"]
    with pytest.raises(InvalidParameterError, match="at least 20 places"):
        world_map(model, n_places=10, layers=[1])
    with pytest.raises(LayerIndexError):
        world_map(model, n_places=40, layers=[9])
    with pytest.raises(InvalidParameterError, match="'position'"):
        world_map(model, n_places=40, layers=[1], position="first")
    with pytest.raises(InvalidParameterError, match="'prompt'.*{name}"):
        world_map(model, n_places=40, layers=[1], prompt="The city of")


# ----------------------------------------------------------------------------- CLI
def test_cli_map_world_and_project(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["map", "world", "-m", "tiny-gpt2", "--layers", "1", "--n-places", "40",
                              "--no-random-baseline", "--out", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    assert isinstance(interp.load_result(tmp_path / "w" / "result.json"), WorldMapResult)
    assert (tmp_path / "w" / "result.html").is_file()
    places = tmp_path / "places.csv"
    places.write_text("name,lat,lon\n" + "".join(f"{p['name']},{p['lat']},{p['lon']}\n" for p in load_places(30)))
    res = runner.invoke(app, ["map", "world", "-m", "tiny-gpt2", "--layers", "1", "--places", str(places), "--probe",
                              "mlp", "--no-random-baseline", "--out", str(tmp_path / "own")])
    assert res.exit_code == 0, res.output
    own = interp.load_result(tmp_path / "own" / "result.json")
    assert own.names == [p["name"] for p in load_places(30)] and own.probe == "mlp"
    res = runner.invoke(app, ["map", "world", "--help"])
    assert "name, lat, lon" in " ".join(res.output.split())
    (tmp_path / "t.txt").write_text("city\tParis\ncity\tRome\nanimal\tcat\nanimal\tdog\n")
    res = runner.invoke(app, ["project", str(tmp_path / "t.txt"), "-m", "tiny-gpt2", "--layer", "1",
                              "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert interp.load_result(tmp_path / "p" / "result.json").labels == ["city", "city", "animal", "animal"]
    res = runner.invoke(app, ["project", str(tmp_path / "t.txt"), "-m", "tiny-gpt2", "--layer", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert interp.Result.from_json(res.stdout).labels == ["city", "city", "animal", "animal"]
    res = runner.invoke(app, ["map", "world", "-m", "tiny-gpt2", "--layers", "1", "--places", str(places),
                              "--no-random-baseline", "--json"])
    assert res.exit_code == 0, res.output
    assert interp.Result.from_json(res.stdout).names == own.names  # the saved format, nothing else on stdout
    res = runner.invoke(app, ["map", "world", "-m", "tiny-gpt2", "--out", str(tmp_path / "world.json")])
    assert res.exit_code == 1 and "OutputFolderError" in res.output  # --out is a folder, refused before any work
    res = runner.invoke(app, ["project", str(tmp_path / "t.txt"), "--method", "svd", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "'pca', 'umap' or 'tsne'" in res.output


# ----------------------------------------------------------------------------- default model
@pytest.mark.slow
def test_world_map_default_model_beats_controls(default_model):
    result = world_map(default_model, n_places=500, layers=[0, 12], random_baseline=False)
    i = result.best_index
    assert result.best_layer > 0
    assert result.r2_lon[i] > result.controls["shuffled"]["r2_lon"] + 0.2
    assert result.error_km[i] < result.baseline_error_km


def test_world_map_r2_carries_intervals_over_held_out_places(tiny_models):
    """Each layer's held-out R^2 has a bootstrap interval over the held-out places, and each control a paired
    difference from the best layer on the same places (in summary, frame and plot)."""
    from interp.projection.world import best_minus_control, r2_intervals

    model = tiny_models["tiny-gpt2"]
    result = world_map(model, places=load_places(80, min_population=0), layers=[1, 2], seed=0, position="mean")
    frame = result.to_frame()
    for name in ("r2_lat", "r2_lon", "r2_mean"):
        assert np.all(frame[f"{name}_low"] <= frame[name] + 1e-9) and np.all(frame[name] <= frame[f"{name}_high"] + 1e-9)
        assert np.all(frame[f"{name}_high"] > frame[f"{name}_low"])
    for name in ("layer0", "shuffled", "random_weights"):
        control = result.controls[name]
        assert control["r2_mean"]["estimate"] == pytest.approx((control["r2_lat"] + control["r2_lon"]) / 2)
        diff = control["best_minus_control"]["difference"]
        i = result.best_index
        assert diff["estimate"] == pytest.approx((result.r2_lat[i] + result.r2_lon[i]) / 2 - control["r2_mean"]["estimate"])
    assert "minus each control's: layer0" in result.summary()
    fig = result.plot_layers()
    np.testing.assert_allclose(np.asarray(fig.data[0].error_y.array), result.r2_lat_high - result.r2_lat)
    # known answers: perfect predictions have R^2 1 on every resample; a control identical to the best layer differs by 0
    y = np.random.default_rng(0).normal(size=(30, 2))
    assert r2_intervals(y, y)["r2_mean"].low == 1.0
    same = best_minus_control(y, y + 0.1, y + 0.1, "same")
    assert same["difference"]["low"] == same["difference"]["high"] == 0.0 and same["within_noise"]


def test_world_map_not_beating_a_control_is_a_caveat(tiny_models):
    import dataclasses

    model = tiny_models["tiny-gpt2"]
    result = world_map(model, places=load_places(80, min_population=0), layers=[1, 2], seed=0, position="mean",
                       random_baseline=False)
    controls = {k: (dict(v) if v else v) for k, v in result.controls.items()}
    controls["shuffled"] = {**controls["shuffled"], "best_minus_control": {
        "difference": {"estimate": 0.01, "low": -0.05, "high": 0.07}, "within_noise": True}}
    weak = dataclasses.replace(result, controls=controls)
    assert any("a probe fitted to shuffled coordinates" in c for c in weak.caveats())
    controls["shuffled"]["best_minus_control"] = {"difference": {"estimate": 0.3, "low": 0.2, "high": 0.4},
                                                  "within_noise": False}
    assert not any("shuffled" in c for c in dataclasses.replace(result, controls=controls).caveats())


def test_every_map_figure_has_a_title_and_axis_titles(tiny_models):
    model = tiny_models["tiny-gpt2"]
    result = world_map(model, places=load_places(60, min_population=0), layers=[1], position="mean",
                       random_baseline=False)
    figures = [*result.figures(), project(model, ["a cat", "a dog", "the sun", "the moon"], layer=1).plot()]
    for fig in figures:
        assert fig.layout.title.text
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
