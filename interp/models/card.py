"""What a model is, in a form results can carry: name, source file, quantization, weights fingerprint.

Every figure interp reports belongs to one set of weights. :func:`model_card` says which: the name
it was loaded by, the file its weights were read from, their quantization (the default model is a
4-bit Q4_1 GGUF de-quantized to float32), their dtype, and a SHA-256 fingerprint of every parameter
(names, shapes, dtypes and bytes, in the order of ``named_parameters``). The fingerprint is computed
once per loaded model, on first use (~0.4 s for 135M float32 parameters), so two results with the
same fingerprint came from exactly the same weights.

Example:
    >>> card = model_card(interp.load_model("tiny-gpt2"))
    >>> sorted(card)
    ['dtype', 'fingerprint', 'name', 'quantization', 'source', 'source_file', 'weights']
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

__all__ = ["model_card", "weights_fingerprint", "CARD_KEYS"]

CARD_KEYS = ("name", "source", "source_file", "quantization", "weights", "dtype", "fingerprint")
_LOCK = threading.Lock()  # one fingerprint computation per model at a time (explorer sessions are threads)


def weights_fingerprint(model: Any) -> str:  # an interp Model (model.py imports this module)
    """``"sha256:<hex>"`` of every parameter of an :class:`interp.Model`'s wrapped model (computed once,
    then kept on ``model``)."""
    cached = getattr(model, "_weights_fingerprint", None)
    if cached:
        return cached
    import torch

    with _LOCK:
        cached = getattr(model, "_weights_fingerprint", None)
        if cached:
            return cached
        digest = hashlib.sha256()
        with torch.no_grad():
            for name, param in model.bridge.original_model.named_parameters():
                tensor = param.detach().to("cpu").contiguous()
                digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
                digest.update(memoryview(tensor.view(torch.uint8).reshape(-1).numpy()))
        value = f"sha256:{digest.hexdigest()}"
        model._weights_fingerprint = value
        cache = getattr(model, "_fingerprint_cache", None)  # (cache folder, dtype) of a packaged model
        if cache is not None:
            from interp.models._cache import store_fingerprint

            store_fingerprint(*cache, value)
    return value


def model_card(model: Any) -> dict[str, Any]:  # an interp Model, not imported (see above)
    """The identity of an :class:`interp.Model`'s weights, as the JSON-ready dict results record (keys: :data:`CARD_KEYS`)."""
    provenance = getattr(model, "provenance", None) or {}
    return {"name": model.name, "source": model.source, "source_file": provenance.get("source_file"),
            "quantization": provenance.get("quantization", "unknown"), "weights": provenance.get("weights", "unknown"),
            "dtype": str(model.dtype).replace("torch.", ""), "fingerprint": weights_fingerprint(model)}
