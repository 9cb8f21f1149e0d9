"""Machinery shared by every attribution method.

- :func:`prepare`: a prompt -> the token ids the model sees (BOS or chat template included) and the
  attributable *units* (single tokens, or whole words), with chat segments;
- :func:`resolve_targets`: the target continuation (the model's top next token by default) and an
  optional foil token (:class:`interp.Target`; tokens resolved by :mod:`interp.targets`);
- :func:`score_sequences`: the target metric of many token sequences through the model's engine
  (``Model.run``: logits only at the positions predicting the target, micro-batched in bytes, halved
  on out-of-memory);
- :func:`metric_values`: logits -> log-probability, probability, logit or logit difference (or a callable);
- :func:`build_result`: all-unit scores -> :class:`AttributionResult` (reported units, segments).

A prompt and a target of ``n_t`` tokens are run as one teacher-forced sequence,
``prompt + target[:-1]``; the logits at its last ``n_t`` positions predict the target tokens.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice, check_texts
from interp.attribution.result import AttributionResult
from interp.errors import InvalidParameterError, PromptTooLongError
from interp.models.card import model_card

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
def check_common(*, metric: Any, unit: str, chat: bool, where: str) -> None:
    targets.check_metric(metric, where=where, allowed=METRICS)
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
def resolve_targets(model: Any, prepared: list[Prepared], target: Any, contrast: Any = None, *, where: str,
                    batch_size: int | None = None) -> None:
    """Set ``target_ids`` (and ``foil_id``) of every prepared prompt.

    ``target`` is None (each prompt's top next token), a string or token ids (the same continuation for every
    prompt), an :class:`interp.Target` ``(answer, foil)``, or a list with one of those per prompt; tokens are
    resolved by :func:`interp.targets.token_ids`. A foil (the Target's, or ``contrast``) makes the metric
    ``logit(target) - logit(foil)``: it must be one token, and so must the target.
    """
    entries = targets.per_prompt(target, len(prepared), where=where)
    answers, foils = zip(*(targets.split(t, contrast) for t in entries)) if entries else ((), ())
    missing = [i for i, t in enumerate(answers) if t is None]
    if missing:
        top = top_tokens(model, [prepared[i].ids for i in missing], batch_size=batch_size, where=where)
        for i, token in zip(missing, top):
            prepared[i].target_ids = [token]
    for prep, answer, foil in zip(prepared, answers, foils):
        if answer is not None:
            prep.target_ids = targets.token_ids(model, answer, name="target", where=where)
        length = len(prep.sequence())
        if length > model.n_ctx:
            raise PromptTooLongError(f"{where}: the prompt ({len(prep.ids)} tokens) plus the target "
                                     f"({len(prep.target_ids)} tokens) is {length} tokens, more than "
                                     f"n_ctx={model.n_ctx} of {model.name}.")
        if foil is not None:
            prep.foil_id = targets.one_token(model, foil, name="foil", where=where)
            if len(prep.target_ids) != 1:
                raise InvalidParameterError(f"{where}: with a foil the target must be one token too; "
                                            f"{model.ids_to_str(prep.target_ids)} is {len(prep.target_ids)}.")


def top_tokens(model: Any, seqs: list[list[int]], *, batch_size: int | None = None, where: str) -> list[int]:
    """The most likely next token after each sequence (one engine pass per micro-batch)."""
    out = [0] * len(seqs)
    for rows, top in model.run(seqs, keep="last", batch_size=batch_size, each=lambda p: p.logits.argmax(-1).tolist()):
        for i, token in zip(rows, top):
            out[i] = int(token)
    return out


# ----------------------------------------------------------------------------------------- scoring
def metric_values(logits: torch.Tensor, targets_: torch.Tensor, metric: Any,
                  foils: torch.Tensor | None = None) -> torch.Tensor:
    """(batch, k) metric of ``targets_`` (batch, k) under ``logits`` (batch, k, d_vocab): see
    :func:`interp.targets.metric_values` (with ``foils`` (batch,) it is the logit difference)."""
    return targets.metric_values(metric, logits, targets_, foils)


def score_sequences(model: Any, seqs: list[list[int]], target_ids: list[list[int]], foils: list[int | None],
                    metric: Any, *, batch_size: int | None = None, where: str) -> list[np.ndarray]:
    """The metric of each target token after each sequence, in the engine's batched passes (``Model.run``).

    Args:
        seqs: token sequences ending with the teacher-forced target prefix (see the module doc).
        target_ids: the target ids of each sequence; the last ``len(target_ids[i])`` positions of
            ``seqs[i]`` predict them.
        foils: a contrast token per sequence, or None.

    Returns:
        One (n_targets_i,) float64 array per sequence.
    """
    out: list[np.ndarray | None] = [None] * len(seqs)
    seqs = [s if s else [model.pad_token_id] for s in seqs]
    k = max(len(t) for t in target_ids)

    def each(p: Any) -> np.ndarray:
        logits = p.logits.float().cpu()  # (rows, k, d_vocab): left padding, every row ends at the last column
        tgt = torch.zeros((len(p.rows), k), dtype=torch.long)
        for row, i in enumerate(p.rows):
            tgt[row, k - len(target_ids[i]):] = torch.tensor(target_ids[i])
        foil = None
        if any(foils[i] is not None for i in p.rows):
            foil = torch.tensor([foils[i] if foils[i] is not None else 0 for i in p.rows])
        return metric_values(logits, tgt, metric, foil).double().numpy()

    for rows, values in model.run(seqs, keep=k, batch_size=batch_size, padding_side="left", each=each):
        for row, i in enumerate(rows):
            out[i] = values[row, k - len(target_ids[i]):]
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------- results
def metric_name(prep: Prepared, metric: Any) -> str:
    return "logit_diff" if prep.foil_id is not None else targets.metric_label(metric)


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
