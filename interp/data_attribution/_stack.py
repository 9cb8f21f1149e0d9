"""The trained part of a model: its top blocks, final norm and unembedding, as a plain Hugging Face model.

Fine-tuning only the top ``n`` blocks means the residual stream entering them never changes, so it is
computed once (:func:`residuals`) and the blocks below never run again. The top blocks are copied out
of the bridge into a fresh ``transformers`` model of the same architecture with ``n`` layers
(:func:`top_stack`); fed the cached residual as ``inputs_embeds`` it reproduces the full model's
logits (GPT-2 adds learned positions to ``inputs_embeds``, so they are subtracted first). Training
and gradients then use plain ``torch`` hooks on its ``nn.Linear`` / ``Conv1D`` layers, on a private
copy: the shared model is never modified.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import TYPE_CHECKING, Any

import torch

from interp.errors import InvalidParameterError

if TYPE_CHECKING:
    from interp.models.model import Model

_LAYER = re.compile(r"^(.*?\.(?:layers|h))\.(\d+)\.(.*)$")


@dataclasses.dataclass
class Encoded:
    """Token ids of training examples or queries: ``ids[i]`` is BOS + prompt + text; the loss is on positions
    ``[n_prompt[i], len(ids[i]))`` (each predicted from the position before it)."""

    ids: list[list[int]]
    n_prompt: list[int]


def encode_pairs(model: Model, pairs: list[tuple[str, str]], *, where: str) -> Encoded:
    """Tokenize (prompt, continuation) pairs separately, so the scored tokens are exactly the continuation's."""
    from interp.errors import PromptTooLongError

    ids, n_prompt = [], []
    bos = [model.tokenizer.bos_token_id] if model.prepend_bos else []
    for prompt, text in pairs:
        head = bos + (model.tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else [])
        tail = model.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not head:  # no BOS and no prompt: the first token cannot be predicted
            head, tail = tail[:1], tail[1:]
        if not tail:
            raise InvalidParameterError(f"{where}: the text after {prompt[-40:]!r} has no token to train or score on.")
        if len(head) + len(tail) > model.n_ctx:
            raise PromptTooLongError(f"{where}: an example is {len(head) + len(tail)} tokens long, but {model.name} "
                                     f"accepts at most n_ctx={model.n_ctx}. It starts with {(prompt + text)[:40]!r}.")
        ids.append(head + tail)
        n_prompt.append(len(head))
    return Encoded(ids, n_prompt)


def residuals(model: Model, encoded: Encoded, first_block: int, *, batch_size: int | None = None) -> list[torch.Tensor]:
    """The residual stream entering block ``first_block`` for every sequence: a list of (len_i, d_model) tensors,
    from the model's engine (``Model.run`` with ``keep=None``: blocks after ``first_block`` never run)."""
    name = f"blocks.{first_block - 1}.hook_resid_post"
    out: list[torch.Tensor | None] = [None] * len(encoded.ids)
    current: dict[str, Any] = {}

    def hooks(rows: list[int], batch: Any) -> list:
        current["rows"], current["batch"] = rows, batch

        def keep(act: torch.Tensor, hook: Any = None) -> None:
            acts = act.detach().to("cpu", torch.float32)
            for r, i in enumerate(current["rows"]):
                out[i] = acts[r, current["batch"].real_slice(r)].clone()

        return [(name, keep)]

    model.run(encoded.ids, keep=None, hooks=hooks, stop_at_layer=first_block, padding_side="right",
              batch_size=batch_size)
    return out  # type: ignore[return-value]


def _original_params(bridge: Any) -> dict[str, torch.Tensor]:
    """The wrapped HF model's tensors by their Hugging Face names (the bridge inserts ``._original_component``)."""
    return {k.replace("._original_component", ""): v for k, v in bridge.original_model.state_dict(keep_vars=True).items()}


