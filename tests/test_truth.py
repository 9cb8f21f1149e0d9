"""interp.truth: datasets, truth probes, sweeps, the lie detector, steering and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import interp
from interp.errors import InvalidDatasetError, InvalidParameterError, InvalidProbeFileError, NotFittedError
from interp.probing.estimators import LinearProbe, load_probe
from interp.truth.datasets import DATASETS, TruthDataset, load_dataset
from interp.truth.probes import (
    CCSProbe,
    MassMeanProbe,
    PairDiffProbe,
    StandardizedMeanDiffProbe,
    ccs_accuracy,
    ccs_pair_accuracy,
    raw_direction,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes" / "truth"))  # the generator
import generate


# ----------------------------------------------------------------------------- synthetic activations
@pytest.fixture(scope="module")
def planted():
    """Pairs that share a random 'subject' and differ by +-2 along a planted unit direction u."""
    rng = np.random.default_rng(0)
    d, n_pairs = 48, 400
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    subject = rng.normal(size=(n_pairs, d)) * 2.0
    subject -= np.outer(subject @ u, u)  # what a pair shares carries no truth
    subject = np.repeat(subject, 2, axis=0)
    y = np.tile([1, 0], n_pairs)
    X = subject + rng.normal(size=(2 * n_pairs, d)) * 0.5 + np.outer(np.where(y == 1, 2.0, -2.0), u)
    X[:, 0] *= 50.0  # one huge dimension, as the residual stream has
    u_raw = u.copy()
    return X, y, u_raw


def _label_free_pairs(n_pairs: int, seed: int = 0) -> np.ndarray:
    """Rows (2i, 2i+1) as pairs, each in a random order: CCS's sides must not follow the label."""
    pairs = np.arange(2 * n_pairs).reshape(-1, 2)
    swap = np.random.default_rng(seed).random(n_pairs) < 0.5
    return np.where(swap[:, None], pairs[:, ::-1], pairs)


@pytest.mark.parametrize("probe", [LinearProbe(C=10.0, max_iter=1000), MassMeanProbe(covariance=True),
                                   StandardizedMeanDiffProbe(), CCSProbe(n_restarts=3, n_steps=200)],
                         ids=["linear", "mm_iid", "mm_std", "ccs"])
