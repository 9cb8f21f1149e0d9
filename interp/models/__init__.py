"""Loading models and the hooked :class:`Model` wrapper (imports torch: import it lazily)."""

from interp.models.loading import list_models, load_model
from interp.models.model import ActivationCache, Model, TokenBatch, TopTokensResult

__all__ = ["load_model", "list_models", "Model", "TokenBatch", "ActivationCache", "TopTokensResult"]
