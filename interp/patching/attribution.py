"""Attribution patching (AtP): every cell of activation patching estimated from one backward pass.

Activation patching costs one forward pass per cell. Attribution patching (Nanda 2023, "Attribution
Patching: Activation Patching At Industrial Scale"; Syed et al. 2023) replaces each by a first-order
Taylor expansion around the corrupted run::

    metric(corrupted with a <- a_clean) - metric(corrupted)  ~  (a_clean - a_corrupted) . d metric / d a |corrupted

so one forward pass of the clean prompt, one forward and one backward pass of the corrupted prompt
give the estimate of every node at once: the residual stream, attention and MLP outputs at each
(layer, position) and each head's output ``z`` at each position (node level; grouped-query attention
is no obstacle because ``z`` has one slice per query head). Estimates are normalised like
:func:`~interp.patching.activation_patching`: divided by ``metric(clean) - metric(corrupted)``.

AtP* (Kramar et al. 2024) adds two fixes. The *QK fix* (recompute the attention softmax exactly when
the node is a query or a key) does not apply here: the nodes are outputs (``z``, block outputs and
residual states), never queries or keys, so no softmax lies between a node and its own patch.
*GradDrop* (average the estimate over backward passes that each drop one layer's gradient, against
cancelling paths) is not implemented; instead the estimate is checked by exact patching (one batched
pass, :func:`interp.patching._core.run_patched`) on two sets of cells:

- ``verify_top_k``: the ``k`` cells with the largest estimated effect (AtP's use as a prefilter);
- ``verify_random``: a seeded uniform sample of the other cells. Checking the top estimates alone
  cannot see a cell the estimate *missed* (a false negative, what AtP* was written about); the random
  sample can. The result reports the **recall** of the exact top ``k`` among all verified cells (how
  many of the ``k`` largest exact effects the estimate's top ``k`` holds), the share of random cells
  that belong there (missed cells, with the Wilson interval: the same share of the unverified cells
  is expected missed), the estimate's mean absolute error on the random cells, and Pearson and sign
  agreement over all verified cells -- only when their exact values vary (otherwise a correlation
  means nothing, and the result says so in its caveats).

A single gradient underestimates large, saturating effects (on the default model: MLP 0 at the subject
token, which re-embeds it, and the late attention that moves the answer to the last token).
``method="ig"`` averages the gradient over ``steps`` runs whose token embeddings are interpolated from
the corrupted to the clean prompt, as EAP-IG does (Hanna et al. 2024); it is not part of AtP*.

Example:
    >>> from interp.patching import attribution_patching
    >>> atp = attribution_patching(model, "The capital of France is", "The capital of Italy is",
    ...                            answer=" Paris", wrong_answer=" Rome", verify_top_k=10, verify_random=30)
    >>> atp.verified_frame()        # the top 10 cells and 30 random ones, estimated and exact
    >>> atp.agreement_frame()       # recall of the exact top 10, missed share, error, Pearson: with intervals
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice, check_int
from interp.errors import InvalidParameterError
from interp.patching._core import DEFAULT_MEMORY_BUDGET, SITES, metric_from_logits, site_hook
from interp.patching._views import site_figure, site_frame
from interp.patching.activation import (
    _check_sites,
    check_baselines,
    generic_activation_patch,
    prepare_pairs,
    site_shape,
    source_activations,
)
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["attribution_patching", "AttributionPatchingResult", "pearson", "verification_statistics", "MIN_SPREAD"]

#: Agreement (Pearson, sign) over verified cells is reported only when their exact values spread at least this much
#: (standard deviation, in the normalised units: clean = 1, corrupted = 0); below it a correlation means nothing.
MIN_SPREAD = 0.05


def _nan_interval(n: int = 0, method: str = "") -> dict[str, Any]:
    from interp.stats import Interval

    return Interval(float("nan"), float("nan"), float("nan"), n=n, method=method).to_dict()


def verification_statistics(estimate: np.ndarray, exact: np.ndarray, is_random: np.ndarray, *,
                            seed: int = 0) -> dict[str, Any]:
    """Agreement of attribution estimates with exact patching over the verified cells.

    Args:
        estimate, exact: (n,) the estimate and the exact value of each verified cell (normalised).
        is_random: (n,) bool, True for the cells of the random sample, False for the estimate's top ``k``.
        seed: the bootstrap's seed.

    Returns:
        JSON-native :class:`~interp.stats.Interval` dicts: ``recall`` (how many of the ``k`` largest |exact|
        among all verified cells are in the estimate's top ``k``; Wilson over the ``k``), ``missed_share``
        (the share of random cells that belong to those ``k``: missed by the estimate; Wilson over the random
        cells), ``random_error`` (mean |estimate - exact| over the random cells; bootstrap), ``pearson``
        (Fisher z) and ``sign_agreement`` (Wilson) over all verified cells -- NaN when the exact values spread
        less than :data:`MIN_SPREAD` or there are fewer than 4 cells -- and ``spread`` (the exact values' std).
    """
    from interp.stats import correlation_interval, mean_interval, proportion_interval

    estimate, exact = np.asarray(estimate, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    is_random = np.asarray(is_random, dtype=bool)
    n, k, r = len(exact), int((~is_random).sum()), int(is_random.sum())
    out: dict[str, Any] = {"spread": float(exact.std()) if n else float("nan")}
    if k and r:
        largest = np.argsort(-np.abs(exact), kind="stable")[:k]
        hits = int((~is_random[largest]).sum())
        out["recall"] = proportion_interval(hits, k).to_dict()
        out["missed_share"] = proportion_interval(k - hits, r).to_dict()
    else:  # nothing to compare the top with: recall holds by construction
        out["recall"] = _nan_interval(k, "wilson")
        out["missed_share"] = _nan_interval(r, "wilson")
    out["random_error"] = (mean_interval(np.abs(estimate - exact)[is_random], seed=seed).to_dict() if r
                           else _nan_interval(0, "bootstrap"))
    if n >= 4 and out["spread"] >= MIN_SPREAD:
        out["pearson"] = correlation_interval(pearson(estimate, exact), n).to_dict()
        out["sign_agreement"] = proportion_interval(int((np.sign(estimate) == np.sign(exact)).sum()), n).to_dict()
    else:
        out["pearson"] = _nan_interval(n, "fisher z (pearson)")
        out["sign_agreement"] = _nan_interval(n, "wilson")
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays (NaN when either is constant)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclasses.dataclass(eq=False)
class AttributionPatchingResult(Result):
    """Attribution-patching estimates of one clean/corrupted pair (normalised: clean = 1, corrupted = 0),
    with the top-k cells and a random sample of the others checked by exact patching.

    Attributes:
        clean, corrupted, clean_tokens, corrupted_tokens, answer, wrong_answer, metric, sites, positions,
        clean_positions, clean_metric, corrupted_metric, align, model_name: as in
        :class:`~interp.patching.PatchingResult`.
        resid, attn, mlp, head: the estimates, shaped like PatchingResult's maps (empty when not computed).
        verified: the cells checked, ``[site, layer, position, head]`` each (head -1 outside the head site):
            the top ``verify_top_k`` by estimated |effect| (largest first), then the random sample.
        verified_random: for each verified cell, True if it came from the random sample.
        verified_estimate, verified_exact: (n_verified,) float64, their estimate and their exact patching value.
        n_cells: how many cells were estimated (all sites).
        agreement: :func:`verification_statistics` of the verified cells: ``recall``, ``missed_share``,
            ``random_error``, ``pearson``, ``sign_agreement`` (Interval dicts; NaN where not defined) and ``spread``.
        method, steps: "atp" (one gradient, steps 1) or "ig" (gradients averaged over ``steps`` interpolated inputs).
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
    verified: list[list[Any]]
    verified_random: list[bool]
    verified_estimate: np.ndarray
    verified_exact: np.ndarray
    n_cells: int
    agreement: dict[str, Any]
    align: str = "same"
    method: str = "atp"
    steps: int = 1
    model_name: str = ""

    title: ClassVar[str] = "Attribution patching"

    def maps(self) -> dict[str, np.ndarray]:
        return {s: getattr(self, s) for s in self.sites}

    def _interval(self, name: str) -> Any:
        from interp.stats import Interval

        return Interval.from_dict(self.agreement[name])

    def summary(self) -> str:
        k, r = self.verified_random.count(False), self.verified_random.count(True)
        check = ""
        if k or r:
            check = f"; verified by exact patching: top {k} and {r} random cells"
            if k and r:
                check += (f"; recall of the exact top {k} {self._interval('recall').format(2)}, missed share of random "
                          f"cells {self._interval('missed_share').format(2)}, their mean |error| "
                          f"{self._interval('random_error').format(3)}")
            if np.isfinite(self._interval("pearson").estimate):
                check += (f"; Pearson {self._interval('pearson').format(3)}, sign agreement "
                          f"{self._interval('sign_agreement').format(2)}")
        top = self.top(1)
        best = f"; largest estimate {top[0][0]} L{top[0][1]} pos {top[0][2]}" if top else ""
        return (f"{self.model_name}: {self.clean!r} -> {self.corrupted!r}, {self.metric} "
                f"(clean {self.clean_metric:.3f}, corrupted {self.corrupted_metric:.3f}){best}{check}")

    def caveats(self) -> list[str]:
        notes = []
        k, r = self.verified_random.count(False), self.verified_random.count(True)
        if not k and not r:
            return ["Nothing was verified by exact patching (verify_top_k=0, verify_random=0): the estimates are "
                    "unchecked first-order approximations."]
        n = k + r
        if n < 4:
            notes.append(f"Only {n} cells were verified: too few for a Pearson correlation or a sign agreement, so "
                         "none is reported. Verify more cells (verify_top_k, verify_random).")
        elif np.isnan(self._interval("pearson").estimate):
            notes.append(f"The {n} verified cells' exact values barely vary (std {self.agreement['spread']:.3f} < "
                         f"{MIN_SPREAD} of the clean-corrupted difference): a Pearson correlation or sign agreement "
                         "over them would mean nothing, so none is reported. Add random cells (verify_random) to "
                         "check the estimate where effects differ.")
        if not r:
            notes.append("Only the estimate's own top cells were verified: a large cell the estimate missed cannot show "
                         "up. Pass verify_random > 0 to check a random sample of the other cells.")
        elif k:
            missed = self._interval("missed_share")
            if missed.estimate > 0:
                unverified = self.n_cells - n
                notes.append(f"The estimate missed large cells: {round(missed.estimate * r)} of {r} random cells have "
                             f"exact effects among the {k} largest verified; about {missed.format(2)} of the "
                             f"{unverified} unverified cells may too (up to ~{missed.high * unverified:.0f}). Rank by "
                             "exact patching (activation_patching) or method='ig' instead of trusting the top "
                             f"{k} estimates.")
        return notes

    def top(self, k: int = 10) -> list[tuple[str, int, int, int, float]]:
        """The ``k`` cells with the largest |estimate|: ``(site, layer, position, head, estimate)``."""
        frame = self.to_frame()
        frame = frame.reindex(frame["estimate"].abs().sort_values(ascending=False).index).head(k)
        return [(r.site, int(r.layer), int(r.position), int(r.head), float(r.estimate)) for r in frame.itertuples()]

    def to_frame(self) -> DataFrame:
        """One row per cell: site, layer, position, token, head (-1 if none), estimate."""
        return site_frame(self.maps(), self.corrupted_tokens, self.positions, value="estimate")

    def verified_frame(self) -> DataFrame:
        """The verified cells: site, layer, position, token, head, sample ("top" or "random"), estimate, exact."""
        import pandas as pd

        return pd.DataFrame({
            "site": [c[0] for c in self.verified], "layer": [c[1] for c in self.verified],
            "position": [c[2] for c in self.verified],
            "token": [self.corrupted_tokens[c[2]] for c in self.verified], "head": [c[3] for c in self.verified],
            "sample": ["random" if x else "top" for x in self.verified_random],
            "estimate": self.verified_estimate, "exact": self.verified_exact})

    def agreement_frame(self) -> DataFrame:
        """The verification's figures, one row each: metric, estimate, low, high (95 %), n, method."""
        import pandas as pd

        rows = [{"metric": name, **{key: self.agreement[name][key] for key in ("estimate", "low", "high", "n",
                                                                              "method")}}
                for name in ("recall", "missed_share", "random_error", "pearson", "sign_agreement")]
        return pd.DataFrame(rows)

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("cells verified by exact patching", self.verified_frame()),
                ("agreement with exact patching (95 % intervals)", self.agreement_frame())]

    def plot(self, site: str | None = None) -> Figure:
        return site_figure(self.maps(), self.corrupted_tokens, self.positions, site=site, colorbar="estimate",
                           title=f"Attribution patching {self.clean!r} -> {self.corrupted!r} ({self.metric}, "
                                 "clean = 1, corrupted = 0)")

    def verification_plot(self) -> Figure:
        """Estimate against exact value of the verified cells, top and random ones apart (the diagonal is
        perfect agreement)."""
        import plotly.graph_objects as go

        labels = [f"{s} L{layer} pos {p}" + (f" H{h}" if h >= 0 else "") for s, layer, p, h in self.verified]
        lo = float(min([0.0, *self.verified_exact, *self.verified_estimate]))
        hi = float(max([1.0, *self.verified_exact, *self.verified_estimate]))
        fig = go.Figure([go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "grey"},
                                    name="agreement")])
        random = np.asarray(self.verified_random, dtype=bool)
        for name, keep in (("top estimates", ~random), ("random cells", random)):
            idx = np.flatnonzero(keep)
            if len(idx):
                fig.add_trace(go.Scatter(x=self.verified_exact[idx], y=self.verified_estimate[idx], mode="markers",
                                         text=[labels[i] for i in idx], name=name,
                                         hovertemplate="%{text}: exact %{x:.3f}, estimate %{y:.3f}<extra></extra>"))
        pearson_text = (f"Pearson {self._interval('pearson').format(3)}"
                        if np.isfinite(self._interval("pearson").estimate) else "exact values barely vary: no Pearson")
        fig.update_layout(title=f"{random.size - random.sum()} top and {random.sum()} random cells: attribution "
                                f"estimate vs exact patching ({pearson_text})",
                          xaxis_title="exact patching (normalised)", yaxis_title="attribution estimate (normalised)")
        return fig

    def figures(self) -> list:
        return [self.plot(), *([self.verification_plot()] if self.verified else [])]


