"""Attribution: which input tokens drive a language model's prediction.

Methods (each returns an :class:`AttributionResult`: one score per input token or word, per target
token, with ``plot()`` / ``to_frame()`` / ``save()``):

- :func:`token_ablation`: occlusion; remove or replace each token and measure the drop;
- :func:`gradient_saliency`: ``gradient``, ``grad_x_input`` and ``integrated_gradients`` over the
  token embeddings (thin wrappers :func:`input_gradient`, :func:`grad_x_input`,
  :func:`integrated_gradients`);
- :func:`attention_rollout`: attention flow through the layers (and :func:`attention_maps`, every
  attention pattern as an :class:`AttentionResult`).

:data:`METHODS` names them for :func:`attribute`; :func:`faithfulness` scores one attribution
(ERASER comprehensiveness / sufficiency, deletion / insertion curves) and :func:`compare_methods`
runs them all on one prompt.

Importing this package is cheap; torch loads when a function is first used.

Example:
    >>> import interp
    >>> from interp.attribution import attribute, compare_methods
    >>> model = interp.load_model()
    >>> attribute(model, "The capital of France is", method="ablation").plot()
    >>> compare_methods(model, "The capital of France is", " Paris").to_frame()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

# public name -> module that defines it (imported on first access)
_LAZY = {
    "token_ablation": "interp.attribution.ablation",
    "gradient_saliency": "interp.attribution.gradient",
    "input_gradient": "interp.attribution.gradient",
    "grad_x_input": "interp.attribution.gradient",
    "integrated_gradients": "interp.attribution.gradient",
    "quadrature_rule": "interp.attribution.gradient",
    "attention_maps": "interp.attribution.attention",
    "attention_rollout": "interp.attribution.attention",
    "faithfulness": "interp.attribution.evaluation",
    "compare_methods": "interp.attribution.evaluation",
    "METHODS": "interp.attribution.methods",
    "attribute": "interp.attribution.methods",
    "AttributionResult": "interp.attribution.result",
    "AttentionResult": "interp.attribution.result",
    "FaithfulnessResult": "interp.attribution.result",
    "MethodComparisonResult": "interp.attribution.result",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
