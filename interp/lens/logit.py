"""The logit lens: read every layer's residual stream through the model's own output head.

nostalgebraist (2020), "interpreting GPT: the logit lens": the residual stream at layer ``l`` is put
through the model's final norm and unembedding as if it were the last layer, giving a next-token
distribution per layer and position. Early layers read this way are often far from the final
prediction (the head was trained only on the last layer); :mod:`interp.lens.linear` fits a
translator per layer first.

One generic core, :func:`read_lens`, serves every lens: it caches the requested layers' residual
streams (``interp.layers``: layer 0 = embeddings, ``l`` = output of block ``l - 1``, ``n_layers`` =
the final residual), optionally translates each (``translate(layer, resid)``), applies the readout
(``ln_final`` then ``unembed``) one layer at a time and keeps only the top ``k``, the target's rank and
probability, KL(final || lens) and the entropy: never a (layers, positions, vocabulary) array.
At layer ``n_layers`` the logit lens *is* the model's output (tested to 1e-4).

Example:
    >>> import interp
    >>> from interp.lens import logit_lens
    >>> model = interp.load_model()
    >>> result = logit_lens(model, "The Eiffel Tower is located in the city of", target=" Paris")
    >>> result.target_rank[:, -1]  # the rank of " Paris" at the last position, by layer
    >>> result.plot()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp import targets
from interp._validation import check_int, check_layer, check_texts, parse_layers
from interp.layers import layer_hook_name

if TYPE_CHECKING:
    from interp.lens.result import LensResult
    from interp.models.model import Model

__all__ = ["logit_lens", "read_lens", "lens_logits", "resolve_lens_layers", "resolve_target", "readout", "MAX_TOP_K"]

MAX_TOP_K = 50  # top tokens kept per cell

Translate = Callable[[int, torch.Tensor], torch.Tensor]  # (layer, (pos, d_model)) -> (pos, d_model)


def resolve_lens_layers(model: Model, layers: Any, *, where: str) -> list[int]:
    """``layers`` (None = every layer 0..n_layers; anything :func:`~interp._validation.parse_layers` reads)
    as sorted distinct layers in ``[0, n_layers]``."""
    if layers is None:
        return list(range(model.n_layers + 1))
    parsed = parse_layers(layers, where=where)
    if parsed == "all":
        return list(range(model.n_layers + 1))
    return sorted({check_layer(layer, model.n_layers, where=where, name="layers", allow_embed=True)
                   for layer in parsed})


def resolve_target(model: Model, target: Any, *, where: str) -> tuple[int | None, str | None]:
    """``(token id, token string)`` of a target: None, a string (its first token), a token id or an
    :class:`interp.Target` (its answer), resolved by :func:`interp.targets.token_ids`."""
    answer, _ = targets.split(target)
    if answer is None:
        return None, None
    token = targets.token_ids(model, answer, name="target", where=where)[0]
    return token, model.ids_to_str([token])[0]


def _target_text(target: Any) -> str | None:
    answer, _ = targets.split(target)
    return answer if isinstance(answer, str) else (None if answer is None else str(answer))


def readout(model: Model, resid: torch.Tensor) -> torch.Tensor:
    """The model's output head on a residual stream: ``unembed(ln_final(resid))``.

    Args:
        resid: (pos, d_model) on any device.

    Returns:
        (pos, d_vocab) float32 logits on CPU. The caller holds ``model.lock`` (submodules are called directly).
    """
    bridge = model.bridge
    x = resid.to(device=model.device, dtype=model.dtype)[None]  # (1, pos, d_model)
    return bridge.unembed(bridge.ln_final(x))[0].float().cpu()


def _residuals(model: Model, text: str, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """(pos, d_model) residual stream of one text at each layer in ``layers`` (CPU)."""
    names = {layer: layer_hook_name(layer) for layer in layers}
    cache = model.run_with_cache(text, list(names.values()))  # holds model.lock; stops after the deepest layer
    return {layer: cache[name][0] for layer, name in names.items()}


def lens_logits(model: Model, prompt: str, layer: int, *, translate: Translate | None = None) -> torch.Tensor:
    """The full (pos, d_vocab) logits a lens reads at one layer of ``prompt`` (for checks and custom metrics).

    Args:
        prompt: one text.
        layer: in ``[0, n_layers]`` (negative counts from the end).
        translate: ``translate(layer, resid) -> resid`` applied first (None: the logit lens).

    Returns:
        (pos, d_vocab) float32 logits on CPU. At ``layer = n_layers`` with no translation they are the
        model's own logits.
    """
    where = "lens_logits"
    (text,), _ = check_texts(prompt, where=where)
    layer = check_layer(layer, model.n_layers, where=where, allow_embed=True)
    model.encode(text, where=where)  # checks the length
    with model.lock, torch.inference_mode():
        resid = _residuals(model, text, [layer])[layer]
        if translate is not None and layer != model.n_layers:
            resid = translate(layer, resid)
        return readout(model, resid)


def read_lens(model: Model, prompt: str, *, translate: Translate | None = None, lens: str = "logit",
              target: str | int | None = None, layers: Any = None, top_k: int = 5,
              lens_info: dict[str, Any] | None = None, where: str = "read_lens") -> LensResult:
    """The generic core of every lens: residuals -> (translate) -> readout -> per-layer statistics.

    Args:
        prompt: one text (BOS prepended as the model does).
        translate: ``translate(layer, resid)`` with resid (pos, d_model), applied to every layer read
            except ``n_layers`` (which is already the final residual); None reads the raw residual.
        lens: the lens's name in the result ("logit", "linear").
        target: a continuation whose first token's rank and probability are kept, a token id, or None.
        layers: layers to read (default every one, ``0..n_layers``); the final layer is always run to
            compare with.
        top_k: top tokens kept per cell, in ``[1, MAX_TOP_K]``.
        lens_info: what the lens is, stored in the result.
        where: the public function's name for error messages.

    Returns:
        :class:`~interp.lens.LensResult` with (n_read, pos, ...) arrays.
    """
    from interp.lens.result import LensResult
    from interp.models.card import model_card

    (text,), _ = check_texts(prompt, where=where)
    top_k = check_int(top_k, name="top_k", where=where, low=1, high=min(MAX_TOP_K, model.d_vocab) + 1)
    read = resolve_lens_layers(model, layers, where=where)
    target_id, target_token = resolve_target(model, target, where=where)
    ids = model.encode(text, where=where)
    final_layer = model.n_layers
    n_pos = len(ids)
    top_ids = np.zeros((len(read), n_pos, top_k), dtype=np.int64)
    top_probs = np.zeros((len(read), n_pos, top_k), dtype=np.float32)
    kl = np.zeros((len(read), n_pos), dtype=np.float32)
    entropy = np.zeros((len(read), n_pos), dtype=np.float32)
    rank = np.zeros((len(read), n_pos), dtype=np.int64)
    prob = np.zeros((len(read), n_pos), dtype=np.float32)
    with model.lock, torch.inference_mode():
        resids = _residuals(model, text, sorted({*read, final_layer}))
        final_logp = torch.log_softmax(readout(model, resids[final_layer]).double(), dim=-1)  # (pos, d_vocab)
        final_p = final_logp.exp()
        for i, layer in enumerate(read):
            resid = resids[layer]
            if translate is not None and layer != final_layer:
                resid = translate(layer, resid)
            logits = readout(model, resid)  # (pos, d_vocab) float32
            logp = torch.log_softmax(logits.double(), dim=-1)
            p = logp.exp()
            values, indices = torch.topk(p, top_k, dim=-1)
            top_ids[i], top_probs[i] = indices.numpy(), values.float().numpy()
            kl[i] = (final_p * (final_logp - logp)).sum(-1).clamp_min(0).float().numpy()
            entropy[i] = (-(p * logp).sum(-1)).float().numpy()
            if target_id is not None:
                chosen = logits[:, target_id:target_id + 1]  # (pos, 1)
                rank[i] = ((logits > chosen).sum(-1) + 1).numpy()
                prob[i] = p[:, target_id].float().numpy()
    vocab = {int(t): s for t, s in zip(np.unique(top_ids).tolist(), model.ids_to_str(np.unique(top_ids).tolist()))}
    top_tokens = [[[vocab[int(t)] for t in top_ids[i, p]] for p in range(n_pos)] for i in range(len(read))]
    return LensResult(
        prompt=text, lens=lens, input_tokens=model.ids_to_str(ids), layers=read, top_ids=top_ids,
        top_probs=top_probs, top_tokens=top_tokens, kl=kl, entropy=entropy, target=_target_text(target),
        target_id=target_id, target_token=target_token,
        target_rank=rank if target_id is not None else None, target_prob=prob if target_id is not None else None,
        n_layers=model.n_layers, model_name=model.name, lens_info=dict(lens_info or {}), model_card=model_card(model))


def logit_lens(model: Model, prompt: str, *, target: str | int | None = None, layers: Any = None,
               top_k: int = 5) -> LensResult:
    """The logit lens (nostalgebraist 2020): every layer's residual stream through the model's own
    final norm and unembedding.

    Args:
        model: the model.
        prompt: one text.
        target: a continuation (e.g. " Paris"; its first token is tracked), a token id, or None.
        layers: layers to read (``interp.layers``; default all of ``0..n_layers``).
        top_k: top tokens kept per cell (1 to 50).

    Returns:
        :class:`~interp.lens.LensResult`: (n_read, pos) grids of top tokens, KL to the final
        distribution, entropy, and the target's rank and probability.

    Example:
        >>> r = logit_lens(model, "The Eiffel Tower is located in the city of", target=" Paris")
        >>> r.first_layer_in_top(10)  # the first layer from which " Paris" stays in the top 10
    """
    return read_lens(model, prompt, target=target, layers=layers, top_k=top_k, lens="logit", where="logit_lens",
                     lens_info={"readout": "ln_final + unembed"})
