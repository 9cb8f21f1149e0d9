"""The truth probes' logistic regression is "linear", as the POS probe's is (interp.probing.kinds); "lr", its old
name, still works everywhere it did (the functions, LieDetector.fit, the batch spec's [probe].kinds, --probes) with
one InterpDeprecationWarning per call and the same numbers, and saved results that name "lr" still load."""

from __future__ import annotations

import pytest

from interp._deprecations import DEPRECATIONS
from interp.errors import InterpDeprecationWarning, InvalidParameterError
from interp.truth.probes import TRUTH_PROBES, truth_probe_name, truth_probe_names

SETS = ["facts", "larger_than"]
MESSAGE = DEPRECATIONS["probe kind 'lr'"].message()


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return tiny_models["tiny-gpt2"]


def _deprecations(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, InterpDeprecationWarning)]


def test_linear_is_the_name_and_lr_is_not_listed():
    assert "linear" in TRUTH_PROBES and "lr" not in TRUTH_PROBES
    with pytest.raises(InvalidParameterError, match="must be one of 'linear', 'mm', 'mm_iid', 'mm_std', 'ccs' or "
                                                    "'lat'. Got 'ridge' instead."):
        truth_probe_name("ridge", where="t")  # the world map's old name is not a truth probe
    with pytest.warns(InterpDeprecationWarning) as caught:
        assert truth_probe_names(["lr", "mm", "linear"], where="t") == ["linear", "mm"]
    assert _deprecations(caught) == [MESSAGE]


def test_lr_warns_once_and_sweeps_the_same_numbers_as_linear(tiny):
    from interp.truth import generalization_matrix, truth_sweep

    kwargs = dict(layers=[1, 2], max_pairs=8, progress=False)
    new = truth_sweep(tiny, SETS, probes=["linear", "mm"], **kwargs)
    with pytest.warns(InterpDeprecationWarning) as caught:
        old = truth_sweep(tiny, SETS, probes=["lr", "mm"], **kwargs)
    assert _deprecations(caught) == [MESSAGE]  # once, not once per layer or dataset
    assert old == new and old.probes == ["linear", "mm"]
    with pytest.warns(InterpDeprecationWarning):  # probe_params keyed by the old name reach the linear probe
        with pytest.raises(InvalidParameterError, match="do not fit LinearProbe"):
            truth_sweep(tiny, SETS, probes=["linear"], probe_params={"lr": {"hidden_size": 3}}, **kwargs)
    matrix = generalization_matrix(tiny, SETS, layer=1, probe="linear", max_pairs=8, progress=False)
    with pytest.warns(InterpDeprecationWarning) as caught:
        assert generalization_matrix(tiny, SETS, layer=1, probe="lr", max_pairs=8, progress=False) == matrix
    assert _deprecations(caught) == [MESSAGE]


def test_lr_warns_once_through_the_report_and_the_detector(tiny):
    import numpy as np

    from interp.truth import LieDetector, truth_report

    kwargs = dict(layers=[1, 2], max_pairs=8, progress=False)
    new = truth_report(tiny, SETS, probes=["linear"], **kwargs)
    with pytest.warns(InterpDeprecationWarning) as caught:
        old = truth_report(tiny, SETS, probes=["lr"], **kwargs)
    assert _deprecations(caught) == [MESSAGE]  # the sweep, the matrix, the detector and its folds inside: once
    assert old == new and old.probe == "linear"
    assert type(old.detector.probe_) is type(new.detector.probe_)
    np.testing.assert_array_equal(old.detector.probe_.coef_, new.detector.probe_.coef_)
    detector = LieDetector.fit(tiny, SETS, 1, probe="linear", max_pairs=8, transfer=False)
    with pytest.warns(InterpDeprecationWarning) as caught:
        again = LieDetector.fit(tiny, SETS, 1, probe="lr", max_pairs=8, transfer=False)
    assert _deprecations(caught) == [MESSAGE]
    np.testing.assert_array_equal(again.probe_.coef_, detector.probe_.coef_)


def test_the_spec_accepts_both_names():
    from interp.batch import load_spec

    spec = {"task": "truth_sweep", "models": ["tiny-gpt2"], "data": {"datasets": ["facts"]}}
    assert load_spec({**spec, "probe": {"kinds": ["linear", "mm"]}}).probe["kinds"] == ["linear", "mm"]
    assert load_spec(spec).probe["kinds"] == ["linear", "mm", "ccs"]  # the default
    with pytest.warns(InterpDeprecationWarning) as caught:
        assert load_spec({**spec, "probe": {"kinds": ["lr", "mm"]}}).probe["kinds"] == ["linear", "mm"]
    assert _deprecations(caught) == [MESSAGE]
    with pytest.warns(InterpDeprecationWarning):
        assert load_spec({**spec, "probe": {"kinds": "lr"}}).probe["kinds"] == ["linear"]


def test_the_command_accepts_both_names(monkeypatch):
    """--probes is checked against truth_report's table before the model loads: 'lr' passes, 'ridge' does not."""
    from typer.testing import CliRunner

    import interp.models.loading as loading
    from interp.cli import app

    loaded: list = []

    def reached(*args, **kwargs):
        loaded.append(args)
        raise SystemExit(7)

    monkeypatch.setattr(loading, "load_model", reached)
    for probes in ("linear,mm", "lr,mm"):
        result = CliRunner().invoke(app, ["probe", "truth", "--probes", probes, "-n", "20", "-m", "no-such-model"])
        assert result.exit_code == 7, result.output  # reached the model: the names passed
    result = CliRunner().invoke(app, ["probe", "truth", "--probes", "ridge", "-n", "20", "-m", "no-such-model"])
    assert result.exit_code == 1 and "'ridge'" in result.output and len(loaded) == 2


def test_saved_results_that_name_lr_still_load(tmp_path):
    import numpy as np

    from interp.truth import GeneralizationResult, TruthSweepResult

    acc = np.full((1, 2, 3), 0.75)
    sweep = TruthSweepResult(datasets=["facts"], probes=["lr", "mm"], layers=[0, 1, 2], n_layers=2, accuracy=acc,
                             train_accuracy=acc, n_train=[40], n_test=[20])
    loaded = TruthSweepResult.load(sweep.save(tmp_path / "sweep.json"))
    assert loaded == sweep and loaded.probes == ["lr", "mm"] and loaded.accuracy_interval("lr", 1).n == 20
    matrix = GeneralizationResult(train=["facts"], test=["facts"], accuracy=np.ones((1, 1)), auc=np.ones((1, 1)),
                                  center_test=True, layer=1, n_layers=2, n_test=[20], probe="lr")
    assert GeneralizationResult.load(matrix.save(tmp_path / "matrix.json")) == matrix
