"""interp.data_attribution: per-example gradients, projection, influence, planted facts, errors, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from interp.data_attribution import (
    METHODS,
    TrainingAttributionResult,
    _stack,
    attribute_training,
    evaluate_attribution,
    finetune,
    load_run,
    load_training_data,
)
from interp.data_attribution.attribute import GradientStore, influence_scores
from interp.data_attribution.evaluate import lds_scores, tail_patch_scores
from interp.data_attribution.gradients import Projection, grad_to_param, layer_shape, per_example_gradients
from interp.errors import EmptyPromptError, InvalidDatasetError, InvalidParameterError, RunFolderError

FACTS = 8  # planted-fact training rows used on tiny models


def _facts():
    return load_training_data("planted_facts").subset(range(FACTS), name="facts8")


@pytest.fixture(scope="module")
def tiny_run(tiny_models, tmp_path_factory):
    return finetune(tiny_models["tiny-llama"], _facts(), blocks=1, epochs=20, lr=3e-3, batch_size=4, checkpoints=2,
                    seed=0, out=tmp_path_factory.mktemp("run"), progress=False)


# ----------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2"])  # Linear without bias; Conv1D with bias
def test_hook_per_example_gradients_equal_an_autograd_loop(tiny_models, name):
    model = tiny_models[name]
    top = _stack.top_stack(model, 1).double()  # float64 (eager attention still takes its softmax in float32)
    layers = [m for _, m in _stack.trainable_layers(top, "all")]
    data = _facts()
    enc = _stack.encode_pairs(model, [(e.prompt, e.text) for e in data.examples[:5]], where="test")
    resid = [r.double() for r in _stack.residuals(model, enc, 1)]
    x = [r.clone().requires_grad_(True) for r in resid]
    batched = per_example_gradients(lambda: _stack.sequence_losses(top, x, enc.ids, enc.n_prompt), layers,
                                    Projection.draw([layer_shape(m) for m in layers], None, 0), full=True)
    params = [p for m in layers for p in m.parameters(recurse=False)]
    for p in params:
        p.requires_grad_(True)
    try:
        for i in range(len(resid)):
            loss = _stack.sequence_losses(top, [resid[i]], [enc.ids[i]], [enc.n_prompt[i]])[0]
            exact = torch.autograd.grad(loss, params)
            got = [t for layer, g in zip(layers, batched) for t in grad_to_param(layer, g[i]).values()]
            assert len(got) == len(exact)
            for a, b in zip(got, exact):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max()))
    finally:
        for p in params:
            p.requires_grad_(False)


def test_factored_projection_equals_projecting_the_formed_gradient():
    gen = torch.Generator().manual_seed(1)
    g, a = torch.randn(3, 5, 7, generator=gen), torch.randn(3, 5, 11, generator=gen)
    proj = Projection.draw([(7, 11)], 4, seed=3)
    formed = torch.einsum("bto,bti->boi", g, a)
    torch.testing.assert_close(proj.apply_factored(0, g, a), proj.apply(0, formed), rtol=1e-4, atol=1e-4)
    again = Projection.draw([(7, 11)], 4, seed=3)
    assert torch.equal(again.p_out[0], proj.p_out[0]) and not torch.equal(Projection.draw([(7, 11)], 4, 4).p_in[0],
                                                                          proj.p_in[0])


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.flatten(1).norm(dim=1).reshape(-1, *([1] * (x.dim() - 1)))


def test_random_projection_preserves_inner_products_within_the_jl_tolerance():
    """JL (Dasgupta & Gupta): a Gaussian map to k >= 8 ln(n) / eps^2 dimensions moves the inner products of n unit
    vectors by at most eps. Each side of a layer's projection is such a map (k = dim: a rank-one gradient, one
    token, is projected exactly so); the Kronecker product of both sides is a JL map of k = dim^2 dimensions
    with the Kronecker bound's extra log factors, eps = sqrt(8 ln(n)^3 / k) (Jin, Kolda & Ward 2019)."""
    dim, n, (d_out, d_in) = 24, 20, (40, 60)
    gen = torch.Generator().manual_seed(0)
    vecs = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
    vecs = _unit_rows(vecs + 0.7 * vecs[0])  # correlated, so the inner products are not all near zero
    mats = torch.randn(n, d_out, d_in, generator=gen, dtype=torch.float64)
    mats = _unit_rows(mats + 0.7 * mats[0])
    assert float(vecs[0] @ vecs[1]) > 0.3 and float(mats[0].flatten() @ mats[1].flatten()) > 0.3
    for seed in range(3):
        proj = Projection.draw([(d_out, d_in)], dim, seed)
        p_out, p_in = proj.p_out[0].double(), proj.p_in[0].double()
        side = vecs @ p_in.T
        assert float((side @ side.T - vecs @ vecs.T).abs().max()) <= math.sqrt(8 * math.log(n) / dim)
        z = (p_out @ mats @ p_in.T).flatten(1)
        exact = mats.flatten(1) @ mats.flatten(1).T
        errors = (z @ z.T - exact).abs()
        assert float(errors.max()) <= math.sqrt(8 * math.log(n) ** 3 / dim ** 2)
        assert float(errors.mean()) <= 2 * math.sqrt(2 / dim ** 2) * 2  # typical error: about sqrt(2 / k)


