"""Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT", ROME).

Three runs of a factual prompt such as "The Eiffel Tower is in" with subject "The Eiffel Tower":

1. the clean run, where the model gives the answer (" Paris") with probability ``p_clean``;
2. the corrupted run: Gaussian noise ``N(0, nu^2)`` is added to the token embeddings of the subject,
   with ``nu = noise x sigma`` (ROME: ``noise = 3``), and the answer's probability drops to ``p_corrupted``
   (averaged over ``samples`` noise draws, 10 in ROME);
3. the corrupted-with-restoration run: the noised run again, with one state put back to its clean
   value. The *indirect effect* of that state is ``p_restored - p_corrupted``.

The states restored are each hidden state (token, layer) and, as in ROME's Figure 1, windows of
``window`` (10) consecutive MLP outputs or attention outputs around a layer at one token
(blocks ``[l - window // 2, l + window // 2)``, clipped). ROME finds that the MLPs at the last subject
token in early-middle layers and attention at the last token in late layers carry the fact.

Every (kind, layer, token, sample) is one row of shared batched forward passes (the core of
:mod:`interp.patching`); the same noise draws (seeded, a local ``torch.Generator``) serve every cell.

``sigma`` is the standard deviation of what the hook the noise is added at (``hook_embed``) outputs,
over the subject's tokens: every entry of the (n_subject_tokens, d_model) embedding outputs of the
subject in this prompt. ROME measures the same quantity (the embedding layer's outputs over subject
tokens), pooled over the 1,209 subjects of its dataset; here it is the subject of the prompt given
(deviation: one subject, not a dataset's). It is measured at the hook, not on the embedding matrix,
because some models change the embeddings inside the forward pass: Gemma multiplies them by
``sqrt(d_model)`` (25x on Gemma 3 270M), so noise scaled by the raw matrix's std barely corrupts its
subject. Pass ``noise_std=`` for a value of your own. Layer numbers follow :mod:`interp.layers`: hidden
layer 0 is the embeddings, layer l the output of block l - 1; MLP and attention rows are blocks.

Example:
    >>> from interp.patching import causal_tracing
    >>> trace = causal_tracing(model, "The capital of France is", "France", answer=" Paris")
    >>> trace.plot()            # the three heat maps of ROME's Figure 1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice, check_int, check_texts
from interp.attribution.result import display_token
from interp.errors import InvalidParameterError
from interp.patching._core import DEFAULT_MEMORY_BUDGET, Patch, Run, run_patched
from interp.patching.activation import source_activations
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["causal_tracing", "CausalTraceResult", "subject_positions", "subject_embedding_std", "KINDS"]

KINDS = ("hidden", "mlp", "attn")
_HOOK = {"mlp": "blocks.{}.hook_mlp_out", "attn": "blocks.{}.hook_attn_out"}
_EMBED = "hook_embed"
_BAR_PX = 14  # colour bar thickness
_COLORBAR_PX = 95  # gap between panels: the bar, its tick labels and its title
_MARGIN_PX = {"l": 140, "r": 90}


def subject_positions(model: Model, prompt: str, subject: str, *, where: str = "causal_tracing") -> list[int]:
    """Positions (BOS included) of the tokens that overlap the first occurrence of ``subject`` in ``prompt``."""
    (subject,), _ = check_texts(subject, where=where, name="subject")
    start = prompt.find(subject)
    if start < 0:
        raise InvalidParameterError(f"The 'subject' parameter of {where} must occur in the prompt. Got {subject!r}, "
                                    f"which is not in {prompt!r}.")
    end = start + len(subject)
    enc = model.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    shift = 1 if model.prepend_bos else 0
    found = [i + shift for i, (a, b) in enumerate(enc["offset_mapping"]) if a < end and b > start]
    if not found:  # pragma: no cover - a non-empty subject inside the prompt always overlaps a token
        raise InvalidParameterError(f"{where}: no token of {prompt!r} covers the subject {subject!r}.")
    return found


def _hidden_hook(layer: int) -> str:
    return "blocks.0.hook_resid_pre" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"


@dataclasses.dataclass(eq=False)
class CausalTraceResult(Result):
    """Causal tracing of one factual prompt (ROME's Figure 1).

    Attributes:
        prompt, subject: the prompt and its noised subject.
        tokens: the prompt's tokens (BOS included); ``subject_positions`` the noised ones.
        answer: the answer token whose probability is traced.
        kinds: the states restored, from "hidden", "mlp", "attn".
        hidden: (n_layers + 1, n_pos) float64 mean probability of the answer with hidden state (layer, token)
            restored (layer 0 = embeddings); NaN at positions not restored; empty (0, n_pos) if not computed.
            So are the others:
        mlp, attn: (n_layers, n_pos), with the window of ``window`` blocks' MLP / attention outputs around
            the block restored at that token.
        p_clean: the answer's probability on the clean prompt; ``p_corrupted`` its mean over the noised runs.
        noise_std: the standard deviation of the noise added to each subject embedding entry
            (``noise`` x the std of the subject tokens' ``hook_embed`` outputs, unless given).
        samples, window, seed: as given.
        model_name: the model.
    """

    prompt: str
    subject: str
    tokens: list[str]
    subject_positions: list[int]
    answer: str
    kinds: list[str]
    hidden: np.ndarray
    mlp: np.ndarray
    attn: np.ndarray
    p_clean: float
    p_corrupted: float
    noise_std: float
    samples: int
    window: int
    seed: int
    model_name: str = ""

    title: ClassVar[str] = "Causal tracing"

    def indirect_effect(self, kind: str = "hidden") -> np.ndarray:
        """``p_restored - p_corrupted`` of each (layer, token) of ``kind``."""
        check_choice(kind, self.kinds, name="kind", where="CausalTraceResult.indirect_effect")
        return getattr(self, kind) - self.p_corrupted

    def summary(self) -> str:
        parts = []
        for kind in self.kinds:
            ie = self.indirect_effect(kind)
            layer, pos = np.unravel_index(np.nanargmax(ie), ie.shape)
            parts.append(f"{kind} strongest at layer {layer}, token {pos} {self.tokens[pos]!r} (+{ie[layer, pos]:.3f})")
        return (f"{self.model_name}: p({self.answer!r}) clean {self.p_clean:.3f}, subject {self.subject!r} noised "
                f"{self.p_corrupted:.3f}; " + "; ".join(parts))

    def to_frame(self) -> DataFrame:
        """One row per (kind, layer, position): token, is_subject, prob (restored), indirect_effect."""
        import pandas as pd

        rows = []
        subject = set(self.subject_positions)
        for kind in self.kinds:
            arr = getattr(self, kind)
            for layer in range(arr.shape[0]):
                for pos in range(arr.shape[1]):
                    rows.append((kind, layer, pos, self.tokens[pos], pos in subject, float(arr[layer, pos]),
                                 float(arr[layer, pos] - self.p_corrupted)))
        return pd.DataFrame(rows, columns=["kind", "layer", "position", "token", "is_subject", "prob",
                                           "indirect_effect"])

    def plot(self, kind: str | None = None) -> Figure:
        """ROME's heat maps: tokens (subject starred) x layers, coloured by the answer's probability after
        restoring each state."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        kinds = self.kinds if kind is None else [check_choice(kind, self.kinds, name="kind",
                                                              where="CausalTraceResult.plot")]
        titles = {"hidden": "single restored layer", "mlp": f"restored MLP (window {self.window})",
                  "attn": f"restored attention (window {self.window})"}
        scales = {"hidden": "Purples", "mlp": "Greens", "attn": "Reds"}
        labels = [f"{display_token(t)}{'*' if i in self.subject_positions else ''} ({i})"
                  for i, t in enumerate(self.tokens)]
        n = len(kinds)
        width = max(700, 400 * n)
        # each panel's colour bar sits in the gap to its right: the gap holds the bar and its tick labels
        gap = min(0.3, _COLORBAR_PX / (width - _MARGIN_PX["l"] - _MARGIN_PX["r"])) if n > 1 else 0.0
        fig = make_subplots(rows=1, cols=n, subplot_titles=[titles[k] for k in kinds], shared_yaxes=True,
                            horizontal_spacing=gap or 0.2)
        for col, k in enumerate(kinds, start=1):
            arr = getattr(self, k).T  # (pos, layer)
            domain = fig.layout["xaxis" if col == 1 else f"xaxis{col}"].domain
            fig.add_trace(go.Heatmap(z=arr, x=list(range(arr.shape[1])), y=labels, colorscale=scales[k],
                                     zmin=min(self.p_corrupted, float(np.nanmin(arr))), zmax=float(np.nanmax(arr)),
                                     colorbar={"title": {"text": f"p({self.answer.strip()})", "side": "right"},
                                               "x": domain[1] + 0.005, "xanchor": "left", "xpad": 0,
                                               "thickness": _BAR_PX, "len": 0.8},
                                     hovertemplate="layer %{x}, %{y}: p=%{z:.4f}<extra>" + k + "</extra>"),
                          row=1, col=col)
            fig.update_xaxes(title_text="layer" if k == "hidden" else "centre block", row=1, col=col)
        fig.update_yaxes(autorange="reversed")
        fig.update_yaxes(title_text="token (* = subject, noised)", row=1, col=1)
        fig.update_layout(title=f"Causal tracing of {self.prompt!r} -> {self.answer!r} (subject {self.subject!r} "
                                f"noised: p {self.p_clean:.3f} -> {self.p_corrupted:.3f})",
                          height=max(300, 28 * len(self.tokens) + 160), width=width,
                          margin={**_MARGIN_PX, "t": 90, "b": 60})
        return fig

    def figures(self) -> list:
        return [self.plot()]


