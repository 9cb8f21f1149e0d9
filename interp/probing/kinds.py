"""The probe kinds: one vocabulary of probes for every analysis that fits one (a table, as
:mod:`interp.attribution.methods` is for attribution methods).

A kind is a name ("linear", "mlp", "mm", ...) for a probe class and the fixed parameters it stands for.
The same name serves labels and continuous targets where both make sense: "linear" is logistic
regression (:class:`~interp.probing.estimators.LinearProbe`) on part-of-speech tags or truth labels and
ridge regression (:class:`~interp.probing.estimators.RidgeProbe`) on a place's coordinates; "mlp" is
:class:`~interp.probing.estimators.MLPProbe` or :class:`~interp.probing.estimators.MLPRegressorProbe`.
The binary-only kinds come from :mod:`interp.truth.probes` (Marks & Tegmark's mass-mean, RepE's LAT,
Burns et al.'s CCS). Every kind's probe saves and loads the same way (JSON + safetensors, no pickle:
:func:`~interp.probing.estimators.load_probe`).

Analyses pick a kind by name and add their own defaults (the truth sweep regularises its logistic
regression more, ``C=0.1``); :func:`make_probe` builds it. Names used before interp 0.2 ("lr" for the
truth sweep's logistic regression, "ridge" for the world map's) still resolve, with an InterpDeprecationWarning
(:data:`RENAMED_KINDS`; their rows of :data:`interp._deprecations.DEPRECATIONS`), until interp 0.3.

Example:
    >>> from interp.probing.kinds import PROBE_KINDS, make_probe, kind_names
    >>> kind_names("labels")
    ['linear', 'mlp', 'mm', 'mm_iid', 'mm_std', 'lat', 'ccs']
    >>> kind_names("values")
    ['linear', 'mlp']
    >>> make_probe("linear", target="values", where="example")
    RidgeProbe()
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from interp.errors import InvalidParameterError, choices_text

__all__ = ["ProbeKind", "PROBE_KINDS", "RENAMED_KINDS", "TARGETS", "kind_names", "resolve_kind", "make_probe",
           "probe_class"]

#: what a probe predicts: "labels" (classes: a tag, true / false) or "values" (continuous targets: coordinates).
TARGETS = ("labels", "values")


@dataclasses.dataclass(frozen=True)
class ProbeKind:
    """One row of :data:`PROBE_KINDS`.

    Attributes:
        name: the kind's name.
        summary: one line saying what it fits.
        labels: "module:Class" of its probe for labels, or None.
        values: "module:Class" of its probe for continuous targets, or None.
        params: the fixed parameters the name stands for (``mm_iid`` is ``MassMeanProbe(covariance=True)``).
        binary: it reads two classes only (a true / false direction).
        pairs: it fits on contrast pairs (two statements, one true) rather than on labels alone.
    """

    name: str
    summary: str
    labels: str | None = None
    values: str | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    binary: bool = False
    pairs: bool = False

    def target_class(self, target: str) -> str | None:
        """"module:Class" for ``target`` ("labels" or "values"), or None if this kind has no probe for it."""
        return self.labels if target == "labels" else self.values


_EST = "interp.probing.estimators"
_TRUTH = "interp.truth.probes"

#: name -> :class:`ProbeKind`, in the order the choices are listed.
PROBE_KINDS: dict[str, ProbeKind] = {kind.name: kind for kind in (
    ProbeKind("linear", "logistic regression on labels, ridge regression (penalty by leave-one-out) on values",
              labels=f"{_EST}:LinearProbe", values=f"{_EST}:RidgeProbe"),
    ProbeKind("mlp", "one hidden ReLU layer (MLPClassifier / MLPRegressor)", labels=f"{_EST}:MLPProbe",
              values=f"{_EST}:MLPRegressorProbe"),
    ProbeKind("mm", "Marks & Tegmark's mass-mean direction on raw features", labels=f"{_TRUTH}:MassMeanProbe",
              binary=True),
    ProbeKind("mm_iid", "mass-mean with the within-class covariance (their in-distribution variant)",
              labels=f"{_TRUTH}:MassMeanProbe", params={"covariance": True}, binary=True),
    ProbeKind("mm_std", "class-mean difference of standardised features (diagonal LDA)",
              labels=f"{_TRUTH}:StandardizedMeanDiffProbe", binary=True),
    ProbeKind("lat", "RepE's LAT: first principal direction of contrast-pair differences",
              labels=f"{_TRUTH}:ContrastPCAProbe", binary=True, pairs=True),
    ProbeKind("ccs", "Burns et al.'s Contrast-Consistent Search (unsupervised, on contrast pairs)",
              labels=f"{_TRUTH}:CCSProbe", binary=True, pairs=True),
)}

#: old name -> (its kind now, the release that drops the old name).
RENAMED_KINDS: dict[str, tuple[str, str]] = {"lr": ("linear", "0.3"), "ridge": ("linear", "0.3")}


def kind_names(target: str = "labels", *, binary: bool = True) -> list[str]:
    """The kinds that fit ``target`` ("labels" or "values"); ``binary=False`` leaves out the two-class-only kinds."""
    return [name for name, kind in PROBE_KINDS.items()
            if kind.target_class(target) is not None and (binary or not kind.binary)]


def resolve_kind(name: Any, *, target: str = "labels", where: str, allowed: Any = None, param: str = "probe") -> str:
    """The kind ``name`` stands for: itself, or its new name (with an InterpDeprecationWarning) for an old one.

    Args:
        name: a kind name (or an old one from :data:`RENAMED_KINDS`).
        target: "labels" or "values": the kind must have a probe for it.
        where: the function or command, for the error message.
        allowed: the kinds this caller accepts (default: :func:`kind_names` of ``target``).
        param: the parameter's name, for the error message.

    Raises:
        InvalidParameterError: not a kind ``where`` accepts (the message lists them).
    """
    from interp._validation import check_choice

    allowed = list(kind_names(target) if allowed is None else allowed)
    if isinstance(name, str) and name in RENAMED_KINDS and name not in allowed:
        new, _ = RENAMED_KINDS[name]
        if new in allowed:
            from interp._deprecations import warn

            warn(f"probe kind {name!r}")  # its row of interp._deprecations.DEPRECATIONS: the message and the release
            return new
    return check_choice(name, allowed, name=param, where=where)


def probe_class(name: str, target: str = "labels") -> type:
    """The probe class of kind ``name`` for ``target`` (imported on first use)."""
    kind = PROBE_KINDS[name]
    spec = kind.target_class(target)
    if spec is None:
        raise InvalidParameterError(f"The probe kind {name!r} has no probe for {target}; kinds for {target}: "
                                    f"{choices_text(kind_names(target))}.")
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def make_probe(probe: Any, *, where: str, target: str = "labels", params: Mapping[str, Any] | None = None,
               allowed: Any = None) -> Any:
    """A fresh unfitted probe: of kind ``probe`` (a name, see :data:`PROBE_KINDS`) with ``params`` set over
    the kind's own, or a clone of a probe instance with ``params`` set.

    Raises:
        InvalidParameterError: an unknown kind (the message lists the kinds), or parameters the probe does not take
            (the message lists those it does).
    """
    from sklearn.base import BaseEstimator, clone

    if isinstance(probe, BaseEstimator):  # an interp probe instance (or any estimator): a fresh clone
        fresh = clone(probe)
        return fresh.set_params(**params) if params else fresh
    name = resolve_kind(probe, target=target, where=where, allowed=allowed)
    cls = probe_class(name, target)
    fresh = cls(**PROBE_KINDS[name].params)
    if params:
        try:
            fresh.set_params(**params)
        except ValueError as exc:
            raise InvalidParameterError(f"The probe parameters given to {where} do not fit {cls.__name__} (probe "
                                        f"{name!r}): {exc} Allowed: {sorted(fresh.get_params())}.") from None
    return fresh
