"""Patches as rows of the model's engine: the core behind activation patching, causal tracing and the exact
check of attribution patching.

A *run* is one prompt plus a list of *patches*: "at hook ``h``, position ``p`` (and head ``k``), set the
activation to this vector". :func:`run_patched` hands many runs (often thousands of patched cells of
one prompt pair) to ``Model.run`` as rows of shared forward passes (micro-batched within a memory budget
in bytes by the engine's planner) and returns the metric of every run at its last real token. Patch
positions are given in each prompt's own (unpadded) coordinates and moved to the padded ones per
micro-batch, so left and right padding give the same numbers. Each micro-batch installs one hook per
hook name (a vectorised scatter of every row's patches at that hook).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice
from interp.errors import InvalidParameterError
from interp.layers import layer_hook_name
from interp.models.engine import DEFAULT_BUDGET_BYTES

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["Patch", "Run", "run_patched", "metric_from_logits", "resolve_position_map", "site_hook", "SITES", "SITE_TABLE",
           "Site", "METRICS", "DEFAULT_MEMORY_BUDGET"]

#: Bytes one patched forward pass may use by default: the engine's budget (interp.models.engine).
DEFAULT_MEMORY_BUDGET = DEFAULT_BUDGET_BYTES


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
METRICS = ("logit_diff", "prob", "logprob", "logit")


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
                       metric: Any) -> torch.Tensor:
    """(rows,) metric of last-position logits (rows, d_vocab) (:func:`interp.targets.metric_values`):
    ``logit_diff`` = logit(answer) - logit(wrong), ``prob``, ``logprob`` or ``logit`` of the answer, or a callable."""
    return targets.metric_values(metric, logits, answer, wrong if (metric == "logit_diff" or callable(metric)) else None)


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


def run_patched(model: Model, runs: Sequence[Run], *, metric: str, padding_side: str = "right",
                memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                progress: Callable[[str, int, int | None], None] | None = None, stage: str = "patching"
                ) -> np.ndarray:
    """The metric of every run (float64, (n_runs,)), its patches applied, at its last real token.

    Runs are grouped into micro-batches of about ``memory_budget`` bytes (``batch_size`` rows if given);
    each is one forward pass under ``torch.inference_mode`` with one scatter hook per patched hook name.
    Within a run, patches at the same hook and position apply in list order (a later one wins).
    """
    targets.check_metric(metric, where="run_patched", allowed=METRICS)
    out = np.empty(len(runs), dtype=np.float64)

    def patch_hooks(group: list[int], batch: Any) -> list:
        width = batch.tokens.shape[1]
        by_hook: dict[str, tuple[list[int], list[int], list[int], list[torch.Tensor]]] = {}
        for row, i in enumerate(group):
            offset = width - batch.lengths[row] if batch.padding_side == "left" else 0
            for patch in runs[i].patches:
                entry = by_hook.setdefault(patch.hook, ([], [], [], []))
                entry[0].append(row)
                entry[1].append(patch.pos + offset)
                entry[2].append(-1 if patch.head is None else patch.head)
                entry[3].append(patch.value)
        hooks = []
        for name, (rows, pos, heads, values) in by_hook.items():
            head_t = None if heads[0] < 0 else torch.tensor(heads, device=model.device)
            hooks.append((name, _scatter_hook(torch.tensor(rows, device=model.device),
                                              torch.tensor(pos, device=model.device), head_t, torch.stack(values))))
        return hooks

    def score(p: Any) -> np.ndarray:
        answer = torch.tensor([runs[i].answer for i in p.rows], device=p.logits.device)
        with_foil = metric == "logit_diff" or (callable(metric) and all(runs[i].wrong is not None for i in p.rows))
        wrong = torch.tensor([runs[i].wrong for i in p.rows], device=p.logits.device) if with_foil else None
        return metric_from_logits(p.logits, answer, wrong, metric).double().cpu().numpy()

    for rows, values in model.run([r.ids for r in runs], keep="last", hooks=patch_hooks, each=score,
                                  padding_side=padding_side, budget_bytes=memory_budget, batch_size=batch_size,
                                  progress=progress, stage=stage):
        out[rows] = values
    return out
