"""interp.truth.truth_report: the layer is chosen on validation pairs carved from the training pairs, and the
accuracy reported is truth_sweep's, on test pairs that chose nothing."""

from __future__ import annotations

import numpy as np
import pytest

SETS = ["facts", "sums"]
ARGS = {"layers": [1, 2], "probes": ["linear", "mm"], "max_pairs": 20}


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

    assert report.generalization() == generalization_matrix(model, SETS, layer=report.layer, probe="linear", max_pairs=20,
                                                            progress=False)
    reference = LieDetector.fit(model, SETS, report.layer, probe="linear", max_pairs=20)
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
    assert [t.name for t in figure.data] == ["linear test", "linear validation", "mm test", "mm validation"]
    np.testing.assert_allclose(figure.data[0].y, report.test_accuracy.mean(axis=0)[0])
    np.testing.assert_allclose(figure.data[1].y, report.validation_accuracy.mean(axis=0)[0])
    assert f"layer {report.layer} (" in report.summary() and "validation" in report.summary()
    assert len(report.figures()) == 3  # by layer, generalisation, reach
    assert [name for name, _ in report.tables()] == ["By layer", "Generalisation", "Leave one dataset out"]


def test_its_reach_is_leave_one_dataset_out_with_a_layer_chosen_inside_each_fold(model, report):
    from interp.truth import load_dataset, truth_report
    from interp.truth.detector import leave_one_dataset_out
    from interp.truth.sweep import statement_features

    assert report.transfer_datasets == SETS
    np.testing.assert_array_equal(report.transfer_accuracy, report.detector.transfer_.accuracy)
    np.testing.assert_array_equal(report.transfer_auc, report.detector.transfer_.auc)
    sets = [load_dataset(name).sample(ARGS["max_pairs"], seed=0) for name in SETS]
    acts = [statement_features(model, d.statements, ARGS["layers"], progress=False) for d in sets]
    reference = leave_one_dataset_out({l: [a[l] for a in acts] for l in ARGS["layers"]}, sets, probe="linear")
    assert report.transfer_layers == list(reference.layers) and report.transfer_n == [len(d) for d in sets]
    np.testing.assert_allclose(report.transfer_accuracy, reference.accuracy)
    np.testing.assert_allclose(report.transfer_batch_accuracy, reference.batch_accuracy)
    assert "not trained on, expect about" in report.summary() and report.reach() in report.summary()
    # without a detector the report measures the same reach itself
    alone = truth_report(model, SETS, **ARGS, detector=False, progress=False)
    np.testing.assert_allclose(alone.transfer_accuracy, report.transfer_accuracy)
    assert list(report.transfer()["dataset"]) == SETS


def test_accuracies_carry_wilson_intervals_and_probes_are_compared_on_the_same_pairs(report, tmp_path):
    from interp.results import load_result
    from interp.stats import paired_difference, proportion_interval

    frame = report.to_frame()
    for row in frame.itertuples():
        ci = proportion_interval(round(row.test_accuracy * row.n_test), row.n_test)
        assert (row.test_accuracy_low, row.test_accuracy_high) == pytest.approx((ci.low, ci.high))
    c = report.layers.index(report.layer)
    n = sum(report.n_test)
    for b, probe in enumerate(report.probes):
        # the per-statement outcomes behind the comparisons are the sweep's accuracy at the chosen layer
        right = np.asarray(report.chosen_correct[b])
        assert right.shape == (n,) and right.sum() == round(float(np.sum(report.test_accuracy[:, b, c] * report.n_test)))
        assert report.test_interval(probe) == proportion_interval(int(right.sum()), n)
        assert report.test_interval(probe).format() in report.summary()
    [comparison] = report.comparisons()
    expected = paired_difference(np.asarray(report.chosen_correct[0], float), np.asarray(report.chosen_correct[1], float),
                                 names=("linear", "mm"), clusters=report.chosen_pair_ids)
    assert comparison.difference == expected.difference and comparison.sentence() in report.summary()
    assert ("within noise" in comparison.sentence()) == comparison.within_noise
    assert any("No ranking between linear and mm" in c for c in report.caveats()) == comparison.within_noise
    for probe in report.probes:
        held = report.test_interval(probe).holds(0.5)
        assert any(c.startswith(f"{probe} at layer") and "holds chance" in c for c in report.caveats()) == held
    g = report.generalization().to_frame()
    ci = proportion_interval(round(g.accuracy[0] * report.generalization_n_test[0]), report.generalization_n_test[0])
    assert (g.accuracy_low[0], g.accuracy_high[0]) == pytest.approx((ci.low, ci.high))
    t = report.transfer()
    assert (t.accuracy_low <= t.accuracy).all() and (t.accuracy <= t.accuracy_high).all()
    assert report.plot().data[0].error_y.array is not None and report.transfer_plot().data[0].error_y.array is not None
    assert report.sweep().plot().data[0].error_y.array is not None
    again = load_result(report.save(tmp_path / "r.json"))
    assert again.chosen_correct == report.chosen_correct and again.comparisons()[0].difference == comparison.difference
    assert again.caveats() == report.caveats()


def _sweep(accuracy, n_test):
    from interp.truth import TruthSweepResult

    acc = np.asarray(accuracy, dtype=float).reshape(1, 1, -1)
    return TruthSweepResult(datasets=["a"], probes=["linear"], layers=list(range(acc.shape[2])), n_layers=4, accuracy=acc,
                            train_accuracy=acc, n_train=[100], n_test=[n_test])


def test_caveats_say_when_an_accuracy_interval_holds_chance():
    chance = _sweep([0.56], 50)  # 28 of 50: Wilson [0.42, 0.69]
    assert any("holds chance" in c for c in chance.caveats()) and chance.caveats()[0] in chance.summary()
    assert not any("holds chance" in c for c in _sweep([0.9], 200).caveats())
    assert "winner's curse" in " ".join(_sweep([0.6, 0.9], 200).caveats())  # a best of several layers
    assert not any("winner" in c for c in _sweep([0.9], 200).caveats())
    frame = _sweep([0.56], 50).to_frame()
    z, p, n = 1.959964, 0.56, 50  # Wilson by hand
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (frame.accuracy_low[0], frame.accuracy_high[0]) == pytest.approx((centre - half, centre + half), abs=1e-6)


def test_report_caveats_say_when_the_reach_is_clearly_below_in_distribution(report):
    import dataclasses

    far = dataclasses.replace(report, test_accuracy=np.full_like(report.test_accuracy, 0.95),
                              transfer_accuracy=[0.5] * len(report.transfer_datasets))
    assert any("clearly below the in-distribution" in c for c in far.caveats())
    assert any("at or near chance" in c for c in far.caveats())
    near = dataclasses.replace(far, transfer_accuracy=[0.95] * len(report.transfer_datasets))
    assert not any("clearly below" in c or "near chance" in c for c in near.caveats())


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