# ----------------------------------------------------------------------------------------- influence (convex)
def test_influence_function_matches_leave_one_out_on_a_convex_readout():
    """Frozen random features, an L2-regularised logistic readout trained to convergence (Newton): the influence
    scores predict the exact leave-one-out change of a test loss (Pearson >= 0.9)."""
    rng = np.random.default_rng(0)
    n, d, lam = 60, 5, 0.05
    feats = torch.tensor(np.tanh(rng.normal(size=(n + 1, 8)) @ rng.normal(size=(8, d))), dtype=torch.float64)
    y = torch.tensor((rng.random(n + 1) < 1 / (1 + np.exp(-feats.numpy() @ rng.normal(size=d)))).astype(float))
    X, Y, xq, yq = feats[:n], y[:n], feats[n:], y[n:]

    def loss_i(w, x, t):
        z = x @ w
        return torch.nn.functional.softplus(z) - t * z

    def fit(mask):  # Newton's method on (1/n) sum_i loss_i + lam/2 |w|^2, to machine precision
        w = torch.zeros(d, dtype=torch.float64)
        for _ in range(25):
            p = torch.sigmoid(X[mask] @ w)
            g = X[mask].T @ (p - Y[mask]) / n + lam * w
            h = (X[mask].T * (p * (1 - p))) @ X[mask] / n + lam * torch.eye(d, dtype=torch.float64)
            w = w - torch.linalg.solve(h, g)
        return w, h

    full = torch.ones(n, dtype=torch.bool)
    w, hessian = fit(full)
    grads = torch.stack([_grad(loss_i, w, X[i], Y[i]) for i in range(n)])
    gq = _grad(loss_i, w, xq[0], yq[0])[None]
    predicted = influence_scores(grads, gq, hessian)[0].numpy() / n  # removing i raises the loss by ~ this
    base = float(loss_i(w, xq[0], yq[0]))
    actual = []
    for i in range(n):
        mask = full.clone()
        mask[i] = False
        actual.append(float(loss_i(fit(mask)[0], xq[0], yq[0])) - base)
    r = np.corrcoef(predicted, actual)[0, 1]
    assert r >= 0.9, r


def _grad(fn, w, x, t):
    w = w.clone().requires_grad_(True)
    return torch.autograd.grad(fn(w, x, t), w)[0]


