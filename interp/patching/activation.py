"""Activation patching: which activations carry the difference between a clean and a corrupted prompt.

Run the *corrupted* prompt (e.g. "The capital of Italy is") and replace one activation -- the
residual stream at one (layer, position), one block's attention or MLP output at one position, or
one head's output ``z`` at one position -- by its value on the *clean* prompt ("The capital of
France is"). The score of the cell is how far that single replacement moves a metric of the answer
back towards the clean run, normalised so that the clean run scores 1 and the corrupted run 0::

    score = (metric(corrupted with the cell patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))

with ``metric`` the logit difference ``logit(answer) - logit(wrong_answer)`` or the probability of the
answer, both read at the last token (Vig et al. 2020, Meng et al. 2022, Wang et al. 2023's IOI
circuit; Heimersheim & Nanda 2024, "How to use and interpret activation patching"). This is
"denoising" patching (clean into corrupted); swap the prompts for noising.

All cells of all pairs run as rows of shared batched forward passes under ``torch.inference_mode``
(:func:`interp.patching._core.run_patched`), micro-batched to ``memory_budget`` bytes: the same
numbers as TransformerLens's ``get_act_patch_*`` functions (one pass per cell), many times faster.

Prompts of different lengths: ``align="right"`` lines positions up from the end (the last token
onto the last token: the natural choice when one prompt has extra text in front, e.g. a hint),
``align="left"`` from the start, and ``positions={corrupted_pos: clean_pos}`` maps them explicitly;
``positions=range(-k, 0)`` patches only the last ``k`` positions.

Example:
    >>> import interp
    >>> from interp.patching import activation_patching
    >>> model = interp.load_model()
    >>> result = activation_patching(model, "The capital of France is", "The capital of Italy is",
    ...                              answer=" Paris", wrong_answer=" Rome", sites=("resid",))
    >>> result.resid.shape            # (n_layers + 1, n_positions): layer 0 is the embeddings
    (31, 6)
    >>> result.plot()                 # layer x position heat map
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp import targets
from interp._params import Interval, Options, Subset, validate_params
from interp._validation import check_choice, check_texts
from interp.errors import InvalidParameterError
from interp.patching._core import (
    DEFAULT_MEMORY_BUDGET,
    METRICS,
    SITE_TABLE,
    SITES,
    Patch,
    Run,
    resolve_position_map,
    run_patched,
    site_hook,
)
from interp.patching._views import site_figure, site_frame
from interp.progress import ProgressArg, ProgressCallback, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["activation_patching", "generic_activation_patch", "PatchingResult", "PreparedPair", "prepare_pairs",
           "site_cells", "source_activations", "check_baselines"]


@dataclasses.dataclass
class PreparedPair:
    """One clean/corrupted pair, tokenized: ids (BOS included), the metric's token ids and the position map
    ``[(corrupted_pos, clean_pos), ...]`` of the positions to patch."""

    clean: str
    corrupted: str
    clean_ids: list[int]
    corrupted_ids: list[int]
    answer: str
    answer_id: int
    wrong_answer: str | None
    wrong_id: int | None
    position_map: list[tuple[int, int]]


def _per_pair(value: Any, n: int, *, name: str, where: str) -> list[Any]:
    if isinstance(value, (list, tuple)) and not (isinstance(value, tuple) and n == 1 and len(value) != 1):
        if len(value) != n:
            raise InvalidParameterError(f"The {name!r} parameter of {where} must be one value or a list of one per "
                                        f"pair ({n}). Got {len(value)} values.")
        return list(value)
    return [value] * n


def prepare_pairs(model: Model, clean: str | Sequence[str], corrupted: str | Sequence[str], *,
                  target: Any = None, answer: Any = None, wrong_answer: Any = None, metric: Any,
                  positions: Any = None, align: str | None = None,
                  where: str = "activation_patching") -> tuple[list[PreparedPair], bool]:
    """Validate and tokenize the pairs; returns ``(pairs, single)``.

    ``target`` is the clean answer as a one-token string or id, an :class:`interp.Target` ``(answer, foil)``
    (the foil is the wrong answer of ``logit_diff``), or a list of them, one per pair; ``answer`` /
    ``wrong_answer`` are the same given apart (the old names). With ``metric="logit_diff"`` and no foil, the
    wrong answer is the corrupted prompt's most likely next token."""
    targets.check_metric(metric, where=where, allowed=METRICS)
    cleans, single = check_texts(clean, where=where, name="clean")
    corrupteds, single_c = check_texts(corrupted, where=where, name="corrupted")
    if len(cleans) != len(corrupteds) or single != single_c:
        raise InvalidParameterError(f"{where} takes one clean prompt per corrupted prompt. Got {len(cleans)} clean "
                                    f"and {len(corrupteds)} corrupted.")
    n = len(cleans)
    if target is None and answer is None:
        raise InvalidParameterError(f"{where} needs target=: the clean answer as one token (' Paris'), its id, or "
                                    "interp.Target(' Paris', foil=' Rome').")
    if target is not None and answer is not None:
        raise InvalidParameterError(f"{where}: give target= only; answer= is its old name (interp < 0.3).")
    if target is not None:
        entries = _per_pair(target, n, name="target", where=where)
        foil_apart = _per_pair(wrong_answer, n, name="wrong_answer", where=where)
        split = [targets.split(t, f) for t, f in zip(entries, foil_apart)]
        answers, wrongs = [a for a, _ in split], [f for _, f in split]
        answer_name, wrong_name = "target", "foil"
    else:
        answers = _per_pair(answer, n, name="answer", where=where)
        wrongs = _per_pair(wrong_answer, n, name="wrong_answer", where=where)
        answer_name, wrong_name = "answer", "wrong_answer"
    pairs = []
    missing = [i for i, w in enumerate(wrongs) if w is None] if metric == "logit_diff" else []
    top: dict[int, int] = {}
    if missing:
        logits = model.logits([corrupteds[i] for i in missing], last_only=True)  # (n_missing, d_vocab)
        top = {i: int(logits[row].argmax()) for row, i in enumerate(missing)}
    for i in range(n):
        a_id = targets.one_token(model, answers[i], name=answer_name, where=where)
        w_id = None
        if metric == "logit_diff" or (callable(metric) and wrongs[i] is not None):
            w_id = top[i] if wrongs[i] is None else targets.one_token(model, wrongs[i], name=wrong_name, where=where)
            if w_id == a_id:
                raise InvalidParameterError(
                    f"{where}: the wrong answer of pair {i} is the answer itself ({model.ids_to_str([a_id])[0]!r})"
                    f"{' (the corrupted prompt’s top token)' if wrongs[i] is None else ''}; a logit difference needs "
                    "two different tokens. Pass target=Target(answer, foil=...), or metric='prob'.")
        c_ids = model.encode(cleans[i], where=where)
        k_ids = model.encode(corrupteds[i], where=where)
        pos_i = positions[i] if (isinstance(positions, list) and n > 1 and positions
                                 and isinstance(positions[0], (list, tuple, range, Mapping))) else positions
        pairs.append(PreparedPair(
            clean=cleans[i], corrupted=corrupteds[i], clean_ids=c_ids, corrupted_ids=k_ids,
            answer=model.ids_to_str([a_id])[0], answer_id=a_id,
            wrong_answer=None if w_id is None else model.ids_to_str([w_id])[0], wrong_id=w_id,
            position_map=resolve_position_map(len(c_ids), len(k_ids), pos_i, align, where=where)))
    return pairs, single


