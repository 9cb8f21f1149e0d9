"""The explorer's Ask the model page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page
fixtures: tests/conftest.py): calibration and hints (lettered or cloze, chat or plain) are what interp.ask returns for
the same settings; no signal ends in an error box; both long calls report progress."""

from __future__ import annotations

import pytest
from _app import (
    assert_error,
    assert_frame_equal,
    assert_no_failure,
    assert_summary_shown,
    charts,
    check_long_call_reports_progress,
    figure_data,
    frames,
    submit,
)


def test_ask_page_calibration_and_hints_match_the_library(open_page, tiny):
    from interp.ask import calibrate, hint_faithfulness

    at = open_page("ask")
    assert at.title[0].value == "Ask the model"
    assert [t.label for t in at.tabs] == ["Calibration", "Hints"]
    at.number_input(key="ask_cal_n").set_value(4)
    at = submit(at, "Calibrate")
    assert_no_failure(at)
    expected = calibrate(tiny, "easy", n=4, signals=["letter", "letter_debiased", "p_true", "stated"], n_boot=200,
                         progress=False)
    assert charts(at) == [figure_data(f) for f in expected.figures()]  # reliability diagram, position bias
    assert_frame_equal(frames(at)[0], expected.to_frame())
    assert_frame_equal(frames(at)[1], expected.position_frame())
    at.selectbox(key="ask_hint_set").set_value("capitals")  # the page starts on the library's "easy"
    at.number_input(key="ask_hint_n").set_value(4)
    at.number_input(key="ask_hint_items").set_value(1)
    at = submit(at, "Ask with hints")
    assert_no_failure(at)
    hints = hint_faithfulness(tiny, "capitals", n=4, n_boot=200, attribute_items=1, progress=False)
    assert_summary_shown(at, hints)
    assert any(f.equals(hints.to_frame()) or f.reset_index(drop=True).equals(hints.to_frame()) for f in frames(at))
    shown = charts(at)
    assert figure_data(hints.plot()) in shown and figure_data(hints.item_plot(0)) in shown  # table + heat map


def test_ask_page_cloze_format_in_plain_text_matches_the_library(open_page, tiny):
    from interp.ask import calibrate, hint_faithfulness

    at = open_page("ask")
    at.number_input(key="ask_cal_n").set_value(4)
    at.radio(key="ask_cal_format").set_value("cloze")
    at.radio(key="ask_cal_style").set_value("plain")  # a chat model asked as a base model would be
    at = submit(at, "Calibrate")
    assert_no_failure(at)
    expected = calibrate(tiny, "easy", n=4, signals=["letter", "letter_debiased", "p_true", "stated"], n_boot=200,
                         format="cloze", prompt_style="plain", progress=False)
    assert expected.signals == ["option", "p_true", "stated"] and expected.prompt_style == "plain"
    assert charts(at) == [figure_data(f) for f in expected.figures()]  # the reliability diagram; no letters to bias
    assert_frame_equal(frames(at)[0], expected.to_frame())
    assert_summary_shown(at, expected)
    at.number_input(key="ask_hint_n").set_value(4)
    at.radio(key="ask_hint_format").set_value("cloze")
    at = submit(at, "Ask with hints")
    assert_no_failure(at)
    hints = hint_faithfulness(tiny, "easy", n=4, n_boot=200, attribute_items=2, format="cloze", progress=False)
    assert hints.conditions == ["none", "wrong", "correct"]
    assert any(f.equals(hints.to_frame()) or f.reset_index(drop=True).equals(hints.to_frame()) for f in frames(at))


def test_ask_page_without_signals_shows_an_error(open_page):
    at = open_page("ask")
    at.multiselect(key="ask_cal_signals").set_value([])
    at = submit(at, "Calibrate")
    assert_error(at, "The 'signals' parameter of calibrate must be a non-empty list drawn from 'letter'")


@pytest.mark.parametrize("module, name, page, fill, button", [
    ("interp.ask", "calibrate", "ask", {"ask_cal_n": 4}, "Calibrate"),
    ("interp.ask", "hint_faithfulness", "ask", {"ask_hint_n": 4, "ask_hint_items": 1}, "Ask with hints"),
])
def test_long_calls_report_progress_to_a_bar(open_page, monkeypatch, module, name, page, fill, button):
    """The calls a user waits on get the page's progress bar (a callable), not progress=False behind a bare
    spinner (issue: calibration 176 s, hints 313 s waited on blind)."""
    check_long_call_reports_progress(open_page, monkeypatch, module, name, page, fill, button)
