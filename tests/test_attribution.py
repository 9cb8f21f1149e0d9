"""interp.attribution on tiny random models (three architectures), plus a slow suite on the default model.

Every method is checked against a reference (a naive one-forward-per-token loop, Captum), against an
analytic toy whose output depends on one known position, and for properties (attention rows are
distributions, rollout rows sum to 1, completeness of integrated gradients). A common-checks test runs
every registered method: result type, save/load round trip, named errors on bad input.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import interp.attribution as attribution
from interp.attribution import (
    METHODS,
    AttentionResult,
    AttributionResult,
    FaithfulnessResult,
    attention_maps,
    attention_rollout,
    attribute,
    compare_methods,
    faithfulness,
    gradient_saliency,
    integrated_gradients,
    token_ablation,
)
from interp.attribution.ablation import ablate
from interp.errors import EmptyPromptError, InvalidParameterError, PromptTooLongError
from interp.results import Result

PROMPT = "The quick brown fox jumps over the lazy"
TARGET = " dog and"  # two tokens: " dog", " and"


def naive_metric(model, ids, target_ids, metric="logprob"):
    """Per-target-token metric of one sequence, one plain forward, no batching, no logits_to_keep."""
    with torch.inference_mode():
        logits = model.bridge(torch.tensor([ids + target_ids[:-1]]))[0].float()
    rows = logits[len(ids) - 1:len(ids) - 1 + len(target_ids)]
    picked = rows[torch.arange(len(target_ids)), target_ids]
    if metric == "logit":
        return picked.numpy()
    logprob = picked - torch.logsumexp(rows, -1)
    return (logprob.exp() if metric == "prob" else logprob).numpy()


def target_ids(model, text):
    return model.tokenizer(text, add_special_tokens=False)["input_ids"]


def round_trips(result, tmp_path):
    path = result.save(tmp_path / f"{type(result).__name__}.json")
    loaded = Result.load(path)
    return type(loaded) is type(result) and loaded == result


# ----------------------------------------------------------------------------------------- public surface
def test_every_name_in_all_resolves():
    for name in attribution.__all__:
        assert getattr(attribution, name) is not None, name
    assert set(METHODS) == {"ablation", "gradient", "grad_x_input", "integrated_gradients", "rollout"}


def test_importing_the_package_and_cli_does_not_import_torch():
    code = ("import sys, interp.attribution, interp.cli.attribution; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# ----------------------------------------------------------------------------------------- ablation
@pytest.mark.parametrize("replace_with, unit", [("<unk>", "token"), (None, "word")])
def test_ablation_equals_naive_loop(tiny_model, replace_with, unit):
    prompt = "Unbelievably, the fox's den was empty"
    result = token_ablation(tiny_model, prompt, TARGET, replace_with=replace_with, unit=unit)
    ids, tgt = tiny_model.encode(prompt), target_ids(tiny_model, TARGET)
    replacement = None if replace_with is None else tiny_model.tokenizer.unk_token_id
    base = naive_metric(tiny_model, ids, tgt)
    naive = np.stack([base - naive_metric(tiny_model, ablate(ids, p, replacement), tgt) for p in result.positions], 1)
    assert result.scores.shape == (2, len(result.tokens)) and result.target_tokens == [" dog", " and"]
    np.testing.assert_allclose(result.scores, naive, atol=1e-4)
    np.testing.assert_allclose(result.target_values, base, atol=1e-5)
    assert "".join(result.tokens) == prompt  # BOS is never a unit; units tile the prompt
    assert result.positions[0][0] == int(tiny_model.prepend_bos)  # the first unit starts right after BOS, if any
    assert [p for pos in result.positions for p in pos] == list(range(int(tiny_model.prepend_bos), len(ids)))
    if unit == "word":
        assert "Unbelievably" in result.tokens and any(len(p) > 1 for p in result.positions)


@pytest.mark.parametrize("replace_with", ["<unk>", None])
def test_ablation_prefix_reuse_matches_full_forwards(tiny_model, replace_with):
    prompt = "one two three four five six seven eight nine ten eleven twelve"
    full = token_ablation(tiny_model, prompt, TARGET, replace_with=replace_with, unit="word", reuse_prefix=False)
    reused = token_ablation(tiny_model, prompt, TARGET, replace_with=replace_with, unit="word", reuse_prefix=True)
    assert reused.metadata["reuse_prefix"] and not full.metadata["reuse_prefix"]
    np.testing.assert_allclose(reused.scores, full.scores, atol=1e-4)


def test_ablation_of_a_list_is_batched_and_batch_independent(tiny_models):
    model = tiny_models["tiny-llama"]
    prompts = ["Hello there, friend", "A much longer prompt about the quick brown fox", "Hi"]
    together = token_ablation(model, prompts, " the", batch_size=None)
    one_by_one = [token_ablation(model, p, " the", batch_size=1) for p in prompts]
    assert isinstance(together, list) and len(together) == 3
    for a, b in zip(together, one_by_one):
        assert a.tokens == b.tokens
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


def test_out_of_memory_halves_the_batch(tiny_models):
    """A forward pass over more than two sequences 'runs out of memory': results are unchanged."""
    model = tiny_models["tiny-gpt2"]
    expected = token_ablation(model, PROMPT, TARGET)
    seen = []

    def oom(x, hook):
        seen.append(x.shape[0])
        if x.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with model.hooks([("hook_embed", oom)]):
        result = token_ablation(model, PROMPT, TARGET)
        ig = gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", n_steps=8)
    assert max(seen) > 2 and seen[-1] <= 2
    np.testing.assert_allclose(result.scores, expected.scores, atol=1e-5)
    reference = gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", n_steps=8)
    np.testing.assert_allclose(ig.scores, reference.scores, atol=1e-5)


def test_metrics_and_contrast(tiny_models):
    model = tiny_models["tiny-neox"]
    logit = token_ablation(model, PROMPT, " dog", metric="logit")
    foil = token_ablation(model, PROMPT, " cat", metric="logit")
    contrast = token_ablation(model, PROMPT, " dog", contrast=" cat")
    assert contrast.metric == "logit_diff" and contrast.metadata["contrast"] == " cat"
    np.testing.assert_allclose(contrast.scores, logit.scores - foil.scores, atol=1e-4)
    prob = token_ablation(model, PROMPT, " dog", metric="prob")
    ids, tgt = model.encode(PROMPT), target_ids(model, " dog")
    assert prob.target_values[0] == pytest.approx(naive_metric(model, ids, tgt, "prob")[0], rel=1e-4)


def test_default_target_is_the_top_next_token(tiny_model):
    result = token_ablation(tiny_model, PROMPT)
    assert result.target_tokens == tiny_model.top_next_tokens(PROMPT, k=1).tokens


# ----------------------------------------------------------------------------------------- gradients
def _captum_forward(model, ids, tgt, t):
    length = len(ids) + t

    def forward(x):
        logits = model.bridge(x[:, :length])[:, -1].float()
        return torch.log_softmax(logits, -1)[:, tgt[t]]

    return forward


def _check_against_captum_lig(model, quadrature, captum_method, baseline_token="pad"):
    from captum.attr import LayerIntegratedGradients

    result = gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", baseline=baseline_token,
                               n_steps=12, quadrature=quadrature, batch_size=5)  # 3 chunks of steps
    ids, tgt = model.encode(PROMPT), target_ids(model, TARGET)
    seq = torch.tensor([ids + tgt[:-1]])
    first = result.positions[0][0]
    baseline = seq.clone()
    space, = model.tokenizer(" ", add_special_tokens=False)["input_ids"]
    baseline[0, first:len(ids)] = model.pad_token_id if baseline_token == "pad" else space
    for t in range(len(tgt)):
        lig = LayerIntegratedGradients(_captum_forward(model, ids, tgt, t), model.bridge.embed)
        expected = lig.attribute(seq, baselines=baseline, n_steps=12, method=captum_method).sum(-1)[0]
        np.testing.assert_allclose(result.scores[t], expected[first:len(ids)].detach().numpy(), atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("baseline", ["space", "pad"])
def test_integrated_gradients_equal_captum(tiny_model, baseline):
    _check_against_captum_lig(tiny_model, "gauss-legendre", "gausslegendre", baseline)


def test_space_baseline_needs_a_single_space_token():
    from types import SimpleNamespace

    from interp.attribution.gradient import _space_token

    def split_space(text, add_special_tokens=False):
        return {"input_ids": [5, 6]}

    with pytest.raises(InvalidParameterError, match="no single token for ' '.*'pad' or 'zeros'"):
        _space_token(SimpleNamespace(tokenizer=split_space, name="byte-model"), "gradient_saliency()")


def test_integrated_gradients_riemann_equals_captum(tiny_models):
    _check_against_captum_lig(tiny_models["tiny-gpt2"], "riemann_middle", "riemann_middle")


def test_zero_baseline_equals_captum_integrated_gradients_on_embeddings(tiny_models):
    from captum.attr import IntegratedGradients

    model = tiny_models["tiny-gpt2"]
    result = gradient_saliency(model, PROMPT, " dog", method="integrated_gradients", baseline="zeros", n_steps=10)
    ids, tgt = model.encode(PROMPT), target_ids(model, " dog")
    seq = torch.tensor([ids])
    embeds = model.bridge.embed(seq).detach()
    baseline = embeds.clone()
    baseline[0, 1:] = 0

    def forward(e):
        with model.hooks([("hook_embed", lambda x, hook: e)]):
            logits = model.bridge(seq.expand(e.shape[0], -1))[:, -1].float()
        return torch.log_softmax(logits, -1)[:, tgt[0]]

    expected = IntegratedGradients(forward).attribute(embeds, baselines=baseline, n_steps=10).sum(-1)[0, 1:]
    np.testing.assert_allclose(result.scores[0], expected.detach().numpy(), atol=1e-5, rtol=1e-3)


def test_integrated_gradients_completeness_error_shrinks_with_steps(tiny_model):
    errors = [gradient_saliency(tiny_model, PROMPT, " dog", method="integrated_gradients", baseline="pad",
                                n_steps=n).metadata["completeness_error"][0] for n in (4, 16, 64)]
    assert errors[1] <= errors[0] + 1e-6 and errors[2] <= errors[1] + 1e-6
    assert errors[2] < 1e-3
    result = gradient_saliency(tiny_model, PROMPT, " dog", method="integrated_gradients", baseline="pad", n_steps=32)
    f_in, f_base = result.metadata["f_input"][0], result.metadata["f_baseline"][0]
    assert result.scores.sum() == pytest.approx(f_in - f_base, abs=1e-3)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-neox"])
def test_gauss_legendre_reaches_riemanns_completeness_in_a_quarter_of_the_steps(tiny_models, name):
    """The stretch goal: 8 Gauss-Legendre points integrate more exactly than 32 Riemann midpoints."""
    def error(quadrature: str, n_steps: int) -> float:
        return gradient_saliency(tiny_models[name], PROMPT, " dog", method="integrated_gradients", n_steps=n_steps,
                                 quadrature=quadrature, baseline="pad").metadata["completeness_error"][0]

    assert error("gauss-legendre", 8) < error("riemann_middle", 32)


def test_gradient_methods_equal_captum_gradient_x_activation(tiny_models):
    from captum.attr import LayerGradientXActivation

    model = tiny_models["tiny-llama"]
    ids, tgt = model.encode(PROMPT), target_ids(model, " dog")
    seq = torch.tensor([ids])
    forward = _captum_forward(model, ids, tgt, 0)
    for method, multiply in (("grad_x_input", True), ("gradient", False)):
        result = gradient_saliency(model, PROMPT, " dog", method=method, aggregate="sum")
        reference = LayerGradientXActivation(forward, model.bridge.embed, multiply_by_inputs=multiply)
        expected = reference.attribute(seq).sum(-1)[0, 1:].detach().numpy()
        np.testing.assert_allclose(result.scores[0], expected, atol=1e-5, rtol=1e-4)
    l2 = gradient_saliency(model, PROMPT, " dog", method="gradient")
    assert l2.metadata["aggregate"] == "l2" and np.all(l2.scores >= 0)


# ----------------------------------------------------------------------------------------- the analytic toy
KNOWN = 3  # the one position the toy's output depends on


@pytest.fixture
def toy(tiny_model):
    """``tiny_model`` rewired so its last position sees only token KNOWN.

    Every attention head attends from each query q >= KNOWN to key KNOWN only (earlier queries to
    themselves), and the residual stream entering block 0 is zeroed everywhere but KNOWN. So the last
    position's output is a function of the token at KNOWN alone: ablating any other token changes
    nothing, its gradient is zero, and all the rollout flows to KNOWN (and the last position itself).
    """
    n = len(tiny_model.encode(PROMPT))

    def pattern(x, hook):
        q = torch.arange(x.shape[-1])
        k = torch.where(q >= KNOWN, torch.full_like(q, KNOWN), q)
        new = torch.zeros_like(x)
        new[..., q, k] = 1.0
        return new

    def resid(x, hook):
        keep = torch.zeros(x.shape[1], 1, dtype=x.dtype, device=x.device)
        keep[KNOWN] = 1
        return x * keep

    with tiny_model.hooks([(lambda name: name.endswith("attn.hook_pattern"), pattern),
                           ("blocks.0.hook_resid_pre", resid)]):
        yield tiny_model, n


def test_toy_ranks_the_known_position_first_under_every_method(toy):
    model, n = toy
    for name, fn in METHODS.items():
        result = fn(model, PROMPT, " dog")
        known = [i for i, p in enumerate(result.positions) if p == [KNOWN]][0]
        magnitude = np.abs(result.total)
        assert int(np.argmax(magnitude)) == known, (name, result.tokens, result.total)
        if name in ("ablation", "gradient", "grad_x_input", "integrated_gradients"):
            others = np.delete(magnitude, known)
            assert others.max() <= 1e-5 * magnitude[known] + 1e-7, (name, result.total)


def test_toy_faithfulness_known_answer(toy):
    model, _ = toy
    result = token_ablation(model, PROMPT)  # the toy's top token: ablating KNOWN lowers it
    assert int(np.argmax(result.total)) == [p for p in result.positions].index([KNOWN]) and result.total.max() > 0
    reverse = AttributionResult(**{**result.__dict__, "scores": -result.scores})
    good = faithfulness(model, PROMPT, result, metric="logprob", replace_with="<unk>")
    bad = faithfulness(model, PROMPT, reverse, metric="logprob", replace_with="<unk>")
    assert good.comprehensiveness[0] == pytest.approx(float(result.total.max()), abs=1e-4)
    assert abs(bad.comprehensiveness[0]) < 1e-5  # removing the least important token changes nothing
    assert good.deletion_curve[1] == pytest.approx(good.empty_value, abs=1e-4)
    assert good.insertion_curve[1] == pytest.approx(good.full_value, abs=1e-4)


# ----------------------------------------------------------------------------------------- attention
def test_attention_rows_are_causal_distributions(tiny_model):
    maps = attention_maps(tiny_model, PROMPT)
    n = len(maps.tokens)
    assert maps.patterns.shape == (2, 4, n, n) and maps.layers == [0, 1]
    np.testing.assert_allclose(maps.patterns.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(maps.patterns, k=1) == 0)
    frame = maps.to_frame()
    assert list(frame.columns) == ["layer", "head", "entropy", "prev_token", "first_token"] and len(frame) == 8
    assert frame["prev_token"].between(0, 1).all() and (frame["entropy"] >= 0).all()
    rollout = maps.rollout()
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-9)
    assert np.all(np.triu(rollout, k=1) == 0)
    assert len(attention_maps(tiny_model, PROMPT, blocks=[-1]).layers) == 1
    fig = maps.plot()
    assert len(fig.data) == 1


def test_rollout_reads_the_last_row(tiny_model):
    result = attention_rollout(tiny_model, PROMPT, " dog")
    maps = attention_maps(tiny_model, PROMPT)
    row = maps.rollout()[-1]
    first = result.positions[0][0]
    np.testing.assert_allclose(result.scores[0], row[first:], atol=1e-6)
    assert result.scores.sum() + sum(result.metadata["bos_share"]) == pytest.approx(1.0, abs=1e-6)


def test_previous_token_head_is_found(tiny_models):
    model = tiny_models["tiny-gpt2"]

    def prev(x, hook):
        n = x.shape[-1]
        new = torch.zeros_like(x)
        new[..., 0, 0] = 1
        new[..., torch.arange(1, n), torch.arange(n - 1)] = 1
        return new if hook.name == "blocks.1.attn.hook_pattern" else x

    with model.hooks([("blocks.1.attn.hook_pattern", prev)]):
        frame = attention_maps(model, PROMPT).to_frame()
    top = frame.sort_values("prev_token").iloc[-1]
    assert top["layer"] == 1 and top["prev_token"] == pytest.approx(1.0) and top["entropy"] == pytest.approx(0.0)


# ----------------------------------------------------------------------------------------- chat and words
def test_chat_reports_user_tokens_and_segments(tiny_models):
    model = tiny_models["tiny-llama"]
    user = "What is the capital of France?"
    result = token_ablation(model, user, chat=True)
    assert "".join(result.tokens) == user
    assert result.prompt == model.chat_prompt(user)
    assert set(result.segment_scores) == {"system", "user", "assistant"}
    assert result.segment_scores["user"][0] == pytest.approx(float(result.total.sum()), abs=1e-5)
    grad = gradient_saliency(model, user, chat=True, method="integrated_gradients", n_steps=8)
    assert "".join(grad.tokens) == user and grad.target == result.target
    # completeness holds over every segment together
    total = sum(v[0] for v in grad.segment_scores.values())
    assert total == pytest.approx(grad.metadata["attribution_sum"][0], abs=1e-4)


def test_word_units_group_sub_tokens(tiny_models):
    model = tiny_models["tiny-gpt2"]
    text = "Antidisestablishmentarianism, said the 99 balloons..."
    result = gradient_saliency(model, text, " and", unit="word")
    assert result.tokens[0] == "Antidisestablishmentarianism" and result.tokens[1] == ","
    by_token = gradient_saliency(model, text, " and")
    np.testing.assert_allclose(result.total.sum(), by_token.total.sum(), rtol=1e-4)


# ----------------------------------------------------------------------------------------- comparison
def test_compare_methods_table(tiny_models, tmp_path):
    model = tiny_models["tiny-gpt2"]
    comparison = compare_methods(model, PROMPT, " dog", n_steps=8)
    assert comparison.methods == list(METHODS)
    frame = comparison.to_frame()
    assert len(frame) == 6 and list(frame["method"]) == [*METHODS, "random"]  # the random-ranking baseline row
    assert {"comprehensiveness", "comprehensiveness_low", "comprehensiveness_high", "sufficiency_low",
            "sufficiency_high", "comprehensiveness_vs_random_low", "rho_rollout"} <= set(frame.columns)
    np.testing.assert_allclose(np.diag(comparison.correlation), 1.0)
    np.testing.assert_allclose(comparison.correlation, comparison.correlation.T)
    ablation = token_ablation(model, PROMPT, " dog")
    np.testing.assert_allclose(comparison.scores[0], ablation.total, atol=1e-5)
    assert round_trips(comparison, tmp_path)
    fig = comparison.plot()  # correlation heat map, AOPC bars, the normalised scores of each method
    assert [t.type for t in fig.data] == ["heatmap", "bar", "bar", "heatmap"]
    np.testing.assert_array_equal(fig.data[0].z, comparison.correlation)
    assert list(fig.data[1].x) == [*METHODS, "random"]
    np.testing.assert_allclose(fig.data[1].y, frame["comprehensiveness"])
    np.testing.assert_allclose(fig.data[2].y, frame["sufficiency"])
    np.testing.assert_allclose(np.asarray(fig.data[1].y) + fig.data[1].error_y.array, frame["comprehensiveness_high"])
    np.testing.assert_allclose(np.abs(fig.data[3].z).max(axis=1), 1.0)  # each method's row scaled to max |score| 1


def test_random_baseline_equals_faithfulness_of_the_seeded_random_orders(tiny_models):
    """The random row is ERASER's random-ranking baseline: the same comprehensiveness of seeded random orders."""
    model = tiny_models["tiny-gpt2"]
    ablation = token_ablation(model, PROMPT, " dog")
    faith = faithfulness(model, PROMPT, ablation, metric="logprob", n_random=3, random_seed=7)
    assert faith.random_comprehensiveness.shape == (3, len(faith.fractions))
    rng = np.random.default_rng(7)
    for k in range(3):
        order = rng.permutation(len(ablation.tokens)).astype(np.float32)
        as_result = AttributionResult(**{**ablation.__dict__, "scores": order[None]})
        expected = faithfulness(model, PROMPT, as_result, metric="logprob", n_random=1)
        np.testing.assert_allclose(faith.random_comprehensiveness[k], expected.comprehensiveness, atol=1e-6)
        np.testing.assert_allclose(faith.random_sufficiency[k], expected.sufficiency, atol=1e-6)
    intervals = faith.intervals["comprehensiveness"]
    assert intervals["low"] <= faith.aopc_comprehensiveness <= intervals["high"]
    assert intervals["estimate"] == pytest.approx(faith.aopc_comprehensiveness)
    difference = faith.versus_random["comprehensiveness"]["difference"]["estimate"]
    assert difference == pytest.approx(faith.aopc_comprehensiveness - faith.random_comprehensiveness.mean())
    comparison = compare_methods(model, PROMPT, " dog", methods=["ablation", "gradient"], metric="logprob",
                                 n_random=3, random_seed=7)
    np.testing.assert_allclose(comparison.random_comprehensiveness, faith.random_comprehensiveness, atol=1e-6)
    assert "random" in comparison.summary()