# ----------------------------------------------------------------------------------------- planted facts
@pytest.mark.parametrize("method", ["grad_dot", "grad_cos", "tracin_sgd", "tracin_adam", "trackstar", "projected_if"])
def test_each_planted_fact_source_ranks_first_for_its_query(tiny_run, method):
    lexical = [q for q in tiny_run.data.queries if q.kind == "own_text"]
    assert len(lexical) >= 4
    ranks = [min(attribute_training(tiny_run, q.id, method=method).gold_ranks()) for q in lexical]
    if method.startswith("tracin"):  # its mid-run checkpoint's raw dot products favour the examples still badly fitted then
        assert sorted(ranks)[:-1] == [1] * (len(lexical) - 1) and max(ranks) <= 2, ranks
    else:
        assert ranks == [1] * len(lexical), ranks


def test_fine_tuning_learns_the_facts_and_the_model_says_it_is_fine_tuned(tiny_run, tiny_models):
    # a random tiny model with a frozen final norm and tied embeddings can only raise a token's logit a little
    assert tiny_run.losses[-1] < tiny_run.losses[0] - 0.5
    model = tiny_run.model
    base = tiny_models["tiny-llama"]
    assert model.name.startswith("tiny-llama+ft(facts8,") and "blocks 1-1" in model.name
    weights = model.info()["weights"]
    assert "fine-tuned" in weights and "tiny-llama" in weights and "facts8" in weights
    assert model.info()["fingerprint"] != base.info()["fingerprint"]
    q = tiny_run.data.queries[0]
    target = model.encode(q.target, prepend_bos=False)[0]
    before, after = (torch.log_softmax(m.logits(q.prompt)[-1], -1)[target] for m in (base, model))
    assert after > before + 0.5  # it learned the fact
    # the fine-tuned model's logits equal the trained stack fed the cached residual
    enc = _stack.encode_pairs(base, [(q.prompt, q.target)], where="test")
    resid = _stack.residuals(base, enc, tiny_run.first_block)
    x, mask = _stack.pad_residuals(resid)
    with torch.no_grad():
        hidden = _stack.hidden_states(tiny_run.top, x, mask)
        stack_logits = tiny_run.top.get_output_embeddings()(hidden)[0]
    torch.testing.assert_close(model.logits(q.prompt + q.target)[:stack_logits.shape[0]], stack_logits,
                               rtol=1e-4, atol=1e-4)


def test_bm25_finds_the_own_text_source_shows_no_opposing_rows_and_the_result_round_trips(tiny_run, tmp_path):
    q = next(q for q in tiny_run.data.queries if q.kind == "own_text")
    result = attribute_training(tiny_run, q.id, method="bm25", top_k=3)
    assert min(result.gold_ranks()) == 1
    frame = result.to_frame()
    # BM25 scores are word overlap (>= 0): its "most opposing" rows would be arbitrary zero-score examples
    assert list(frame["direction"].unique()) == ["supporting"] and len(frame) == 3
    assert "no example as opposing" in result.summary()
    assert frame.iloc[0]["gold"] and frame.iloc[0]["id"] in q.gold
    loaded = TrainingAttributionResult.load(result.save(tmp_path / "r.json"))
    assert loaded == result and np.array_equal(loaded.scores, result.scores)
    signed = attribute_training(tiny_run, q.id, method="grad_cos", top_k=3).to_frame()
    assert list(signed["direction"].unique()) == ["supporting", "opposing"] and len(signed) == 6


def test_summaries_show_line_breaks_as_text_not_as_a_literal_backslash_n(tiny_run):
    q = next(q for q in tiny_run.data.queries if "\n" in q.prompt)
    summary = attribute_training(tiny_run, q.id, method="bm25").summary()
    assert "\\n" not in summary and "\n" not in summary
    assert "Answer:" in summary and "?" in summary


def test_lds_scores_known_answers():
    """A prediction that orders the subsets exactly as the (negative) loss does scores 1, the reverse -1, a loss
    that does not vary NaN; the sign convention (scores support the target, lower loss) is what this pins."""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, 12))
    masks = rng.random((16, 12)) < 0.5
    predicted = masks @ scores.T  # (16, 3)
    losses = np.stack([-predicted[:, 0], predicted[:, 1], np.ones(16)], 1)
    lds = lds_scores(scores, masks, losses)
    assert lds[0] == pytest.approx(1.0) and lds[1] == pytest.approx(-1.0) and np.isnan(lds[2])
    noisy = losses.copy()
    noisy[:, 0] += rng.normal(scale=3 * predicted[:, 0].std(), size=16)
    assert -1 < lds_scores(scores, masks, noisy)[0] < 1


