"""One probe vocabulary (interp.probing.kinds), the regression probes of the world map, the layer-sweep core and
the other tables of issue 27 (data-attribution methods): known answers and agreement with scikit-learn."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from interp.errors import InterpDeprecationWarning, InvalidParameterError, InvalidProbeFileError
from interp.probing.estimators import LinearProbe, MLPRegressorProbe, RidgeProbe, load_probe
from interp.probing.kinds import PROBE_KINDS, RENAMED_KINDS, kind_names, make_probe, resolve_kind

ROOT = Path(__file__).resolve().parents[1]


def _planted(n=240, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = np.c_[3 * x[:, 0] + np.sin(x[:, 1]), x[:, 2] ** 2 - x[:, 3]].astype(np.float64)
    return x, y


def test_one_table_names_every_kind_for_labels_and_values():
    assert kind_names("labels") == ["linear", "mlp", "mm", "mm_iid", "mm_std", "lat", "ccs"]
    assert kind_names("labels", binary=False) == ["linear", "mlp"]
    assert kind_names("values") == ["linear", "mlp"]
    assert type(make_probe("linear", where="t")).__name__ == "LinearProbe"
    assert type(make_probe("linear", target="values", where="t")).__name__ == "RidgeProbe"
    assert type(make_probe("mlp", target="values", where="t")).__name__ == "MLPRegressorProbe"
    iid = make_probe("mm_iid", where="t")
    assert type(iid).__name__ == "MassMeanProbe" and iid.covariance is True
    assert make_probe("ccs", where="t", params={"random_state": 3}).random_state == 3
    assert all(PROBE_KINDS[new] for new, _ in RENAMED_KINDS.values())


def test_unknown_or_misplaced_kinds_are_refused_with_the_choices():
    with pytest.raises(InvalidParameterError, match="must be one of 'linear' or 'mlp'. Got 'mm'"):
        make_probe("mm", target="values", where="world_map", allowed=None)
    with pytest.raises(InvalidParameterError, match="must be one of"):
        resolve_kind("svm", where="t")
    with pytest.raises(InvalidParameterError, match="do not fit LinearProbe"):
        make_probe("linear", where="t", params={"hidden_size": 3})


@pytest.mark.parametrize("old", ["lr", "ridge"])
def test_old_kind_names_resolve_with_a_deprecation_warning(old):
    target = "values" if old == "ridge" else "labels"
    with pytest.warns(DeprecationWarning, match=f"'{old}' is renamed 'linear'"):
        assert resolve_kind(old, target=target, where="t") == "linear"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_kind("linear", target=target, where="t") == "linear"  # the new name does not warn


def test_truth_logistic_regression_is_the_linear_kind_with_the_truth_defaults():
    from interp.truth.probes import make_truth_probe

    probe = make_truth_probe("linear", where="t")
    assert type(probe) is LinearProbe and probe.get_params() == LinearProbe(C=0.1, max_iter=500).get_params()
    with pytest.warns(InterpDeprecationWarning, match="'lr' is renamed 'linear'"):
        assert make_truth_probe("lr", where="t").get_params() == probe.get_params()
    assert make_truth_probe("ccs", where="t", random_state=5).random_state == 5


def test_truth_probes_import_no_private_name_of_probing():
    tree = ast.parse((ROOT / "interp" / "truth" / "probes.py").read_text())
    private = [(node.module, a.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("interp.probing") for a in node.names if a.name.startswith("_")]
    assert private == []


def _sklearn_reference(kind, seed):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))
    mlp = MLPRegressor(hidden_layer_sizes=(16,), alpha=1.0, early_stopping=True, max_iter=60, random_state=seed)
    return make_pipeline(StandardScaler(), TransformedTargetRegressor(mlp, transformer=StandardScaler()))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["ridge", "mlp"])
def test_regression_probes_predict_what_scikit_learn_predicts_bit_for_bit(kind, tmp_path):
    """The world map's probes were scikit-learn pipelines; as interp probes they give the same numbers exactly,
    and a saved probe loads back to the same numbers (JSON + safetensors, no pickle)."""
    x, y = _planted()
    train, test = x[:200].astype(np.float64), x[200:].astype(np.float64)
    reference = _sklearn_reference(kind, 3).fit(train, y[:200]).predict(test)
    probe = (RidgeProbe(target_names=("lat", "lon")) if kind == "ridge" else
             MLPRegressorProbe(hidden_size=16, max_iter=60, random_state=3, target_names=("lat", "lon")))
    predicted = probe.fit(train, y[:200]).predict(test)
    np.testing.assert_array_equal(predicted, reference)
    path = probe.save(tmp_path / "probe.json")
    again = load_probe(path)
    assert type(again) is type(probe) and again.target_names_ == ["lat", "lon"]
    np.testing.assert_array_equal(again.predict(test), reference)
    assert "pickle" not in path.read_text()
    document = json.loads(path.read_text())
    document["params"]["target_names"] = ["x", "y"]
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidProbeFileError, match="modified after it was saved"):
        load_probe(path)


def test_a_ridge_probe_recovers_a_planted_linear_map():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    w = rng.normal(size=(5, 2))
    probe = RidgeProbe().fit(x[:250], x[:250] @ w + 0.5)
    assert probe.score(x[250:], x[250:] @ w + 0.5) > 0.999  # R^2 (RegressorMixin)
    assert probe.predict(x[:3]).shape == (3, 2)


def test_world_map_old_probe_name_gives_the_linear_numbers():
    from interp.projection.world import _fit_score

    x, y = _planted()
    new = _fit_score(x[:200], y[:200], x[200:], y[200:], "linear")
    with pytest.warns(DeprecationWarning, match="'ridge' is renamed 'linear'"):
        old = _fit_score(x[:200], y[:200], x[200:], y[200:], "ridge")
    np.testing.assert_array_equal(new[0], old[0])
    np.testing.assert_array_equal(new[1], old[1])
    assert new[2] == old[2]


def test_sweep_layers_fits_every_kind_at_every_layer_in_order_with_progress():
    from interp.probing.layer_sweep import sweep_layers

    calls, reads = [], []
    fits = sweep_layers([2, 5], lambda layer: reads.append(layer) or layer * 10,
                        lambda x, layer, kind: (x, kind), kinds=["a", "b"],
                        report=lambda stage, done, total: calls.append((stage, done, total)))
    assert list(fits.items()) == [((2, "a"), (20, "a")), ((2, "b"), (20, "b")), ((5, "a"), (50, "a")),
                                  ((5, "b"), (50, "b"))]
    assert reads == [2, 5]  # each layer's features read once
    assert calls == [("probes", 0, 4), ("probes", 1, 4), ("probes", 2, 4), ("probes", 3, 4), ("probes", 4, 4)]


def test_one_random_model_helper():
    import interp.probing.pos as pos
    import interp.projection.world as world
    from interp.probing.control import random_model

    assert pos._random_model is world._random_model is random_model


def test_data_attribution_methods_are_one_table():
    from interp.data_attribution.attribute import METHODS, SCORERS

    assert tuple(SCORERS) == METHODS
    assert [name for name, row in SCORERS.items() if not row.gradients] == ["bm25", "ekfac"]


def test_the_deprecated_probes_module_is_not_public_but_still_resolves():
    import interp

    assert "probes" not in interp.__all__ and "probing" in interp.__all__
    with pytest.warns(DeprecationWarning, match="interp.probes is renamed interp.probing.estimators"):
        import importlib
        import sys

        sys.modules.pop("interp.probes", None)
        module = importlib.import_module("interp.probes")
    assert module.LinearProbe is LinearProbe