def _comparison(comp_by_fraction, random_by_fraction, correlation=None, tokens=8, names=None):
    comp = np.asarray(comp_by_fraction, dtype=np.float64)
    rand = np.asarray(random_by_fraction, dtype=np.float64)
    names = names or [f"m{i}" for i in range(len(comp))]
    from interp.attribution.evaluation import aopc_statistics

    intervals, versus = aopc_statistics(comp, -comp, rand, -rand, names)
    n = len(names)
    return attribution.MethodComparisonResult(
        prompt="p", target=" t", metric="prob", tokens=[f"t{i}" for i in range(tokens)], methods=names,
        scores=np.ones((n, tokens)), comprehensiveness=comp.mean(1), sufficiency=-comp.mean(1),
        deletion_auc=np.zeros(n), insertion_auc=np.zeros(n),
        correlation=np.eye(n) if correlation is None else np.asarray(correlation, dtype=np.float64),
        seconds=np.zeros(n), model_name="toy", comprehensiveness_by_fraction=comp, sufficiency_by_fraction=-comp,
        random_comprehensiveness=rand, random_sufficiency=-rand, intervals=intervals, versus_random=versus,
        metadata={"fractions": [0.01, 0.05, 0.1, 0.2, 0.5]})


def test_a_lead_of_0_0005_is_not_crowned():
    """The old summary named the most comprehensive method by any margin; a lead the fractions do not support,
    or one that does not beat random orders, is now 'within noise' and no method is named best."""
    noise = np.array([0.02, -0.015, 0.01, -0.02, 0.0045])
    close = _comparison([[0.3, 0.4, 0.5, 0.6, 0.7], np.array([0.3, 0.4, 0.5, 0.6, 0.7]) + noise],
                        [[0.1, 0.15, 0.2, 0.25, 0.3]] * 3)
    rank = close.ranking()
    assert rank["best"] is None and rank["versus_runner_up"].within_noise
    assert abs(close.comprehensiveness[1] - close.comprehensiveness[0]) < 0.001
    assert "No method is the most comprehensive beyond noise" in close.summary()
    assert "within noise" in close.summary() and "Most comprehensive" not in close.summary()
    clear = _comparison([[0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.12, 0.2, 0.22, 0.3]], [[0.0, 0.01, 0.02, 0.03, 0.04]] * 3)
    assert clear.ranking()["best"] == "m0" and "Most comprehensive: m0" in clear.summary()
    assert not any("No method removes" in c for c in clear.caveats())


