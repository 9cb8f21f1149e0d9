"""The explorer's Features page under Streamlit's AppTest (the real entrypoint, apps/explorer.py), on tiny-gpt2:
train an SAE with small settings, and the page's dashboard, search and prompt table are what the library gives for
the same SAE; a folder that is not an SAE shows an error box, never an exception."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import interp

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 180


@pytest.fixture
def page(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path / "cache"))
    st.cache_data.clear()
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    at.switch_page("app_pages/features.py").run(timeout=TIMEOUT)
    assert not at.exception and not at.error
    return at


def test_features_page_trains_and_shows_the_library_dashboard(page, tmp_path):
    from interp.features import default_texts, feature_dashboard, feature_store, train_sae

    at = page
    at.number_input(key="features_width").set_value(32)
    at.number_input(key="features_k").set_value(4)
    at.number_input(key="features_n_texts").set_value(20)
    at.number_input(key="features_batch").set_value(64)
    (button,) = [b for b in at.get("form_submit_button") if b.label == "Train"]
    button.click().run(timeout=TIMEOUT)
    assert not at.exception and not at.error, [e.value for e in at.error]

    model = interp.load_model("tiny-gpt2", quiet=True)
    sources = ("conversation", "statements", "stories")
    run = train_sae(model, default_texts(max_texts=20, sources=sources), 1, k=4, width=32, batch_size=64,
                    out=tmp_path / "lib", progress=False)
    assert any(run.plain_summary().split(";")[0] in c.value for c in at.caption)
    store = feature_store(model, run.sae, default_texts(split="heldout", max_texts=100, sources=sources),
                          progress=False)
    feature = int(store.firing_counts().argmax())
    assert at.number_input(key="features_feature").value == feature
    expected = feature_dashboard(model, run.sae, feature, store=store)
    shown = [d.value for d in at.dataframe]
    assert any(frame.shape == expected.to_frame().shape and frame["token"].tolist() == expected.to_frame()["token"]
               .tolist() for frame in shown if isinstance(frame, pd.DataFrame) and "token" in frame)

    at.text_input(key="features_query").set_value("the").run(timeout=TIMEOUT)
    hits = store.features_on_token("the")[:20]
    search = [d.value for d in at.dataframe if "top tokens" in d.value][0]
    assert search["feature"].tolist() == [f for f, _ in hits]
    prompt_rows = [d.value for d in at.dataframe if "labels" in d.value and "position" in d.value][0]
    assert prompt_rows["token"].tolist() == model.to_str_tokens("The city of Paris is in France.")[1:]


def test_features_page_bad_folder_shows_an_error(page, tmp_path):
    at = page
    at.text_input(key="features_folder").set_value(str(tmp_path / "nothing"))
    at.button(key="features_open").click().run(timeout=TIMEOUT)
    assert not at.exception
    (error,) = at.error
    assert "is not an SAE folder" in error.value
