"""The explorer's Lie detector page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page fixtures:
tests/conftest.py): the truth sweep, its reach, the generalisation matrix, the detector's scores and the model's own
lies are what interp.truth returns for the same settings; no dataset or no probe ends in an error box, a sweep of one
model is not shown for another, a second session reuses the probes saved on disk, and two sessions running at once
(this page and Attribution, on one shared model) each see their own numbers."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from _app import (
    DOWNLOADS,
    LAYERS,
    TIMEOUT,
    assert_error,
    assert_frame_equal,
    assert_no_failure,
    captions,
    charts,
    download_labels,
    figure_data,
    frames,
    saved_files,
    submit,
)
from streamlit.testing.v1 import AppTest

TRUTH_SETS = ["cities", "facts"]


def run_sweep(at: AppTest, sets=TRUTH_SETS, probes=("linear", "mm", "ccs")) -> AppTest:
    at.multiselect(key="truth_sets").set_value(list(sets))
    at.multiselect(key="truth_probes").set_value(list(probes))
    at.number_input(key="truth_pairs").set_value(20)
    at.number_input(key="truth_step").set_value(1)
    return submit(at, "Run")


def test_lie_detector_matches_the_library(open_page, tiny, explorer_cache):
    st.cache_resource.clear()  # the fitted detector is a resource: fit it here, into this test's cache folder
    at = open_page("lie_detector")
    assert any("press **Run**" in i.value for i in at.info)
    run_sweep(at)
    assert_no_failure(at)
    from interp.truth import LieDetector, generalization_matrix, truth_report, truth_sweep

    report = truth_report(tiny, TRUTH_SETS, layers=LAYERS, probes=["linear", "mm", "ccs"], max_pairs=20, progress=False)
    sweep = truth_sweep(tiny, TRUTH_SETS, layers=LAYERS, probes=["linear", "mm", "ccs"], max_pairs=20, progress=False)
    assert report.sweep() == sweep  # the page's test accuracy is truth_sweep's
    best = report.layer  # chosen on validation pairs, not on the test pairs shown
    matrix = generalization_matrix(tiny, TRUTH_SETS, layer=best, probe="linear", max_pairs=20, progress=False)
    detector = LieDetector.fit(tiny, TRUTH_SETS, best, probe="linear", max_pairs=20)
    statements = at.text_area(key="truth_text").value.splitlines()
    scores = detector.score(statements)
    assert charts(at) == [figure_data(report.plot()), figure_data(report.transfer_plot()), figure_data(matrix.plot()),
                          figure_data(scores.plot())]
    assert any(c.startswith(f"{report.plain_summary()}. The layer is chosen on validation pairs") for c in captions(at))
    assert any(report.reach() in i.value and "not trained on, expect about" in i.value for i in at.info)  # its reach
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    assert layouts[0]["title"]["text"].replace("<br>", " ") == report.plot().layout.title.text  # wrapped, not cut
    assert layouts[3]["height"] >= 300  # two statements' bars, with room between the margins
    assert download_labels(at) == DOWNLOADS * 3
    assert [b.key for b in at.download_button][::2] == [
        "download_json_truth_report", "download_json_truth_generalization", "download_json_truth_scores"]
    for kind in ("truth_report", "lie_detector"):
        assert len(saved_files(explorer_cache, kind)) == 1, kind
    assert not at.get("progress")  # the report's progress bar is gone once it is done

    at.checkbox(key="truth_per_token").check().run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert charts(at)[3] == figure_data(detector.score(statements, per_token=True).plot())

    # the model's own lies: generating the answers again would double the slowest step, so check that the table
    # holds the built-in questions and the detector's P(true) of the answers it shows
    at.number_input(key="truth_questions").set_value(2)
    at.button(key="truth_ask").click().run(timeout=TIMEOUT)
    assert_no_failure(at)
    from interp.truth.lies import load_questions

    lies = frames(at)[0]
    assert lies["question"].tolist() == [q["question"] for q in load_questions()[:2]]
    answered = [f"{q} {a}" if a else q for q, a in zip(lies["question"].tolist() * 2,
                                                         lies["honest_answer"].tolist() + lies["lie_answer"].tolist())]
    p_true = detector.score(answered, model=tiny).p_true
    assert lies["honest_p_true"].tolist() + lies["lie_p_true"].tolist() == pytest.approx(p_true.tolist(), abs=1e-6)
    assert len(charts(at)) == 5 and [t["name"] for t in charts(at)[4]][:2] == ["honest", "instructed to lie"]
    assert download_labels(at) == DOWNLOADS * 4
    # the result's caveats lead (on a random model: its honest answers are not truths, and the AUC holds 0.5)
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert any("honest answers were right only" in w or "holds 0.5" in w or "told no lies" in w for w in warnings), warnings
    assert any("honest from instructed-false answers" in c for c in captions(at))  # and its summary


def test_lie_detector_without_datasets_or_probes_shows_an_error(open_page):
    at = open_page("lie_detector")
    run_sweep(at, sets=[])
    assert_error(at, "at least one dataset")
    assert not at.get("plotly_chart")
    run_sweep(at, probes=[])
    assert_error(at, "at least one probe")


def test_lie_detector_does_not_mix_models(open_page):
    """A sweep of one model is not shown (nor its best layer used) once the sidebar picks another."""
    at = open_page("lie_detector")
    run_sweep(at, probes=["mm"])
    assert_no_failure(at)
    assert len(at.get("plotly_chart")) == 4  # accuracy by layer, reach, generalisation, scores
    at.sidebar.selectbox[0].set_value("tiny-llama").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert not at.get("plotly_chart") and any("probed tiny-gpt2" in i.value for i in at.info)
    at.sidebar.selectbox[0].set_value("tiny-gpt2").run(timeout=TIMEOUT)  # its own sweep is still there
    assert_no_failure(at)
    assert len(at.get("plotly_chart")) == 4


def test_lie_detector_second_session_reuses_the_probes_from_disk(open_page, explorer_cache, monkeypatch):
    st.cache_resource.clear()
    first = run_sweep(open_page("lie_detector"), probes=["mm"])
    assert_no_failure(first)
    saved = sorted(explorer_cache.iterdir())
    assert [p.name.split("-")[0] for p in saved] == ["lie_detector", "truth_report"]
    stamps = [p.stat().st_mtime_ns for p in saved]

    st.cache_data.clear()
    st.cache_resource.clear()  # the fitted detector lives there; the models reload
    import interp.truth.detector
    import interp.truth.report
    import interp.truth.sweep

    def no_training(*args, **kwargs):
        raise AssertionError("a truth probe was trained again instead of being loaded from the explorer cache")

    with monkeypatch.context() as patch:
        for module, name in [(interp.truth, "truth_sweep"), (interp.truth, "generalization_matrix"),
                             (interp.truth.sweep, "truth_sweep"), (interp.truth.sweep, "generalization_matrix"),
                             (interp.truth, "truth_report"), (interp.truth.report, "truth_report")]:
            patch.setattr(module, name, no_training)
        patch.setattr(interp.truth.LieDetector, "fit", no_training)
        second = run_sweep(open_page("lie_detector"), probes=["mm"])
    assert_no_failure(second)
    assert sorted(explorer_cache.iterdir()) == saved and [p.stat().st_mtime_ns for p in saved] == stamps
    assert charts(second) == charts(first)




def test_two_sessions_at_once_each_see_their_own_numbers(open_page, tiny, explorer_cache):
    """Two explorer sessions on one shared model (one Model in st.cache_resource), run at the same time as
    Streamlit runs them, in two threads: the Lie detector (its sweep hooks every layer) and the Attribution
    page (gradient x input replaces the embeddings with a hook; the attention toggle caches every pattern).
    Each shows what the library gives alone."""
    import threading

    from interp.attribution import attention_maps, attribute
    from interp.truth import truth_report

    st.cache_resource.clear()
    lie, attr = open_page("lie_detector"), open_page("attribution")
    assert lie.session_state["_interp_loaded_model"].model is attr.session_state["_interp_loaded_model"].model
    attr.selectbox(key="attr_method").set_value("grad_x_input")
    attr.toggle(key="attr_attention").set_value(True).run(timeout=TIMEOUT)
    prompts = ["The old man walked his dog to the", "Paris is the capital of", "One, two, three, four,"]
    barrier, shown, failures = threading.Barrier(2), {}, []

    def lie_session():
        barrier.wait()
        run_sweep(lie, probes=["mm", "linear"])
        shown["sweep"] = charts(lie)[0]

    def attribution_session():
        barrier.wait()
        for prompt in prompts:  # several reruns while the other session's sweep runs
            attr.text_area(key="attr_prompt").set_value(prompt).run(timeout=TIMEOUT)
            shown[prompt] = (frames(attr), charts(attr))

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
        return run

    threads = [threading.Thread(target=guard(f)) for f in (lie_session, attribution_session)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert_no_failure(lie)
    assert_no_failure(attr)
    report = truth_report(tiny, TRUTH_SETS, layers=LAYERS, probes=["mm", "linear"], max_pairs=20, progress=False)
    assert shown["sweep"] == figure_data(report.plot())
    for prompt in prompts:
        result = attribute(tiny, prompt, "grad_x_input", None, unit="token", chat=False)
        maps = attention_maps(tiny, prompt, chat=False)
        (scores, attention), figures = shown[prompt]
        assert_frame_equal(scores, result.to_frame())
        assert_frame_equal(attention, maps.to_frame())
        assert figures == [figure_data(result.plot()), figure_data(maps.plot())]
