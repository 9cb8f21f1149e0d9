"""The forward passes of interp.ask: prompts, next-token probabilities of a few tokens, the log-likelihood of
whole continuations (option texts), batched greedy generation.

A prompt is a chat (the tokenizer's template, ``style="chat"``) or plain text (``style="plain"``: "Question: ...
Answer: ..." turns, :func:`interp.ask.prompts.plain_text`, for base models without a chat template), followed by
the start of the reply (e.g. ``"The answer is ("``). Prompts run in left-padded batches (every row ends at the last column,
so the next-token logits are the last column's), sorted by length to waste little padding, under
``model.lock``. Generation is greedy, batched with left padding, stops at the end-of-turn token (and
any extra stop strings' tokens), and runs Hugging Face ``generate`` on the bridge's model with its
key-value cache, holding ``model.lock`` for the whole batch.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp.attribution._core import pad_left  # (batch, pos) left-padded ids and mask, shared with attribution
from interp.errors import InvalidParameterError, NoChatTemplateError, PromptTooLongError
from interp.models.model import plan_batches

if TYPE_CHECKING:
    from interp.models.model import Model

Messages = list[dict[str, str]]
TOKEN_BUDGET = 8192  # padded tokens per forward pass
GEN_BATCH = 16


class Timer:
    """Seconds spent in forward passes and in generation (what the benchmark reports)."""

    def __init__(self) -> None:
        self.forward = 0.0
        self.generate = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"forward_s": self.forward, "generate_s": self.generate}


def require_chat(model: Model, where: str) -> None:
    """:class:`NoChatTemplateError` unless the model's tokenizer has a chat template."""
    if not getattr(model.tokenizer, "chat_template", None):
        raise NoChatTemplateError(f"{where} asks the model in chat form, which needs a chat template; {model.name}'s "
                                  "tokenizer has none (tokenizer.chat_template is empty: a base model). Use an instruct "
                                  "model, e.g. interp.load_model() (SmolLM2-135M-Instruct).")


def render(model: Model, messages: Messages, prefix: str = "", *, style: str = "chat") -> str:
    """The prompt text of ``messages`` in ``style`` ("chat": the template; "plain": Question/Answer text),
    followed by ``prefix`` (the reply's first words)."""
    if style == "chat":
        return chat_text(model, messages, prefix)
    from interp.ask.prompts import plain_text

    return plain_text(messages, prefix)


def encode_prompt(model: Model, text: str, *, style: str = "chat", where: str) -> list[int]:
    """Token ids of a rendered prompt: a chat's template holds its own start token; a plain prompt gets the
    model's BOS token first when the model prepends one (Gemma)."""
    ids = encode(model, text, where=where)
    if style == "plain" and model.prepend_bos and model.tokenizer.bos_token_id is not None:
        ids = [int(model.tokenizer.bos_token_id), *ids]
        if len(ids) >= model.n_ctx:
            raise PromptTooLongError(f"{where}: a prompt is {len(ids)} tokens long; {model.name} accepts {model.n_ctx}.")
    return ids


def chat_text(model: Model, messages: Messages, prefix: str = "") -> str:
    """The templated chat, ready for the assistant's turn, followed by ``prefix`` (the reply's first words)."""
    return model.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefix


def encode(model: Model, text: str, *, where: str) -> list[int]:
    """Token ids of a templated chat (the template holds its own start token: no BOS is added)."""
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) >= model.n_ctx:
        raise PromptTooLongError(f"{where}: a prompt is {len(ids)} tokens long; {model.name} accepts {model.n_ctx}.")
    return ids


def single_token(model: Model, text: str, *, where: str) -> int:
    """The id of ``text`` when it is one token (option letters, " True"); else an error naming it."""
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise InvalidParameterError(f"{where}: {text!r} is {len(ids)} tokens for {model.name}'s tokenizer; it must "
                                    "be exactly one token to be scored.")
    return int(ids[0])


def _keeps_one(model: Model) -> dict[str, Any]:
    forward = type(model.bridge.original_model).forward
    try:
        return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(forward).parameters else {}
    except (TypeError, ValueError):  # pragma: no cover
        return {}