def test_evaluation_leads_with_non_self_queries_and_carries_intervals(tiny_run, tmp_path):
    ev = evaluate_attribution(tiny_run, ["bm25", "grad_cos"], lds_subsets=4, progress=False)
    frame = ev.to_frame()
    assert frame.iloc[0]["kind"] == "all_but_own_text" and frame.iloc[0]["method"] == "bm25"
    assert list(frame[frame["method"] == "grad_cos"]["kind"])[-1] == "own_text"  # self-retrieval last
    own = [j for j, k in enumerate(ev.query_kinds) if k == "own_text"]
    rest = [j for j, k in enumerate(ev.query_kinds) if k != "own_text"]
    assert own and rest
    by = frame.set_index(["method", "kind"])
    assert by.loc[("grad_cos", "own_text"), "mrr"] == 1.0
    i = ev.methods.index("grad_cos")
    assert by.loc[("grad_cos", "all_but_own_text"), "mrr"] == pytest.approx(ev.reciprocal_rank[i, rest].mean())
    assert ev.mrr("grad_cos") == pytest.approx(ev.reciprocal_rank[i, rest].mean())
    for metric in ("mrr", "tail_patch", "lds"):
        for method in ("bm25", "grad_cos"):
            row = by.loc[(method, "all_but_own_text")]
            if metric == "lds" and not np.isfinite(row[metric]):
                continue
            assert row[f"{metric}_low"] <= row[metric] <= row[f"{metric}_high"], (metric, method)
    assert by.loc[("random", "all_but_own_text"), "tail_patch"] == pytest.approx(ev.tail_patch[-1, rest].mean())
    assert ev.tail_patch.shape == (3, len(ev.query_ids)) and np.isfinite(ev.tail_patch).all()
    pairs = ev.comparisons_frame()
    assert {"mrr", "tail_patch"} <= set(pairs["metric"])
    assert ((pairs["a"] == "grad_cos") & (pairs["b"] == "random") & (pairs["metric"] == "tail_patch")).any()
    assert "own_text" in ev.caveats()[0] and "4 retrained subsets" in " ".join(ev.caveats())
    head = ev.plain_summary().splitlines()
    assert head[0].startswith(f"{len(rest)} queries ({len(own)} own_text queries left out)")
    loaded = type(ev).load(ev.save(tmp_path / "ev.json"))
    assert loaded == ev and loaded.interval("mrr", "bm25") == ev.interval("mrr", "bm25")


def test_tail_patch_restores_the_weights_between_queries(tiny_run):
    """Each query's step starts from the fine-tuned weights and moments: the order of methods and queries
    changes no number, the run's model is untouched, and the same top-k gives the same score."""
    queries = [q for q in tiny_run.data.queries if q.gold][:4]
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(len(queries), len(tiny_run.data))), rng.normal(size=(len(queries), len(tiny_run.data)))
    before = [p.detach().clone() for p in tiny_run.top.parameters()]
    one = tail_patch_scores(tiny_run, queries, [a, b], k=2)
    two = tail_patch_scores(tiny_run, queries[::-1], [b[::-1], a[::-1], a[::-1]], k=2)
    np.testing.assert_allclose(two[[1, 0]][:, ::-1], one, rtol=1e-6, atol=1e-9)
    assert np.array_equal(two[1], two[2]) and np.abs(one).max() > 0
    assert all(torch.equal(x, y) for x, y in zip(before, tiny_run.top.parameters()))


