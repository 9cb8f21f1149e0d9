"""Static export of figures: a result's figure written as PNG / SVG offline (kaleido >= 1 driving the local
Chromium), and the explorer's "Download PNG" button wherever the exporter is there.

Skipped, saying what to install, where kaleido >= 1 or a Chrome / Chromium is missing (``pip install
'interp[export]'`` and ``apt install chromium``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import interp

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120




@pytest.fixture(scope="module")
def common(app_common):
    module = app_common
    if not module.image_export_available():
        pytest.skip("no static image exporter: kaleido >= 1 (pip install 'interp[export]') and a Chrome or Chromium "
                    "on PATH (apt install chromium) are needed")
    return module


@pytest.fixture(scope="module")
def attribution_result():
    from interp.attribution import attribute

    return attribute(interp.load_model("tiny-gpt2", quiet=True), "The capital of France is", "ablation")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_a_results_figure_is_written_as_png_and_svg(common, attribution_result, tmp_path):
    figure = attribution_result.plot()
    png = common.figure_image(figure, "png", width=800, scale=1)
    assert _png_size(png) == (800, figure.layout.height or 500)  # the size asked for, the figure's own height
    path = tmp_path / "attribution.png"
    path.write_bytes(png)
    assert path.stat().st_size > 5_000  # a drawn chart, not an empty canvas
    svg = common.figure_image(figure, "svg", width=800, scale=1).decode()
    assert svg.startswith("<svg") and "The" in svg and "France" in svg  # the prompt's tokens are drawn as text
    assert figure.layout.title.text.split()[0] in svg


def test_the_explorer_offers_png_downloads_when_the_exporter_is_there(common, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path))
    st.cache_data.clear()
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    at.switch_page("app_pages/attribution.py").run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download JSON", "Download HTML", "Download PNG"], labels
