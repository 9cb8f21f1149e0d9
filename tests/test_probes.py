"""Probe estimators, the control task, baselines and the layer sweep, on synthetic data with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from interp.errors import InvalidParameterError, InvalidProbeFileError, NotFittedError
from interp.probing import (
    ProbeSweepResult,
    control_task,
    majority_baseline,
    probe_layers,
    split_by_group,
    word_type_baseline,
)
from interp.probing.estimators import LinearProbe, MLPProbe, load_probe
from interp.results import Result

PROBES = [LinearProbe(), MLPProbe(hidden_size=32, max_iter=300)]


def planted(n=1200, d=24, k=3, seed=0):
    """Gaussian features whose class is argmax of a planted linear map."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k))
    y = np.array(["a", "b", "c", "d"][:k])[(X @ W).argmax(axis=1)]
    return X, y, W


@pytest.mark.parametrize("probe", PROBES, ids=["linear", "mlp"])
def test_recovers_planted_signal(probe):
    X, y, _ = planted()
    fitted = clone(probe).fit(X[:900], y[:900])
    assert fitted.score(X[900:], y[900:]) > 0.88
    assert list(fitted.classes_) == ["a", "b", "c"]
    proba = fitted.predict_proba(X[900:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (fitted.classes_[proba.argmax(1)] == fitted.predict(X[900:])).all()


def test_linear_probe_finds_the_planted_direction():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 16)) * rng.uniform(0.5, 50, size=16)  # wildly different scales
    direction = rng.normal(size=16)
    y = ((X / X.std(0)) @ direction > 0).astype(int)
    probe = LinearProbe().fit(X, y)
    assert probe.coef_.shape == (1, 16)
    cosine = probe.coef_[0] @ direction / np.linalg.norm(probe.coef_[0]) / np.linalg.norm(direction)
    assert cosine > 0.95


@pytest.mark.parametrize("probe", PROBES, ids=["linear", "mlp"])
def test_shuffled_labels_score_at_chance(probe):
    X, y, _ = planted(n=1500)
    shuffled = np.random.default_rng(2).permutation(y)
    score = clone(probe).fit(X[:1000], shuffled[:1000]).score(X[1000:], shuffled[1000:])
    chance = max(np.mean(shuffled[1000:] == c) for c in "abc")
    assert score < chance + 0.06