def _gradients(model: Model, texts: list[str], hooks: list[str], answer: list[int], wrong: list[int | None],
               metric: Any, padding_side: str, embeds: list[torch.Tensor] | None = None
               ) -> tuple[list[dict[str, torch.Tensor]], np.ndarray]:
    """Activations and d metric / d activation at ``hooks`` on ``texts`` (padding removed), and the metric,
    through the model's engine (``Model.run(grad=True)``, each micro-batch's backward pass inside it).

    ``hooks[0]`` must be ``hook_embed``; with ``embeds`` (one (pos_i, d_model) tensor per text) the token
    embeddings of each text are replaced by them (the interpolated inputs of ``method="ig"``)."""
    ids = [model.encode(t, where="attribution_patching") for t in texts]
    acts: list[dict[str, torch.Tensor]] = [{} for _ in texts]
    out: list[dict[str, torch.Tensor]] = [{} for _ in texts]
    values = np.empty(len(texts), dtype=np.float64)
    store: dict[str, torch.Tensor] = {}
    first = hooks[0]

    def build(rows: list[int], batch: Any) -> list:
        store.clear()

        def capture(name: str) -> Any:
            def hook(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
                if name == first and embeds is not None:
                    act = act.detach().clone()
                    for r, i in enumerate(rows):
                        act[r, batch.real_slice(r)] = embeds[i].to(device=act.device, dtype=act.dtype)
                if name == first and not act.requires_grad:  # frozen weights or new inputs: the graph starts here
                    act = act.detach().requires_grad_(True)
                store[name] = act
                return act

            return hook

        return [(h, capture(h)) for h in hooks]

    def backward(p: Any) -> np.ndarray:
        a = torch.tensor([answer[i] for i in p.rows], device=p.logits.device)
        with_foil = metric == "logit_diff" or (callable(metric) and all(wrong[i] is not None for i in p.rows))
        w = torch.tensor([wrong[i] for i in p.rows], device=p.logits.device) if with_foil else None
        v = metric_from_logits(p.logits, a, w, metric)
        ordered = [h for h in hooks if h in store]
        grads = torch.autograd.grad(v.sum(), [store[h] for h in ordered], allow_unused=True)
        for h, g in zip(ordered, grads):
            act = store[h].detach().float().cpu()
            g = torch.zeros_like(act) if g is None else g.detach().float().cpu()
            for r, i in enumerate(p.rows):
                span = p.batch.real_slice(r)
                acts[i][h], out[i][h] = act[r][span], g[r][span]
        return v.detach().double().cpu().numpy()

    for rows, v in model.run(ids, keep="last", hooks=build, grad=True, each=backward, padding_side=padding_side):
        values[rows] = v
    return [{"act": a_, "grad": g_} for a_, g_ in zip(acts, out)], values


def attribution_patching(model: Model, clean: str | Sequence[str], corrupted: str | Sequence[str], *,
                         target: Any = None, sites: Sequence[str] = SITES, metric: Any = "logit_diff",
                         positions: Any = None, align: str | None = None, method: str = "atp", steps: int = 5,
                         verify_top_k: int = 10, verify_random: int = 20, seed: int = 0, padding_side: str = "right",
                         memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                         progress: ProgressArg = None, answer: Any = None, wrong_answer: Any = None
                         ) -> AttributionPatchingResult | list[AttributionPatchingResult]:
    """Estimate every activation-patching cell from gradients, and check the top ``verify_top_k`` exactly.

    Args:
        model, clean, corrupted, target, sites, metric, positions, align, padding_side,
            memory_budget, batch_size: as in :func:`~interp.patching.activation_patching` (the estimate
            of a cell approximates that function's value of the same cell).
        method: "atp" (default): the gradient at the corrupted run (Nanda 2023); "ig": the gradient averaged
            over ``steps`` runs whose token embeddings are interpolated from the corrupted prompt's to the clean
            prompt's (``e_corrupted + k / steps (e_clean - e_corrupted)``, k = 1..steps), as EAP-IG does
            (Hanna et al. 2024, "Have Faith in Faithfulness"). "ig" needs pairs of the same length and costs
            ``steps`` backward passes; it recovers large effects that the single gradient underestimates
            (on the default model: MLP 0 at the subject token, the late attention at the last token).
        steps: interpolation steps of method="ig".
        verify_top_k: how many cells (largest |estimate| over all sites) to re-run by exact patching.
        verify_random: how many other cells, a seeded uniform sample, to re-run by exact patching too: what
            reveals cells the estimate missed (see the module docstring). 0 and ``verify_top_k=0`` skip the check.
        seed: the random sample's seed.
        progress: None, True, False or ``progress(stage, done, total)`` (stage "patching" for the check).
        answer, wrong_answer: deprecated (interp < 0.3): the old names of ``target`` and its foil; they warn.

    Returns:
        An :class:`AttributionPatchingResult` (a list of them for lists of prompts).

    Example:
        >>> atp = attribution_patching(model, "The capital of France is", "The capital of Italy is",
        ...                            target=Target(" Paris", foil=" Rome"), sites=("mlp", "head"))
        >>> atp.top(5)
    """
    where = "attribution_patching"
    answer = targets.renamed_parameter(where, "answer", "target", answer)
    wrong_answer = targets.renamed_parameter(where, "wrong_answer", "target=Target(answer, foil)", wrong_answer)
    site_list = _check_sites(sites, where)
    check_choice(padding_side, ("right", "left"), name="padding_side", where=where)
    check_int(verify_top_k, name="verify_top_k", where=where, low=0)
    check_int(verify_random, name="verify_random", where=where, low=0)
    check_int(seed, name="seed", where=where, low=0)
    check_int(memory_budget, name="memory_budget", where=where, low=1)
    report = resolve_progress(progress, where=where)
    pairs, single = prepare_pairs(model, clean, corrupted, target=target, answer=answer, wrong_answer=wrong_answer,
                                  metric=metric, positions=positions, align=align, where=where)
    check_choice(method, ("atp", "ig"), name="method", where=where)
    check_int(steps, name="steps", where=where, low=1)
    hooks = ["hook_embed"] + [site_hook(s, layer) for s in site_list
                              for layer in range(model.n_layers + (s == "resid"))]
    node_hooks = sorted(set(hooks[1:]))
    clean_acts = source_activations(model, [p.clean for p in pairs], ["hook_embed", *node_hooks],
                                    padding_side=padding_side)
    answers, wrongs = [p.answer_id for p in pairs], [p.wrong_id for p in pairs]
    if method == "atp":
        grads, _ = _gradients(model, [p.corrupted for p in pairs], hooks, answers, wrongs, metric, padding_side)
    else:
        for pair in pairs:
            if len(pair.clean_ids) != len(pair.corrupted_ids):
                raise InvalidParameterError(
                    f"method='ig' of {where} interpolates the token embeddings of the two prompts, so they must be "
                    f"the same length. Got {len(pair.clean_ids)} and {len(pair.corrupted_ids)} tokens for "
                    f"{pair.clean!r} / {pair.corrupted!r}; use method='atp'.")
        corr_acts = source_activations(model, [p.corrupted for p in pairs], ["hook_embed", *node_hooks],
                                       padding_side=padding_side)
        rows, embeds = [], []
        for i in range(len(pairs)):
            e_clean, e_corr = clean_acts[i]["hook_embed"].float(), corr_acts[i]["hook_embed"].float()
            for k in range(1, steps + 1):
                rows.append(i)
                embeds.append(e_corr + (k / steps) * (e_clean - e_corr))
        step_grads, _ = _gradients(model, [pairs[i].corrupted for i in rows], hooks, [answers[i] for i in rows],
                                   [wrongs[i] for i in rows], metric, padding_side, embeds=embeds)
        grads = []
        for i in range(len(pairs)):
            mine = [g for g, r in zip(step_grads, rows) if r == i]
            grads.append({"act": {h: corr_acts[i][h].float() for h in node_hooks},
                          "grad": {h: torch.stack([g["grad"][h] for g in mine]).mean(0) for h in node_hooks}})
    # the baselines exactly as activation_patching measures them (no cells: two unpatched runs per pair)
    _, clean_m, corr_m = generic_activation_patch(model, pairs, sites=site_list, metric=metric,
                                                  padding_side=padding_side, memory_budget=memory_budget,
                                                  cells={s: [] for s in site_list})
    from interp.models.card import model_card

    card = model_card(model)
    results = []
    for i, pair in enumerate(pairs):
        denom = clean_m[i] - corr_m[i]
        check_baselines(pair, clean_m[i], corr_m[i], targets.metric_label(metric), where=where)
        corr_idx = torch.tensor([p for p, _ in pair.position_map])
        clean_idx = torch.tensor([c for _, c in pair.position_map])
        arrays: dict[str, np.ndarray] = {}
        for s in SITES:
            shape = site_shape(model, s, len(pair.position_map))
            if s not in site_list:
                arrays[s] = np.zeros((0, *shape[1:]))
                continue
            est = np.zeros(shape)
            for layer in range(shape[0]):
                h = site_hook(s, layer)
                diff = clean_acts[i][h][clean_idx].float() - grads[i]["act"][h][corr_idx]
                prod = diff * grads[i]["grad"][h][corr_idx]  # (n_pos, d) or (n_pos, n_heads, d_head)
                est[layer] = prod.sum(-1).double().numpy()
            arrays[s] = est / denom
        results.append(dict(arrays=arrays, pair=pair, clean_m=float(clean_m[i]), corr_m=float(corr_m[i])))

    verified: list[list[list[Any]]] = [[] for _ in pairs]
    from_random: list[list[bool]] = [[] for _ in pairs]
    exact: list[np.ndarray] = [np.zeros(0) for _ in pairs]
    estimate: list[np.ndarray] = [np.zeros(0) for _ in pairs]
    n_cells = [0 for _ in pairs]
    for i, item in enumerate(results):
        cells = []
        for s in site_list:
            arr = item["arrays"][s]
            for idx in np.ndindex(arr.shape):
                cells.append((abs(arr[idx]), s, idx))
        n_cells[i] = len(cells)
        if not (verify_top_k or verify_random):
            continue
        order = sorted(range(len(cells)), key=lambda j: -cells[j][0])  # stable: ties keep the cells' order
        top = order[:verify_top_k]
        rest = np.array(sorted(order[verify_top_k:]), dtype=np.int64)
        rng = np.random.default_rng([seed, i])
        sample = sorted(rng.choice(rest, size=min(verify_random, len(rest)), replace=False).tolist()) if len(rest) \
            else []
        picked = [cells[j] for j in top + sample]
        chosen = {s: [] for s in site_list}
        for _, s, idx in picked:
            chosen[s].append((idx[0], idx[1], idx[2] if len(idx) == 3 else None))
        maps, _, _ = generic_activation_patch(model, [item["pair"]], sites=site_list, metric=metric,
                                              padding_side=padding_side, memory_budget=memory_budget,
                                              batch_size=batch_size, progress=report, cells=chosen)
        denom = item["clean_m"] - item["corr_m"]
        exact[i] = np.array([(maps[0][s][idx] - item["corr_m"]) / denom for _, s, idx in picked])
        estimate[i] = np.array([item["arrays"][s][idx] for _, s, idx in picked])
        verified[i] = [[s, int(idx[0]), int(item["pair"].position_map[idx[1]][0]),
                        int(idx[2]) if len(idx) == 3 else -1] for _, s, idx in picked]
        from_random[i] = [False] * len(top) + [True] * len(sample)
    out = []
    for i, item in enumerate(results):
        pair = item["pair"]
        out.append(AttributionPatchingResult(
            clean=pair.clean, corrupted=pair.corrupted, clean_tokens=model.ids_to_str(pair.clean_ids),
            corrupted_tokens=model.ids_to_str(pair.corrupted_ids), answer=pair.answer, wrong_answer=pair.wrong_answer,
            metric=targets.metric_label(metric), sites=site_list, positions=[p for p, _ in pair.position_map],
            clean_positions=[c for _, c in pair.position_map], **item["arrays"], clean_metric=item["clean_m"],
            corrupted_metric=item["corr_m"], verified=verified[i], verified_random=from_random[i],
            verified_estimate=estimate[i], verified_exact=exact[i], n_cells=n_cells[i],
            agreement=verification_statistics(estimate[i], exact[i], np.array(from_random[i], dtype=bool), seed=seed),
            align=("map" if isinstance(positions, dict) else align if align is not None else "same"),
            method=method, steps=steps if method == "ig" else 1, model_name=model.name, model_card=card))
    return out[0] if single else out
