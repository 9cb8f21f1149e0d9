"""Collecting: run the model over texts and gather the residual stream at some layers and positions.

:func:`collect` runs it in memory or into a shard folder; :func:`plan_shards`, :func:`collect_shard`
and :func:`finish_shards` are the same work cut into shards for a runner that spreads them
(``interp run``). See :mod:`interp.activations` for the method.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interp._validation import check_choice, check_int, check_layer, check_texts, parse_layers
from interp.activations._container import Activations
from interp.activations._shards import (
    ShardPlan,
    _auto_shard_size,
    _check_out,
    _concat_meta,
    _model_fingerprint,
    _shard_hash,
    _write_manifest,
    _write_shard,
)
from interp.activations._words import WordsArg, word_spans, word_token_positions
from interp.errors import InvalidParameterError, InvalidResultFileError
from interp.layers import layer_hook_name
from interp.progress import ProgressArg, ProgressCallback, TqdmProgress, resolve_progress

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["POSITIONS", "collect", "plan_shards", "collect_shard", "finish_shards", "resolve_layers"]

POSITIONS = ("last", "all", "mean", "word_last", "word_mean")


class _Stage:
    """One stage of a progress callback counted in units: reports ``(stage, 0, total)`` at once, then each
    :meth:`update`; :meth:`close` ends a tqdm bar that an error left open."""

    def __init__(self, callback: ProgressCallback, stage: str, total: int):
        self.callback, self.stage, self.total, self.done = callback, stage, total, 0
        callback(stage, 0, total)

    def update(self, n: int) -> None:
        self.done += n
        self.callback(self.stage, self.done, self.total)

    def close(self) -> None:
        if isinstance(self.callback, TqdmProgress):
            self.callback.close()


def resolve_layers(model: Model, layers: Any, *, where: str) -> list[int]:
    """``"all"``, an int, a sequence of ints or a string :func:`~interp._validation.parse_layers` reads (``"0,3,6"``,
    ``"0:31:3"``) -> sorted distinct layer indices in ``[0, n_layers]``."""
    if isinstance(layers, str):
        layers = parse_layers(layers, where=where)  # the one layer reader (the CLI's --layers, batch specs)
        if layers == "all":
            return list(range(model.n_layers + 1))
    items = [layers] if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool) else layers
    if not isinstance(items, (Sequence, np.ndarray)) or isinstance(items, (bytes, bytearray)) or len(items) == 0:
        raise InvalidParameterError(f"The 'layers' parameter of {where} must be 'all', an int or a non-empty list of "
                                    f"ints in [0, {model.n_layers + 1}). Got {layers!r} instead.")
    checked = [check_layer(int(l) if isinstance(l, np.integer) else l, model.n_layers, where=where, name="layers",
                           allow_embed=True) for l in items]
    return sorted(set(checked))



def collect(model: Model, texts: str | Sequence[str], *, layers: int | Sequence[int] | str, position: str = "last",
            words: WordsArg | None = None, batch_size: int | None = None, out: str | os.PathLike | None = None,
            shard_size: int | None = None, include_bos: bool = False,
            progress: ProgressArg = None) -> Activations:
    """Run ``model`` over ``texts`` and keep the residual stream at ``layers``, one row per position.

    Args:
        model: an :class:`interp.Model`.
        texts: a text or a list of texts.
        layers: ``"all"`` (0..n_layers), an int or a list of ints; 0 is the embedding output and
            ``l`` the output of block ``l - 1``; negative counts from the end.
        position: ``"last"`` (each text's last token), ``"all"`` (every token), ``"mean"`` (mean over
            tokens), ``"word_last"`` (each word's last sub-token) or ``"word_mean"`` (mean of each
            word's sub-tokens).
        words: for the word positions only, one list per text of its words in order (e.g. spaCy
            tokens) or of their ``(start, end)`` character spans.
        batch_size: texts per forward pass; by default as many as fit the engine's byte budget
            (:func:`interp.models.engine.plan`: ``model.run`` runs the passes).
        out: a folder to stream the rows into (safetensors shards + ``manifest.json``); finished
            shards of an earlier run with the same inputs are reused.
        shard_size: texts per shard, which bounds the rows held in memory at once; by default
            enough texts for about 128 MiB of activations per shard.
        include_bos: also make rows of the BOS position (``"all"``/``"mean"``); off by default
            because its norm is orders of magnitude above the other positions'.
        progress: stage ``"activations"``, counted in texts (:mod:`interp.progress`: None = a bar on a
            terminal, True / False, or a callable ``progress(stage, done, total)``).

    Returns:
        :class:`Activations`: ``acts[layer]`` is (n_rows, d_model) float32, rows in text order.

    Raises:
        EmptyPromptError: no texts, or an empty one.
        LayerIndexError: a layer outside [0, n_layers].
        InvalidParameterError: a bad position, words that do not match the texts, a bad batch size.

    Example:
        >>> acts = collect(model, ["The cat sat."], layers="all", position="word_last",
        ...                words=[["The", "cat", "sat", "."]])
        >>> acts.words, acts[1].shape
        (['The', 'cat', 'sat', '.'], (4, 64))
    """
    where = "collect"
    plan, items = _plan(model, texts, layers=layers, position=position, words=words, include_bos=include_bos,
                        shard_size=shard_size, where=where)
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)
    directory = _check_out(out, where) if out is not None else None

    bar = _Stage(resolve_progress(progress, where=where), "activations", len(items))
    collector = _Collector(model, list(plan.layers))
    in_memory: list[tuple[dict[str, Any], dict[int, np.ndarray]]] = []
    shard_files: list[str] = []
    try:
        for k, (a, b) in enumerate(plan.bounds):
            if directory is not None and plan.is_done(directory, k):
                bar.update(b - a)
                shard_files.append(plan.file(k))
                continue
            meta, arrays = collector.run_shard(items, a, b, words, position, include_bos, batch_size, bar)
            if directory is None:
                in_memory.append((meta, arrays))
                continue
            _write_shard(directory / plan.file(k), meta, arrays, plan.hashes[k])
            shard_files.append(plan.file(k))
            _write_manifest(directory, plan, shard_files, complete=False)
    finally:
        bar.close()
    from interp.models.card import model_card

    if directory is None:
        meta = _concat_meta([m for m, _ in in_memory])
        arrays = {l: np.concatenate([arr[l] for _, arr in in_memory]) for l in plan.layers}
        acts = Activations(layers=plan.layers, position=position, model_name=model.name, d_model=model.d_model,
                           n_texts=len(items), meta=meta, arrays=arrays)
    else:
        acts = finish_shards(plan, directory)
    acts.model_card = model_card(model)  # which weights these rows came from (probe results record it)
    return acts



def plan_shards(model: Model, texts: str | Sequence[str], *, layers: int | Sequence[int] | str, position: str = "last",
                words: WordsArg | None = None, shard_size: int | None = None,
                include_bos: bool = False) -> ShardPlan:
    """The shards ``collect(model, texts, ..., out=DIR, shard_size=shard_size)`` would write, without running.

    Arguments as :func:`collect`. Raises the same errors for bad input.

    Example:
        >>> plan = plan_shards(model, texts, layers="all", shard_size=256)
        >>> for k in range(len(plan)):
        ...     collect_shard(model, texts, plan, k, out="acts")   # on any worker, in any order
        >>> acts = finish_shards(plan, "acts")
    """
    return _plan(model, texts, layers=layers, position=position, words=words, include_bos=include_bos,
                 shard_size=shard_size, where="plan_shards")[0]



def collect_shard(model: Model, texts: str | Sequence[str], plan: ShardPlan, k: int, *, out: str | os.PathLike,
                  words: WordsArg | None = None, batch_size: int | None = None,
                  on_texts: Callable[[int], None] | None = None) -> bool:
    """Compute shard ``k`` of ``plan`` and commit it to ``out`` atomically, unless it is already there.

    The texts (and words) must be those the plan was made from. The shard is written to a temporary
    file and renamed, so it is whole or absent even if the process is killed. ``on_texts(n)`` is
    called after each micro-batch with its number of texts (for a progress bar).

    Returns:
        True if the model ran (the shard was computed), False if a finished shard was reused.
    """
    where = "collect_shard"
    check_int(k, name="k", where=where, low=0, high=len(plan))
    directory = _check_out(out, where)
    if plan.is_done(directory, k):
        return False
    items, _ = check_texts(texts, where=where, name="texts")
    a, b = plan.bounds[k]
    if len(items) != plan.n_texts or _shard_hash(plan.config, a, items[a:b], None if words is None else words[a:b]) \
            != plan.hashes[k]:
        raise InvalidParameterError(f"The texts given to {where} for shard {k} are not those the plan was made from "
                                    f"(or the model differs).")
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)

    class _Bar:
        def update(self, n: int) -> None:
            if on_texts is not None:
                on_texts(n)

    collector = _Collector(model, plan.layers)
    meta, arrays = collector.run_shard(items, a, b, words, plan.config["position"], plan.config["include_bos"], batch_size,
                                       _Bar())
    _write_shard(directory / plan.file(k), meta, arrays, plan.hashes[k])
    return True



def finish_shards(plan: ShardPlan, out: str | os.PathLike) -> Activations:
    """Write the manifest of a folder whose shards of ``plan`` are all done; return its :class:`Activations`.

    Shard files of an earlier, longer plan (``shard-*.safetensors`` beyond this plan's) are removed.

    Raises:
        InvalidResultFileError: a shard is missing or was made from other inputs.
    """
    directory = _check_out(out, "finish_shards")
    missing = [k for k in range(len(plan)) if not plan.is_done(directory, k)]
    if missing:
        raise InvalidResultFileError(f"{directory} lacks finished shards {missing[:5]} of {len(plan)}; compute them "
                                     "with collect_shard first.")
    files = [plan.file(k) for k in range(len(plan))]
    _write_manifest(directory, plan, files, complete=True)
    for stale in directory.glob("shard-*.safetensors"):  # shards of an earlier, longer run
        if stale.name not in files:
            stale.unlink()
    return Activations(layers=plan.layers, position=plan.config["position"], model_name=plan.model_name,
                       d_model=plan.config["d_model"], n_texts=plan.n_texts, directory=directory, shards=files)



def _plan(model: Any, texts: Any, *, layers: Any, position: str, words: WordsArg | None, include_bos: bool,
          shard_size: int | None, where: str) -> tuple[ShardPlan, list[str]]:
    """Validate :func:`collect`'s inputs and cut them into shards: (the plan, the texts as a list)."""
    if not hasattr(model, "bridge") or not hasattr(model, "encode"):
        raise InvalidParameterError(f"The 'model' parameter of {where} must be an interp.Model (see interp.load_model). "
                                    f"Got {type(model).__name__} instead.")
    items, _ = check_texts(texts, where=where, name="texts")
    layer_list = resolve_layers(model, layers, where=where)
    check_choice(position, POSITIONS, name="position", where=where)
    if position.startswith("word_"):
        if words is None or isinstance(words, str) or not isinstance(words, Sequence) or len(words) != len(items):
            given = "None" if words is None else f"{type(words).__name__} of length {len(words)}"
            raise InvalidParameterError(f"position={position!r} needs 'words': one list of words (or spans) per text, "
                                        f"{len(items)} lists here. Got {given} instead.")
    elif words is not None:
        raise InvalidParameterError(f"The 'words' parameter of {where} is only used with position 'word_last' or "
                                    f"'word_mean'; position is {position!r}.")
    if shard_size is None:
        shard_size = _auto_shard_size(items, position, len(layer_list), model.d_model)
    check_int(shard_size, name="shard_size", where=where, low=1)
    config = {"model": _model_fingerprint(model), "layers": layer_list, "position": position,
              "include_bos": bool(include_bos), "d_model": model.d_model}
    bounds = tuple((a, min(a + shard_size, len(items))) for a in range(0, len(items), shard_size))
    hashes = tuple(_shard_hash(config, a, items[a:b], None if words is None else words[a:b]) for a, b in bounds)
    input_hash = hashlib.sha256(json.dumps([config, list(hashes)]).encode()).hexdigest()
    return ShardPlan(model_name=model.name, config=config, n_texts=len(items), bounds=bounds, hashes=hashes,
                     input_hash=input_hash), items



class _Collector:
    """Gathers the requested layers' rows of each micro-batch inside hooks the engine installs for that pass.

    The forward passes are the engine's (``model.run`` with ``keep=None``): micro-batches from its byte planner
    (``batch_size`` texts each if given), the model's lock held, a micro-batch that runs out of memory retried in
    halves, passes counted by ``model.count_passes``. The blocks after the deepest layer asked for never run
    (``stop_at_layer``).
    """

    def __init__(self, model: Any, layers: list[int]):
        self.model = model
        self.layers = layers
        self.deepest = max(layers)
        # (output rows, layer -> (n_out, d_model) array) of the pass running now; set by its hooks
        self.current: tuple[list[int], dict[int, np.ndarray]] | None = None

    def _stop_at(self) -> int | None:
        """Blocks to run: layer l is the output of block l - 1 (layer 0 the embeddings, before block 0)."""
        stop = max(1, self.deepest)
        return None if stop >= self.model.n_layers else stop

    def run_shard(self, items: list[str], a: int, b: int, words: WordsArg | None, position: str, include_bos: bool,
                  batch_size: int | None, bar) -> tuple[dict[str, Any], dict[int, np.ndarray]]:
        import torch

        model = self.model
        ids = [model.encode(items[i], where="collect") for i in range(a, b)]
        first = 1 if model.prepend_bos and not include_bos else 0
        # rows of each text: list of token-position lists (one list per row)
        plan: list[list[list[int]]] = []
        word_of_row: list[list[int]] = []
        for k, i in enumerate(range(a, b)):
            n = len(ids[k])
            if position == "last":
                plan.append([[n - 1]])
            elif position == "all":
                plan.append([[p] for p in range(first, n)])
            elif position == "mean":
                plan.append([list(range(first, n))])
            else:
                per_word = word_token_positions(model, items[i], words[i], where="collect", item=i)  # type: ignore[index]
                plan.append(per_word if position == "word_mean" else [[p[-1]] for p in per_word])
            word_of_row.append(list(range(len(plan[-1]))) if position.startswith("word_") else [-1] * len(plan[-1]))
        starts = np.cumsum([0] + [len(p) for p in plan])
        n_rows = int(starts[-1])
        arrays = {l: np.empty((n_rows, model.d_model), dtype=np.float32) for l in self.layers}
        mean = position in ("mean", "word_mean")
        device = model.device

        def hooks(group: list[int], batch: Any) -> list[tuple[str, Any]]:
            """This micro-batch's hooks (``group``: its texts, right-padded so token p of a row is column p)."""
            rows, positions, segment, out_rows, counts = [], [], [], [], []
            for row, k in enumerate(group):
                for r, token_positions in enumerate(plan[k]):
                    rows += [row] * len(token_positions)
                    positions += token_positions
                    segment += [len(out_rows)] * len(token_positions)
                    counts.append(len(token_positions))
                    out_rows.append(int(starts[k]) + r)
            rows_t, positions_t = torch.tensor(rows, device=device), torch.tensor(positions, device=device)
            segment_t = torch.tensor(segment, device=device)
            counts_t = torch.tensor(counts, dtype=torch.float32, device=device) if mean else None
            outputs: dict[int, np.ndarray] = {}
            self.current = (out_rows, outputs)

            def hook_of(layer: int):
                def hook(x, hook):  # x: (batch, pos, d_model)
                    values = x[rows_t, positions_t].float()  # (n_tokens, d_model)
                    if counts_t is not None:  # mean over each row's tokens
                        values = torch.zeros((len(out_rows), x.shape[-1]), dtype=values.dtype,
                                             device=values.device).index_add_(0, segment_t, values) / counts_t[:, None]
                    outputs[layer] = values.to("cpu").numpy()
                return hook

            return [(layer_hook_name(l), hook_of(l)) for l in self.layers]

        def each(p: Any) -> None:
            """After the pass: its rows into the shard's arrays."""
            out_rows, outputs = self.current  # type: ignore[misc]
            if len(outputs) != len(self.layers):  # pragma: no cover - a hook point that did not fire
                raise RuntimeError(f"collect: hooks for layers {sorted(set(self.layers) - set(outputs))} did not run.")
            for l in self.layers:
                arrays[l][out_rows] = outputs[l]
            bar.update(len(p.rows))

        try:
            model.run(ids, keep=None, hooks=hooks, each=each, batch_size=batch_size, padding_side="right",
                      stop_at_layer=self._stop_at())
        finally:
            self.current = None
        text_index, token_position, tokens, word_index, word_text = [], [], [], [], []
        for k, i in enumerate(range(a, b)):
            strings = model.ids_to_str(ids[k])
            spans = word_spans(items[i], words[i]) if position.startswith("word_") else None  # type: ignore[index]
            for r, token_positions in enumerate(plan[k]):
                text_index.append(i)
                last = token_positions[-1] if not (position == "mean") else -1
                token_position.append(last)
                tokens.append(strings[last] if last >= 0 else "")
                word_index.append(word_of_row[k][r])
                word_text.append(items[i][spans[r][0]:spans[r][1]] if spans is not None else "")
        meta = {"text_index": np.asarray(text_index, dtype=np.int64),
                "token_position": np.asarray(token_position, dtype=np.int64),
                "word_index": np.asarray(word_index, dtype=np.int64), "tokens": tokens, "words": word_text}
        return meta, arrays

