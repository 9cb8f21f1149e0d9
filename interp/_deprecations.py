"""Every deprecated name interp still accepts, in one table, with the release that removes it.

A shim (a moved module, a renamed parameter or value) warns through :func:`warn` with its row of
:data:`DEPRECATIONS`, so the message, the warning class (:class:`interp.errors.InterpDeprecationWarning`, a
``DeprecationWarning``) and the removal release come from here. The policy: an old name keeps working for one
release after the one that renamed it, then goes. ``tests/test_deprecations.py`` triggers every row, checks
that it warns with its row's message, and fails once ``interp.__version__`` reaches a row's ``removed_in``
(remove the shim and its row then). CONTRIBUTING.md ("Deprecations") lists the table for readers.

Older names of *models* (``"SmolLM2-135M-Instruct"``) and older *files* (a pre-0.2 result kind, a pre-0.2
``MassMeanProbe`` or ``CCSProbe``) are not deprecations: they load under their current meaning for good, with a
``FutureWarning`` (a model name) or a :class:`~interp.errors.LegacyFileWarning` (a file).
"""

from __future__ import annotations

import dataclasses
import os
import warnings

__all__ = ["DEPRECATIONS", "Deprecation", "warn"]


@dataclasses.dataclass(frozen=True)
class Deprecation:
    """One deprecated name.

    Attributes:
        old: what is deprecated, as a user writes it; new: what to write instead.
        kind: "module", "parameter" or "value" (a value of a parameter, e.g. a method name).
        since: the release that renamed it; removed_in: the release that removes it.
        note: why, or what else to know (one clause, optional).
    """

    old: str
    new: str
    kind: str
    since: str
    removed_in: str
    note: str = ""

    def message(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return (f"{self.old} is renamed {self.new}{note}; {self.old} still works in interp {self.since} and goes away "
                f"in interp {self.removed_in}.")


DEPRECATIONS: dict[str, Deprecation] = {d.old: d for d in (
    Deprecation("interp.probes", "interp.probing.estimators", "module", "0.2", "0.3",
                "import LinearProbe, MLPProbe, load_probe, ... from there or from interp.probing; probe files never "
                "named the module, so they load unchanged"),
    Deprecation("attention_maps(layers=...)", "attention_maps(blocks=...)", "parameter", "0.2", "0.3",
                "the numbers are block indices, see interp.layers; the same results"),
    Deprecation("attribute_training(method='tracin')", "method='tracin_sgd'", "value", "0.2", "0.3",
                "the SGD approximation; 'tracin_adam' uses AdamW's second moments; also in evaluate_attribution"),
    Deprecation("probe kind 'lr'", "'linear'", "value", "0.2", "0.3",
                "the truth probes' logistic regression is the LinearProbe that POS calls 'linear': in probes= / probe= "
                "of truth_sweep, truth_report, generalization_matrix and LieDetector.fit, [probe].kinds and --probes; "
                "saved results that name 'lr' load unchanged"),
    Deprecation("probe kind 'ridge'", "'linear'", "value", "0.2", "0.3",
                "the world map's ridge regression, in probe= of world_map and [probe].kinds"),
)}


def warn(old: str, *, stacklevel: int | None = None) -> None:
    """Warn that ``old`` (a key of :data:`DEPRECATIONS`) is deprecated, with its row's message.

    The warning is attributed to the user's line: by default the first frame outside the ``interp`` package (so a
    wrapper such as ``validate_params`` in between changes nothing); ``stacklevel`` counts from the caller of
    :func:`warn` instead (2: the code that called the function that warns)."""
    import sys

    from interp.errors import InterpDeprecationWarning

    if stacklevel is None:
        package = os.path.dirname(os.path.abspath(__file__)) + os.sep
        frame, stacklevel = sys._getframe(1), 1
        while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
            frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(DEPRECATIONS[old].message(), InterpDeprecationWarning, stacklevel=stacklevel + 1)
