"""The one forward-pass engine: every analysis's batched passes go through :func:`run` (``Model.run``).

An analysis hands the engine token sequences and says which logits it needs (``keep``), which hooks to
install (``hooks``, fixed or built per micro-batch) and whether it needs gradients (``grad``). The engine

- plans micro-batches with ONE planner (:func:`plan_groups`, longest sequences first) against ONE budget
  unit, bytes: :func:`row_bytes` estimates one row's peak memory from the model's ``d_vocab``, ``d_model``,
  ``d_mlp``, ``n_heads``, ``n_layers`` and dtype (every layer's activations when ``grad``; only the logits
  it keeps); ``DEFAULT_BUDGET_BYTES`` (1 GiB) per pass unless ``budget_bytes`` or ``batch_size`` says;
- pads (left or right), passes the attention mask where there is padding, and asks the Hugging Face model
  for logits at the kept positions only (``logits_to_keep``) where it can;
- holds ``model.lock`` for each pass (hooks act only on that pass), runs under ``torch.inference_mode``
  unless ``grad``, and splits a micro-batch that runs out of memory in halves (:func:`split_on_oom`);
- counts passes: ``with model.count_passes() as count: ...`` then ``count.passes``, ``count.rows``,
  ``count.tokens`` and ``count.peak_bytes`` (the planner's estimate for the largest pass).

Example:
    >>> last = model.run(["The capital of France is", "Hi"])  # (2, d_vocab) float32 logits, on CPU
    >>> with model.count_passes() as count:
    ...     model.run([[1, 2, 3]] * 10, keep=2)  # (10, 2, d_vocab): the last two positions of each row
    >>> count.passes
    1

How ``interp.ask``'s ``next_token_logprobs(model, seqs, token_ids, batch_size=...)`` maps onto it::

    logits = model.run(seqs, keep="last", batch_size=batch_size, padding_side="left")  # (n, d_vocab)
    logp = torch.log_softmax(logits, dim=-1).double().numpy()
    out = logp[np.arange(len(seqs))[:, None], ids] if ids.ndim == 2 else logp[:, ids]

or, to keep only (n, k) values per micro-batch instead of (n, d_vocab)::

    def each(p): return torch.log_softmax(p.logits.float(), -1)[:, ids].double().cpu().numpy()
    for rows, values in model.run(seqs, each=each): out[rows] = values

Sequences may be token-id lists or texts (texts are encoded with :meth:`Model.encode`).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from interp._validation import check_choice, check_int
from interp.errors import InvalidParameterError

if TYPE_CHECKING:
    from interp.models.model import Model, TokenBatch
    from interp.progress import ProgressCallback

__all__ = ["run", "Pass", "PassCount", "plan", "plan_groups", "plan_batches", "row_bytes", "forward", "split_on_oom",
           "is_out_of_memory", "accepts_logits_to_keep", "pad", "pad_left", "DEFAULT_BUDGET_BYTES", "TOKENS_PER_BATCH", "KEEPS"]

#: Bytes one micro-batch may use by default (its activations and the logits it keeps), as planned by :func:`row_bytes`.
DEFAULT_BUDGET_BYTES = 1 << 30
#: The token budget of :func:`plan_batches` (kept for callers that plan in padded tokens, e.g. ``interp.ask``).
TOKENS_PER_BATCH = 4096
#: Named choices of ``keep``; an int k keeps each row's last k real positions.
KEEPS = ("last", "all", None)

HookList = Sequence[tuple[Any, Callable]]
Hooks = HookList | Callable[[list[int], "TokenBatch"], HookList] | None


# ----------------------------------------------------------------------------------------- planning
def plan_groups(lengths: Sequence[int], row_cost: Callable[[int], int], budget: int,
                batch_size: int | None = None) -> list[list[int]]:
    """THE planner: indices grouped into micro-batches, longest first (less padding per batch).

    With ``batch_size``, that many rows each; otherwise as many rows as keep ``rows * row_cost(width)``
    within ``budget`` (``width`` = the group's longest length); a row that alone exceeds it runs by itself.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if batch_size is not None:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    groups: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i in order:
        new_width = max(width, lengths[i]) if current else lengths[i]
        if current and (len(current) + 1) * row_cost(new_width) > budget:
            groups.append(current)
            current, new_width = [], lengths[i]
        current.append(i)
        width = new_width
    return groups + ([current] if current else [])


def plan_batches(lengths: Sequence[int], batch_size: int | None, *, budget: int = TOKENS_PER_BATCH,
                 where: str = "Model") -> list[list[int]]:
    """:func:`plan_groups` with a budget in padded tokens (``rows * width <= budget``): for callers that
    still size their passes in tokens. New code plans in bytes with :func:`plan`."""
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)
    return plan_groups(lengths, lambda width: width, budget, batch_size)


