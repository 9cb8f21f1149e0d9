"""A sparse autoencoder (SAE) over one layer's residual stream, in SAELens's on-disk layout.

An SAE writes an activation ``x`` (d_in,) as a sparse, non-negative code ``z`` (d_sae,) over a learned
dictionary: ``z = act((x - b_dec) @ W_enc + b_enc)``, ``x_hat = z @ W_dec + b_dec`` (Bricken et al. 2023,
"Towards Monosemanticity"; Cunningham et al. 2023). Three activations are read here:

- ``"topk"``: keep the k largest pre-activations, ReLU'd (Gao et al. 2024, "Scaling and evaluating sparse
  autoencoders"); ``k`` in the config;
- ``"standard"``: ReLU (trained with an L1 penalty);
- ``"jumprelu"``: ``pre * (pre > threshold)`` per latent (Rajamanoharan et al. 2024; Gemma Scope).

Files: a folder with ``cfg.json`` and ``sae_weights.safetensors`` (``W_enc`` [d_in, d_sae], ``b_enc`` [d_sae],
``W_dec`` [d_sae, d_in], ``b_dec`` [d_in], and ``threshold`` [d_sae] for JumpReLU), as SAELens writes them,
so an SAE trained elsewhere (e.g. Gemma Scope converted by SAELens) loads from a local folder, and one
trained here loads in SAELens. Weights are stored for *raw* activations: a training-time input scale is
folded into them (``normalize_activations: "none"``), as SAELens does when it saves. No pickle anywhere.

Example:
    >>> from interp.features import load_sae
    >>> sae = load_sae("my-sae")             # a folder with cfg.json + sae_weights.safetensors
    >>> z = sae.encode(x)                     # x: (n, d_in) torch or numpy -> (n, d_sae) torch
    >>> x_hat = sae.decode(z)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from interp.errors import InvalidParameterError, InvalidResultFileError, choices_text

__all__ = ["SparseAutoencoder", "load_sae", "ARCHITECTURES", "CFG_FILE", "WEIGHTS_FILE"]

ARCHITECTURES = ("topk", "standard", "jumprelu")
CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"


def _tensor(value: Any, name: str):
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise InvalidParameterError(f"SparseAutoencoder: '{name}' must be a torch tensor or numpy array. "
                                    f"Got {type(value).__name__} instead.")
    return value.detach().to(torch.float32).contiguous()


class SparseAutoencoder:
    """Weights and config of one SAE; :meth:`encode` / :meth:`decode` work on raw activations of ``hook_name``.

    Attributes:
        W_enc: (d_in, d_sae); b_enc: (d_sae,); W_dec: (d_sae, d_in); b_dec: (d_in,); threshold: (d_sae,) or None.
        architecture: "topk", "standard" or "jumprelu".
        k: active latents per token of a TopK SAE (else None).
        hook_name: the hook point it reads (e.g. ``blocks.5.hook_resid_post``); layer: interp's layer number of it
            (:mod:`interp.layers`) or None.
        apply_b_dec_to_input: subtract ``b_dec`` before encoding (SAELens's flag; Gemma Scope: False).
        metadata: the rest of the config (model name, training settings, the folded input scale).
    """

    def __init__(self, W_enc: Any, b_enc: Any, W_dec: Any, b_dec: Any, *, architecture: str = "topk",
                 k: int | None = None, threshold: Any = None, hook_name: str = "", layer: int | None = None,
                 apply_b_dec_to_input: bool = True, metadata: dict[str, Any] | None = None):
        where = "SparseAutoencoder"
        if architecture not in ARCHITECTURES:
            raise InvalidParameterError(f"The 'architecture' parameter of {where} must be {choices_text(ARCHITECTURES)}."
                                        f" Got {architecture!r} instead.")
        self.W_enc, self.b_enc = _tensor(W_enc, "W_enc"), _tensor(b_enc, "b_enc")
        self.W_dec, self.b_dec = _tensor(W_dec, "W_dec"), _tensor(b_dec, "b_dec")
        d_in, d_sae = self.W_enc.shape if self.W_enc.dim() == 2 else (0, 0)
        shapes = {"W_enc": (tuple(self.W_enc.shape), (d_in, d_sae)), "b_enc": (tuple(self.b_enc.shape), (d_sae,)),
                  "W_dec": (tuple(self.W_dec.shape), (d_sae, d_in)), "b_dec": (tuple(self.b_dec.shape), (d_in,))}
        self.threshold = None if threshold is None else _tensor(threshold, "threshold")
        if self.threshold is not None:
            shapes["threshold"] = (tuple(self.threshold.shape), (d_sae,))
        bad = {name: got for name, (got, want) in shapes.items() if got != want}
        if bad or d_in == 0:
            raise InvalidParameterError(f"{where}: the weights' shapes do not agree with W_enc (d_in, d_sae)="
                                        f"{(d_in, d_sae)}: {bad or {'W_enc': tuple(self.W_enc.shape)}}.")
        if architecture == "topk":
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= d_sae:
                raise InvalidParameterError(f"The 'k' parameter of {where} must be an int in [1, {d_sae}] for a TopK "
                                            f"SAE. Got {k!r} instead.")
            k = int(k)
        if architecture == "jumprelu" and self.threshold is None:
            raise InvalidParameterError(f"{where}: a 'jumprelu' SAE needs a 'threshold' of shape ({d_sae},).")
        self.architecture = architecture
        self.k = k if architecture == "topk" else None
        self.hook_name = str(hook_name)
        self.layer = None if layer is None else int(layer)
        self.apply_b_dec_to_input = bool(apply_b_dec_to_input)
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------ shape
    @property
    def d_in(self) -> int:
        return int(self.W_enc.shape[0])

    @property
    def d_sae(self) -> int:
        return int(self.W_enc.shape[1])

    def __repr__(self) -> str:
        k = f", k={self.k}" if self.k else ""
        return (f"SparseAutoencoder({self.architecture!r}, d_in={self.d_in}, d_sae={self.d_sae}{k}, "
                f"hook_name={self.hook_name!r})")

    # ------------------------------------------------------------------ the map
    def pre_activations(self, x: Any):
        """(..., d_sae) encoder pre-activations of raw activations ``x`` (..., d_in)."""
        x = self._as_input(x)
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def activate(self, pre: Any):
        """The architecture's sparse activation of pre-activations (..., d_sae)."""
        import torch

        if self.architecture == "topk":
            values, index = pre.topk(self.k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, index, torch.relu(values))
        if self.architecture == "jumprelu":
            return pre * (pre > self.threshold) * (pre > 0)
        return torch.relu(pre)

    def encode(self, x: Any):
        """(..., d_sae) feature activations of raw activations ``x`` (..., d_in) (torch or numpy)."""
        return self.activate(self.pre_activations(x))

    def decode(self, z: Any):
        """(..., d_in) reconstruction of feature activations ``z`` (..., d_sae)."""
        return z @ self.W_dec + self.b_dec

    def __call__(self, x: Any):
        return self.decode(self.encode(x))

    def _as_input(self, x: Any):
        import torch

        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        if not isinstance(x, torch.Tensor) or x.shape[-1] != self.d_in:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise InvalidParameterError(f"SparseAutoencoder.encode takes activations of shape (..., {self.d_in}). "
                                        f"Got {shape} instead.")
        return x.to(self.W_enc.dtype)

    def direction(self, feature: int) -> np.ndarray:
        """(d_in,) unit decoder direction of ``feature``."""
        row = self.W_dec[self.check_feature(feature, where="SparseAutoencoder.direction")].numpy().astype(np.float64)
        return row / max(np.linalg.norm(row), 1e-12)

    def check_feature(self, feature: Any, *, where: str) -> int:
        if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)) or not 0 <= int(feature) < self.d_sae:
            raise InvalidParameterError(f"The 'feature' parameter of {where} must be an int in [0, {self.d_sae}). "
                                        f"Got {feature!r} instead.")
        return int(feature)

    # ------------------------------------------------------------------ files
    def config(self) -> dict[str, Any]:
        """The ``cfg.json`` contents: SAELens's keys (both the v5 top-level and the v6 ``metadata`` spellings)."""
        meta = {key: value for key, value in self.metadata.items() if key not in ("hook_name", "interp")}
        cfg: dict[str, Any] = {
            "architecture": self.architecture, "d_in": self.d_in, "d_sae": self.d_sae, "dtype": "float32",
            "device": "cpu", "apply_b_dec_to_input": self.apply_b_dec_to_input, "normalize_activations": "none",
            "reshape_activations": "none", "hook_name": self.hook_name,
            "hook_layer": int(self.hook_name.split(".")[1]) if self.hook_name.startswith("blocks.") else 0,
            "model_name": meta.get("model_name", ""), "activation_fn_kwargs": {"k": self.k} if self.k else {},
            "metadata": {**meta, "hook_name": self.hook_name},
            "interp": {**self.metadata.get("interp", {}), "layer": self.layer},
        }
        if self.k:
            cfg["k"] = self.k
        return cfg

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``folder/cfg.json`` and ``folder/sae_weights.safetensors`` (each atomically); return the folder."""
        from safetensors.torch import save as save_tensors

        from interp.results import atomic_write_bytes

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidParameterError(f"SparseAutoencoder.save needs a folder; {folder} is a file.")
        tensors = {"W_enc": self.W_enc, "b_enc": self.b_enc, "W_dec": self.W_dec, "b_dec": self.b_dec}
        if self.threshold is not None:
            tensors["threshold"] = self.threshold
        atomic_write_bytes(folder / WEIGHTS_FILE, save_tensors({k: v.contiguous() for k, v in tensors.items()}))
        atomic_write_bytes(folder / CFG_FILE, json.dumps(self.config(), indent=2).encode("utf-8"))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SparseAutoencoder:
        """Read an SAE folder in SAELens's layout (see :func:`load_sae`)."""
        return load_sae(folder)