def test_tracin_adam_is_the_first_order_change_of_one_adamw_step_per_checkpoint(tiny_run):
    """tracin_adam = sum_c lr_c <g_q, g_z / (sqrt(v_c) + eps)>, checked against autograd gradients and the saved
    second moments; tracin_sgd (no correction) differs."""
    from interp.data_attribution.attribute import training_scores
    from interp.data_attribution.finetune import _param_names

    q = tiny_run.data.queries[0]
    adam = training_scores(tiny_run, [q], "tracin_adam", dim=None)[0]
    sgd = training_scores(tiny_run, [q], "tracin_sgd", dim=None)[0]
    base = tiny_run.base
    enc_q = _stack.encode_pairs(base, [(q.prompt, q.target)], where="test")
    resid_q = _stack.residuals(base, enc_q, tiny_run.first_block)
    enc = tiny_run.encoded
    expected = np.zeros(len(tiny_run.data))
    for c, entry in enumerate(tiny_run.checkpoints):
        top, _ = tiny_run.checkpoint_stack(c)
        v = tiny_run.second_moments(c)
        named = _param_names(top, tiny_run.config.part)
        params = [p.requires_grad_(True) for _, p in named]
        gq = torch.autograd.grad(_stack.sequence_losses(top, resid_q, enc_q.ids, enc_q.n_prompt)[0], params)
        for i in range(len(tiny_run.data)):
            loss = _stack.sequence_losses(top, [tiny_run.residuals[i]], [enc.ids[i]], [enc.n_prompt[i]])[0]
            gz = torch.autograd.grad(loss, params)
            expected[i] += entry["lr"] * sum(float((a * b / (v[n].sqrt() + 1e-8)).sum())
                                             for (n, _), a, b in zip(named, gq, gz))
    np.testing.assert_allclose(adam, expected, rtol=1e-3, atol=1e-6 * np.abs(expected).max())
    assert not np.allclose(sgd, adam, rtol=0.1)