def _element_bytes(model: Model) -> int:
    try:
        return max(4, torch.empty((), dtype=model.dtype).element_size())  # CPU passes compute in float32 at least
    except Exception:  # pragma: no cover - a model without parameters
        return 4


def row_bytes(model: Model, width: int, *, keep: int = 1, grad: bool = False) -> int:
    """Estimated peak bytes of one row of ``width`` positions in a pass.

    Activations: a few residual-sized tensors, the MLP hidden layer and the attention scores and pattern
    per position (``12 d_model + 3 d_mlp + 3 n_heads width`` elements); with ``grad`` every layer's are kept
    for the backward pass (times ``n_layers``). Logits: ``d_vocab`` elements at each of the ``keep``
    positions (all ``width`` of them without ``logits_to_keep``).
    """
    cfg = getattr(getattr(model, "bridge", None), "cfg", None)
    d_mlp = int(getattr(cfg, "d_mlp", None) or 4 * model.d_model)
    size = _element_bytes(model)
    activations = size * width * (12 * model.d_model + 3 * d_mlp + 3 * model.n_heads * width)
    if grad:
        activations *= max(1, model.n_layers)
    kept = width if not accepts_logits_to_keep(model) else min(keep, width)
    return activations + size * kept * model.d_vocab


def _n_keep(keep: Any, width: int) -> int:
    if keep is None or keep == "last":
        return 1
    if keep == "all":
        return width
    return int(keep)


def plan(model: Model, lengths: Sequence[int], *, keep: Any = "last", grad: bool = False, batch_size: int | None = None,
         budget_bytes: int | None = None) -> list[list[int]]:
    """Micro-batches of rows of these lengths within ``budget_bytes`` (default ``DEFAULT_BUDGET_BYTES``) as
    estimated by :func:`row_bytes`, or ``batch_size`` rows each."""
    budget = DEFAULT_BUDGET_BYTES if budget_bytes is None else budget_bytes
    return plan_groups(lengths, lambda width: row_bytes(model, width, keep=_n_keep(keep, width), grad=grad), budget,
                       batch_size)


# ----------------------------------------------------------------------------------------- one pass
@functools.lru_cache(maxsize=32)
def _class_accepts_logits_to_keep(cls: type) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def accepts_logits_to_keep(model: Model) -> bool:
    """Whether the wrapped Hugging Face model computes logits at some positions only (``logits_to_keep``)."""
    original = getattr(getattr(model, "bridge", None), "original_model", None)
    return original is not None and _class_accepts_logits_to_keep(type(original))


def pad(model: Model, seqs: Sequence[Sequence[int]], padding_side: str = "left") -> TokenBatch:
    """A :class:`~interp.models.model.TokenBatch` of token-id sequences padded on ``padding_side``."""
    return model._pad([list(s) for s in seqs], padding_side)


