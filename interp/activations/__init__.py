"""Residual-stream activations of many texts: batched, stopped early, optionally streamed to disk.

Probing (Alain & Bengio 2016, "Understanding intermediate layers using linear classifier probes")
asks what can be read off a hidden state. The first step is always the same: run the model over
many texts and keep the residual stream at some layers and some positions. :func:`collect` does
that once, well:

- layer ``0`` is the embedding output (``blocks.0.hook_resid_pre``: token embeddings, plus the
  learned positions on GPT-2) and layer ``l`` in ``1..n_layers`` is ``blocks.{l-1}.hook_resid_post``
  (the one layer convention of :mod:`interp.layers`);
- only those hook points are read, each batch's rows are gathered inside the hook, and the forward
  pass stops after the block of the deepest requested layer (no later block runs, nor the unembed; a
  request for the last layer also runs the final norm and unembed, at one position per text);
- the passes are the model's engine's (``model.run``, :mod:`interp.models.engine`): texts sorted by length
  into micro-batches its byte planner sizes (little padding), a pass that runs out of memory retried in
  halves, passes counted by ``model.count_passes()``; right padding on a causal model makes the values
  identical to running each text alone, up to float rounding;
- one row per (text, position): the ``"last"`` token, ``"all"`` tokens, the ``"mean"`` over tokens,
  or per word (``"word_last"``: each word's last sub-token, ``"word_mean"``: the mean of its
  sub-tokens), with words aligned to tokens through the tokenizer's character offsets. The BOS
  position is never a row (its norm dwarfs the others) unless ``include_bos=True``;
- with ``out=DIR`` the rows go to disk in safetensors shards (each written to a temporary file and
  renamed, so a shard is whole or absent, plus a JSON manifest with the inputs' hash), so memory
  stays flat however many texts there are, and a re-run with the same inputs reuses every finished shard.
  :meth:`Activations.load` opens ``DIR`` lazily;
- a runner that spreads the work (``interp run``) cuts the same shards with :func:`plan_shards`, computes
  each with :func:`collect_shard` (in any order, on any worker) and writes the manifest with
  :func:`finish_shards`: the folder is then the one ``collect(..., out=DIR)`` would have written.

The package: :mod:`~interp.activations._collect` (collecting, the shard plan run), ``_container``
(:class:`Activations`), ``_shards`` (the files on disk) and ``_words`` (word-token alignment); every
name is imported from here, ``interp.activations``.

Example:
    >>> import interp
    >>> from interp.activations import collect
    >>> model = interp.load_model("tiny-gpt2")
    >>> acts = collect(model, ["The cat sat.", "Dogs bark loudly"], layers=[0, 2], position="last")
    >>> acts[2].shape  # (n_rows, d_model)
    (2, 64)
    >>> acts.tokens
    ['.', ' loudly']
"""

from __future__ import annotations

from interp.activations._collect import (
    POSITIONS,
    _Collector,
    _plan,
    collect,
    collect_shard,
    finish_shards,
    plan_shards,
    resolve_layers,
)
from interp.activations._container import Activations
from interp.activations._shards import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    SHARD_BYTES,
    ShardPlan,
    _auto_shard_size,
    _check_out,
    _concat_meta,
    _model_fingerprint,
    _read_manifest,
    _read_shard_meta,
    _shard_hash,
    _shard_is_done,
    _write_manifest,
    _write_shard,
)
from interp.activations._words import WordsArg, word_spans, word_token_positions
from interp.layers import layer_hook_name

__all__ = ["collect", "Activations", "POSITIONS", "ShardPlan", "plan_shards", "collect_shard", "finish_shards",
           "layer_hook_name", "resolve_layers", "word_spans",
           "word_token_positions"]

# the private helpers stay reachable under their old names (interp <= 0.1 was one module; tests patch
# interp.activations._Collector.run_shard)
_PRIVATE = (_Collector, _plan, _auto_shard_size, _check_out, _concat_meta, _model_fingerprint,
            _read_manifest, _read_shard_meta, _shard_hash, _shard_is_done, _write_manifest, _write_shard, FORMAT_NAME,
            FORMAT_VERSION, MANIFEST, SHARD_BYTES, WordsArg)