def subject_embedding_std(embeds: torch.Tensor) -> float:
    """``sigma`` of causal tracing: the standard deviation of every entry of the subject tokens' outputs
    of ``hook_embed`` (``embeds``: (n_subject_tokens, d_model), what the hook the noise is added at outputs),
    as ROME measures it over its subjects' embeddings (torch's unbiased std)."""
    return float(embeds.detach().double().std())


def causal_tracing(model: Model, prompt: str, subject: str, *, target: Any = None, noise: float = 3.0,
                   noise_std: float | None = None, samples: int = 10, window: int = 10, seed: int = 0,
                   kinds: Sequence[str] = KINDS, positions: Sequence[int] | None = None,
                   padding_side: str = "right",
                   memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int | None = None,
                   progress: ProgressArg = None, answer: str | int | None = None) -> CausalTraceResult:
    """Meng et al. 2022's causal tracing of ``prompt``: noise the subject, restore one state, measure p(answer).

    Args:
        model: an :class:`interp.Model`.
        prompt: the factual prompt ("The capital of France is").
        subject: the text in the prompt whose token embeddings are noised ("France").
        target: the answer token (" Paris"), its id or ``interp.Target(" Paris")``; None: the model's most
            likely next token on the clean prompt.
        noise: the noise's standard deviation in units of ``sigma``, the standard deviation of the subject
            tokens' ``hook_embed`` outputs (ROME: 3; see the module docstring).
        noise_std: the noise's standard deviation itself (overrides ``noise``).
        samples: noise draws averaged (ROME: 10).
        window: consecutive blocks whose MLP / attention outputs are restored together (ROME: 10).
        seed: seed of the noise (a local generator).
        kinds: any of "hidden", "mlp", "attn".
        positions: the token positions whose states are restored (BOS included, negative counts from the
            end); None: every position. Rows of positions left out are NaN.
        padding_side, memory_budget, batch_size: how the rows are batched (see :func:`activation_patching`).
        progress: None, True, False or ``progress(stage, done, total)`` (stage "tracing", in rows).
        answer: deprecated (interp < 0.3): the old name of ``target``; warns.

    Returns:
        A :class:`CausalTraceResult`; ``result.indirect_effect(kind)`` gives ``p_restored - p_corrupted``.

    Example:
        >>> trace = causal_tracing(model, "The Eiffel Tower is in", "The Eiffel Tower", target=" Paris", samples=3)
        >>> trace.to_frame().sort_values("indirect_effect").tail(3)
    """
    where = "causal_tracing"
    target = targets.renamed_parameter(where, "answer", "target", answer, target)
    (prompt,), _ = check_texts(prompt, where=where)
    check_int(samples, name="samples", where=where, low=1)
    check_int(window, name="window", where=where, low=1)
    check_int(seed, name="seed", where=where, low=0)
    check_choice(padding_side, ("right", "left"), name="padding_side", where=where)
    check_int(memory_budget, name="memory_budget", where=where, low=1)
    kind_list = [kinds] if isinstance(kinds, str) else list(kinds)
    if not kind_list:
        raise InvalidParameterError(f"The 'kinds' parameter of {where} must name at least one of "
                                    f"{', '.join(map(repr, KINDS))}. Got {kinds!r} instead.")
    for k in kind_list:
        check_choice(k, KINDS, name="kinds", where=where)
    kind_list = [k for k in KINDS if k in kind_list]
    for name, value in (("noise", noise), ("noise_std", noise_std)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise InvalidParameterError(f"The {name!r} parameter of {where} must be a float >= 0. Got {value!r} instead.")
    report = resolve_progress(progress, where=where)
    ids = model.encode(prompt, where=where)
    subj = subject_positions(model, prompt, subject, where=where)
    answer, _ = targets.split(target)
    if answer is None:
        answer_id = int(model.run([ids], keep="last")[0].argmax())
    else:
        answer_id = targets.one_token(model, answer, name="target", where=where)
    L, n_pos = model.n_layers, len(ids)
    if positions is None:
        restored = list(range(n_pos))
    else:
        items = [positions] if isinstance(positions, int) else list(positions)
        for p in items:
            if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not -n_pos <= p < n_pos:
                raise InvalidParameterError(f"The 'positions' parameter of {where} holds {p!r}, which is not a "
                                            f"position of the prompt ({n_pos} tokens, BOS included).")
        restored = sorted({int(p) % n_pos for p in items})
        if not restored:
            raise InvalidParameterError(f"The 'positions' parameter of {where} is empty; give at least one position.")
    hooks = [_EMBED] + [_hidden_hook(layer) for layer in range(L + 1)]
    hooks += [_HOOK[k].format(b) for k in ("mlp", "attn") if k in kind_list for b in range(L)]
    clean = source_activations(model, [prompt], hooks, padding_side=padding_side)[0]
    gen = torch.Generator().manual_seed(seed)
    embeds = clean[_EMBED][subj]  # (n_subj, d_model)
    sigma = float(noise_std) if noise_std is not None else float(noise) * subject_embedding_std(embeds)
    eps = torch.randn((samples, len(subj), embeds.shape[-1]), generator=gen, dtype=torch.float32)
    noised = embeds.float().unsqueeze(0) + sigma * eps  # (samples, n_subj, d_model)
    noise_patches = [[Patch(_EMBED, p, noised[s, j].to(embeds.dtype)) for j, p in enumerate(subj)]
                     for s in range(samples)]

    runs: list[Run] = [Run(ids, [], answer_id)]  # the clean run
    runs += [Run(ids, list(noise_patches[s]), answer_id) for s in range(samples)]
    index: list[tuple[str, int, int]] = []
    for k in kind_list:
        for layer in range(L + 1 if k == "hidden" else L):
            if k == "hidden":
                hooks_k = [_hidden_hook(layer)]
            else:
                hooks_k = [_HOOK[k].format(b) for b in range(max(0, layer - window // 2),
                                                             min(L, layer - (-window // 2)))]
            for pos in restored:
                restore = [Patch(h, pos, clean[h][pos]) for h in hooks_k]
                for s in range(samples):
                    runs.append(Run(ids, noise_patches[s] + restore, answer_id))
                index.append((k, layer, pos))
    probs = run_patched(model, runs, metric="prob", padding_side=padding_side, memory_budget=memory_budget,
                        batch_size=batch_size, progress=report, stage="tracing")
    arrays = {k: np.zeros((0, n_pos)) for k in KINDS}
    for k in kind_list:
        arrays[k] = np.full((L + 1 if k == "hidden" else L, n_pos), np.nan)
    cells = probs[1 + samples:].reshape(len(index), samples).mean(axis=1)
    for (k, layer, pos), v in zip(index, cells):
        arrays[k][layer, pos] = v
    from interp.models.card import model_card

    return CausalTraceResult(
        prompt=prompt, subject=subject, tokens=model.ids_to_str(ids), subject_positions=subj,
        answer=model.ids_to_str([answer_id])[0], kinds=kind_list, **arrays, p_clean=float(probs[0]),
        p_corrupted=float(probs[1:1 + samples].mean()), noise_std=sigma, samples=samples, window=window, seed=seed,
        model_name=model.name, model_card=model_card(model))
