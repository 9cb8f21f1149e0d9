"""Circuits: which components carry an answer from the input to the output.

- :func:`direct_logit_attribution`: each head's, MLP's and neuron's direct write onto the logit
  difference at the last position, the final norm's scale frozen; the rows sum to the logit difference
  (:class:`DLAResult`).
- :func:`edge_attribution_patching`: EAP (Syed et al. 2023) or EAP-IG (Hanna et al. 2024) scores of every
  edge between the embeddings, each attention head (GQA query heads on their own), each MLP and the
  logits; the circuit is the top edges, checked by exact patching of every other edge against random edge
  sets of the same size (:class:`EdgeAttributionResult`).
- :func:`make_task` (IOI-style names, greater-than with years, country -> capital; seeded) and
  :func:`read_task_csv` (your own ``clean,corrupted,answer,foil`` pairs) make the :class:`CircuitTask`.

Example:
    >>> import interp
    >>> from interp.circuits import edge_attribution_patching, make_task
    >>> model = interp.load_model()
    >>> eap = edge_attribution_patching(model, make_task("ioi", n=20), method="eap-ig")
    >>> eap.summary()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "direct_logit_attribution": "interp.circuits.dla",
    "DLAResult": "interp.circuits.dla",
    "edge_attribution_patching": "interp.circuits.eap",
    "circuit_faithfulness": "interp.circuits.eap",
    "EdgeAttributionResult": "interp.circuits.eap",
    "CircuitTask": "interp.circuits.tasks",
    "make_task": "interp.circuits.tasks",
    "read_task_csv": "interp.circuits.tasks",
    "prepare_task": "interp.circuits.tasks",
    "TASKS": "interp.circuits.tasks",
    "build_graph": "interp.circuits._graph",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