def next_token_logprobs(model: Model, seqs: Sequence[Sequence[int]], token_ids: Sequence[int] | np.ndarray, *,
                        batch_size: int | None = None, timer: Timer | None = None) -> np.ndarray:
    """(n, k) log-probabilities (softmax over the whole vocabulary) of ``token_ids`` after each sequence.

    ``token_ids`` is (k,) for every sequence alike or (n, k) per sequence.
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    per_row = ids.ndim == 2
    out = np.zeros((len(seqs), ids.shape[-1]), dtype=np.float64)
    groups = plan_batches([len(s) for s in seqs], batch_size, budget=TOKEN_BUDGET, where="interp.ask")
    keep = _keeps_one(model)
    start = time.perf_counter()
    with model.lock, torch.inference_mode():
        for group in groups:
            tokens, mask = pad_left(model, [seqs[i] for i in group])
            kwargs = {"attention_mask": mask.to(model.device)} if not bool(mask.all()) else {}
            logits = model.bridge(tokens.to(model.device), **kwargs, **keep)[:, -1].float().cpu()  # (b, d_vocab)
            logp = torch.log_softmax(logits, dim=-1).double().numpy()
            for row, i in enumerate(group):
                out[i] = logp[row, ids[i] if per_row else ids]
    if timer is not None:
        timer.forward += time.perf_counter() - start
    return out


def continuation_logprobs(model: Model, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], *,
                          batch_size: int | None = None, timer: Timer | None = None) -> np.ndarray:
    """(n,) summed log-probability of each continuation's tokens after its context (lm-eval's loglikelihood).

    Each row ``context + continuation`` runs in a left-padded batch (the k options of a question are k rows
    of similar length, so they share a pass); only the last ``len(continuation) + 1`` positions' logits are
    computed (``logits_to_keep``), and rows per pass are capped so that the kept float32 logits stay within
    :meth:`Model.logits_token_budget` tokens (Gemma's 262k-token vocabulary).
    """
    rows = [list(c) + list(t) for c, t in zip(contexts, continuations)]
    ms = [len(t) for t in continuations]
    if any(m < 1 for m in ms):
        raise InvalidParameterError("continuation_logprobs: every continuation needs at least one token.")
    out = np.zeros(len(rows), dtype=np.float64)
    logit_budget = model.logits_token_budget()
    groups = []
    for group in plan_batches([len(r) for r in rows], batch_size, budget=TOKEN_BUDGET, where="interp.ask"):
        current: list[int] = []
        for i in group:  # split further so that rows x kept positions stay within the logits budget
            keep = max(ms[j] for j in (*current, i)) + 1
            if current and (len(current) + 1) * keep > logit_budget:
                groups.append(current)
                current = []
            current.append(i)
        groups.append(current)
    start = time.perf_counter()
    with model.lock, torch.inference_mode():
        for group in groups:
            keep = max(ms[i] for i in group) + 1
            tokens, mask = pad_left(model, [rows[i] for i in group])
            kwargs = {"attention_mask": mask.to(model.device)} if not bool(mask.all()) else {}
            if model.accepts_logits_to_keep:
                kwargs["logits_to_keep"] = keep
            logits = model.bridge(tokens.to(model.device), **kwargs)[:, -keep:].float()  # (b, keep, d_vocab)
            logp = torch.log_softmax(logits, dim=-1)
            for row, i in enumerate(group):
                m = ms[i]
                # the continuation's tokens sit in the last m columns; the logits predicting them at keep-m-1 .. keep-2
                target = torch.tensor(continuations[i], dtype=torch.long, device=logp.device)
                picked = logp[row, keep - m - 1:keep - 1].gather(-1, target[:, None])
                out[i] = float(picked.double().sum().cpu())
    if timer is not None:
        timer.forward += time.perf_counter() - start
    return out


def plain_stops(style: str) -> tuple[str, ...]:
    """Extra stop strings of a style: a plain prompt's reply ends at its line (the next "Question:" follows)."""
    return ("\n", "\n\n") if style == "plain" else ()


def stop_token_ids(model: Model, stop: Sequence[str] = ()) -> list[int]:
    """The end-of-sequence token, the chat template's end-of-turn token, and the single-token ``stop`` strings."""
    tokenizer = model.tokenizer
    ids = {int(tokenizer.eos_token_id)} if tokenizer.eos_token_id is not None else set()
    for text in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", *stop):
        found = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(found) == 1 and (text in stop or found[0] in tokenizer.all_special_ids):
            ids.add(int(found[0]))
    return sorted(ids)


def generate(model: Model, seqs: Sequence[Sequence[int]], *, max_new_tokens: int, stop: Sequence[str] = (),
             batch_size: int = GEN_BATCH, timer: Timer | None = None) -> list[str]:
    """Greedy continuations of each token sequence, batched with left padding, cut at the first stop token.

    Returns:
        The new text of each sequence (special tokens dropped, whitespace stripped).
    """
    if not seqs:
        return []
    stops = stop_token_ids(model, stop)
    hf = model.bridge.original_model
    out: list[str] = [""] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    start = time.perf_counter()
    with model.lock, torch.inference_mode():
        for b in range(0, len(order), batch_size):
            group = order[b:b + batch_size]
            tokens, mask = pad_left(model, [seqs[i] for i in group])
            result = hf.generate(tokens.to(model.device), attention_mask=mask.to(model.device),
                                 max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                                 pad_token_id=model.pad_token_id, temperature=None, top_p=None, top_k=None)
            new = result[:, tokens.shape[1]:].cpu().tolist()
            for row, i in enumerate(group):
                kept = []
                for t in new[row]:
                    if t in stops:
                        break
                    kept.append(t)
                out[i] = model.tokenizer.decode(kept, skip_special_tokens=True).strip()
    if timer is not None:
        timer.generate += time.perf_counter() - start
    return out
