"""Machinery shared by every attribution method.

- :func:`prepare`: a prompt -> the token ids the model sees (BOS or chat template included) and the
  attributable *units* (single tokens, or whole words), with chat segments;
- :func:`resolve_targets`: the target continuation (the model's top next token by default) and an
  optional contrast ("foil") token;
- :func:`score_sequences`: the target metric of many token sequences in batched forward passes that
  compute logits only at the positions predicting the target (``logits_to_keep``), micro-batched to
  a token budget, with a smaller batch on out-of-memory;
- :func:`metric_values`: logits -> log-probability, probability, logit or logit difference;
- :func:`build_result`: all-unit scores -> :class:`AttributionResult` (reported units, segments).

A prompt and a target of ``n_t`` tokens are run as one teacher-forced sequence,
``prompt + target[:-1]``; the logits at its last ``n_t`` positions predict the target tokens.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from interp._validation import check_choice, check_texts
from interp.attribution.result import AttributionResult
from interp.errors import EmptyPromptError, InvalidParameterError, PromptTooLongError
from interp.models.card import model_card
from interp.models.model import TOKENS_PER_BATCH, plan_batches

METRICS = ("logprob", "prob", "logit")
UNITS = ("token", "word")
SEGMENTS = ("system", "user", "assistant")
_WORD_RE = re.compile(r"\w+|[^\w\s]+")


@dataclasses.dataclass
class Prepared:
    """One prompt ready for attribution.

    Attributes:
        prompt: the text the model sees (after the chat template when ``chat``).
        ids: (pos,) its token ids, BOS or chat template included.
        units: token positions of each attributable unit, in order; the first token (BOS, or the
            chat template's first token) is never one.
        unit_text: each unit as text.
        segments: chat segment of each unit ("system", "user", "assistant"), or "" without chat.
        reported: indices of the units a result shows (with chat: the user's units).
        target_ids: the target continuation's ids (set by :func:`resolve_targets`).
        foil_id: the contrast token's id, or None.
    """

    prompt: str
    ids: list[int]
    units: list[list[int]]
    unit_text: list[str]
    segments: list[str]
    reported: list[int]
    chat: bool
    target_ids: list[int] = dataclasses.field(default_factory=list)
    foil_id: int | None = None

    def sequence(self, ids: Sequence[int] | None = None) -> list[int]:
        """``ids`` (the prompt's by default) followed by the teacher-forced target tokens."""
        return [*(self.ids if ids is None else ids), *self.target_ids[:-1]]

    @property
    def first(self) -> int:
        """Position of the first attributable token."""
        return self.units[0][0] if self.units else len(self.ids)


# ----------------------------------------------------------------------------------------- prompts
def check_common(*, metric: str, unit: str, chat: bool, where: str) -> None:
    check_choice(metric, METRICS, name="metric", where=where)
    check_choice(unit, UNITS, name="unit", where=where)
    if not isinstance(chat, bool):
        raise InvalidParameterError(f"The 'chat' parameter of {where} must be a bool. Got {chat!r} instead.")


def prepare(model: Any, prompt: str, *, unit: str = "token", chat: bool = False, system: str | None = None,
            where: str) -> Prepared:
    """Tokenize one prompt and split it into attributable units (see :class:`Prepared`)."""
    text = model.chat_prompt(prompt, system=system) if chat else prompt
    ids = model.encode(text, prepend_bos=False if chat else None, where=where)
    first = 1 if (chat or (model.prepend_bos and ids and ids[0] == model.tokenizer.bos_token_id)) else 0
    n_text = len(ids) - (1 if (first and not chat) else 0)  # tokens that come from `text` itself
    offsets: list[tuple[int, int]] | None = None
    if unit == "word" or chat:
        offsets = _offsets(model, text, ids[len(ids) - n_text:], where)
        offsets = [(0, 0)] * (len(ids) - n_text) + offsets  # BOS has no characters
    positions = list(range(first, len(ids)))
    if unit == "word":
        special = set(model.tokenizer.all_special_ids)
        units = _word_units(text, offsets, positions, {i for i in positions if ids[i] in special})
    else:
        units = [[i] for i in positions]
    strings = model.ids_to_str(ids)
    unit_text = ["".join(strings[i] for i in u) for u in units]
    if chat:
        needle = prompt if prompt in text else prompt.strip()
        user_start = text.rfind(needle)
        if user_start < 0:
            raise InvalidParameterError(f"{where}: the chat template of {model.name} rewrote the prompt, so its "
                                        "tokens cannot be found in the templated text; use chat=False.")
        user_end = user_start + len(needle)
        segments = []
        for u in units:
            start, end = offsets[u[0]][0], offsets[u[-1]][1]
            segments.append("system" if end <= user_start else "assistant" if start >= user_end else "user")
        reported = [i for i, s in enumerate(segments) if s == "user"]
    else:
        segments = [""] * len(units)
        reported = list(range(len(units)))
    return Prepared(prompt=text, ids=ids, units=units, unit_text=unit_text, segments=segments, reported=reported,
                    chat=chat)


def prepare_all(model: Any, prompt: str | Sequence[str], *, unit: str, chat: bool, system: str | None,
                where: str) -> tuple[list[Prepared], bool]:
    """:func:`prepare` for a prompt or a list of prompts; returns (prepared, was_single)."""
    texts, single = check_texts(prompt, where=where)
    return [prepare(model, t, unit=unit, chat=chat, system=system, where=where) for t in texts], single


def _offsets(model: Any, text: str, ids: list[int], where: str) -> list[tuple[int, int]]:
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidParameterError(f"{where}: unit='word' and chat=True need a fast tokenizer (character offsets); "
                                    f"{model.name}'s is not. Use unit='token' and chat=False.")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoded["input_ids"]) != list(ids):  # pragma: no cover - the same tokenizer call as Model.encode
        raise InvalidParameterError(f"{where}: could not align {model.name}'s tokens with the text's characters.")
    return [tuple(o) for o in encoded["offset_mapping"]]


def _word_units(text: str, offsets: list[tuple[int, int]], positions: list[int], special: set[int]) -> list[list[int]]:
    """Group token positions into words: runs of word characters, runs of punctuation, special tokens.

    A token belongs to the word that holds its first non-space character; a whitespace-only token and
    a special token are units of their own.
    """
    spans = [m.span() for m in _WORD_RE.finditer(text)]
    starts = [s for s, _ in spans]
    units: list[list[int]] = []
    last_word: int | None = None
    for pos in positions:
        start, end = offsets[pos]
        piece = text[start:end]
        stripped = len(piece) - len(piece.lstrip())
        if pos in special or not piece.strip():
            units.append([pos])
            last_word = None
            continue
        char = start + stripped
        word = int(np.searchsorted(starts, char, side="right")) - 1
        if word >= 0 and not (spans[word][0] <= char < spans[word][1]):
            word = -1
        if word >= 0 and word == last_word:
            units[-1].append(pos)
        else:
            units.append([pos])
        last_word = word if word >= 0 else None
    return units


# ----------------------------------------------------------------------------------------- targets
def _encode_target(model: Any, text: Any, *, name: str, where: str) -> list[int]:
    if not isinstance(text, str):
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be a str or None. "
                                    f"Got {type(text).__name__} instead.")
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise EmptyPromptError(f"The {name!r} parameter of {where} tokenizes to no tokens: got {text!r}. "
                               f"Give a non-empty continuation such as ' Paris', or None for the model's top "
                               "next token.")
    return list(ids)


def resolve_targets(model: Any, prepared: list[Prepared], target: str | Sequence[str] | None, contrast: str | None,
                    *, where: str, batch_size: int | None = None) -> None:
    """Set ``target_ids`` (and ``foil_id``) of every prepared prompt.

    ``target`` is None (each prompt's top next token), a string (the same continuation for every
    prompt) or a list of strings, one per prompt. ``contrast`` is a one-token foil: the metric becomes
    ``logit(target) - logit(foil)`` and the target must be one token too.
    """
    if target is None:
        targets: list[str | None] = [None] * len(prepared)
    elif isinstance(target, str):
        targets = [target] * len(prepared)
    elif isinstance(target, Sequence) and len(target) == len(prepared):
        targets = list(target)
    else:
        raise InvalidParameterError(f"The 'target' parameter of {where} must be None, a str, or a list of str with "
                                    f"one target per prompt ({len(prepared)}). Got {target!r} instead.")
    missing = [i for i, t in enumerate(targets) if t is None]
    if missing:
        top = top_tokens(model, [prepared[i].ids for i in missing], batch_size=batch_size, where=where)
        for i, token in zip(missing, top):
            prepared[i].target_ids = [token]
    for prep, text in zip(prepared, targets):
        if text is not None:
            prep.target_ids = _encode_target(model, text, name="target", where=where)
        length = len(prep.sequence())
        if length > model.n_ctx:
            raise PromptTooLongError(f"{where}: the prompt ({len(prep.ids)} tokens) plus the target "
                                     f"({len(prep.target_ids)} tokens) is {length} tokens, more than "
                                     f"n_ctx={model.n_ctx} of {model.name}.")
    if contrast is not None:
        foil = _encode_target(model, contrast, name="contrast", where=where)
        if len(foil) != 1:
            raise InvalidParameterError(f"The 'contrast' parameter of {where} must be one token (the foil whose "
                                        f"logit is subtracted). Got {contrast!r}, which is {len(foil)} tokens: "
                                        f"{model.ids_to_str(foil)}.")
        for prep in prepared:
            if len(prep.target_ids) != 1:
                raise InvalidParameterError(f"{where}: with a contrast the target must be one token too; "
                                            f"{model.ids_to_str(prep.target_ids)} is {len(prep.target_ids)}.")
            prep.foil_id = foil[0]


def top_tokens(model: Any, seqs: list[list[int]], *, batch_size: int | None = None, where: str) -> list[int]:
    """The most likely next token after each sequence."""
    out = [0] * len(seqs)
    with torch.inference_mode():
        for group, logits in last_logits(model, seqs, [1] * len(seqs), batch_size=batch_size, where=where):
            for row, i in enumerate(group):
                out[i] = int(logits[row, -1].argmax())
    return out


# ----------------------------------------------------------------------------------------- forward passes
def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or host) out-of-memory error."""
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_batched(groups: list[list[int]], fn: Callable[[list[int]], Any]) -> Iterator[tuple[list[int], Any]]:
    """Yield ``(group, fn(group))`` for each group; a group that runs out of memory is split in two and
    retried (down to single rows, whose failure is re-raised)."""
    queue = collections.deque(groups)
    while queue:
        group = queue.popleft()
        try:
            value = fn(group)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc) or len(group) == 1:
                raise
            _free_memory()
            half = len(group) // 2
            queue.appendleft(group[half:])
            queue.appendleft(group[:half])
            continue
        yield group, value


@functools.lru_cache(maxsize=32)
def _accepts_logits_to_keep(cls: type) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def pad_left(model: Any, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, pos) left-padded token ids and attention mask: every row ends at the last column."""
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), model.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
        mask[i, width - len(s):] = 1
    return tokens, mask


