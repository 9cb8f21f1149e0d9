"""Residual-stream activations of many texts: batched, stopped early, optionally streamed to disk.

Probing (Alain & Bengio 2016, "Understanding intermediate layers using linear classifier probes")
asks what can be read off a hidden state. The first step is always the same: run the model over
many texts and keep the residual stream at some layers and some positions. :func:`collect` does
that once, well:

- layer ``0`` is the embedding output (``blocks.0.hook_resid_pre``: token embeddings, plus the
  learned positions on GPT-2) and layer ``l`` in ``1..n_layers`` is ``blocks.{l-1}.hook_resid_post``
  (the one layer convention of :mod:`interp.layers`);
- only those hook points are read, each batch's rows are gathered inside the hook, and the forward
  pass is stopped right after the deepest requested layer (nothing later runs, not even the unembed);
- texts are sorted by length into micro-batches (little padding); right padding on a causal model
  makes the values identical to running each text alone, up to float rounding;
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

import bisect
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp._validation import check_choice, check_int, check_layer, check_texts
from interp.errors import InvalidParameterError, InvalidResultFileError
from interp.layers import layer_hook_name
from interp.results import atomic_path, atomic_write_bytes

__all__ = ["collect", "Activations", "POSITIONS", "ShardPlan", "plan_shards", "collect_shard", "finish_shards",
           "layer_hook_name", "resolve_layers", "word_spans",
           "word_token_positions"]

POSITIONS = ("last", "all", "mean", "word_last", "word_mean")
FORMAT_NAME = "interp.activations"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_BYTES = 128 * 2**20  # default shard size: about this many bytes of activations

WordsArg = Sequence[Sequence[str] | Sequence[tuple[int, int]]]


class _StopForward(Exception):
    """Raised by the deepest hook to end the forward pass early; never escapes :func:`collect`."""


# ----------------------------------------------------------------------------- layers
def resolve_layers(model: Any, layers: Any, *, where: str) -> list[int]:
    """``"all"``, an int or a sequence of ints -> sorted distinct layer indices in ``[0, n_layers]``."""
    if isinstance(layers, str):
        if layers != "all":
            raise InvalidParameterError(f"The 'layers' parameter of {where} must be 'all', an int or a list of ints "
                                        f"in [0, {model.n_layers + 1}). Got {layers!r} instead.")
        return list(range(model.n_layers + 1))
    items = [layers] if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool) else layers
    if not isinstance(items, (Sequence, np.ndarray)) or isinstance(items, (bytes, bytearray)) or len(items) == 0:
        raise InvalidParameterError(f"The 'layers' parameter of {where} must be 'all', an int or a non-empty list of "
                                    f"ints in [0, {model.n_layers + 1}). Got {layers!r} instead.")
    checked = [check_layer(int(l) if isinstance(l, np.integer) else l, model.n_layers, where=where, name="layers",
                           allow_embed=True) for l in items]
    return sorted(set(checked))


# ----------------------------------------------------------------------------- words and tokens
def word_spans(text: str, words: Sequence[str] | Sequence[tuple[int, int]], *, where: str = "word_spans",
               item: int | None = None) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of each word of ``text``.

    ``words`` is either the words themselves, in order (each is found after the previous one, with
    only whitespace allowed between them, as a tokenizer such as spaCy's produces), or the spans.
    """
    label = f" (text {item})" if item is not None else ""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise InvalidParameterError(f"The 'words' of {where}{label} must be a list of words or of (start, end) spans. "
                                    f"Got {type(words).__name__} instead.")
    spans: list[tuple[int, int]] = []
    cursor = 0
    for j, word in enumerate(words):
        if isinstance(word, str):
            if not word or not word.strip():
                raise InvalidParameterError(f"Word {j} given to {where}{label} is empty or only whitespace: {word!r}.")
            start = text.find(word, cursor)
            if start < 0 or text[cursor:start].strip():
                raise InvalidParameterError(
                    f"Word {j} given to {where}{label}, {word!r}, is not the next word of the text after character "
                    f"{cursor} (text: {text[:60]!r}). Words must be substrings of the text, in order.")
            spans.append((start, start + len(word)))
            cursor = start + len(word)
        elif (isinstance(word, (tuple, list)) and len(word) == 2
              and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in word)):
            start, end = int(word[0]), int(word[1])
            if not 0 <= start < end <= len(text):
                raise InvalidParameterError(f"Span {j} given to {where}{label} is {tuple(word)}; spans must satisfy "
                                            f"0 <= start < end <= len(text) = {len(text)}.")
            spans.append((start, end))
        else:
            raise InvalidParameterError(f"Word {j} given to {where}{label} must be a str or a (start, end) pair of ints. "
                                        f"Got {word!r} instead.")
    return spans