def site_cells(model: Model, site: str, n_positions: int) -> list[tuple[int, int, int | None]]:
    """Every cell ``(layer, position_index, head)`` of a site: residual layers 0..n_layers, blocks
    0..n_layers - 1 for attn / mlp / head (head is None except for the head site)."""
    row = SITE_TABLE[site]
    if row.heads:
        return [(b, j, h) for b in range(row.layer_count(model)) for j in range(n_positions) for h in range(model.n_heads)]
    return [(layer, j, None) for layer in range(row.layer_count(model)) for j in range(n_positions)]


def site_shape(model: Model, site: str, n_positions: int) -> tuple[int, ...]:
    """The shape of one map of ``site`` (a row of :data:`~interp.patching._core.SITE_TABLE`)."""
    return SITE_TABLE[site].shape(model, n_positions)


def source_activations(model: Model, texts: Sequence[str], hooks: Sequence[str], *, padding_side: str = "right"
                       ) -> list[dict[str, torch.Tensor]]:
    """For each text, ``{hook: (pos, ...) activation}`` with padding removed (one cached pass over all texts)."""
    cache = model.run_with_cache(list(texts), names=sorted(set(hooks)), padding_side=padding_side)
    return [{name: cache.real(name, i) for name in cache} for i in range(len(texts))]


