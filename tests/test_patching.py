"""Activation patching, causal tracing and attribution patching (interp.patching).

Known answers: clean into clean scores 1 and corrupted into corrupted 0 at every cell; the batched sweep
equals TransformerLens's ``get_act_patch_*`` (one forward pass per cell) to 1e-5; left and right padding,
micro-batch sizes and pairs batched together give the same numbers; a toy with a planted pathway is
recovered by causal tracing; attribution patching's verified cells are exact patching's values. Slow
tests (the default model): the France/Italy handoff and attribution vs exact patching over capital pairs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from interp.errors import EmptyPromptError, InvalidParameterError
from interp.patching import (
    AttributionPatchingResult,
    CausalTraceResult,
    PatchingResult,
    activation_patching,
    attribution_patching,
    causal_tracing,
    generic_activation_patch,
)
from interp.patching.activation import prepare_pairs
from interp.patching.attribution import pearson

CLEAN, CORRUPTED = "The capital of France is", "The capital of Italy is"
KW = {"answer": " Paris", "wrong_answer": " Rome"}


def _token(model, text):
    return model.tokenizer(text, add_special_tokens=False)["input_ids"][0]


def test_clean_into_clean_is_one_and_corrupted_into_corrupted_zero(tiny_model):
    pairs, _ = prepare_pairs(tiny_model, CLEAN, CORRUPTED, metric="logit_diff", **KW)
    sites = ["resid", "attn", "mlp", "head"]
    for source, target, expected in (("clean", "clean", 1.0), ("corrupted", "corrupted", 0.0)):
        maps, clean_m, corr_m = generic_activation_patch(tiny_model, pairs, sites=sites, metric="logit_diff",
                                                         source=source, target=target)
        for site in sites:
            normalised = (maps[0][site] - corr_m[0]) / (clean_m[0] - corr_m[0])
            np.testing.assert_allclose(normalised, expected, atol=1e-5, err_msg=f"{source}->{target} {site}")


@pytest.mark.parametrize("sites", [("resid", "attn", "mlp"), ("head",)])
def test_equals_transformer_lens_get_act_patch(tiny_model, sites):
    if sites == ("head",) and tiny_model.name != "tiny-llama":  # heads: the GQA model (TL's loop is slow)
        pytest.skip("heads are compared on tiny-llama (grouped-query attention)")
    from transformer_lens import patching as tlp

    clean, corrupted = (CLEAN, CORRUPTED) if sites != ("head",) else ("France is", "Italy is")  # fewer TL passes
    result = activation_patching(tiny_model, clean, corrupted, sites=sites, **KW)
    a, w = _token(tiny_model, " Paris"), _token(tiny_model, " Rome")

    def metric(logits):
        diff = logits[0, -1, a] - logits[0, -1, w]
        return (diff - result.corrupted_metric) / (result.clean_metric - result.corrupted_metric)

    bridge = tiny_model.bridge
    with tiny_model.lock, torch.inference_mode():
        _, cache = bridge.run_with_cache(tiny_model.to_tokens(clean))
        corrupted = tiny_model.to_tokens(corrupted)
        functions = {"resid": tlp.get_act_patch_resid_pre, "attn": tlp.get_act_patch_attn_out,
                     "mlp": tlp.get_act_patch_mlp_out, "head": tlp.get_act_patch_attn_head_out_by_pos}
        for site in sites:
            reference = functions[site](bridge, corrupted, cache, metric).cpu().numpy()
            ours = getattr(result, site)[:tiny_model.n_layers]  # resid_pre: layers 0..n_layers-1
            np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0, err_msg=site)
    if "resid" in sites:  # the final residual at the last token is the output
        assert np.allclose(result.resid[-1, -1], 1.0, atol=1e-5)


def test_padding_sides_batch_sizes_and_pairs_together_agree(tiny_models):
    model = tiny_models["tiny-llama"]
    clean = [CLEAN, "In the morning the capital of Germany is"]
    corrupted = [CORRUPTED, "In the morning the capital of Spain is"]
    kw = {"answer": [" Paris", " Berlin"], "wrong_answer": [" Rome", " Madrid"], "sites": ("resid", "head")}
    right = activation_patching(model, clean, corrupted, padding_side="right", **kw)
    left = activation_patching(model, clean, corrupted, padding_side="left", batch_size=7, **kw)
    alone = activation_patching(model, clean[1], corrupted[1], answer=" Berlin", wrong_answer=" Madrid",
                                sites=("resid", "head"), memory_budget=1)  # one row per pass
    assert len(right[0].positions) != len(right[1].positions)  # so the batch is padded
    for r, lf in zip(right, left):
        for site in ("resid", "head"):
            np.testing.assert_allclose(getattr(r, site), getattr(lf, site), atol=1e-5)
    np.testing.assert_allclose(right[1].resid, alone.resid, atol=1e-5)
    np.testing.assert_allclose(right[1].head, alone.head, atol=1e-5)


def test_alignment_of_prompts_of_different_lengths(tiny_models):
    model = tiny_models["tiny-gpt2"]
    clean, corrupted = CLEAN, "Hint: think of Rome. The capital of Italy is"
    with pytest.raises(InvalidParameterError, match="differ in length"):
        activation_patching(model, clean, corrupted, sites=("resid",), **KW)
    right = activation_patching(model, clean, corrupted, sites=("resid",), align="right", **KW)
    n_clean, n_corr = len(right.clean_tokens), len(right.corrupted_tokens)
    assert n_corr > n_clean
    assert right.positions == list(range(n_corr - n_clean, n_corr))  # the last token onto the last token
    assert right.clean_positions == list(range(n_clean))
    assert [right.corrupted_tokens[p] for p in right.positions[-2:]] == [" Italy", " is"]
    mapped = activation_patching(model, clean, corrupted, sites=("resid",),
                                 positions={n_corr - 1: n_clean - 1, n_corr - 2: n_clean - 2}, **KW)
    last_two = activation_patching(model, clean, corrupted, sites=("resid",), align="right",
                                   positions=range(-2, 0), **KW)
    np.testing.assert_allclose(mapped.resid, right.resid[:, -2:], atol=1e-6)
    np.testing.assert_allclose(last_two.resid, right.resid[:, -2:], atol=1e-6)
    assert mapped.align == "map" and last_two.positions == [n_corr - 2, n_corr - 1]


def test_prob_metric_and_result_round_trip(tmp_path, tiny_models):
    model = tiny_models["tiny-neox"]
    result = activation_patching(model, CLEAN, CORRUPTED, answer=" Paris", metric="prob", sites=("mlp",))
    assert result.wrong_answer is None and result.resid.shape == (0, len(result.positions))
    assert result.mlp.shape == (model.n_layers, len(result.positions))
    np.testing.assert_allclose(result.raw("mlp"), result.mlp * (result.clean_metric - result.corrupted_metric)
                               + result.corrupted_metric)
    path = tmp_path / "p.json"
    result.save(path)
    assert PatchingResult.load(path) == result


def test_bad_inputs(tiny_models):
    model = tiny_models["tiny-gpt2"]
    with pytest.raises(InvalidParameterError, match="'sites' parameter of activation_patching"):
        activation_patching(model, CLEAN, CORRUPTED, sites=("neurons",), **KW)
    with pytest.raises(InvalidParameterError, match="exactly one token"):
        activation_patching(model, CLEAN, CORRUPTED, answer=" Parisian capital", sites=("resid",))
    with pytest.raises(InvalidParameterError, match="nothing to normalise by"):
        activation_patching(model, CLEAN, CLEAN, sites=("resid",), **KW)
    with pytest.raises(EmptyPromptError):
        activation_patching(model, "", CORRUPTED, **KW)
    with pytest.raises(InvalidParameterError, match="not a position of the corrupted prompt"):
        activation_patching(model, CLEAN, CORRUPTED, positions=[99], **KW)
    with pytest.raises(InvalidParameterError, match="'subject' parameter of causal_tracing must occur"):
        causal_tracing(model, CLEAN, "Spain")


@pytest.fixture(scope="module")
def planted(tiny_models):
    """tiny-gpt2 with a planted pathway: block 0's attention and block 1's MLP write nothing, so the subject
    reaches the last token only through block 1's attention (a copy; the shared model is untouched)."""
    from interp.models.model import Model

    base = tiny_models["tiny-gpt2"]
    bridge = copy.deepcopy(base.bridge)
    blocks = bridge.original_model.transformer.h
    with torch.no_grad():
        for module in (blocks[0].attn.c_proj, blocks[1].mlp.c_proj):
            module.weight.zero_()
            module.bias.zero_()
    return Model(bridge, base.tokenizer, name="tiny-gpt2-planted", source="test")


