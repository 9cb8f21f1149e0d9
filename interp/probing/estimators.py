"""Probes: small classifiers that read a property off hidden states, as scikit-learn estimators.

A probe is trained to predict a label (a part-of-speech tag, say) from a model's activations; if a
simple probe does well on held-out data, the information is linearly (or near-linearly) readable
at that layer (Alain & Bengio 2016; Hewitt & Liang 2019 for why a probe's accuracy alone can
mislead, and the control task that corrects for it: :mod:`interp.probing.control`).

Both probes standardise each feature first (a few residual dimensions are orders of magnitude
larger than the rest), then:

- :class:`LinearProbe`: multinomial logistic regression (``sklearn.linear_model.LogisticRegression``);
- :class:`MLPProbe`: one hidden ReLU layer (``sklearn.neural_network.MLPClassifier``).

They follow scikit-learn's contract: ``__init__`` only stores its arguments, ``fit`` returns
``self``, learned state ends in ``_``, ``predict`` before ``fit`` raises
:class:`~interp.errors.NotFittedError`, ``score`` is accuracy, and ``sklearn.base.clone`` works.
After fitting, the probe keeps only plain arrays (``coef_``, ``intercept_``, ``scaler_mean_``, ...)
and predicts from them with numpy, so :meth:`save` / :func:`load_probe` round-trip exactly through
JSON + safetensors, with no pickle: loading a probe cannot run code, and a file whose content does
not match its checksum is refused.

Example:
    >>> import numpy as np
    >>> from interp.probing.estimators import LinearProbe, load_probe
    >>> X = np.random.default_rng(0).normal(size=(200, 8)); y = (X[:, 0] > 0).astype(int)
    >>> probe = LinearProbe().fit(X, y)
    >>> probe.score(X, y) > 0.95
    True
    >>> probe.save("/tmp/probe.json"); (load_probe("/tmp/probe.json").predict(X) == probe.predict(X)).all()
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from interp._imports import import_preserving_state
from interp.errors import InvalidParameterError, InvalidProbeFileError, NotFittedError
from interp.results import atomic_write_bytes

import_preserving_state("sklearn")  # its first import sets KMP_* environment variables; they are put back
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.exceptions import NotFittedError as SklearnNotFittedError  # noqa: E402

__all__ = ["LinearProbe", "MLPProbe", "RidgeProbe", "MLPRegressorProbe", "Probe", "RegressionProbe", "load_probe",
           "PROBES", "make_probe", "register_probe_kind", "check_features", "check_labels"]

FORMAT_NAME = "interp.probe"
SCHEMA_VERSION = 1


def _check_xy(X: Any, y: Any, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    X = _check_x(X, where=where)
    if y is None:
        raise InvalidParameterError(f"{where} requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, as scikit-learn accepts it (with its warning)
        import warnings

        from sklearn.exceptions import DataConversionWarning

        warnings.warn(DataConversionWarning(f"A column-vector y was passed when a 1d array was expected ({where}). "
                                            "Please change the shape of y to (n_samples,), for example using ravel()."),
                      stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise InvalidParameterError(f"The labels given to {where} must be one-dimensional. Got shape {y.shape} instead.")
    if len(y) != len(X):
        raise InvalidParameterError(f"{where} got {len(X)} rows of features but {len(y)} labels; they must match.")
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y)
    if kind.startswith("continuous"):
        raise InvalidParameterError(f"Unknown label type: {kind}. The labels given to {where} must be classes "
                                    f"(ints, strings or bools), not continuous values such as {y[:3].tolist()!r}.")
    classes = np.unique(y)
    if len(classes) < 2:
        raise InvalidParameterError(f"{where} needs at least 2 distinct labels to fit a classifier. "
                                    f"Got only 1 class: {classes.tolist()!r}.")
    return X, y


def _check_x(X: Any, *, where: str, n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite (n_rows, n_features) numeric array, else InvalidParameterError saying what is wrong."""
    import scipy.sparse

    if scipy.sparse.issparse(X):
        raise InvalidParameterError(f"The features given to {where} are a sparse {type(X).__name__}; sparse input is "
                                    "not supported. Pass a dense array (X.toarray()).")
    X = np.asarray(X)
    if X.dtype == object:  # e.g. numbers in a pandas object column: convert, as scikit-learn does
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"The features given to {where} must be numbers; this object array holds "
                                        f"something else ({exc}).") from None
    if X.ndim != 2 or X.shape[0] == 0:
        hint = (" Reshape your data: X.reshape(-1, 1) if it has a single feature, X.reshape(1, -1) if it is a single "
                "row." if X.ndim == 1 else "")
        raise InvalidParameterError(f"The features given to {where} must be a non-empty 2-D array (n_rows, n_features). "
                                    f"Got shape {X.shape} instead.{hint}")
    if X.shape[1] == 0:
        raise InvalidParameterError(f"The features given to {where} have 0 feature(s) (shape={X.shape}) while a minimum "
                                    "of 1 is required.")
    if X.dtype.kind == "c":
        raise InvalidParameterError(f"Complex data not supported: the features given to {where} must be real numbers. "
                                    f"Got dtype {X.dtype} instead.")
    if X.dtype.kind not in "fiub":
        raise InvalidParameterError(f"The features given to {where} must be numbers. Got dtype {X.dtype} instead.")
    if n_features is not None and X.shape[1] != n_features:
        owner = where.split(".")[0]
        raise InvalidParameterError(f"{where}: X has {X.shape[1]} features, but {owner} is expecting {n_features} "
                                    "features as input (the number it was fitted on).")
    if not np.isfinite(X).all():
        raise InvalidParameterError(f"The features given to {where} contain NaN or infinity.")
    return X