def _check_sites(sites: Any, where: str) -> list[str]:
    items = [sites] if isinstance(sites, str) else list(sites) if isinstance(sites, (list, tuple)) else None
    if not items:
        raise InvalidParameterError(f"The 'sites' parameter of {where} must be a non-empty list drawn from "
                                    f"{', '.join(map(repr, SITES))}. Got {sites!r} instead.")
    for s in items:
        check_choice(s, SITES, name="sites", where=where)
    return [s for s in SITES if s in items]


def generic_activation_patch(model: Model, pairs: Sequence[PreparedPair], *, sites: Sequence[str], metric: str,
                             source: str = "clean", target: str = "corrupted", padding_side: str = "right",
                             memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                             progress: ProgressCallback | None = None,
                             cells: Mapping[str, Sequence[tuple[int, int, int | None]]] | None = None,
                             ) -> tuple[list[dict[str, np.ndarray]], np.ndarray, np.ndarray]:
    """The raw (unnormalised) metric of every patched cell, and the unpatched clean and corrupted metrics.

    The one core of :func:`activation_patching` (and of :func:`attribution_patching`'s exact check):
    ``source`` ("clean" or "corrupted") is the prompt the activations come from, ``target`` the prompt that
    runs with them (clean into corrupted by default; clean into clean scores every cell at the clean
    metric, corrupted into corrupted at the corrupted one). Each pair's ``position_map`` says which
    source position goes to which target position (``(corrupted_pos, clean_pos)`` pairs).

    Returns:
        ``(maps, clean_metric, corrupted_metric)``: one ``{site: array}`` per pair with arrays shaped
        (n_layers + 1, n_positions) for resid, (n_layers, n_positions) for attn / mlp and
        (n_layers, n_positions, n_heads) for head (NaN where ``cells`` left a cell out), and (n_pairs,)
        baselines.
    """
    for name, value in (("source", source), ("target", target)):
        check_choice(value, ("clean", "corrupted"), name=name, where="generic_activation_patch")
    hooks = sorted({site_hook(s, layer) for s in sites for layer in range(model.n_layers + (s == "resid"))})
    src_texts = [p.clean if source == "clean" else p.corrupted for p in pairs]
    acts = source_activations(model, src_texts, hooks, padding_side=padding_side)
    runs: list[Run] = []
    index: list[tuple[int, str, tuple[int, ...]]] = []
    for i, pair in enumerate(pairs):
        ids = pair.corrupted_ids if target == "corrupted" else pair.clean_ids
        for site in sites:
            chosen = site_cells(model, site, len(pair.position_map)) if cells is None else cells[site]
            for layer, j, head in chosen:
                corr_pos, clean_pos = pair.position_map[j]
                tgt = corr_pos if target == "corrupted" else clean_pos
                src = clean_pos if source == "clean" else corr_pos
                hook = site_hook(site, layer)
                value = acts[i][hook][src] if head is None else acts[i][hook][src, head]
                runs.append(Run(ids, [Patch(hook, tgt, value, head)], pair.answer_id, pair.wrong_id))
                index.append((i, site, (layer, j) if head is None else (layer, j, head)))
    base = len(runs)
    for pair in pairs:
        runs.append(Run(pair.clean_ids, [], pair.answer_id, pair.wrong_id))
        runs.append(Run(pair.corrupted_ids, [], pair.answer_id, pair.wrong_id))
    values = run_patched(model, runs, metric=metric, padding_side=padding_side, memory_budget=memory_budget,
                         batch_size=batch_size, progress=progress)
    maps = [{s: np.full(site_shape(model, s, len(p.position_map)), np.nan) for s in sites} for p in pairs]
    for (i, site, where), v in zip(index, values[:base]):
        maps[i][site][where] = v
    return maps, values[base::2].copy(), values[base + 1::2].copy()


