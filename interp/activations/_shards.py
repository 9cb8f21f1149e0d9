"""Activations on disk: safetensors shards, each whole or absent, and the JSON manifest of a folder.

A folder written by ``collect(..., out=DIR)`` holds ``shard-00000.safetensors``, ... (the rows of a
run of texts: one tensor per layer plus the row metadata, and the shard's content hash in its header)
and ``manifest.json`` (format, inputs' hash, layers, position, the shard list, ``complete``). A shard
is written to a temporary file and renamed, so a killed run leaves whole shards only; a re-run with
the same inputs reuses every shard whose hash matches (:meth:`ShardPlan.is_done`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from interp.activations._words import WordsArg
from interp.errors import InvalidParameterError
from interp.results import atomic_path, atomic_write_bytes

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MANIFEST", "SHARD_BYTES", "ShardPlan"]

FORMAT_NAME = "interp.activations"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_BYTES = 128 * 2**20  # default shard size: about this many bytes of activations


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



def _check_out(out: str | os.PathLike, where: str) -> Path:
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise InvalidParameterError(f"The 'out' parameter of {where} must be a folder; {directory} is a file.")
    return directory



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
