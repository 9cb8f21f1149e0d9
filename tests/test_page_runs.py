"""The explorer's Runs page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page fixtures:
tests/conftest.py): the results saved in a folder as the CLI leaves it (and an uploaded one) are listed and shown as
the library shows them; a run's summary and report are offered; a broken file, a missing folder, a folder outside
$INTERP_RUNS_DIR and a corrupt upload end in an error box, and an upload is parsed as data, never run."""

from __future__ import annotations

import json
from pathlib import Path

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
    upload,
)


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
