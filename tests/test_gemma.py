"""Slow tests on the second real model, gemma-3-270m-Q4_K_M (Gemma 3 270M base, Q4_K_M GGUF; the interp[gemma]
extra, which `make setup` installs; skipped without it). The model is built once per session (tests/conftest.py).

They check that the bridge computes what Hugging Face computes (short, padded and past-the-sliding-window
prompts), a known answer, and one probe of every analysis on an architecture unlike SmolLM2's (grouped-query
attention with one key/value head, sliding-window layers, pre- and post-norms, a 262,144-token vocabulary, no
chat template). Integrated gradients against Captum runs on both real models in tests/test_attribution.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from interp.errors import NoChatTemplateError, UnsupportedDtypeError

pytestmark = [pytest.mark.slow, pytest.mark.gemma]

GEMMA = "gemma-3-270m-Q4_K_M"


def test_card_says_what_the_weights_are(gemma_model):
    info = gemma_model.info()
    assert info["name"] == GEMMA and info["quantization"] == "Q4_K_M (GGUF)"
    assert info["weights"] == "de-quantized from Q4_K_M to float32" and info["architecture"] == "Gemma3ForCausalLM"
    assert (info["n_layers"], info["d_model"], info["n_heads"], info["d_vocab"]) == (18, 640, 4, 262_144)
    assert info["chat_template"] is False and not gemma_model.has_chat_template
    assert info["licence"] == "Gemma Terms of Use" and Path(info["terms"]).is_file()


def test_eiffel_tower_is_in_paris(gemma_model):
    top = gemma_model.top_next_tokens("The Eiffel Tower is located in the city of", k=5)
    assert " Paris" in top.tokens


@pytest.fixture(scope="module")
def hf_copy(gemma_model):
    """A second, separate Hugging Face copy of the cached weights (not the bridge's module)."""
    from transformers import AutoModelForCausalLM

    from interp.models import _cache, catalog

    reference = AutoModelForCausalLM.from_pretrained(str(_cache.model_dir(catalog.PACKAGED_MODELS[GEMMA])),
                                                     attn_implementation="eager")
    assert reference is not gemma_model.bridge.original_model
    return reference.eval()


def test_bridge_equals_a_separate_hf_copy(gemma_model, hf_copy):
    text = "The Eiffel Tower is in Paris, the capital of France."
    blocks = [0, 5, 11, 16]  # hidden_states[b + 1] is block b's output (the last one is after the final norm)
    cache = gemma_model.run_with_cache(text, names=[f"blocks.{b}.hook_resid_post" for b in blocks])
    with torch.no_grad():
        out = hf_copy(gemma_model.to_tokens(text), output_hidden_states=True)
    for b in blocks:
        ours, theirs = cache[f"blocks.{b}.hook_resid_post"][0], out.hidden_states[b + 1][0]
        assert (ours - theirs).abs().max() <= 1e-5 * theirs.abs().max(), b
    ours = gemma_model.logits(text)
    assert (ours - out.logits[0]).abs().max() <= 1e-4 * out.logits[0].abs().max()


def test_padded_batches_and_a_prompt_past_the_sliding_window_equal_hf(gemma_model, hf_copy):
    texts = ["The capital of France is", "Once upon a time there was a", "2 + 2 ="]
    long = " ".join(f"item {i} is {i * i % 97}." for i in range(75))  # ~670 tokens: past the 512-token window
    ids = gemma_model.encode(long)
    assert 512 < len(ids) < 1024
    batched = gemma_model.logits([*texts, long], padding_side="left", last_only=True)  # (4, d_vocab)
    with torch.no_grad():
        for row, text in enumerate([*texts, long]):
            reference = hf_copy(gemma_model.to_tokens(text), logits_to_keep=1).logits[0, -1]
            assert (batched[row] - reference).abs().max() <= 1e-3 * reference.abs().max(), text[:30]
    assert int(batched[-1].argmax()) == int(reference.argmax())


def test_float16_is_refused_because_it_overflows_and_bfloat16_runs(gemma_model, hf_copy):
    """The reason in the table is true: Gemma's residual stream leaves float16's range (65504)."""
    import interp

    with pytest.raises(UnsupportedDtypeError, match="float16"):
        interp.load_model(GEMMA, dtype="float16")
    tokens = gemma_model.to_tokens("The Eiffel Tower is located in the city of")
    with torch.no_grad():
        hidden = hf_copy(tokens, output_hidden_states=True).hidden_states
    assert max(float(h.abs().max()) for h in hidden) > torch.finfo(torch.float16).max
    bf16 = interp.load_model(GEMMA, dtype="bfloat16", quiet=True)
    top = bf16.top_next_tokens("The Eiffel Tower is located in the city of", k=5)
    assert np.all(np.isfinite(top.logits)) and " Paris" in top.tokens


# ----------------------------------------------------------------------------------------- every analysis
def test_attribution_ablation_finds_the_country(gemma_model):
    from interp.attribution import attribute

    result = attribute(gemma_model, "The capital of France is", method="ablation", target=" Paris", replace_with=None)
    assert result.top(1)[0][0] == " France"


def test_grad_x_input_equals_captum(gemma_model):
    from captum.attr import LayerGradientXActivation

    from interp.attribution import attribute

    prompt = "The capital of France is"
    result = attribute(gemma_model, prompt, method="grad_x_input", target=" Paris", aggregate="sum")
    ids = gemma_model.encode(prompt)
    (paris,) = gemma_model.tokenizer(" Paris", add_special_tokens=False)["input_ids"]

    def forward(x):
        return torch.log_softmax(gemma_model.bridge(x)[:, -1].float(), -1)[:, paris]

    expected = LayerGradientXActivation(forward, gemma_model.bridge.embed).attribute(torch.tensor([ids]))
    np.testing.assert_allclose(result.scores[0], expected.sum(-1)[0, 1:].detach().numpy(), atol=1e-4, rtol=1e-3)


def test_attention_is_causal_and_rollout_runs(gemma_model):
    from interp.attribution import attention_maps, attribute

    maps = attention_maps(gemma_model, "The capital of France is")
    patterns = maps.patterns  # (blocks, heads, query, key)
    assert patterns.shape[:2] == (18, 4)
    np.testing.assert_allclose(patterns.sum(-1), 1.0, atol=1e-4)
    assert np.abs(np.triu(patterns, k=1)).max() == 0.0
    rollout = attribute(gemma_model, "The capital of France is", method="rollout")
    assert np.all(np.isfinite(rollout.scores)) and rollout.scores.shape[1] == len(rollout.tokens)


def test_chat_only_analyses_refuse_the_base_model(gemma_model):
    from interp.attribution import attribute
    from interp.truth import detect_model_lies

    with pytest.raises(NoChatTemplateError, match=f"{GEMMA} has none: it is a base model"):
        attribute(gemma_model, "Name the capital of France.", method="ablation", chat=True)
    # asked in chat form explicitly, the base model is refused; by default it is asked in plain text (tests/test_ask.py)
    with pytest.raises(NoChatTemplateError, match="detect_model_lies needs a model with a chat template"):
        detect_model_lies(gemma_model, max_questions=2, prompt_style="chat", progress=False)
    from interp.ask import calibrate, hint_faithfulness, self_report

    for ask in (calibrate, hint_faithfulness, self_report):
        with pytest.raises(NoChatTemplateError, match=f"{ask.__name__} asks the model in chat form"):
            ask(gemma_model, n=2, prompt_style="chat", progress=False)


def test_collect_equals_run_with_cache(gemma_model):
    from interp.activations import collect

    texts = ["The cat sat on the mat.", "Dogs bark loudly at night."]
    acts = collect(gemma_model, texts, layers=[0, 9, 18], position="last", progress=False)
    cache = gemma_model.run_with_cache(texts, names=["blocks.8.hook_resid_post"])
    for i in range(len(texts)):
        np.testing.assert_allclose(acts[9][i], cache.real("blocks.8.hook_resid_post", i)[-1].numpy(), rtol=1e-5, atol=1e-4)
    assert acts[18].shape == (2, 640) and np.all(np.isfinite(acts[18]))


def test_truth_probe_separates_true_and_false_cities(gemma_model):
    from interp.truth import truth_sweep

    sweep = truth_sweep(gemma_model, ["cities"], layers=[9], probes=["linear"], max_pairs=100, progress=False)
    assert sweep.accuracy[0, 0, 0] >= 0.7


def test_steering_moves_p_true_with_the_truth_direction(gemma_model):
    from interp.truth import steer_truth

    result = steer_truth(gemma_model, "cities", layer=9, alphas=(-2, 2), max_pairs=40, n_test=16)
    assert np.all(np.isfinite(result.p_true))
    assert result.p_true[1].mean() > result.p_true[0].mean()  # adding mu_true - mu_false raises P(" true")


def test_pos_probe_beats_the_majority_tag_and_its_control(gemma_model):
    from interp.probing import pos_probe

    result = pos_probe(gemma_model, layers=[6], max_sentences=120, random_baseline=False, progress=False)
    assert result.accuracy[0] > result.majority_accuracy + 0.3 and result.selectivity[0] > 0


def test_world_map_is_better_in_the_middle_than_at_the_embeddings(gemma_model):
    from interp.projection import world_map

    result = world_map(gemma_model, n_places=400, layers=[0, 9], random_baseline=False, progress=False)
    assert result.r2_lat[1] > result.r2_lat[0] and result.r2_lat[1] > 0.2


def test_projection_runs(gemma_model):
    from interp.projection import project

    result = project(gemma_model, ["cat", "dog", "Paris", "Tokyo", "red", "blue"], layer=9, method="pca")
    assert result.to_frame().shape[0] == 6 and np.all(np.isfinite(result.coords))


def test_logit_lens_reads_paris_only_in_the_late_layers(gemma_model):
    from interp.lens import logit_lens

    result = logit_lens(gemma_model, "The Eiffel Tower is located in the city of", target=" Paris", layers=[0, 9, 18])
    rank = result.target_rank[:, -1]  # (3,) at the last position
    assert rank[-1] == 1 and rank[0] > 100  # the final layer is the model's own prediction


def test_activation_patching_is_normalised_to_the_clean_run(gemma_model):
    from interp.patching import activation_patching

    result = activation_patching(gemma_model, "The capital of France is", "The capital of Italy is", answer=" Paris",
                                 wrong_answer=" Rome", sites=["resid"], progress=False)
    assert result.clean_metric > 0 > result.corrupted_metric
    # the final residual at the last position is all the logits read: patching it restores the clean run exactly
    assert result.resid[-1, -1] == pytest.approx(1.0, abs=1e-3)
    # so does the embedding of the only token that differs
    italy = result.positions.index(result.corrupted_tokens.index(" Italy"))
    assert result.resid[0, italy] == pytest.approx(1.0, abs=1e-3)


def test_causal_tracing_noise_corrupts_the_subject(gemma_model):
    """Gemma multiplies its embeddings by sqrt(d_model) inside the forward pass: noise scaled by the raw embedding
    matrix's std (the old sigma) left P(' Paris') almost where it was. sigma measured at hook_embed over the
    subject's tokens (ROME's quantity) corrupts the subject: the probability falls to well under half."""
    from interp.patching import causal_tracing

    trace = causal_tracing(gemma_model, "The Eiffel Tower is located in the city of", "The Eiffel Tower",
                           answer=" Paris", samples=5, kinds=("hidden",), positions=[-1])
    assert trace.p_clean > 0.1
    assert trace.p_corrupted < 0.5 * trace.p_clean, (trace.p_clean, trace.p_corrupted, trace.noise_std)
