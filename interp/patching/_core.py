"""The one batched core behind activation patching, causal tracing and the exact check of attribution patching.

A *run* is one prompt plus a list of *patches*: "at hook ``h``, position ``p`` (and head ``k``), set the
activation to this vector". :func:`run_patched` runs many runs (often thousands of patched cells of
one prompt pair) as rows of shared forward passes under ``torch.inference_mode``, micro-batched so
that one pass stays within a memory budget in bytes, and returns the metric of every run at its last
real token. Rows are padded together on either side; patch positions are given in each prompt's own
(unpadded) coordinates and moved to the padded ones here, so left and right padding give the same
numbers. Each micro-batch installs one hook per hook name (a vectorised scatter of every row's
patches at that hook) inside ``with model.hooks(...)``, which holds the model's lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp._validation import check_choice, check_int
from interp.errors import InvalidParameterError
from interp.layers import layer_hook_name

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["Patch", "Run", "run_patched", "plan_rows", "metric_from_logits", "resolve_token",
           "resolve_position_map", "site_hook", "SITES", "SITE_TABLE", "Site", "METRICS", "DEFAULT_MEMORY_BUDGET"]

#: Bytes one patched forward pass may use by default (activations and logits of a micro-batch).
DEFAULT_MEMORY_BUDGET = 1 << 30


# ----------------------------------------------------------------------------- the site table
@dataclasses.dataclass(frozen=True)
class Site:
    """One row of :data:`SITE_TABLE`: where a patching site's activation lives and the axes of its cells.

    Attributes:
        name: the site's name.
        hook: the hook name, ``{layer}`` filled in (empty for the residual stream: :func:`interp.layers.layer_hook_name`).
        residual: its layers are the residual layers 0..n_layers (0 = embeddings), not the blocks 0..n_layers - 1.
        heads: one cell per attention head too (axes layer, position, head).
    """

    name: str
    hook: str
    residual: bool = False
    heads: bool = False

    def layer_count(self, model: Any) -> int:
        """How many layers of ``model`` this site has."""
        return model.n_layers + 1 if self.residual else model.n_layers

    def shape(self, model: Any, n_positions: int) -> tuple[int, ...]:
        """(layers, positions) or (layers, positions, heads): the shape of one map of this site."""
        return (self.layer_count(model), n_positions) + ((model.n_heads,) if self.heads else ())


#: site name -> :class:`Site` (the order of :data:`SITES`).
SITE_TABLE: dict[str, Site] = {row.name: row for row in (
    Site("resid", "", residual=True),
    Site("attn", "blocks.{layer}.hook_attn_out"),
    Site("mlp", "blocks.{layer}.hook_mlp_out"),
    Site("head", "blocks.{layer}.attn.hook_z", heads=True),
)}
SITES = tuple(SITE_TABLE)
METRICS = ("logit_diff", "prob")


@dataclasses.dataclass
class Patch:
    """Set activation ``hook`` at ``pos`` (the prompt's own position; ``head`` for per-head hooks) to ``value``.

    ``value`` is (d_model,) for residual / attention-out / MLP-out hooks, (d_head,) with ``head`` set for
    ``blocks.{b}.attn.hook_z``.
    """

    hook: str
    pos: int
    value: torch.Tensor
    head: int | None = None


@dataclasses.dataclass
class Run:
    """One row: the prompt's token ids, its patches, and the metric's tokens (``wrong`` for logit_diff)."""

    ids: list[int]
    patches: list[Patch]
    answer: int
    wrong: int | None = None


def site_hook(site: str, layer: int) -> str:
    """The hook of a patching site: ``resid`` at residual layer ``layer`` (interp.layers: 0 = embeddings),
    ``attn`` / ``mlp`` / ``head`` at block ``layer``."""
    row = SITE_TABLE.get(site) if isinstance(site, str) else None
    if row is not None:
        return layer_hook_name(layer) if row.residual else row.hook.format(layer=layer)
    raise InvalidParameterError(f"Unknown patching site {site!r}; choose from {', '.join(SITES)}.")


def metric_from_logits(logits: torch.Tensor, answer: torch.Tensor, wrong: torch.Tensor | None,
                       metric: str) -> torch.Tensor:
    """(rows,) metric of last-position logits (rows, d_vocab): ``logit_diff`` = logit(answer) - logit(wrong),
    ``prob`` = softmax probability of the answer."""
    logits = logits.float()
    rows = torch.arange(logits.shape[0], device=logits.device)
    if metric == "logit_diff":
        return logits[rows, answer] - logits[rows, wrong]
    return torch.softmax(logits, dim=-1)[rows, answer]


def resolve_token(model: Model, token: str | int, *, name: str, where: str) -> int:
    """A one-token answer given as a string (e.g. " Paris") or an id."""
    if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
        return check_int(int(token), name=name, where=where, low=0, high=model.d_vocab)
    if not isinstance(token, str) or not token:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be a non-empty str of one token "
                                    f"(e.g. ' Paris') or a token id. Got {token!r} instead.")
    ids = model.tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be exactly one token. Got {token!r}, "
                                    f"which is {len(ids)} tokens: {model.ids_to_str(ids)}. Mind the leading "
                                    "space (' Paris', not 'Paris').")
    return int(ids[0])


def resolve_position_map(n_clean: int, n_corrupted: int, positions: Any, align: str | None, *,
                         where: str) -> list[tuple[int, int]]:
    """``[(corrupted_pos, clean_pos), ...]``: which clean position is patched into which corrupted one.

    ``align`` says how positions line up when the prompts differ in length: ``"left"`` (position p to p),
    ``"right"`` (counted from the end: the last token to the last token), or None (the prompts must be
    the same length). ``positions`` is None (every position that has a counterpart), a sequence of
    corrupted positions (negative counts from the end: ``range(-3, 0)`` is the last three), or a mapping
    ``{corrupted_pos: clean_pos}`` given explicitly (then ``align`` is not used).
    """
    if align is not None:
        check_choice(align, ("left", "right"), name="align", where=where)
    if isinstance(positions, Mapping):
        pairs = []
        for k, v in positions.items():
            for value, n, what in ((k, n_corrupted, "corrupted"), (v, n_clean, "clean")):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -n <= value < n:
                    raise InvalidParameterError(
                        f"The 'positions' mapping of {where} maps corrupted positions to clean ones; {value!r} is not "
                        f"a position of the {what} prompt ({n} tokens, BOS included; negative counts from the end).")
            pairs.append((int(k) % n_corrupted, int(v) % n_clean))
        if not pairs:
            raise InvalidParameterError(f"The 'positions' mapping of {where} is empty; map at least one position.")
        return sorted(set(pairs))
    if align is None:
        if n_clean != n_corrupted:
            raise InvalidParameterError(
                f"The clean and corrupted prompts given to {where} differ in length ({n_clean} vs {n_corrupted} "
                "tokens), so positions do not line up by themselves. Pass align='right' (count from the end), "
                "align='left', or positions={corrupted_pos: clean_pos, ...}.")
        align = "left"
    shift = n_clean - n_corrupted if align == "right" else 0
    valid = [p for p in range(n_corrupted) if 0 <= p + shift < n_clean]
    if positions is None:
        chosen = valid
    else:
        items = [positions] if isinstance(positions, (int, np.integer)) else positions
        if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, range, np.ndarray)):
            raise InvalidParameterError(f"The 'positions' parameter of {where} must be None, an int, a list of ints "
                                        f"or a mapping {{corrupted_pos: clean_pos}}. Got {positions!r} instead.")
        chosen = []
        for p in list(items):
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not -n_corrupted <= p < n_corrupted:
                raise InvalidParameterError(
                    f"The 'positions' parameter of {where} holds {p!r}, which is not a position of the corrupted "
                    f"prompt ({n_corrupted} tokens, BOS included; negative counts from the end).")
            p = int(p) % n_corrupted
            if p not in valid:
                raise InvalidParameterError(
                    f"Position {p} of the corrupted prompt given to {where} has no clean counterpart under "
                    f"align={align!r} ({n_clean} clean vs {n_corrupted} corrupted tokens).")
            chosen.append(p)
        chosen = sorted(set(chosen))
        if not chosen:
            raise InvalidParameterError(f"The 'positions' parameter of {where} is empty; give at least one position.")
    return [(p, p + shift) for p in chosen]


def _bytes_per_row(model: Model, width: int) -> int:
    """A generous estimate of one row's peak memory in a forward pass: logits, a few residual-sized
    tensors, the MLP hidden layer and the attention scores and pattern (float32)."""
    d_mlp = int(getattr(model.bridge.cfg, "d_mlp", None) or 4 * model.d_model)
    per_token = model.d_vocab + 12 * model.d_model + 3 * d_mlp + 3 * model.n_heads * width
    return 4 * width * per_token


def plan_rows(model: Model, lengths: Sequence[int], memory_budget: int, batch_size: int | None = None
              ) -> list[list[int]]:
    """Run indices grouped into micro-batches (longest first), each within ``memory_budget`` bytes
    (or ``batch_size`` rows each); a row that alone exceeds the budget runs by itself."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if batch_size is not None:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i in order:
        new_width = max(width, lengths[i]) if current else lengths[i]
        if current and (len(current) + 1) * _bytes_per_row(model, new_width) > memory_budget:
            batches.append(current)
            current, new_width = [], lengths[i]
        current.append(i)
        width = new_width
    return batches + ([current] if current else [])


def _scatter_hook(rows: torch.Tensor, pos: torch.Tensor, heads: torch.Tensor | None,
                  values: torch.Tensor) -> Callable:
    def hook(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
        vals = values.to(device=act.device, dtype=act.dtype)
        if heads is None:
            act[rows, pos] = vals
        else:
            act[rows, pos, heads] = vals
        return act

    return hook


def _last_logits(model: Model, tokens: torch.Tensor, mask: torch.Tensor, last: torch.Tensor,
                 hooks: list) -> torch.Tensor:
    """(batch, d_vocab) logits at each row's ``last`` position, the patch hooks installed. Where the Hugging
    Face model takes ``logits_to_keep``, only the distinct last positions are unembedded."""
    from interp.attribution._core import _accepts_logits_to_keep

    kwargs: dict[str, Any] = {"attention_mask": mask.to(model.device)}
    keep = sorted(set(last.tolist()))
    if _accepts_logits_to_keep(type(model.bridge.original_model)):
        kwargs["logits_to_keep"] = torch.tensor(keep, device=model.device)
        column = torch.tensor([keep.index(p) for p in last.tolist()])
    else:  # pragma: no cover - models without logits_to_keep
        column = last
    with model.hooks(hooks):
        logits = model.bridge(tokens.to(model.device), **kwargs)
    return logits[torch.arange(len(last), device=logits.device), column.to(logits.device)]


def run_patched(model: Model, runs: Sequence[Run], *, metric: str, padding_side: str = "right",
                memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                progress: Callable[[str, int, int | None], None] | None = None, stage: str = "patching"
                ) -> np.ndarray:
    """The metric of every run (float64, (n_runs,)), its patches applied, at its last real token.

    Runs are grouped into micro-batches of about ``memory_budget`` bytes (``batch_size`` rows if given);
    each is one forward pass under ``torch.inference_mode`` with one scatter hook per patched hook name.
    Within a run, patches at the same hook and position apply in list order (a later one wins).
    """
    check_choice(metric, METRICS, name="metric", where="run_patched")
    out = np.empty(len(runs), dtype=np.float64)
    groups = plan_rows(model, [len(r.ids) for r in runs], memory_budget, batch_size)
    done = 0
    if progress is not None:
        progress(stage, 0, len(runs))
    with model.lock, torch.inference_mode():
        for group in groups:
            width = max(len(runs[i].ids) for i in group)
            tokens = torch.full((len(group), width), model.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            by_hook: dict[str, tuple[list[int], list[int], list[int], list[torch.Tensor]]] = {}
            for row, i in enumerate(group):
                run = runs[i]
                offset = width - len(run.ids) if padding_side == "left" else 0
                tokens[row, offset:offset + len(run.ids)] = torch.tensor(run.ids, dtype=torch.long)
                mask[row, offset:offset + len(run.ids)] = 1
                for patch in run.patches:
                    entry = by_hook.setdefault(patch.hook, ([], [], [], []))
                    entry[0].append(row)
                    entry[1].append(patch.pos + offset)
                    entry[2].append(-1 if patch.head is None else patch.head)
                    entry[3].append(patch.value)
            hooks = []
            for name, (rows, pos, heads, values) in by_hook.items():
                head_t = None if heads[0] < 0 else torch.tensor(heads, device=model.device)
                hooks.append((name, _scatter_hook(torch.tensor(rows, device=model.device),
                                                  torch.tensor(pos, device=model.device), head_t,
                                                  torch.stack(values))))
            last = (torch.full((len(group),), width - 1, dtype=torch.long) if padding_side == "left"
                    else torch.tensor([len(runs[i].ids) - 1 for i in group]))
            final = _last_logits(model, tokens, mask, last, hooks)
            answer = torch.tensor([runs[i].answer for i in group], device=final.device)
            wrong = (torch.tensor([runs[i].wrong for i in group], device=final.device)
                     if metric == "logit_diff" else None)
            out[group] = metric_from_logits(final, answer, wrong, metric).double().cpu().numpy()
            done += len(group)
            if progress is not None:
                progress(stage, done, len(runs))
    return out