class ProbeNotFittedError(NotFittedError, SklearnNotFittedError):
    """A probe was used before ``fit``: interp's :class:`~interp.errors.NotFittedError` and scikit-learn's
    ``NotFittedError`` at once, so ``except`` clauses and tools written for either catch it."""


class _SavedProbe(BaseEstimator):
    """What every probe shares, classifier or regressor: the fitted check, the standardisation and save/load."""

    _array_names: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = ""

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "coef_"):
            raise ProbeNotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(X, y) before {where}.")

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.scaler_mean_) / self.scaler_scale_

    def _fit_scaler(self, X: np.ndarray):
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(X)
        self.scaler_mean_ = np.ascontiguousarray(scaler.mean_, dtype=np.float64)
        self.scaler_scale_ = np.ascontiguousarray(scaler.scale_, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        return scaler.transform(X)

    # ------------------------------------------------------------------ saving
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays by name (what :meth:`save` stores); ``classes_`` is kept apart."""
        self._check_fitted("state_arrays")
        return {name: np.ascontiguousarray(getattr(self, name)) for name in self._array_names}

    @classmethod
    def from_state(cls, params: dict[str, Any], classes: list[Any], arrays: dict[str, np.ndarray],
                   *, source: str = "<state>") -> _Probe:
        """Rebuild a fitted probe from its parameters, classes and :meth:`state_arrays` (checked)."""
        try:
            probe = cls(**params)
        except TypeError as exc:
            raise InvalidProbeFileError(f"{source}: parameters {params!r} do not fit {cls.__name__}: {exc}") from None
        missing = [n for n in cls._array_names if n not in arrays]
        if missing:
            raise InvalidProbeFileError(f"{source} is missing the {cls.__name__} arrays {missing}.")
        for name in cls._array_names:
            array = np.ascontiguousarray(arrays[name], dtype=np.float64)
            if not np.isfinite(array).all():
                raise InvalidProbeFileError(f"{source}: array {name!r} holds NaN or infinity.")
            setattr(probe, name, array)
        probe._set_outputs(classes, source)
        probe.n_features_in_ = int(probe.scaler_mean_.shape[0]) if probe.scaler_mean_.ndim == 1 else -1
        problem = probe._shape_problem()
        if problem:
            raise InvalidProbeFileError(f"{source} is not a consistent {cls.__name__}: {problem}.")
        return probe

    def _set_outputs(self, outputs: list[Any], source: str) -> None:
        raise NotImplementedError  # classifiers keep classes_, regressors target_names_

    def _outputs(self) -> list[Any]:
        raise NotImplementedError

    def _shape_problem(self) -> str:
        raise NotImplementedError

    def to_document(self) -> dict[str, Any]:
        """The saved form: a JSON-ready dict with the arrays as base64 safetensors and a checksum."""
        self._check_fitted("save")
        from safetensors.numpy import save as save_arrays

        blob = save_arrays(self.state_arrays())
        classes = self._outputs()
        params = self.get_params()
        return {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "kind": self.kind, "params": params,
                "classes": classes, "arrays": base64.b64encode(blob).decode("ascii"),
                "sha256": _checksum(self.kind, params, classes, blob)}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted probe to ``path`` (JSON with its arrays as base64 safetensors), atomically."""
        return atomic_write_bytes(path, json.dumps(self.to_document()).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> _Probe:
        """Load a probe saved by :meth:`save`; ``LinearProbe.load`` also checks the kind."""
        probe = load_probe(path)
        if cls not in (_Probe, _SavedProbe, RegressionProbe) and not isinstance(probe, cls):
            raise InvalidProbeFileError(f"{path} holds a {type(probe).__name__}, not a {cls.__name__}.")
        return probe


class _Probe(ClassifierMixin, _SavedProbe):
    """Shared predict/save/load of the classifier probes; subclasses define ``fit`` and the forward pass
    (public as :data:`Probe`: subclass it for a probe kind of your own, with :func:`register_probe_kind`)."""

    def decision_function(self, X: Any) -> np.ndarray:
        """(n_rows, n_outputs) logits: one column per class, or one column for two classes."""
        self._check_fitted("decision_function")
        X = _check_x(X, where=f"{type(self).__name__}.decision_function", n_features=self.n_features_in_)
        return self._logits(self._standardise(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n_rows, n_classes) class probabilities, columns in the order of ``classes_``."""
        self._check_fitted("predict_proba")
        logits = self.decision_function(X)
        if logits.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """(n_rows,) the most likely class of each row."""
        self._check_fitted("predict")
        logits = self.decision_function(X)
        index = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(axis=1)
        return self.classes_[index]

    def _set_outputs(self, outputs: list[Any], source: str) -> None:
        self.classes_ = np.asarray(outputs)
        if self.classes_.ndim != 1 or len(self.classes_) < 2:
            raise InvalidProbeFileError(f"{source}: 'classes' must list at least 2 classes. Got {outputs!r}.")

    def _outputs(self) -> list[Any]:
        return self.classes_.tolist()

    def _shape_problem(self) -> str:
        d, k = self.n_features_in_, len(self.classes_)
        if self.scaler_mean_.shape != (d,) or self.scaler_scale_.shape != (d,) or d < 1:
            return (f"scaler_mean_ {self.scaler_mean_.shape} and scaler_scale_ {self.scaler_scale_.shape} must both "
                    "be (n_features,)")
        if not (self.scaler_scale_ > 0).all():
            return "scaler_scale_ must be positive"
        n_out = 1 if k == 2 else k
        width = self.coef_.shape[1] if self.coef_.ndim == 2 else -1
        if self.coef_.shape != (n_out, width) or self.intercept_.shape != (n_out,):
            return f"coef_ {self.coef_.shape} / intercept_ {self.intercept_.shape} do not match {k} classes"
        return ""


class LinearProbe(_Probe):
    """Multinomial logistic regression on standardised features.

    Args:
        C: inverse L2 regularisation strength (scikit-learn's ``C``).
        max_iter: most L-BFGS iterations.
        tol: stopping tolerance.

    Attributes (after ``fit``):
        classes_: (n_classes,) the labels, sorted.
        coef_: (n_classes, n_features) weights on standardised features ((1, n_features) for 2 classes).
        intercept_: (n_classes,) (or (1,)).
        scaler_mean_, scaler_scale_: (n_features,) the standardisation.

    Example:
        >>> LinearProbe(C=0.1).fit(X_train, y_train).score(X_test, y_test)
    """

    kind: ClassVar[str] = "LinearProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "coef_", "intercept_")

    def __init__(self, C: float = 1.0, max_iter: int = 200, tol: float = 1e-3):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any) -> LinearProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows,) labels ``y``; returns ``self``."""
        from sklearn.linear_model import LogisticRegression

        X, y = _check_xy(X, y, where="LinearProbe.fit")
        Z = self._fit_scaler(X)
        # scikit-learn's ConvergenceWarning is left to reach the caller (Python shows it once per place)
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol).fit(Z, y)
        self.classes_ = model.classes_
        self.coef_ = np.ascontiguousarray(model.coef_, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(model.intercept_, dtype=np.float64)
        self.n_iter_ = int(np.max(model.n_iter_))
        return self

    def _logits(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_.T + self.intercept_


class MLPProbe(_Probe):
    """A one-hidden-layer ReLU network on standardised features (``MLPClassifier``, Adam).

    Args:
        hidden_size: units in the hidden layer.
        alpha: L2 penalty.
        max_iter: most epochs.
        early_stopping: with 5,000 training rows or more, hold out 10% of them and stop when their
            accuracy stalls for 10 epochs (a smaller validation set is too noisy to stop on).
        random_state: seed of the initial weights and the shuffling.

    Attributes (after ``fit``):
        classes_, scaler_mean_, scaler_scale_: as :class:`LinearProbe`.
        hidden_coef_: (hidden_size, n_features), hidden_intercept_: (hidden_size,).
        coef_: (n_classes, hidden_size) ((1, hidden_size) for 2 classes), intercept_: (n_classes,).
    """

    kind: ClassVar[str] = "MLPProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "hidden_coef_", "hidden_intercept_",
                                               "coef_", "intercept_")

    def __init__(self, hidden_size: int = 128, alpha: float = 1e-3, max_iter: int = 200, early_stopping: bool = True,
                 random_state: int = 0):
        self.hidden_size = hidden_size
        self.alpha = alpha
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> MLPProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows,) labels ``y``; returns ``self``."""
        from sklearn.neural_network import MLPClassifier

        X, y = _check_xy(X, y, where="MLPProbe.fit")
        Z = self._fit_scaler(X)
        # scikit-learn's ConvergenceWarning is left to reach the caller (Python shows it once per place)
        model = MLPClassifier(hidden_layer_sizes=(int(self.hidden_size),), alpha=self.alpha, max_iter=self.max_iter,
                              early_stopping=self.early_stopping and len(y) >= 5000, random_state=self.random_state,
                              n_iter_no_change=10).fit(Z, y)
        self.classes_ = model.classes_
        self.hidden_coef_ = np.ascontiguousarray(model.coefs_[0].T, dtype=np.float64)
        self.hidden_intercept_ = np.ascontiguousarray(model.intercepts_[0], dtype=np.float64)
        self.coef_ = np.ascontiguousarray(model.coefs_[1].T, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(model.intercepts_[1], dtype=np.float64)
        self.n_iter_ = int(model.n_iter_)
        return self

    def _logits(self, Z: np.ndarray) -> np.ndarray:
        hidden = np.maximum(Z @ self.hidden_coef_.T + self.hidden_intercept_, 0.0)
        return hidden @ self.coef_.T + self.intercept_

    def _shape_problem(self) -> str:
        problem = super()._shape_problem()
        if problem:
            return problem
        h, d = self.coef_.shape[1], self.n_features_in_
        if self.hidden_coef_.shape != (h, d) or self.hidden_intercept_.shape != (h,):
            return (f"hidden_coef_ {self.hidden_coef_.shape} / hidden_intercept_ {self.hidden_intercept_.shape} "
                    f"must be ({h}, {d}) / ({h},)")
        return ""


class RegressionProbe(RegressorMixin, _SavedProbe):
    """Shared predict/save/load of the regression probes (continuous targets such as a place's latitude and
    longitude): ``predict`` gives (n_rows, n_targets), ``score`` is R^2 (scikit-learn's ``RegressorMixin``)."""

    def _set_outputs(self, outputs: list[Any], source: str) -> None:
        if not outputs or not all(isinstance(o, str) for o in outputs):
            raise InvalidProbeFileError(f"{source}: a regression probe lists its targets by name in 'classes'. "
                                        f"Got {outputs!r}.")
        self.target_names_ = list(outputs)

    def _outputs(self) -> list[Any]:
        return list(self.target_names_)

    def _shape_problem(self) -> str:
        d = self.n_features_in_
        if self.scaler_mean_.shape != (d,) or self.scaler_scale_.shape != (d,) or d < 1:
            return (f"scaler_mean_ {self.scaler_mean_.shape} and scaler_scale_ {self.scaler_scale_.shape} must both "
                    "be (n_features,)")
        if not (self.scaler_scale_ > 0).all():
            return "scaler_scale_ must be positive"
        return ""

    def _fit_targets(self, y: Any, n_rows: int, where: str) -> np.ndarray:
        if y is None:
            raise InvalidParameterError(f"{where} requires y to be passed, but the target y is None.")
        y = np.asarray(y)
        if y.dtype.kind in "iub":
            y = y.astype(np.float64)
        if y.ndim not in (1, 2) or len(y) != n_rows or y.dtype.kind != "f" or not np.isfinite(y).all():
            raise InvalidParameterError(f"The targets given to {where} must be finite numbers, (n_rows,) or "
                                        f"(n_rows, n_targets) with one row per feature row ({n_rows}). Got "
                                        f"{getattr(y, 'shape', None)} of dtype {getattr(y, 'dtype', None)}.")
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        names = self.target_names if getattr(self, "target_names", None) else [f"y{j}" for j in range(n_targets)]
        if len(names) != n_targets:
            raise InvalidParameterError(f"{where}: target_names {list(names)!r} do not match the {n_targets} target "
                                        "column(s).")
        self.target_names_ = [str(n) for n in names]
        return y

    def predict(self, X: Any) -> np.ndarray:
        """(n_rows, n_targets) predictions ((n_rows,) for a probe fitted on one target column)."""
        self._check_fitted("predict")
        X = _check_x(X, where=f"{type(self).__name__}.predict", n_features=self.n_features_in_)
        return self._forward(self._standardise(X))


#: the ridge penalties :class:`RidgeProbe` chooses from by leave-one-out (the world map's grid).
RIDGE_ALPHAS = tuple(np.logspace(-1, 5, 13).tolist())


class RidgeProbe(RegressionProbe):
    """Ridge regression on standardised features, its penalty chosen by efficient leave-one-out
    (``sklearn.linear_model.RidgeCV``): the linear probe for continuous targets (Gurnee & Tegmark 2023's
    space probe).

    Args:
        alphas: the penalties to choose from.
        target_names: names of the target columns (e.g. ``("lat", "lon")``), kept in the saved file.

    Attributes (after ``fit``):
        coef_: (n_targets, n_features) weights on standardised features; intercept_: (n_targets,);
        alpha_: (1,) the chosen penalty; scaler_mean_, scaler_scale_: (n_features,); target_names_.
    """

    kind: ClassVar[str] = "RidgeProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "coef_", "intercept_", "alpha_")

    def __init__(self, alphas: Any = RIDGE_ALPHAS, target_names: Any = None):
        self.alphas = alphas
        self.target_names = target_names

    def fit(self, X: Any, y: Any) -> RidgeProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows, n_targets) ``y``; returns ``self``."""
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = _check_x(X, where="RidgeProbe.fit")
        y = self._fit_targets(y, len(X), "RidgeProbe.fit")
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.asarray(self.alphas, dtype=np.float64)))
        model.fit(X.astype(np.float64), y)
        scaler, ridge = model[0], model[-1]
        self.scaler_mean_ = np.ascontiguousarray(scaler.mean_, dtype=np.float64)
        self.scaler_scale_ = np.ascontiguousarray(scaler.scale_, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        self.coef_ = np.ascontiguousarray(ridge.coef_, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(np.atleast_1d(ridge.intercept_), dtype=np.float64)
        self.alpha_ = np.array([float(ridge.alpha_)])
        return self

    def _forward(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_.T + self.intercept_  # as sklearn's Ridge.predict computes it ((n_rows,) for one target)

    def _shape_problem(self) -> str:
        problem = super()._shape_problem()
        k, d = len(self.target_names_), self.n_features_in_
        expected = ((d,), (1,)) if self.coef_.ndim == 1 else ((k, d), (k,))
        if not problem and (self.coef_.shape, self.intercept_.shape) != expected:
            problem = f"coef_ {self.coef_.shape} / intercept_ {self.intercept_.shape} must be {expected[0]} / {expected[1]}"
        return problem


class MLPRegressorProbe(RegressionProbe):
    """A one-hidden-layer ReLU network for continuous targets (``MLPRegressor``, Adam), on standardised
    features and standardised targets (Gurnee & Tegmark's nonlinear comparison).

    Args:
        hidden_size: units in the hidden layer.
        alpha: L2 penalty.
        max_iter: most epochs.
        early_stopping: hold out 10% of the training rows and stop when their score stalls.
        random_state: seed of the initial weights, the shuffling and the early-stopping split.
        target_names: names of the target columns.

    Attributes (after ``fit``):
        hidden_weights_: (n_features, hidden_size), hidden_intercept_: (hidden_size,); coef_: (hidden_size,
        n_targets) ((hidden_size,) for a 1-D target), intercept_: (n_targets,) (scikit-learn's layout);
        target_mean_, target_scale_: (n_targets,) the targets' standardisation; scaler_mean_, scaler_scale_: (n_features,).
    """

    kind: ClassVar[str] = "MLPRegressorProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "hidden_weights_", "hidden_intercept_",
                                               "coef_", "intercept_", "target_mean_", "target_scale_")

    def __init__(self, hidden_size: int = 256, alpha: float = 1.0, max_iter: int = 500, early_stopping: bool = True,
                 random_state: int = 0, target_names: Any = None):
        self.hidden_size = hidden_size
        self.alpha = alpha
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.target_names = target_names

    def fit(self, X: Any, y: Any) -> MLPRegressorProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows, n_targets) ``y``; returns ``self``."""
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = _check_x(X, where="MLPRegressorProbe.fit")
        y = self._fit_targets(y, len(X), "MLPRegressorProbe.fit")
        mlp = MLPRegressor(hidden_layer_sizes=(int(self.hidden_size),), alpha=self.alpha, early_stopping=self.early_stopping,
                           max_iter=self.max_iter, random_state=self.random_state)
        model = make_pipeline(StandardScaler(), TransformedTargetRegressor(mlp, transformer=StandardScaler()))
        model.fit(X.astype(np.float64), y)
        scaler, fitted, target = model[0], model[-1].regressor_, model[-1].transformer_
        self.scaler_mean_ = np.ascontiguousarray(scaler.mean_, dtype=np.float64)
        self.scaler_scale_ = np.ascontiguousarray(scaler.scale_, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        self.hidden_weights_ = np.ascontiguousarray(fitted.coefs_[0], dtype=np.float64)
        self.hidden_intercept_ = np.ascontiguousarray(fitted.intercepts_[0], dtype=np.float64)
        out = fitted.coefs_[1][:, 0] if y.ndim == 1 else fitted.coefs_[1]  # (hidden,) for one 1-D target
        self.coef_ = np.ascontiguousarray(out, dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(fitted.intercepts_[1], dtype=np.float64)
        self.target_mean_ = np.ascontiguousarray(target.mean_, dtype=np.float64)
        self.target_scale_ = np.ascontiguousarray(target.scale_, dtype=np.float64)
        self.n_iter_ = int(fitted.n_iter_)
        return self

    def _forward(self, Z: np.ndarray) -> np.ndarray:
        # the operations of MLPRegressor._forward_pass_fast and StandardScaler.inverse_transform, in their order
        hidden = Z @ self.hidden_weights_
        hidden += self.hidden_intercept_
        np.maximum(hidden, 0, out=hidden)
        out = hidden @ self.coef_
        out += self.intercept_
        out *= self.target_scale_
        out += self.target_mean_
        return out

    def _shape_problem(self) -> str:
        problem = super()._shape_problem()
        d, k = self.n_features_in_, len(self.target_names_)
        h = self.hidden_intercept_.shape[0] if self.hidden_intercept_.ndim == 1 else -1
        if not problem and (self.hidden_weights_.shape != (d, h) or self.coef_.shape not in ((h, k), (h,) * (k == 1))
                            or self.intercept_.shape != (k,) or self.target_mean_.shape != (k,)
                            or self.target_scale_.shape != (k,)):
            problem = (f"hidden_weights_ {self.hidden_weights_.shape}, coef_ {self.coef_.shape} and the target arrays "
                       f"must be ({d}, {h}), ({h}, {k}) and ({k},)")
        return problem


#: public names of the probe base classes and input checks (for probe kinds defined outside this module).
Probe = _Probe
check_features = _check_x
check_labels = _check_xy

#: the kinds for many classes (:data:`interp.probing.kinds.PROBE_KINDS` has them all) -> their classifier class.
PROBES: dict[str, type[_Probe]] = {"linear": LinearProbe, "mlp": MLPProbe}
# saved kind -> class, for load_probe
_KINDS: dict[str, type[_SavedProbe]] = {cls.kind: cls for cls in (LinearProbe, MLPProbe, RidgeProbe, MLPRegressorProbe)}


def make_probe(probe: str | _Probe, *, where: str, params: dict[str, Any] | None = None) -> _Probe:
    """A fresh unfitted classifier probe: from a kind name ("linear", "mlp"; :mod:`interp.probing.kinds`) and
    parameters, or a clone of a probe."""
    from interp.probing import kinds

    return kinds.make_probe(probe, where=where, params=params, allowed=list(PROBES))


def _checksum(kind: str, params: dict[str, Any], classes: list[Any], blob: bytes) -> str:
    digest = hashlib.sha256(json.dumps([kind, params, classes], sort_keys=True).encode("utf-8"))
    digest.update(blob)
    return digest.hexdigest()


def load_probe(path: str | os.PathLike) -> _SavedProbe:
    """Load a probe saved with ``probe.save(path)``, whatever its kind.

    Raises:
        InvalidProbeFileError: no such file, not a saved probe, an unknown kind, a checksum that does
            not match (the file was edited), or arrays inconsistent with each other.
    """
    document = read_document(path, FORMAT_NAME, "probe")
    return probe_from_document(document, source=str(path))


def read_document(path: str | os.PathLike, format_name: str, what: str) -> dict[str, Any]:
    """The JSON object in ``path`` whose ``"format"`` is ``format_name``, else :class:`InvalidProbeFileError`
    saying why it is not a saved ``what`` (no such file, not JSON, another format)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidProbeFileError(f"{path} is not a saved {what}: no such file.")
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidProbeFileError(f"{path} is not a saved {what}: it is not valid JSON ({exc}).") from None
    if not isinstance(document, dict) or document.get("format") != format_name:
        raise InvalidProbeFileError(f"{path} is not a saved {what}: its JSON has no \"format\": {format_name!r} entry.")
    return document


def register_probe_kind(cls: type[_SavedProbe]) -> type[_SavedProbe]:
    """Make ``load_probe`` know a probe class defined outside this module (a class decorator)."""
    _KINDS[cls.kind] = cls
    return cls


# kinds defined in other modules, imported when a file names them
_KIND_MODULES = {"MassMeanProbe": "interp.truth.probes", "StandardizedMeanDiffProbe": "interp.truth.probes",
                "CCSProbe": "interp.truth.probes", "PairDiffProbe": "interp.truth.probes"}


def probe_from_document(document: Any, *, source: str = "<document>") -> _Probe:
    """Rebuild a probe from :meth:`_Probe.to_document`'s dict, checking format, checksum and shapes.

    Raises:
        InvalidProbeFileError: anything that is not an untouched saved probe.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise InvalidProbeFileError(f"{source} is not a saved probe: its JSON has no \"format\": {FORMAT_NAME!r} entry.")
    version = document.get("schema_version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise InvalidProbeFileError(f"{source} has schema_version {version!r}; this interp reads 1 to {SCHEMA_VERSION}.")
    kind = document.get("kind")
    if kind in _KIND_MODULES and kind not in _KINDS:
        import importlib

        importlib.import_module(_KIND_MODULES[kind])
    if kind not in _KINDS:
        raise InvalidProbeFileError(f"{source} holds probe kind {kind!r}; known kinds: {sorted({*_KINDS, *_KIND_MODULES})}.")
    params, classes = document.get("params"), document.get("classes")
    if not isinstance(params, dict) or not isinstance(classes, list) or not isinstance(document.get("arrays"), str):
        raise InvalidProbeFileError(f"{source} is not a valid saved probe: 'params', 'classes' or 'arrays' is malformed.")
    try:
        blob = base64.b64decode(document["arrays"], validate=True)
    except ValueError:
        raise InvalidProbeFileError(f"{source}: its array data is not valid base64.") from None
    if document.get("sha256") != _checksum(kind, params, classes, blob):
        raise InvalidProbeFileError(f"{source} was modified after it was saved (its checksum does not match its "
                                    "content); refusing to load it.")
    from safetensors.numpy import load as load_arrays

    try:
        arrays = load_arrays(blob)
    except Exception as exc:  # SafetensorError and friends: a broken file
        raise InvalidProbeFileError(f"{source}: its array data is corrupt ({exc}).") from None
    return _KINDS[kind].from_state(params, classes, arrays, source=source)  # type: ignore[return-value]