def test_no_method_beating_random_is_a_caveat():
    worse = _comparison([[0.1, 0.1, 0.2, 0.2, 0.3], [0.0, 0.1, 0.1, 0.2, 0.2]], [[0.2, 0.3, 0.3, 0.4, 0.5]] * 3)
    assert worse.ranking()["best"] is None
    assert any("No method removes more of the prediction than random orders" in c for c in worse.caveats())
    assert worse.summary().startswith(worse.caveats()[0][:40])
    frame = worse.to_frame()
    assert (frame.loc[frame.method != "random", "comprehensiveness_vs_random_high"] < 0).all()


def test_methods_that_disagree_in_rank_are_flagged():
    anti = _comparison([[0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.12, 0.2, 0.22, 0.3]], [[0.0] * 5] * 3,
                       correlation=[[1.0, -0.9], [-0.9, 1.0]], tokens=12)
    (note,) = [c for c in anti.caveats() if "disagree" in c]
    assert "m0 vs m1 -0.90 [" in note and "Faithfulness" in note
    agree = _comparison([[0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.12, 0.2, 0.22, 0.3]], [[0.0] * 5] * 3,
                        correlation=[[1.0, 0.8], [0.8, 1.0]], tokens=12)
    assert not [c for c in agree.caveats() if "disagree" in c]


