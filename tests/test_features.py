"""interp.features: SAE training, SAELens's layout, evaluation, dashboards, labels, attribution and steering.

Known answers on the tiny models: a planted sparse dictionary is recovered by the trainer; an SAE that detects
one token (its embedding, at layer 0 of tiny-llama, where the residual stream is the embedding) gets that token's
contexts in its dashboard and that word's label with precision 1; CE loss recovered equals a forward pass spliced
by hand; steering at strength 0 is the plain generation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import interp
from interp.errors import EmptyPromptError, InvalidParameterError, InvalidResultFileError, LayerIndexError
from interp.features import (
    FeatureDashboard,
    SAETrainer,
    SparseAutoencoder,
    default_texts,
    evaluate_sae,
    feature_attribution,
    feature_dashboard,
    feature_store,
    label_features,
    load_sae,
    probe_feature_cosines,
    read_texts,
    steer_with_feature,
    train_sae,
)

TEXTS = ["The cat sat on the mat and the cat slept.", "A dog ran to the park with a cat.",
         "My cat likes fish; the dog likes bones.", "They saw a cat near the old red barn."]


def planted_data(seed=0, d=16, n_atoms=24, n=20000, active=2):
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(n_atoms, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    idx = np.stack([rng.choice(n_atoms, active, replace=False) for _ in range(n)])
    coef = rng.uniform(0.5, 2, (n, active))
    return atoms, np.einsum("nk,nkd->nd", coef, atoms[idx]).astype(np.float32)


def test_trainer_recovers_a_planted_sparse_dictionary():
    atoms, x = planted_data()
    trainer = SAETrainer(16, 24, k=2, batch_size=64, lr=1e-2, dead_after=256, seed=0)
    for epoch in range(3):
        trainer.partial_fit(x, shuffle_seed=epoch)
    W = trainer.sae().W_dec.numpy()
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    best = np.abs(atoms @ W.T).max(1)
    assert np.mean(best >= 0.95) >= 0.8, np.sort(best)
    assert trainer.history["fvu"][-1] < 0.2


def test_folded_scale_reads_raw_activations():
    """The saved SAE on raw x equals the trained map on scaled x, unscaled (SAELens's folding)."""
    x = np.random.default_rng(1).normal(size=(500, 8)).astype(np.float32) * 30
    trainer = SAETrainer(8, 16, k=3, batch_size=100, seed=0).partial_fit(x)
    s = trainer.input_scale
    assert s == pytest.approx(np.sqrt(8 / (x.astype(np.float64) ** 2).sum(1).mean()), rel=1e-5)
    p = trainer.params
    xs = torch.from_numpy(x) * s
    pre = (xs - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    v, i = pre.topk(3, dim=-1)
    z = torch.zeros_like(pre).scatter(-1, i, torch.relu(v))
    expected = (z @ p["W_dec"] + p["b_dec"]) / s
    sae = trainer.sae()
    torch.testing.assert_close(sae.encode(x), z, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(sae(x), expected, rtol=1e-4, atol=1e-4)
    assert torch.allclose(p["W_dec"].norm(dim=-1), torch.ones(16), atol=1e-5)  # unit-norm decoder rows


def test_trainer_state_round_trip_continues_identically(tmp_path):
    _, x = planted_data(n=2000)
    a = SAETrainer(16, 24, k=2, batch_size=100, seed=3).partial_fit(x[:1000], shuffle_seed=0)
    a.save_state(tmp_path, {"note": 1})
    b, extra = SAETrainer.load_state(tmp_path)
    assert extra == {"note": 1}
    a.partial_fit(x[1000:], shuffle_seed=1)
    b.partial_fit(x[1000:], shuffle_seed=1)
    for name in a.params:
        torch.testing.assert_close(a.params[name], b.params[name])
    assert not list(tmp_path.glob("*.pkl"))


def test_saelens_layout_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sae = SparseAutoencoder(rng.normal(size=(8, 12)), rng.normal(size=12), rng.normal(size=(12, 8)), rng.normal(size=8),
                            architecture="topk", k=4, hook_name="blocks.1.hook_resid_post", layer=2,
                            metadata={"model_name": "tiny-gpt2"})
    sae.save(tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert (cfg["d_in"], cfg["d_sae"], cfg["architecture"], cfg["activation_fn_kwargs"]) == (8, 12, "topk", {"k": 4})
    assert cfg["hook_name"] == cfg["metadata"]["hook_name"] == "blocks.1.hook_resid_post"
    assert cfg["normalize_activations"] == "none"
    from safetensors.numpy import load_file

    tensors = load_file(str(tmp_path / "sae" / "sae_weights.safetensors"))
    assert {k: v.shape for k, v in tensors.items()} == {"W_enc": (8, 12), "b_enc": (12,), "W_dec": (12, 8),
                                                         "b_dec": (8,)}
    back = load_sae(tmp_path / "sae")
    assert (back.architecture, back.k, back.layer, back.hook_name) == ("topk", 4, 2, "blocks.1.hook_resid_post")
    x = rng.normal(size=(5, 8)).astype(np.float32)
    torch.testing.assert_close(back(x), sae(x))


def test_loads_a_jumprelu_sae_as_saelens_writes_it(tmp_path):
    """A Gemma Scope-style folder (jumprelu, threshold, no b_dec subtraction) written by hand, SAELens's keys only."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    W_enc, b_enc = rng.normal(size=(6, 10)).astype(np.float32), rng.normal(size=10).astype(np.float32)
    W_dec, b_dec = rng.normal(size=(10, 6)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    threshold = np.full(10, 0.5, np.float32)
    (tmp_path / "gs").mkdir()
    save_file({"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": threshold},
              str(tmp_path / "gs" / "sae_weights.safetensors"))
    (tmp_path / "gs" / "cfg.json").write_text(json.dumps({
        "architecture": "jumprelu", "d_in": 6, "d_sae": 10, "apply_b_dec_to_input": False,
        "normalize_activations": "none", "metadata": {"hook_name": "blocks.3.hook_resid_post", "model_name": "g"}}))
    sae = load_sae(tmp_path / "gs")
    assert sae.layer == 4 and sae.architecture == "jumprelu"
    x = rng.normal(size=(7, 6)).astype(np.float32)
    pre = x @ W_enc + b_enc
    expected = pre * (pre > 0.5)
    np.testing.assert_allclose(sae.encode(x).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "not an SAE folder"),
    (lambda d: (d / "cfg.json").write_text("{"), "not valid JSON"),
    (lambda d: (d / "cfg.json").write_text(json.dumps({"architecture": "gated"})), "names architecture 'gated'"),
    (lambda d: (d / "cfg.json").write_text(json.dumps({"normalize_activations": "expected_average_only_in"})),
     "normalize_activations"),
])
def test_load_sae_rejects_bad_folders(tmp_path, setup, message):
    (tmp_path / "sae_weights.safetensors").write_bytes(b"")
    setup(tmp_path)
    with pytest.raises(InvalidResultFileError, match=message):
        load_sae(tmp_path)


def random_sae(model, layer=1, d_sae=32, k=4, seed=0) -> SparseAutoencoder:
    """A TopK SAE with random unit decoder rows and a tied encoder (for checks that need any SAE)."""
    rng = np.random.default_rng(seed)
    W_dec = rng.normal(size=(d_sae, model.d_model)).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    from interp.layers import layer_hook_name

    return SparseAutoencoder(W_dec.T.copy(), np.zeros(d_sae), W_dec, np.zeros(model.d_model), architecture="topk",
                             k=k, hook_name=layer_hook_name(layer), layer=layer)


def test_ce_recovered_equals_a_hand_spliced_forward(tiny_models):
    model = tiny_models["tiny-gpt2"]
    sae = random_sae(model)
    texts = TEXTS[:3]
    result = evaluate_sae(model, sae, texts, progress=False)
    ce = {}
    for mode in ("clean", "spliced", "zero"):
        def hook(x, hook, mode=mode):
            y = x.clone()
            if mode == "spliced":
                y[0, 1:] = sae(x[0, 1:].float()).to(x.dtype)
            elif mode == "zero":
                y[0, 1:] = 0
            return y
        total, n = 0.0, 0
        for text in texts:
            ids = model.encode(text)
            with model.hooks([(sae.hook_name, hook)]):
                logits = model.logits(text).float()
            lp = torch.log_softmax(logits[:-1], -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
            total, n = total + float(-lp[1:].sum()), n + len(ids) - 2
        ce[mode] = total / n
    assert result.ce_clean == pytest.approx(ce["clean"], rel=1e-5)
    assert result.ce_spliced == pytest.approx(ce["spliced"], rel=1e-5)
    assert result.ce_zero == pytest.approx(ce["zero"], rel=1e-5)
    expected = (ce["zero"] - ce["spliced"]) / (ce["zero"] - ce["clean"])
    assert result.metrics["ce_loss_recovered"]["estimate"] == pytest.approx(expected, rel=1e-4)
    assert result.metrics["l0"]["estimate"] <= 4
    low, high = result.metrics["explained_variance"]["low"], result.metrics["explained_variance"]["high"]
    assert low <= result.metrics["explained_variance"]["estimate"] <= high


def token_sae(model, words=(" cat", " dog"), extra=6) -> SparseAutoencoder:
    """At layer 0 of tiny-llama the residual stream is the token embedding: latent i fires only on words[i]."""
    W_E = model.bridge.W_E.detach().float().numpy()
    d = model.d_model
    rows, biases = [], []
    for word in words:
        (tid,) = model.tokenizer(word, add_special_tokens=False)["input_ids"]
        e = W_E[tid]
        rows.append(e / np.linalg.norm(e))
        biases.append(-0.9 * np.linalg.norm(e))
    rng = np.random.default_rng(0)
    for _ in range(extra):  # latents that never fire
        r = rng.normal(size=d)
        rows.append(r / np.linalg.norm(r))
        biases.append(-1e3)
    W = np.asarray(rows, dtype=np.float32)
    return SparseAutoencoder(W.T.copy(), np.asarray(biases, np.float32), W, np.zeros(d, np.float32),
                             architecture="standard", hook_name="blocks.0.hook_resid_pre", layer=0,
                             apply_b_dec_to_input=False)


def test_dashboard_of_a_planted_feature(tiny_models):
    model = tiny_models["tiny-llama"]
    sae = token_sae(model)
    dash = feature_dashboard(model, sae, 0, TEXTS, top_n=20, context=2)
    assert isinstance(dash, FeatureDashboard)
    assert dash.n_fires == sum(model.to_str_tokens(t).count(" cat") for t in TEXTS) == 5
    assert {c["tokens"][c["focus"]] for c in dash.contexts} == {" cat"}
    assert all(c["activations"][c["focus"]] == c["activation"] > 0 for c in dash.contexts)
    W_U = model.bridge.W_U.detach().float().numpy()
    effect = sae.W_dec[0].numpy() @ W_U
    assert dash.promoted[0] == model.ids_to_str([int(np.argmax(effect))])[0]
    assert dash.promoted_logits[0] == pytest.approx(effect.max(), rel=1e-4)
    assert dash.histogram_counts.sum() == 5
    store = feature_store(model, sae, TEXTS, progress=False)
    assert store.top_tokens(1) == [" dog"] and store.features_on_token("cat")[0][0] == 0
    assert feature_dashboard(model, sae, 0, store=store, top_n=20, context=2) == dash
    never = feature_dashboard(model, sae, 3, store=store)
    assert never.n_fires == 0 and never.caveats()


def test_labels_of_planted_features(tiny_models):
    model = tiny_models["tiny-llama"]
    sae = token_sae(model)
    annotations = []
    for text in TEXTS:
        words = text.replace(";", " ;").replace(".", " .").split()
        annotations.append({"text": text, "words": words,
                            "labels": [["animal", "feline"] if w == "cat" else ["animal"] if w == "dog" else []
                                       for w in words]})
    result = label_features(model, sae, annotations, top_n=10, min_fires=1, progress=False)
    frame = result.to_frame().set_index("feature")
    assert list(result.features) == [0, 1]  # five cats, two dogs; the others never fire
    assert frame.loc[0, "precision"] == 1.0 and frame.loc[0, "recall"] == 1.0
    assert frame.loc[0, "label"] == "feline"  # the same precision as "animal" (1.0), the higher recall (5/5 > 5/7)
    assert frame.loc[1, "label"] == "animal" and frame.loc[1, "recall"] == pytest.approx(2 / 7)
    assert result.share_labelled == 1.0 and result.labelled.all()


def test_attribution_is_checked_by_ablation(tiny_models):
    model = tiny_models["tiny-neox"]
    sae = random_sae(model, layer=1, d_sae=24, k=6)
    result = feature_attribution(model, sae, "The quick brown fox jumps", " over", top_k=6, verify=4)
    assert len(result.features) == 6 and np.isfinite(result.ablation_effect[:4]).all()
    assert np.isnan(result.ablation_effect[4:]).all()
    # activation x gradient of a feature that never fires is 0
    z = sae.encode(model.run_with_cache("The quick brown fox jumps", [sae.hook_name])[sae.hook_name][0, 1:].float())
    silent = set(np.nonzero((z > 0).sum(0).numpy() == 0)[0].tolist())
    for f, a in zip(result.features, result.attribution):
        if int(f) in silent:
            assert a == 0
    # small features: the linear estimate agrees in sign with the ablation for the largest one
    assert np.sign(-result.attribution[0]) == np.sign(result.ablation_effect[0]) or abs(result.ablation_effect[0]) < 1e-4


def test_steering_at_zero_is_the_plain_generation(tiny_models):
    model = tiny_models["tiny-gpt2"]
    sae = random_sae(model)
    result = steer_with_feature(model, sae, 3, "Hello there", strengths=[0.0, 50.0], max_new_tokens=4)
    assert result.completions[0] == model.generate("Hello there", max_new_tokens=4)
    W_U = model.bridge.W_U.detach().float()
    assert result.promoted_token == model.ids_to_str([int(torch.argmax(sae.W_dec[3] @ W_U))])[0]
    assert result.target_logprob[1] > result.target_logprob[0]  # adding the direction raises its top token


def test_probe_cosines_find_the_planted_direction(tiny_models):
    sae = random_sae(tiny_models["tiny-gpt2"])
    result = probe_feature_cosines(sae, {"planted": sae.W_dec[7].numpy() * 3})
    top = result.to_frame().iloc[0]
    assert (top["feature"], round(top["cosine"], 5)) == (7, 1.0) and not result.caveats()


def test_train_sae_end_to_end_and_resume(tiny_models, tmp_path):
    model = tiny_models["tiny-gpt2"]
    texts = [f"{t} Item {i} is here." for i in range(6) for t in TEXTS]
    calls = []
    run = train_sae(model, texts, layer=1, k=4, width=64, batch_size=128, shard_size=8, out=tmp_path,
                    progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert run.n_tokens == sum(len(model.encode(t)) - 1 for t in texts)  # BOS never a row
    assert ("train", 3, 3) in calls and ("activations", 24, 24) in calls
    assert (tmp_path / "sae" / "cfg.json").is_file() and (tmp_path / "trainer" / "state.json").is_file()
    assert load_sae(run.sae_dir).k == 4 and run.sae.hook_name == "blocks.0.hook_resid_post"
    again = train_sae(model, texts, layer=1, k=4, width=64, batch_size=128, shard_size=8, out=tmp_path, progress=False)
    assert again.train_seconds == run.train_seconds and again == run  # every shard was reused, nothing retrained
    torch.testing.assert_close(again.sae.W_enc, run.sae.W_enc)
    assert interp.load_result(tmp_path / "result.json") == run


@pytest.mark.slow
def test_default_corpus_is_split_and_stated():
    from interp.features import corpus_info

    train, held = default_texts(), default_texts(split="heldout")
    assert not set(train) & set(held) and 0.02 < len(held) / (len(train) + len(held)) < 0.08
    info = {row["source"]: row for row in corpus_info()}
    assert set(info) == {"conversation", "statements", "stories", "docs"} and all(r["characters"] > 0 for r in info.values())
    assert default_texts(max_texts=5) == train[:5]


def test_read_texts(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "One."}\n"Two."\n\n')
    assert read_texts(tmp_path / "a.jsonl") == ["One.", "Two."]
    (tmp_path / "b.txt").write_text("First para. Still first.\n\nSecond para.")
    assert read_texts(tmp_path / "b.txt") == ["First para. Still first.", "Second para."]
    (tmp_path / "c.jsonl").write_text("{bad\n")
    from interp.errors import InvalidTextFileError

    with pytest.raises(InvalidTextFileError, match="line 1, is not JSON"):
        read_texts(tmp_path / "c.jsonl")


def test_bad_inputs_raise_named_errors(tiny_models):
    model = tiny_models["tiny-gpt2"]
    sae = random_sae(model)
    with pytest.raises(InvalidParameterError, match="The 'kind' parameter of train_sae must be one of"):
        train_sae(model, TEXTS, layer=1, kind="gated")
    with pytest.raises(LayerIndexError):
        train_sae(model, TEXTS, layer=9)
    with pytest.raises(EmptyPromptError):
        train_sae(model, [], layer=1)
    with pytest.raises(InvalidParameterError, match=r"'feature' parameter of feature_dashboard must be an int in \[0, 32\)"):
        feature_dashboard(model, sae, 32, TEXTS)
    with pytest.raises(InvalidParameterError, match="exactly one of 'texts'"):
        feature_dashboard(model, sae, 0)
    with pytest.raises(InvalidParameterError, match="d_model=64"):
        evaluate_sae(model, SparseAutoencoder(np.zeros((8, 4)), np.zeros(4), np.zeros((4, 8)), np.zeros(8), k=2,
                                              hook_name="blocks.0.hook_resid_post"), TEXTS)
    with pytest.raises(InvalidParameterError, match="must be a SparseAutoencoder"):
        evaluate_sae(model, "sae", TEXTS)
    with pytest.raises(InvalidParameterError, match="'k' parameter of SparseAutoencoder"):
        SparseAutoencoder(np.zeros((8, 4)), np.zeros(4), np.zeros((4, 8)), np.zeros(8), k=9)
    with pytest.raises(InvalidParameterError, match="'strengths' parameter"):
        steer_with_feature(model, sae, 0, "Hi", strengths=[])
    with pytest.raises(InvalidParameterError, match="must be a non-zero"):
        probe_feature_cosines(sae, {"p": np.zeros(3)})
    with pytest.raises(InvalidParameterError, match="The 'annotations' parameter of label_features must be a non-empty "
                                                    "list, each a dict with 'text', 'words' and 'labels' or None"):
        label_features(model, sae, [])
    with pytest.raises(InvalidParameterError, match=r"The 'min_precision' parameter of label_features must be a float "
                                                    r"in \(0, 1\]\. Got 0 instead"):
        label_features(model, sae, min_precision=0)
    with pytest.raises(InvalidParameterError, match=r"The 'top_k' parameter of probe_feature_cosines must be an int in "
                                                    r"\[1, 33\)\. Got 33 instead"):
        probe_feature_cosines(sae, {"p": np.ones(sae.d_in)}, top_k=33)
    with pytest.raises(InvalidParameterError, match="The 'verify' parameter of feature_attribution must be an int in"):
        feature_attribution(model, sae, "The cat sat", " mat", top_k=2, verify=3)  # more than top_k: the body's check


@pytest.mark.parametrize("args, message", [
    (["train", "--out", "{tmp}", "--kind", "gated"], "The '--kind' parameter of interp sae train must be one of 'topk' "
                                                     "or 'standard'. Got 'gated' instead."),
    (["train", "--out", "{tmp}", "--k", "0"], "The '--k' parameter of interp sae train must be an int >= 1. Got 0"),
    (["train", "--out", "{tmp}", "--l1", "-1"], "The '--l1' parameter of interp sae train must be a float >= 0. Got -1"),
    (["train", "--out", "{tmp}", "--batch-size", "0"], "The '--batch-size' parameter of interp sae train must be an "
                                                       "int >= 1. Got 0"),
    (["train", "--out", "{tmp}", "--max-texts", "0"], "The '--max-texts' parameter of interp sae train must be an int "
                                                      ">= 1. Got 0"),
    (["eval", "{tmp}", "--max-texts", "0"], "The '--max-texts' parameter of interp sae eval must be an int >= 1 or "
                                            "None. Got 0 instead."),
    (["show", "{tmp}", "--", "-3"], "The 'FEATURE' parameter of interp sae show must be an int >= 0. Got -3 instead."),
    (["show", "{sae}", "32"], "The 'FEATURE' parameter of interp sae show must be an int in [0, 32). Got 32 instead."),
    (["show", "{sae}", "1", "--top", "0"], "The '--top' parameter of interp sae show must be an int >= 1. Got 0"),
])
def test_cli_bad_options_fail_before_the_model_loads(tiny_models, monkeypatch, tmp_path, args, message):
    """The commands check their options against the functions' tables (interp._params.check_args) first."""
    from typer.testing import CliRunner

    import interp.models.loading as loading
    from interp.cli import app

    random_sae(tiny_models["tiny-gpt2"]).save(tmp_path / "sae")
    loaded: list = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    args = [a.format(tmp=tmp_path / "out", sae=tmp_path / "sae") for a in args]
    out = CliRunner().invoke(app, ["sae", args[0], "--model", "no-such-model", *args[1:]])
    assert out.exit_code == 1 and "InvalidParameterError" in out.output, out.output
    assert message in " ".join(out.output.split()), out.output
    assert loaded == []


def test_cli_train_eval_show(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(f"{t} Number {i}." for i in range(4) for t in TEXTS))
    runner = CliRunner()
    run = runner.invoke(app, ["sae", "train", "-m", "tiny-gpt2", "--layer", "1", "--texts", str(text), "--width", "32",
                              "--k", "4", "--batch-size", "64", "--out", str(tmp_path / "run")])
    assert run.exit_code == 0, run.output
    assert "TopK (k=4) SAE, 32 latents, on layer 1 of tiny-gpt2" in run.output
    saved = interp.load_result(tmp_path / "run" / "result.json")
    ev = runner.invoke(app, ["sae", "eval", str(tmp_path / "run" / "sae"), "-m", "tiny-gpt2", "--texts", str(text),
                             "-n", "4", "--json"])
    assert ev.exit_code == 0, ev.output
    result = interp.Result.from_json(ev.output)
    assert result.n_texts == 4 and result.d_sae == saved.d_sae == 32
    show = runner.invoke(app, ["sae", "show", str(tmp_path / "run" / "sae"), "99", "-m", "tiny-gpt2", "--texts",
                               str(text)])
    assert show.exit_code == 1 and "must be an int in [0, 32)" in show.output
    missing = runner.invoke(app, ["sae", "eval", str(tmp_path / "nothing"), "-m", "tiny-gpt2"])
    assert missing.exit_code == 1 and "is not an SAE folder" in missing.output


@pytest.mark.slow
def test_default_model_short_training_beats_zero_ablation(default_model, tmp_path):
    """A short run on the default model's middle layer: the spliced SAE keeps the loss far below zero-ablation."""
    model = default_model
    sources = ("conversation", "statements")
    run = train_sae(model, default_texts(max_texts=60, sources=sources), model.n_layers // 2, k=32, width=1024,
                    batch_size=256, out=tmp_path, progress=False)
    assert run.n_tokens > 2000 and run.sae.hook_name == f"blocks.{model.n_layers // 2 - 1}.hook_resid_post"
    ev = evaluate_sae(model, load_sae(tmp_path / "sae"), default_texts(split="heldout", max_texts=8, sources=sources),
                      progress=False)
    assert ev.ce_clean < ev.ce_spliced < ev.ce_zero
    assert ev.metrics["ce_loss_recovered"]["low"] > 0 and ev.metrics["explained_variance"]["low"] > 0
    assert ev.metrics["l0"]["estimate"] == pytest.approx(32, abs=0.5)


def test_batch_task_equals_train_sae(tiny_models, tmp_path):
    """``interp run`` with task "sae" harvests the activations as a batch run and trains the same SAE as train_sae
    with one shard."""
    from interp.batch import run_spec

    model = tiny_models["tiny-gpt2"]
    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(f"{t} Number {i}." for i in range(3) for t in TEXTS))
    spec = {"task": "sae", "models": ["tiny-gpt2"], "data": {"file": str(text), "max_texts": 10},
            "probe": {"layers": [1], "k": 4, "width": 32, "batch_size": 64}}
    (got,) = run_spec(spec, out=tmp_path / "run", progress=False).results()
    expected = train_sae(model, read_texts(text)[:10], 1, k=4, width=32, batch_size=64, shard_size=10_000,
                         progress=False)
    assert got.n_tokens == expected.n_tokens
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected.sae, name).numpy())
    assert got.explained_variance == pytest.approx(expected.explained_variance)
    x = np.random.default_rng(0).normal(size=(3, 64)).astype(np.float32)
    torch.testing.assert_close(got.sae()(x), expected.sae(x))
