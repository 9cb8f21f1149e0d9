"""Every analysis page of the explorer under Streamlit's AppTest, on the tiny random GPT-2.

tests/test_app.py covers the entrypoint and the Model page; this file drives the main interaction of
each other page (Attribution, Probing, Maps, Lie detector, Runs) with small settings and checks that
what the page shows is what the library returns for the same inputs: the same table, the same chart
data (a chart's plotly spec against the library figure's), the download buttons. Each page also gets
bad input (an empty prompt, malformed texts, a corrupt upload, a missing folder) that must end in an
``st.error`` box, never an exception. Trained probes persist under ``$INTERP_EXPLORER_CACHE`` (a
fresh tmp folder per test): a second session must reuse them from disk without training again.

Every test clears ``st.cache_data`` first, so a result computed by an earlier test (in another
cache folder) cannot stand in for the one under test; the models stay loaded (``st.cache_resource``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import interp

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120  # seconds per script run: generous for a slow CI machine
DEFAULT_PROMPT = "The capital of France is"
DOWNLOADS = ["Download JSON", "Download HTML"]
LAYERS = [0, 1, 2]  # "every 1st layer" of the 2-layer tiny model: embeddings and both blocks


@pytest.fixture(scope="module")
def tiny():
    return interp.load_model("tiny-gpt2", quiet=True)


@pytest.fixture
def explorer_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "explorer-cache"
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(cache))
    return cache


@pytest.fixture
def open_page(monkeypatch, explorer_cache):
    """``open_page("maps")``: a new explorer session on tiny-gpt2, switched to that page and run."""
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    st.cache_data.clear()

    def _open(page: str, *, check: bool = True) -> AppTest:
        at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
        at.switch_page(f"app_pages/{page}.py").run(timeout=TIMEOUT)
        if check:
            assert_no_failure(at)
        return at

    return _open


# ----------------------------------------------------------------------------------------- helpers
def texts(elements) -> list[str]:
    return [e.value for e in elements]


def captions(at: AppTest) -> list[str]:
    """The captions as a reader sees them (the page escapes Markdown: an interval's '[' is shown as written)."""
    return [c.value.replace("\\", "") for c in at.caption]


def assert_summary_shown(at: AppTest, result) -> None:
    """The page shows the result's summary as a caption and each of its caveats in a warning box."""
    assert result.plain_summary() in captions(at), (result.plain_summary(), captions(at))
    warnings = [w.value.replace("\\", "") for w in at.warning]
    for caveat in result.caveats():
        assert caveat in warnings, (caveat, warnings)


def assert_no_failure(at: AppTest) -> None:
    assert not at.exception, f"the app raised: {texts(at.exception)}"
    assert not at.error, f"the app shows errors: {texts(at.error)}"


def assert_error(at: AppTest, *fragments: str) -> None:
    """Exactly one error box, saying each fragment; no exception."""
    assert not at.exception, f"the app raised: {texts(at.exception)}"
    (error,) = at.error
    for fragment in fragments:
        assert fragment in error.value, error.value


def submit(at: AppTest, label: str) -> AppTest:
    """Press a form's submit button (AppTest lists them with the buttons, keyed ``FormSubmitter:<form>-<label>``)."""
    (button,) = [b for b in at.get("form_submit_button") if b.label == label]
    return button.click().run(timeout=TIMEOUT)


def charts(at: AppTest) -> list[list[dict]]:
    """The trace data of every plotly chart on the page, in page order."""
    return [json.loads(chart.proto.spec)["data"] for chart in at.get("plotly_chart")]


def figure_data(figure) -> list[dict]:
    return json.loads(figure.to_json())["data"]


def download_labels(at: AppTest) -> list[str]:
    return [b.label for b in at.download_button]


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def assert_frame_equal(shown: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


def upload(name: str, result) -> tuple[str, bytes, str]:
    """What ``file_uploader.set_value`` takes for a result saved as ``name``."""
    return name, result.to_json().encode(), "application/json"


def saved_files(cache: Path, kind: str) -> list[Path]:
    return sorted(cache.glob(f"{kind}-*.json"))


# ----------------------------------------------------------------------------------------- Attribution
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


# ----------------------------------------------------------------------------------------- Probing
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


# ----------------------------------------------------------------------------------------- Maps
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


# ----------------------------------------------------------------------------------------- Lie detector
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


# ----------------------------------------------------------------------------------------- Runs
@pytest.fixture(scope="module")
def saved_results(tiny) -> dict:
    from interp.attribution import attribute

    return {"top_next_tokens.json": tiny.top_next_tokens(DEFAULT_PROMPT, k=5),
            "france/attribution.json": attribute(tiny, DEFAULT_PROMPT, "grad_x_input")}


@pytest.fixture
def runs_folder(tmp_path, saved_results, monkeypatch):
    """A folder as the CLI leaves it: two saved results (one in a subfolder) and files that are not results."""
    folder = tmp_path / "runs"
    top, attribution = saved_results["top_next_tokens.json"], saved_results["france/attribution.json"]
    top.save(folder / "top_next_tokens.json")
    attribution.save(folder / "france" / "attribution.json")
    (folder / "notes.json").write_text('{"not": "a result"}')
    (folder / "activations").mkdir()
    (folder / "activations" / "layer_1.json").write_text('{"format": "interp.result"}')  # skipped: shards
    monkeypatch.setenv("INTERP_RUNS_DIR", str(folder))
    return folder, saved_results


def test_runs_lists_and_shows_saved_results(open_page, runs_folder):
    folder, results = runs_folder
    at = open_page("runs")
    assert at.text_input(key="runs_folder").value == str(folder)
    chooser = at.selectbox(key="runs_file")
    assert chooser.options == ["top_next_tokens.json", "france/attribution.json"]  # the top folder first
    assert chooser.label == "Result (2 found)"
    for name, result in results.items():
        chooser = at.selectbox(key="runs_file").set_value(name)
        chooser.run(timeout=TIMEOUT)
        assert_no_failure(at)
        assert at.subheader[-1].value == result.title
        assert charts(at) == [figure_data(f) for f in result.figures()]
        assert_summary_shown(at, result)
        assert_frame_equal(frames(at)[0], result.to_frame())
        assert download_labels(at) == DOWNLOADS
        assert [b.key for b in at.download_button] == [f"download_json_{Path(name).stem}",
                                                       f"download_html_{Path(name).stem}"]


def test_runs_shows_a_run_summary_and_report(open_page, runs_folder):
    folder, _ = runs_folder
    (folder / "summary.csv").write_text("job,status,seconds\nfrance,ok,1.5\n")
    (folder / "report.html").write_text("<html></html>")
    at = open_page("runs")
    assert_no_failure(at)
    assert at.subheader[0].value == "Run summary"
    assert frames(at)[0]["job"].tolist() == ["france"]
    assert download_labels(at) == ["Download the run's report (HTML)", *DOWNLOADS]


def test_runs_bad_folders_and_files_show_an_error(open_page, runs_folder, tmp_path):
    folder, results = runs_folder
    (folder / "broken.json").write_text('{"format": "interp.result", "kind": "TopTokensResult", "fields": ')
    at = open_page("runs", check=False)
    assert at.selectbox(key="runs_file").value == "broken.json"  # listed (it says it is a result), first
    assert_error(at, "broken.json", "not a result this interp can read")
    assert not at.get("plotly_chart") and not at.download_button
    at.selectbox(key="runs_file").set_value("top_next_tokens.json").run(timeout=TIMEOUT)  # the others still open
    assert_no_failure(at)
    assert len(at.get("plotly_chart")) == len(results["top_next_tokens.json"].figures())

    at.text_input(key="runs_folder").set_value(str(folder / "missing")).run(timeout=TIMEOUT)
    assert_error(at, "missing", "is not a folder", "Check the path")
    assert not at.get("plotly_chart") and not at.download_button

    (folder / "empty").mkdir()
    at.text_input(key="runs_folder").set_value(str(folder / "empty")).run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert any("No saved interp results" in i.value for i in at.info)


def test_runs_refuses_folders_outside_its_root(open_page, runs_folder, tmp_path):
    """Only $INTERP_RUNS_DIR and what is under it can be read: the parent, a ``..`` out of it and a link
    out of it are refused (saying which root applies and how to change it); a file link out is not listed."""
    folder, results = runs_folder
    outside = tmp_path / "elsewhere"
    results["top_next_tokens.json"].save(outside / "secret.json")
    (folder / "out").symlink_to(outside, target_is_directory=True)
    (folder / "linked.json").symlink_to(outside / "secret.json")
    at = open_page("runs")
    assert at.selectbox(key="runs_file").options == ["top_next_tokens.json", "france/attribution.json"]
    for entered in [str(tmp_path), f"{folder}/../elsewhere", str(folder / "out"), "/"]:
        at.text_input(key="runs_folder").set_value(entered).run(timeout=TIMEOUT)
        assert_error(at, "is outside the folder the explorer may read", str(folder).replace("_", "\\_"),
                     "set INTERP\\_RUNS\\_DIR to a folder")
        assert not at.get("plotly_chart") and "runs_file" not in [box.key for box in at.selectbox]
    at.text_input(key="runs_folder").set_value(f"{folder}/france/..").run(timeout=TIMEOUT)  # inside after all
    assert_no_failure(at)
    assert at.selectbox(key="runs_file").label == "Result (2 found)"


def test_runs_says_when_its_search_stopped_early(open_page, runs_folder, monkeypatch):
    """A bounded search (here: 4 entries) lists what it found and says that it stopped and why."""
    import functools

    from interp import _paths

    monkeypatch.setattr(_paths, "find_results", functools.partial(_paths.find_results, max_files=4))
    at = open_page("runs")  # activations/, france/, notes.json, top_next_tokens.json, then stop
    assert_no_failure(at)
    (warning,) = at.warning
    assert "stopped early" in warning.value and "4 files and folders" in warning.value, warning.value
    assert at.selectbox(key="runs_file").options == ["top_next_tokens.json"]


@pytest.mark.parametrize("payload", ["pickle", "__import__"])
def test_runs_upload_is_parsed_as_data_never_run(open_page, runs_folder, tmp_path, payload):
    """An upload is JSON parsed as data: a pickle is refused and code in a field is only text; neither runs."""
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    if payload == "pickle":
        data = pickle.dumps(Payload())
    else:
        saved = json.loads(runs_folder[1]["top_next_tokens.json"].to_json())
        saved["fields"]["prompt"] = code
        data = json.dumps(saved).encode()
    at = open_page("runs")
    at.radio(key="runs_source").set_value("An uploaded file").run(timeout=TIMEOUT)
    at.file_uploader(key="runs_upload").set_value(("result.json", data, "application/json")).run(timeout=TIMEOUT)
    assert not at.exception and not marker.exists()
    if payload == "pickle":
        assert_error(at, "result.json", "interp saved")
    else:  # a valid result whose prompt is that text, shown as text
        assert_no_failure(at)
        assert any(code in c.value or code.replace("_", "\\_") in c.value for c in at.caption)


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "something else"}', b"<html>export</html>"])
def test_runs_corrupt_upload_shows_an_error(open_page, runs_folder, content):
    at = open_page("runs")
    at.radio(key="runs_source").set_value("An uploaded file").run(timeout=TIMEOUT)
    assert any("Upload a result JSON" in i.value for i in at.info)
    at.file_uploader(key="runs_upload").set_value(("result.json", content, "application/json")).run(timeout=TIMEOUT)
    assert_error(at, "result.json", "interp saved")
    assert not at.get("plotly_chart") and not at.download_button


def test_runs_opens_an_uploaded_result(open_page, runs_folder):
    _, results = runs_folder
    result = results["top_next_tokens.json"]
    at = open_page("runs")
    at.radio(key="runs_source").set_value("An uploaded file").run(timeout=TIMEOUT)
    at.file_uploader(key="runs_upload").set_value(upload("top.json", result))
    at.run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert charts(at) == [figure_data(f) for f in result.figures()]
    assert [b.key for b in at.download_button] == ["download_json_top", "download_html_top"]


# ----------------------------------------------------------------------------------------- two sessions at once
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


# ----------------------------------------------------------------------------------------- Inside the model
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


# ----------------------------------------------------------------------------------------- Ask the model
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


# ----------------------------------------------------------------------------------------- Training data
def test_training_data_page_fine_tunes_and_attributes_like_the_library(open_page, tiny, tmp_path):
    from interp.data_attribution import attribute_training, finetune

    at = open_page("training_data")
    assert at.title[0].value == "Training data"
    assert at.info  # nothing runs before Fine-tune is pressed
    at.selectbox(key="td_dataset").set_value("crosslingual")
    at.number_input(key="td_blocks").set_value(1)
    at.number_input(key="td_epochs").set_value(2)
    at = submit(at, "Fine-tune")
    assert_no_failure(at)
    run = finetune(tiny, "crosslingual", blocks=1, epochs=2, lr=1e-3, out=tmp_path / "run", progress=False)
    assert run.summary().split(" in /")[0] in [t.value.split(" in /")[0] for t in at.text]
    query = at.selectbox(key="td_query").value
    assert query == run.data.queries[0].id  # the crosslingual set has no shutdown question: its first query
    shown = iter(frames(at))
    for method in ["bm25", "grad_cos", "trackstar"]:
        expected = attribute_training(run, query, method=method, top_k=5).to_frame()
        columns = ["rank", "id", "score", "gold", "text"]
        for direction in ["supporting", "opposing"] if method != "bm25" else ["supporting"]:  # bm25 never opposes
            assert_frame_equal(next(shown), expected[expected["direction"] == direction][columns])
    assert any("bm25 has no opposing direction" in c.value for c in at.caption)
    at = submit(at, "Evaluate")
    assert_no_failure(at)
    assert any("bm25: MRR" in c.value for c in at.caption)


def test_training_data_page_empty_own_prompt_shows_an_error(open_page):
    at = open_page("training_data")
    at.selectbox(key="td_dataset").set_value("crosslingual")
    at.number_input(key="td_blocks").set_value(1)
    at.number_input(key="td_epochs").set_value(1)
    at = submit(at, "Fine-tune")
    at.selectbox(key="td_query").set_value("(my own prompt)")
    at = submit(at, "Attribute")
    assert not at.exception
    assert len(at.error) == 3  # one per default method, each saying what was wrong
    assert all("The 'query' parameter of attribute\\_training is empty" in e.value for e in at.error)


@pytest.mark.parametrize("module, name, page, fill, button", [
    ("interp.ask", "calibrate", "ask", {"ask_cal_n": 4}, "Calibrate"),
    ("interp.ask", "hint_faithfulness", "ask", {"ask_hint_n": 4, "ask_hint_items": 1}, "Ask with hints"),
    ("interp.patching", "causal_tracing", "inside", {"inside_trace_samples": 1}, "Trace"),
])
def test_long_calls_report_progress_to_a_bar(open_page, monkeypatch, module, name, page, fill, button):
    """The calls a user waits on get the page's progress bar (a callable), not progress=False behind a bare
    spinner (issue: calibration 176 s, hints 313 s, tracing 66 s waited on blind)."""
    import importlib

    target = importlib.import_module(module)
    real, seen = getattr(target, name), []

    @functools.wraps(real)  # a stand-in keeps the function's validation table (the page reads its choices)
    def recording(*args, **kwargs):
        seen.append(kwargs.get("progress"))
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, recording)  # the page imports the name when it runs
    at = open_page(page)
    for key, value in fill.items():
        at.number_input(key=key).set_value(value)
    at = submit(at, button)
    assert_no_failure(at)
    assert seen and all(callable(p) for p in seen), seen