def _ablation(scores, method="ablation"):
    n = len(scores)
    return AttributionResult(prompt="a b c", tokens=[f"w{i}" for i in range(n)],
                             scores=np.asarray([scores], dtype=np.float32), method=method, target=" d",
                             target_tokens=[" d"], metric="logprob", input_ids=np.arange(n + 1),
                             positions=[[i + 1] for i in range(n)])  # position 0 is BOS


def test_ablation_ranking_the_last_token_first_is_a_caveat(tiny_models):
    """Ablating the position the target is predicted from scores it first (+16 on the real model); that is
    flagged with what to do instead. The same ranking from integrated gradients is not a trap."""
    trap = _ablation([0.1, 0.2, 16.1])
    assert trap.last_token_ranked_first()
    (note,) = trap.caveats()
    assert "last token 'w2' first" in note and "integrated_gradients" in note and "replace_with" in note
    assert trap.summary().startswith("Ablation ranks the last token")
    assert not _ablation([0.1, 16.1, 0.2]).caveats()
    assert not _ablation([0.1, 0.2, 16.1], method="integrated_gradients").caveats()
    model = tiny_models["tiny-gpt2"]
    real = token_ablation(model, PROMPT, " dog")
    last = [i for i, p in enumerate(real.positions) if len(real.input_ids) - 1 in p]
    assert real.last_token_ranked_first() == (int(np.argmax(real.total)) in last)


