"""The explorer's Probing page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page fixtures:
tests/conftest.py): the part-of-speech probes, their tables and the sentence's tags are what interp.probing.pos returns
for the same settings; a saved result opens, a corrupt one and an empty sentence end in an error box, and a second
session reuses the probes saved on disk."""

from __future__ import annotations

import functools

import pytest
import streamlit as st
from _app import (
    DOWNLOADS,
    LAYERS,
    TIMEOUT,
    assert_error,
    assert_frame_equal,
    assert_no_failure,
    assert_summary_shown,
    charts,
    download_labels,
    figure_data,
    frames,
    saved_files,
    submit,
    upload,
)
from streamlit.testing.v1 import AppTest


@pytest.fixture(scope="module")
def pos_result(tiny):
    """What the Probing page computes for: linear probe, every layer, 20 sentences, no random baseline."""
    from interp.probing.pos import pos_probe

    return pos_probe(tiny, layers=LAYERS, probe="linear", max_sentences=20, random_baseline=False, progress=False)


def run_probes(at: AppTest, *, random_baseline: bool = False) -> AppTest:
    at.number_input(key="probing_step").set_value(1)
    at.number_input(key="probing_sentences").set_value(20)
    at.checkbox(key="probing_random").set_value(random_baseline)
    return submit(at, "Run the probes")


def test_probing_runs_the_probes_and_matches_the_library(open_page, tiny, pos_result, explorer_cache):
    at = open_page("probing")
    assert any("Run the probes" in i.value for i in at.info) and not at.get("plotly_chart")
    run_probes(at)
    assert_no_failure(at)
    assert_summary_shown(at, pos_result)
    assert charts(at) == [figure_data(pos_result.plot()), figure_data(pos_result.plot_confusion())]
    layer_table, tag_table, sentence_table = frames(at)
    assert_frame_equal(layer_table, pos_result.to_frame())
    assert_frame_equal(tag_table, pos_result.tag_frame())
    sentence = at.text_input(key="probing_sentence").value
    assert_frame_equal(sentence_table, pos_result.predict_layers(sentence, model=tiny))
    assert list(sentence_table.columns) == ["word", "spacy", "layer 0", "layer 1", "layer 2"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best layer"] == str(pos_result.best_layer)
    assert download_labels(at) == DOWNLOADS


def test_probing_opens_a_saved_result_and_rejects_a_corrupt_one(open_page, tiny, pos_result):
    at = open_page("probing")
    corrupt = b'{"format": "interp.result", "kind"'
    at.file_uploader(key="probing_upload").set_value(("bad.json", corrupt, "application/json"))
    at.run(timeout=TIMEOUT)
    assert_error(at, "the uploaded file", "Upload the result.json that `interp probe pos --out DIR` wrote")
    assert not at.get("plotly_chart") and not at.download_button

    at.file_uploader(key="probing_upload").set_value(upload("pos_probe.json", pos_result))
    at.run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert charts(at) == [figure_data(pos_result.plot()), figure_data(pos_result.plot_confusion())]
    assert_frame_equal(frames(at)[0], pos_result.to_frame())
    assert download_labels(at) == DOWNLOADS

    # a result of another model is still shown, but the sentence box says to pick that model first
    at.sidebar.selectbox[0].set_value("tiny-llama").run(timeout=TIMEOUT)
    assert_no_failure(at)
    (warning,) = [w for w in at.warning if "computed on tiny-gpt2" in w.value]  # besides the result's caveats
    assert len(at.warning) == 1 + len(pos_result.caveats()) and len(at.dataframe) == 2


def test_probing_empty_sentence_shows_an_error(open_page, pos_result):
    at = open_page("probing")
    at.file_uploader(key="probing_upload").set_value(upload("pos_probe.json", pos_result))
    at.run(timeout=TIMEOUT)
    at.text_input(key="probing_sentence").set_value(" ").run(timeout=TIMEOUT)
    assert_error(at, "empty")
    assert len(at.get("plotly_chart")) == 2 and len(at.dataframe) == 2  # the result itself is still shown


def test_probing_second_session_reuses_the_probes_from_disk(open_page, explorer_cache, monkeypatch):
    first = run_probes(open_page("probing"), random_baseline=True)
    assert_no_failure(first)
    (saved,) = saved_files(explorer_cache, "pos_probe")
    stamp = saved.stat().st_mtime_ns

    # a new server process: nothing in memory, and training again would fail
    st.cache_data.clear()
    import interp.probing.pos

    @functools.wraps(interp.probing.pos.pos_probe)  # keeps its validation table (the page reads its choices)
    def no_training(*args, **kwargs):
        raise AssertionError("pos_probe ran again instead of loading the cached probes")

    with monkeypatch.context() as patch:
        patch.setattr(interp.probing.pos, "pos_probe", no_training)
        second = run_probes(open_page("probing"), random_baseline=True)
    assert_no_failure(second)
    assert saved_files(explorer_cache, "pos_probe") == [saved] and saved.stat().st_mtime_ns == stamp
    assert charts(second) == charts(first)
    assert_frame_equal(frames(second)[0], frames(first)[0])

    # other settings are another file, trained afresh
    third = run_probes(open_page("probing"), random_baseline=False)
    assert_no_failure(third)
    assert len(saved_files(explorer_cache, "pos_probe")) == 2
