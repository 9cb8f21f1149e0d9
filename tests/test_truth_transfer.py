"""A lie detector that knows its reach: leave-one-dataset-out (LODO) accuracy and AUC, per-dataset
centring, batch centring at test time and the contrast-pair (LAT) probe."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interp.errors import InvalidParameterError
from interp.probing.estimators import load_probe
from interp.truth import TruthDataset
from interp.truth.detector import LieDetector, leave_one_dataset_out
from interp.truth.probes import ContrastPCAProbe, raw_direction


def _sets(offsets, n_pairs=60, d=24, seed=0):
    """Datasets sharing one truth direction u (+-1.5), each shifted by its own offset (along u and elsewhere)."""
    rng = np.random.default_rng(seed)
    u = np.zeros(d)
    u[0] = 1.0
    feats, sets = [], []
    for k, offset in enumerate(offsets):
        subject = np.repeat(rng.normal(size=(n_pairs, d)) * 1.0, 2, axis=0)
        subject[:, 0] = 0.0
        y = np.tile([1, 0], n_pairs)
        X = subject + rng.normal(size=subject.shape) * 0.3 + np.outer(np.where(y == 1, 1.5, -1.5), u)
        X += np.asarray(offset, dtype=float)
        feats.append(X)
        sets.append(TruthDataset(f"set{k}", [f"s{k}-{i}" for i in range(len(y))], y,
                                 [f"p{k}-{i // 2}" for i in range(len(y))], ["synthetic"] * len(y)))
    return feats, sets, u


def test_lodo_equals_a_reference_written_with_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    feats, sets, _ = _sets([np.zeros(24), np.r_[0.5, np.ones(23)], np.r_[-0.3, -np.ones(23)]])
    scores = leave_one_dataset_out(feats, sets, probe="linear")
    for k in range(3):
        X_train = np.concatenate([feats[i] for i in range(3) if i != k])
        y_train = np.concatenate([sets[i].labels for i in range(3) if i != k])
        scaler = StandardScaler().fit(X_train)
        clf = LogisticRegression(C=0.1, max_iter=500).fit(scaler.transform(X_train), y_train)
        margin = clf.decision_function(scaler.transform(feats[k]))
        assert scores.accuracy[k] == pytest.approx(np.mean((margin > 0) == sets[k].labels), abs=1e-9)
        assert scores.auc[k] == pytest.approx(roc_auc_score(sets[k].labels, margin), abs=1e-6)
    assert scores.datasets == ["set0", "set1", "set2"]


def test_an_offset_along_the_truth_direction_breaks_the_threshold_and_centring_repairs_it():
    u_offset = np.zeros(24)
    u_offset[0] = 3.0  # the left-out kind sits 2 standard deviations 'truer' than the others: all called true
    feats, sets, _ = _sets([np.zeros(24), np.zeros(24), np.zeros(24), u_offset])
    raw = leave_one_dataset_out(feats, sets, probe="mm")
    assert raw.accuracy[3] < 0.65  # the threshold does not transfer ...
    assert raw.auc[3] > 0.95       # ... although the direction does
    assert raw.batch_accuracy[3] > 0.95  # centring the left-out batch on its own mean uses no labels
    centred = leave_one_dataset_out(feats, sets, probe="mm", center="dataset")
    assert centred.batch_accuracy[3] > 0.95 and centred.auc[3] == pytest.approx(raw.auc[3], abs=0.02)
    with pytest.raises(InvalidParameterError, match="at least 2 datasets"):
        leave_one_dataset_out(feats[:1], sets[:1])
    with pytest.raises(InvalidParameterError, match="center"):
        leave_one_dataset_out(feats, sets, center="median")


def test_contrast_pca_finds_the_direction_pairs_differ_along(tmp_path):
    feats, sets, u = _sets([np.zeros(24)], n_pairs=200)
    X, y = feats[0], sets[0].labels
    probe = ContrastPCAProbe().fit(X, y, pairs=sets[0].pairs())
    assert abs(raw_direction(probe) @ u) > 0.98
    assert probe.direction_ @ u > 0  # oriented: true statements project higher
    assert probe.score(X, y) > 0.97
    # without pairs, the i-th true row is paired with the i-th false row: the same rows here
    np.testing.assert_allclose(ContrastPCAProbe().fit(X, y).direction_, probe.direction_)
    loaded = load_probe(probe.save(tmp_path / "lat.json"))
    assert type(loaded) is ContrastPCAProbe
    np.testing.assert_allclose(loaded.predict_proba(X), probe.predict_proba(X))
    with pytest.raises(InvalidParameterError, match="one true and one false"):
        ContrastPCAProbe().fit(X, y, pairs=np.array([[0, 2]]))


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models["tiny-gpt2"]


@pytest.mark.parametrize("center", ["none", "dataset"])
def test_detector_reports_its_reach_and_keeps_it_when_saved(tiny, tmp_path, center):
    from interp.activations import collect

    detector = LieDetector.fit(tiny, ["facts", "larger_than", "sums"], layer=1, max_pairs=20, center=center)
    t = detector.transfer_
    assert t.datasets == ["facts", "larger_than", "sums"] and t.accuracy.shape == t.auc.shape == (3,)
    assert detector.transfer_accuracy_ == pytest.approx(t.accuracy.mean())
    assert "not trained on, expect about" in repr(detector) and f"{t.accuracy.mean():.2f}" in repr(detector)
    assert list(detector.transfer_frame()["dataset"]) == t.datasets
    # LODO is what leave_one_dataset_out gives on the detector's own rows
    sets = [d.sample(20) for d in [__import__("interp").truth.load_dataset(n) for n in t.datasets]]
    feats = [collect(tiny, d.statements, layers=[1], progress=False)[1] for d in sets]
    again = leave_one_dataset_out(feats, sets, center=center)
    np.testing.assert_allclose(again.accuracy, t.accuracy)
    np.testing.assert_allclose(again.auc, t.auc)
    texts = ["Cats are mammals.", "Cats are reptiles.", "61 is larger than 59."]
    X = collect(tiny, texts, layers=[1], progress=False)[1].astype(np.float64)
    batch = detector.score(texts, batch_center=True).p_true
    expected = detector.probe_.predict_proba(X - X.mean(0) + detector.probe_.scaler_mean_)[:, 1]
    np.testing.assert_allclose(batch, expected, rtol=1e-6)
    alone = detector.score(texts).p_true
    reference = 0.0 if center == "none" else detector.reference_mean_
    np.testing.assert_allclose(alone, detector.probe_.predict_proba(X - reference)[:, 1], rtol=1e-6)
    loaded = LieDetector.load(detector.save(tmp_path / "d.json"), model=tiny)
    assert loaded.center_ == center and loaded.transfer_.datasets == t.datasets
    np.testing.assert_array_equal(loaded.transfer_.batch_accuracy, t.batch_accuracy)
    np.testing.assert_array_equal(loaded.score(texts).p_true, alone)
    assert repr(loaded) == repr(detector).replace(repr(detector.model_name_), repr(loaded.model_name_))
    with pytest.raises(InvalidParameterError, match="at least 2"):
        detector.score(texts[0], batch_center=True)
    with pytest.raises(InvalidParameterError, match="per_token"):
        detector.score(texts, batch_center=True, per_token=True)


def test_a_detector_of_one_kind_says_its_reach_is_unknown_and_old_files_load(tiny, tmp_path):
    detector = LieDetector.fit(tiny, ["facts"], layer=1, max_pairs=10)
    assert detector.transfer_ is None and "unknown" in repr(detector)
    path = detector.save(tmp_path / "old.json")
    document = json.loads(path.read_text())
    assert "transfer" not in document["meta"] and "center" not in document["meta"]  # the earlier file form
    assert LieDetector.load(path).center_ == "none"
    with pytest.raises(InvalidParameterError, match="center"):
        LieDetector.fit(tiny, ["facts"], layer=1, max_pairs=10, center="median")


@pytest.mark.slow
def test_default_model_detector_says_its_reach_is_far_below_its_in_distribution_accuracy(default_model):
    """SmolLM2-135M reads truth within a kind (held-out pairs ~0.8) but shows no direction that transfers to a
    kind left out of training (leave-one-dataset-out ~0.5, benchmarks/bench_lie_detector.py): the detector
    must say so itself, and its estimate must match a kind it never saw (Q&A-style facts) within 0.15."""
    from interp.truth import load_dataset

    detector = LieDetector.fit(default_model, ["cities", "capitals", "smaller_than", "everyday"], 16, max_pairs=60)
    assert detector.in_distribution_accuracy_ >= 0.7, detector.validation_
    assert detector.transfer_accuracy_ < 0.62, detector.transfer_frame()
    assert "no truth direction that transfers" in repr(detector)
    qa = load_dataset("qa_facts")
    p = detector.score(qa.statements).p_true
    unseen = float(np.mean((p > 0.5) == qa.labels))
    assert abs(unseen - detector.transfer_accuracy_) <= 0.15, (unseen, detector.transfer_frame())


# ----------------------------------------------------------------------------- no leakage into the reach
def _layered_sets(truth_layers, n_pairs=50, d=16, seed=0):
    """Datasets whose truth direction shows at one layer only (layer 1 or 2); the other layer is noise."""
    rng = np.random.default_rng(seed)
    by_layer = {1: [], 2: []}
    sets = []
    for k, at in enumerate(truth_layers):
        y = np.tile([1, 0], n_pairs)
        for layer in (1, 2):
            X = rng.normal(size=(2 * n_pairs, d))
            if layer == at:
                X[:, 0] += np.where(y == 1, 2.0, -2.0)
            by_layer[layer].append(X)
        sets.append(TruthDataset(f"set{k}", [f"s{k}-{i}" for i in range(len(y))], y,
                                 [f"p{k}-{i // 2}" for i in range(len(y))], ["synthetic"] * len(y)))
    return by_layer, sets


def test_each_fold_chooses_its_layer_without_the_left_out_set():
    """Two sets read truth at layer 1, two at layer 2: the fold leaving out a layer-1 set is trained on more
    layer-2 sets and must choose layer 2 (and vice versa). One layer chosen on every set (interp < 0.3) let the
    left-out set vote; here the left-out set's features cannot change its fold's layer."""
    from interp.truth.detector import choose_layer

    by_layer, sets = _layered_sets([1, 1, 2, 2])
    scores = leave_one_dataset_out(by_layer, sets, probe="mm", seed=0)
    assert list(scores.layers) == [2, 2, 1, 1]  # the folds do not share one layer
    for k in range(len(sets)):
        rest = [i for i in range(len(sets)) if i != k]
        layer, _ = choose_layer({l: [f[i] for i in rest] for l, f in by_layer.items()}, [sets[i] for i in rest],
                                probe="mm", seed=0)
        assert scores.layers[k] == layer
        # the left-out set's own features at either layer do not move its fold's layer
        flipped = {l: [(-f[i] if i == k else f[i]) for i in range(len(sets))] for l, f in by_layer.items()}
        assert leave_one_dataset_out(flipped, sets, probe="mm").layers[k] == layer
    assert list(scores.n) == [len(s) for s in sets]
    pooled = scores.accuracy_interval()
    assert pooled.n == sum(len(s) for s in sets) and pooled.low < pooled.estimate < pooled.high


def test_detector_in_distribution_accuracy_is_on_test_pairs_that_chose_nothing(tiny):
    """The layer is chosen on validation pairs carved from the training side; in_distribution_ is scored on
    the test pairs (a reference computed by hand), which share no pair with the rows that chose the layer."""
    from interp.activations import collect
    from interp.truth import load_dataset
    from interp.truth.detector import choose_layer
    from interp.truth.sweep import _concat, fit_truth_probe, split_pairs

    names, layers = ["facts", "larger_than"], [1, 2]
    detector = LieDetector.fit(tiny, names, layers=layers, max_pairs=24, probe="mm", transfer=False)
    sets = [load_dataset(n).sample(24, seed=0) for n in names]
    tests = [split_pairs(d, test_size=0.25, seed=0) for d in sets]
    trains = [d.subset(np.flatnonzero(~t)) for d, t in zip(sets, tests)]
    acts = [collect(tiny, d.statements, layers=layers, progress=False) for d in sets]
    layer, validation = choose_layer({l: [a[l][~t] for a, t in zip(acts, tests)] for l in layers}, trains, probe="mm")
    assert detector.layer_ == layer and detector.validation_ == pytest.approx(validation)
    for d, t in zip(sets, tests):  # the test pairs are disjoint from every pair that fitted or validated
        assert not {d.pair_ids[i] for i in np.flatnonzero(t)} & {d.pair_ids[i] for i in np.flatnonzero(~t)}
    fitted = fit_truth_probe("mm", np.concatenate([a[layer][~t] for a, t in zip(acts, tests)]), _concat(trains, name="t"))
    correct = sum(int(np.sum(fitted.predict(a[layer][t]) == d.labels[t])) for a, d, t in zip(acts, sets, tests))
    n = int(sum(t.sum() for t in tests))
    assert detector.in_distribution_ == {"accuracy": pytest.approx(correct / n), "n": n}
    inside = detector.in_distribution_interval()
    assert inside.n == n and inside.low <= correct / n <= inside.high
    assert f"{inside.format(2)}" in detector.reach()
