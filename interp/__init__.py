"""interp: see what a transformer language model is "thinking".

Analyses for four questions (which inputs drive the output, what hidden states encode, what the
representation space looks like, whether the model knows a statement is false) on any model
TransformerLens 4 can wrap, with one results format shared by notebooks, the CLI and the explorer.

``import interp`` is cheap: torch, transformers and TransformerLens load on first use of a name
that needs them.

Example:
    >>> import interp
    >>> model = interp.load_model()                      # SmolLM2-135M-Instruct, offline
    >>> model.top_next_tokens("The capital of France is", k=3).to_frame()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

__version__ = "0.2.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "load_model": "interp.models.loading",
    "list_models": "interp.models.loading",
    "Model": "interp.models.model",
    "TokenBatch": "interp.models.model",
    "ActivationCache": "interp.models.model",
    "TopTokensResult": "interp.models.model",
    "Result": "interp.results",
    "load_result": "interp.results",
    "run_spec": "interp.batch.runner",
    "Target": "interp.targets",
}
# (the deprecated interp.probes is not among them: ``import interp.probes`` still works, with a warning, until 0.3)
_SUBMODULES = ("errors", "results", "models", "attribution", "activations", "probing", "projection",
               "truth", "batch", "lens", "patching", "data_attribution", "ask", "replication", "circuits",
               "stats", "features", "steering")

__getattr__, __dir__, _public = lazy_exports(__name__, _LAZY, _SUBMODULES)
# interp.probes (interp.probing.estimators since 0.2, deprecated) still resolves as an attribute, but is not public
__all__ = ["__version__", *(name for name in _public if name != "probes")]
