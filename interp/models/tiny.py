"""Tiny randomly initialised models for tests and instant demos.

Three shapes cover the architectures TransformerLens bridges most often: GPT-2 (learned absolute
positions, LayerNorm), Llama (rotary, RMSNorm, grouped-query attention, gated MLP) and GPT-NeoX
(rotary, parallel attention and MLP). Each has 2 layers, d_model 64 and 4 heads, and reuses the
default model's tokenizer so text round-trips exactly as it would on SmolLM2. Weights come from a
seeded generator: the same name and seed always give the same model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

TINY_N_CTX = 512

# name -> (architecture id TransformerLens maps to an adapter, description)
TINY_MODELS: dict[str, tuple[str, str]] = {
    "tiny-gpt2": ("gpt2", "random 2-layer GPT-2 shape (LayerNorm, learned positions)"),
    "tiny-llama": ("meta-llama/Llama-3.2-1B", "random 2-layer Llama shape (RMSNorm, rotary, GQA)"),
    "tiny-neox": ("EleutherAI/pythia-70m", "random 2-layer GPT-NeoX shape (rotary, parallel blocks)"),
}


def tiny_config(name: str, vocab_size: int, *, bos_token_id: int, eos_token_id: int, pad_token_id: int
                ) -> PretrainedConfig:
    """The transformers config of the tiny model ``name`` (attention forced to eager)."""
    from transformers import GPT2Config, GPTNeoXConfig, LlamaConfig

    special = {"bos_token_id": bos_token_id, "eos_token_id": eos_token_id, "pad_token_id": pad_token_id}
    if name == "tiny-gpt2":
        cfg = GPT2Config(vocab_size=vocab_size, n_positions=TINY_N_CTX, n_embd=64, n_layer=2, n_head=4, **special)
    elif name == "tiny-llama":
        cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=TINY_N_CTX,
                          tie_word_embeddings=True, **special)
    elif name == "tiny-neox":
        cfg = GPTNeoXConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                            num_attention_heads=4, max_position_embeddings=TINY_N_CTX, **special)
    else:  # pragma: no cover - callers check the name first
        raise KeyError(name)
    cfg._attn_implementation = "eager"
    return cfg


def build_tiny_hf_model(name: str, tokenizer: Any, *, seed: int = 0) -> PreTrainedModel:
    """Build the HF model of tiny model ``name`` with weights drawn from ``seed`` (global RNG untouched)."""
    import torch
    from transformers import AutoModelForCausalLM

    cfg = tiny_config(name, len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    return model.eval()
