"""What the explorer's page tests share (tests/test_page_<name>.py, one file per page of apps/app_pages/).

Each page test opens a new explorer session on the tiny random GPT-2 through the real entrypoint (apps/explorer.py, as
a user runs it, with the ``open_page`` fixture of tests/conftest.py), drives the page's main interaction with small
settings and checks that what the page shows is what the library returns for the same inputs: the same table, the same
chart data (a chart's plotly spec against the library figure's), the download buttons. Each page also gets bad input
(an empty prompt, malformed texts, a corrupt upload, a missing folder) that must end in an ``st.error`` box, never an
exception. Trained probes persist under ``$INTERP_EXPLORER_CACHE`` (a fresh tmp folder per test): a second session
must reuse them from disk without training again.

Every test clears ``st.cache_data`` first, so a result computed by an earlier test (in another cache folder) cannot
stand in for the one under test; the models stay loaded (``st.cache_resource``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120  # seconds per script run: generous for a slow CI machine
DEFAULT_PROMPT = "The capital of France is"
DOWNLOADS = ["Download JSON", "Download HTML"]
LAYERS = [0, 1, 2]  # "every 1st layer" of the 2-layer tiny model: embeddings and both blocks


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



def check_long_call_reports_progress(open_page, monkeypatch, module: str, name: str, page: str, fill: dict,
                                     button: str) -> None:
    """The call ``module.name`` a user waits on gets the page's progress bar (a callable), not progress=False behind
    a bare spinner (issue: calibration 176 s, hints 313 s, tracing 66 s waited on blind)."""
    import functools
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