def test_integrated_gradients_completeness_is_a_readable_figure(tiny_models):
    result = integrated_gradients(tiny_models["tiny-gpt2"], PROMPT, TARGET, n_steps=8)
    check = result.completeness()
    worst = max(result.metadata["completeness_relative"])
    assert f"{worst:.1%}" in check and "2 target token(s)" in check and "8 steps" in check
    assert "Completeness: " in result.summary() and "[" not in check
    assert token_ablation(tiny_models["tiny-gpt2"], PROMPT, TARGET).completeness() is None
    unconverged = AttributionResult(**{**result.__dict__, "metadata": {**result.metadata,
                                                                        "completeness_relative": [0.4, 0.01]}})
    assert any("raise n_steps" in c for c in unconverged.caveats()) and "not converged" in unconverged.completeness()


# ----------------------------------------------------------------------------------------- figures
def _titled(fig):
    """Every visible axis of ``fig`` has a title, and so does the figure."""
    assert fig.layout.title.text
    for name in dir(fig.layout):
        if name.startswith(("xaxis", "yaxis")):
            axis = fig.layout[name]
            if axis.visible is not False:
                assert axis.title.text, (fig.layout.title.text, name)


def test_every_attribution_figure_has_a_title_and_axis_titles(tiny_models):
    model = tiny_models["tiny-gpt2"]
    result = token_ablation(model, PROMPT, " dog")
    faith = faithfulness(model, PROMPT, result, n_random=2)
    for fig in (result.plot(), attention_maps(model, PROMPT).plot(), faith.plot(),
                compare_methods(model, PROMPT, " dog", methods=["ablation", "rollout"], n_random=2).plot()):
        _titled(fig)
    per_fraction = faith.plot()
    assert per_fraction.layout.xaxis2.title.text and per_fraction.layout.yaxis2.title.text  # ERASER per fraction
    assert any(t.name and t.name.startswith("random orders") for t in per_fraction.data)