def word_token_positions(model: Any, text: str, words: Sequence[str] | Sequence[tuple[int, int]], *,
                         where: str = "word_token_positions", item: int | None = None) -> list[list[int]]:
    """The token positions of each word, in the coordinates of ``model.encode(text)`` (BOS counted).

    A token belongs to a word when their character spans overlap (the tokenizer's offsets mapping),
    so a word split into several tokens gets all of them, punctuation gets its own token, and a
    token that is only whitespace (``" "`` before a digit, say) belongs to no word.

    Example:
        >>> word_token_positions(model, "Unbelievably, 12345!", ["Unbelievably", ",", "12345", "!"])
        [[1, 2, 3, 4], [5], [7, 8, 9, 10, 11], [12]]
    """
    spans = word_spans(text, words, where=where, item=item)
    try:
        encoded = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError:  # slow (Python) tokenizers have no offsets
        raise InvalidParameterError(f"{where} needs a fast tokenizer with offsets to align words and tokens; "
                                    f"{model.name}'s tokenizer has none.") from None
    offsets = encoded["offset_mapping"]
    shift = 1 if model.prepend_bos else 0
    starts = [s for s, _ in spans]
    positions: list[list[int]] = [[] for _ in spans]
    for i, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        j = bisect.bisect_right(starts, end - 1) - 1  # last word starting inside the token
        while j >= 0 and spans[j][1] > start:
            if spans[j][0] < end:
                positions[j].append(i + shift)
            j -= 1
    for j, found in enumerate(positions):
        if not found:
            label = f" (text {item})" if item is not None else ""
            raise InvalidParameterError(f"Word {j} given to {where}{label}, {text[spans[j][0]:spans[j][1]]!r}, "
                                        "covers no token of the text.")
        found.sort()
    return positions


