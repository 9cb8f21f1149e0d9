"""Inside the forward pass: activation patching, causal tracing (ROME) and attribution patching.

- :func:`activation_patching` -> :class:`PatchingResult`: patch clean activations into a corrupted run,
  one cell (site, layer, position[, head]) at a time, all cells batched;
- :func:`causal_tracing` -> :class:`CausalTraceResult`: Meng et al. 2022's indirect effects of hidden
  states, MLP and attention windows after noising the subject;
- :func:`attribution_patching` -> :class:`AttributionPatchingResult`: the gradient estimate of every
  cell from one forward and one backward pass (Nanda 2023; Kramar et al. 2024), with its top-k checked
  by exact patching.

All three run on one batched core (:func:`interp.patching._core.run_patched`): many patched cells as
rows of one forward pass under ``torch.inference_mode``, micro-batched to a memory budget in bytes.
:func:`generic_activation_patch` is that core for clean/corrupted pairs (any source into any target).
"""

from interp.patching.activation import PatchingResult, activation_patching, generic_activation_patch
from interp.patching.attribution import AttributionPatchingResult, attribution_patching
from interp.patching.tracing import CausalTraceResult, causal_tracing

__all__ = ["activation_patching", "generic_activation_patch", "PatchingResult", "causal_tracing",
           "CausalTraceResult", "attribution_patching", "AttributionPatchingResult"]