def test_attention_grid_is_labelled_with_the_tokens(tiny_models):
    model = tiny_models["tiny-gpt2"]
    maps = attention_maps(model, PROMPT)
    fig = maps.plot(layers=[maps.layers[0]], heads=[0, 1])
    shown = [attribution.result.display_token(t) for t in maps.tokens]
    assert list(fig.layout.xaxis.ticktext) == shown * 2  # each head's block of keys
    assert list(fig.layout.yaxis.ticktext) == shown  # the layer's block of queries
    assert {a.text for a in fig.layout.annotations} >= {"H0", "H1", f"L{maps.layers[0]}"}


def test_method_names_do_not_overlap_the_comparison_heat_maps():
    """At 1200 px, every axis labelled with method names has room for them: either the left margin (its plot
    starts at the figure's left edge) or a gap to the plot beside it wide enough for the longest name."""
    names = ["ablation", "gradient", "grad_x_input", "integrated_gradients", "rollout"]
    comparison = _comparison([[0.3, 0.4, 0.5, 0.6, 0.7]] * 5, [[0.0] * 5] * 3, names=names)
    fig = comparison.plot()
    width = 1200
    plot_width = width - fig.layout.margin.l - fig.layout.margin.r
    needed = 7 * max(len(n) for n in names)  # ~7 px per character at plotly's 12 px font
    assert fig.layout.margin.l >= needed
    for trace in fig.data:
        if trace.type != "heatmap":
            continue
        yaxis = fig.layout["yaxis" + trace.yaxis[1:]]
        xaxis = fig.layout["xaxis" + trace.xaxis[1:]]
        start = xaxis.domain[0]
        if start > 0:
            ends = [fig.layout[a].domain[1] for a in dir(fig.layout) if a.startswith("xaxis")
                    and fig.layout[a].domain is not None and fig.layout[a].domain[1] <= start
                    and set(fig.layout["y" + a[1:]].domain) & set(yaxis.domain) != set()]
            gap = (start - max(ends, default=0.0)) * plot_width
            assert gap >= needed, (trace.yaxis, gap)
        if list(trace.x) == names:
            assert xaxis.tickangle not in (None, 0)  # rotated, so neighbouring names do not collide