# ----------------------------------------------------------------------------- the container
class Activations:
    """Activations at several layers, one row per (text, position), in memory or lazily on disk.

    ``acts[layer]`` is a float32 array of shape (n_rows, d_model); the row metadata are aligned with
    it: ``text_index`` (n_rows,), ``token_position`` (n_rows,) (index in the text's tokens, BOS
    counted; -1 for ``"mean"`` rows), ``tokens`` (the token at that position, ``""`` for mean rows),
    ``word_index`` (n_rows,) and ``words`` (-1 / ``""`` unless the position is per word).
    Activations from ``collect(..., out=DIR)`` or :meth:`load` read each layer from the shards only
    when asked, and do not keep it.

    Attributes:
        layers: the layers held, sorted.
        position: how rows were chosen ("last", "all", "mean", "word_last" or "word_mean").
        model_name: the model they came from.
        d_model: width of each row.
        n_texts: number of texts collected.
        directory: the shard folder, or None when held in memory.
    """

    def __init__(self, *, layers: Sequence[int], position: str, model_name: str, d_model: int, n_texts: int,
                 meta: dict[str, Any] | None = None, arrays: dict[int, np.ndarray] | None = None,
                 directory: str | os.PathLike | None = None, shards: Sequence[str] = ()):
        self.layers = tuple(int(l) for l in layers)
        self.position = position
        self.model_name = model_name
        self.model_card: dict[str, Any] = {}  # set by collect(); {} for activations opened from disk
        self.d_model = int(d_model)
        self.n_texts = int(n_texts)
        self.directory = Path(directory) if directory is not None else None
        self._shards = list(shards)
        self._arrays = arrays
        self._meta = meta

    # row metadata (read from the shards on first use)
    def _metadata(self) -> dict[str, Any]:
        if self._meta is None:
            parts = [_read_shard_meta(self.directory / name) for name in self._shards]  # type: ignore[operator]
            self._meta = _concat_meta(parts)
        return self._meta

    @property
    def text_index(self) -> np.ndarray:
        return self._metadata()["text_index"]

    @property
    def token_position(self) -> np.ndarray:
        return self._metadata()["token_position"]

    @property
    def word_index(self) -> np.ndarray:
        return self._metadata()["word_index"]

    @property
    def tokens(self) -> list[str]:
        return self._metadata()["tokens"]

    @property
    def words(self) -> list[str]:
        return self._metadata()["words"]

    def __len__(self) -> int:
        return len(self.text_index)

    def __getitem__(self, layer: int) -> np.ndarray:
        """(n_rows, d_model) float32 activations at ``layer``."""
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) not in self.layers:
            raise InvalidParameterError(f"These activations hold layers {list(self.layers)}; got layer {layer!r}. "
                                        "Collect that layer first.")
        layer = int(layer)
        if self._arrays is not None:
            return self._arrays[layer]
        from safetensors import safe_open

        parts = []
        for name in self._shards:
            with safe_open(str(self.directory / name), framework="numpy") as handle:  # type: ignore[operator]
                parts.append(handle.get_tensor(f"layer.{layer}"))
        return np.concatenate(parts) if parts else np.zeros((0, self.d_model), np.float32)

    def to_frame(self):
        """The row metadata as a :class:`pandas.DataFrame` (one row per activation row)."""
        import pandas as pd

        return pd.DataFrame({"text_index": self.text_index, "token_position": self.token_position,
                             "token": self.tokens, "word_index": self.word_index, "word": self.words})

    def __repr__(self) -> str:
        where = f", directory={str(self.directory)!r}" if self.directory is not None else ""
        return (f"Activations({self.model_name!r}, layers={list(self.layers)}, position={self.position!r}, "
                f"n_texts={self.n_texts}, d_model={self.d_model}{where})")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Activations:
        """Open activations that ``collect(..., out=directory)`` finished; nothing is read until used."""
        directory = Path(directory)
        manifest = _read_manifest(directory)
        if manifest is None:
            raise InvalidResultFileError(f"{directory} holds no activations: {MANIFEST} is missing or not valid JSON "
                                         f"of format {FORMAT_NAME!r}.")
        if not manifest.get("complete"):
            raise InvalidResultFileError(f"The activations in {directory} are incomplete (the run that wrote them "
                                         "stopped early). Run collect again with the same inputs to finish them.")
        shards = [s["file"] for s in manifest["shards"]]
        missing = [name for name in shards if not (directory / name).is_file()]
        if missing:
            raise InvalidResultFileError(f"{directory} is missing activation shards {missing[:3]}; re-run collect.")
        return cls(layers=manifest["layers"], position=manifest["position"], model_name=manifest["model"],
                   d_model=manifest["d_model"], n_texts=manifest["n_texts"], directory=directory, shards=shards)


# ----------------------------------------------------------------------------- collecting
def collect(model: Any, texts: str | Sequence[str], *, layers: int | Sequence[int] | str, position: str = "last",
            words: WordsArg | None = None, batch_size: int | None = None, out: str | os.PathLike | None = None,
            shard_size: int | None = None, include_bos: bool = False,
            progress: bool | None = None) -> Activations:
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
        batch_size: texts per forward pass; by default about 4,096 padded tokens per pass.
        out: a folder to stream the rows into (safetensors shards + ``manifest.json``); finished
            shards of an earlier run with the same inputs are reused.
        shard_size: texts per shard, which bounds the rows held in memory at once; by default
            enough texts for about 128 MiB of activations per shard.
        include_bos: also make rows of the BOS position (``"all"``/``"mean"``); off by default
            because its norm is orders of magnitude above the other positions'.
        progress: show a progress bar; by default only on a terminal.

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

    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=f"activations ({model.name})", unit="text", leave=False,
               disable=None if progress is None else not progress)
    collector = _Collector(model, list(plan.layers))
    in_memory: list[tuple[dict[str, Any], dict[int, np.ndarray]]] = []
    shard_files: list[str] = []
    try:
        with collector.hooked():
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