def test_mlp_learns_what_a_linear_probe_cannot():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(2000, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of signs
    assert LinearProbe().fit(X[:1500], y[:1500]).score(X[1500:], y[1500:]) < 0.65
    assert MLPProbe(hidden_size=32, max_iter=500).fit(X[:1500], y[:1500]).score(X[1500:], y[1500:]) > 0.9


@pytest.mark.parametrize("probe", PROBES, ids=["linear", "mlp"])
def test_sklearn_contract(probe):
    params = probe.get_params()
    assert not [k for k in vars(probe) if k.endswith("_")]  # __init__ stores arguments only
    assert set(vars(probe)) == set(params)
    X, y, _ = planted(n=200)
    fresh = clone(probe)
    assert fresh.fit(X, y) is fresh
    for method in ("predict", "predict_proba", "decision_function", "score"):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(clone(probe), method)(*((X, y) if method == "score" else (X,)))
    with pytest.raises(NotFittedError):
        clone(probe).save("unused.json")


@pytest.mark.parametrize("probe", PROBES, ids=["linear", "mlp"])
def test_save_load_round_trip_predicts_identically(probe, tmp_path):
    X, y, _ = planted(n=400)
    fitted = clone(probe).fit(X, y)
    path = fitted.save(tmp_path / "probe.json")
    loaded = load_probe(path)
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    assert np.array_equal(loaded.predict(X), fitted.predict(X))
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert type(fitted).load(path).score(X, y) == fitted.score(X, y)
    other = MLPProbe if isinstance(fitted, LinearProbe) else LinearProbe
    with pytest.raises(InvalidProbeFileError, match=f"not a {other.__name__}"):
        other.load(path)


def test_tampered_or_foreign_files_are_refused(tmp_path):
    X, y, _ = planted(n=300)
    path = LinearProbe().fit(X, y).save(tmp_path / "probe.json")
    document = json.loads(path.read_text())

    def write(doc, name):
        target = tmp_path / name
        target.write_text(json.dumps(doc))
        return target

    cases = {
        "classes": ({**document, "classes": ["a", "c", "b"]}, "modified after it was saved"),
        "params": ({**document, "params": {"C": 5.0, "max_iter": 1000, "tol": 1e-4}}, "modified"),
        "arrays": ({**document, "arrays": document["arrays"][:-8] + "AAAAAAA="}, "modified|base64"),
        "kind": ({**document, "kind": "os.system"}, "known kinds"),
        "format": ({**document, "format": "interp.result"}, "not a saved probe"),
    }
    for name, (doc, match) in cases.items():
        with pytest.raises(InvalidProbeFileError, match=match):
            load_probe(write(doc, f"{name}.json"))
    (tmp_path / "garbage.json").write_bytes(b"\x80\x00binary")
    with pytest.raises(InvalidProbeFileError, match="not valid JSON"):
        load_probe(tmp_path / "garbage.json")
    with pytest.raises(InvalidProbeFileError, match="no such file"):
        load_probe(tmp_path / "missing.json")
    # consistent checksum but arrays that do not fit together: still refused
    from interp.probing.estimators import _checksum

    mlp = MLPProbe(hidden_size=4, max_iter=20).fit(X, y)
    arrays = mlp.state_arrays()
    arrays["hidden_coef_"] = arrays["hidden_coef_"][:, :3]
    with pytest.raises(InvalidProbeFileError, match="not a consistent MLPProbe"):
        MLPProbe.from_state(mlp.get_params(), mlp.classes_.tolist(), arrays)
    assert _checksum("LinearProbe", {}, [], b"x") != _checksum("LinearProbe", {}, [], b"y")


def test_bad_fit_input():
    X, y, _ = planted(n=100)
    with pytest.raises(InvalidParameterError, match="100 rows of features but 99 labels"):
        LinearProbe().fit(X, y[:99])
    with pytest.raises(InvalidParameterError, match="at least 2 distinct labels"):
        LinearProbe().fit(X, np.zeros(100))
    with pytest.raises(InvalidParameterError, match="2-D"):
        LinearProbe().fit(X[:, 0], y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidParameterError, match="NaN"):
        MLPProbe().fit(bad, y)
    with pytest.raises(InvalidParameterError, match="X has 3 features, but LinearProbe is expecting 24 features"):
        LinearProbe().fit(X, y).predict(X[:, :3])
    with pytest.raises(InvalidParameterError, match="requires y to be passed"):
        LinearProbe().fit(X, None)
    with pytest.raises(InvalidParameterError, match="Unknown label type: continuous"):
        LinearProbe().fit(X, X[:, 0])


# ----------------------------------------------------------------------------- control task and baselines
def test_control_task_is_deterministic_and_keyed_by_word_type():
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(3000)]
    words = list(rng.choice(vocabulary, size=20000))
    labels = rng.choice(["NOUN", "VERB", "DET", "ADJ"], p=[0.5, 0.25, 0.15, 0.1], size=20000)
    a = control_task(words, labels, seed=7)
    assert np.array_equal(a, control_task(words, labels, seed=7))  # same seed, same task
    assert not np.array_equal(a, control_task(words, labels, seed=8))
    order = rng.permutation(len(words))  # row order does not matter
    assert np.array_equal(control_task([words[i] for i in order], labels[order], seed=7), a[order])
    per_type = {}
    for word, tag in zip(words, a):
        assert per_type.setdefault(word, tag) == tag  # one label per word type
    shares = {t: np.mean(np.array(list(per_type.values())) == t) for t in ("NOUN", "VERB", "DET", "ADJ")}
    expected = {"NOUN": 0.5, "VERB": 0.25, "DET": 0.15, "ADJ": 0.1}
    assert all(abs(shares[t] - expected[t]) < 0.03 for t in expected)  # drawn from the empirical distribution
    with pytest.raises(InvalidParameterError, match="must match"):
        control_task(words[:5], labels[:4])


