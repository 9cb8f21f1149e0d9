"""The explorer's progress adapter (apps/_common.py): st.progress with a caption saying what runs, fed by the
library's progress(stage, done, total) protocol."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parents[1] / "apps"


def _run(tmp_path: Path, body: str) -> AppTest:
    """Run ``body`` as a script that sits beside ``_common.py`` in a copy of apps/: Streamlit puts a script's own
    folder on sys.path, as it does for the real explorer (no folder is added by hand)."""
    apps = tmp_path / "apps"
    if not apps.exists():
        shutil.copytree(APPS, apps, ignore=shutil.ignore_patterns("__pycache__"))
    script = apps / "_test_page.py"
    script.write_text("import _common\n" + textwrap.dedent(body))
    return AppTest.from_file(str(script), default_timeout=30).run()


def test_the_bar_shows_the_stage_and_how_far_it_is(tmp_path):
    at = _run(tmp_path, """
        bar = _common.StreamlitProgress("Running the truth report")
        bar("truth report: choosing the layer on validation pairs", 1, 4)
        """)
    assert not at.exception
    (shown,) = at.get("progress")
    assert shown.proto.value == 25
    assert shown.proto.text == "Running the truth report: truth report: choosing the layer on validation pairs (1/4)"


def test_an_unknown_total_and_the_bar_gone_after_the_block(tmp_path):
    at = _run(tmp_path, """
        import streamlit as st
        with _common.progress_bar("Probing") as bar:
            bar("activations", 3, None)
        st.write("done")
        """)
    assert not at.exception and not at.get("progress")
    at = _run(tmp_path, """
        bar = _common.StreamlitProgress("Probing")
        bar("activations", 3, None)
        """)
    assert at.get("progress")[0].proto.text == "Probing: activations" and at.get("progress")[0].proto.value == 0
