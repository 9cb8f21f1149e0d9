"""The :class:`Activations` container: rows of several layers, in memory or read lazily from shards."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.activations._shards import FORMAT_NAME, MANIFEST, _concat_meta, _read_manifest, _read_shard_meta
from interp.errors import InvalidParameterError, InvalidResultFileError

if TYPE_CHECKING:
    from pandas import DataFrame

__all__ = ["Activations"]


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

    def to_frame(self) -> DataFrame:
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

