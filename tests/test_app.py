"""The explorer (apps/explorer.py) under Streamlit's AppTest, on the tiny random GPT-2.

AppTest runs the real entrypoint (st.navigation, the sidebar model picker, the Model page) in
process, without a browser. Each test starts from INTERP_MODEL=tiny-gpt2; the model loads once per
process (st.cache_resource). Besides "no exception", the tests check that what the page shows is
what the library returns, and that bad input ends in an st.error box while the page keeps working.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import interp

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 60  # seconds per script run: generous for a slow CI machine
DEFAULT_PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def tiny():
    return interp.load_model("tiny-gpt2", quiet=True)


@pytest.fixture
def app(monkeypatch) -> AppTest:
    """The explorer after its first run, started on tiny-gpt2."""
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT)
    return at.run(timeout=TIMEOUT)


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def assert_no_failure(at: AppTest) -> None:
    assert not at.exception, f"the app raised: {texts(at.exception)}"
    assert not at.error, f"the app shows errors: {texts(at.error)}"


def test_app_runs_and_shows_the_model_card(app):
    assert_no_failure(app)
    assert app.sidebar.selectbox[0].value == "tiny-gpt2"
    assert app.title[0].value == "tiny-gpt2"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Layers"] == "2" and metrics["Heads"] == "4" and metrics["Context"] == "512"
    assert any("GPT2LMHeadModel · 2 layers" in c.value for c in app.caption)


def test_top_tokens_chart_and_table_match_the_library(app, tiny):
    expected = tiny.top_next_tokens(DEFAULT_PROMPT, k=10)
    (table,) = app.dataframe
    frame = table.value
    assert list(frame.columns) == ["rank", "token", "token_id", "prob", "logit"]
    assert frame["token"].tolist() == [repr(t) for t in expected.tokens]  # quoted, as in the chart
    assert frame["token_id"].tolist() == expected.token_ids.tolist()

    (chart,) = app.get("plotly_chart")
    bars = json.loads(chart.proto.spec)["data"][0]
    assert bars["type"] == "bar" and bars["y"][::-1] == [repr(t) for t in expected.tokens]
    assert [b.label for b in app.download_button] == ["Download JSON", "Download HTML"]
    assert any(c.value == expected.plain_summary() for c in app.caption)


def test_k_slider_changes_the_number_of_tokens(app):
    app.slider(key="model_k").set_value(3).run(timeout=TIMEOUT)
    assert_no_failure(app)
    assert len(app.dataframe[0].value) == 3


def test_empty_prompt_shows_an_error_and_the_page_keeps_working(app):
    app.text_input(key="model_prompt").set_value("   ").run(timeout=TIMEOUT)
    assert not app.exception
    (error,) = app.error
    assert "empty" in error.value
    assert not app.dataframe and not app.get("plotly_chart")
    # the model card and the rest of the page are still there
    assert app.title[0].value == "tiny-gpt2" and app.button(key="model_generate")

    app.text_input(key="model_prompt").set_value("Hello").run(timeout=TIMEOUT)
    assert_no_failure(app)
    assert len(app.dataframe) == 1


def test_prompt_longer_than_n_ctx_shows_an_error(app, tiny):
    long_prompt = "word " * (tiny.n_ctx + 50)
    app.text_input(key="model_prompt").set_value(long_prompt).run(timeout=TIMEOUT)
    assert not app.exception
    (error,) = app.error
    assert "n\\_ctx=512" in error.value  # Markdown-escaped in the error box
    assert not app.dataframe


def test_missing_local_path_shows_an_error(app, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_MODELS_DIR", str(tmp_path))  # an allowed root: the path is checked, then missing
    app.sidebar.selectbox[0].set_value("Local path…").run(timeout=TIMEOUT)
    assert not app.exception and not app.error  # an empty path: nothing to load yet
    assert any("No model is loaded" in i.value for i in app.info)

    missing = tmp_path / "no-such-model"
    app.sidebar.text_input[0].set_value(str(missing)).run(timeout=TIMEOUT)
    assert not app.exception
    (error,) = app.error
    assert "No model directory" in error.value and "pick another model" in error.value
    assert not app.dataframe

    app.sidebar.selectbox[0].set_value("tiny-llama").run(timeout=TIMEOUT)
    assert_no_failure(app)
    assert app.title[0].value == "tiny-llama"


def test_a_model_directory_outside_the_roots_is_refused(app, tmp_path, monkeypatch):
    """Without $INTERP_MODELS_DIR only the caches are roots: any other folder (or a link or ``..`` out of a
    root) is refused before anything in it is read, with the roots and the setting that changes them."""
    from interp.models._cache import cache_root

    monkeypatch.delenv("INTERP_MODELS_DIR", raising=False)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    app.sidebar.selectbox[0].set_value("Local path…").run(timeout=TIMEOUT)
    for entered in [str(tmp_path / "model"), f"{cache_root()}/../../{tmp_path.relative_to('/')}/model"]:
        app.sidebar.text_input[0].set_value(entered).run(timeout=TIMEOUT)
        assert not app.exception
        (error,) = app.error
        assert "outside the folder the explorer may read" in error.value and "INTERP\\_MODELS\\_DIR" in error.value
        assert "the interp cache" in error.value and "config.json" not in error.value
        assert not app.dataframe and any("No model is loaded" in i.value for i in app.info)

    monkeypatch.setenv("INTERP_MODELS_DIR", str(tmp_path))  # allowed now: the folder is read (and is no model)
    app.sidebar.text_input[0].set_value(str(tmp_path / "model") + " ").run(timeout=TIMEOUT)
    assert not app.exception
    (error,) = app.error
    assert "may read" not in error.value and "could not load" in error.value.lower()


def test_interp_model_can_name_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_MODEL", str(tmp_path))  # a directory without config.json
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    assert not at.exception
    assert at.sidebar.selectbox[0].value == "Local path…"
    assert at.sidebar.text_input[0].value == str(tmp_path)
    (error,) = at.error
    assert "config.json" in error.value


def test_generate_shows_the_library_continuation(app, tiny):
    app.slider(key="model_max_new_tokens").set_value(8).run(timeout=TIMEOUT)
    app.button(key="model_generate").click().run(timeout=TIMEOUT)
    assert_no_failure(app)
    (code,) = app.code
    expected = tiny.generate(DEFAULT_PROMPT, 8)
    assert expected and code.value == expected

    # the continuation stays while the inputs are unchanged, and goes when the prompt changes
    app.slider(key="model_k").set_value(4).run(timeout=TIMEOUT)
    assert len(app.code) == 1
    app.text_input(key="model_prompt").set_value("Hello").run(timeout=TIMEOUT)
    assert not app.code


def test_chat_template_wraps_the_prompt(app):
    app.checkbox(key="model_chat").check().run(timeout=TIMEOUT)
    assert_no_failure(app)
    assert any("<|im_start|>assistant" in c.value.replace("\\", "") for c in app.caption)  # as shown (escaped)


@pytest.mark.parametrize("page", sorted(p.name for p in (APPS / "app_pages").glob("*.py") if not p.name.startswith("_")))
def test_every_page_is_registered_and_runs(app, page):
    """Every script in apps/app_pages/ is a page of the explorer and runs on tiny-gpt2 (``_name.py`` files are
    parts a page imports; they live in apps/, next to _common.py, where Streamlit finds them)."""
    app.switch_page(f"app_pages/{page}").run(timeout=TIMEOUT)
    assert_no_failure(app)
    assert app.sidebar.selectbox[0].value == "tiny-gpt2"  # the shared picker is drawn on every page


def test_the_default_models_first_build_says_what_it_does(app_common, monkeypatch, tmp_path):
    _common = app_common
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))  # an empty cache: the next load builds it
    assert "Building SmolLM2-135M-Instruct-Q4_1 from its GGUF file" in _common._loading_message("default")
    assert _common._loading_message("tiny-gpt2") == "Loading tiny-gpt2…"
