"""interp.Model on tiny random models of three architectures (GPT-2, Llama, GPT-NeoX shapes)."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.errors import (
    EmptyPromptError,
    InvalidParameterError,
    PromptTooLongError,
    UnknownHookError,
    UnknownModelError,
)

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Hi", "Paris is the capital of France, and Rome"]


def test_metadata(tiny_model):
    info = tiny_model.info()
    assert (info["n_layers"], info["n_heads"], info["d_model"], info["n_ctx"]) == (2, 4, 64, 512)
    assert info["d_vocab"] == len(tiny_model.tokenizer)
    assert "blocks.1.hook_resid_post" in tiny_model.hook_names


def test_tiny_models_are_deterministic_per_seed(tiny_model):
    again = interp.load_model(tiny_model.name, quiet=True)
    other = interp.load_model(tiny_model.name, seed=1, quiet=True)
    a, b, c = (m.logits("Hello world") for m in (tiny_model, again, other))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_tokens_match_transformerlens(tiny_model):
    ours = tiny_model.to_tokens(TEXTS[0])
    theirs = tiny_model.bridge.to_tokens(TEXTS[0])
    assert torch.equal(ours, theirs)
    assert tiny_model.to_str_tokens(TEXTS[0])[-1] == "."


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_size", [1, 2, None])
def test_logits_do_not_depend_on_batching_or_padding(tiny_model, padding_side, batch_size):
    alone = [tiny_model.logits(t) for t in TEXTS]
    batched = tiny_model.logits(TEXTS, batch_size=batch_size, padding_side=padding_side)
    for a, b in zip(alone, batched):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_logits_last_only(tiny_model):
    full = tiny_model.logits(TEXTS)
    last = tiny_model.logits(TEXTS, last_only=True)
    assert last.shape == (len(TEXTS), tiny_model.d_vocab)
    for row, f in zip(last, full):
        torch.testing.assert_close(row, f[-1])


def test_resid_post_equals_hf_hidden_states(tiny_model):
    """The bridge's residual stream is the HF model's hidden states (compared on a separate copy)."""
    from interp.models.tiny import build_tiny_hf_model

    reference = build_tiny_hf_model(tiny_model.name, tiny_model.tokenizer, seed=0)
    names = [f"blocks.{l}.hook_resid_post" for l in range(tiny_model.n_layers - 1)] + ["blocks.0.hook_resid_pre"]
    cache = tiny_model.run_with_cache(TEXTS[0], names=names)
    tokens = tiny_model.to_tokens(TEXTS[0])
    with torch.no_grad():
        hidden = reference(tokens, output_hidden_states=True).hidden_states
    torch.testing.assert_close(cache["blocks.0.hook_resid_pre"][0], hidden[0][0], atol=1e-5, rtol=1e-5)
    for layer in range(tiny_model.n_layers - 1):  # the last HF hidden state is after the final norm
        torch.testing.assert_close(cache[f"blocks.{layer}.hook_resid_post"][0], hidden[layer + 1][0], atol=1e-4, rtol=1e-4)


def test_run_with_cache_stops_early_and_matches_full_forward(tiny_model):
    name = "blocks.0.hook_resid_post"
    seen = []
    with tiny_model.hooks([("blocks.1.hook_resid_post", lambda x, hook: seen.append(hook.name))]):
        early = tiny_model.run_with_cache(TEXTS, names=[name])
        assert seen == []  # block 1 never ran
        full = tiny_model.run_with_cache(TEXTS, names=[name, "blocks.1.hook_resid_post"])
        assert seen  # now it did
    assert set(early) == {name}
    torch.testing.assert_close(early[name], full[name])
    assert tiny_model.layers_needed([name]) == 1
    assert tiny_model.layers_needed(["ln_final.hook_normalized"]) is None


def test_run_with_cache_batch_and_padding_invariant(tiny_model):
    name = "blocks.1.hook_resid_post"
    a = tiny_model.run_with_cache(TEXTS, names=name, batch_size=1)
    b = tiny_model.run_with_cache(TEXTS, names=name, padding_side="left")
    for i in range(len(TEXTS)):
        torch.testing.assert_close(a.real(name, i), b.real(name, i), atol=1e-4, rtol=1e-4)
        assert a.real(name, i).shape[0] == len(a.str_tokens[i])


def test_attention_pattern_rows_sum_to_one_and_are_causal(tiny_model):
    cache = tiny_model.run_with_cache(TEXTS[0], names="blocks.1.attn.hook_pattern")
    pattern = cache["blocks.1.attn.hook_pattern"][0]  # (head, q, k)
    torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]), atol=1e-5, rtol=0)
    assert torch.all(pattern.triu(diagonal=1) == 0)


def test_hooks_are_removed_even_after_an_error(tiny_model):
    before = tiny_model.logits("Hello world")
    with pytest.raises(RuntimeError, match="boom"):
        with tiny_model.hooks([("blocks.0.hook_resid_post", lambda x, hook: x * 0)]):
            patched = tiny_model.logits("Hello world")
            assert not torch.allclose(patched, before)
            raise RuntimeError("boom")
    torch.testing.assert_close(tiny_model.logits("Hello world"), before)


def test_top_next_tokens_agrees_with_logits(tiny_model):
    result = tiny_model.top_next_tokens("Hello world", k=4)
    logits = tiny_model.logits("Hello world")[-1]
    assert result.token_ids.tolist() == torch.topk(logits, 4).indices.tolist()
    assert result.probs[0] == pytest.approx(torch.softmax(logits, -1).max().item(), rel=1e-5)
    assert list(result.to_frame().columns) == ["rank", "token", "token_id", "prob", "logit"]
    assert len(result.plot().data) == 1


def test_generate_is_greedy_continuation(tiny_model):
    text = tiny_model.generate("Hello world", max_new_tokens=3)
    ids, new = tiny_model.encode("Hello world"), []  # the reference: argmax of a plain forward, token by token
    for _ in range(3):
        with torch.inference_mode():
            nxt = int(tiny_model.bridge(torch.tensor([ids + new]))[0, -1].argmax())
        if nxt == tiny_model.tokenizer.eos_token_id:
            break
        new.append(nxt)
    assert new and text == tiny_model.tokenizer.decode(new, skip_special_tokens=True)
    assert tiny_model.generate("Hello world", max_new_tokens=3) == text
    sampled = [tiny_model.generate("Hello", max_new_tokens=5, temperature=1.0, seed=s) for s in (0, 0, 1)]
    assert sampled[0] == sampled[1]


def test_chat_prompt_uses_template(tiny_model):
    prompt = tiny_model.chat_prompt("Who are you?")
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    assert tiny_model.top_next_tokens("Who are you?", chat=True).prompt == prompt


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", ["", "   ", [], ["ok", ""]])
def test_empty_prompt(tiny_model, bad):
    with pytest.raises(EmptyPromptError, match="empty"):
        tiny_model.logits(bad)


def test_non_text_prompt(tiny_model):
    with pytest.raises(InvalidParameterError, match="must be a str"):
        tiny_model.logits(42)


def test_prompt_longer_than_context(tiny_model):
    with pytest.raises(PromptTooLongError, match="n_ctx=512"):
        tiny_model.logits("word " * 600)


def test_unknown_hook_suggests_names(tiny_model):
    with pytest.raises(UnknownHookError, match="Did you mean 'blocks.0.hook_resid_post'"):
        tiny_model.run_with_cache("Hi", names="blocks.0.hook_resid_pots")
    with pytest.raises(UnknownHookError, match="blocks.7.hook_resid_post"):
        tiny_model.run_with_cache("Hi", names="blocks.7.hook_resid_post")


def test_bad_stop_at_layer_and_batch_size(tiny_model):
    with pytest.raises(InvalidParameterError, match=r"stop_at_layer.*\[1, 3\)"):
        tiny_model.run_with_cache("Hi", names="hook_embed", stop_at_layer=9)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        tiny_model.logits(["Hi"], batch_size=0)


def test_unknown_model_says_what_was_tried():
    with pytest.raises(UnknownModelError, match="Tried: the default model.*tiny-gpt2.*offline Hugging Face cache"):
        interp.load_model("no-such-org/no-such-model")
    with pytest.raises(UnknownModelError, match="does not exist"):
        interp.load_model("/no/such/dir")


def test_directory_without_config(tmp_path):
    from interp.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="no config.json"):
        interp.load_model(str(tmp_path))


def test_local_directory_round_trip(tmp_path, tiny_models):
    """A HF model saved to a folder loads by path and gives the same logits."""
    from interp.models.tiny import build_tiny_hf_model

    source = tiny_models["tiny-llama"]
    build_tiny_hf_model("tiny-llama", source.tokenizer, seed=0).save_pretrained(tmp_path)
    source.tokenizer.save_pretrained(tmp_path)
    loaded = interp.load_model(str(tmp_path))
    torch.testing.assert_close(loaded.logits("Hello world"), source.logits("Hello world"), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": "int8"}, "'dtype' parameter of load_model must be one of"),
    ({"device": "cuda:7"} if not torch.cuda.is_available() else {"device": "cuda:99"}, "device"),
    ({"device": "toaster"}, "must be a torch device"),
])
def test_bad_dtype_or_device(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        interp.load_model("tiny-gpt2", **kwargs)


def test_other_dtype_loads():
    model = interp.load_model("tiny-gpt2", dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    assert model.logits("Hello").dtype == torch.float32


def test_random_weights_control_differs(tiny_models):
    random = interp.load_model("tiny-gpt2", random_weights=True, seed=3)
    assert not torch.allclose(random.logits("Hello"), tiny_models["tiny-gpt2"].logits("Hello"))


def test_list_models_lists_default_and_tiny():
    names = {row["name"]: row for row in interp.list_models()}
    assert {"SmolLM2-135M-Instruct-Q4_1", "tiny-gpt2", "tiny-llama", "tiny-neox"} <= set(names)
    assert "Q4_1" in names["SmolLM2-135M-Instruct-Q4_1"]["description"]
    assert names["tiny-gpt2"]["available"]


# ----------------------------------------------------------------------------- the weights fingerprint, cached
def test_weight_fingerprint_is_kept_in_the_cache_manifest_until_the_file_changes(tmp_path):
    import json
    import os

    from interp.models import _cache

    (tmp_path / _cache.MANIFEST).write_text(json.dumps({"format": _cache.CACHE_FORMAT, "files": {}}))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x" * 64)
    assert _cache.cached_fingerprint(tmp_path, "float32") is None
    assert _cache.store_fingerprint(tmp_path, "float32", "sha256:abc")
    assert _cache.cached_fingerprint(tmp_path, "float32") == "sha256:abc"
    assert _cache.cached_fingerprint(tmp_path, "bfloat16") is None  # another dtype hashes other bytes
    assert json.loads((tmp_path / _cache.MANIFEST).read_text())["files"] == {}  # the rest of the manifest kept
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: same size, new mtime
    assert _cache.cached_fingerprint(tmp_path, "float32") is None
    assert _cache.store_fingerprint(tmp_path, "float32", "sha256:def")
    with open(weights, "ab") as handle:  # rewritten in place: the size changes
        handle.write(b"y")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _cache.cached_fingerprint(tmp_path, "float32") is None


def test_weights_fingerprint_stores_itself_for_a_cached_model_and_is_read_back(tmp_path):
    import json

    from interp.models import _cache
    from interp.models.card import weights_fingerprint

    (tmp_path / _cache.MANIFEST).write_text(json.dumps({"format": _cache.CACHE_FORMAT, "files": {}}))
    (tmp_path / "model.safetensors").write_bytes(b"x" * 64)
    model = interp.load_model("tiny-gpt2", quiet=True)
    model._fingerprint_cache = (tmp_path, "float32")
    computed = weights_fingerprint(model)
    assert computed.startswith("sha256:") and _cache.cached_fingerprint(tmp_path, "float32") == computed
    fresh = interp.load_model("tiny-gpt2", quiet=True)
    assert weights_fingerprint(fresh) == computed  # the stored value is the hash of these weights


@pytest.mark.slow
def test_default_model_reads_its_fingerprint_from_the_cache(default_model):
    from interp.models import _cache
    from interp.models.card import weights_fingerprint

    expected = weights_fingerprint(default_model)  # computed (or read) once
    directory, dtype = default_model._fingerprint_cache
    assert _cache.cached_fingerprint(directory, dtype) == expected
    again = interp.load_model(quiet=True)
    assert again._weights_fingerprint == expected  # known at load, not hashed again
    del again._weights_fingerprint
    assert weights_fingerprint(again) == expected  # and equal to hashing the loaded weights
