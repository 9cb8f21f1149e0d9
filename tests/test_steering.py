"""interp.steering: vectors from contrast pairs, hooks, steer, the sweep, shipped concepts, llama.cpp control vectors.

Known answers on the tiny random models: the mean difference against a hand computation from run_with_cache,
the PCA axis and its sign, the residual moved by exactly strength * direction at the hooked layer, a zero
vector changing nothing bit for bit, the GGUF round trip bit for bit with llama.cpp's layer numbering, the
sweep at strength 0 (KL 0, the unsteered rate), and agreement with interp.truth.steer_truth.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from interp.errors import InvalidParameterError, InvalidProbeFileError
from interp.layers import layer_hook_name
from interp.steering import (
    SteeringVector,
    concept,
    directions_from_activations,
    export_control_vector,
    load_control_vector,
    scorer_accuracy,
    steer,
    steering_hooks,
    steering_sweep,
    steering_vector,
)

POS = ["Il fait beau aujourd'hui.", "Le chat dort sur le lit.", "Je suis très content.", "Nous allons au marché."]
NEG = ["It is sunny today.", "The cat sleeps on the bed.", "I am very glad.", "We are going to the market."]


@pytest.fixture(scope="module")
def gpt2(tiny_models):
    return tiny_models["tiny-gpt2"]


@pytest.fixture(scope="module")
def llama(tiny_models):
    return tiny_models["tiny-llama"]


def _last(model, texts, layer):
    """(n, d_model) float64 residual at each text's last token, by hand from run_with_cache (one text at a time)."""
    return _last_all(model, texts, [layer])[layer]


def _last_all(model, texts, layers):
    names = [layer_hook_name(layer) for layer in layers]
    rows = {layer: [] for layer in layers}
    for text in texts:
        cache = model.run_with_cache(text, names)
        for layer, name in zip(layers, names):
            rows[layer].append(cache[name][0, -1].double().numpy())
    return {layer: np.stack(r) for layer, r in rows.items()}


def test_mean_diff_equals_a_hand_computation(tiny_model):
    vector = steering_vector(tiny_model, POS, NEG, layers=[0, 1, 2])
    assert vector.layers == [0, 1, 2] and vector.directions.dtype == np.float32
    pos, neg = _last_all(tiny_model, POS, [0, 1, 2]), _last_all(tiny_model, NEG, [0, 1, 2])
    for layer in (0, 1, 2):
        expected = pos[layer].mean(0) - neg[layer].mean(0)
        np.testing.assert_allclose(vector.direction(layer), expected, rtol=1e-5, atol=1e-6)
    assert vector.n_pairs == 4 and len(vector.pairs_ordered) == 3


def test_pca_axis_and_sign_on_a_known_geometry():
    rng = np.random.default_rng(0)
    axis = np.zeros(8)
    axis[3] = 1.0
    spread = rng.normal(size=(40, 1)) * 5.0 + 2.0  # pair differences vary most along axis 3, mean +2 along it
    neg = rng.normal(size=(40, 8)) * 0.01
    pos = neg + spread * axis + rng.normal(size=(40, 8)) * 0.01
    d = directions_from_activations(pos, neg, method="pca")
    unit = d / np.linalg.norm(d)
    assert abs(unit @ axis) > 0.999
    assert ((pos - neg) @ d).mean() > 0  # positives project higher
    d_swapped = directions_from_activations(neg, pos, method="pca")
    np.testing.assert_allclose(d_swapped, -d, atol=1e-9)  # swapping the sides flips the sign, not the axis
    # the scale: the mean pair difference along the axis
    assert np.isclose(d @ unit, ((pos - neg) @ unit).mean())


def test_pca_on_a_model_is_the_top_component_of_pair_differences(llama):
    vector = steering_vector(llama, POS, NEG, layers=[2], method="pca")
    diffs = _last(llama, POS, 2) - _last(llama, NEG, 2)
    _, _, vt = np.linalg.svd(diffs - diffs.mean(0), full_matrices=False)
    d = vector.direction(2).astype(np.float64)
    assert abs(d @ vt[0]) / np.linalg.norm(d) > 0.999
    assert (diffs @ d).mean() > 0


def test_probe_method_along_the_mean_difference_equals_mean_diff(gpt2):
    mean_diff = steering_vector(gpt2, POS, NEG, layers=[1])
    probed = steering_vector(gpt2, POS, NEG, layers=[1], method="probe", probe=mean_diff.direction(1) * 7.0)
    np.testing.assert_allclose(probed.direction(1), mean_diff.direction(1), rtol=1e-5, atol=1e-7)
    flipped = steering_vector(gpt2, POS, NEG, layers=[1], method="probe", probe={1: -mean_diff.direction(1)})
    np.testing.assert_allclose(flipped.direction(1), mean_diff.direction(1), rtol=1e-5, atol=1e-7)  # sign fixed