def load_sae(folder: str | os.PathLike) -> SparseAutoencoder:
    """Load an SAE from a local folder in SAELens's layout: ``cfg.json`` + ``sae_weights.safetensors``.

    Architectures ``topk`` (``k`` from ``activation_fn_kwargs`` or the top level), ``standard`` and ``jumprelu``
    (with ``threshold``; Gemma Scope as SAELens saves it). The layer is interp's layer of ``hook_name``
    (``blocks.{l}.hook_resid_post`` is layer l + 1, ``blocks.0.hook_resid_pre`` layer 0), None for other hooks.

    Raises:
        InvalidResultFileError: no such folder, a file missing or not valid, an unknown architecture, or
            ``normalize_activations`` other than "none" (fold the scale into the weights first).
    """
    folder = Path(folder)
    cfg_path, weights_path = folder / CFG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file() or not weights_path.is_file():
        raise InvalidResultFileError(f"{folder} is not an SAE folder: it needs {CFG_FILE} and {WEIGHTS_FILE} "
                                     "(SAELens's layout).")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidResultFileError(f"{cfg_path} is not valid JSON ({exc}).") from None
    if not isinstance(cfg, dict):
        raise InvalidResultFileError(f"{cfg_path} must hold a JSON object.")
    architecture = cfg.get("architecture", "standard")
    if architecture not in ARCHITECTURES:
        raise InvalidResultFileError(f"{cfg_path} names architecture {architecture!r}; interp reads "
                                     f"{choices_text(ARCHITECTURES)}.")
    norm = cfg.get("normalize_activations", "none") or "none"
    if norm != "none":
        raise InvalidResultFileError(f"{cfg_path} has normalize_activations={norm!r}; interp reads SAEs whose input "
                                     "scale is folded into the weights ('none'), as SAELens saves them after training.")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise InvalidResultFileError(f"{weights_path} is not a valid safetensors file ({exc}).") from None
    missing = [name for name in ("W_enc", "b_enc", "W_dec", "b_dec") if name not in tensors]
    if architecture == "jumprelu" and "threshold" not in tensors:
        missing.append("threshold")
    if missing:
        raise InvalidResultFileError(f"{weights_path} lacks tensors {missing}.")
    meta = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}
    hook_name = cfg.get("hook_name") or meta.get("hook_name") or ""
    kwargs = cfg.get("activation_fn_kwargs") if isinstance(cfg.get("activation_fn_kwargs"), dict) else {}
    k = kwargs.get("k", cfg.get("k"))
    own = cfg.get("interp") if isinstance(cfg.get("interp"), dict) else {}
    layer = own.get("layer", _layer_of_hook(hook_name))
    metadata = {**meta, "model_name": cfg.get("model_name") or meta.get("model_name", "")}
    if own:
        metadata["interp"] = {key: value for key, value in own.items() if key != "layer"}
    metadata.pop("hook_name", None)
    try:
        return SparseAutoencoder(tensors["W_enc"], tensors["b_enc"], tensors["W_dec"], tensors["b_dec"],
                                 architecture=architecture, k=k, threshold=tensors.get("threshold"),
                                 hook_name=hook_name, layer=layer,
                                 apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)), metadata=metadata)
    except InvalidParameterError as exc:
        raise InvalidResultFileError(f"{folder} does not hold a valid SAE: {exc}") from None


def _layer_of_hook(hook_name: str) -> int | None:
    parts = hook_name.split(".")
    if len(parts) == 3 and parts[0] == "blocks" and parts[1].isdigit():
        if parts[2] == "hook_resid_post":
            return int(parts[1]) + 1
        if parts[2] == "hook_resid_pre":
            return int(parts[1])
    return None
