"""llama.cpp control vectors: a steering vector as a GGUF file that ``llama-cli --control-vector`` reads.

The format (llama.cpp ``common/common.cpp`` ``common_control_vector_load_one`` and ``src/llama-adapter.cpp``;
also what its ``cvector-generator`` and repeng's ``export_gguf`` write):

- ``general.architecture = "controlvector"``, ``controlvector.model_hint`` (the model's architecture, e.g.
  ``"llama"``), ``controlvector.layer_count`` (the number of direction tensors);
- one 1-D float32 tensor ``direction.{k}`` of ``n_embd`` values per steered layer.

**Layer convention.** llama.cpp adds ``direction.{k}`` (times the ``--control-vector-scaled`` strength) to the
output of block ``k``, counting blocks from 0, at every position (``build_cvec(cur, il)`` after the block's last
residual add); ``k = 0`` is refused by the loader, so block 0's output cannot be steered. In interp's convention
(:mod:`interp.layers`: layer ``l`` is the output of block ``l - 1``) that is **interp layer ``l`` <-> llama.cpp
``direction.{l - 1}``**: interp layers 2..n_layers export; layers 0 (embeddings) and 1 (block 0's output) do not,
and :func:`export_control_vector` refuses them. llama.cpp ignores the metadata; interp also writes
``interp.method``, ``interp.concept`` and ``interp.model_name``, so :func:`load_control_vector` gives back the
vector it exported, float32 bit for bit.

Example:
    >>> export_control_vector(vector, "french.gguf")      # llama-cli -m model.gguf --control-vector-scaled french.gguf 4
    >>> load_control_vector("french.gguf").directions == vector.directions
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interp._params import validate_params
from interp.errors import InvalidParameterError, InvalidProbeFileError

if TYPE_CHECKING:
    from interp.steering.vectors import SteeringVector

__all__ = ["export_control_vector", "load_control_vector", "load_vector", "llama_cpp_layer", "interp_layer"]

ARCHITECTURE = "controlvector"
_DIRECTION = re.compile(r"direction\.(\d+)")


def llama_cpp_layer(layer: int) -> int:
    """The llama.cpp ``direction.{k}`` index of interp layer ``layer`` (``k = layer - 1``; layers >= 2 only)."""
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 2:
        raise InvalidParameterError(
            f"interp layer {layer!r} cannot go into a llama.cpp control vector: llama.cpp adds direction.k to the "
            "output of block k for k >= 1 (its loader refuses k = 0), which is interp layer k + 1, so only interp "
            "layers >= 2 can be exported (not 0, the embeddings, nor 1, block 0's output).")
    return layer - 1


def interp_layer(k: int) -> int:
    """The interp layer of llama.cpp's ``direction.{k}`` (``k + 1``)."""
    return int(k) + 1


def _model_hint(architecture: str) -> str:
    """llama.cpp's architecture name from a Hugging Face class name ("LlamaForCausalLM" -> "llama")."""
    name = re.sub(r"For(CausalLM|ConditionalGeneration)$", "", architecture or "")
    name = re.sub(r"(Model|LMHeadModel)$", "", name)
    return name.lower() or "unknown"


def export_control_vector(vector: SteeringVector, path: str | os.PathLike, *, model_hint: str | None = None) -> Path:
    """Write ``vector`` as a llama.cpp control-vector GGUF (see the module docstring for the layer convention).

    Args:
        vector: a :class:`~interp.steering.SteeringVector`; every layer must be >= 2.
        path: the ``.gguf`` file to write (atomically).
        model_hint: ``controlvector.model_hint`` (default: the vector's architecture as llama.cpp names it).

    Returns:
        The path written.
    """
    from gguf import GGUFWriter

    from interp.results import atomic_path
    from interp.steering.vectors import SteeringVector

    if not isinstance(vector, SteeringVector):
        raise InvalidParameterError(f"export_control_vector needs a SteeringVector. Got {type(vector).__name__}.")
    indices = [llama_cpp_layer(layer) for layer in vector.layers]
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = GGUFWriter(str(tmp), ARCHITECTURE)
        writer.add_string(f"{ARCHITECTURE}.model_hint", model_hint or _model_hint(vector.architecture))
        writer.add_int32(f"{ARCHITECTURE}.layer_count", len(indices))
        writer.add_string("interp.method", vector.method)
        writer.add_string("interp.concept", vector.concept)
        writer.add_string("interp.model_name", vector.model_name)
        writer.add_string("interp.architecture", vector.architecture)
        for k, row in zip(indices, vector.directions):
            writer.add_tensor(f"direction.{k}", np.ascontiguousarray(row, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path


def _string(reader, key: str) -> str:
    field = reader.fields.get(key)
    if field is None:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8")


@validate_params({"path": ["path"]})
def load_control_vector(path: str | os.PathLike) -> SteeringVector:
    """Read a llama.cpp control-vector GGUF (interp's, llama.cpp's ``cvector-generator``'s or repeng's) as a
    :class:`~interp.steering.SteeringVector`: ``direction.{k}`` becomes interp layer ``k + 1``.

    Raises:
        InvalidProbeFileError: not a GGUF, not a control vector, or direction tensors that are not 1-D float32
            of one length.
    """
    from gguf import GGUFReader

    from interp.steering.vectors import SteeringVector

    path = Path(path)
    if not path.is_file():
        raise InvalidProbeFileError(f"{path} is not a control-vector file: no such file.")
    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # gguf raises ValueError, struct.error, ... for a file that is not GGUF
        raise InvalidProbeFileError(f"{path} is not a GGUF file ({exc}).") from None
    arch = _string(reader, "general.architecture")
    if arch != ARCHITECTURE:
        raise InvalidProbeFileError(f"{path} is a GGUF of architecture {arch!r}, not a llama.cpp control vector "
                                    f"('{ARCHITECTURE}').")
    rows: dict[int, np.ndarray] = {}
    for tensor in reader.tensors:
        match = _DIRECTION.fullmatch(tensor.name)
        data = np.asarray(tensor.data)
        if not match or int(match.group(1)) == 0:
            raise InvalidProbeFileError(f"{path}: tensor {tensor.name!r} is not a direction.k with k >= 1.")
        if data.dtype != np.float32 or data.ndim != 1:
            raise InvalidProbeFileError(f"{path}: {tensor.name} must be 1-D float32; it is {data.dtype} {data.shape}.")
        k = int(match.group(1))
        rows[k] = rows[k] + data if k in rows else data.copy()  # llama.cpp sums a repeated index
    if not rows or len({r.shape for r in rows.values()}) != 1:
        raise InvalidProbeFileError(f"{path} holds no direction tensors, or directions of different lengths.")
    ks = sorted(rows)
    return SteeringVector(directions=np.stack([rows[k] for k in ks]), layers=[interp_layer(k) for k in ks],
                          method=_string(reader, "interp.method") or "control_vector",
                          concept=_string(reader, "interp.concept"), model_name=_string(reader, "interp.model_name"),
                          architecture=_string(reader, "interp.architecture")
                          or _string(reader, f"{ARCHITECTURE}.model_hint"))


@validate_params({"path": ["path"]})
def load_vector(path: str | os.PathLike) -> SteeringVector:
    """A steering vector from a file: a saved :class:`SteeringVector` (``.json``, or a folder holding
    ``result.json`` as ``interp steer vector --out`` writes) or a llama.cpp control vector (``.gguf``)."""
    from interp.steering.vectors import SteeringVector

    path = Path(path)
    if path.suffix.lower() == ".gguf":
        return load_control_vector(path)
    if path.is_dir():
        path = path / "result.json"
    return SteeringVector.load(path)
