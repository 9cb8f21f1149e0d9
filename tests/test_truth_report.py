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


def _validation_reference(model, datasets, layers, probes, max_pairs, test_size=0.25, val_size=0.25, seed=0):
    """(n_datasets, n_probes, n_layers) validation accuracy written out with the public pieces: sample, split by pair,
    split the training side by pair again, fit on the rest of it, score on the validation pairs."""
    from interp.truth import ccs_accuracy, load_dataset
    from interp.truth.sweep import fit_truth_probe, split_pairs, statement_features

    acc = np.zeros((len(datasets), len(probes), len(layers)))
    sizes = []
    for a, name in enumerate(datasets):
        ds = load_dataset(name).sample(max_pairs, seed=seed)
        test = split_pairs(ds, test_size=test_size, seed=seed)
        train = ds.subset(np.flatnonzero(~test))
        val = split_pairs(train, test_size=val_size, seed=seed)
        assert not set(np.flatnonzero(test)) & set(np.flatnonzero(~test)[val])  # validation rows are training rows
        sizes.append((int((~val).sum()), int(val.sum())))
        acts = statement_features(model, ds.statements, layers)
        for c, layer in enumerate(layers):
            X = acts[layer][~test]
            for b, probe in enumerate(probes):
                fitted = fit_truth_probe(probe, X[~val], train.subset(np.flatnonzero(~val)))
                acc[a, b, c] = ccs_accuracy(fitted, X[val], train.labels[val])
    return acc, sizes


def test_reports_truth_sweeps_numbers_on_the_test_pairs(model, report):
    from interp.truth import truth_sweep

    sweep = truth_sweep(model, SETS, **ARGS, progress=False)
    assert report.sweep() == sweep  # the same numbers, the same saved fields
    np.testing.assert_array_equal(report.test_accuracy, sweep.accuracy)


def test_the_layer_is_chosen_on_validation_pairs_inside_the_training_pairs(model, report):
    expected, sizes = _validation_reference(model, SETS, ARGS["layers"], ARGS["probes"], ARGS["max_pairs"])
    np.testing.assert_array_equal(report.validation_accuracy, expected)
    mean = expected.mean(axis=(0, 1))
    assert report.layer == ARGS["layers"][int(np.argmax(mean))]
    assert list(zip(report.n_fit, report.n_val)) == sizes
    assert [a + b for a, b in sizes] == report.n_train
    # choosing on the test split (what the CLI and the page did) reads the test pairs; here it would differ
    assert report.sweep().best_layer() != report.layer


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
    assert len(report.figures()) == 3  # by layer, generalisation, reach
    assert [name for name, _ in report.tables()] == ["By layer", "Generalisation", "Leave one dataset out"]


def test_its_reach_is_leave_one_dataset_out_at_the_chosen_layer(model, report):
    from interp.truth import load_dataset, truth_report
    from interp.truth.detector import leave_one_dataset_out
    from interp.truth.sweep import statement_features

    assert report.transfer_datasets == SETS
    np.testing.assert_array_equal(report.transfer_accuracy, report.detector.transfer_.accuracy)
    np.testing.assert_array_equal(report.transfer_auc, report.detector.transfer_.auc)
    sets = [load_dataset(name).sample(ARGS["max_pairs"], seed=0) for name in SETS]
    feats = [statement_features(model, d.statements, [report.layer], progress=False)[report.layer] for d in sets]
    reference = leave_one_dataset_out(feats, sets, probe="lr")
    np.testing.assert_allclose(report.transfer_accuracy, reference.accuracy)
    np.testing.assert_allclose(report.transfer_batch_accuracy, reference.batch_accuracy)
    assert "not trained on, expect about" in report.summary() and report.reach() in report.summary()
    # without a detector the report measures the same reach itself
    alone = truth_report(model, SETS, **ARGS, detector=False, progress=False)
    np.testing.assert_allclose(alone.transfer_accuracy, report.transfer_accuracy)
    assert list(report.transfer()["dataset"]) == SETS


def test_a_progress_callable_hears_each_step(model):
    from interp.truth import truth_report

    heard = []
    truth_report(model, ["facts"], layers=[1], probes=["mm"], max_pairs=8, detector=False,
                 progress=lambda stage, done, total: heard.append((stage, done, total)))
    steps = [(s, d, t) for s, d, t in heard if s.startswith("truth report")]
    assert [d for _, d, _ in steps] == [0, 1, 2] and {t for _, _, t in steps} == {2}
    assert steps[1][0] == "truth report: generalisation across datasets at the chosen layer"
    fits = [d for s, d, t in heard if s == "sweep: probes (test and validation splits)"]
    assert fits == [1]  # one dataset x one layer x one probe


def test_bad_input_is_refused_before_any_work(model):
    from interp.errors import InvalidParameterError
    from interp.truth import truth_report

    for kwargs, match in (({"val_size": 1.5}, r"'val_size' parameter of truth_report must be a float in \(0, 1\)"),
                          ({"progress": "yes"}, "'progress'"),
                          ({"layers": "0-2"}, "'layers' parameter of truth_report")):
        with pytest.raises(InvalidParameterError, match=match):
            truth_report(model, SETS, **{**ARGS, **kwargs})
