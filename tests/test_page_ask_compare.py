"""The explorer's Ask page with a second model: each figure for both models in two columns, computed by the same
library calls, under a line saying whether their accuracies differ beyond noise (interp.ask.compare_accuracy).

Driven under Streamlit's AppTest on two different tiny random models (tiny-gpt2 in the sidebar, tiny-llama to
compare with); what the page shows is checked against the library's results for the same inputs.
"""

from __future__ import annotations

import pytest
import streamlit as st
from _app import APPS, TIMEOUT, assert_frame_equal, assert_no_failure, charts, figure_data, submit
from streamlit.testing.v1 import AppTest

import interp

FIRST, SECOND = "tiny-gpt2", "tiny-llama"
CHEAP_SIGNALS = ["letter", "letter_debiased", "p_true", "stated"]  # the page's default signals


@pytest.fixture(scope="module")
def models():
    return {name: interp.load_model(name, quiet=True) for name in (FIRST, SECOND)}


@pytest.fixture
def explorer(tmp_path, monkeypatch):
    """A new explorer session on tiny-gpt2 (its own explorer cache), not yet on a page."""
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path / "explorer-cache"))
    monkeypatch.setenv("INTERP_MODEL", FIRST)
    st.cache_data.clear()
    return AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)


def shown_text(elements) -> list[str]:
    """Markdown / captions as a reader sees them (the page escapes Markdown: an interval's '[' is shown as written)."""
    return [e.value.replace("\\", "") for e in elements]


def test_calibration_of_two_models_side_by_side_matches_the_library(explorer, models):
    from interp.ask import calibrate, compare_accuracy

    at = explorer.switch_page("app_pages/ask.py").run(timeout=TIMEOUT)
    assert at.selectbox(key="ask_compare").value == "(none)"  # one model loaded so far: nothing to compare
    at.selectbox(key="ask_compare").set_value(SECOND).run(timeout=TIMEOUT)
    at.number_input(key="ask_cal_n").set_value(4)
    at = submit(at, "Calibrate")
    assert_no_failure(at)
    expected = [calibrate(models[name], "easy", n=4, signals=CHEAP_SIGNALS, n_boot=200, progress=False)
                for name in (FIRST, SECOND)]
    assert [h.value for h in at.subheader] == [FIRST, SECOND]  # one column each, the sidebar's model first
    assert charts(at) == [figure_data(f) for r in expected for f in r.figures()]
    shown = [d.value for d in at.dataframe]
    assert_frame_equal(shown[0], expected[0].to_frame())
    assert_frame_equal(shown[3], expected[1].to_frame())  # after the first model's table, position and items
    captions = shown_text(at.caption)
    assert all(r.plain_summary() in captions for r in expected)
    sentence = compare_accuracy(*expected).sentence(2)
    (line,) = [m for m in shown_text(at.markdown) if "questions both were asked" in m]
    assert sentence in line and "**Accuracy, 4 questions both were asked**" in line
    assert ("within noise" in line) == compare_accuracy(*expected).within_noise
    labels = [b.label for b in at.download_button]
    assert labels.count("Download JSON") == 2  # each model's result downloads on its own
    shown_charts = charts(at)
    at.run(timeout=TIMEOUT)  # a rerun: both columns again from the result cache (the session keeps the request)
    assert_no_failure(at)
    assert charts(at) == shown_charts and [h.value for h in at.subheader] == [FIRST, SECOND]


def test_hints_of_two_models_side_by_side_match_the_library(explorer, models):
    from interp.ask import compare_accuracy, hint_faithfulness

    at = explorer.switch_page("app_pages/ask.py").run(timeout=TIMEOUT)
    at.selectbox(key="ask_compare").set_value(SECOND).run(timeout=TIMEOUT)
    at.number_input(key="ask_hint_n").set_value(4)
    at.number_input(key="ask_hint_items").set_value(1)
    at = submit(at, "Ask with hints")
    assert_no_failure(at)
    expected = [hint_faithfulness(models[name], "easy", n=4, n_boot=200, attribute_items=1, progress=False)
                for name in (FIRST, SECOND)]
    frames = [d.value for d in at.dataframe]
    for r in expected:
        assert any(f.reset_index(drop=True).equals(r.to_frame()) for f in frames)
        assert figure_data(r.plot()) in charts(at)
    assert {s.key for s in at.selectbox} >= {"ask_hint_item", "ask_hint_item_2"}  # one item picker per column
    line = [m for m in shown_text(at.markdown) if "questions both were asked" in m]
    assert line and compare_accuracy(*expected).sentence(2) in line[0]
    assert "**Accuracy without a hint, 4 questions both were asked**" in line[0]


def test_a_model_loaded_earlier_in_the_session_is_compared_by_default(explorer):
    at = explorer
    at.sidebar.selectbox[0].set_value(SECOND).run(timeout=TIMEOUT)  # load tiny-llama, then go back to tiny-gpt2
    at.sidebar.selectbox[0].set_value(FIRST).run(timeout=TIMEOUT)
    at = at.switch_page("app_pages/ask.py").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert at.selectbox(key="ask_compare").value == SECOND
    assert FIRST not in at.selectbox(key="ask_compare").options  # the sidebar's model is not offered against itself
