"""The explorer's Maps page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page fixtures:
tests/conftest.py): the scatter of my texts or the built-in places and the world map (linear or MLP probe) are what
interp.projection returns for the same inputs; malformed texts, a prompt without {name} and a corrupt upload end in
an error box."""

from __future__ import annotations

import pytest
from _app import (
    DOWNLOADS,
    LAYERS,
    TIMEOUT,
    assert_error,
    assert_frame_equal,
    assert_no_failure,
    assert_summary_shown,
    captions,
    charts,
    download_labels,
    figure_data,
    frames,
    saved_files,
    submit,
    upload,
)


def test_maps_scatter_of_my_texts_matches_the_library(open_page, tiny):
    at = open_page("maps")
    assert [t.label for t in at.tabs] == ["Scatter", "World map"]
    raw = at.text_area(key="maps_texts").value
    submit(at, "Project")
    assert_no_failure(at)
    from interp.projection import project

    pairs = [line.split("\t") for line in raw.splitlines()]
    expected = project(tiny, [t for _, t in pairs], layer=tiny.n_layers // 2, method="pca",
                       labels=[label for label, _ in pairs], n_components=2, seed=0)
    assert charts(at) == [figure_data(f) for f in expected.figures()]
    assert_summary_shown(at, expected)
    assert_frame_equal(frames(at)[0], expected.to_frame())
    assert download_labels(at) == DOWNLOADS


def test_maps_scatter_of_built_in_places_in_3d(open_page, tiny):
    at = open_page("maps")
    at.radio(key="maps_source").set_value("Built-in places (coloured by continent)")
    at.number_input(key="maps_n_places").set_value(50)
    at.selectbox(key="maps_components").set_value(3)
    at.number_input(key="maps_layer").set_value(2)
    submit(at, "Project")
    assert_no_failure(at)
    from interp.projection import load_places, project

    places = load_places(50)
    expected = project(tiny, [p["name"] for p in places], layer=2, method="pca",
                       labels=[p["continent"] for p in places], n_components=3, seed=0)
    ((trace, *_),) = charts(at)
    assert charts(at) == [figure_data(f) for f in expected.figures()] and trace["type"] == "scatter3d"
    assert len(frames(at)[0]) == 50


@pytest.mark.parametrize(("raw", "message"), [
    ("\n  \n", "empty"),  # no text at all
    ("just one line", "more rows than components"),  # too few points for a 2-D PCA
    ("animal\t\ncity\tParis\ncity\tTokyo", "The texts box, line 1"),  # a label without its text
    ("animal\tcat\ndog\ncity\tParis", "every line must be"),  # labels on some lines only
])
def test_maps_scatter_malformed_texts_show_an_error(open_page, raw, message):
    at = open_page("maps")
    at.text_area(key="maps_texts").set_value(raw)
    submit(at, "Project")
    assert_error(at, message)
    assert not at.get("plotly_chart") and not at.download_button


def test_maps_scatter_of_unlabelled_texts(open_page):
    at = open_page("maps")
    at.text_area(key="maps_texts").set_value("cat\ndog\nhorse\nParis")
    submit(at, "Project")
    assert_no_failure(at)
    assert len(at.get("plotly_chart")) == 1
    (table,) = frames(at)
    assert len(table) == 4 and table["hover"].tolist() == ["cat", "dog", "horse", "Paris"]


def test_maps_world_map_matches_the_library(open_page, tiny, explorer_cache):
    at = open_page("maps")
    at.number_input(key="maps_world_n").set_value(100)
    at.number_input(key="maps_world_step").set_value(1)
    at.checkbox(key="maps_world_random").set_value(False)
    prompt = at.text_input(key="maps_world_prompt").value  # the page's default template
    submit(at, "Draw the world map")
    assert_no_failure(at)
    from interp.projection import world_map

    expected = world_map(tiny, n_places=100, prompt=prompt, position="last", layers=LAYERS, random_baseline=False,
                         progress=False)
    assert charts(at) == [figure_data(f) for f in expected.figures()]
    assert len(at.get("plotly_chart")) >= 2
    for shown, (_, frame) in zip(frames(at), expected.tables(), strict=True):
        assert_frame_equal(shown, frame)
    assert_summary_shown(at, expected)
    assert download_labels(at) == DOWNLOADS
    assert len(saved_files(explorer_cache, "world_map")) == 1


def test_maps_world_map_mlp_probe_matches_the_library(open_page, tiny):
    """The probe selector reaches world_map(probe="mlp"), and the map is drawn on the coastlines."""
    at = open_page("maps")
    at.number_input(key="maps_world_n").set_value(100)
    at.number_input(key="maps_world_step").set_value(1)
    at.checkbox(key="maps_world_random").set_value(False)
    at.selectbox(key="maps_world_probe").set_value("mlp")
    submit(at, "Draw the world map")
    assert_no_failure(at)
    from interp.projection import world_map

    expected = world_map(tiny, n_places=100, prompt=at.text_input(key="maps_world_prompt").value, position="last",
                         layers=LAYERS, random_baseline=False, probe="mlp", progress=False)
    assert charts(at) == [figure_data(f) for f in expected.figures()]
    assert expected.plain_summary() in captions(at) and "mlp probe" in expected.summary()
    assert expected.plot().data[0].name == "coastlines"


def test_maps_world_map_bad_prompt_and_uploads(open_page, tiny):
    at = open_page("maps")
    at.text_input(key="maps_world_prompt").set_value("The city of Paris")
    submit(at, "Draw the world map")
    assert_error(at, "{name}")
    assert not at.get("plotly_chart")

    at.file_uploader(key="maps_world_upload").set_value(("world_map.json", b"not json at all", "application/json"))
    at.run(timeout=TIMEOUT)
    assert_error(at, "the uploaded file", "Upload the result.json that `interp map world --out DIR` wrote")

    from interp.projection import world_map

    saved = world_map(tiny, n_places=100, layers=[0, 2], random_baseline=False, progress=False)
    at.file_uploader(key="maps_world_upload").set_value(upload("world_map.json", saved))
    at.run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert charts(at) == [figure_data(f) for f in saved.figures()]
    assert download_labels(at) == DOWNLOADS
