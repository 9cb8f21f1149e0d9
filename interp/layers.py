"""What a layer number means in interp: one convention, used by every analysis.

**Layer l is the residual stream after block l - 1.** Layer ``0`` is the embedding output (token
embeddings, plus learned positions on GPT-2: ``blocks.0.hook_resid_pre``), layer ``l`` in
``1..n_layers`` is ``blocks.{l-1}.hook_resid_post``, and layer ``n_layers`` is the final residual
stream (before the last layer norm and the unembedding). A model with ``n_layers`` blocks has
``n_layers + 1`` layers; negative numbers count from the end, as in Python lists (``-1`` is
``n_layers``). :func:`layer_hook_name` is this convention in code.

Every ``layer`` / ``layers`` parameter (``collect``, ``truth_sweep``, ``LieDetector``, ``steer_truth``,
``pos_probe``, ``project``, ``world_map``, ``interp run`` specs, the CLI's ``--layers``) and every
``layer`` column of a result means this.

Attention is a property of a *block*, not of a residual-stream layer: block ``b`` reads layer ``b``
and writes layer ``b + 1``. :func:`~interp.attribution.attention_maps` therefore takes ``blocks``
(``0..n_layers - 1``), and :class:`~interp.attribution.AttentionResult` labels its patterns by block
(``L3H2`` is head 2 of block 3, the usual notation).

Example:
    >>> from interp.layers import layer_hook_name
    >>> layer_hook_name(0), layer_hook_name(3)
    ('blocks.0.hook_resid_pre', 'blocks.2.hook_resid_post')
"""

from __future__ import annotations

__all__ = ["layer_hook_name"]


def layer_hook_name(layer: int) -> str:
    """The hook point of residual-stream layer ``layer`` (in ``[0, n_layers]``): 0 is the embedding output,
    ``l`` the output of block ``l - 1``."""
    return "blocks.0.hook_resid_pre" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"
