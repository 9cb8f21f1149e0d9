"""The probes are scikit-learn estimators: sklearn's own estimator checks, run over every probe class.

``parametrize_with_checks`` runs scikit-learn's API checks (get_params / clone, fit returns self, no
state set in ``__init__``, not-fitted errors, input validation, pickling, invariance to sample order
and subsets, ...) on one instance of each probe class: ``interp.probing.estimators`` (LinearProbe, MLPProbe, and the
regression probes RidgeProbe, MLPRegressorProbe) and
``interp.truth.probes`` (mass-mean and its variants, CCS). A check that does not apply to a probe is
listed in :func:`expected_failures` with the reason, and runs as a *strict* xfail: if it starts
passing, the test fails and the entry must go. Every probe class interp defines must have an instance
here (:func:`test_every_probe_class_is_checked`).

CCS is unsupervised over contrast pairs (rows 2i and 2i+1 by default), so the checks that fit on an
odd number of rows, or that need it to learn from ``y``, cannot apply; the contract they would have
checked is tested directly on paired data below.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import interp.truth.probes  # noqa: F401  (registers the truth probe classes)
from interp.errors import InvalidParameterError, NotFittedError
from interp.probing.estimators import _Probe, _SavedProbe

# class name -> the instances checked (small settings: every check fits a few times)
INSTANCES = {
    "LinearProbe": [{}],
    "MLPProbe": [{"hidden_size": 8, "max_iter": 100}],
    "MassMeanProbe": [{}, {"covariance": True}],
    "StandardizedMeanDiffProbe": [{}],
    "ContrastPCAProbe": [{}],
    "CCSProbe": [{"n_restarts": 2, "n_steps": 20}],
    "PairDiffProbe": [{"n_restarts": 2, "n_steps": 20}],
    "RidgeProbe": [{}],
    "MLPRegressorProbe": [{"hidden_size": 8, "max_iter": 300, "early_stopping": False}],
}


def _probe_classes() -> dict[str, type[_SavedProbe]]:
    out, todo = {}, [c for c in _SavedProbe.__subclasses__() if c is not _Probe] + list(_Probe.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("interp.") and cls.kind:  # a base class (RegressionProbe) has no kind
            out[cls.__name__] = cls
    return out


ESTIMATORS = [cls(**params) for name, cls in sorted(_probe_classes().items()) for params in INSTANCES.get(name, [])]

BINARY_DECISION = ("decision_function returns (n_rows, 1) logits for two classes, not scikit-learn's (n_rows,); "
                   "interp/truth/sweep/ and tests/test_truth.py read column 0, so the shape changes with them")
OBJECT_DTYPE = ("an object array holding a non-number raises interp's named InvalidParameterError (a ValueError) "
                "where scikit-learn expects numpy's TypeError; object arrays of numbers are accepted")
CCS_PAIRS = ("CCS fits on contrast pairs, rows (2i, 2i+1) by default, and refuses an odd number of rows; "
             "this check fits on an odd number (the contract is tested on paired data in this file)")
TARGET_OBJECT = ("an object array of targets raises interp's named InvalidParameterError saying the targets must be "
                 "numbers, not the message scikit-learn's check looks for")
MULTI_TARGET = ("a (n, 1) target is a valid one-column multi-target input of a regression probe (the world map fits "
                "two columns), so no DataConversionWarning is raised")
CCS_UNSUPERVISED = "CCS is unsupervised: it ignores y, so classes_ is always [0, 1] and y is never validated"


def expected_failures(estimator) -> dict[str, str]:
    """check name -> why it does not apply to this probe (strict xfails)."""
    if type(estimator).__name__ in ("RidgeProbe", "MLPRegressorProbe"):
        failures = {"check_dtype_object": TARGET_OBJECT}
        if type(estimator).__name__ == "RidgeProbe":
            failures["check_supervised_y_2d"] = MULTI_TARGET
        return failures
    failures = {"check_classifiers_train": BINARY_DECISION, "check_dtype_object": OBJECT_DTYPE}
    if type(estimator).__name__ in ("CCSProbe", "PairDiffProbe"):
        failures.update({name: CCS_PAIRS for name in (
            "check_estimators_overwrite_params", "check_estimators_fit_returns_self", "check_readonly_memmap_input",
            "check_n_features_in_after_fitting", "check_fit2d_1sample")})
        failures.update({name: CCS_UNSUPERVISED for name in (
            "check_classifiers_one_label", "check_classifiers_classes", "check_classifiers_train",
            "check_classifiers_regression_target", "check_supervised_y_no_nan", "check_supervised_y_2d")})
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_probe_class_is_checked():
    classes = _probe_classes()
    assert {"LinearProbe", "MLPProbe", "MassMeanProbe", "CCSProbe"} <= set(classes)
    unchecked = sorted(set(classes) - set(INSTANCES))
    assert not unchecked, f"probe classes without an instance in tests/test_estimators.py INSTANCES: {unchecked}"
    assert {type(e).__name__ for e in ESTIMATORS} == set(classes)


# ----------------------------------------------------------------------------- CCS on contrast pairs
def _pairs(n_pairs=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    u = np.eye(d)[0]
    subject = np.repeat(rng.normal(size=(n_pairs, d)), 2, axis=0)
    y = np.tile([1, 0], n_pairs)
    return subject + np.outer(np.where(y == 1, 1.0, -1.0), u) + 0.1 * rng.normal(size=(2 * n_pairs, d)), y


def test_ccs_follows_the_contract_on_paired_data():
    """What the xfailed checks would have asserted, on the input CCS is made for (even rows, no labels)."""
    from interp.truth.probes import CCSProbe

    X, y = _pairs()
    probe = CCSProbe(n_restarts=2, n_steps=60, lr=0.05)
    params = probe.get_params()
    fitted = probe.fit(X)
    assert fitted is probe  # fit returns self
    assert probe.get_params() == params  # and leaves the parameters alone
    assert probe.n_features_in_ == X.shape[1] and list(probe.classes_) == [0, 1]
    assert clone(probe).get_params() == params and not hasattr(clone(probe), "coef_")
    again = pickle.loads(pickle.dumps(probe))
    np.testing.assert_array_equal(again.predict_proba(X), probe.predict_proba(X))
    np.testing.assert_array_equal(CCSProbe(**params).fit(X).coef_, probe.coef_)  # same seed, same fit
    with pytest.raises(InvalidParameterError, match="X has 5 features, but CCSProbe is expecting 6 features"):
        probe.predict(X[:, :5])
    with pytest.raises(InvalidParameterError, match="even number of rows"):
        CCSProbe().fit(X[:3])
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(NotFittedError, match="not fitted yet") as info:
            getattr(CCSProbe(), method)(X)
        assert isinstance(info.value, SklearnNotFittedError)  # scikit-learn's tools recognise it too