@dataclasses.dataclass(eq=False)
class PatchingResult(Result):
    """Activation patching of one clean/corrupted pair, normalised so clean = 1 and corrupted = 0.

    Attributes:
        clean, corrupted: the two prompts.
        clean_tokens, corrupted_tokens: their tokens (BOS included).
        answer, wrong_answer: the metric's tokens (wrong_answer is None for metric="prob").
        metric: "logit_diff" or "prob".
        sites: the sites computed, from "resid", "attn", "mlp", "head".
        positions: the corrupted positions patched (columns of every map); ``clean_positions`` the clean
            positions patched into them.
        resid: (n_layers + 1, n_positions) float64, residual stream at layer l (0 = embeddings, l = after
            block l - 1); empty (0, n_positions) when not computed. So are the others:
        attn, mlp: (n_layers, n_positions), block outputs.
        head: (n_layers, n_positions, n_heads), each head's output ``z``.
        clean_metric, corrupted_metric: the raw metric of the unpatched runs.
        align: how positions were aligned ("left", "right", "map" or "same").
        model_name: the model.
    """

    clean: str
    corrupted: str
    clean_tokens: list[str]
    corrupted_tokens: list[str]
    answer: str
    wrong_answer: str | None
    metric: str
    sites: list[str]
    positions: list[int]
    clean_positions: list[int]
    resid: np.ndarray
    attn: np.ndarray
    mlp: np.ndarray
    head: np.ndarray
    clean_metric: float
    corrupted_metric: float
    align: str = "same"
    model_name: str = ""

    title: ClassVar[str] = "Activation patching"

    def maps(self) -> dict[str, np.ndarray]:
        """``{site: array}`` of the computed sites."""
        return {s: getattr(self, s) for s in self.sites}

    def raw(self, site: str) -> np.ndarray:
        """The unnormalised metric of each cell of ``site``."""
        return getattr(self, site) * (self.clean_metric - self.corrupted_metric) + self.corrupted_metric

    def summary(self) -> str:
        best = []
        for site, arr in self.maps().items():
            if arr.size:
                idx = np.unravel_index(np.nanargmax(arr), arr.shape)
                best.append(f"{site} max {float(arr[idx]):.3f} at layer {idx[0]}, position {self.positions[idx[1]]}"
                            + (f", head {idx[2]}" if arr.ndim == 3 else ""))
        what = f"{self.answer!r}" + (f" vs {self.wrong_answer!r}" if self.wrong_answer is not None else "")
        return (f"{self.model_name}: {self.clean!r} -> {self.corrupted!r}, {self.metric} of {what} "
                f"(clean {self.clean_metric:.3f}, corrupted {self.corrupted_metric:.3f}); " + "; ".join(best))

    def to_frame(self) -> DataFrame:
        """One row per cell: site, layer, position (corrupted), token, head (-1 if none), value (normalised)."""
        return site_frame(self.maps(), self.corrupted_tokens, self.positions)

    def plot(self, site: str | None = None) -> Figure:
        """Heat maps of layer x position per site (heads: block x head at each head's strongest position)."""
        return site_figure(self.maps(), self.corrupted_tokens, self.positions, site=site, colorbar="patched",
                           title=f"Activation patching {self.clean!r} -> {self.corrupted!r} ({self.metric}, "
                                 "clean = 1, corrupted = 0)")

    def figures(self) -> list:
        return [self.plot(), *(self.plot(site) for site in self.sites if len(self.sites) > 1)]


def check_baselines(pair: PreparedPair, clean_metric: float, corrupted_metric: float, metric: str, *,
                    where: str) -> None:
    """Raise if the clean and corrupted runs give the same metric (nothing to normalise by)."""
    if not abs(clean_metric - corrupted_metric) > 1e-6 * max(abs(clean_metric), abs(corrupted_metric)):
        raise InvalidParameterError(
            f"{where}: the pair {pair.clean!r} / {pair.corrupted!r} gives the same {metric} on the clean and the "
            f"corrupted prompt ({clean_metric:.6g}), so patching has nothing to normalise by. Choose prompts that "
            "differ in the answer, or another answer / wrong_answer.")


def _normalise(raw: np.ndarray, clean: float, corrupted: float) -> np.ndarray:
    return (raw - corrupted) / (clean - corrupted)


#: The parameters activation_patching and attribution_patching share.
PATCHING_PARAMS = {
    "model": ["model"], "clean": ["texts"], "corrupted": ["texts"], "target": ["no_validation"],
    "answer": [str, int, list, tuple, None], "wrong_answer": [str, int, list, tuple, None],
    "sites": [Subset(SITES, single=True)], "metric": [Options(METRICS), "callable"],
    "positions": ["no_validation"], "align": ["no_validation"], "padding_side": [Options(("right", "left"))],
    "memory_budget": [Interval(int, 1, None)], "batch_size": [Interval(int, 1, None), None], "progress": ["progress"],
}