def test_baselines_known_answers():
    train_words = ["the", "run", "run", "run", "dog"]
    train_tags = ["DET", "VERB", "VERB", "NOUN", "NOUN"]
    test_words = ["run", "the", "cat", "dog"]
    test_tags = ["NOUN", "DET", "NOUN", "NOUN"]
    # run -> VERB (2 of 3): wrong; the -> DET: right; cat unseen -> the majority, VERB (tied with NOUN, seen
    # first): wrong; dog -> NOUN: right
    assert word_type_baseline(train_words, train_tags, test_words, test_tags) == pytest.approx(2 / 4)
    assert majority_baseline(["A", "A", "B"], ["A", "B", "B", "A"]) == 0.5


# ----------------------------------------------------------------------------- layer sweep
def test_sweep_finds_the_layer_with_the_signal_and_splits_by_group():
    X, y, _ = planted(n=1200, d=16)
    noise = np.random.default_rng(5).normal(size=X.shape)
    groups = np.repeat(np.arange(120), 10)  # 120 "sentences" of 10 rows
    control = control_task([f"w{i % 97}" for i in range(len(y))], y, seed=0)
    result = probe_layers({0: noise, 1: X, 2: X + 0.5 * noise}, y, groups=groups, control=control)
    assert isinstance(result, ProbeSweepResult) and result.layers == [0, 1, 2]
    assert result.best_layer == 1 and result.accuracy[1] > 0.9 and result.accuracy[0] < 0.5
    assert result.accuracy[1] > result.accuracy[2] > result.accuracy[0]
    assert result.selectivity is not None and result.selectivity[1] > 0.4
    train_groups, test_groups = set(groups[~result.test_mask]), set(groups[result.test_mask])
    assert not train_groups & test_groups and result.n_test_groups == 24
    np.testing.assert_array_equal(result.probe_at(1).predict(X), LinearProbe().fit(
        X[~result.test_mask], y[~result.test_mask]).predict(X))  # float32 weights: same decisions here
    assert list(result.to_frame().columns) == ["layer", "accuracy", "train_accuracy", "accuracy_low", "accuracy_high",
                                               "control_accuracy", "control_accuracy_low", "control_accuracy_high",
                                               "selectivity", "selectivity_low", "selectivity_high"]
    assert len(result.plot().data) == 3


def test_sweep_saves_and_reloads_with_probes(tmp_path):
    X, y, _ = planted(n=300, d=8)
    result = probe_layers({0: X, 3: -X}, y, groups=np.arange(300) // 5, probe="mlp",
                          probe_params={"hidden_size": 8, "max_iter": 50})
    path = result.save(tmp_path / "sweep.json")
    loaded = Result.load(path)
    assert loaded == result and loaded.probe == "MLPProbe" and loaded.control_accuracy is None
    assert np.array_equal(loaded.probe_at(3).predict(X), result.probe_at(3).predict(X))


def test_sweep_bad_input():
    X, y, _ = planted(n=200, d=4)
    groups = np.arange(200) // 10
    with pytest.raises(InvalidParameterError, match=r"'labels'.*one entry per activation row \(200\)"):
        probe_layers({0: X}, y[:150], groups=groups)
    with pytest.raises(InvalidParameterError, match="'groups'"):
        probe_layers({0: X}, y, groups=groups[:5])
    with pytest.raises(InvalidParameterError, match="at least 2 groups"):
        probe_layers({0: X}, y, groups=np.zeros(200))
    with pytest.raises(InvalidParameterError, match="subset of the activations' layers"):
        probe_layers({0: X}, y, groups=groups, layers=[4])
    with pytest.raises(InvalidParameterError, match="'linear' or 'mlp'"):
        probe_layers({0: X}, y, groups=groups, probe="svm")
    with pytest.raises(InvalidParameterError, match="test_size"):
        split_by_group(groups, test_size=1.5)


def test_the_old_module_path_is_a_deprecated_alias():
    """``interp.probes`` (interp < 0.2) is interp.probing.estimators itself, and says so on import."""
    import subprocess
    import sys

    code = ("import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n"
            "try:\n    import interp.probes\nexcept DeprecationWarning as w:\n    print('warned:', w)\n"
            "warnings.simplefilter('ignore')\n"
            "import interp.probes, interp.probing.estimators as e\nfrom interp.probes import LinearProbe, _Probe\n"
            "from interp.probing import LinearProbe as L2\n"
            "print(interp.probes is e, LinearProbe is e.LinearProbe is L2, _Probe is e._Probe)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "warned: interp.probes is renamed interp.probing.estimators" in out
    assert out.strip().splitlines()[-1] == "True True True"
