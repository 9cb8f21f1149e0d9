"""Attention patterns and attention rollout.

:func:`attention_maps` records every head's attention pattern (``blocks.{b}.attn.hook_pattern``) for
one prompt: (block, head, query, key), each row a probability distribution over earlier tokens.
Its ``to_frame()`` summarises each head (entropy, previous-token score, attention to the first
token) and ``plot()`` draws the block × head grid. Patterns belong to *blocks* (``0..n_layers - 1``;
block ``b`` reads the residual stream at layer ``b``, see :mod:`interp.layers`), hence ``blocks=``.

:func:`attention_rollout` (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers")
turns the patterns into a token attribution: average each layer's heads, add the identity for the
residual connection and renormalise the rows (``Â = (A + I) / 2``), then multiply the layers,
``R = Â_L ⋯ Â_1``. Row ``q`` of ``R`` says how much each input token flows into position ``q``; the
rows predicting the target are the attribution. It ignores the values, the MLPs and the output, so
it is a cheap, coarse view, not a faithful explanation of a particular prediction.

Example:
    >>> from interp.attribution import attention_maps, attention_rollout
    >>> maps = attention_maps(model, "The cat sat on the mat")
    >>> maps.patterns.shape                       # (n_blocks, n_heads, pos, pos)
    >>> maps.to_frame().sort_values("prev_token").tail(3)   # the previous-token heads
    >>> attention_rollout(model, "The cat sat on the mat").top(3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp._params import Interval, Layers, Options, validate_params
from interp._validation import check_layer, check_texts
from interp.attribution._core import (
    UNITS,
    build_result,
    prepare_all,
    resolve_targets,
)
from interp.attribution.result import AttentionResult, AttributionResult, rollout_matrix
from interp.errors import InvalidParameterError
from interp.models.card import model_card

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["attention_maps", "attention_rollout"]


def _patterns(model: Any, ids: list[int], blocks: list[int]) -> np.ndarray:
    """(len(blocks), n_heads, pos, pos) float32 attention patterns of one token sequence."""
    wanted = {f"blocks.{b}.attn.hook_pattern": i for i, b in enumerate(blocks)}
    out: list[torch.Tensor | None] = [None] * len(blocks)

    def keep(x: torch.Tensor, hook: Any) -> None:
        out[wanted[hook.name]] = x[0].detach().float().cpu()

    model.run([ids], keep=None, hooks=[(lambda name: name in wanted, keep)])
    if any(p is None for p in out):  # pragma: no cover - every supported architecture has hook_pattern
        raise RuntimeError(f"{model.name} did not record attention patterns at {sorted(wanted)}.")
    return torch.stack(out).numpy()  # type: ignore[arg-type]


@validate_params({
    "model": ["model"], "prompt": ["text"], "blocks": [Layers(allow_embed=False, text=False), None],
    "chat": ["boolean"], "system": [str, None], "layers": ["no_validation"],  # deprecated name; checked as 'layer'
})
def attention_maps(model: Model, prompt: str, *, blocks: Sequence[int] | None = None, chat: bool = False,
                   system: str | None = None, layers: Sequence[int] | None = None) -> AttentionResult:
    """Every attention pattern of ``prompt``: (block, head, query, key).

    Args:
        model: an :class:`interp.Model`.
        prompt: one prompt.
        blocks: the blocks whose attention to keep, in ``[0, n_layers)`` (all by default; negative
            numbers count from the end). Block ``b``'s heads read the residual stream at layer ``b``
            (:mod:`interp.layers`). The patterns take ``n_blocks * n_heads * pos^2 * 4`` bytes, so
            keep fewer for long prompts.
        chat, system: wrap the prompt in the model's chat template.
        layers: deprecated name of ``blocks`` (interp < 0.2; the same numbers); warns.

    Returns:
        :class:`AttentionResult` with ``patterns`` (n_blocks_kept, n_heads, pos, pos), the block of
        each (``blocks``; the saved field is ``layers``) and every token (BOS included).

    Example:
        >>> maps = attention_maps(model, "one two three one two", blocks=[0, -1])
        >>> maps.head_summary()["prev_token"].max()
    """
    where = "attention_maps"
    name = "blocks"
    if layers is not None:
        if blocks is not None:
            raise InvalidParameterError(f"{where} takes 'blocks' or its deprecated name 'layers', not both. "
                                        f"Got blocks={blocks!r} and layers={layers!r}.")
        from interp._deprecations import warn

        warn("attention_maps(layers=...)")
        blocks, name = layers, "layer"
    (text,), _ = check_texts(prompt, where=where)
    kept = list(range(model.n_layers)) if blocks is None else [check_layer(b, model.n_layers, where=where, name=name)
                                                                for b in blocks]
    if not kept:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must name at least one block in "
                                    f"[0, {model.n_layers}). Got an empty list.")
    kept = sorted(set(kept))
    (prep,), _ = prepare_all(model, text, unit="token", chat=chat, system=system, where=where)
    patterns = _patterns(model, prep.ids, kept)
    return AttentionResult(prompt=prep.prompt, tokens=model.ids_to_str(prep.ids), patterns=patterns, layers=kept,
                           model_name=model.name, model_card=model_card(model))


@validate_params({
    "model": ["model"], "prompt": ["texts"], "target": [str, list, tuple, None], "unit": [Options(UNITS)],
    "chat": ["boolean"], "system": [str, None], "batch_size": [Interval(int, 1, None), None],
})
def attention_rollout(model: Model, prompt: str | Sequence[str], target: str | Sequence[str] | None = None, *,
                      unit: str = "token", chat: bool = False, system: str | None = None,
                      batch_size: int | None = None) -> AttributionResult | list[AttributionResult]:
    """Attention rollout over the input tokens (Abnar & Zuidema 2020).

    Args:
        model: an :class:`interp.Model`.
        prompt: a prompt or a list of prompts.
        target: only sets which positions are read: the rollout row of each position that predicts a
            target token (the last prompt token for a one-token target). None: the top next token.
        unit: "token", or "word" (a word's score is the sum of its tokens').
        chat, system: as in :func:`~interp.attribution.token_ablation`.
        batch_size: used only to find the top next token.

    Returns:
        :class:`AttributionResult` with ``method="rollout"``: the rollout rows (n_targets, n_units)
        over the prompt's units. The share that flows from the BOS token (often most of it) is not a
        unit; it is ``metadata["bos_share"]``.

    Example:
        >>> attention_rollout(model, "The capital of France is").top(3)
    """
    where = "attention_rollout"
    preps, single = prepare_all(model, prompt, unit=unit, chat=chat, system=system, where=where)
    resolve_targets(model, preps, target, None, where=where, batch_size=batch_size)
    results = []
    blocks = list(range(model.n_layers))
    for prep in preps:
        seq = prep.sequence()
        rollout = rollout_matrix(_patterns(model, seq, blocks))
        n_targets = len(prep.target_ids)
        rows = rollout[len(seq) - n_targets:]  # (n_targets, pos): the positions predicting the target
        scores = np.stack([rows[:, u].sum(axis=1) for u in prep.units], axis=1)
        first = prep.first
        meta = {"unit": unit, "bos_share": [float(v) for v in rows[:, :first].sum(axis=1)]}
        results.append(build_result(model, prep, scores, method="rollout", metric="attention flow",
                                    target_values=np.ones(n_targets), metadata=meta))
    return results[0] if single else results