def test_causal_tracing_recovers_a_planted_pathway(planted):
    trace = causal_tracing(planted, CLEAN, "France", samples=3, seed=1)
    assert isinstance(trace, CausalTraceResult) and trace.p_clean != trace.p_corrupted
    subject, last = trace.subject_positions, len(trace.tokens) - 1
    assert subject == [4]
    share = {k: (getattr(trace, k) - trace.p_corrupted) / (trace.p_clean - trace.p_corrupted) for k in trace.kinds}
    hidden = share["hidden"]  # (3 layers, pos)
    expected = np.zeros_like(hidden)
    expected[:2, subject] = 1.0  # before block 1's attention reads it, the subject token holds everything
    expected[2, last] = 1.0  # after it, the last token does
    np.testing.assert_allclose(hidden, expected, atol=1e-3)
    attn = np.zeros_like(share["attn"])
    attn[:, last] = 1.0  # a 10-block window covers both blocks: block 1's attention at the last token
    np.testing.assert_allclose(share["attn"], attn, atol=1e-3)
    again = causal_tracing(planted, CLEAN, "France", samples=3, seed=1, padding_side="left", batch_size=5)
    np.testing.assert_allclose(again.hidden, trace.hidden, atol=1e-7)
    assert causal_tracing(planted, CLEAN, "France", samples=3, seed=2, kinds=("hidden",)).p_corrupted != \
        trace.p_corrupted


