"""Token ablation (occlusion): how much the prediction drops when one input token is taken away.

For each input token (or word) ``i`` the prompt is run again with ``i`` replaced by a baseline token
(or deleted), and the score is ``metric(original) - metric(ablated)`` for each target token: positive
means the token supports the target (Zeiler & Fergus 2014's occlusion, applied to text as in Li et
al. 2016, "Understanding Neural Networks through Representation Erasure"; Captum's
``FeatureAblation``). The BOS token (and the first token of a chat template) is never ablated.

Every ablated variant of every prompt runs in batched forward passes (micro-batched to a token budget,
halved on out-of-memory) that compute logits only at the positions predicting the target. For long
prompts (``reuse_prefix``) the keys and values of the prefix each variant shares with the original
are computed once and reused (Hugging Face ``past_key_values``).

Example:
    >>> import interp
    >>> from interp.attribution import token_ablation
    >>> model = interp.load_model()
    >>> result = token_ablation(model, "The capital of France is", " Paris")
    >>> result.top(2)                              # [(' France', 4.1), (' capital', 1.3)] or so
    >>> result.plot()                              # text heat map + bar chart
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice, check_int
from interp.attribution._core import (
    Prepared,
    build_result,
    check_common,
    metric_values,
    prepare_all,
    resolve_targets,
    score_sequences,
)
from interp.attribution.result import AttributionResult
from interp.errors import InvalidParameterError
from interp.models import engine

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["token_ablation", "resolve_replacement", "ablate", "SPECIAL_BASELINES"]

PREFIX_REUSE_MIN_TOKENS = 64  # reuse_prefix="auto" turns on from this length (one prompt)

#: Names ``replace_with`` accepts for the tokenizer's special tokens.
SPECIAL_BASELINES = {"<unk>": "unk_token_id", "<pad>": "pad_token_id", "<bos>": "bos_token_id", "<eos>": "eos_token_id"}


def resolve_replacement(model: Model, replace_with: str | int | None, *, where: str) -> int | None:
    """The token id that ablation puts in place of a token; None means delete it.

    ``replace_with`` is None (delete), a token id, one of ``"<unk>"``, ``"<pad>"``, ``"<bos>"``,
    ``"<eos>"`` (the tokenizer's special token of that role; ``"<unk>"`` falls back to the pad token
    where the tokenizer has no unknown token), or any text that tokenizes to exactly one token
    (e.g. ``" the"``, ``"_"``).
    """
    if replace_with is None:
        return None
    tokenizer = model.tokenizer
    if isinstance(replace_with, (int, np.integer)) and not isinstance(replace_with, bool):
        return check_int(int(replace_with), name="replace_with", where=where, low=0, high=model.d_vocab)
    if not isinstance(replace_with, str):
        raise InvalidParameterError(f"The 'replace_with' parameter of {where} must be None (delete), a token id, "
                                    f"or a str that is one token. Got {type(replace_with).__name__} instead.")
    if replace_with in SPECIAL_BASELINES:
        token_id = model.pad_token_id if replace_with == "<pad>" else getattr(tokenizer, SPECIAL_BASELINES[replace_with])
        if token_id is None and replace_with == "<unk>":
            token_id = model.pad_token_id
        if token_id is None:
            raise InvalidParameterError(f"The 'replace_with' parameter of {where} is {replace_with!r}, but "
                                        f"{model.name}'s tokenizer has no such token. Use '<pad>', None (delete), "
                                        "or a one-token string.")
        return int(token_id)
    ids = tokenizer(replace_with, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise InvalidParameterError(f"The 'replace_with' parameter of {where} must tokenize to exactly one token. "
                                    f"Got {replace_with!r}, which is {len(ids)} tokens: {model.ids_to_str(ids)}. "
                                    f"Use one of {', '.join(SPECIAL_BASELINES)}, a token id, or None to delete.")
    return int(ids[0])


def ablate(ids: Sequence[int], positions: Sequence[int], replacement: int | None) -> list[int]:
    """``ids`` with ``positions`` replaced by ``replacement`` (or deleted when it is None)."""
    drop = set(positions)
    if replacement is None:
        return [t for i, t in enumerate(ids) if i not in drop]
    return [replacement if i in drop else t for i, t in enumerate(ids)]


def token_ablation(model: Model, prompt: str | Sequence[str], target: Any = None, *,
                   replace_with: str | int | None = "<unk>", unit: str = "token", metric: Any = "logprob",
                   contrast: str | None = None, chat: bool = False, system: str | None = None,
                   batch_size: int | None = None, reuse_prefix: bool | str = "auto"
                   ) -> AttributionResult | list[AttributionResult]:
    """Score each input token by how much ablating it lowers the target's metric.

    Args:
        model: an :class:`interp.Model`.
        prompt: a prompt, or a list of prompts (all their variants run as shared batches).
        target: the continuation to explain: None (the model's top next token), a string or token ids
            (possibly several tokens; each gets a row of scores, :attr:`AttributionResult.total` is the
            whole continuation), an :class:`interp.Target` ``(answer, foil)`` (a one-token foil scores
            ``logit(answer) - logit(foil)``), or a list of these, one per prompt.
        replace_with: the baseline put in place of an ablated token: ``"<unk>"`` (default; the
            tokenizer's unknown token, which is token 0 like Captum's default baseline, or the pad
            token where there is none), ``"<pad>"``, ``"<bos>"``, ``"<eos>"``, a string of exactly one
            token, a token id, or None to delete the token (the sequence gets shorter and later tokens
            move one position left).
        unit: "token", or "word" to ablate every sub-token of a word at once (words are runs of
            letters/digits or of punctuation; each sub-token is replaced, or all are deleted).
        metric: "logprob" (default), "prob" or "logit" of each target token, or a callable
            ``metric(logits, target_ids, foil_ids)`` (see :mod:`interp.targets`).
        contrast: deprecated (interp < 0.3): the foil, now ``target=Target(answer, foil=...)``; warns.
        chat: wrap the prompt in the model's chat template; only the user's tokens are reported, and
            ``segment_scores`` sums the scores of the system, user and assistant segments.
        system: the system message with ``chat=True`` (the template's default otherwise).
        batch_size: variants per forward pass; by default about 4,096 tokens per pass. A pass that
            runs out of memory is retried in halves.
        reuse_prefix: compute the keys and values of the prefix each variant shares with the
            original once, and run only the changed suffix: a prompt of n tokens then costs about
            0.6 n^2 token passes instead of n^2, in a few more (smaller) passes. Scores are the same
            up to float rounding. True, False, or "auto" (default): on for a single prompt of at
            least 64 tokens (1.4x faster at 73 tokens in benchmarks/bench_attribution.py).

    Returns:
        An :class:`AttributionResult` with ``scores`` (n_target_tokens, n_units) and
        ``method="ablation"``; a list of them for a list of prompts.

    Example:
        >>> result = token_ablation(model, "The Eiffel Tower is in", " Paris", unit="word")
        >>> result.to_frame().sort_values("score").tail(3)
    """
    where = "token_ablation"
    contrast = targets.renamed_parameter(where, "contrast", "target=Target(answer, foil)", contrast)
    check_common(metric=metric, unit=unit, chat=chat, where=where)
    check_choice(reuse_prefix, (True, False, "auto"), name="reuse_prefix", where=where)
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)
    replacement = resolve_replacement(model, replace_with, where=where)
    preps, single = prepare_all(model, prompt, unit=unit, chat=chat, system=system, where=where)
    resolve_targets(model, preps, target, contrast, where=where, batch_size=batch_size)

    if reuse_prefix == "auto":
        use_prefix = len(preps) == 1 and len(preps[0].sequence()) >= PREFIX_REUSE_MIN_TOKENS
    else:
        use_prefix = bool(reuse_prefix)
    if use_prefix:
        values = [_score_with_prefix(model, prep, replacement, metric, batch_size=batch_size, where=where)
                  for prep in preps]
    else:
        seqs: list[list[int]] = []
        for prep in preps:
            seqs.append(prep.sequence())
            seqs.extend(prep.sequence(ablate(prep.ids, u, replacement)) for u in prep.units)
        flat = score_sequences(model, seqs, [p.target_ids for p in preps for _ in range(len(p.units) + 1)],
                               [p.foil_id for p in preps for _ in range(len(p.units) + 1)], metric,
                               batch_size=batch_size, where=where)
        values, start = [], 0
        for prep in preps:
            values.append(np.stack(flat[start:start + len(prep.units) + 1]))  # (1 + n_units, n_targets)
            start += len(prep.units) + 1

    metadata = {"unit": unit, "mode": "delete" if replacement is None else "replace",
                "replace_with": None if replacement is None else model.ids_to_str([replacement])[0],
                "replace_with_id": replacement, "reuse_prefix": use_prefix}
    results = []
    for prep, rows in zip(preps, values):
        original = rows[0]
        scores = (original[None, :] - rows[1:]).T  # (n_targets, n_units)
        results.append(build_result(model, prep, scores, method="ablation", metric=metric, target_values=original,
                                    metadata=metadata))
    return results[0] if single else results


# ----------------------------------------------------------------------------------------- prefix reuse
def _score_with_prefix(model: Any, prep: Prepared, replacement: int | None, metric: str, *,
                       batch_size: int | None, where: str, n_buckets: int | None = None) -> np.ndarray:
    """(1 + n_units, n_targets) metric of the original and of each ablated variant of one prompt,
    reusing the keys and values of the unchanged prefix.

    Variant ``u`` equals the original up to its first ablated position ``s_u``. Variants are split
    into buckets of consecutive ``s_u``; a bucket starting at ``k`` copies the original's cache of
    positions ``[0, k)`` and runs only positions ``k..`` of its variants. With ``B`` buckets a prompt
    of ``n`` tokens costs about ``n^2 (1 + 1/B) / 2`` token-passes instead of ``n^2``.
    """
    n_targets = len(prep.target_ids)
    original_seq = prep.sequence()
    foil = None if prep.foil_id is None else torch.tensor([prep.foil_id])
    with model.lock, torch.inference_mode():
        tokens = torch.tensor([original_seq])
        logits, cache = engine.forward(model, tokens, None, n_targets, return_type="logits_and_cache")
        engine._record(model, 1, len(original_seq), engine.row_bytes(model, len(original_seq), keep=n_targets))
        original = metric_values(logits[:, -n_targets:].float().cpu(), torch.tensor([prep.target_ids]), metric, foil)
    starts = [min(u) for u in prep.units]
    variants = [prep.sequence(ablate(prep.ids, u, replacement)) for u in prep.units]
    order = sorted(range(len(variants)), key=lambda i: starts[i])
    n = len(original_seq)
    if n_buckets is None:  # about sqrt(n / 8) buckets: per-pass overhead vs fewer recomputed tokens
        n_buckets = max(1, min(len(order), int(round((n / 8) ** 0.5))))
    buckets = [order[i * len(order) // n_buckets:(i + 1) * len(order) // n_buckets] for i in range(n_buckets)]
    rows = np.zeros((1 + len(variants), n_targets))
    rows[0] = original[0].double().numpy()
    target_t = torch.tensor([prep.target_ids])
    for bucket in (b for b in buckets if b):
        k = min(starts[i] for i in bucket)
        suffixes = [variants[i][k:] for i in bucket]
        groups = engine.plan(model, [len(s) + k for s in suffixes], keep=n_targets, batch_size=batch_size)

        def run(group: list[int], k: int = k, suffixes: list[list[int]] = suffixes) -> torch.Tensor:
            width = max(len(suffixes[j]) for j in group)
            ids = torch.full((len(group), width), model.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(group), k + width), dtype=torch.long)
            mask[:, :k] = 1
            for row, j in enumerate(group):  # right padding: positions stay k, k + 1, ...
                ids[row, :len(suffixes[j])] = torch.tensor(suffixes[j])
                mask[row, k:k + len(suffixes[j])] = 1
            past = None
            if k > 0:  # a model without BOS can ablate position 0: then there is no prefix to reuse
                past = copy.deepcopy(cache)
                past.crop(k - n)  # keep positions [0, k)
                past.batch_repeat_interleave(len(group))
            ends = [len(suffixes[j]) for j in group]
            wanted = sorted({end - n_targets + t for end in ends for t in range(n_targets)})
            logits = engine.forward(model, ids, mask, wanted, past_key_values=past).float().cpu()
            engine._record(model, len(group), width, len(group) * engine.row_bytes(model, k + width, keep=n_targets))
            column = {p: c for c, p in enumerate(wanted)}
            pick = torch.tensor([[column[end - n_targets + t] for t in range(n_targets)] for end in ends])
            return logits[torch.arange(len(group))[:, None], pick]  # (b, n_targets, d_vocab)

        with model.lock, torch.inference_mode():
            for group, logits in engine.split_on_oom(groups, run):
                g_foil = None if foil is None else foil.expand(len(group))
                values = metric_values(logits, target_t.expand(len(group), -1), metric, g_foil).double().numpy()
                for row, j in enumerate(group):
                    rows[1 + bucket[j]] = values[row]
    return rows