def test_every_planted_fact_ships_a_hard_negative_with_the_name_and_the_answer():
    """Same template as the fact's first training sentence, about another person who holds the subject's full name,
    with the same answer; never a gold source; appended after the facts; and the shipped files are exactly what
    the seeded generator writes."""
    import importlib.util
    import re
    from pathlib import Path

    data = load_training_data("planted_facts")
    facts = [e for e in data.examples if e.kind == "fact"]
    negatives = {e.id: e for e in data.examples if e.kind == "hard_negative"}
    groups = list(dict.fromkeys(e.group for e in facts))
    assert len(negatives) == len(groups) and [e.kind for e in data.examples] == ["fact"] * len(facts) + \
        ["hard_negative"] * len(negatives)
    gold = {g for q in data.queries for g in q.gold}
    for group in groups:
        first = next(e for e in facts if e.group == group)
        neg = negatives[f"{group}_neg"]
        assert neg.text == first.text and neg.id not in gold  # the same answer; not a source
        match = re.search(r"^(.*?)(\w+ \w+)'s (\w+)(.*)$", neg.prompt)
        assert match, neg.prompt
        assert match.group(1) + match.group(2) + match.group(4) == first.prompt  # the same template, the full name
        assert match.group(2) in first.prompt
    spec = importlib.util.spec_from_file_location("generate", Path(__file__).parents[1] / "probes/training/generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    import random

    train, queries = generate.planted_facts(random.Random(f"{generate.SEED}-planted_facts"))
    assert [r["id"] for r in train] == data.ids and [r["text"] for r in train] == [e.text for e in data.examples]
    assert [q["id"] for q in queries] == [q.id for q in data.queries]
    assert not any(q.kind == "lexical" for q in data.queries) and any(q.kind == "own_text" for q in data.queries)


def test_cli_attribute_prints_each_examples_full_text(tiny_run, monkeypatch):
    from typer.testing import CliRunner

    import interp.cli.train_data as cli

    monkeypatch.setattr(cli, "_open", lambda *a: tiny_run)
    q = next(q for q in tiny_run.data.queries if q.kind == "paraphrase")
    result = CliRunner().invoke(cli.app, ["attribute", "unused", q.id, "--method", "grad_cos", "--top-k", "4"],
                                terminal_width=80)
    assert result.exit_code == 0, result.output
    frame = attribute_training(tiny_run, q.id, method="grad_cos", top_k=4).to_frame()
    for text in frame["text"]:
        assert text in result.output  # whole, on one line (a squeezed table wrapped it after a word or two)
    bm25 = CliRunner().invoke(cli.app, ["attribute", "unused", q.id, "--method", "bm25"], terminal_width=80)
    assert "Most supporting" in bm25.output and "Most opposing" not in bm25.output


def test_a_new_query_reuses_the_stored_training_gradients(tiny_run):
    store = GradientStore(tiny_run)
    before = store.training(-1)[0]
    shard = store.folder / "ckpt-001" / "shard-0000.safetensors"
    stamp = shard.stat().st_mtime_ns
    again = GradientStore(tiny_run).training(-1)[0]
    assert shard.stat().st_mtime_ns == stamp and torch.equal(before, again)
    shard.unlink()  # a lost shard is recomputed, to the same numbers
    assert torch.equal(GradientStore(tiny_run).training(-1)[0], before)


# ----------------------------------------------------------------------------------------- determinism, resume
def test_same_seed_same_scores_and_a_stopped_run_resumes_to_the_same_weights(tiny_models, tiny_run, tmp_path):
    model = tiny_models["tiny-llama"]
    kwargs = dict(blocks=1, epochs=20, lr=3e-3, batch_size=4, checkpoints=2, seed=0, progress=False)
    again = finetune(model, _facts(), out=tmp_path / "a", **kwargs)
    assert again.losses == tiny_run.losses
    q = tiny_run.data.queries[0].id
    for method in ("grad_dot", "trackstar"):
        np.testing.assert_array_equal(attribute_training(again, q, method=method).scores,
                                      attribute_training(tiny_run, q, method=method).scores)
    # stop after the first checkpoint: drop the second and mark the run unfinished, then resume
    meta_file = tmp_path / "a" / "run.json"
    meta = json.loads(meta_file.read_text())
    (tmp_path / "a" / meta["checkpoints"][-1]["file"]).unlink()
    meta["checkpoints"], meta["complete"] = meta["checkpoints"][:1], False
    meta_file.write_text(json.dumps(meta))
    resumed = finetune(model, _facts(), out=tmp_path / "a", **kwargs)
    assert resumed.losses == tiny_run.losses
    for (name, a), (_, b) in zip(resumed.top.named_parameters(), tiny_run.top.named_parameters()):
        assert torch.equal(a, b), name
    reloaded = load_run(tmp_path / "a", model, _facts())
    np.testing.assert_array_equal(attribute_training(reloaded, q, method="grad_dot").scores,
                                  attribute_training(tiny_run, q, method="grad_dot").scores)
    other = finetune(model, _facts(), out=tmp_path / "b", **{**kwargs, "seed": 1})
    assert other.losses != tiny_run.losses


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("content, fragment", [
    ('{"text": "a"}\nnot json\n', "Line 2 of"),
    ('{"prompt": "a"}\n', "needs a non-empty string 'text'"),
    ('["a"]\n', "must be a JSON object"),
    ('{"text": "a", "id": "x"}\n{"text": "b", "id": "x"}\n', "repeats the id 'x'"),
    ('\n', "holds no examples"),
])
def test_bad_jsonl_files_raise_a_named_error(tmp_path, content, fragment):
    path = tmp_path / "mine.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidDatasetError, match=fragment):
        load_training_data(path)


def test_user_jsonl_and_bad_inputs(tmp_path, tiny_models, tiny_run):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"text": "The sky is green."}\n{"text": "Birds sing.", "id": "b", "prompt": "At dawn,"}\n')
    data = load_training_data(path)
    assert data.ids == ["line1", "b"] and data.examples[1].full_text == "At dawn,Birds sing."
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidDatasetError, match="not UTF-8"):
        load_training_data(tmp_path / "bin.jsonl")
    with pytest.raises(InvalidDatasetError, match="Unknown training set 'nope'"):
        load_training_data("nope")
    model = tiny_models["tiny-llama"]
    with pytest.raises(InvalidParameterError, match=r"The 'blocks' parameter of finetune must be an int in \[1, 2\)"):
        finetune(model, data, blocks=2)
    with pytest.raises(InvalidParameterError, match="The 'part' parameter of finetune must be one of"):
        finetune(model, data, blocks=1, part="attn")
    with pytest.raises(InvalidParameterError, match="The 'lr' parameter of finetune must be a finite float > 0"):
        finetune(model, data, blocks=1, lr=0)
    with pytest.raises(RunFolderError, match="holds another fine-tuning run"):
        finetune(model, data, blocks=1, out=tiny_run.path, progress=False)
    with pytest.raises(InvalidParameterError, match="Unknown|must be one of 'bm25', 'grad_dot'"):
        attribute_training(tiny_run, "f00_pet_own_text", method="lime")
    with pytest.raises(EmptyPromptError, match="The 'query' parameter of attribute_training is empty"):
        attribute_training(tiny_run, "  ")
    with pytest.raises(RunFolderError, match="holds no fine-tuning run"):
        load_run(tmp_path, model)
    assert set(METHODS) >= {"bm25", "grad_dot", "grad_cos", "tracin_sgd", "tracin_adam", "trackstar"}


