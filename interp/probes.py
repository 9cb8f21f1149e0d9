"""Deprecated: the probe estimators moved to :mod:`interp.probing.estimators` (interp 0.2).

``interp.probes`` stays importable for one release, as the very same module (so its private helpers
and monkeypatches reach it too), and warns on import; it goes away in interp 0.3. Probe files never
named this module (they record a probe kind such as ``"LinearProbe"``), so files saved before the
rename load unchanged.
"""

from __future__ import annotations

import sys

from interp._deprecations import warn
from interp.probing import estimators as _estimators

warn("interp.probes", stacklevel=1)  # the message and the release that removes it: interp._deprecations
sys.modules[__name__] = _estimators
