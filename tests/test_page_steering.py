"""The explorer's Steering page under Streamlit's AppTest on tiny-gpt2 (entrypoint apps/explorer.py, as a user opens
it): the vector, the generations side by side and the curve are what interp.steering returns for the same inputs;
bad strengths end in an error box."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import interp

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120


@pytest.fixture(scope="module")
def tiny():
    return interp.load_model("tiny-gpt2", quiet=True)


@pytest.fixture
def page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path / "cache"))
    st.cache_data.clear()
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    at.switch_page("app_pages/steering.py").run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def submit(at: AppTest, label: str) -> AppTest:
    (button,) = [b for b in at.get("form_submit_button") if b.label == label]
    return button.click().run(timeout=TIMEOUT)


def captions(at: AppTest) -> list[str]:
    return [c.value.replace("\\", "") for c in at.caption]


def test_generate_side_by_side_matches_the_library(page, tiny):
    from interp.steering import concept, middle_layer, steer, steering_vector

    c = concept("french")
    vector = steering_vector(tiny, c.positives, c.negatives, layers=[middle_layer(tiny)], concept="french")
    assert vector.plain_summary() in captions(page)
    page.slider(key="steer_strength").set_value(8.0)
    page.number_input(key="steer_tokens").set_value(3)
    submit(page, "Generate")
    assert not page.exception and not page.error
    expected = steer(tiny, c.prompts[0], vector, 8.0, max_new_tokens=3, scorer="french")
    assert expected.plain_summary() in captions(page)
    shown = [c.value for c in page.code]
    assert [s.strip() for s in shown] == [g.strip() for g in expected.generations[0]]  # as shown (trailing newlines go)
    assert [b.label for b in page.download_button] == ["Download JSON", "Download HTML"]


def test_curve_matches_the_library(page, tiny):
    from interp.steering import concept, middle_layer, steering_sweep, steering_vector

    page.selectbox(key="steer_concept").set_value("sentiment").run(timeout=TIMEOUT)
    page.text_input(key="steer_strengths").set_value("4")
    page.number_input(key="steer_prompts").set_value(2)
    page.number_input(key="steer_curve_tokens").set_value(2)
    submit(page, "Draw the curve")
    assert not page.exception and not page.error
    c = concept("sentiment")
    vector = steering_vector(tiny, c.positives, c.negatives, layers=[middle_layer(tiny)], concept="sentiment")
    expected = steering_sweep(tiny, vector, c.prompts[:2], [4.0], scorer="sentiment", max_new_tokens=2, progress=False)
    (shown, generations) = [d.value for d in page.dataframe]
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.to_frame(), check_dtype=False)
    chart = json.loads(page.get("plotly_chart")[0].proto.spec)["data"]
    assert chart == json.loads(expected.plot().to_json())["data"]


def test_bad_strengths_show_an_error(page):
    page.text_input(key="steer_strengths").set_value("a, b")
    submit(page, "Draw the curve")
    assert not page.exception
    (error,) = page.error
    assert "'Strengths' parameter of the Steering page must be a non-empty list of comma-separated numbers" in error.value
