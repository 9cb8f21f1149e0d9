"""The forward passes of interp.ask: prompts, next-token probabilities of a few tokens, the log-likelihood of
whole continuations (option texts), batched greedy generation.

A prompt is a chat (the tokenizer's template, ``style="chat"``) or plain text (``style="plain"``: "Question: ...
Answer: ..." turns, :func:`interp.ask.prompts.plain_text`, for base models without a chat template), followed by
the start of the reply (e.g. ``"The answer is ("``). Scoring runs on the model's engine (:meth:`Model.run`,
:mod:`interp.models.engine`: planned left-padded micro-batches under ``model.lock``, logits only at the kept
positions), each pass reduced to the few values kept (``each=``). Generation is greedy, batched with left
padding, stops at the end-of-turn token (and any extra stop strings' tokens), and runs Hugging Face
``generate`` on the bridge's model with its key-value cache, holding ``model.lock`` for the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp.errors import InvalidParameterError, PromptTooLongError
from interp.models.engine import pad_left  # (batch, pos) left-padded ids and mask

if TYPE_CHECKING:
    from interp.models.model import Model

Messages = list[dict[str, str]]
GEN_BATCH = 16


class Timer:
    """Seconds spent in forward passes and in generation (what the benchmark reports)."""

    def __init__(self) -> None:
        self.forward = 0.0
        self.generate = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"forward_s": self.forward, "generate_s": self.generate}


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


def next_token_logprobs(model: Model, seqs: Sequence[Sequence[int]], token_ids: Sequence[int] | np.ndarray, *,
                        batch_size: int | None = None, timer: Timer | None = None) -> np.ndarray:
    """(n, k) log-probabilities (softmax over the whole vocabulary) of ``token_ids`` after each sequence.

    ``token_ids`` is (k,) for every sequence alike or (n, k) per sequence. One :meth:`Model.run` (the engine
    plans the micro-batches, pads on the left and computes only the last position's logits); each pass keeps
    only its (rows, k) values.
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    per_row = ids.ndim == 2
    out = np.zeros((len(seqs), ids.shape[-1]), dtype=np.float64)
    if not len(seqs):
        return out

    def each(p: Any) -> np.ndarray:
        logp = torch.log_softmax(p.logits.float().cpu(), dim=-1).double().numpy()  # (b, d_vocab)
        return np.stack([logp[r, ids[i] if per_row else ids] for r, i in enumerate(p.rows)])

    start = time.perf_counter()
    for rows, values in model.run(seqs, keep="last", each=each, batch_size=batch_size):
        out[rows] = values
    if timer is not None:
        timer.forward += time.perf_counter() - start
    return out


def continuation_logprobs(model: Model, contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], *,
                          batch_size: int | None = None, timer: Timer | None = None) -> np.ndarray:
    """(n,) summed log-probability of each continuation's tokens after its context (lm-eval's loglikelihood).

    Each row ``context + continuation`` runs through :meth:`Model.run`, rows of one continuation length together
    (the k options of a question are k rows of one call, so they share passes), keeping the logits of only the
    last ``len(continuation) + 1`` positions (the engine's byte budget counts them: Gemma's 262k-token
    vocabulary).
    """
    rows = [list(c) + list(t) for c, t in zip(contexts, continuations)]
    ms = [len(t) for t in continuations]
    if any(m < 1 for m in ms):
        raise InvalidParameterError("continuation_logprobs: every continuation needs at least one token.")
    out = np.zeros(len(rows), dtype=np.float64)
    start = time.perf_counter()
    for m in sorted(set(ms)):
        index = [i for i in range(len(rows)) if ms[i] == m]

        def each(p: Any, index: list[int] = index, m: int = m) -> np.ndarray:
            logp = torch.log_softmax(p.logits.float(), dim=-1)  # (b, m + 1, d_vocab): the last m + 1 positions
            target = torch.tensor([continuations[index[r]] for r in p.rows], dtype=torch.long, device=logp.device)
            # position t of the kept ones predicts the continuation's token t (the last m columns of the row)
            return logp[:, :m].gather(-1, target[..., None])[..., 0].double().sum(-1).cpu().numpy()

        for group, values in model.run([rows[i] for i in index], keep=m + 1, each=each, batch_size=batch_size,
                                       ):
            out[[index[r] for r in group]] = values
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