# ----------------------------------------------------------------------------------------- common checks
@pytest.mark.parametrize("name", list(METHODS))
def test_common_checks(tiny_models, name, tmp_path):
    model = tiny_models["tiny-neox"]
    result = attribute(model, PROMPT, method=name, target=TARGET)
    assert isinstance(result, AttributionResult) and result.method == name
    assert result.scores.shape == (2, len(result.tokens)) and result.scores.dtype == np.float32
    assert np.all(np.isfinite(result.scores))
    assert round_trips(result, tmp_path)
    frame = result.to_frame()
    assert list(frame.columns) == ["position", "token", "score", "target", "target_index"]
    assert len(frame) == 2 * len(result.tokens)
    assert len(result.plot().data) == 2 and result.summary()
    for bad, error in (("", EmptyPromptError), ([], EmptyPromptError), ("word " * 600, PromptTooLongError)):
        with pytest.raises(error):
            attribute(model, bad, method=name)
    with pytest.raises(EmptyPromptError, match="tokenizes to no tokens"):
        attribute(model, PROMPT, method=name, target="")
    with pytest.raises(InvalidParameterError, match="unit"):
        attribute(model, PROMPT, method=name, unit="sentence")


def test_unknown_method_and_options_list_the_choices(tiny_models):
    model = tiny_models["tiny-gpt2"]
    with pytest.raises(InvalidParameterError, match="Unknown attribution method: 'lime'. Available methods: 'ablation'"):
        attribute(model, PROMPT, method="lime")
    with pytest.raises(InvalidParameterError, match="Did you mean 'integrated_gradients'"):
        attribute(model, PROMPT, method="integrated_gradient")
    with pytest.raises(InvalidParameterError, match="accepts: .*n_steps"):
        attribute(model, PROMPT, method="integrated_gradients", replace_with=None)
    with pytest.raises(InvalidParameterError, match="Unknown attribution method"):
        compare_methods(model, PROMPT, methods=["ablation", "nope"])


@pytest.mark.parametrize("kwargs, match", [
    ({"replace_with": " two words"}, "exactly one token"),
    ({"replace_with": 10**9}, "replace_with"),
    ({"metric": "loss"}, "'metric' parameter of token_ablation must be one of"),
    ({"contrast": " big cat"}, "must be one token"),
    ({"batch_size": 0}, "batch_size"),
])
def test_ablation_rejects_bad_options(tiny_models, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        token_ablation(tiny_models["tiny-gpt2"], PROMPT, " dog", **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "smoothgrad"}, "'method' parameter of gradient_saliency"),
    ({"n_steps": 0}, "n_steps"),
    ({"baseline": "noise"}, "baseline"),
    ({"aggregate": "max"}, "aggregate"),
    ({"quadrature": "simpson"}, "quadrature"),
])
def test_gradient_rejects_bad_options(tiny_models, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        gradient_saliency(tiny_models["tiny-gpt2"], PROMPT, **kwargs)


def test_faithfulness_rejects_a_result_of_another_prompt(tiny_models):
    model = tiny_models["tiny-gpt2"]
    result = token_ablation(model, PROMPT, " dog")
    with pytest.raises(InvalidParameterError, match="not the prompt given"):
        faithfulness(model, "Something else", result)
    with pytest.raises(InvalidParameterError, match="fractions"):
        faithfulness(model, PROMPT, result, fractions=[0, 2])


def test_every_result_type_round_trips(tiny_models, tmp_path):
    model = tiny_models["tiny-llama"]
    chat = token_ablation(model, "Tell me a joke", chat=True, unit="word")
    integrated = gradient_saliency(model, PROMPT, TARGET, method="integrated_gradients", n_steps=4)
    maps = attention_maps(model, PROMPT)
    faith = faithfulness(model, PROMPT, integrated)
    for result, kind in ((chat, AttributionResult), (integrated, AttributionResult), (maps, AttentionResult),
                         (faith, FaithfulnessResult)):
        assert isinstance(result, kind) and round_trips(result, tmp_path)
        assert result.to_html()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=24)
       .filter(lambda t: t.strip()),
       unit=st.sampled_from(["token", "word"]), replace=st.sampled_from(["<unk>", None]))