def test_attribution_patching_agrees_with_exact_patching(tiny_model):
    atp = attribution_patching(tiny_model, CLEAN, CORRUPTED, verify_top_k=6, **KW)
    exact = activation_patching(tiny_model, CLEAN, CORRUPTED, **KW)
    assert isinstance(atp, AttributionPatchingResult)
    assert atp.head.shape == (tiny_model.n_layers, len(atp.positions), tiny_model.n_heads)  # GQA on tiny-llama
    assert atp.clean_metric == pytest.approx(exact.clean_metric, rel=1e-5)  # the same runs, batched differently
    assert atp.corrupted_metric == pytest.approx(exact.corrupted_metric, rel=1e-5)
    for (site, layer, pos, head), value in zip(atp.verified, atp.verified_exact):
        j = atp.positions.index(pos)
        cell = getattr(exact, site)[layer, j] if head < 0 else exact.head[layer, j, head]
        assert value == pytest.approx(cell, abs=1e-5)  # float noise of differently composed batches
    estimates = np.concatenate([atp.maps()[s].ravel() for s in atp.sites])
    values = np.concatenate([exact.maps()[s].ravel() for s in exact.sites])
    assert pearson(estimates, values) > 0.9
    # the first layer's residual is the input: patching it at a position the metric reads through a linear
    # path only (nothing), so cells that exact patching leaves at 0 are estimated 0 as well
    zero = np.abs(values) < 1e-9
    np.testing.assert_allclose(estimates[zero], 0.0, atol=1e-6)