def test_probes_find_the_planted_direction(planted, probe):
    X, y, u = planted
    # CCS sees no labels
    fitted = probe.fit(X, pairs=_label_free_pairs(len(X) // 2)) if isinstance(probe, CCSProbe) else probe.fit(X, y)
    # compare in the space where the data are isotropic around the signal: undo the blown-up dimension
    w = raw_direction(fitted) * np.r_[50.0, np.ones(len(u) - 1)]
    cosine = abs(w @ u) / np.linalg.norm(w)
    assert cosine > 0.9, cosine
    assert ccs_accuracy(fitted, X, y) > 0.95


def test_accuracy_is_only_sign_free_for_an_unoriented_ccs_probe(planted):
    X, y, _ = planted
    lr = LinearProbe().fit(X, y)
    assert ccs_accuracy(lr, X, 1 - y) < 0.1  # a supervised probe that is wrong stays wrong
    ccs = CCSProbe(n_restarts=2, n_steps=100).fit(X, pairs=_label_free_pairs(len(X) // 2))
    assert ccs_accuracy(ccs, X, y) == ccs_accuracy(ccs, X, 1 - y) > 0.9
    ccs.orient(X[:16], y[:16])
    assert ccs_accuracy(ccs, X, 1 - y) < 0.1


def test_mass_mean_is_the_raw_mean_difference_by_hand(planted):
    """Marks & Tegmark's theta = mu+ - mu- on the raw features: the probe scores x by an affine function
    of (x - mean) . theta, and P(true) is a sigmoid of it (hand computation, no standardisation)."""
    X, y, _ = planted
    probe = MassMeanProbe().fit(X, y)
    theta = X[y == 1].mean(0) - X[y == 0].mean(0)
    np.testing.assert_allclose(probe.direction_, theta)
    np.testing.assert_allclose(raw_direction(probe), theta / np.linalg.norm(theta), atol=1e-12)
    s = (X - X.mean(0)) @ theta  # the hand projection
    a = float(probe.coef_[0] @ theta) / float(theta @ theta)  # the fitted scale along theta
    np.testing.assert_allclose(probe.decision_function(X)[:, 0], a * s + probe.intercept_[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(probe.predict_proba(X)[:, 1], 1 / (1 + np.exp(-(a * s + probe.intercept_[0]))))
    assert a > 0
    # the standardised variant is a different direction here: (mu+ - mu-) / sigma^2 shrinks the huge dimension
    std = StandardizedMeanDiffProbe().fit(X, y)
    diag_lda = theta / X.var(0)
    np.testing.assert_allclose(raw_direction(std), diag_lda / np.linalg.norm(diag_lda), atol=1e-9)
    assert abs(raw_direction(std)[0]) < 0.01 < 0.1 < abs(raw_direction(probe)[0])
    np.testing.assert_allclose(std.direction_, theta)  # both steer along the raw mean difference


def test_mass_mean_iid_is_the_pseudo_inverse_of_the_within_class_covariance(planted):
    X, y, _ = planted
    theta = X[y == 1].mean(0) - X[y == 0].mean(0)
    centred = np.where((y == 1)[:, None], X - X[y == 1].mean(0), X - X[y == 0].mean(0))
    import torch

    sigma = torch.tensor(centred.T @ centred / len(X))
    w = (torch.linalg.pinv(sigma, hermitian=True, atol=1e-3) @ torch.tensor(theta)).numpy()  # the paper's code
    probe = MassMeanProbe(covariance=True).fit(X, y)
    np.testing.assert_allclose(raw_direction(probe), w / np.linalg.norm(w), atol=1e-9)


def test_mass_mean_finds_the_planted_direction_on_isotropic_features(planted):
    X, y, u = planted
    X = X.copy()
    X[:, 0] /= 50.0  # undo the huge dimension: mass-mean is only LDA-optimal when the noise is isotropic
    probe = MassMeanProbe().fit(X, y)
    assert raw_direction(probe) @ u > 0.9
    assert probe.score(X, y) > 0.95


def test_a_pre_0_2_mass_mean_file_loads_as_the_standardised_probe(planted, tmp_path):
    X, y, _ = planted
    old = StandardizedMeanDiffProbe().fit(X, y)
    document = old.to_document()
    document["kind"] = "MassMeanProbe"  # what interp 0.1 wrote for this probe, without the atol parameter
    document["params"] = {"covariance": False}
    from interp.probing.estimators import _checksum

    blob = __import__("base64").b64decode(document["arrays"])
    document["sha256"] = _checksum("MassMeanProbe", document["params"], document["classes"], blob)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    from interp.errors import LegacyFileWarning

    with pytest.warns(LegacyFileWarning, match="StandardizedMeanDiffProbe"):
        loaded = load_probe(path)
    assert type(loaded) is StandardizedMeanDiffProbe
    np.testing.assert_array_equal(loaded.predict_proba(X), old.predict_proba(X))


def test_ccs_uses_no_labels_and_orient_only_flips_the_sign(planted):
    X, y, _ = planted
    pairs = _label_free_pairs(len(X) // 2)
    a = CCSProbe(n_restarts=3, n_steps=200).fit(X, y, pairs=pairs)
    b = CCSProbe(n_restarts=3, n_steps=200).fit(X, 1 - y, pairs=pairs)  # labels are ignored
    np.testing.assert_array_equal(a.coef_, b.coef_)
    before = a.coef_.copy()
    a.orient(X[:16], y[:16])
    np.testing.assert_allclose(np.abs(a.coef_), np.abs(before))
    assert a.score(X, y) > 0.95


def _template_pairs(seed=0, n_pairs=300, d=32, offset=6.0, signal=1.5):
    """Burns et al.'s setting: each pair is one statement read with a "True" side and a "False" side. The two
    sides differ by a constant vector ``c`` (the token), and by +-``signal`` along the truth direction ``t``
    (whether the statement is true: the "True" side is the true one for half the pairs)."""
    rng = np.random.default_rng(seed)
    t, c = np.eye(d)[0], np.eye(d)[1]
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))  # not axis-aligned
    t, c = rot @ t, rot @ c
    subject = rng.normal(size=(n_pairs, d))
    first_true = rng.random(n_pairs) < 0.5
    s = np.where(first_true, 1.0, -1.0)[:, None]
    plus = subject + offset * c / 2 + signal * s * t + 0.3 * rng.normal(size=(n_pairs, d))
    minus = subject - offset * c / 2 - signal * s * t + 0.3 * rng.normal(size=(n_pairs, d))
    X = np.empty((2 * n_pairs, d))
    X[0::2], X[1::2] = plus, minus
    y = np.empty(2 * n_pairs, dtype=int)
    y[0::2], y[1::2] = first_true, ~first_true
    return X, y, np.arange(2 * n_pairs).reshape(-1, 2), t, c


def _cos(probe, direction):
    w = raw_direction(probe)
    return abs(float(w @ direction)) / float(np.linalg.norm(direction))


def test_ccs_normalises_each_side_and_finds_truth_not_the_side_token():
    """Burns et al. normalise the "+" and "-" sides each on its own: the constant token vector between the sides
    is removed and CCS finds the truth direction. Centring each pair on its own mean (interp < 0.3's "CCS",
    now PairDiffProbe) leaves the token vector as the largest pair difference, and follows it."""
    X, y, pairs, t, c = _template_pairs()
    ccs = CCSProbe(n_restarts=4, n_steps=400).fit(X, pairs=pairs)
    assert _cos(ccs, t) >= 0.9, _cos(ccs, t)
    assert ccs_pair_accuracy(ccs, X, pairs, y) > 0.95
    old = PairDiffProbe(n_restarts=4, n_steps=400).fit(X, pairs=pairs)
    assert _cos(old, c) > 0.9 > 0.3 > _cos(old, t), (_cos(old, c), _cos(old, t))
    # the pair score of Burns et al.: (p(x+) + 1 - p(x-)) / 2, by hand
    a = (X[pairs[:, 0]] - ccs.side_mean_[0]) / ccs.side_scale_[0]
    b = (X[pairs[:, 1]] - ccs.side_mean_[1]) / ccs.side_scale_[1]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    hand = (sig(a @ ccs.coef_[0] + ccs.intercept_[0]) + 1 - sig(b @ ccs.coef_[0] + ccs.intercept_[0])) / 2
    np.testing.assert_allclose(ccs.pair_proba(X, pairs), hand, rtol=1e-12)
    np.testing.assert_allclose(ccs.side_mean_[0], X[pairs[:, 0]].mean(0))
    np.testing.assert_allclose(ccs.side_scale_[1], X[pairs[:, 1]].std(0))


def test_ccs_consistency_term_is_not_trivially_zero():
    """With each pair centred on its mean the sides are a and -a, and at bias 0 the consistency term is 0 for
    every w; Burns et al.'s per-side normalisation leaves it something to fit."""
    X, y, pairs, t, c = _template_pairs(seed=1)
    ccs = CCSProbe(n_restarts=2, n_steps=300).fit(X, pairs=pairs)
    terms = ccs.loss_terms(X, pairs)
    assert terms["consistency"] > 1e-5 and terms["consistency"] + terms["confidence"] == pytest.approx(ccs.loss_, rel=1e-3)
    a, b = ccs._sides(X, pairs, fit=False)
    assert np.abs(a + b).mean() > 0.1  # not mirror images
    zero_bias = CCSProbe(n_restarts=1, n_steps=1).fit(X, pairs=pairs)
    zero_bias.coef_ = np.random.default_rng(0).normal(size=(1, X.shape[1]))
    zero_bias.intercept_ = np.zeros(1)
    assert zero_bias.loss_terms(X, pairs)["consistency"] > 1e-3  # any w with bias 0: not satisfied for free
    old = PairDiffProbe(n_restarts=1, n_steps=1).fit(X, pairs=pairs)
    old.coef_, old.intercept_ = zero_bias.coef_, np.zeros(1)
    assert old.loss_terms(X, pairs)["consistency"] < 1e-20  # the old variant: satisfied for free


def test_a_pre_0_3_ccs_file_loads_as_the_pair_difference_probe(planted, tmp_path):
    from interp.errors import LegacyFileWarning
    from interp.probing.estimators import _checksum

    X, y, _ = planted
    old = PairDiffProbe(n_restarts=2, n_steps=50).fit(X)
    document = old.to_document()
    document["kind"] = "CCSProbe"  # what interp < 0.3 wrote for this probe (with its 'center' parameter)
    blob = __import__("base64").b64decode(document["arrays"])
    document["sha256"] = _checksum("CCSProbe", document["params"], document["classes"], blob)
    path = tmp_path / "old_ccs.json"
    path.write_text(json.dumps(document))
    with pytest.warns(LegacyFileWarning, match="PairDiffProbe"):
        loaded = load_probe(path)
    assert type(loaded) is PairDiffProbe and loaded.center == "pair"
    np.testing.assert_array_equal(loaded.predict_proba(X), old.predict_proba(X))
    fresh = CCSProbe(n_restarts=2, n_steps=50).fit(X)
    again = load_probe(fresh.save(tmp_path / "new.json"))
    assert type(again) is CCSProbe
    np.testing.assert_array_equal(again.side_mean_, fresh.side_mean_)


def test_truth_probes_follow_the_probe_contract(tmp_path, planted):
    X, y, _ = planted
    with pytest.raises(NotFittedError):
        MassMeanProbe().predict(X)
    with pytest.raises(NotFittedError):
        CCSProbe().predict(X)
    with pytest.raises(InvalidParameterError, match="pairs"):
        CCSProbe().fit(X[:3])
    for probe in (MassMeanProbe(covariance=True).fit(X, y), CCSProbe(n_restarts=2, n_steps=50).fit(X),
                  PairDiffProbe(n_restarts=2, n_steps=50).fit(X)):
        path = probe.save(tmp_path / f"{probe.kind}.json")
        loaded = load_probe(path)
        assert type(loaded) is type(probe)
        np.testing.assert_allclose(loaded.predict_proba(X), probe.predict_proba(X))
        document = json.loads(path.read_text())
        document["params"] = {**document["params"], **({"covariance": False} if "covariance" in document["params"]
                                                       else {"lr": 0.5})}
        path.write_text(json.dumps(document))
        with pytest.raises(InvalidProbeFileError, match="modified"):
            load_probe(path)


# ----------------------------------------------------------------------------- datasets
@pytest.mark.parametrize("name", ["larger_than", "sums", "facts", "cities"])
def test_generators_are_deterministic_and_balanced(name):
    a, b = generate.generate(name, seed=0), generate.generate(name, seed=0)
    assert a == b
    if name != "facts":
        assert generate.generate(name, seed=1) != a
        assert len(a) >= 1000
    labels = [r["label"] for r in a]
    assert sum(labels) * 2 == len(labels)
    pairs: dict[str, list[int]] = {}
    for r in a:
        pairs.setdefault(r["pair_id"], []).append(r["label"])
    assert all(sorted(v) == [0, 1] for v in pairs.values())
    assert len({r["statement"] for r in a}) == len(a)  # no statement twice


def test_stored_datasets_are_the_generated_ones():
    for name in ("larger_than", "facts"):
        stored = load_dataset(name)
        assert stored.statements == [r["statement"] for r in generate.generate(name, seed=0)]


HAND_WRITTEN_SIZES = {"facts": 200, "translations_es": 200, "translations_fr": 200, "neg_translations_es": 200,
                      "companies": 200, "neg_companies": 200, "everyday": 150, "neg_everyday": 150, "qa_facts": 100}


@pytest.mark.parametrize("name", DATASETS)
def test_builtin_datasets_load_balanced_with_pairs(name):
    ds = load_dataset(name)
    assert len(ds) >= HAND_WRITTEN_SIZES.get(name, 1000)
    assert ds.labels.mean() == 0.5
    assert ds.pairs().shape == (len(ds) // 2, 2)


def test_user_csv_and_bad_csvs(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text("statement,label,provenance,pair_id\nSnow is white.,true,me,p1\nSnow is black.,0,me,p1\n")
    ds = load_dataset(good)
    assert ds.name == "mine" and ds.labels.tolist() == [1, 0] and ds.pairs().tolist() == [[0, 1]]
    cases = {"nolabel.csv": "statement,provenance\nA.,x\n", "badlabel.csv": "statement,label\nA.,maybe\nB.,1\n",
             "oneclass.csv": "statement,label\nA.,1\nB.,1\n", "empty.csv": "statement,label\n"}
    for file, text in cases.items():
        (tmp_path / file).write_text(text)
        with pytest.raises(InvalidDatasetError):
            load_dataset(tmp_path / file)
    with pytest.raises(InvalidDatasetError, match="Unknown dataset"):
        load_dataset("citiez")


def test_split_never_puts_a_statement_on_both_sides():
    from interp.truth.sweep import split_pairs

    ds = load_dataset("capitals")
    dup = TruthDataset("dup", ds.statements + ds.statements[:50], np.r_[ds.labels, ds.labels[:50]],
                       ds.pair_ids + [f"x{i // 2}" for i in range(50)], ds.provenance + ds.provenance[:50])
    for data in (ds, dup):
        test = split_pairs(data, test_size=0.3, seed=1)
        train_set = {s for s, t in zip(data.statements, test) if not t}
        assert not train_set & {s for s, t in zip(data.statements, test) if t}
        assert test.any() and (~test).any()


# ----------------------------------------------------------------------------- analyses on a tiny model
@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models["tiny-gpt2"]


def test_truth_sweep_and_generalization_on_a_tiny_model(tiny, tmp_path):
    from interp.results import load_result
    from interp.truth import generalization_matrix, truth_sweep

    r = truth_sweep(tiny, ["facts", "larger_than"], probes=["linear", "mm", "ccs"], max_pairs=30, progress=False,
                    probe_params={"ccs": {"n_restarts": 2, "n_steps": 100}})
    assert r.accuracy.shape == (2, 3, tiny.n_layers + 1)
    assert ((r.accuracy >= 0) & (r.accuracy <= 1)).all()
    assert 0 <= r.best_layer_fraction("linear") <= 1
    fig = r.plot()  # one line per probe x dataset, the accuracy by layer
    assert [t.name for t in fig.data] == [f"{p} / {d}" for p in r.probes for d in r.datasets]
    for trace, (p, d) in zip(fig.data, [(p, d) for p in range(3) for d in range(2)]):
        assert list(trace.x) == r.layers and list(trace.y) == list(r.accuracy[d, p])
    loaded = load_result(r.save(tmp_path / "s.json"))
    np.testing.assert_array_equal(loaded.accuracy, r.accuracy)
    g = generalization_matrix(tiny, ["facts", "sums"], layer=1, probe="mm", train=["facts", "facts+sums"],
                              max_pairs=30, progress=False)
    assert g.accuracy.shape == g.auc.shape == (2, 2) and g.to_frame()["seen"].sum() == 3
    (heatmap,) = g.plot().data
    np.testing.assert_array_equal(heatmap.z, g.accuracy)
    assert list(heatmap.y) == g.train and list(heatmap.x) == g.test
    with pytest.raises(InvalidParameterError):
        truth_sweep(tiny, "facts", probes=["svm"])
    with pytest.raises(InvalidDatasetError):
        truth_sweep(tiny, [])


def test_detector_scores_saves_and_refuses_tampering(tiny, tmp_path):
    from interp.truth import LieDetector

    detector = LieDetector.fit(tiny, ["facts", "larger_than"], max_pairs=30)
    assert detector.layer_ in detector.validation_
    texts = ["Cats are mammals.", "Cats are reptiles."]
    scores = detector.score(texts)
    assert scores.p_true.shape == (2,)
    per_token = detector.score("Cats are mammals. Snow is hot.", per_token=True)
    assert per_token.p_true[0] == pytest.approx(per_token.token_p_true[0][-1])
    (heatmap,) = per_token.plot().data  # one row per text, one cell per token, coloured by P(true)
    np.testing.assert_allclose(heatmap.z[0], per_token.token_p_true[0])
    assert len(heatmap.z[0]) == len(per_token.tokens[0]) == len(tiny.to_str_tokens("Cats are mammals. Snow is hot.")) - 1
    path = detector.save(tmp_path / "det.json")
    again = LieDetector.load(path, model=tiny)
    np.testing.assert_array_equal(again.score(texts).p_true, scores.p_true)
    document = json.loads(path.read_text())
    document["meta"]["layer"] = 0
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidProbeFileError, match="modified"):
        LieDetector.load(path)
    probe_file = LinearProbe().fit(np.random.rand(20, 3), np.tile([0, 1], 10)).save(tmp_path / "probe.json")
    for bad in (probe_file, tmp_path / "missing.json"):
        with pytest.raises(InvalidProbeFileError):
            LieDetector.load(bad)
    (tmp_path / "junk.json").write_bytes(b"\x00\x01 not json")
    with pytest.raises(InvalidProbeFileError):
        LieDetector.load(tmp_path / "junk.json")


def test_model_lies_are_scored_consistently(tiny, tmp_path):
    from sklearn.metrics import roc_auc_score

    from interp.results import load_result
    from interp.truth import LieDetector, detect_model_lies

    detector = LieDetector.fit(tiny, ["facts"], 1, max_pairs=20)
    questions = [{"question": "What is 2 + 2?", "answer": "4"}, {"question": "Name a colour.", "answer": ""},
                 {"question": "What is the capital of France?", "answer": "Paris"}]
    r = detect_model_lies(tiny, questions, detector=detector, max_new_tokens=4)
    assert len(r.honest_answers) == len(r.lie_answers) == 3 and r.honest_context_scores.shape == (3,)
    assert r.auc == pytest.approx(roc_auc_score([1, 1, 1, 0, 0, 0], np.r_[r.honest_scores, r.lie_scores]))
    # the honest answer is scored as "question answer" text, and in the chat it was given in
    question, answer = questions[0]["question"], r.honest_answers[0]
    again = detector.score([f"{question} {answer}" if answer else question]).p_true[0]
    assert r.honest_scores[0] == pytest.approx(again, abs=1e-6)
    assert not np.allclose(r.honest_context_scores, r.honest_scores)
    # a random model answers nothing right: no genuine honest answer, so no genuine AUC
    assert r.honest_correct == 0 and np.isnan(r.auc_genuine)
    assert load_result(r.save(tmp_path / "lies.json")) == r
    boxes = r.plot().data  # honest and lie scores, then both again as read in the chat
    assert [list(b.y) for b in boxes] == [list(v) for v in (r.honest_scores, r.lie_scores, r.honest_context_scores,
                                                             r.lie_context_scores)]


def _lies_result(lie_answers, honest_scores, lie_scores):
    from interp.truth import LieDetectionResult
    from interp.truth.lies import _auc, _intervals

    n = len(lie_answers)
    expected = ["Paris", "Rome", "Lima", "Oslo", "Bern", "Kyiv"][:n]
    honest, lies = np.asarray(honest_scores, dtype=float), np.asarray(lie_scores, dtype=float)
    avoided = np.array([e.lower() not in a.lower() for e, a in zip(expected, lie_answers)])
    right = np.ones(n, dtype=bool)
    return LieDetectionResult(questions=[f"Capital {i}?" for i in range(n)], honest_answers=list(expected),
                              lie_answers=list(lie_answers), honest_scores=honest, lie_scores=lies, expected=expected,
                              auc=_auc(honest, lies), honest_correct=1.0, lie_avoided=float(avoided.mean()), layer=1,
                              probe="LR", auc_genuine=_auc(honest[right], lies[avoided]),
                              intervals=_intervals(honest, lies, honest, lies, right, avoided, np.ones(n, dtype=bool)))


def test_model_lies_caveat_when_the_instructed_answers_are_not_lies(tmp_path):
    """A model that ignores the instruction to lie: 5 of 6 "lies" state the true answer. The AUC (here 1.0,
    the detector merely ranks two sets of true answers apart) means nothing, and the caveat says so first,
    with the number of real lies; its interval and the real-lie count travel with the saved result."""
    from interp.results import load_result

    r = _lies_result(["Paris", "Rome", "Lima", "Oslo", "Bern", "Moscow"], [0.9] * 6, [0.2] * 6)
    assert r.n_real_lies == 1 and r.n_known == 6 and r.auc == 1.0
    caveats = r.caveats()
    assert caveats and caveats[0].startswith("Only 1 of the 6 instructed-to-lie answers were false"), caveats
    assert "means nothing" in caveats[0] and r.summary().startswith(caveats[0][:30])
    assert "1 real lies of 6" in r.summary() and "[" in r.summary()  # figures with intervals
    assert load_result(r.save(tmp_path / "lies.json")).intervals == r.intervals
    none = _lies_result(["Paris is the capital", "Rome", "Lima"], [0.9] * 3, [0.2] * 3)
    assert "told no lies" in none.caveats()[0]
    honest = _lies_result(["Berlin", "Madrid", "Quito", "Riga", "Vaduz", "Minsk"],
                          [0.9, 0.8, 0.7, 0.9, 0.8, 0.7], [0.1, 0.2, 0.3, 0.1, 0.2, 0.3])
    assert honest.caveats() == []  # six real lies, ranked apart: the number stands
    assert honest.intervals["lie_avoided"]["low"] < 1.0 == honest.lie_avoided  # Wilson over six questions


def test_steering_with_alpha_zero_is_the_unsteered_model(tiny):
    import torch

    from interp.truth import steer_truth

    r = steer_truth(tiny, "facts", layer=1, alphas=(0, 1), max_pairs=20, n_test=6)
    assert r.p_true.shape == (2, 6)
    prompts = [f"{s} This statement is" for s in r.statements]
    probs = torch.softmax(tiny.logits(prompts, last_only=True), -1)
    ids = [tiny.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in (" true", " True", " false", " False")]
    pt, pf = probs[:, sorted(set(ids[:2]))].sum(-1), probs[:, sorted(set(ids[2:]))].sum(-1)
    np.testing.assert_allclose(r.p_true[0], (pt / (pt + pf)).numpy(), rtol=1e-5)
    assert not np.allclose(r.p_true[1], r.p_true[0])
    true_line, false_line = r.plot().data  # mean P(true) of the true and of the false statements, by alpha
    np.testing.assert_allclose(true_line.y, r.p_true[:, r.labels == 1].mean(1))
    np.testing.assert_allclose(false_line.y, r.p_true[:, r.labels == 0].mean(1))
    assert list(true_line.x) == list(r.alphas)


def test_public_names_resolve():
    import interp.truth

    for name in interp.truth.__all__:
        assert getattr(interp.truth, name) is not None


def test_cli_probe_truth_and_detect(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["probe", "truth", "-m", "tiny-gpt2", "-d", "facts,sums", "-n", "20", "--layers", "1,2",
                              "--probes", "linear,mm", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "detector.json").is_file() and (tmp_path / "truth_sweep.html").is_file()
    assert "Leave one dataset out" in res.output and "not trained on, expect about" in res.output  # its reach
    report = interp.load_result(tmp_path / "result.json")  # --out FOLDER: the report is the folder's result.json
    assert report.layer in (1, 2) and (tmp_path / "result.html").is_file()
    res = runner.invoke(app, ["probe", "truth", "-m", "tiny-gpt2", "-d", "facts,sums", "-n", "20", "--layers", "1,2",
                              "--probes", "linear,mm", "--json"])
    assert res.exit_code == 0, res.output
    assert np.array_equal(interp.Result.from_json(res.stdout).test_accuracy, report.test_accuracy)
    res = runner.invoke(app, ["detect", "Snow is hot.", "-m", "tiny-gpt2", "--detector", str(tmp_path / "detector.json")])
    assert res.exit_code == 0 and "P(true)" in res.output and "expect about" in res.output
    res = runner.invoke(app, ["detect", "Snow is hot.", "-m", "tiny-gpt2", "--detector", str(tmp_path / "detector.json"),
                              "--json"])
    assert res.exit_code == 0 and interp.Result.from_json(res.stdout).texts == ["Snow is hot."]
    res = runner.invoke(app, ["probe", "truth", "-d", "nope.csv", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "InvalidDatasetError" in res.output


# ----------------------------------------------------------------------------- the real default model
@pytest.mark.slow
def test_default_model_lr_and_mm_read_truth_of_cities(default_model):
    from interp.truth import truth_sweep

    r = truth_sweep(default_model, "cities", layers=[12], probes=["linear", "mm"], max_pairs=250, progress=False)
    frame = r.to_frame().set_index("probe")
    # measured: linear 0.89; Marks & Tegmark's raw mass-mean 0.79 here (0.85 with 400 pairs); chance is 0.5
    assert frame.loc["linear", "accuracy"] >= 0.8 and frame.loc["mm", "accuracy"] >= 0.75, frame


@pytest.mark.slow
def test_default_model_lies_are_scored(default_model):
    from interp.truth import LieDetector, detect_model_lies

    detector = LieDetector.fit(default_model, ["cities", "larger_than", "facts"], 12, max_pairs=150)
    p = detector.score(["The city of Paris is in France.", "The city of Paris is in Peru."]).p_true
    assert p[0] > 0.5 > p[1], p
    r = detect_model_lies(default_model, detector=detector, max_questions=4, max_new_tokens=12)
    assert len(r.honest_answers) == len(r.lie_answers) == 4
    assert r.honest_correct >= 0.5, r.to_frame()  # the first questions are easy: the honest answers know them
    assert r.honest_context_scores.shape == r.lie_context_scores.shape == (4,)
    # (the 135M model mostly ignores the instruction to lie, so no claim is made about r.auc here)


@pytest.mark.slow
def test_default_model_truth_transfers_to_an_unseen_kind(default_model):
    """Trained on cities + larger_than + facts, the probe ranks capital statements better than chance
    (measured: AUC 0.71 at layer 12 with 200 pairs each; chance is 0.5)."""
    from interp.truth import generalization_matrix

    r = generalization_matrix(default_model, ["cities", "larger_than", "facts", "capitals"], layer=12, probe="linear",
                              train=["cities+larger_than+facts"], max_pairs=200, progress=False)
    frame = r.to_frame().set_index("test")
    assert frame.loc["cities", "accuracy"] >= 0.85
    assert frame.loc["capitals", "auc"] >= 0.62, frame


@pytest.mark.slow
def test_default_model_steering_moves_p_true_monotonically(default_model):
    from interp.truth import steer_truth

    r = steer_truth(default_model, "cities", layer=12, alphas=(-3, 0, 3), max_pairs=120, n_test=40)
    means = r.p_true.mean(axis=1)
    assert means[0] < means[1] < means[2], means


def test_ccs_adam_equals_torch_adam_on_the_autograd_gradient():
    """CCS trains with a numpy Adam (no torch thread pool); it takes torch.optim.Adam's steps exactly."""
    import torch

    from interp.truth.probes import _ccs_adam

    rng = np.random.default_rng(1)
    xa, xb = (rng.normal(size=(30, 6)).astype(np.float32) for _ in range(2))
    w0 = rng.normal(size=(6, 3)).astype(np.float32) / 6 ** 0.5
    w, bias, losses = _ccs_adam(xa, xb, w0, n_steps=25, lr=1e-2, weight_decay=1e-2)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([tw, tb], lr=1e-2, weight_decay=1e-2)
    ta, tb_x = torch.tensor(xa), torch.tensor(xb)

    def loss():
        p1, p2 = torch.sigmoid(ta @ tw + tb), torch.sigmoid(tb_x @ tw + tb)
        return ((p1 - (1 - p2)) ** 2).mean(0) + (torch.minimum(p1, p2) ** 2).mean(0)

    for _ in range(25):
        opt.zero_grad()
        loss().sum().backward()
        opt.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, tb.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses, loss().detach().numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(w, w0)  # it trained
