"""Faithfulness of attributions, and every method compared on one prompt.

An attribution is *faithful* when the tokens it ranks highest are the ones the prediction actually
needs. :func:`faithfulness` measures that by removing tokens, most important first:

- ERASER (DeYoung et al. 2020, "ERASER: A Benchmark to Evaluate Rationalized NLP Models"):
  comprehensiveness ``f(x) - f(x without its top k%)`` (high = faithful) and sufficiency
  ``f(x) - f(only its top k%)`` (low = faithful), each averaged over k in {1, 5, 10, 20, 50}% as an
  area over the perturbation curve (AOPC);
- deletion and insertion curves (Petsiuk et al. 2018, RISE): ``f`` as units are removed from the
  prompt (inserted into an emptied prompt) in order of importance, with their areas.

``f`` is the probability of the whole target continuation by default. Removal deletes the tokens
(``replace_with=None``, as ERASER does) or replaces them with a baseline token. The BOS token always
stays. Every perturbed prompt of every fraction and curve point runs in shared batched passes.

:func:`compare_methods` runs every registered method on one prompt and returns one table: each
method's faithfulness and the Spearman rank correlation between every pair of methods.

Example:
    >>> from interp.attribution import compare_methods, faithfulness, token_ablation
    >>> r = token_ablation(model, "The capital of France is", " Paris")
    >>> faithfulness(model, "The capital of France is", r).aopc_comprehensiveness
    >>> compare_methods(model, "The capital of France is", " Paris").to_frame()
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interp._params import Interval, ListOf, Options, Subset, validate_params
from interp._validation import check_texts
from interp.attribution._core import (
    METRICS,
    UNITS,
    Prepared,
    prepare,
    prepared_from_result,
    resolve_targets,
    score_sequences,
)
from interp.attribution.ablation import ablate, resolve_replacement
from interp.attribution.result import AttributionResult, FaithfulnessResult, MethodComparisonResult
from interp.errors import InvalidParameterError
from interp.models.card import model_card

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["faithfulness", "compare_methods", "FRACTIONS"]

FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
MAX_CURVE_POINTS = 51
N_RANDOM = 10  # seeded random orders of the random-ranking baseline


class _Plan:
    """The perturbed sequences one attribution needs, and how to turn their scores into a result."""

    def __init__(self, prep: Prepared, scores: np.ndarray, fractions: Sequence[float], replacement: int | None,
                 max_points: int):
        n = len(prep.units)
        self.prep = prep
        self.order = [int(i) for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]
        self.counts = [min(n, max(1, math.ceil(f * n))) for f in fractions]
        if n + 1 <= max_points:
            self.curve = list(range(n + 1))
        else:
            self.curve = sorted({int(round(c)) for c in np.linspace(0, n, max_points)})
        self.n = n
        removed_sets = {tuple(sorted(self.order[:c])) for c in [*self.counts, *self.curve]}
        removed_sets |= {tuple(sorted(self.order[c:])) for c in [*self.counts, *self.curve]}
        self.keys = sorted(removed_sets, key=lambda k: (len(k), k))
        self.sequences = [prep.sequence(self._without(k, replacement)) for k in self.keys]

    def _without(self, units: tuple[int, ...], replacement: int | None) -> list[int]:
        positions = [p for u in units for p in self.prep.units[u]]
        return ablate(self.prep.ids, positions, replacement)

    def value(self, values: dict[tuple[int, ...], float], kept: int, *, remove_top: bool) -> float:
        key = tuple(sorted(self.order[:kept])) if remove_top else tuple(sorted(self.order[kept:]))
        return values[key]


def _combine(per_token: np.ndarray, metric: str) -> float:
    """Whole-continuation f from per-target-token values (logprobs for "prob")."""
    total = float(np.sum(per_token))
    return math.exp(total) if metric == "prob" else total


def _method_names() -> tuple[str, ...]:
    from interp.attribution.methods import METHODS

    return tuple(METHODS)


_FRACTIONS = ListOf(Interval(float, 0, 1, closed="right"))
#: What faithfulness and compare_methods share.
_COMMON = {"model": ["model"], "prompt": ["text"], "fractions": [_FRACTIONS], "metric": [Options(METRICS)],
           "replace_with": [str, Interval(int, 0, None), None], "n_random": [Interval(int, 1, None)],
           "random_seed": [Interval(int, 0, None)], "batch_size": [Interval(int, 1, None), None]}


def _score_plans(model: Any, plans: list[_Plan], metric: str, batch_size: int | None, where: str
                 ) -> list[dict[tuple[int, ...], float]]:
    seqs, targets, foils = [], [], []
    for plan in plans:
        seqs.extend(plan.sequences)
        targets.extend([plan.prep.target_ids] * len(plan.sequences))
        foils.extend([plan.prep.foil_id] * len(plan.sequences))
    engine_metric = "logprob" if metric == "prob" else metric
    flat = score_sequences(model, seqs, targets, foils, engine_metric, batch_size=batch_size, where=where)
    out, start = [], 0
    for plan in plans:
        chunk = flat[start:start + len(plan.sequences)]
        start += len(plan.sequences)
        out.append({k: _combine(v, metric if plan.prep.foil_id is None else "logit") for k, v in zip(plan.keys, chunk)})
    return out


def _random_plans(prep: Prepared, fractions: Sequence[float], replacement: int | None, n_random: int,
                  seed: int) -> list[_Plan]:
    """The random-ranking baseline: ``n_random`` seeded random orders of the units (no curves, only the fractions)."""
    rng = np.random.default_rng(seed)
    n = len(prep.units)
    return [_Plan(prep, rng.permutation(n).astype(np.float64), fractions, replacement, 2) for _ in range(n_random)]


def _fraction_values(plan: _Plan, values: dict[tuple[int, ...], float]) -> tuple[np.ndarray, np.ndarray]:
    """(n_fractions,) comprehensiveness and sufficiency of one plan."""
    full = values[()]
    comp = np.array([full - plan.value(values, c, remove_top=True) for c in plan.counts])
    suff = np.array([full - plan.value(values, c, remove_top=False) for c in plan.counts])
    return comp, suff


def aopc_statistics(comprehensiveness: np.ndarray, sufficiency: np.ndarray, random_comprehensiveness: np.ndarray,
                    random_sufficiency: np.ndarray, names: Sequence[str],
                    counts: Sequence[int] | None = None) -> tuple[dict, dict]:
    """Intervals of each method's AOPC and its paired difference from the random-ranking baseline.

    Args:
        comprehensiveness, sufficiency: (n_methods, n_fractions) per method and ablation fraction.
        random_comprehensiveness, random_sufficiency: (n_random, n_fractions) per random order.
        names: the methods' names.
        counts: (n_fractions,) units each fraction removes; fractions that remove the same number of units (1%,
            5% and 10% of a short prompt are all one token) are one item of the bootstrap, not several.

    Returns:
        ``(intervals, versus_random)``: ``intervals[metric][name]`` an :class:`~interp.stats.Interval` dict of
        the AOPC (the mean over fractions; bootstrap over the fractions, the items sampled on one prompt),
        ``"random"`` among the names (the random orders averaged per fraction); ``versus_random[metric][name]``
        the :class:`~interp.stats.Comparison` dict of ``method - random`` over the same fractions.
    """
    from interp.stats import mean_interval, paired_difference

    intervals: dict[str, dict[str, Any]] = {}
    versus: dict[str, dict[str, Any]] = {}
    for metric, table, rand in (("comprehensiveness", comprehensiveness, random_comprehensiveness),
                                ("sufficiency", sufficiency, random_sufficiency)):
        baseline = np.asarray(rand, dtype=np.float64).mean(axis=0)
        intervals[metric] = {name: mean_interval(row, clusters=counts).to_dict() for name, row in zip(names, table)}
        intervals[metric]["random"] = mean_interval(baseline, clusters=counts).to_dict()
        versus[metric] = {name: paired_difference(row, baseline, names=(name, "random"), clusters=counts).to_dict()
                          for name, row in zip(names, table)}
    return intervals, versus


def _assemble(plan: _Plan, values: dict[tuple[int, ...], float], result: AttributionResult, metric: str,
              fractions: list[float], replacement: int | None, model: Any,
              random: list[tuple[np.ndarray, np.ndarray]], random_seed: int) -> FaithfulnessResult:
    full = values[()]
    empty = values[tuple(sorted(plan.order))]
    comp, suff = _fraction_values(plan, values)
    random_comp = np.array([c for c, _ in random]).reshape(len(random), len(fractions))
    random_suff = np.array([s for _, s in random]).reshape(len(random), len(fractions))
    intervals, versus = aopc_statistics(comp[None], suff[None], random_comp, random_suff, [result.method],
                                        counts=plan.counts)
    x = np.array(plan.curve, dtype=np.float64) / max(plan.n, 1)
    deletion = np.array([plan.value(values, c, remove_top=True) for c in plan.curve])
    insertion = np.array([plan.value(values, c, remove_top=False) for c in plan.curve])
    return FaithfulnessResult(
        prompt=result.prompt, method=result.method, target=result.target,
        metric="logit_diff" if plan.prep.foil_id is not None else metric, fractions=fractions,
        counts=np.array(plan.counts, dtype=np.int64), comprehensiveness=comp, sufficiency=suff,
        aopc_comprehensiveness=float(comp.mean()), aopc_sufficiency=float(suff.mean()), curve_fractions=x,
        deletion_curve=deletion, insertion_curve=insertion,
        deletion_auc=float(np.trapezoid(deletion, x)) if len(x) > 1 else float(deletion[0]),
        insertion_auc=float(np.trapezoid(insertion, x)) if len(x) > 1 else float(insertion[0]),
        full_value=float(full), empty_value=float(empty), model_name=model.name, model_card=model_card(model),
        random_comprehensiveness=random_comp, random_sufficiency=random_suff,
        intervals={m: v[result.method] for m, v in intervals.items()},
        random_intervals={m: v["random"] for m, v in intervals.items()},
        versus_random={m: v[result.method] for m, v in versus.items()},
        metadata={"replace_with": None if replacement is None else model.ids_to_str([replacement])[0],
                  "n_units": plan.n, "n_random": len(random), "random_seed": random_seed},
    )


@validate_params({**_COMMON, "result": [AttributionResult], "max_curve_points": [Interval(int, 2, None)]})
def faithfulness(model: Model, prompt: str, result: AttributionResult, *,
                 fractions: Sequence[float] = FRACTIONS, metric: str = "prob", replace_with: str | int | None = None,
                 max_curve_points: int = MAX_CURVE_POINTS, n_random: int = N_RANDOM, random_seed: int = 0,
                 batch_size: int | None = None) -> FaithfulnessResult:
    """ERASER comprehensiveness / sufficiency (AOPC) and deletion / insertion curves of an attribution.

    Args:
        model: the :class:`interp.Model` the attribution was computed on.
        prompt: the prompt it explains (as given to the method; with ``chat=True`` the user's text).
        result: an :class:`AttributionResult` of any method; its units are ranked by ``result.total``.
        fractions: the top-k fractions of units removed / kept (ERASER uses 1, 5, 10, 20, 50%); a
            fraction removes ``ceil(k * n_units)`` units, at least one.
        metric: f: "prob" (default, the whole continuation's probability, as ERASER), "logprob" or
            "logit" (summed over target tokens). A result with a contrast always uses its logit
            difference.
        replace_with: how a unit is removed: None deletes it (default), anything else replaces each
            of its tokens as in :func:`~interp.attribution.token_ablation`.
        max_curve_points: points of each curve (every count 0..n when n_units < this).
        n_random: seeded random orders of the units scored the same way (the random-ranking baseline an
            attribution has to beat, as in ERASER's follow-ups); at least 1.
        random_seed: their seed.
        batch_size: sequences per forward pass (default: a token budget).

    Returns:
        :class:`FaithfulnessResult`, with the AOPC intervals (over the fractions) and the paired difference
        from the random orders.

    Example:
        >>> r = gradient_saliency(model, "The capital of France is", " Paris")
        >>> faithfulness(model, "The capital of France is", r).to_frame()
    """
    where = "faithfulness"
    (text,), _ = check_texts(prompt, where=where)
    fractions = [float(f) for f in fractions]
    if text != result.prompt and not (result.metadata.get("chat") and text in result.prompt):
        raise InvalidParameterError(f"{where}: the result explains {result.prompt[:60]!r}, not the prompt given "
                                    f"({text[:60]!r}). Pass the prompt the attribution was computed on.")
    if result.model_name and result.model_name != model.name:
        raise InvalidParameterError(f"{where}: the result was computed on {result.model_name}, not {model.name}.")
    replacement = resolve_replacement(model, replace_with, where=where)
    prep = prepared_from_result(model, result, where=where)
    plan = _Plan(prep, result.total, fractions, replacement, max_curve_points)
    randoms = _random_plans(prep, fractions, replacement, n_random, random_seed)
    values, *random_values = _score_plans(model, [plan, *randoms], metric, batch_size, where)
    random = [_fraction_values(p, v) for p, v in zip(randoms, random_values)]
    return _assemble(plan, values, result, metric, fractions, replacement, model, random, random_seed)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)  # constant inputs return NaN above, before scipy would warn


@validate_params({**_COMMON, "target": [str, None], "methods": [Subset(_method_names, noun="attribution method"), None],
                  "unit": [Options(UNITS)], "chat": ["boolean"], "system": [str, None],
                  "n_steps": [Interval(int, 1, 10_001)]})
def compare_methods(model: Model, prompt: str, target: str | None = None, *, methods: Sequence[str] | None = None,
                    unit: str = "token", chat: bool = False, system: str | None = None, n_steps: int = 50,
                    fractions: Sequence[float] = FRACTIONS, metric: str = "prob", replace_with: str | int | None = None,
                    n_random: int = N_RANDOM, random_seed: int = 0,
                    batch_size: int | None = None) -> MethodComparisonResult:
    """Run every attribution method on one prompt; compare faithfulness and rank agreement.

    Args:
        model: an :class:`interp.Model`.
        prompt: one prompt.
        target: the continuation to explain (None: the model's top next token), the same for all.
        methods: names from :data:`interp.attribution.METHODS` (all of them by default).
        unit, chat, system: as in :func:`~interp.attribution.token_ablation`.
        n_steps: integration points of integrated gradients.
        fractions, metric, replace_with, n_random, random_seed: as in :func:`faithfulness`; the random
            orders are one baseline row ("random") every method is compared with.
        batch_size: as in the methods.

    Returns:
        :class:`MethodComparisonResult`: per method, ERASER comprehensiveness and sufficiency
        (AOPC, per fraction and their mean with an interval over the fractions), the random-ranking
        baseline, paired differences (method vs random, best vs runner-up), deletion / insertion AUC,
        seconds, and the Spearman correlation matrix with Fisher-z intervals.

    Example:
        >>> compare_methods(model, "The capital of France is", " Paris").to_frame()
    """
    from interp.attribution.methods import METHODS

    where = "compare_methods"
    (text,), _ = check_texts(prompt, where=where)
    fractions = [float(f) for f in fractions]
    names = list(METHODS) if methods is None else list(methods)
    prep = prepare(model, text, unit=unit, chat=chat, system=system, where=where)
    resolve_targets(model, [prep], target, None, where=where, batch_size=batch_size)
    target_text = model.tokenizer.decode(prep.target_ids)
    if model.tokenizer(target_text, add_special_tokens=False)["input_ids"] != prep.target_ids:
        target_text = None  # the top token does not survive decoding: let each method find it again
    options: dict[str, dict[str, Any]] = {
        "ablation": {}, "gradient": {}, "grad_x_input": {}, "integrated_gradients": {"n_steps": n_steps},
        "rollout": {}}
    results: list[AttributionResult] = []
    seconds = []
    for name in names:
        start = time.perf_counter()
        results.append(METHODS[name](model, text, target_text, unit=unit, chat=chat, system=system,
                                     batch_size=batch_size, **options.get(name, {})))
        seconds.append(time.perf_counter() - start)
    replacement = resolve_replacement(model, replace_with, where=where)
    plans = [_Plan(prepared_from_result(model, r, where=where), r.total, fractions, replacement, MAX_CURVE_POINTS)
             for r in results]
    randoms = _random_plans(plans[0].prep, fractions, replacement, n_random, random_seed)
    scored = _score_plans(model, [*plans, *randoms], metric, batch_size, where)
    random = [_fraction_values(p, v) for p, v in zip(randoms, scored[len(plans):])]
    faith = [_assemble(p, v, r, metric, fractions, replacement, model, random, random_seed)
             for p, v, r in zip(plans, scored[:len(plans)], results)]
    totals = np.stack([r.total for r in results]).astype(np.float64)
    corr = np.array([[_spearman(a, b) for b in totals] for a in totals])
    comp_by_fraction = np.stack([f.comprehensiveness for f in faith])
    suff_by_fraction = np.stack([f.sufficiency for f in faith])
    intervals, versus = aopc_statistics(comp_by_fraction, suff_by_fraction, faith[0].random_comprehensiveness,
                                        faith[0].random_sufficiency, names, counts=plans[0].counts)
    return MethodComparisonResult(
        prompt=results[0].prompt, target=results[0].target, metric=faith[0].metric, tokens=results[0].tokens,
        methods=names, scores=totals, comprehensiveness=np.array([f.aopc_comprehensiveness for f in faith]),
        sufficiency=np.array([f.aopc_sufficiency for f in faith]),
        deletion_auc=np.array([f.deletion_auc for f in faith]), insertion_auc=np.array([f.insertion_auc for f in faith]),
        correlation=corr, seconds=np.array(seconds), model_name=model.name, model_card=model_card(model),
        comprehensiveness_by_fraction=comp_by_fraction, sufficiency_by_fraction=suff_by_fraction,
        random_comprehensiveness=faith[0].random_comprehensiveness, random_sufficiency=faith[0].random_sufficiency,
        intervals=intervals, versus_random=versus,
        ablation_last_token_top=bool(any(r.last_token_ranked_first() for r in results)),
        metadata={"unit": unit, "chat": chat, "n_steps": n_steps, "fractions": fractions,
                  "replace_with": faith[0].metadata["replace_with"], "n_random": n_random,
                  "counts": [int(c) for c in plans[0].counts],
                  "random_seed": random_seed})