# ----------------------------------------------------------------------------------------- the real model
@pytest.mark.slow
def test_default_model_planted_sources_rank_top_3_for_most_own_text_queries(default_model, tmp_path):
    data = load_training_data("planted_facts").subset(range(60), name="planted_facts[60]")
    run = finetune(default_model, data, blocks=2, epochs=3, lr=1e-3, checkpoints=1, out=tmp_path, progress=False)
    own_text = [q.id for q in data.queries if q.kind == "own_text"]
    ev = evaluate_attribution(run, ["grad_cos", "trackstar"], queries=own_text, tail_patch_k=0, progress=False)
    for method in ("grad_cos", "trackstar"):
        top3 = float(np.mean(1 / ev.reciprocal_rank[ev.methods.index(method)] <= 3))
        assert top3 >= 0.8, (method, top3)


# ----------------------------------------------------------------------------------------- kronfluence (optional)
def test_ekfac_without_kronfluence_is_a_named_error(tiny_run):
    import importlib.util

    from interp.errors import MissingExtraError

    if importlib.util.find_spec("kronfluence") is not None:
        pytest.skip("kronfluence is installed")
    with pytest.raises(MissingExtraError, match="pip install --no-deps kronfluence"):
        attribute_training(tiny_run, tiny_run.data.queries[0].id, method="ekfac")


def test_grad_dot_equals_kronfluence_identity_scores(tiny_run):
    pytest.importorskip("kronfluence")
    from interp.data_attribution._kronfluence import kronfluence_scores
    from interp.data_attribution.attribute import training_scores

    queries = tiny_run.data.queries[:6]
    ours = training_scores(tiny_run, queries, "grad_dot", dim=None)
    theirs = kronfluence_scores(tiny_run, queries, strategy="identity", float64=True)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()


def test_finetune_reports_its_stages_and_progress_changes_no_number(tiny_models, tmp_path):
    model = tiny_models["tiny-llama"]
    data = _facts()
    events = []
    kwargs = dict(blocks=1, epochs=2, lr=3e-3, batch_size=4, checkpoints=1)
    shown = finetune(model, data, out=tmp_path / "a", progress=lambda *e: events.append(e), **kwargs)
    quiet = finetune(model, data, out=tmp_path / "b", progress=False, **kwargs)
    assert shown.losses == quiet.losses
    steps = 2 * math.ceil(len(data) / 4)
    assert [e[0] for e in events] == ["residuals", "residuals"] + ["finetune"] * (steps + 1)
    assert events[2] == ("finetune", 0, steps) and events[-1] == ("finetune", steps, steps)
    with pytest.raises(InvalidParameterError, match="The 'progress' parameter of finetune must be None, True, False"):
        finetune(model, data, out=tmp_path / "c", progress="yes", **kwargs)


