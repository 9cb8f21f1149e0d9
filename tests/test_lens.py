"""Lenses (interp.lens): the logit lens against Hugging Face's own hidden states and head, the final layer
against the model's logits, the linear lens's least squares against scikit-learn's ridge, and the linear
lens closer to the final distribution than the logit lens on held-out text (held out by template family), with
intervals over texts and a paired comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp
from interp.errors import InvalidParameterError, InvalidProbeFileError, NotFittedError
from interp.layers import layer_hook_name
from interp.lens import (
    LinearLens,
    fit_linear_lens,
    lens_divergence,
    lens_logits,
    lens_texts,
    linear_lens,
    load_linear_lens,
    logit_lens,
)

PROMPT = "The capital of France is"
FIT_TEXTS = 60


@pytest.fixture(scope="session")  # not "module": the tiny_model groups revisit this module, which rebuilt it
def lenses(tiny_models):
    """A small linear lens per tiny model, fitted once (not saved)."""
    texts = lens_texts("fit", max_texts=FIT_TEXTS)
    return {name: fit_linear_lens(model, texts, save=False, progress=False) for name, model in tiny_models.items()}


def _hf_final_norm(hf):
    for path in ("transformer.ln_f", "model.norm", "gpt_neox.final_layer_norm"):
        module = hf
        try:
            for part in path.split("."):
                module = getattr(module, part)
        except AttributeError:
            continue
        return module
    raise AssertionError(f"no final norm found on {type(hf).__name__}")


def test_final_layer_equals_the_models_logits(tiny_model, lenses):
    expected = tiny_model.logits(PROMPT)  # (pos, d_vocab)
    got = lens_logits(tiny_model, PROMPT, tiny_model.n_layers)
    assert (got - expected).abs().max().item() < 1e-4
    lens = lenses[tiny_model.name]
    assert (lens_logits(tiny_model, PROMPT, -1, translate=lens.translate) - expected).abs().max().item() < 1e-4
    for result in (logit_lens(tiny_model, PROMPT, top_k=3), linear_lens(tiny_model, PROMPT, lens=lens, top_k=3)):
        assert result.layers[-1] == tiny_model.n_layers
        top = torch.topk(torch.softmax(expected.double(), -1), 3)
        np.testing.assert_array_equal(result.top_ids[-1], top.indices.numpy())
        np.testing.assert_allclose(result.top_probs[-1], top.values.numpy(), atol=1e-6)
        np.testing.assert_allclose(result.kl[-1], 0, atol=1e-6)


def test_logit_lens_equals_hugging_faces_hidden_states_through_its_head(tiny_model):
    """Reference: the wrapped HF model's hidden_states[l] (the input of block l) through its final norm and lm_head."""
    hf = tiny_model.bridge.original_model
    ids = torch.tensor([tiny_model.encode(PROMPT)])
    with torch.inference_mode():
        hidden = hf(ids, output_hidden_states=True).hidden_states  # n_layers + 1; the last one is already normed
        norm, head = _hf_final_norm(hf), hf.get_output_embeddings()
        reference = [head(norm(hidden[layer]))[0].float() for layer in range(tiny_model.n_layers)]
    target = tiny_model.encode(" Paris", prepend_bos=False)[0]
    result = logit_lens(tiny_model, PROMPT, target=target, top_k=4)
    for layer in range(tiny_model.n_layers):
        np.testing.assert_allclose(lens_logits(tiny_model, PROMPT, layer).numpy(), reference[layer].numpy(), atol=1e-4)
        probs = torch.softmax(reference[layer].double(), -1)
        np.testing.assert_array_equal(result.top_ids[layer], torch.topk(probs, 4).indices.numpy())
        np.testing.assert_allclose(result.target_prob[layer], probs[:, target].numpy(), rtol=1e-4)
        rank = (reference[layer] > reference[layer][:, target:target + 1]).sum(-1) + 1
        np.testing.assert_array_equal(result.target_rank[layer], rank.numpy())
        entropy = -(probs * probs.log()).sum(-1)
        np.testing.assert_allclose(result.entropy[layer], entropy.numpy(), rtol=1e-4)


def test_kl_and_entropy_match_scipy(tiny_models):
    from scipy.special import rel_entr
    from scipy.stats import entropy

    model = tiny_models["tiny-gpt2"]
    result = logit_lens(model, PROMPT, layers=[0])
    p = torch.softmax(model.logits(PROMPT).double(), -1).numpy()
    q = torch.softmax(lens_logits(model, PROMPT, 0).double(), -1).numpy()
    np.testing.assert_allclose(result.kl[0], rel_entr(p, q).sum(-1), rtol=1e-4)
    np.testing.assert_allclose(result.entropy[0], entropy(q, axis=-1), rtol=1e-4)