# ----------------------------------------------------------------------------- one shard at a time
@dataclasses.dataclass(frozen=True)
class ShardPlan:
    """How ``collect(..., out=DIR)`` cuts its texts into shards: the texts and content hash of each.

    Made by :func:`plan_shards`; a runner that spreads shards over workers computes each with
    :func:`collect_shard` and then writes the manifest with :func:`finish_shards`. The plan holds
    no model and no text, only numbers and hashes, so it is cheap to pass around.

    Attributes:
        model_name: the model's display name.
        config: what the activations depend on besides the texts (the model's fingerprint, layers,
            position, include_bos, d_model).
        n_texts: number of texts; bounds: ``(start, stop)`` text indices of each shard.
        hashes: each shard's content hash (stored in the shard; a shard with the same hash is reused).
        input_hash: hash of the whole input (config and every shard).
    """

    model_name: str
    config: dict
    n_texts: int
    bounds: tuple
    hashes: tuple
    input_hash: str

    @property
    def layers(self) -> list[int]:
        return list(self.config["layers"])

    def __len__(self) -> int:
        return len(self.bounds)

    @staticmethod
    def file(k: int) -> str:
        """The file name of shard ``k``."""
        return f"shard-{k:05d}.safetensors"

    def is_done(self, directory: str | os.PathLike, k: int) -> bool:
        """Whether shard ``k`` is already in ``directory``, whole and for these inputs."""
        return _shard_is_done(Path(directory) / self.file(k), self.hashes[k])