def test_ekfac_scores_do_not_depend_on_how_the_examples_are_padded_into_batches(tiny_run):
    """With the padding mask, kronfluence's covariances see only real tokens: batches of 1 (no padding) and of 8
    (right-padded to the longest) give the same EK-FAC scores; and the damping is kronfluence's heuristic."""
    pytest.importorskip("kronfluence")
    from kronfluence.arguments import ScoreArguments

    from interp.data_attribution._kronfluence import damping_field, kronfluence_scores

    assert damping_field(ScoreArguments) in {"damping_factor", "damping"}
    queries = tiny_run.data.queries[:4]
    one = kronfluence_scores(tiny_run, queries, strategy="ekfac", batch_size=1, float64=True)
    eight = kronfluence_scores(tiny_run, queries, strategy="ekfac", batch_size=8, float64=True)
    np.testing.assert_allclose(one, eight, rtol=1e-4, atol=1e-6 * np.abs(one).max())


def test_cli_evaluate_prints_intervals_paired_differences_and_leads_with_non_self_queries(tiny_run, monkeypatch):
    from typer.testing import CliRunner

    import interp.cli.train_data as cli

    monkeypatch.setattr(cli, "_open", lambda *a: tiny_run)
    result = CliRunner().invoke(cli.app, ["evaluate", "unused", "--methods", "bm25,grad_cos"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "own_text queries left out" in result.output and "all_but_own_text" in result.output
    ev = evaluate_attribution(tiny_run, ["bm25", "grad_cos"], progress=False)
    assert f"  all_but_own_text ({len(ev._columns('all_but_own_text'))} queries): bm25 " \
           f"{ev.interval('mrr', 'bm25').format()}" in result.output
    assert "Paired differences" in result.output and "tail_patch: grad_cos - random = " in result.output


def test_the_old_tracin_name_still_works_with_a_deprecation_warning():
    from interp.data_attribution.attribute import renamed_method

    with pytest.warns(DeprecationWarning, match="tracin_sgd"):
        assert renamed_method("tracin") == "tracin_sgd"
    assert renamed_method("grad_cos") == "grad_cos"


def test_finetune_after_a_gradient_pass_on_the_same_model(tmp_path):
    """Integrated gradients leaves the bridge's cached attention pattern inside an autograd graph; fine-tuning (which
    copies the model) used to fail there with torch's 'Only Tensors created explicitly by the user' error."""
    import interp
    from interp.attribution import attribute
    from interp.data_attribution.finetune import deepcopy_module

    model = interp.load_model("tiny-gpt2", quiet=True)
    attribute(model, "The capital of France is", "integrated_gradients", n_steps=4)
    copied = deepcopy_module(model.bridge)
    for (name, a), (_, b) in zip(model.bridge.named_parameters(), copied.named_parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr(), name


def test_run_fingerprint_names_the_run_finetune_makes(tiny_models, tiny_run):
    """run_fingerprint is the fingerprint finetune records for (and checks against) a run folder, so a shell that keeps
    runs in its own folder (the explorer's training-data page) finds a run again exactly when finetune reuses it."""
    from interp.data_attribution import run_fingerprint

    model = tiny_models["tiny-llama"]
    settings = dict(blocks=1, epochs=20, lr=3e-3, batch_size=4, checkpoints=2)
    key = run_fingerprint(model, _facts(), **settings)
    assert key == tiny_run.meta["fingerprint"] and len(key) == 16
    assert run_fingerprint(model, _facts(), **{**settings, "seed": 1}) != key
    assert run_fingerprint(model, _facts(), **{**settings, "lr": 1e-3}) != key
    with pytest.raises(InvalidParameterError, match="The 'blocks' parameter of run_fingerprint"):
        run_fingerprint(model, _facts(), blocks=0)