def _rows(model, texts, layer):
    """Residual rows of ``texts`` at ``layer`` and at the final layer, first positions left out (as the fit does)."""
    names = [layer_hook_name(layer), layer_hook_name(model.n_layers)]
    cache = model.run_with_cache(texts, names)
    mask = cache.batch.attention_mask.bool().clone()
    mask[:, 0] = False  # right padding: position 0 is every text's first
    return cache[names[0]][mask].double().numpy(), cache[names[1]][mask].double().numpy()


def test_linear_lens_is_ridge_on_standardised_features_shrunk_toward_the_identity(tiny_models):
    """Reference: scikit-learn's Ridge fitting the update h_L - h_l on standardised h_l."""
    from sklearn.linear_model import Ridge

    model = tiny_models["tiny-llama"]
    texts = lens_texts("fit", max_texts=40, seed=1)
    lens = LinearLens(ridges=(0.1,)).fit(model, texts, progress=False)
    for layer in range(model.n_layers):
        x, y = _rows(model, texts, layer)
        std = x.std(0)
        ridge = Ridge(alpha=0.1 * len(x), fit_intercept=True).fit(x / std, y - x)
        delta = ridge.coef_.T / std[:, None]  # (d_in, d_out)
        np.testing.assert_allclose(lens.weight_[layer].double().numpy() - np.eye(model.d_model), delta, atol=2e-3)
        np.testing.assert_allclose(lens.bias_[layer].double().numpy(), ridge.intercept_, atol=2e-3)
    assert lens.n_tokens_ == len(x)


def test_identity_ridge_is_the_logit_lens(tiny_models):
    model = tiny_models["tiny-neox"]
    lens = LinearLens(ridges=(float("inf"),)).fit(model, lens_texts("fit", max_texts=20), progress=False)
    a, b = logit_lens(model, PROMPT, target=" Paris"), linear_lens(model, PROMPT, lens=lens, target=" Paris")
    np.testing.assert_array_equal(a.top_ids, b.top_ids)
    np.testing.assert_allclose(a.kl, b.kl, atol=1e-6)
    np.testing.assert_array_equal(a.target_rank, b.target_rank)


def test_linear_lens_is_closer_to_the_final_distribution_on_held_out_text(tiny_model, lenses):
    held = lens_texts("heldout", max_texts=40)
    assert not set(held) & set(lens_texts("fit"))
    result = lens_divergence(tiny_model, held, lens=lenses[tiny_model.name], max_tokens=150, progress=False)
    logit, linear = result.kl
    assert np.all(linear <= logit + 1e-9), result.to_frame()
    assert linear[:-1].mean() < logit[:-1].mean()
    assert logit[-1] == 0 and linear[-1] == 0
    # intervals over texts, and the paired comparison of the mean KL over layers 0..n-1 on the same texts
    assert np.all(result.kl_low[:, :-1] <= result.kl[:, :-1]) and np.all(result.kl[:, :-1] <= result.kl_high[:, :-1])
    assert np.all(result.kl_high[:, :-1] > result.kl_low[:, :-1])
    difference = result.comparison["difference"]
    assert difference["estimate"] == pytest.approx(logit[:-1].mean() - linear[:-1].mean(), rel=1e-9)
    assert difference["n"] == result.n_texts and difference["method"] == "bootstrap"
    assert result.comparison["name_a"] == "logit" and "linear" in result.summary()
    frame = result.to_frame()
    assert {"kl_low", "kl_high", "top1_agreement_low", "top1_agreement_high"} <= set(frame.columns)


def test_interval_is_over_texts_not_tokens(tiny_models):
    """A text and its tokens are one sampled unit: one text measured alone has no interval (one unit), however
    many tokens it has; a per-token standard error would have given a narrow one."""
    model = tiny_models["tiny-gpt2"]
    long = " ".join(lens_texts("heldout", max_texts=12))
    result = lens_divergence(model, long, max_tokens=100, progress=False)
    assert result.n_texts == 1 and result.n_tokens >= 50
    assert np.all(np.isnan(result.kl_low)) and np.all(np.isnan(result.kl_high))