def test_hook_adds_exactly_strength_times_direction(tiny_model):
    vector = steering_vector(tiny_model, POS, NEG, layers=[1])
    name = layer_hook_name(1)
    seen = {}

    def record(x, hook):
        seen["x"] = x.detach().clone()
        return x

    text = "The quick brown fox"
    with tiny_model.hooks([(name, record)]):
        tiny_model.logits(text)
    clean = seen.pop("x")
    strength = 3.5
    with tiny_model.hooks([*steering_hooks(tiny_model, vector, strength), (name, record)]):
        tiny_model.logits(text)
    add = torch.as_tensor(vector.direction(1), dtype=tiny_model.dtype) * strength
    assert torch.equal(seen["x"], clean + add)  # at every position, bit for bit
    assert torch.allclose(seen["x"] - clean, add.expand_as(clean), atol=1e-5)


def test_a_zero_vector_and_strength_zero_change_nothing(llama):
    vector = steering_vector(llama, POS, NEG, layers=[1, 2])
    zero = SteeringVector(directions=np.zeros_like(vector.directions), layers=vector.layers, method="mean_diff")
    text = "Once upon a time"
    clean = llama.logits(text)
    with llama.hooks(steering_hooks(llama, zero, 5.0)):
        assert torch.equal(llama.logits(text), clean)
    assert steering_hooks(llama, vector, 0.0) == []
    result = steer(llama, text, zero, 5.0, max_new_tokens=4)
    assert result.generations[0][0] == result.generations[0][1] == llama.generate(text, 4, chat=llama.has_chat_template)


def test_steering_changes_generation_and_steer_lays_it_side_by_side(gpt2):
    vector = steering_vector(gpt2, POS, NEG, layers=[1])
    result = steer(gpt2, ["Hello", "The sky"], vector, [-50.0, 50.0], max_new_tokens=3)
    assert list(result.strengths) == [-50.0, 0.0, 50.0]
    side = result.side_by_side()
    assert list(side.columns) == ["prompt", "strength -50", "strength 0", "strength 50"]
    assert side["strength 0"].tolist() == [gpt2.generate(p, 3, chat=result.chat) for p in ["Hello", "The sky"]]
    assert any(g[0] != g[1] or g[2] != g[1] for g in result.generations)


def test_sweep_at_strength_zero_has_kl_zero_and_the_unsteered_rate(gpt2):
    vector = steering_vector(gpt2, POS, NEG, layers=[2])
    prompts = ["Tell me about Paris.", "The weather"]

    def has_e(text):
        return "e" in text

    sweep = steering_sweep(gpt2, vector, prompts, [20.0], scorer=has_e, neutral_texts=["The river runs north.",
                                                                                             "A week has seven days."],
                           max_new_tokens=3, n_resamples=50)
    j0 = list(sweep.strengths).index(0.0)
    assert np.all(sweep.kl[j0] == 0.0)
    unsteered = [has_e(gpt2.generate(p, 3, chat=sweep.chat)) for p in prompts]
    assert sweep.rate[j0] == np.mean(unsteered)
    assert sweep.ppl_ratio[j0] == 1.0
    assert (sweep.kl[1:] > 0).all()
    assert sweep.scorer == "has_e"
    frame = sweep.to_frame()
    assert frame["rate_low"].le(frame["rate"]).all() and frame["rate"].le(frame["rate_high"]).all()
    # the headline is the largest positive strength within the perplexity bound
    ok = [s for s, r in zip(sweep.strengths, sweep.ppl_ratio) if s > 0 and r <= 1.5]
    assert sweep.chosen_strength == (max(ok) if ok else None)


def test_control_vector_round_trip_bit_for_bit_with_llama_cpp_numbering(llama, tmp_path):
    vector = steering_vector(llama, POS, NEG, layers=[2], method="pca", concept="french")
    path = export_control_vector(vector, tmp_path / "french.gguf")
    back = load_control_vector(path)
    assert back == vector.__class__(directions=vector.directions, layers=vector.layers, method="pca", concept="french",
                                    model_name=llama.name, architecture=llama.architecture)
    assert back.directions.tobytes() == vector.directions.tobytes()
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    assert [t.name for t in reader.tensors] == ["direction.1"]  # interp layer 2 = output of block 1
    field = reader.fields["general.architecture"]
    assert bytes(field.parts[field.data[0]]).decode() == "controlvector"
    hint = reader.fields["controlvector.model_hint"]
    assert bytes(hint.parts[hint.data[0]]).decode() == "llama"
    assert int(reader.fields["controlvector.layer_count"].parts[-1][0]) == 1
    assert reader.tensors[0].data.dtype == np.float32