def plan_shards(model: Any, texts: str | Sequence[str], *, layers: int | Sequence[int] | str, position: str = "last",
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


def collect_shard(model: Any, texts: str | Sequence[str], plan: ShardPlan, k: int, *, out: str | os.PathLike,
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
    with collector.hooked():
        meta, arrays = collector.run_shard(items, a, b, words, plan.config["position"], plan.config["include_bos"],
                                           batch_size, _Bar())
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


def _check_out(out: str | os.PathLike, where: str) -> Path:
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise InvalidParameterError(f"The 'out' parameter of {where} must be a folder; {directory} is a file.")
    return directory


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
    """Hooks the requested layers once and gathers each micro-batch's rows inside the hooks."""

    def __init__(self, model: Any, layers: list[int]):
        self.model = model
        self.layers = layers
        self.deepest = max(layers)
        self.gather: tuple[Any, ...] | None = None  # (batch_rows, positions, segment, n_out) of the current batch
        self.outputs: dict[int, Any] = {}

    def _hook(self, layer: int):
        def hook(x, hook):  # x: (batch, pos, d_model)
            rows, positions, segment, n_out, counts = self.gather  # type: ignore[misc]
            values = x[rows, positions].float()  # (n_tokens, d_model)
            if counts is not None:  # mean over each row's tokens
                import torch

                values = torch.zeros((n_out, x.shape[-1]), dtype=values.dtype, device=values.device).index_add_(
                    0, segment, values) / counts[:, None]
            self.outputs[layer] = values.to("cpu").numpy()
            if layer == self.deepest:
                raise _StopForward
        return hook

    def hooked(self):
        return self.model.hooks([(layer_hook_name(l), self._hook(l)) for l in self.layers])

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
        from interp.models.model import plan_batches as _plan_batches

        for group in _plan_batches([len(x) for x in ids], batch_size, where="collect"):
            batch = model._pad([ids[k] for k in group], "right")
            rows, positions, segment, out_rows, counts = [], [], [], [], []
            for row, k in enumerate(group):
                for r, token_positions in enumerate(plan[k]):
                    rows += [row] * len(token_positions)
                    positions += token_positions
                    segment += [len(out_rows)] * len(token_positions)
                    counts.append(len(token_positions))
                    out_rows.append(int(starts[k]) + r)
            device = model.device
            self.gather = (torch.tensor(rows, device=device), torch.tensor(positions, device=device),
                           torch.tensor(segment, device=device),
                           len(out_rows), torch.tensor(counts, dtype=torch.float32, device=device) if mean else None)
            self.outputs = {}
            try:
                with torch.inference_mode():
                    model._forward(batch)
            except _StopForward:
                pass
            if len(self.outputs) != len(self.layers):  # pragma: no cover - a hook point that did not fire
                raise RuntimeError(f"collect: hooks for layers {sorted(set(self.layers) - set(self.outputs))} did not run.")
            for l in self.layers:
                arrays[l][out_rows] = self.outputs[l]
            bar.update(len(group))
        self.gather, self.outputs = None, {}
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


# ----------------------------------------------------------------------------- shards on disk
def _auto_shard_size(texts: list[str], position: str, n_layers: int, d_model: int) -> int:
    """Texts per shard for about SHARD_BYTES of float32 rows (a deterministic function of the inputs)."""
    sample = texts[:2000]
    rows_per_text = 1.0 if position in ("last", "mean") else sum(len(t) / 4 + 2 for t in sample) / len(sample)
    return int(min(4096, max(8, SHARD_BYTES // (rows_per_text * n_layers * d_model * 4))))


def _model_fingerprint(model: Any) -> str:
    """A hash that changes with the model's name, shape, dtype and (a sample of) its weights."""
    import torch

    digest = hashlib.sha256(json.dumps([model.name, model.source, model.n_layers, model.d_model,
                                        str(model.dtype)]).encode())
    params = list(model.bridge.original_model.parameters())
    with torch.no_grad():
        for p in params[:2] + params[-2:]:
            digest.update(p.detach().reshape(-1)[:4096].float().cpu().numpy().tobytes())
    return digest.hexdigest()


def _shard_hash(config: dict[str, Any], start: int, texts: list[str], words: WordsArg | None) -> str:
    spans = None if words is None else [[w if isinstance(w, str) else list(w) for w in ws] for ws in words]
    payload = {"config": config, "start": start, "texts": texts, "words": spans}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def _write_shard(path: Path, meta: dict[str, Any], arrays: dict[int, np.ndarray], digest: str) -> None:
    """Write one shard atomically: safetensors streamed to a temporary file in the same folder, then
    renamed (no second in-memory copy of the shard, as building the file's bytes first would make)."""
    from safetensors.numpy import save_file


    tensors = {f"layer.{l}": a for l, a in arrays.items()}
    tensors.update({k: meta[k] for k in ("text_index", "token_position", "word_index")})
    header = {"format": FORMAT_NAME + ".shard", "hash": digest, "tokens": json.dumps(meta["tokens"], ensure_ascii=False),
              "words": json.dumps(meta["words"], ensure_ascii=False)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)


def _shard_is_done(path: Path, digest: str) -> bool:
    if not path.is_file():
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return (handle.metadata() or {}).get("hash") == digest
    except Exception:  # a broken shard is simply redone
        return False


def _read_shard_meta(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        header = handle.metadata() or {}
        meta = {k: handle.get_tensor(k) for k in ("text_index", "token_position", "word_index")}
    meta["tokens"] = json.loads(header.get("tokens", "[]"))
    meta["words"] = json.loads(header.get("words", "[]"))
    return meta


def _concat_meta(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return {"text_index": empty, "token_position": empty, "word_index": empty, "tokens": [], "words": []}
    return {"text_index": np.concatenate([p["text_index"] for p in parts]),
            "token_position": np.concatenate([p["token_position"] for p in parts]),
            "word_index": np.concatenate([p["word_index"] for p in parts]),
            "tokens": [t for p in parts for t in p["tokens"]], "words": [w for p in parts for w in p["words"]]}


def _read_manifest(directory: Path | None) -> dict[str, Any] | None:
    if directory is None or not (directory / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return None
    return manifest


def _write_manifest(directory: Path, plan: ShardPlan, files: list[str], *, complete: bool) -> None:
    config = plan.config
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "complete": complete, "input_hash": plan.input_hash,
                "model": plan.model_name, "model_fingerprint": config["model"], "layers": config["layers"],
                "position": config["position"], "include_bos": config["include_bos"], "d_model": config["d_model"],
                "n_texts": plan.n_texts,
                "shards": [{"file": f, "texts": list(plan.bounds[k]), "hash": plan.hashes[k]}
                           for k, f in enumerate(files)]}
    atomic_write_bytes(directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