def pad_left(model: Model, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, pos) left-padded token ids and attention mask: every row ends at the last column."""
    batch = pad(model, seqs, "left")
    return batch.tokens, batch.attention_mask


def _kept_positions(batch: TokenBatch, keep: Any) -> tuple[Any, torch.Tensor | None]:
    """(``logits_to_keep`` value, (rows, k) column of each row's kept positions in the returned logits or None
    when they are the last k columns of every row)."""
    width = batch.tokens.shape[1]
    k = _n_keep(keep, width)
    lengths = batch.lengths
    if keep == "all":
        return 0, None
    if keep is None:  # no logits wanted (a pass for its hooks): the fewest the model computes, the last column's
        return 1, None
    if batch.padding_side == "left" or all(n == width for n in lengths):
        return k, None
    wanted = [[max(0, n - k + t) for t in range(k)] for n in lengths]  # right padding: each row's own last k positions
    keep_positions = sorted({p for row in wanted for p in row})
    column = {p: c for c, p in enumerate(keep_positions)}
    return keep_positions, torch.tensor([[column[p] for p in row] for row in wanted])


def forward(model: Model, tokens: torch.Tensor, mask: torch.Tensor | None, keep: int | Sequence[int], *,
            past_key_values: Any = None, **extra: Any) -> Any:
    """One forward pass of ``tokens`` (batch, pos): logits (batch, k, d_vocab) for the last ``keep``
    positions (an int; 0 = every position) or for the listed positions (ascending). Where the Hugging Face
    model supports ``logits_to_keep`` the other positions' logits are never computed. The mask is passed
    only where it masks something; ``extra`` goes to the bridge as it is (``return_type="logits_and_cache"``
    returns the cache too). The caller holds ``model.lock`` (or relies on the bridge's own)."""
    device = model.device
    kwargs: dict[str, Any] = dict(extra)
    if mask is not None and not bool(mask.all()):
        kwargs["attention_mask"] = mask.to(device)
    if past_key_values is not None:
        kwargs["past_key_values"] = past_key_values
    index = None if isinstance(keep, int) else torch.tensor(list(keep), dtype=torch.long)
    if keep == 0:
        return model.bridge(tokens.to(device), **kwargs)
    if accepts_logits_to_keep(model):
        kwargs["logits_to_keep"] = keep if index is None else index.to(device)
        return model.bridge(tokens.to(device), **kwargs)
    logits = model.bridge(tokens.to(device), **kwargs)  # pragma: no cover - models without logits_to_keep
    return logits[:, -keep:] if index is None else logits[:, index.to(device)]  # pragma: no cover


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or host) out-of-memory error."""
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def split_on_oom(groups: list[list[int]], fn: Callable[[list[int]], Any]) -> Iterator[tuple[list[int], Any]]:
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


# ----------------------------------------------------------------------------------------- counting
@dataclasses.dataclass(eq=False)  # each block its own counter, removed by identity
class PassCount:
    """What the engine ran inside one ``with model.count_passes():`` block.

    Attributes:
        passes: forward passes.
        rows: rows (sequences) in them.
        tokens: padded positions in them (rows x width, summed).
        peak_bytes: the largest pass's planned bytes (:func:`row_bytes` x rows).
    """

    passes: int = 0
    rows: int = 0
    tokens: int = 0
    peak_bytes: int = 0

    def add(self, rows: int, width: int, planned: int) -> None:
        self.passes += 1
        self.rows += rows
        self.tokens += rows * width
        self.peak_bytes = max(self.peak_bytes, planned)


def _record(model: Any, rows: int, width: int, planned: int) -> None:
    for counter in getattr(model, "_pass_counters", ()):
        counter.add(rows, width, planned)


# ----------------------------------------------------------------------------------------- the service
@dataclasses.dataclass
class Pass:
    """One micro-batch as the engine ran it (what ``run(..., each=fn)`` hands ``fn``).

    Attributes:
        rows: indices of its sequences in the call's ``sequences``.
        batch: the padded :class:`~interp.models.model.TokenBatch`.
        logits: the kept logits on the model's device, in its dtype (attached to the graph when ``grad``):
            (rows, d_vocab) for ``keep="last"``, (rows, k, d_vocab) for ``keep=k`` (each row's last k real
            positions, in order; a row shorter than k repeats or pads its first ones), (rows, width, d_vocab)
            padded for ``keep="all"``, None for ``keep=None``.
    """

    rows: list[int]
    batch: TokenBatch
    logits: torch.Tensor | None


def _check_keep(keep: Any, where: str) -> None:
    if isinstance(keep, bool) or not (keep in KEEPS or isinstance(keep, int)):
        raise InvalidParameterError(f"The 'keep' parameter of {where} must be 'last', 'all', None or an int >= 1 "
                                    f"(each row's last k positions). Got {keep!r} instead.")
    if isinstance(keep, int):
        check_int(keep, name="keep", where=where, low=1)


def _sequences(model: Any, sequences: Any, where: str) -> list[list[int]]:
    if isinstance(sequences, str):
        sequences = [sequences]
    if not isinstance(sequences, Sequence) or not sequences:
        raise InvalidParameterError(f"The 'sequences' parameter of {where} must be a non-empty list of texts or of "
                                    f"token-id lists. Got {sequences!r} instead.")
    out = []
    for s in sequences:
        if isinstance(s, str):
            out.append(model.encode(s, where=where))
        elif isinstance(s, torch.Tensor):
            out.append([int(t) for t in s.tolist()])
        else:
            out.append([int(t) for t in s])
        if not out[-1]:
            raise InvalidParameterError(f"{where}: sequence {len(out) - 1} has no tokens; every row needs at least one.")
    return out


def run(model: Model, sequences: Sequence[Sequence[int] | str], *, keep: Any = "last", hooks: Hooks = None,
        grad: bool = False, each: Callable[[Pass], Any] | None = None, batch_size: int | None = None,
        padding_side: str = "left", budget_bytes: int | None = None,
        progress: ProgressCallback | None = None, stage: str = "forward",
        stop_at_layer: int | None = None, where: str = "Model.run") -> Any:
    """Run ``sequences`` through ``model`` in planned micro-batches (see the module doc).

    Args:
        sequences: token-id lists (or texts, encoded with :meth:`Model.encode`).
        keep: which positions' logits: ``"last"`` (each row's last real token), an int k (each row's last k
            real positions), ``"all"`` or None (no logits: a pass for its hooks).
        hooks: ``[(hook_name_or_filter, fn), ...]`` for every pass, or a callable ``(rows, batch) -> hooks``
            that builds each micro-batch's own (e.g. patches of those rows; ``batch`` gives padded positions).
        grad: run with autograd on (no ``inference_mode``); ``each`` then runs the backward pass.
        each: ``fn(Pass) -> value`` called for every micro-batch inside its pass (lock held, hooks installed,
            grad mode on); ``run`` then returns ``[(rows, value), ...]`` in the order run.
        batch_size: rows per pass; by default as many as fit in ``budget_bytes``.
        padding_side: "left" (default) or "right"; results do not depend on it.
        budget_bytes: bytes per pass (default ``DEFAULT_BUDGET_BYTES``), estimated by :func:`row_bytes`.
        progress: ``progress(stage, rows_done, rows_total)`` after each pass.
        stop_at_layer: with ``keep=None``, run only blocks ``[0, stop_at_layer)`` (a pass for its hooks).

    Returns:
        Without ``each``, float32 logits on CPU: (n, d_vocab) for ``keep="last"``, (n, k, d_vocab) for an int,
        a list of (len_i, d_vocab) tensors without padding for ``"all"``, None for None. With ``each``, the list
        of ``(rows, value)``.
    """
    _check_keep(keep, where)
    if stop_at_layer is not None:
        check_int(stop_at_layer, name="stop_at_layer", where=where, low=1, high=model.n_layers + 1)
        if keep is not None:
            raise InvalidParameterError(f"{where}: stop_at_layer={stop_at_layer} computes no logits; pass keep=None.")
    check_choice(padding_side, ("right", "left"), name="padding_side", where=where)
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)
    seqs = _sequences(model, sequences, where)
    budget = DEFAULT_BUDGET_BYTES if budget_bytes is None else budget_bytes
    groups = plan(model, [len(s) for s in seqs], keep=keep, grad=grad, batch_size=batch_size, budget_bytes=budget)
    collected: list[Any] = [None] * len(seqs)

    def one_pass(rows: list[int]) -> Any:
        batch = pad(model, [seqs[i] for i in rows], padding_side)
        width = batch.tokens.shape[1]
        installed = list(hooks(rows, batch) if callable(hooks) else (hooks or ()))
        to_keep, column = _kept_positions(batch, keep)
        with model.hooks(installed) if installed else _nothing():
            if stop_at_layer is not None:  # a pass for its hooks only: the blocks after stop_at_layer never run
                mask = batch.attention_mask
                model.bridge(batch.tokens.to(model.device), stop_at_layer=stop_at_layer,
                             **({} if bool(mask.all()) else {"attention_mask": mask.to(model.device)}))
                logits = None
            else:
                logits = forward(model, batch.tokens, batch.attention_mask, to_keep)
        _record(model, len(rows), width, len(rows) * row_bytes(model, width, keep=_n_keep(keep, width), grad=grad))
        if keep is None:
            logits = None
        elif column is not None:
            logits = logits[torch.arange(len(rows), device=logits.device)[:, None], column.to(logits.device)]
        if keep == "last" and logits is not None:
            logits = logits[:, -1]
        p = Pass(rows, batch, logits)
        if each is not None:
            return each(p)
        if logits is None:
            return None
        logits = logits.float().cpu()
        if keep == "all":
            return [logits[r, batch.real_slice(r)].clone() for r in range(len(rows))]
        return logits

    done = 0
    out: list[tuple[list[int], Any]] = []
    if progress is not None:
        progress(stage, 0, len(seqs))
    mode = torch.enable_grad() if grad else torch.inference_mode()
    with model.lock, (torch.inference_mode(False) if grad else _nothing()), mode:
        for rows, value in split_on_oom(groups, one_pass):
            if each is not None:
                out.append((rows, value))
            elif keep == "all":
                for r, i in enumerate(rows):
                    collected[i] = value[r]
            elif value is not None:
                for r, i in enumerate(rows):
                    collected[i] = value[r]
            done += len(rows)
            if progress is not None:
                progress(stage, done, len(seqs))
    if each is not None:
        return out
    if keep is None:
        return None
    return collected if keep == "all" else torch.stack(collected)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
