"""The explorer's Attribution page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page fixtures:
tests/conftest.py): each method's scores, the attention maps and the faithfulness curve are what interp.attribution
returns for the same inputs; an empty prompt ends in an error box."""

from __future__ import annotations

import pytest
from _app import (
    DEFAULT_PROMPT,
    DOWNLOADS,
    TIMEOUT,
    assert_error,
    assert_frame_equal,
    assert_no_failure,
    assert_summary_shown,
    charts,
    download_labels,
    figure_data,
    frames,
    texts,
)

import interp


def test_attribution_default_prompt_matches_the_library(open_page, tiny):
    at = open_page("attribution")
    expected = interp.attribution.attribute(tiny, DEFAULT_PROMPT, "ablation", None, unit="token", chat=False,
                                            replace_with="<unk>")
    assert at.title[0].value == "Attribution"
    assert at.selectbox(key="attr_method").value == "ablation"
    (table,) = frames(at)
    assert_frame_equal(table, expected.to_frame())
    assert charts(at) == [figure_data(expected.plot())]
    assert_summary_shown(at, expected)
    assert download_labels(at) == DOWNLOADS


def test_attribution_grad_x_input_by_word_with_attention_and_faithfulness(open_page, tiny):
    at = open_page("attribution")
    prompt, target = "The old man walked his dog to the", " park"
    at.text_area(key="attr_prompt").set_value(prompt)
    at.selectbox(key="attr_method").set_value("grad_x_input")
    at.text_input(key="attr_target").set_value(target)
    at.radio(key="attr_unit").set_value("word")
    at.toggle(key="attr_attention").set_value(True).run(timeout=TIMEOUT)
    assert_no_failure(at)
    from interp.attribution import attention_maps, attribute, faithfulness

    result = attribute(tiny, prompt, "grad_x_input", target, unit="word", chat=False)
    maps = attention_maps(tiny, prompt, chat=False)
    assert charts(at) == [figure_data(result.plot()), figure_data(maps.plot())]
    scores, attention = frames(at)
    assert_frame_equal(scores, result.to_frame())
    assert_frame_equal(attention, maps.to_frame())
    assert scores["token"].tolist() == ["The", " old", " man", " walked", " his", " dog", " to", " the"]
    assert download_labels(at) == DOWNLOADS * 2

    at.toggle(key="attr_faith").set_value(True).run(timeout=TIMEOUT)
    assert_no_failure(at)
    faith = faithfulness(tiny, prompt, result)
    assert len(charts(at)) == 3 and charts(at)[1] == figure_data(faith.plot())
    assert_frame_equal(frames(at)[1], faith.to_frame())
    assert download_labels(at) == DOWNLOADS * 3
    assert [b.key for b in at.download_button][2:4] == ["download_json_faithfulness_grad_x_input",
                                                        "download_html_faithfulness_grad_x_input"]


def test_attribution_compare_all_methods(open_page, tiny):
    at = open_page("attribution")
    at.selectbox(key="attr_method").set_value("compare all methods").run(timeout=TIMEOUT)
    at.slider(key="attr_steps").set_value(4).run(timeout=TIMEOUT)
    assert_no_failure(at)
    from interp.attribution import compare_methods

    expected = compare_methods(tiny, DEFAULT_PROMPT, None, unit="token", chat=False, n_steps=4)
    assert charts(at) == [figure_data(expected.plot())]
    comparison, scores = frames(at)
    assert comparison["method"].tolist() == expected.to_frame()["method"].tolist()
    timeless = [c for c in comparison.columns if c != "seconds"]  # wall time per method differs run to run
    assert_frame_equal(comparison[timeless], expected.to_frame()[timeless])
    assert_frame_equal(scores, expected.scores_frame())
    assert download_labels(at) == DOWNLOADS


def test_attribution_integrated_gradients_baselines(open_page, tiny):
    at = open_page("attribution")
    at.selectbox(key="attr_method").set_value("integrated_gradients").run(timeout=TIMEOUT)
    at.slider(key="attr_steps").set_value(4).run(timeout=TIMEOUT)
    radio = at.radio(key="attr_baseline")
    assert list(radio.options) == ["space", "pad", "zeros"] and radio.value == "space"
    for baseline in ("space", "zeros"):
        at.radio(key="attr_baseline").set_value(baseline).run(timeout=TIMEOUT)
        assert_no_failure(at)
        expected = interp.attribution.attribute(tiny, DEFAULT_PROMPT, "integrated_gradients", None, unit="token",
                                                chat=False, n_steps=4, baseline=baseline)
        assert_frame_equal(frames(at)[0], expected.to_frame())
        assert f"{expected.metadata['completeness_error']}" in " ".join(texts(at.caption))


@pytest.mark.parametrize("method", ["ablation", "integrated_gradients"])
def test_attribution_empty_prompt_shows_an_error(open_page, method):
    at = open_page("attribution")
    at.selectbox(key="attr_method").set_value(method)
    at.text_area(key="attr_prompt").set_value("  \n ").run(timeout=TIMEOUT)
    assert_error(at, "empty")
    assert not at.get("plotly_chart") and not at.dataframe and not at.download_button
    at.toggle(key="attr_attention").set_value(True).run(timeout=TIMEOUT)  # the attention maps say so too
    assert not at.exception and len(at.error) == 2

    at.text_area(key="attr_prompt").set_value("Hello world").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert len(at.get("plotly_chart")) == 2