def test_generated_prompts_never_crash(tiny_models, text, unit, replace):
    model = tiny_models["tiny-gpt2"]
    ablation = token_ablation(model, text, unit=unit, replace_with=replace)
    grads = gradient_saliency(model, text, unit=unit, method="integrated_gradients", n_steps=3)
    rollout = attention_rollout(model, text, unit=unit)
    for result in (ablation, grads, rollout):
        assert len(result.tokens) == result.scores.shape[1] == len(result.positions) >= 1
        assert np.all(np.isfinite(result.scores))
    assert ablation.tokens == grads.tokens == rollout.tokens


# ----------------------------------------------------------------------------------------- default model
@pytest.mark.slow
def test_default_model_ablation_finds_the_country(default_model):
    result = token_ablation(default_model, "The capital of France is", " Paris", replace_with=None)
    assert result.top(1)[0][0] == " France"  # deleting the country hurts " Paris" most
    assert result.target_values[0] > np.log(0.05)


@pytest.mark.slow
def test_real_model_integrated_gradients_equal_captum(real_model):
    """On SmolLM2-135M-Instruct-Q4_1 and on gemma-3-270m-Q4_K_M (skipped without the interp[gemma] extra)."""
    from captum.attr import LayerIntegratedGradients

    prompt = "The capital of France is"
    result = gradient_saliency(real_model, prompt, " Paris", method="integrated_gradients", baseline="pad", n_steps=8)
    ids, tgt = real_model.encode(prompt), target_ids(real_model, " Paris")
    seq = torch.tensor([ids])
    baseline = seq.clone()
    baseline[0, 1:] = real_model.pad_token_id
    lig = LayerIntegratedGradients(_captum_forward(real_model, ids, tgt, 0), real_model.bridge.embed)
    expected = lig.attribute(seq, baselines=baseline, n_steps=8).sum(-1)[0, 1:].detach().numpy()
    np.testing.assert_allclose(result.scores[0], expected, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_default_model_space_baseline_integrates_where_pad_does_not(default_model):
    """The pad token (<|im_end|>) makes a rugged path; a space's embedding makes a smooth one."""
    prompt = "The capital of France is"
    ids, (paris,) = default_model.encode(prompt), target_ids(default_model, " Paris")
    (space_id,) = default_model.tokenizer(" ", add_special_tokens=False)["input_ids"]

    def error(baseline: str, token: int) -> float:
        result = gradient_saliency(default_model, prompt, " Paris", method="integrated_gradients", baseline=baseline,
                                   n_steps=64)
        # f(baseline) is the model's log-probability of " Paris" after BOS + that token at every prompt position
        with torch.inference_mode():
            logits = default_model.bridge(torch.tensor([ids[:1] + [token] * (len(ids) - 1)]))[0, -1].float()
        assert result.metadata["f_baseline"][0] == pytest.approx(float(torch.log_softmax(logits, -1)[paris]), abs=1e-3)
        return result.metadata["completeness_error"][0]

    space, pad = error("space", space_id), error("pad", default_model.pad_token_id)
    assert space < 0.05 and pad > 1.0


@pytest.mark.slow
def test_default_model_chat_reports_the_user_turn(default_model):
    user = "Name the capital of France in one word."
    result = token_ablation(default_model, user, chat=True, unit="word")
    assert "".join(result.tokens) == user and result.prompt == default_model.chat_prompt(user)
    assert set(result.segment_scores) == {"system", "user", "assistant"}
    assert result.segment_scores["user"][0] == pytest.approx(float(result.total.sum()), abs=1e-4)


def test_fractions_removing_the_same_tokens_are_one_item_of_the_interval():
    """On a 5-token prompt 1%, 5% and 10% all remove one token: the bootstrap must not count them three times."""
    from interp.attribution.evaluation import aopc_statistics

    comp = np.array([[0.5, 0.5, 0.5, 0.6, 0.7]])
    rand = np.array([[0.1, 0.1, 0.1, 0.2, 0.3]])
    intervals, versus = aopc_statistics(comp, comp, rand, rand, ["m"], counts=[1, 1, 1, 1, 3])
    assert intervals["comprehensiveness"]["m"]["n"] == 2
    assert versus["comprehensiveness"]["m"]["difference"]["n"] == 2
    assert aopc_statistics(comp, comp, rand, rand, ["m"])[0]["comprehensiveness"]["m"]["n"] == 5
