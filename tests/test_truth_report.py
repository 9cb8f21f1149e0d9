"""interp.truth.truth_report: the layer is chosen on validation pairs carved from the training pairs, and the
accuracy reported is truth_sweep's, on test pairs that chose nothing."""

from __future__ import annotations

import numpy as np
import pytest

SETS = ["facts", "sums"]
ARGS = {"layers": [1, 2], "probes": ["lr", "mm"], "max_pairs": 20}


@pytest.fixture(scope="module")
def model(tiny_models):
    return tiny_models["tiny-gpt2"]


@pytest.fixture(scope="module")
def report(model):
    from interp.truth import truth_report

    return truth_report(model, SETS, **ARGS, progress=False)


def _training_sides(datasets, max_pairs, test_size=0.25, seed=0):
    from interp.truth import load_dataset
    from interp.truth.sweep import split_pairs

    sides = []
    for name in datasets:
        ds = load_dataset(name).sample(max_pairs, seed=seed)
        sides.append(ds.subset(np.flatnonzero(~split_pairs(ds, test_size=test_size, seed=seed))))
    return sides


def test_reports_truth_sweeps_numbers_on_the_test_pairs(model, report):
    from interp.truth import truth_sweep

    sweep = truth_sweep(model, SETS, **ARGS, progress=False)
    assert report.sweep() == sweep  # the same numbers, the same saved fields
    np.testing.assert_array_equal(report.test_accuracy, sweep.accuracy)


def test_the_layer_is_chosen_on_validation_pairs_inside_the_training_pairs(model, report):
    from interp.truth import truth_sweep

    sides = _training_sides(SETS, ARGS["max_pairs"])
    validation = truth_sweep(model, sides, layers=ARGS["layers"], probes=ARGS["probes"], test_size=0.25, progress=False)
    np.testing.assert_array_equal(report.validation_accuracy, validation.accuracy)
    assert report.layer == validation.best_layer()
    assert [a + b for a, b in zip(report.n_fit, report.n_val)] == [len(s) for s in sides]
    assert all(n_fit + n_val <= n_train for n_fit, n_val, n_train in zip(report.n_fit, report.n_val, report.n_train))
    # here the two splits disagree: choosing on the test split (the old CLI) would have picked layer 2
    assert report.sweep().best_layer() == 2 and report.layer == 1


def test_generalisation_and_detector_at_the_chosen_layer(model, report):
    from interp.truth import LieDetector, generalization_matrix

    assert report.generalization() == generalization_matrix(model, SETS, layer=report.layer, probe="lr", max_pairs=20,
                                                            progress=False)
    reference = LieDetector.fit(model, SETS, report.layer, probe="lr", max_pairs=20)
    statements = ["The city of Paris is in France.", "Two plus two is five."]
    assert report.detector.layer_ == report.layer
    np.testing.assert_allclose(report.detector.score(statements).p_true, reference.score(statements).p_true)


def test_saves_reloads_and_renders(report, tmp_path):
    import interp

    loaded = interp.load_result(report.save(tmp_path / "report.json"))
    assert loaded == report and loaded.detector is None  # the detector has its own file
    frame = report.to_frame()
    assert len(frame) == 2 * 2 * 2 and frame.loc[frame["chosen"], "layer"].unique().tolist() == [report.layer]
    figure = report.plot()
    assert [t.name for t in figure.data] == ["lr test", "lr validation", "mm test", "mm validation"]
    np.testing.assert_allclose(figure.data[0].y, report.test_accuracy.mean(axis=0)[0])
    np.testing.assert_allclose(figure.data[1].y, report.validation_accuracy.mean(axis=0)[0])
    assert f"layer {report.layer} (" in report.summary() and "validation" in report.summary()
    assert len(report.figures()) == 2


def test_a_progress_callable_hears_each_step(model):
    from interp.truth import truth_report

    heard = []
    truth_report(model, ["facts"], layers=[1], probes=["mm"], max_pairs=8, detector=False,
                 progress=lambda stage, done, total: heard.append((stage, done, total)))
    steps = [(s, d, t) for s, d, t in heard if s.startswith("truth report")]
    assert [d for _, d, _ in steps] == [0, 1, 2, 3] and {t for _, _, t in steps} == {3}
    assert steps[1][0] == "truth report: choosing the layer on validation pairs"


def test_bad_input_is_refused_before_any_work(model):
    from interp.errors import InvalidParameterError
    from interp.truth import truth_report

    for kwargs, match in (({"val_size": 1.5}, r"'val_size' parameter of truth_report must be a float in \(0, 1\)"),
                          ({"progress": "yes"}, "'progress'"),
                          ({"layers": "0-2"}, "'layers' parameter of truth_report")):
        with pytest.raises(InvalidParameterError, match=match):
            truth_report(model, SETS, **{**ARGS, **kwargs})
