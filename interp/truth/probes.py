"""Truth probes: mass-mean (Marks & Tegmark 2023) and CCS (Burns et al. 2022), as interp probes.

All are :class:`interp.probing.estimators.Probe` estimators: scikit-learn's contract, ``predict_proba`` /
``score``, and ``save`` / ``load`` through the probe file format of :mod:`interp.probing.estimators` (JSON +
safetensors, checksummed). Logistic regression is :class:`interp.probing.estimators.LinearProbe` itself.

- :class:`MassMeanProbe` ("mm"): Marks & Tegmark's mass-mean probe, on the **raw** features: the
  direction is ``theta = mean(true) - mean(false)``; with ``covariance=True`` ("mm_iid") it is
  ``Sigma^+ theta`` with ``Sigma`` the within-class covariance and ``^+`` the pseudo-inverse of their
  code (eigenvalues below ``atol=1e-3`` dropped): the in-distribution, LDA-like variant of "The
  Geometry of Truth". A 1-D logistic fit on the projection sets the scale and threshold.
- :class:`StandardizedMeanDiffProbe` ("mm_std"): the class-mean difference of standardised features,
  i.e. ``(mu+ - mu-) / sigma^2`` per raw dimension (diagonal LDA). interp < 0.2 called it "mm".
- :class:`ContrastPCAProbe` ("lat"): the first principal direction of true-minus-false pair
  differences, RepE's LAT reading vector (Zou et al. 2023).
- :class:`CCSProbe` ("ccs"): Contrast-Consistent Search as Burns et al. 2022, "Discovering Latent Knowledge
  in Language Models Without Supervision". It sees contrast pairs (two statements, exactly one of them
  true) and **no labels**; each side of the pairs is normalised across the dataset on its own, then
  ``p = sigmoid(w.x + b)`` minimises ``(p(x+) - (1 - p(x-)))^2 + min(p(x+), p(x-))^2``,
  several random restarts, the lowest loss wins; a pair is scored together, ``(p(x+) + 1 - p(x-)) / 2``.
  Which side is "true" is unknown to it: report ``max(acc, 1 - acc)`` as the paper does
  (:func:`ccs_accuracy`), or call :meth:`CCSProbe.orient` with a few labelled rows after training (it
  only flips the sign).
- :class:`PairDiffProbe`: interp < 0.3's "CCSProbe", which centred each pair on its own mean: the same
  loss on pair differences, a LAT-like direction (not in ``TRUTH_PROBES``; old files load as it).

Example:
    >>> MassMeanProbe().fit(X, y).score(X_test, y_test)
    >>> ccs = CCSProbe().fit(X, pairs=pairs)          # pairs: (n_pairs, 2) row indices, no labels
    >>> ccs_accuracy(ccs, X_test, y_test)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from interp.errors import InvalidParameterError
from interp.probing.estimators import Probe, check_features, check_labels, register_probe_kind

__all__ = ["TRUTH_PROBES", "OLD_TRUTH_PROBES", "truth_probe_name", "truth_probe_names", "CCSProbe", "ContrastPCAProbe",
           "PairDiffProbe", "MassMeanProbe", "StandardizedMeanDiffProbe", "ccs_accuracy", "ccs_pair_accuracy", "make_truth_probe",
           "raw_direction"]


def raw_direction(probe: Probe) -> np.ndarray:
    """(n_features,) unit vector: the probe's weights expressed on the raw (unstandardised) features."""
    w = np.asarray(probe.coef_[0], dtype=np.float64) / probe.scaler_scale_
    return w / (np.linalg.norm(w) or 1.0)