@validate_params(PATCHING_PARAMS)
def activation_patching(model: Model, clean: str | Sequence[str], corrupted: str | Sequence[str], *,
                        target: Any = None, sites: Sequence[str] = SITES, metric: Any = "logit_diff",
                        positions: Any = None, align: str | None = None, padding_side: str = "right",
                        memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                        progress: ProgressArg = None, answer: Any = None, wrong_answer: Any = None
                        ) -> PatchingResult | list[PatchingResult]:
    """Patch each activation of the clean run into the corrupted run, one cell at a time, all cells batched.

    Args:
        model: an :class:`interp.Model`.
        clean: the clean prompt (the activations come from it), or a list of them.
        corrupted: the corrupted prompt (it runs with one clean activation patched in), or a list, one per clean.
        target: the clean answer, one token (" Paris") or its id, or ``interp.Target(" Paris", foil=" Rome")``
            whose foil is the wrong answer of metric="logit_diff" (without one: the corrupted prompt's most
            likely next token); one for all pairs or a list.
        sites: any of "resid" (residual stream at layers 0..n_layers, interp.layers convention), "attn" and
            "mlp" (block outputs ``hook_attn_out`` / ``hook_mlp_out``, blocks 0..n_layers-1) and "head" (each
            head's ``attn.hook_z``, one query head at a time, so grouped-query attention is fine).
        metric: "logit_diff" (logit(answer) - logit(foil)), "prob" (softmax probability of the answer),
            "logprob" or "logit", at the last token, or a callable ``metric(logits, target_ids, foil_ids)``
            (:mod:`interp.targets`).
        positions: None (every corrupted position with a counterpart), a list of corrupted positions
            (negative counts from the end; ``range(-k, 0)``: the last k), or ``{corrupted_pos: clean_pos}``.
            For a list of pairs, one such value for all or a list of them, one per pair.
        align: None (prompts of the same length), "right" (line positions up from the end) or "left".
        padding_side: how rows of different lengths are padded in the batched passes ("right" or "left");
            it does not change the numbers.
        memory_budget: bytes one forward pass may use (activations and logits of a micro-batch), 1 GiB by
            default; ``batch_size`` fixes the rows per pass instead.
        progress: None, True, False or ``progress(stage, done, total)`` (stage "patching", in cells).
        answer, wrong_answer: deprecated (interp < 0.3): the old names of ``target`` and its foil; they warn.

    Returns:
        A :class:`PatchingResult` (a list of them for lists of prompts) whose maps are normalised:
        ``(metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))``.

    Raises:
        InvalidParameterError: unknown site or metric, answers that are not one token, prompts whose
            lengths differ without ``align`` / a position map, or a pair whose clean and corrupted runs
            give the same metric (nothing to normalise by).

    Example:
        >>> r = activation_patching(model, "The capital of France is", "The capital of Italy is",
        ...                         target=Target(" Paris", foil=" Rome"), sites=("resid", "mlp"))
        >>> r.to_frame().query("site == 'resid'").pivot(index="layer", columns="position", values="value")
    """
    where = "activation_patching"
    answer = targets.renamed_parameter(where, "answer", "target", answer)
    wrong_answer = targets.renamed_parameter(where, "wrong_answer", "target=Target(answer, foil)", wrong_answer)
    site_list = _check_sites(sites, where)
    report = resolve_progress(progress, where=where)
    pairs, single = prepare_pairs(model, clean, corrupted, target=target, answer=answer, wrong_answer=wrong_answer,
                                  metric=metric, positions=positions, align=align, where=where)
    maps, clean_m, corr_m = generic_activation_patch(model, pairs, sites=site_list, metric=metric,
                                                     padding_side=padding_side, memory_budget=memory_budget,
                                                     batch_size=batch_size, progress=report)
    from interp.models.card import model_card

    card = model_card(model)
    results = []
    for i, pair in enumerate(pairs):
        check_baselines(pair, clean_m[i], corr_m[i], targets.metric_label(metric), where=where)
        n_pos = len(pair.position_map)
        arrays = {s: (_normalise(maps[i][s], clean_m[i], corr_m[i]) if s in site_list
                      else np.zeros((0, *site_shape(model, s, n_pos)[1:])))
                  for s in SITES}
        align_name = ("map" if isinstance(positions, Mapping) else align
                      if align is not None else "same")
        results.append(PatchingResult(
            clean=pair.clean, corrupted=pair.corrupted, clean_tokens=model.ids_to_str(pair.clean_ids),
            corrupted_tokens=model.ids_to_str(pair.corrupted_ids), answer=pair.answer, wrong_answer=pair.wrong_answer,
            metric=targets.metric_label(metric), sites=site_list, positions=[p for p, _ in pair.position_map],
            clean_positions=[c for _, c in pair.position_map], **arrays, clean_metric=float(clean_m[i]),
            corrupted_metric=float(corr_m[i]), align=align_name, model_name=model.name, model_card=card))
    return results[0] if single else results
