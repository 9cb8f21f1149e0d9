"""Loading models and the :class:`Model` wrapper (``import interp.models`` stays light: torch loads with the model)."""

from interp._lazy import lazy_exports

_LAZY = {
    "list_models": "interp.models.loading",
    "load_model": "interp.models.loading",
    "ActivationCache": "interp.models.model",
    "Model": "interp.models.model",
    "TokenBatch": "interp.models.model",
    "TopTokensResult": "interp.models.model",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
