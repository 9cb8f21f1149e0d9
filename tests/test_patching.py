"""Activation patching, causal tracing and attribution patching (interp.patching).

Known answers: clean into clean scores 1 and corrupted into corrupted 0 at every cell; the batched sweep
equals TransformerLens's ``get_act_patch_*`` (one forward pass per cell) to 1e-5; left and right padding,
micro-batch sizes and pairs batched together give the same numbers; a toy with a planted pathway is
recovered by causal tracing; attribution patching's estimate is the directional derivative (finite differences),
its verified cells are exact patching's values and its random sample finds a cell it missed. Slow tests (the
default model): known answers of patching and tracing, and the verification; measured figures live in
benchmarks/bench_patching.py.
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


def test_tracing_noise_scale_is_the_std_of_the_hooks_output_over_the_subject(tiny_models):
    """sigma is measured where the noise is added: the std of hook_embed's output over the subject's tokens
    (ROME's quantity), not of the embedding matrix (which Gemma scales by sqrt(d_model) inside its forward)."""
    model = tiny_models["tiny-llama"]
    prompt, subject = "The capital of United Kingdom is", "United Kingdom"
    trace = causal_tracing(model, prompt, subject, samples=2, kinds=("hidden",), positions=[-1], noise=3.0)
    cache = model.run_with_cache(prompt, ["hook_embed"])
    embeds = cache["hook_embed"][0, trace.subject_positions].double()  # (n_subject_tokens, d_model)
    assert len(trace.subject_positions) >= 2
    entries = embeds.numpy().ravel()
    expected = 3.0 * np.sqrt(((entries - entries.mean()) ** 2).sum() / (entries.size - 1))
    assert trace.noise_std == pytest.approx(expected, rel=1e-6)
    matrix = model.bridge.original_model.get_input_embeddings().weight.double().std().item()
    assert abs(trace.noise_std - 3.0 * matrix) > 1e-3 * expected  # the old definition gives another number
    assert causal_tracing(model, prompt, subject, samples=2, kinds=("hidden",), positions=[-1],
                          noise_std=0.5).noise_std == 0.5


def test_tracing_colour_bars_sit_beside_their_own_panels(planted):
    """Each panel's colour bar (bar, tick labels and title: about 80 px) lies between its own panel and the next
    one, at the figure's own width (about 1,200 px for the three panels)."""
    trace = causal_tracing(planted, CLEAN, "France", samples=1, seed=1)
    fig = trace.plot()
    layout = fig.layout
    assert 1000 <= layout.width <= 1300 and layout.title.text and layout.yaxis.title.text
    plot_px = layout.width - layout.margin.l - layout.margin.r
    domains = [layout["xaxis" if i == 0 else f"xaxis{i + 1}"].domain for i in range(len(fig.data))]
    for i, (trace_i, domain) in enumerate(zip(fig.data, domains)):
        bar = trace_i.colorbar
        assert layout["xaxis" if i == 0 else f"xaxis{i + 1}"].title.text
        assert bar.x >= domain[1] and (bar.xanchor or "left") == "left", (i, bar.x, domain)
        right = bar.x + (float(bar.thickness or 30) + 65) / plot_px
        limit = domains[i + 1][0] if i + 1 < len(domains) else 1 + layout.margin.r / plot_px
        assert right <= limit, (i, right, limit)


def test_attribution_patching_agrees_with_exact_patching(tiny_model):
    atp = attribution_patching(tiny_model, CLEAN, CORRUPTED, verify_top_k=6, verify_random=10, seed=3, **KW)
    exact = activation_patching(tiny_model, CLEAN, CORRUPTED, **KW)
    assert isinstance(atp, AttributionPatchingResult)
    assert atp.head.shape == (tiny_model.n_layers, len(atp.positions), tiny_model.n_heads)  # GQA on tiny-llama
    assert atp.clean_metric == pytest.approx(exact.clean_metric, rel=1e-5)  # the same runs, batched differently
    assert atp.corrupted_metric == pytest.approx(exact.corrupted_metric, rel=1e-5)
    assert atp.verified_random == [False] * 6 + [True] * 10 and atp.n_cells == len(exact.to_frame())
    assert len({tuple(c) for c in atp.verified}) == 16  # the random cells are other cells than the top 6
    for (site, layer, pos, head), value, est in zip(atp.verified, atp.verified_exact, atp.verified_estimate):
        j = atp.positions.index(pos)
        cell = getattr(exact, site)[layer, j] if head < 0 else exact.head[layer, j, head]
        assert value == pytest.approx(cell, abs=1e-5)  # float noise of differently composed batches
        own = getattr(atp, site)[layer, j] if head < 0 else atp.head[layer, j, head]
        assert est == own
    top = atp.top(6)
    assert [list(c[:4]) for c in top] == atp.verified[:6]
    again = attribution_patching(tiny_model, CLEAN, CORRUPTED, verify_top_k=6, verify_random=10, seed=3, **KW)
    assert again.verified == atp.verified  # the sample is seeded
    other = attribution_patching(tiny_model, CLEAN, CORRUPTED, verify_top_k=6, verify_random=10, seed=4, **KW)
    assert other.verified[6:] != atp.verified[6:]


def test_attribution_estimate_is_the_directional_derivative(tiny_model):
    """Reference: each cell's estimate is d metric / d t of metric(corrupted with a <- a_corr + t (a_clean - a_corr))
    at t = 0, normalised; here by a central finite difference of exact patched runs (this replaces a check that
    cells exact patching leaves at 0 are estimated 0, which held by construction: there a_clean = a_corr)."""
    from interp.patching._core import Patch, Run, run_patched, site_hook
    from interp.patching.activation import source_activations

    atp = attribution_patching(tiny_model, CLEAN, CORRUPTED, verify_top_k=0, verify_random=0, **KW)
    hooks = sorted({site_hook(s, layer) for s in atp.sites for layer in range(getattr(atp, s).shape[0])})
    clean = source_activations(tiny_model, [CLEAN], hooks)[0]
    corr = source_activations(tiny_model, [CORRUPTED], hooks)[0]
    subject = atp.corrupted_tokens.index(" Italy")
    cells = [(s, idx) for s in atp.sites for idx in np.ndindex(getattr(atp, s).shape) if idx[1] >= subject]
    rng = np.random.default_rng(0)
    picked = [cells[j] for j in rng.choice(len(cells), 16, replace=False)]
    ids, a, w = tiny_model.encode(CORRUPTED), _token(tiny_model, " Paris"), _token(tiny_model, " Rome")
    eps = 1e-2
    runs = []
    for site, idx in picked:
        hook, pos, head = site_hook(site, idx[0]), idx[1], (idx[2] if len(idx) == 3 else None)
        c, r = clean[hook][pos].double(), corr[hook][pos].double()
        if head is not None:
            c, r = c[head], r[head]
        for sign in (1, -1):
            runs.append(Run(ids, [Patch(hook, pos, (r + sign * eps * (c - r)).float(), head)], a, w))
    metric = run_patched(tiny_model, runs, metric="logit_diff")
    derivative = (metric[0::2] - metric[1::2]) / (2 * eps) / (atp.clean_metric - atp.corrupted_metric)
    estimate = np.array([getattr(atp, site)[idx] for site, idx in picked])
    assert np.abs(estimate).max() > 1e-3  # cells that move the metric, not zeros on both sides
    np.testing.assert_allclose(estimate, derivative, atol=2e-3 * np.abs(estimate).max(), rtol=2e-2)


def test_random_verification_reveals_a_cell_the_estimate_missed(tiny_models):
    """A saturating gate (a test hook at block 1's input): once the subject's residual crosses a threshold, a large
    push toward ' Paris' is added at the last token. The clean subject crosses it, the corrupted one does not, and
    the gate's gradient is ~0 at the corrupted run, so attribution patching estimates the subject's embedding
    cell (resid 0 at ' Italy') near 0 while patching it exactly restores nearly everything. Verifying only the
    top estimates cannot see that; the random sample does (recall < 1, a missed share > 0, a caveat)."""
    model = tiny_models["tiny-gpt2"]
    hook = "blocks.1.hook_resid_pre"
    subject, last = 4, 5
    clean_x = model.run_with_cache(CLEAN, [hook])[hook][0].double()
    corr_x = model.run_with_cache(CORRUPTED, [hook])[hook][0].double()
    gap = clean_x[subject] - corr_x[subject]
    u = gap / gap.norm()
    threshold = float(((clean_x[subject] + corr_x[subject]) / 2) @ u)
    w_u = model.bridge.original_model.get_output_embeddings().weight.double()
    push = w_u[_token(model, " Paris")] - w_u[_token(model, " Rome")]
    push = (20 * clean_x[last].norm() / push.norm()) * push

    def gate(x, hook=None):
        on = torch.sigmoid(400.0 / gap.norm().item() * (x[:, subject].double() @ u - threshold))  # (batch,)
        x = x.clone()
        x[:, last] = x[:, last] + (on[:, None] * push).to(x.dtype)
        return x

    kw = {"sites": ("resid", "attn", "mlp"), **KW}
    with model.hooks([(hook, gate)]):
        only_top = attribution_patching(model, CLEAN, CORRUPTED, verify_top_k=3, verify_random=0, **kw)
        full = attribution_patching(model, CLEAN, CORRUPTED, verify_top_k=3, verify_random=1000, **kw)  # every cell
    assert abs(only_top.resid[0, subject]) < 0.05  # the estimate misses the subject's embedding
    assert any("Only the estimate's own top cells" in c for c in only_top.caveats())
    assert not any("missed large cells" in c for c in only_top.caveats())
    assert len(full.verified) == full.n_cells
    embedding = full.verified.index(["resid", 0, subject, -1])
    assert full.verified_random[embedding] and full.verified_exact[embedding] > 0.9
    recall, missed = full.agreement["recall"], full.agreement["missed_share"]
    assert recall["estimate"] < 1 and recall["n"] == 3 and recall["low"] <= recall["estimate"] <= recall["high"]
    assert missed["estimate"] > 0 and missed["n"] == full.n_cells - 3
    assert any("missed large cells" in c for c in full.caveats())
    assert full.summary().startswith(full.caveats()[0])
    frame = full.agreement_frame()
    assert set(frame["metric"]) == {"recall", "missed_share", "random_error", "pearson", "sign_agreement"}


def test_agreement_is_reported_only_over_cells_that_vary():
    """`interp atp` once printed "Pearson -0.860, sign agreement 100 %" over ten cells that were all about 0.97:
    without variance the correlation means nothing; it is not reported and a caveat says why."""
    from interp.patching.attribution import MIN_SPREAD, verification_statistics
    from interp.stats import correlation_interval, proportion_interval

    rng = np.random.default_rng(0)
    exact = 0.97 + 0.005 * rng.standard_normal(10)
    estimate = 0.9 - 0.5 * (exact - 0.97) + 0.001 * rng.standard_normal(10)
    flat = verification_statistics(estimate, exact, np.zeros(10, dtype=bool))
    assert flat["spread"] < MIN_SPREAD
    assert np.isnan(flat["pearson"]["estimate"]) and np.isnan(flat["sign_agreement"]["estimate"])
    assert np.isnan(flat["recall"]["estimate"])  # no random cells: recall of the top would hold by construction
    exact = np.concatenate([exact, 0.02 * rng.standard_normal(20)])
    estimate = np.concatenate([estimate, 0.01 * rng.standard_normal(20)])
    is_random = np.arange(30) >= 10
    varied = verification_statistics(estimate, exact, is_random)
    assert varied["pearson"] == correlation_interval(pearson(estimate, exact), 30).to_dict()
    same_sign = int((np.sign(estimate) == np.sign(exact)).sum())
    assert varied["sign_agreement"] == proportion_interval(same_sign, 30).to_dict()
    assert varied["recall"]["estimate"] == 1.0 and varied["missed_share"]["estimate"] == 0.0
    error = np.abs(estimate - exact)[is_random].mean()
    assert varied["random_error"]["low"] <= error == pytest.approx(varied["random_error"]["estimate"])


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
@pytest.mark.slow
def test_default_model_patching_and_tracing_known_answers(default_model):
    """Known answers on the real model (the measured hand-off layer is a figure: benchmarks/bench_patching.py).
    Patching the only differing token's embedding, or the final residual at the last token, is the clean run;
    the final residual at the subject cannot reach the last token's logits. Tracing: restoring the subject's
    un-noised embedding (hidden layer 0), or the last token's final hidden state, gives p_clean exactly."""
    result = activation_patching(default_model, CLEAN, CORRUPTED, sites=("resid",), positions=[4, 5], **KW)
    subject, last = 0, 1
    assert result.corrupted_tokens[4] == " Italy"
    resid = result.resid  # (31, 2)
    assert resid[0, subject] == pytest.approx(1.0, abs=1e-3) and resid[-1, last] == pytest.approx(1.0, abs=1e-3)
    assert resid[-1, subject] == pytest.approx(0.0, abs=1e-3) and resid[0, last] == pytest.approx(0.0, abs=1e-3)
    crossing = int(np.argmax(resid[:, last] > resid[:, subject]))
    assert 0 < crossing < default_model.n_layers  # a hand-off from the subject to the last token exists
    trace = causal_tracing(default_model, CLEAN, "France", answer=" Paris", samples=2, kinds=("hidden",),
                           positions=[4, 5])
    assert trace.subject_positions == [4] and trace.p_corrupted < trace.p_clean
    assert trace.hidden[0, 4] == pytest.approx(trace.p_clean, rel=1e-3)
    assert trace.hidden[-1, 5] == pytest.approx(trace.p_clean, rel=1e-3)


@pytest.mark.slow
def test_default_model_attribution_verification_is_exact_patching(default_model):
    """The verified cells' exact values are activation patching's (top and random alike); how well the estimate
    agrees (Pearson, recall over capital pairs) is a figure: benchmarks/bench_patching.py --atp."""
    kw = {"sites": ("attn", "mlp"), "positions": [4, 5], **KW}
    atp = attribution_patching(default_model, CLEAN, CORRUPTED, verify_top_k=5, verify_random=10, **kw)
    exact = activation_patching(default_model, CLEAN, CORRUPTED, **kw)
    assert atp.verified_random.count(True) == 10
    for (site, layer, pos, _), value in zip(atp.verified, atp.verified_exact):
        assert value == pytest.approx(getattr(exact, site)[layer, exact.positions.index(pos)], abs=1e-3)
    recall = atp.agreement["recall"]
    assert recall["low"] <= recall["estimate"] <= recall["high"] and recall["n"] == 5


def test_every_figure_has_a_title_and_axis_titles(planted):
    kw = {"sites": ("resid", "head"), **KW}
    results = [activation_patching(planted, CLEAN, CORRUPTED, **kw),
               attribution_patching(planted, CLEAN, CORRUPTED, verify_top_k=2, verify_random=4, **kw),
               causal_tracing(planted, CLEAN, "France", samples=1)]
    for result in results:
        for fig in result.figures():
            assert fig.layout.title.text, type(result).__name__
            axes = [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
            used = {a for t in fig.data for a in ("x" + (t.xaxis or "x")[1:], "y" + (t.yaxis or "y")[1:])}
            for axis in axes:
                name = axis[0] + axis[5:]
                if name in used and not fig.layout[axis].matches:
                    assert fig.layout[axis].title.text, (type(result).__name__, axis)


def test_cli_atp_reports_agreement_only_when_it_means_something(tiny_models):
    from typer.testing import CliRunner

    from interp.cli import app

    runner = CliRunner()
    base = ["atp", CLEAN, CORRUPTED, "--answer", " Paris", "--wrong", " Rome", "--model", "tiny-gpt2"]
    few = runner.invoke(app, [*base, "--verify", "2", "--random", "0"])
    assert few.exit_code == 0, few.output
    text = " ".join(few.output.split())
    assert "Only 2 cells were verified" in text and "Pearson [" not in text and "Pearson 0" not in text
    assert "Only the estimate's own top cells were verified" in text
    many = runner.invoke(app, [*base, "--verify", "3", "--random", "12", "--sites", "resid,mlp"])
    assert many.exit_code == 0, many.output
    text = " ".join(many.output.split())
    assert "recall of the exact top 3" in text and "12 random cells" in text
    assert "Agreement with exact patching" in text and "missed_share" in text