def test_ig_with_one_step_is_atp_at_the_clean_run(tiny_models):
    """method="ig" with steps=1 takes the gradient at the clean input: exactly AtP of the swapped pair."""
    model = tiny_models["tiny-gpt2"]
    ig = attribution_patching(model, CLEAN, CORRUPTED, method="ig", steps=1, verify_top_k=0, **KW)
    swapped = attribution_patching(model, CORRUPTED, CLEAN, verify_top_k=0, **KW)
    for site in ig.sites:
        np.testing.assert_allclose(getattr(ig, site), getattr(swapped, site), atol=1e-5, err_msg=site)
    exact = activation_patching(model, CLEAN, CORRUPTED, **KW)
    five = attribution_patching(model, CLEAN, CORRUPTED, method="ig", steps=5, verify_top_k=0, **KW)
    atp = attribution_patching(model, CLEAN, CORRUPTED, verify_top_k=0, **KW)

    def flat(r):
        return np.concatenate([getattr(r, s).ravel() for s in r.sites])

    assert pearson(flat(five), flat(exact)) > pearson(flat(atp), flat(exact))  # measured 0.999 vs 0.962
    with pytest.raises(InvalidParameterError, match="must be the same length"):
        attribution_patching(model, CLEAN, "Hint: Rome. " + CORRUPTED, align="right", method="ig", **KW)


# ----------------------------------------------------------------------------------------- the default model
CAPITALS = [("France", " Paris", "Italy", " Rome"), ("Germany", " Berlin", "Spain", " Madrid"),
            ("Japan", " Tokyo", "Russia", " Moscow")]


@pytest.mark.slow
def test_default_model_finds_the_france_italy_handoff(default_model):
    result = activation_patching(default_model, CLEAN, CORRUPTED, sites=("resid",), positions=[4, 5], **KW)
    subject, last = 0, 1
    assert result.corrupted_tokens[4] == " Italy"
    resid = result.resid  # (31, 2)
    early, late = range(1, 24), range(24, 31)  # measured: the subject carries it through layer 23, the last token from 24
    assert all(resid[layer, subject] > 0.5 and resid[layer, last] < 0.2 for layer in early)
    assert all(resid[layer, last] > 0.5 and resid[layer, subject] < 0.2 for layer in late)
    trace = causal_tracing(default_model, CLEAN, "France", answer=" Paris", samples=2, kinds=("hidden",),
                           positions=[3, 4, 5])
    ie = trace.indirect_effect("hidden")[:, 3:]  # (31, 3): ' of', ' France', ' is'
    assert trace.subject_positions == [4]
    assert all(int(np.argmax(ie[layer])) == 1 for layer in range(1, 16))  # the subject early
    assert all(int(np.argmax(ie[layer])) == 2 for layer in range(26, 31))  # the last token late


@pytest.mark.slow
def test_default_model_attribution_matches_exact_patching(default_model):
    estimates, values = [], []
    for clean_c, clean_a, corr_c, corr_a in CAPITALS:
        args = (f"The capital of {clean_c} is", f"The capital of {corr_c} is")
        kw = {"answer": clean_a, "wrong_answer": corr_a, "sites": ("attn", "mlp"), "positions": [4, 5]}
        atp = attribution_patching(default_model, *args, method="ig", verify_top_k=0, **kw)
        exact = activation_patching(default_model, *args, **kw)
        est = np.concatenate([atp.attn.ravel(), atp.mlp.ravel()])
        val = np.concatenate([exact.attn.ravel(), exact.mlp.ravel()])
        estimates.append(est)
        values.append(val)
    est, val = np.concatenate(estimates), np.concatenate(values)  # 3 pairs x 120 cells
    assert pearson(est, val) >= 0.95  # measured 0.989 (method="atp": 0.786)
    recall = len(set(np.argsort(-np.abs(est))[:10]) & set(np.argsort(-np.abs(val))[:10]))
    assert recall >= 8, recall  # the top 10 cells over the set; measured 10 (per pair: 8, 7, 8)