def test_lens_texts_split_by_template_family():
    """Held out by template family, not by text: the truth sets' templates and the grammar's tag sequences are on
    one side only (a hash of each text put sentences of one template on both sides: a nearly in-distribution
    "held-out" KL)."""
    from interp.lens.linear import HELDOUT_FAMILIES, heldout_family, lens_corpus

    corpus = lens_corpus()
    fit, held, everything = lens_texts("fit"), lens_texts("heldout"), lens_texts("all")
    assert sorted(fit + held) == sorted(everything) == sorted(t for t, _ in corpus) and not set(fit) & set(held)
    family = dict(corpus)
    fit_families, held_families = {family[t] for t in fit}, {family[t] for t in held}
    assert not fit_families & held_families
    assert set(HELDOUT_FAMILIES) <= held_families and all(heldout_family(f) for f in HELDOUT_FAMILIES)
    assert {"truth:capitals", "truth:cities", "truth:sums"} <= fit_families
    assert any(f.startswith("pos:") for f in fit_families) and any(f.startswith("pos:") for f in held_families)
    assert family["The city of Nampula is in Mozambique."] == family["The city of Wenchang is not in Ethiopia."]
    assert 0.2 < len(held) / len(everything) < 0.35
    assert lens_texts("fit", max_texts=5, seed=3) == lens_texts("fit", max_texts=5, seed=3)
    # the docs' example fact is in no lens text; the old one is a fit text
    assert not [t for t in everything if "Eiffel" in t]
    assert "The capital of France is Paris." in fit


def test_external_prose_is_not_interps_text():
    from interp.lens import external_prose

    prose = external_prose()
    assert len(prose) >= 100 and not set(prose) & set(lens_texts("all"))
    assert all(40 <= len(t) <= 300 for t in prose)


def test_save_load_and_the_fingerprint_check(tiny_models, lenses, tmp_path):
    model, other = tiny_models["tiny-gpt2"], tiny_models["tiny-llama"]
    lens = lenses["tiny-gpt2"]
    path = lens.save(tmp_path / "lens.safetensors")
    loaded = load_linear_lens(model, path)
    assert torch.equal(loaded.weight_, lens.weight_) and torch.equal(loaded.bias_, lens.bias_)
    assert loaded.ridge_ == lens.ridge_ and loaded.info() | {"path": None} == lens.info() | {"path": None}
    np.testing.assert_array_equal(linear_lens(model, PROMPT, lens=path).kl, linear_lens(model, PROMPT, lens=lens).kl)
    with pytest.raises(InvalidParameterError, match="was fitted for tiny-gpt2"):
        linear_lens(other, PROMPT, lens=lens)
    with pytest.raises(NotFittedError, match="fit_linear_lens"):
        load_linear_lens(model, tmp_path / "none.safetensors")
    with pytest.raises(NotFittedError, match="not fitted"):
        LinearLens().translate(0, torch.zeros(1, model.d_model))
    (tmp_path / "bad.safetensors").write_bytes(b"not a lens")
    with pytest.raises(InvalidProbeFileError, match="is not a saved linear lens"):
        LinearLens.load(tmp_path / "bad.safetensors")


def test_default_path_round_trip(tiny_models, tmp_path, monkeypatch):
    from interp.lens import default_lens_path, lens_status

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    model = tiny_models["tiny-neox"]
    assert not lens_status(model).fitted
    with pytest.raises(NotFittedError, match="interp lens-fit"):
        linear_lens(model, PROMPT)
    seen = []
    fit_linear_lens(model, max_texts=20, progress=lambda *a: seen.append(a))
    assert default_lens_path(model).is_file() and str(default_lens_path(model)).startswith(str(tmp_path))
    assert lens_status(model).fitted and seen[0] == ("forward passes", 0, 20) and seen[-1][0] == "solve"
    assert linear_lens(model, PROMPT).lens == "linear"


def test_bad_inputs(tiny_models):
    model = tiny_models["tiny-gpt2"]
    with pytest.raises(interp.errors.LayerIndexError, match=r"must be an int in \[0, 3\)"):
        logit_lens(model, PROMPT, layers=[5])
    with pytest.raises(InvalidParameterError, match="'top_k' parameter of logit_lens"):
        logit_lens(model, PROMPT, top_k=0)
    with pytest.raises(interp.errors.EmptyPromptError, match="'target' parameter of logit_lens tokenizes to no"):
        logit_lens(model, PROMPT, target="")
    with pytest.raises(InvalidParameterError, match="at least 10 texts"):
        LinearLens().fit(model, ["a b c"] * 3, progress=False)