def test_control_vector_refuses_layers_llama_cpp_cannot_steer(llama, tmp_path):
    vector = steering_vector(llama, POS, NEG, layers=[0, 1])
    with pytest.raises(InvalidParameterError, match="only interp layers >= 2 can be exported"):
        export_control_vector(vector, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()


def test_load_control_vector_rejects_other_files(tmp_path):
    from gguf import GGUFWriter

    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"not a gguf at all")
    with pytest.raises(InvalidProbeFileError, match="is not a GGUF file"):
        load_control_vector(not_gguf)
    zero = tmp_path / "zero.gguf"
    writer = GGUFWriter(str(zero), "controlvector")
    writer.add_tensor("direction.0", np.ones(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(InvalidProbeFileError, match="direction.k with k >= 1"):
        load_control_vector(zero)


def test_truth_vector_agrees_with_steer_truth(llama):
    """The truth concept's mean difference is steer_truth's mass-mean vector; added at the same layer and strength
    it gives steer_truth's P(true) (so its effect has steer_truth's sign)."""
    from interp.truth import steer_truth
    from interp.truth.datasets import load_dataset
    from interp.truth.steering import TEMPLATE, _answer_ids
    from interp.truth.sweep import split_pairs

    layer, seed = 1, 0
    reference = steer_truth(llama, "facts", layer=layer, alphas=(-1, 0, 1), max_pairs=12, n_test=6, seed=seed)
    ds = load_dataset("facts").sample(12, seed=seed)
    train = ds.subset(np.flatnonzero(~split_pairs(ds, test_size=0.5, seed=seed)))
    pos = [s for s, y in zip(train.statements, train.labels) if y == 1]
    neg = [s for s, y in zip(train.statements, train.labels) if y == 0]
    vector = steering_vector(llama, pos, neg, layers=[layer], concept="truth")
    prompts = [TEMPLATE.format(statement=s.rstrip()) for s in reference.statements]
    true_ids, false_ids = _answer_ids(llama)
    mine = []
    for i, alpha in enumerate(reference.alphas):
        with llama.hooks(steering_hooks(llama, vector, float(alpha))):
            probs = torch.softmax(llama.logits(prompts, last_only=True).float(), dim=-1)
        p_true = (probs[:, true_ids].sum(-1) / (probs[:, true_ids].sum(-1) + probs[:, false_ids].sum(-1))).numpy()
        np.testing.assert_allclose(p_true, reference.p_true[i], atol=1e-4)
        mine.append(p_true)
    effect_ref, effect = reference.p_true[-1] - reference.p_true[0], mine[-1] - mine[0]
    clear = np.abs(effect_ref) > 1e-3
    assert clear.any() and np.array_equal(np.sign(effect[clear]), np.sign(effect_ref[clear]))


def test_shipped_concepts_and_scorer_accuracy():
    french = concept("french")
    assert len(french.positives) == len(french.negatives) == 24 and french.scorer("Je pense que c'est bien.")
    assert not french.scorer("I think that it is good.")
    a, b = concept("sentiment", seed=1), concept("sentiment", seed=1)
    assert a.positives == b.positives and a.positives != concept("sentiment", seed=2).positives
    assert all(p.split()[:2] == n.split()[:2] for p, n in zip(a.positives, a.negatives))  # only the adjective differs
    truth = concept("truth")
    assert truth.chat is False and all(p.endswith("This statement is") for p in truth.prompts)
    assert not set(truth.prompts) & {f"{s} This statement is" for s in truth.positives + truth.negatives}
    french_acc, sentiment_acc = scorer_accuracy("french"), scorer_accuracy("sentiment")
    assert (french_acc.estimate, french_acc.n) == (1.0, 60)
    assert (sentiment_acc.estimate, sentiment_acc.n) == (0.98, 50)


def test_error_cases(gpt2, llama):
    vector = steering_vector(gpt2, POS, NEG, layers=[1])
    with pytest.raises(InvalidParameterError, match="needs at least 2 pairs"):
        steering_vector(gpt2, POS[:1], NEG[:1], layers=1, method="pca")
    with pytest.raises(InvalidParameterError, match="method='probe' of steering_vector needs 'probe'"):
        steering_vector(gpt2, POS, NEG, layers=1, method="probe")
    with pytest.raises(InvalidParameterError, match="has no direction for layer"):
        steering_vector(gpt2, POS, NEG, layers=[1, 2], method="probe", probe={1: np.ones(gpt2.d_model)})
    with pytest.raises(InvalidParameterError, match="must be among the vector's layers"):
        steering_hooks(gpt2, vector, 1.0, layers=[2])
    with pytest.raises(InvalidParameterError, match="'strength' parameter of steering_hooks must be a finite number"):
        steering_hooks(gpt2, vector, float("inf"))
    other = SteeringVector(directions=np.ones((1, gpt2.d_model + 1)), layers=[1], method="mean_diff")
    with pytest.raises(InvalidParameterError, match="d_model"):
        steer(gpt2, "Hi", other, 1.0)
    with pytest.raises(InvalidParameterError, match="one direction row per layer"):
        SteeringVector(directions=np.ones((2, 4)), layers=[1], method="mean_diff")
    with pytest.raises(InvalidParameterError, match="'strengths' parameter of steering_sweep"):
        steering_sweep(gpt2, vector, ["Hi"], [], scorer="french")
    with pytest.raises(InvalidParameterError, match="'name' parameter of concept must be one of"):
        concept("german")


@pytest.mark.parametrize("text, expected", [
    ("0.5, 1, 2, 4, 8", (0.5, 1.0, 2.0, 4.0, 8.0)),
    ("4", (4.0,)),
    (" -2 ,3,,1e1, ", (-2.0, 3.0, 10.0)),  # blanks and empty parts ignored, order kept
])
def test_parse_strengths_reads_comma_separated_numbers(text, expected):
    from interp.steering import parse_strengths

    assert parse_strengths(text) == expected


@pytest.mark.parametrize("text", ["a, b", "1, two", "", " , ", "1 2", "1..2"])
def test_parse_strengths_names_what_is_allowed(text):
    from interp.steering import parse_strengths

    with pytest.raises(InvalidParameterError, match=r"The '--strengths' parameter of interp steer sweep must be a "
                                                    r"non-empty list of comma-separated numbers, such as 1, 2, 4, 8\. "
                                                    rf"Got {re.escape(repr(text))} instead\."):
        parse_strengths(text, name="--strengths", where="interp steer sweep")
    with pytest.raises(InvalidParameterError, match="The 'text' parameter of parse_strengths must be"):
        parse_strengths([1, 2])


def test_the_command_and_the_page_share_one_strength_parser():
    """interp steer and the Steering page read strengths with interp.steering.parse_strengths, not copies of it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in (root / "interp" / "cli" / "steering.py", root / "apps" / "app_pages" / "steering.py"):
        text = path.read_text(encoding="utf-8")
        assert "parse_strengths" in text and "def parse_strengths" not in text and 'split(",")' not in text, path


@pytest.mark.slow
def test_truth_concept_moves_p_true_the_way_steer_truth_does_on_the_default_model(default_model):
    """On SmolLM2, the truth concept's vector (mass-mean of other cities pairs) added at the middle layer moves the
    mean P(true) of steer_truth's held-out statements in the same direction as steer_truth's own vector does. (At
    this layer that direction is down for +strength: steer_truth's finding, which the test does not presume.)"""
    from interp.truth import steer_truth
    from interp.truth.steering import TEMPLATE, _answer_ids

    layer = default_model.n_layers // 2
    reference = steer_truth(default_model, "cities", layer=layer, alphas=(-2, 2), max_pairs=24, n_test=10)
    effect_ref = float(reference.p_true[1].mean() - reference.p_true[0].mean())
    c = concept("truth", n_pairs=24)
    vector = steering_vector(default_model, c.positives, c.negatives, layers=[layer], concept="truth")
    prompts = [TEMPLATE.format(statement=s.rstrip()) for s in reference.statements]
    true_ids, false_ids = _answer_ids(default_model)
    means = []
    for strength in (-2.0, 2.0):
        with default_model.hooks(steering_hooks(default_model, vector, strength)):
            probs = torch.softmax(default_model.logits(prompts, last_only=True).float(), dim=-1)
        pt, pf = probs[:, true_ids].sum(-1), probs[:, false_ids].sum(-1)
        means.append(float((pt / (pt + pf)).mean()))
    assert abs(effect_ref) > 0.02
    assert np.sign(means[1] - means[0]) == np.sign(effect_ref)
