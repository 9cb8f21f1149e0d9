"""How close each lens gets to the model's own output, layer by layer, on many texts.

For every layer ``l`` and a seeded sample of token positions of ``texts`` (never a text's first
position, which lenses are not fitted on: see :mod:`interp.lens.linear`), the logit lens and, if
given, a linear lens read the residual stream; the result is the mean over those tokens of
KL(final || lens) in nats (Belrose et al. 2023 compare lenses by this quantity) and how often the
lens's top token is the model's. Report it on text the lens was not fitted on:
``lens_texts("heldout")``, or text interp did not write at all.

Example:
    >>> from interp.lens import lens_divergence, lens_texts, load_linear_lens
    >>> r = lens_divergence(model, lens_texts("heldout", max_texts=200), lens=load_linear_lens(model))
    >>> r.to_frame()  # layer, lens, kl, top1_agreement
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._validation import check_int, check_texts
from interp.errors import InvalidParameterError
from interp.layers import layer_hook_name
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.lens.linear import LinearLens
    from interp.models.model import Model

__all__ = ["lens_divergence", "LensDivergenceResult"]

TEXTS_PER_STEP = 32


@dataclasses.dataclass(eq=False)
class LensDivergenceResult(Result):
    """Per layer, how far each lens is from the model's final distribution, averaged over tokens.

    Attributes:
        layers: the layers, 0..n_layers.
        lenses: the lenses compared ("logit", and "linear" if a linear lens was given).
        kl: (n_lenses, n_layers + 1) float64, mean KL(final || lens) in nats over the sampled tokens.
        kl_sem: (n_lenses, n_layers + 1) float64, its standard error over tokens.
        top1_agreement: (n_lenses, n_layers + 1) float64, the fraction of tokens where the lens's top
            token is the model's.
        n_tokens: tokens averaged over; n_texts: texts they came from.
        texts_name: what the texts are (e.g. "heldout shipped text"), for titles.
        model_name: the model; lens_info: what the linear lens is ({} without one).
    """

    layers: list[int]
    lenses: list[str]
    kl: np.ndarray
    kl_sem: np.ndarray
    top1_agreement: np.ndarray
    n_tokens: int
    n_texts: int
    texts_name: str = ""
    model_name: str = ""
    lens_info: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Lens divergence by layer"

    def summary(self) -> str:
        parts = [f"{name} lens: mean KL over layers {float(self.kl[i, :-1].mean()):.3f} nats"
                 for i, name in enumerate(self.lenses)]
        text = (f"{self.model_name}, {self.n_tokens:,} tokens of {self.n_texts:,} texts"
                f"{' (' + self.texts_name + ')' if self.texts_name else ''}: " + "; ".join(parts))
        if len(self.lenses) == 2:
            worse = [layer for layer, a, b in zip(self.layers, self.kl[0], self.kl[1]) if b > a + 1e-9]
            text += ("; the linear lens is at least as close as the logit lens at every layer" if not worse
                     else f"; the linear lens is further than the logit lens at layers {worse}")
        return text

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = [{"layer": layer, "lens": name, "kl": float(self.kl[i, j]), "kl_sem": float(self.kl_sem[i, j]),
                 "top1_agreement": float(self.top1_agreement[i, j])}
                for i, name in enumerate(self.lenses) for j, layer in enumerate(self.layers)]
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = go.Figure()
        for i, name in enumerate(self.lenses):
            fig.add_trace(go.Scatter(x=self.layers, y=self.kl[i], mode="lines+markers", name=f"{name} lens",
                                     error_y={"type": "data", "array": self.kl_sem[i], "visible": True}))
        fig.update_layout(title=f"KL(final || lens) by layer, {self.model_name}, {self.n_tokens:,} tokens"
                                f"{' of ' + self.texts_name if self.texts_name else ''}",
                          xaxis_title="layer (0 = embeddings)", yaxis_title="KL, nats (log axis)", yaxis_type="log",
                          height=420)
        return fig


def lens_divergence(model: Model, texts: str | Sequence[str], *, lens: LinearLens | None = None,
                    max_tokens: int = 2000, seed: int = 0, texts_name: str = "", batch_size: int | None = None,
                    progress: ProgressArg = None) -> LensDivergenceResult:
    """Mean KL(final || lens) and top-1 agreement per layer, for the logit lens and (if given) a linear lens.

    Args:
        model: the model.
        texts: texts to measure on (not the ones a linear lens was fitted on).
        lens: a fitted :class:`~interp.lens.LinearLens` for this model, or None (logit lens only).
        max_tokens: at most this many token positions, a seeded uniform sample of all positions after
            each text's first (each costs one vocabulary-sized readout per layer and lens).
        seed: the sample's seed.
        texts_name: what the texts are, for the result's titles.
        batch_size: texts per forward pass.
        progress: see :mod:`interp.progress` (stage "texts").

    Returns:
        :class:`LensDivergenceResult`.
    """
    from interp.lens.logit import readout
    from interp.models.card import model_card

    where = "lens_divergence"
    items, _ = check_texts(texts, where=where, name="texts")
    check_int(max_tokens, name="max_tokens", where=where, low=1)
    if lens is not None:
        from interp.lens.linear import LinearLens

        if not isinstance(lens, LinearLens):
            raise InvalidParameterError(f"The 'lens' parameter of {where} must be a fitted LinearLens or None. "
                                        f"Got {type(lens).__name__} instead.")
        lens.check_model(model, where=where)
    report = resolve_progress(progress, where=where)
    n = model.n_layers
    names = [layer_hook_name(layer) for layer in range(n + 1)]
    lengths = [len(model.encode(t, where=where)) for t in items]
    # the sample: (text, position) pairs over positions 1..len-1 of every text
    pairs = [(i, p) for i, length in enumerate(lengths) for p in range(1, length)]
    if not pairs:
        raise InvalidParameterError(f"The 'texts' given to {where} have no token after their first; give longer texts.")
    rng = np.random.default_rng(seed)
    chosen = sorted(pairs[k] for k in rng.choice(len(pairs), size=min(max_tokens, len(pairs)), replace=False))
    by_text: dict[int, list[int]] = {}
    for i, p in chosen:
        by_text.setdefault(i, []).append(p)
    lenses = ["logit"] + (["linear"] if lens is not None else [])
    kl_rows: list[list[np.ndarray]] = [[] for _ in lenses]  # per lens: (n_layers + 1, m) chunks
    agree_rows: list[list[np.ndarray]] = [[] for _ in lenses]
    used = sorted(by_text)
    report("texts", 0, len(used))
    with model.lock, torch.inference_mode():
        for begin in range(0, len(used), TEXTS_PER_STEP):
            group = used[begin:begin + TEXTS_PER_STEP]
            cache = model.run_with_cache([items[i] for i in group], names, batch_size=batch_size)
            rows = [(row, p) for row, i in enumerate(group) for p in by_text[i]]  # right padding: p is the index
            index_b = torch.tensor([r for r, _ in rows])
            index_p = torch.tensor([p for _, p in rows])
            final = readout(model, cache[names[n]][index_b, index_p])  # (m, d_vocab)
            final_logp = torch.log_softmax(final, dim=-1)
            final_p, final_top = final_logp.exp(), final.argmax(-1)
            for k, name in enumerate(lenses):
                kls, agrees = [], []
                for layer in range(n + 1):
                    resid = cache[names[layer]][index_b, index_p]  # (m, d_model)
                    if name == "linear" and lens is not None and layer < n:
                        resid = lens.translate(layer, resid)
                    logits = readout(model, resid)
                    logp = torch.log_softmax(logits, dim=-1)
                    kls.append((final_p * (final_logp - logp)).sum(-1).clamp_min(0).double().numpy())
                    agrees.append((logits.argmax(-1) == final_top).numpy())
                kl_rows[k].append(np.stack(kls))
                agree_rows[k].append(np.stack(agrees))
            report("texts", min(begin + len(group), len(used)), len(used))
    kl_all = [np.concatenate(chunks, axis=1) for chunks in kl_rows]  # (n + 1, m) per lens
    agree_all = [np.concatenate(chunks, axis=1) for chunks in agree_rows]
    m = kl_all[0].shape[1]
    return LensDivergenceResult(
        layers=list(range(n + 1)), lenses=lenses, kl=np.stack([k.mean(1) for k in kl_all]),
        kl_sem=np.stack([k.std(1, ddof=1) / np.sqrt(m) if m > 1 else np.zeros(n + 1) for k in kl_all]),
        top1_agreement=np.stack([a.mean(1) for a in agree_all]).astype(np.float64), n_tokens=int(m),
        n_texts=len(used), texts_name=texts_name, model_name=model.name,
        lens_info=lens.info() if lens is not None else {}, model_card=model_card(model))