def top_stack(model: Model, first_block: int) -> torch.nn.Module:
    """A fresh HF causal LM holding copies of blocks ``first_block..n_layers-1``, the final norm and the unembedding."""
    hf = model.bridge.original_model
    cfg = copy.deepcopy(hf.config)
    n = int(cfg.num_hidden_layers)
    cfg.num_hidden_layers = n - first_block
    if isinstance(getattr(cfg, "layer_types", None), list):
        cfg.layer_types = cfg.layer_types[first_block:]
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):  # from_config draws an initialisation we overwrite; keep the global RNG
        top = AutoModelForCausalLM.from_config(cfg, attn_implementation=getattr(cfg, "_attn_implementation", None) or "eager")
    source = _original_params(model.bridge)
    state = {}
    for key in top.state_dict():
        match = _LAYER.match(key)
        src = f"{match.group(1)}.{int(match.group(2)) + first_block}.{match.group(3)}" if match else key
        if src not in source:
            raise InvalidParameterError(f"Cannot fine-tune {model.name} ({model.architecture}): its weight {src!r} was not "
                                        "found in the wrapped Hugging Face model.")
        state[key] = source[src].detach().to("cpu", torch.float32).clone()
    top.load_state_dict(state, strict=True)
    top.to(torch.float32).eval()
    for p in top.parameters():
        p.requires_grad_(False)
    return top


def layer_key(name: str, first_block: int) -> str:
    """A top-stack parameter name as the full model's HF name (layer index shifted back)."""
    match = _LAYER.match(name)
    return f"{match.group(1)}.{int(match.group(2)) + first_block}.{match.group(3)}" if match else name


def trainable_layers(top: torch.nn.Module, part: str) -> list[tuple[str, torch.nn.Module]]:
    """The ``nn.Linear`` / ``Conv1D`` layers of the top blocks that are trained (``part``: "all" or "mlp")."""
    out = []
    for name, module in top.named_modules():
        if not _LAYER.match(name + "."):
            continue
        kind = type(module).__name__
        if kind in ("Linear", "Conv1D") and (part == "all" or ".mlp." in f".{name}."):
            out.append((name, module))
    return out


def hidden_states(top: torch.nn.Module, resid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, pos, d_model) final-norm hidden states of the top stack fed the cached residual ``resid``."""
    pos = torch.arange(resid.shape[1]).expand(resid.shape[0], -1)
    base = top.base_model
    embeds = resid
    if hasattr(base, "wpe"):  # GPT-2 adds learned positions to inputs_embeds; the residual already holds them
        embeds = resid - base.wpe(pos)
    return base(inputs_embeds=embeds, attention_mask=mask, position_ids=pos, use_cache=False).last_hidden_state


def pad_residuals(resid: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (len_i, d) tensors to (batch, pos, d) with its (batch, pos) attention mask."""
    width = max(r.shape[0] for r in resid)
    out = torch.zeros(len(resid), width, resid[0].shape[1], dtype=resid[0].dtype)
    mask = torch.zeros(len(resid), width, dtype=torch.long)
    for i, r in enumerate(resid):
        out[i, :r.shape[0]] = r
        mask[i, :r.shape[0]] = 1
    return out, mask


def sequence_losses(top: torch.nn.Module, resid: list[torch.Tensor], ids: list[list[int]], n_prompt: list[int]
                    ) -> torch.Tensor:
    """(batch,) mean next-token loss of each sequence over its scored tokens (the unembedding runs only there)."""
    x, mask = pad_residuals(resid)
    hidden = hidden_states(top, x, mask)
    rows, cols, targets, owner = [], [], [], []
    for i, (seq, start) in enumerate(zip(ids, n_prompt)):
        for t in range(start, len(seq)):
            rows.append(i)
            cols.append(t - 1)
            targets.append(seq[t])
            owner.append(i)
    logits = top.get_output_embeddings()(hidden[torch.tensor(rows), torch.tensor(cols)])  # (n_scored, d_vocab)
    nll = torch.nn.functional.cross_entropy(logits, torch.tensor(targets), reduction="none")
    owner_t = torch.tensor(owner)
    counts = torch.bincount(owner_t, minlength=len(ids)).to(nll.dtype)
    return torch.zeros(len(ids), dtype=nll.dtype).index_add(0, owner_t, nll) / counts