@register_probe_kind
class MassMeanProbe(Probe):
    """Marks & Tegmark's mass-mean probe: the difference of the class means, on the raw features.

    ``theta = mean(true) - mean(false)`` in the original (unstandardised) feature space, and
    ``P(true | x) = sigmoid(a * theta_hat . (x - mean) + b)`` with ``a, b`` from a 1-D logistic fit on
    the training projections (the paper's ``sigmoid(theta . x)`` on centred activations, with the
    scale and threshold fitted instead of fixed). With ``covariance=True`` it is their "iid" variant:
    the projection is onto ``Sigma^+ theta``, with ``Sigma`` the within-class covariance
    (``x - mean(own class)`` pooled over both classes, divided by n) and ``Sigma^+`` its
    pseudo-inverse with eigenvalues below ``atol`` dropped, exactly as their ``MMProbe.from_data``.

    Args:
        covariance: use ``Sigma^+ theta`` (the in-distribution, LDA-like variant).
        atol: absolute eigenvalue cut-off of the pseudo-inverse (the paper's code uses 1e-3); only
            used with ``covariance=True``.

    Attributes (after ``fit``):
        classes_: (2,) the labels, sorted; the second is the positive ("true") class.
        coef_: (1, n_features) weights on the centred raw features (``scaler_scale_`` is all ones);
        intercept_: (1,).
        direction_: (n_features,) ``theta = mean(positive) - mean(negative)`` on the raw features, the
            vector :func:`interp.truth.steer_truth` adds; ``coef_`` is parallel to it unless
            ``covariance=True``.
        scaler_mean_: (n_features,) the training mean (centring only); scaler_scale_: ones.
    """

    kind: ClassVar[str] = "MassMeanProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "coef_", "intercept_", "direction_")

    def __init__(self, covariance: bool = False, atol: float = 1e-3):
        self.covariance = covariance
        self.atol = atol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # two classes only (true and false), as scikit-learn's checks expect
        return tags

    def fit(self, X: Any, y: Any) -> MassMeanProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows,) binary labels ``y``; returns ``self``."""
        X, y, classes = _binary_xy(X, y, where="MassMeanProbe.fit")
        if not isinstance(self.atol, (int, float)) or not self.atol >= 0:
            raise InvalidParameterError(f"The 'atol' parameter of MassMeanProbe must be a float >= 0. Got {self.atol!r}.")
        X = np.asarray(X, dtype=np.float64)
        pos = y == classes[1]
        mu_pos, mu_neg = X[pos].mean(0), X[~pos].mean(0)
        theta = mu_pos - mu_neg  # (d,) on raw features
        w = theta
        if self.covariance:
            centred = np.where(pos[:, None], X - mu_pos, X - mu_neg)  # (n, d)
            sigma = centred.T @ centred / len(X)
            w = _pinv_hermitian(sigma, float(self.atol)) @ theta
        self._fit_centring(X)
        coef, intercept = _calibrate_1d(X - self.scaler_mean_, w, pos)
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.direction_ = np.ascontiguousarray(theta)
        return self

    @classmethod
    def from_state(cls, params: dict[str, Any], classes: list[Any], arrays: dict[str, np.ndarray],
                   *, source: str = "<state>") -> Probe:
        """Rebuild a fitted probe; a "MassMeanProbe" saved by interp < 0.2 (standardised features, no
        ``atol``) loads as the :class:`StandardizedMeanDiffProbe` it really was, with a warning."""
        scale = arrays.get("scaler_scale_")
        if (cls is MassMeanProbe and "atol" not in params and scale is not None
                and not np.allclose(np.asarray(scale, dtype=np.float64), 1.0)):
            import warnings

            from interp.errors import LegacyFileWarning

            warnings.warn(f"{source} holds a 'MassMeanProbe' saved by interp < 0.2, which standardised the features "
                          "first (a diagonal-LDA direction, not Marks & Tegmark's mass-mean); it loads as "
                          "StandardizedMeanDiffProbe, with the same predictions.", LegacyFileWarning, stacklevel=3)
            cls = StandardizedMeanDiffProbe
        return Probe.from_state.__func__(cls, params, classes, arrays, source=source)

    def _fit_centring(self, X: np.ndarray) -> None:
        self.scaler_mean_ = np.ascontiguousarray(X.mean(0), dtype=np.float64)
        self.scaler_scale_ = np.ones(X.shape[1], dtype=np.float64)
        self.n_features_in_ = X.shape[1]

    def _logits(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_.T + self.intercept_

    def _shape_problem(self) -> str:
        problem = super()._shape_problem()
        if not problem and self.direction_.shape != (self.n_features_in_,):
            problem = f"direction_ {self.direction_.shape} must be ({self.n_features_in_},)"
        return problem


@register_probe_kind
class StandardizedMeanDiffProbe(MassMeanProbe):
    """The class-mean difference taken on standardised features: a diagonal-LDA direction, not mass-mean.

    Each feature is first scaled to unit variance, then ``theta_z = mean_z(true) - mean_z(false)``;
    on the original features that is ``(mu+ - mu-) / sigma^2`` per dimension, which down-weights the
    few huge residual dimensions. interp's truth figures before 0.2 called this probe "mm"; it is
    kept, under its own name ("mm_std"), for comparison. ``direction_`` is still the raw mean
    difference (what steering adds), so this probe classifies along another direction than it steers.
    With ``covariance=True`` it whitens by the within-class covariance of the standardised features.
    """

    kind: ClassVar[str] = "StandardizedMeanDiffProbe"

    def fit(self, X: Any, y: Any) -> StandardizedMeanDiffProbe:
        """Fit on (n_rows, n_features) ``X`` and (n_rows,) binary labels ``y``; returns ``self``."""
        X, y, classes = _binary_xy(X, y, where="StandardizedMeanDiffProbe.fit")
        X = np.asarray(X, dtype=np.float64)
        Z = self._fit_scaler(X)
        pos = y == classes[1]
        w = Z[pos].mean(0) - Z[~pos].mean(0)
        if self.covariance:
            centred = np.where(pos[:, None], Z - Z[pos].mean(0), Z - Z[~pos].mean(0))
            sigma = centred.T @ centred / len(Z)
            w = _pinv_hermitian(sigma, float(self.atol)) @ w
        self.coef_, self.intercept_ = _calibrate_1d(Z, w, pos)
        self.classes_ = classes
        self.direction_ = np.ascontiguousarray(X[pos].mean(0) - X[~pos].mean(0))
        return self


@register_probe_kind
class ContrastPCAProbe(MassMeanProbe):
    """The first principal direction of contrast-pair differences: the LAT reading vector of RepE.

    Zou et al. 2023 ("Representation Engineering", Linear Artificial Tomography) take the differences
    of the activations of paired stimuli and keep their first principal component. Here each pair is
    one true and one false statement, ``d_i = x_true - x_false`` on the raw features, and the direction
    is the top eigenvector of ``D^T D / n`` (the uncentred second moment of the differences: RepE
    shuffles each pair's order and lets PCA centre, which leaves this same matrix up to the small mean
    of the shuffled differences). Its sign is the one under which true statements project higher
    (``mean(d) . w > 0``, from the labels); a 1-D logistic fit sets scale and threshold, as for
    :class:`MassMeanProbe`. ``direction_`` is the unit LAT vector. Where mass-mean keeps the *mean*
    difference, LAT keeps the direction along which the pairs differ *most*, signal or not.

    ``fit(X, y, pairs=...)``: ``pairs`` (n_pairs, 2) row indices of one true and one false row each; by
    default the i-th true row is paired with the i-th false row.
    """

    kind: ClassVar[str] = "ContrastPCAProbe"

    def __init__(self):
        super().__init__()

    def fit(self, X: Any, y: Any, *, pairs: Any = None) -> ContrastPCAProbe:
        """Fit on (n_rows, n_features) ``X``, (n_rows,) binary ``y`` and optional (n_pairs, 2) ``pairs``."""
        X, y, classes = _binary_xy(X, y, where="ContrastPCAProbe.fit")
        X = np.asarray(X, dtype=np.float64)
        pos = y == classes[1]
        if pairs is None:
            true_rows, false_rows = np.flatnonzero(pos), np.flatnonzero(~pos)
            n = min(len(true_rows), len(false_rows))
            pairs = np.stack([true_rows[:n], false_rows[:n]], axis=1)
        pairs = _check_pairs(pairs, len(X), "ContrastPCAProbe.fit")
        first_true = pos[pairs[:, 0]]
        if not np.all(first_true != pos[pairs[:, 1]]):
            raise InvalidParameterError("ContrastPCAProbe.fit: every pair must hold one true and one false row.")
        diffs = np.where(first_true[:, None], X[pairs[:, 0]] - X[pairs[:, 1]], X[pairs[:, 1]] - X[pairs[:, 0]])
        _, vectors = np.linalg.eigh(diffs.T @ diffs / len(diffs))
        w = vectors[:, -1]
        if float(diffs.mean(0) @ w) < 0:
            w = -w
        self._fit_centring(X)
        self.coef_, self.intercept_ = _calibrate_1d(X - self.scaler_mean_, w, pos)
        self.classes_ = classes
        self.direction_ = np.ascontiguousarray(w)
        return self


def _binary_xy(X: Any, y: Any, *, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked features and labels of a two-class fit, and the two classes (sorted; the second is "true")."""
    X, y = check_labels(X, y, where=where)
    classes = np.unique(y)
    if len(classes) != 2:
        raise InvalidParameterError(f"Only binary classification is supported: {where} needs exactly 2 "
                                    f"classes (false and true); got {classes.tolist()!r}.")
    return X, y, classes


