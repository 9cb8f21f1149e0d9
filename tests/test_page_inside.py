"""The explorer's Inside the model page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page
fixtures: tests/conftest.py): activation patching, causal tracing and attribution patching are what interp.patching
returns for the same inputs; a subject not in the prompt ends in an error box; the tracing call reports progress."""

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


def test_inside_patching_tabs_match_the_library(open_page, tiny):
    from interp.patching import activation_patching, attribution_patching, causal_tracing

    at = open_page("inside")
    assert at.title[0].value == "Inside the model"
    assert [t.label for t in at.tabs] == ["Lens", "Activation patching", "Causal tracing", "Attribution patching",
                                         "Circuits"]
    at = submit(at, "Patch")
    assert_no_failure(at)
    patched = activation_patching(tiny, "The capital of France is", "The capital of Italy is", answer=" Paris",
                                  wrong_answer=" Rome", sites=("resid", "attn", "mlp"), progress=False)
    assert_summary_shown(at, patched)
    shown = [f for f in frames(at) if "value" in f.columns]
    assert_frame_equal(shown[0], patched.to_frame())
    assert [figure_data(f) for f in patched.figures()] == [c for c in charts(at) if c in
                                                           [figure_data(f) for f in patched.figures()]]
    at.number_input(key="inside_trace_samples").set_value(2)
    at = submit(at, "Trace")
    assert_no_failure(at)
    trace = causal_tracing(tiny, "The capital of France is", "France", answer=" Paris", samples=2, progress=False)
    assert any(trace.to_frame().equals(f) for f in frames(at))
    at.number_input(key="inside_atp_top").set_value(3)
    at = submit(at, "Estimate and verify")
    assert_no_failure(at)
    atp = attribution_patching(tiny, "The capital of France is", "The capital of Italy is", answer=" Paris",
                               wrong_answer=" Rome", sites=("attn", "mlp", "head"), verify_top_k=3, progress=False)
    assert any(atp.verified_frame().equals(f) for f in frames(at))


def test_inside_bad_subject_shows_an_error(open_page):
    at = open_page("inside")
    at.text_input(key="inside_trace_subject").set_value("Spain")
    at = submit(at, "Trace")
    assert_error(at, "must occur in the prompt")


@pytest.mark.parametrize("module, name, page, fill, button", [
    ("interp.patching", "causal_tracing", "inside", {"inside_trace_samples": 1}, "Trace"),
])
def test_long_calls_report_progress_to_a_bar(open_page, monkeypatch, module, name, page, fill, button):
    """The calls a user waits on get the page's progress bar (a callable), not progress=False behind a bare
    spinner (issue: tracing 66 s waited on blind)."""
    check_long_call_reports_progress(open_page, monkeypatch, module, name, page, fill, button)