def forward_logits(model: Any, tokens: torch.Tensor, mask: torch.Tensor | None, keep: int | Sequence[int], *,
                   past_key_values: Any = None) -> torch.Tensor:
    """Logits at some positions only: (batch, k, d_vocab) for the last ``keep`` positions (an int) or
    for the listed positions of ``tokens`` (ascending). Where the Hugging Face model supports
    ``logits_to_keep``, the other positions' logits are never computed."""
    device = model.device
    kwargs: dict[str, Any] = {}
    if mask is not None and not bool(mask.all()):
        kwargs["attention_mask"] = mask.to(device)
    if past_key_values is not None:
        kwargs["past_key_values"] = past_key_values
    index = None if isinstance(keep, int) else torch.tensor(list(keep), dtype=torch.long)
    if _accepts_logits_to_keep(type(model.bridge.original_model)):
        kwargs["logits_to_keep"] = keep if index is None else index.to(device)
        return model.bridge(tokens.to(device), **kwargs)
    logits = model.bridge(tokens.to(device), **kwargs)  # pragma: no cover - models without logits_to_keep
    return logits[:, -keep:] if index is None else logits[:, index.to(device)]  # pragma: no cover


def last_logits(model: Any, seqs: list[list[int]], ks: list[int], *, batch_size: int | None, where: str,
                budget: int = TOKENS_PER_BATCH) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield ``(group, logits)`` with logits (len(group), max k, d_vocab) float32 on CPU: the last
    ``max(ks[i] for i in group)`` positions of each (left-padded) sequence of the group.

    By default a group also keeps its logits within ``LOGITS_BYTES_PER_BATCH`` (rows x k x d_vocab x 4 bytes),
    which only a large vocabulary reaches (Gemma 3's 262,144 tokens: 1,024 rows of one position)."""
    groups = plan_batches([len(s) for s in seqs], batch_size, budget=budget, where=where)
    if batch_size is None and groups:
        from interp.models import model as model_module

        rows = max(1, model_module.LOGITS_BYTES_PER_BATCH // (4 * model.d_vocab * max(1, max(ks))))
        groups = [group[i:i + rows] for group in groups for i in range(0, len(group), rows)]

    def run(group: list[int]) -> torch.Tensor:
        tokens, mask = pad_left(model, [seqs[i] for i in group])
        return forward_logits(model, tokens, mask, max(ks[i] for i in group)).float().cpu()

    yield from run_batched(groups, run)


def metric_values(logits: torch.Tensor, targets: torch.Tensor, metric: str,
                  foils: torch.Tensor | None = None) -> torch.Tensor:
    """(batch, k) metric of ``targets`` (batch, k) under ``logits`` (batch, k, d_vocab).

    ``metric`` is "logprob", "prob" or "logit"; with ``foils`` (batch,) it is the logit difference
    ``logit(target) - logit(foil)`` whatever ``metric`` says.
    """
    logits = logits.float()
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    if foils is not None:
        return picked - logits.gather(-1, foils.view(-1, 1, 1).expand(-1, logits.shape[1], 1)).squeeze(-1)
    if metric == "logit":
        return picked
    logprob = picked - torch.logsumexp(logits, dim=-1)
    return logprob.exp() if metric == "prob" else logprob


def score_sequences(model: Any, seqs: list[list[int]], targets: list[list[int]], foils: list[int | None],
                    metric: str, *, batch_size: int | None = None, where: str) -> list[np.ndarray]:
    """The metric of each target token after each sequence, in batched forward passes.

    Args:
        seqs: token sequences ending with the teacher-forced target prefix (see the module doc).
        targets: the target ids of each sequence; the last ``len(targets[i])`` positions of
            ``seqs[i]`` predict them.
        foils: a contrast token per sequence, or None.

    Returns:
        One (n_targets_i,) float64 array per sequence.
    """
    out: list[np.ndarray | None] = [None] * len(seqs)
    seqs = [s if s else [model.pad_token_id] for s in seqs]
    with torch.inference_mode():
        for group, logits in last_logits(model, seqs, [len(t) for t in targets], batch_size=batch_size, where=where):
            k = logits.shape[1]
            tgt = torch.zeros((len(group), k), dtype=torch.long)
            for row, i in enumerate(group):
                tgt[row, k - len(targets[i]):] = torch.tensor(targets[i])
            foil = None
            if any(foils[i] is not None for i in group):
                foil = torch.tensor([foils[i] if foils[i] is not None else 0 for i in group])
            values = metric_values(logits, tgt, metric, foil).double().numpy()
            for row, i in enumerate(group):
                out[i] = values[row, k - len(targets[i]):]
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------- results
def metric_name(prep: Prepared, metric: str) -> str:
    return "logit_diff" if prep.foil_id is not None else metric


def build_result(model: Any, prep: Prepared, scores: np.ndarray, *, method: str, metric: str,
                 target_values: np.ndarray, metadata: dict[str, Any]) -> AttributionResult:
    """Turn (n_targets, n_units) scores over every unit into the result the user sees."""
    scores = np.asarray(scores, dtype=np.float64)
    segment_scores: dict[str, list[float]] = {}
    if prep.chat:
        for segment in SEGMENTS:
            idx = [i for i, s in enumerate(prep.segments) if s == segment]
            segment_scores[segment] = [float(v) for v in scores[:, idx].sum(axis=1)]
    meta = {**metadata}
    if prep.foil_id is not None:
        meta["contrast"] = model.ids_to_str([prep.foil_id])[0]
        meta["contrast_id"] = int(prep.foil_id)
    return AttributionResult(
        prompt=prep.prompt,
        tokens=[prep.unit_text[i] for i in prep.reported],
        scores=scores[:, prep.reported].astype(np.float32),
        method=method,
        target=model.tokenizer.decode(prep.target_ids),
        target_tokens=model.ids_to_str(prep.target_ids),
        metric=metric_name(prep, metric),
        model_name=model.name, model_card=model_card(model),
        input_ids=np.asarray(prep.ids, dtype=np.int64),
        target_ids=np.asarray(prep.target_ids, dtype=np.int64),
        positions=[list(prep.units[i]) for i in prep.reported],
        target_values=np.asarray(target_values, dtype=np.float32),
        segment_scores=segment_scores,
        metadata={"chat": prep.chat, **meta},
    )


def prepared_from_result(model: Any, result: AttributionResult, *, where: str) -> Prepared:
    """Rebuild the :class:`Prepared` prompt of a result (its reported units only) to re-score it."""
    ids = [int(i) for i in result.input_ids]
    if not ids or not result.positions:
        raise InvalidParameterError(f"{where}: the result has no input_ids / positions to work from; "
                                    "pass a result computed by interp.attribution.")
    n = len(result.positions)
    return Prepared(prompt=result.prompt, ids=ids, units=[list(p) for p in result.positions],
                    unit_text=list(result.tokens), segments=[""] * n, reported=list(range(n)),
                    chat=bool(result.metadata.get("chat", False)), target_ids=[int(i) for i in result.target_ids],
                    foil_id=result.metadata.get("contrast_id"))
