"""Shared fixtures: tiny random models of three architectures, and the real default model (slow)."""

from __future__ import annotations

import pytest

TINY = ("tiny-gpt2", "tiny-llama", "tiny-neox")


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
