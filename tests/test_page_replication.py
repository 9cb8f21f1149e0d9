"""The explorer's Replication page under Streamlit's AppTest (through apps/explorer.py, as the other page tests):
a table saved by ``interp replicate`` is shown with its caveats first, its summary, the coloured table (the
library figure's data) and its rows; a corrupt upload and a run asked for no paper end in an error box."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120


@pytest.fixture
def page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path / "explorer-cache"))
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    st.cache_data.clear()
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    at.switch_page("app_pages/replication.py").run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    return at


def saved_table():
    """A replication table as `interp replicate --quick --parts truth,pos` saves it (values made up, the space rows
    not measured)."""
    from interp.replication import ReplicationResult, all_findings

    findings = all_findings()
    values = np.full((1, len(findings)), np.nan)
    reproduces = np.full((1, len(findings)), -1, dtype=np.int8)
    for i, f in enumerate(findings):
        if f.key.startswith(("truth_", "pos_")):
            values[0, i], reproduces[0, i] = 0.1 * (i + 1), i % 2
    return ReplicationResult(keys=[f.key for f in findings], papers=[f.paper for f in findings],
                             paper_models=[f.paper_model for f in findings], claims=[f.claim for f in findings],
                             quantities=[f.quantity for f in findings], criteria=[f.criterion for f in findings],
                             models=["tiny-gpt2"], values=values, reproduces=reproduces, details=["tiny-gpt2: quick"],
                             quick=True)


def test_a_saved_table_is_shown_with_its_caveats_first(page):
    result = saved_table()
    caveats = result.caveats()
    assert any("no interval" in c for c in caveats) and any("Quick settings" in c for c in caveats)
    assert any(c.startswith(f"{len(result.keys) - 6} finding(s) were not measured") for c in caveats)
    page.file_uploader(key="replication_upload").set_value(("result.json", result.to_json().encode(),
                                                            "application/json")).run(timeout=TIMEOUT)
    assert not page.exception and not page.error
    warnings = [w.value.replace("\\", "") for w in page.warning]
    assert warnings[:len(caveats)] == caveats  # every caveat, in order, before anything else warns
    captions = [c.value.replace("\\", "") for c in page.caption]
    assert result.plain_summary() in captions and "tiny-gpt2: quick" in captions
    (chart,) = page.get("plotly_chart")
    assert json.loads(chart.proto.spec)["data"] == json.loads(result.plot().to_json())["data"]
    (shown,) = [d.value for d in page.dataframe]
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), result.to_frame(), check_dtype=False)
    assert [b.label for b in page.download_button] == ["Download JSON", "Download HTML"]


def test_a_corrupt_upload_and_no_paper_show_an_error(page):
    page.file_uploader(key="replication_upload").set_value(("result.json", b"not json", "application/json"))
    page.run(timeout=TIMEOUT)
    assert not page.exception
    (error,) = page.error
    assert "the uploaded file" in error.value and "interp replicate --out DIR" in error.value
    page.file_uploader(key="replication_upload").set_value(None).run(timeout=TIMEOUT)
    page.multiselect(key="replication_parts").set_value([])
    (button,) = [b for b in page.get("form_submit_button") if b.label == "Measure"]
    button.click().run(timeout=TIMEOUT)
    assert not page.exception
    assert any("'parts' parameter of replicate must be one of" in e.value and "non-empty list" in e.value for e in page.error)