def _pinv_hermitian(sigma: np.ndarray, atol: float) -> np.ndarray:
    """Pseudo-inverse of a symmetric matrix, dropping eigenvalues of magnitude <= ``atol``
    (``torch.linalg.pinv(sigma, hermitian=True, atol=atol)``, as Marks & Tegmark's code)."""
    values, vectors = np.linalg.eigh(sigma)
    keep = np.abs(values) > atol
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def _calibrate_1d(Z: np.ndarray, w: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``coef_`` (1, d) and ``intercept_`` (1,) of ``sigmoid(a * w_hat . z + b)``, a and b by a 1-D logistic fit."""
    from sklearn.linear_model import LogisticRegression

    w_hat = w / (np.linalg.norm(w) or 1.0)
    s = Z @ w_hat  # (n,) projections
    spread = float(s.std()) or 1.0  # fit on unit-scale projections: residual norms reach 1e5 on some models
    scale = LogisticRegression(C=1e4).fit((s / spread)[:, None], pos.astype(int))
    coef = np.ascontiguousarray((scale.coef_[0, 0] / spread) * w_hat[None, :], dtype=np.float64)
    return coef, np.ascontiguousarray(scale.intercept_, dtype=np.float64)


def _check_pairs(pairs: Any, n_rows: int, where: str) -> np.ndarray:
    if pairs is None:
        if n_rows % 2:
            raise InvalidParameterError(f"{where}: without 'pairs', rows must come in consecutive contrast pairs "
                                        f"(an even number of rows). Got {n_rows} rows.")
        return np.arange(n_rows).reshape(-1, 2)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] == 0 or pairs.dtype.kind not in "iu":
        raise InvalidParameterError(f"The 'pairs' parameter of {where} must be a non-empty (n_pairs, 2) int array of "
                                    f"row indices. Got shape {pairs.shape}, dtype {pairs.dtype}.")
    if pairs.min() < 0 or pairs.max() >= n_rows:
        raise InvalidParameterError(f"The 'pairs' of {where} must index rows in [0, {n_rows}).")
    return pairs


@register_probe_kind
class CCSProbe(Probe):
    """Contrast-Consistent Search as Burns et al. 2022 define it: an unsupervised probe on contrast pairs.

    Each pair is two rows, a "+" side and a "-" side (in the paper the same question answered "Yes" and
    "No"), exactly one of them true. Each side is normalised **on its own across the dataset**
    (``x+ <- (x+ - mean(x+)) / std(x+)``, ``x- <- (x- - mean(x-)) / std(x-)``, per feature), which removes
    what every "+" row shares (the "Yes" token) so the probe cannot separate the sides by it. Then
    ``p = sigmoid(w.x + b)`` minimises ``(p(x+) - (1 - p(x-)))^2 + min(p(x+), p(x-))^2`` over the pairs
    (several random restarts, the lowest loss kept), and a pair is scored together:
    ``p~ = (p(x+) + 1 - p(x-)) / 2`` is the probability that its "+" side is the true one
    (:meth:`pair_proba`). Which side is "true" is unknown to it: report ``max(acc, 1 - acc)`` as the
    paper does (:func:`ccs_accuracy`, :func:`ccs_pair_accuracy`), or call :meth:`orient` with a few
    labelled rows (it only flips the sign).

    **The side must not follow the label.** If column 0 of ``pairs`` always held the true statement,
    normalising each side would subtract the class means and erase the truth signal. interp's truth
    datasets list the true statement first, so :func:`interp.truth.sweep.fit_truth_probe` gives CCS
    each pair in a random (seeded) order: a label-free side.

    A single statement (``predict_proba``) is normalised with the mean of the two sides' means and the
    root-mean of their variances (``scaler_mean_``, ``scaler_scale_``): with sides drawn at random the
    two normalisations agree; with template sides ("Yes"/"No") score pairs with :meth:`pair_proba`.

    Args:
        n_restarts: random initialisations; the one with the lowest final loss is kept.
        n_steps: full-batch Adam steps per restart.
        lr: Adam's learning rate.
        weight_decay: Adam's L2 penalty.
        random_state: seed of the initialisations.

    Attributes (after ``fit``):
        classes_: ``[0, 1]``; class 1 is whichever side CCS called "true" (see :meth:`orient`).
        coef_: (1, n_features); intercept_: (1,).
        side_mean_, side_scale_: (2, n_features) each side's normalisation ("+" first).
        scaler_mean_, scaler_scale_: (n_features,) the pooled normalisation of a single statement.
        loss_: the kept restart's final loss; oriented_: 1.0 if :meth:`orient` ran, else 0.0.
    """

    kind: ClassVar[str] = "CCSProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "side_mean_", "side_scale_", "coef_",
                                               "intercept_", "oriented_")

    def __init__(self, n_restarts: int = 10, n_steps: int = 400, lr: float = 1e-2, weight_decay: float = 1e-2,
                 random_state: int = 0):
        self.n_restarts = n_restarts
        self.n_steps = n_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    @classmethod
    def from_state(cls, params: dict[str, Any], classes: list[Any], arrays: dict[str, np.ndarray],
                   *, source: str = "<state>") -> Probe:
        """Rebuild a fitted probe; a "CCSProbe" saved by interp < 0.3 (a ``center`` parameter, each pair
        centred on its own mean) loads as the :class:`PairDiffProbe` it really was, with a warning."""
        if cls is CCSProbe and "center" in params:
            import warnings

            from interp.errors import LegacyFileWarning

            warnings.warn(f"{source} holds a 'CCSProbe' saved by interp < 0.3, which centred each pair on its own "
                          "mean (a LAT-like direction of the pair differences, not Burns et al.'s CCS); it loads as "
                          "PairDiffProbe, with the same predictions.", LegacyFileWarning, stacklevel=3)
            cls = PairDiffProbe
        return Probe.from_state.__func__(cls, params, classes, arrays, source=source)

    def _check_settings(self, where: str) -> None:
        for name in ("n_restarts", "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidParameterError(f"The '{name}' parameter of {type(self).__name__} must be an int >= 1. "
                                            f"Got {value!r}.")

    def _sides(self, Z: np.ndarray, pairs: np.ndarray, *, fit: bool) -> tuple[np.ndarray, np.ndarray]:
        """The two sides of each pair, each normalised on its own (fitted on the training pairs)."""
        a, b = Z[pairs[:, 0]], Z[pairs[:, 1]]
        if fit:
            means = np.stack([a.mean(0), b.mean(0)])
            scales = np.stack([a.std(0), b.std(0)])
            scales[scales <= 1e-12 * max(1.0, float(np.abs(means).max(initial=0.0)))] = 1.0
            self.side_mean_ = np.ascontiguousarray(means)
            self.side_scale_ = np.ascontiguousarray(scales)
        return (a - self.side_mean_[0]) / self.side_scale_[0], (b - self.side_mean_[1]) / self.side_scale_[1]

    def _prepare(self, X: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training sides (float64) and the pooled normalisation of a single statement."""
        a, b = self._sides(X, pairs, fit=True)
        self.scaler_mean_ = np.ascontiguousarray(self.side_mean_.mean(0))
        self.scaler_scale_ = np.ascontiguousarray(np.sqrt((self.side_scale_ ** 2).mean(0)))
        self.n_features_in_ = X.shape[1]
        return a, b

    def fit(self, X: Any, y: Any = None, *, pairs: Any = None) -> CCSProbe:
        """Fit on contrast pairs of rows of (n_rows, n_features) ``X``; ``y`` is ignored (no labels used).

        Args:
            X: (n_rows, n_features) features.
            y: ignored; accepted so scikit-learn tools can call ``fit(X, y)``.
            pairs: (n_pairs, 2) row indices, the "+" side first; by default rows (0, 1), (2, 3), ...
                The side must not follow the label (see the class docstring).
        """
        where = f"{type(self).__name__}.fit"
        X = check_features(X, where=where)
        self._check_settings(where)
        pairs = _check_pairs(pairs, len(X), where)
        a, b = self._prepare(np.asarray(X, dtype=np.float64), pairs)
        rng = np.random.default_rng(int(self.random_state))
        d, r = X.shape[1], int(self.n_restarts)
        w0 = rng.normal(size=(d, r)).astype(np.float32) / np.float32(d ** 0.5)  # (d, r) one column per restart
        # all restarts train at once, as columns: Adam and weight decay act per entry, so they stay independent
        w, bias, losses = _ccs_adam(a.astype(np.float32), b.astype(np.float32), w0, n_steps=int(self.n_steps),
                                    lr=float(self.lr), weight_decay=float(self.weight_decay))
        k = int(np.argmin(losses))
        self.loss_ = float(losses[k])
        self.classes_ = np.array([0, 1])
        self.coef_ = np.ascontiguousarray(w[:, k].astype(np.float64)[None, :])
        self.intercept_ = np.ascontiguousarray(bias[k:k + 1].astype(np.float64))
        self.oriented_ = np.zeros(1)
        return self

    def pair_proba(self, X: Any, pairs: Any) -> np.ndarray:
        """(n_pairs,) ``p~ = (p(x+) + 1 - p(x-)) / 2``: the probability that each pair's "+" side (column 0
        of ``pairs``) is the true one, each side normalised as in training (Burns et al.'s pair score)."""
        self._check_fitted("pair_proba")
        where = f"{type(self).__name__}.pair_proba"
        X = check_features(X, where=where)
        pairs = _check_pairs(pairs, len(X), where)
        a, b = self._sides(np.asarray(X, dtype=np.float64), pairs, fit=False)
        p_a, p_b = _sigmoid(self._logits(a)[:, 0]), _sigmoid(self._logits(b)[:, 0])
        return (p_a + 1.0 - p_b) / 2.0

    def loss_terms(self, X: Any, pairs: Any = None) -> dict[str, float]:
        """The CCS loss's two terms at the fitted weights on these pairs: ``consistency`` (mean of
        ``(p(x+) - (1 - p(x-)))^2``) and ``confidence`` (mean of ``min(p(x+), p(x-))^2``)."""
        self._check_fitted("loss_terms")
        where = f"{type(self).__name__}.loss_terms"
        X = check_features(X, where=where)
        pairs = _check_pairs(pairs, len(X), where)
        a, b = self._sides(np.asarray(X, dtype=np.float64), pairs, fit=False)
        p_a, p_b = _sigmoid(self._logits(a)[:, 0]), _sigmoid(self._logits(b)[:, 0])
        return {"consistency": float(np.mean((p_a - (1 - p_b)) ** 2)),
                "confidence": float(np.mean(np.minimum(p_a, p_b) ** 2))}

    def orient(self, X: Any, y: Any) -> CCSProbe:
        """Flip the sign if class 1 is more often wrong than right on a few labelled rows (0/1 labels).

        Only the sign changes: the direction was found without labels. Returns ``self``.
        """
        self._check_fitted("orient")
        X, y = check_labels(X, y, where=f"{type(self).__name__}.orient")
        if float(np.mean(self.predict(X) == np.asarray(y).astype(int))) < 0.5:
            self.coef_ = -self.coef_
            self.intercept_ = -self.intercept_
        self.oriented_ = np.ones(1)
        return self

    def _logits(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_.T + self.intercept_

    def _shape_problem(self) -> str:
        problem = super()._shape_problem()
        if not problem and self.oriented_.shape != (1,):
            problem = "oriented_ must be (1,)"
        if not problem and "side_mean_" in self._array_names:
            d = self.n_features_in_
            if self.side_mean_.shape != (2, d) or self.side_scale_.shape != (2, d) or not (self.side_scale_ > 0).all():
                problem = f"side_mean_ {self.side_mean_.shape} / side_scale_ must be (2, {d}), the scales positive"
        return problem


@register_probe_kind
class PairDiffProbe(CCSProbe):
    """CCS's loss on each pair's difference: a LAT-like direction, **not** Burns et al.'s CCS.

    interp < 0.3 called this "CCSProbe". It standardises the features over all rows, then subtracts each
    pair's mean from its two rows (``center="pair"``), so the sides become ``a`` and ``-a`` with
    ``a = (x1 - x2) / 2``. With bias 0 the consistency term ``(p(a) - (1 - p(-a)))^2`` is then zero for
    every ``w``, and the fit reduces to making ``|w . (x1 - x2)|`` large for every pair: the direction
    along which the pairs differ most, as RepE's LAT (:class:`ContrastPCAProbe`), signal or not. Where
    the two sides also differ by a constant vector (a "True"/"False" token), it follows that vector.
    ``center="none"`` skips the pair centring (each side standardised with the pooled statistics).
    Kept for comparison and so that old files load; use :class:`CCSProbe` for CCS.
    """

    kind: ClassVar[str] = "PairDiffProbe"
    _array_names: ClassVar[tuple[str, ...]] = ("scaler_mean_", "scaler_scale_", "coef_", "intercept_", "oriented_")

    def __init__(self, n_restarts: int = 10, n_steps: int = 400, lr: float = 1e-2, weight_decay: float = 1e-2,
                 center: str = "pair", random_state: int = 0):
        super().__init__(n_restarts=n_restarts, n_steps=n_steps, lr=lr, weight_decay=weight_decay,
                         random_state=random_state)
        self.center = center

    def _sides(self, Z: np.ndarray, pairs: np.ndarray, *, fit: bool) -> tuple[np.ndarray, np.ndarray]:
        Z = (Z - self.scaler_mean_) / self.scaler_scale_
        a, b = Z[pairs[:, 0]], Z[pairs[:, 1]]
        if self.center == "pair":
            mid = (a + b) / 2
            a, b = a - mid, b - mid
        return a, b

    def _prepare(self, X: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.center not in ("pair", "none"):
            raise InvalidParameterError(f"The 'center' parameter of PairDiffProbe must be 'pair' or 'none'. "
                                        f"Got {self.center!r}.")
        self._fit_scaler(X)
        return self._sides(X, pairs, fit=True)


def _ccs_loss(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """(n_restarts,) CCS loss of (n_pairs, n_restarts) probabilities of the two sides of each pair."""
    consistency = ((p1 - (1 - p2)) ** 2).mean(0)
    confidence = (np.minimum(p1, p2) ** 2).mean(0)
    return consistency + confidence


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _ccs_adam(xa: np.ndarray, xb: np.ndarray, w: np.ndarray, *, n_steps: int, lr: float, weight_decay: float,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-batch Adam on the summed CCS loss of every restart (columns of ``w``), in float32 numpy.

    The same steps as ``torch.optim.Adam(weight_decay=...)`` on the autograd gradient (L2 weight decay
    added to the gradient, bias-corrected moments), written out so a fit uses no torch thread pool:
    torch's pool is process-wide, and on a loaded CPU its threads contending made one small fit take
    seconds (interp used to pin it to one thread, which changed the whole process's setting).

    Args:
        xa, xb: (n_pairs, d) the two sides of each pair (float32).
        w: (d, n_restarts) initial weights; the biases start at 0.

    Returns:
        ``(w, bias, losses)``: (d, r), (r,) and each restart's final loss (r,).
    """
    w = np.array(w, dtype=np.float32)
    bias = np.zeros(w.shape[1], dtype=np.float32)
    n = np.float32(xa.shape[0])
    b1, b2 = betas
    moments = [(np.zeros_like(w), np.zeros_like(w)), (np.zeros_like(bias), np.zeros_like(bias))]
    for t in range(1, n_steps + 1):
        p1, p2 = _sigmoid(xa @ w + bias), _sigmoid(xb @ w + bias)  # (n, r)
        d_consistency = 2 * (p1 + p2 - 1) / n
        first_lower = p1 < p2  # d min(p1, p2)^2: only the smaller side gets the confidence gradient
        g1 = (d_consistency + np.where(first_lower, 2 * p1 / n, 0)) * p1 * (1 - p1)
        g2 = (d_consistency + np.where(first_lower, 0, 2 * p2 / n)) * p2 * (1 - p2)
        grads = (xa.T @ g1 + xb.T @ g2 + weight_decay * w, g1.sum(0) + g2.sum(0) + weight_decay * bias)
        for param, grad, (m, v) in zip((w, bias), grads, moments):
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
            param -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    losses = _ccs_loss(_sigmoid(xa @ w + bias), _sigmoid(xb @ w + bias))
    return w, bias, losses


def ccs_accuracy(probe: Probe, X: Any, y: Any) -> float:
    """Accuracy; for a CCS probe not yet oriented, up to the sign: ``max(acc, 1 - acc)`` (Burns et al.)."""
    acc = float(probe.score(X, np.asarray(y).astype(int)))
    if isinstance(probe, CCSProbe) and float(probe.oriented_[0]) == 0.0:
        return max(acc, 1.0 - acc)
    return acc  # supervised probes, and an oriented CCS probe: plain accuracy


def ccs_pair_accuracy(probe: CCSProbe, X: Any, pairs: Any, y: Any) -> float:
    """Share of pairs whose true side CCS's pair score ``p~`` (:meth:`CCSProbe.pair_proba`) picks; up to the
    sign (``max(acc, 1 - acc)``) for a probe not yet oriented. ``y``: (n_rows,) 0/1 labels of ``X``'s rows."""
    pairs = np.asarray(pairs)
    first_true = np.asarray(y).astype(int)[pairs[:, 0]] == 1
    acc = float(np.mean((probe.pair_proba(X, pairs) > 0.5) == first_true))
    return max(acc, 1.0 - acc) if float(probe.oriented_[0]) == 0.0 else acc


#: the truth probes' names -> what they fit: the kinds of :data:`interp.probing.kinds.PROBE_KINDS` a truth
#: analysis accepts ("linear" is logistic regression, the same LinearProbe as the POS probe's "linear").
TRUTH_PROBES = {"linear": "LinearProbe", "mm": "MassMeanProbe", "mm_iid": "MassMeanProbe (covariance)",
                "mm_std": "StandardizedMeanDiffProbe", "ccs": "CCSProbe", "lat": "ContrastPCAProbe"}
#: old names a truth analysis still accepts (never listed): "lr" is "linear", with an InterpDeprecationWarning
#: (its row of interp._deprecations.DEPRECATIONS) until interp 0.3.
OLD_TRUTH_PROBES = ("lr",)
#: the truth analyses' own defaults on top of a kind's: a more regularised logistic regression.
TRUTH_DEFAULTS: dict[str, dict[str, Any]] = {"linear": {"C": 0.1, "max_iter": 500}}


def truth_probe_name(name: Any, *, where: str, param: str = "probe") -> str:
    """The truth probe kind ``name`` stands for: one of :data:`TRUTH_PROBES`, or "linear" for its old name "lr"
    (with an InterpDeprecationWarning).

    Raises:
        InvalidParameterError: not a truth probe (the message lists :data:`TRUTH_PROBES`).
    """
    from interp._validation import check_choice
    from interp.probing.kinds import resolve_kind

    if isinstance(name, str) and name in OLD_TRUTH_PROBES:
        return resolve_kind(name, where=where, allowed=list(TRUTH_PROBES), param=param)
    return check_choice(name, list(TRUTH_PROBES), name=param, where=where)


def truth_probe_names(probes: Any, *, where: str, param: str = "probes") -> list[str]:
    """:func:`truth_probe_name` of a name or of each name of a list, in order, each once.

    Raises:
        InvalidParameterError: an empty list, or a name that is not a truth probe.
    """
    items = [probes] if isinstance(probes, str) else list(probes)
    if not items:
        raise InvalidParameterError(f"The {param!r} parameter of {where} is empty; choose from {list(TRUTH_PROBES)}.")
    return list(dict.fromkeys(truth_probe_name(p, where=where, param=param) for p in items))


def make_truth_probe(name: str, *, where: str, random_state: int = 0, params: dict[str, Any] | None = None) -> Probe:
    """A fresh probe by short name: "linear", "mm", "mm_iid" (covariance variant), "mm_std", "ccs" or "lat" (RepE's
    contrast-pair PCA), with ``params`` set (:func:`interp.probing.kinds.make_probe` with the truth defaults)."""
    from interp.probing.kinds import make_probe

    kind = truth_probe_name(name, where=where)
    defaults = dict(TRUTH_DEFAULTS.get(kind, {}))
    if kind == "ccs":
        defaults["random_state"] = random_state
    probe = make_probe(kind, where=where, params=defaults)
    if params:
        try:
            probe.set_params(**params)
        except ValueError as exc:
            raise InvalidParameterError(f"The parameters given to {where} for probe {name!r} do not fit "
                                        f"{type(probe).__name__}: {exc}") from None
    return probe