def test_cli_lens_and_lens_fit(tiny_models, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from interp.cli import app

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    runner = CliRunner()
    shown = runner.invoke(app, ["lens", PROMPT, "--target", " Paris", "--model", "tiny-gpt2"])
    assert shown.exit_code == 0, shown.output
    assert "Logit lens of tiny-gpt2" in shown.output and "rank ' Paris'" in shown.output
    fitted = runner.invoke(app, ["lens-fit", "--model", "tiny-gpt2", "--max-texts", "20", "--eval-tokens", "60"])
    assert fitted.exit_code == 0 and "fitted the linear lens of tiny-gpt2" in fitted.output, fitted.output
    headline = " ".join(fitted.output.split("fitted the linear lens")[0].split())  # first: KL on prose not ours
    assert "prose interp did not write" in headline and "logit" in headline and "difference" in headline
    linear = runner.invoke(app, ["lens", PROMPT, "--kind", "linear", "--model", "tiny-gpt2", "--json"])
    assert linear.exit_code == 0
    result = interp.Result.from_json(linear.output)
    assert result.lens == "linear" and result.lens_info["n_texts"] == 20


def test_explorer_tab(tiny_models, tmp_path, monkeypatch):
    """The Lens tab of the real explorer (apps/explorer.py -> Inside the model), as Streamlit runs it: no folder
    is put on sys.path by hand, so a page importing a part Streamlit cannot find fails here. The logit lens,
    then the linear lens once one is fitted."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    monkeypatch.setenv("INTERP_MODEL", "tiny-gpt2")
    explorer = Path(__file__).resolve().parents[1] / "apps" / "explorer.py"
    at = AppTest.from_file(str(explorer), default_timeout=120).run()
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception, at.exception
    assert not [i.value for i in at.info if "not available" in i.value]
    assert at.tabs[0].label == "Lens"
    lens = at.tabs[0]
    lens.button[0].click().run()  # "Read the lens"
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Logit lens of tiny-gpt2" in c.value for c in at.caption)
    at.radio(key="inside_lens_kind").set_value("Linear lens")
    at.tabs[0].button[0].click().run()
    assert any("No linear lens is fitted" in i.value for i in at.info)
    fit_linear_lens(tiny_models["tiny-gpt2"], max_texts=20, progress=False)
    at.tabs[0].button[0].click().run()
    assert not at.exception, at.exception
    assert any("Linear lens of tiny-gpt2" in c.value for c in at.caption)


@pytest.mark.slow
def test_default_model_lens(default_model):
    """Known answers on the default model, on a fact outside the lens's fit texts (no shipped lens text mentions the
    Eiffel Tower): the final layer is the model's output and its top token the model's; a linear lens fitted on
    200 shipped texts is closer than the logit lens on held-out templates. Measured ranks and KLs, with their
    intervals, are figures: benchmarks/bench_lens.py."""
    model = default_model
    prompt = "The Eiffel Tower is located in the city of"
    assert not [t for t in lens_texts("all") if "Eiffel" in t]
    assert (lens_logits(model, prompt, model.n_layers) - model.logits(prompt)).abs().max().item() < 1e-4
    result = logit_lens(model, prompt, target=" Paris")
    assert result.top_ids[-1, -1, 0] == int(model.logits(prompt, last_only=True).argmax())
    lens = fit_linear_lens(model, max_texts=200, save=False, progress=False)
    divergence = lens_divergence(model, lens_texts("heldout", max_texts=40), lens=lens, max_tokens=40, progress=False)
    logit, linear = divergence.kl
    assert linear[:-1].mean() < logit[:-1].mean()


def test_every_figure_has_a_title_and_axis_titles(tiny_models, lenses):
    model = tiny_models["tiny-gpt2"]
    results = [logit_lens(model, PROMPT, target=" Paris"),
               lens_divergence(model, lens_texts("heldout", max_texts=8), lens=lenses["tiny-gpt2"], max_tokens=30,
                               progress=False)]
    for result in results:
        for fig in result.figures():
            assert fig.layout.title.text, type(result).__name__
            used = {a for t in fig.data for a in ("x" + (t.xaxis or "x")[1:], "y" + (t.yaxis or "y")[1:])}
            for name in used:
                axis = fig.layout[name[0] + "axis" + name[1:]]
                assert axis.title.text, (type(result).__name__, name)
