"""How close each lens gets to the model's own output, layer by layer, on many texts.

For every layer ``l`` and a seeded sample of token positions of ``texts`` (never a text's first
position, which lenses are not fitted on: see :mod:`interp.lens.linear`), the logit lens and, if
given, a linear lens read the residual stream; the result is the mean over those tokens of
KL(final || lens) in nats (Belrose et al. 2023 compare lenses by this quantity) and how often the
lens's top token is the model's. The sampled unit is the text (its tokens are not independent), so
every figure carries a 95 % cluster-bootstrap interval over texts, and the two lenses are compared
by a paired bootstrap over the same texts (:func:`interp.stats.paired_difference`; "within noise"
when its interval holds 0). Report it on text the lens was not fitted on: text interp did not write
(:func:`external_prose`, the headline), or ``lens_texts("heldout")`` (other templates of interp's own
text, closer to what it was fitted on).

Example:
    >>> from interp.lens import external_prose, lens_divergence, load_linear_lens
    >>> r = lens_divergence(model, external_prose(), lens=load_linear_lens(model), texts_name="scikit-learn prose")
    >>> r.comparison["difference"]  # logit minus linear mean KL, with its interval over texts
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import Interval, validate_params
from interp._validation import check_texts
from interp.errors import InvalidParameterError
from interp.layers import layer_hook_name
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.lens.linear import LinearLens
    from interp.models.model import Model

__all__ = ["lens_divergence", "LensDivergenceResult", "external_prose"]

TEXTS_PER_STEP = 32
BAND_RESAMPLES = 1000  # bootstrap resamples of the per-layer bands (the headline comparison uses interp.stats' default)


def external_prose(limit: int = 400) -> list[str]:
    """Sentences interp did not write: the dataset descriptions scikit-learn ships
    (``sklearn/datasets/descr/*.rst``, prose by its authors), markup and code left out, 40 to 300 characters,
    sorted and de-duplicated, at most ``limit``."""
    import importlib.resources
    import re

    folder = importlib.resources.files("sklearn.datasets") / "descr"
    sentences: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".rst"):
            continue
        paragraphs, current = [], []
        for line in entry.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            markup = (not text or text.startswith(("..", ":", "=", "-", "*", "|", "+", "#", ">>>"))
                      or re.fullmatch(r"[=\-~^*+ ]+", text) is not None)
            if markup:
                if current:
                    paragraphs.append(" ".join(current))
                current = []
            else:
                current.append(text)
        if current:
            paragraphs.append(" ".join(current))
        for paragraph in paragraphs:
            for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph):
                letters = sum(c.isalpha() or c == " " for c in sentence)
                if 40 <= len(sentence) <= 300 and letters / len(sentence) > 0.85 and "`" not in sentence:
                    sentences.append(sentence)
    return sorted(set(sentences))[:limit]


def _text_bands(sums: np.ndarray, counts: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the bootstrap interval over texts of the token mean: ``sums`` (n_texts, n_layers) per-text
    sums, ``counts`` (n_texts,) tokens per text. Resampling texts with their sums is the cluster bootstrap."""
    from interp.stats import bootstrap_interval

    low, high = np.full(sums.shape[1], np.nan), np.full(sums.shape[1], np.nan)
    for j in range(sums.shape[1]):
        col = sums[:, j]
        band = bootstrap_interval(lambda rows, col=col: float(col[rows].sum() / counts[rows].sum()), len(counts),
                                  n_resamples=BAND_RESAMPLES, seed=seed)
        low[j], high[j] = band.low, band.high
    return low, high


@dataclasses.dataclass(eq=False)
class LensDivergenceResult(Result):
    """Per layer, how far each lens is from the model's final distribution, averaged over tokens.

    Attributes:
        layers: the layers, 0..n_layers.
        lenses: the lenses compared ("logit", and "linear" if a linear lens was given).
        kl: (n_lenses, n_layers + 1) float64, mean KL(final || lens) in nats over the sampled tokens.
        kl_low, kl_high: (n_lenses, n_layers + 1) float64, its 95 % interval (cluster bootstrap over texts).
        top1_agreement: (n_lenses, n_layers + 1) float64, the fraction of tokens where the lens's top
            token is the model's; top1_low, top1_high its interval (cluster bootstrap over texts).
        comparison: with both lenses, :meth:`interp.stats.Comparison.to_dict` of the mean KL over layers
            0..n_layers-1, logit minus linear, paired over the same texts ({} with one lens).
        n_tokens: tokens averaged over; n_texts: texts they came from.
        texts_name: what the texts are (e.g. "heldout shipped text"), for titles.
        model_name: the model; lens_info: what the linear lens is ({} without one).
    """

    layers: list[int]
    lenses: list[str]
    kl: np.ndarray
    kl_low: np.ndarray
    kl_high: np.ndarray
    top1_agreement: np.ndarray
    top1_low: np.ndarray
    top1_high: np.ndarray
    comparison: dict[str, Any]
    n_tokens: int
    n_texts: int
    texts_name: str = ""
    model_name: str = ""
    lens_info: dict[str, Any] = dataclasses.field(default_factory=dict)

    title: ClassVar[str] = "Lens divergence by layer"

    def _comparison(self) -> Any:
        from interp.stats import Comparison, Interval

        c = self.comparison
        return Comparison(c["name_a"], c["name_b"], Interval.from_dict(c["a"]), Interval.from_dict(c["b"]),
                          Interval.from_dict(c["difference"]))

    def summary(self) -> str:
        where = f" ({self.texts_name})" if self.texts_name else ""
        text = f"{self.model_name}, {self.n_tokens:,} tokens of {self.n_texts:,} texts{where}: "
        if self.comparison:
            text += ("mean KL(final || lens) over layers 0.." f"{self.layers[-2]}, nats, 95 % intervals over texts: "
                     + self._comparison().sentence())
        else:
            text += f"logit lens: mean KL over layers {float(self.kl[0, :-1].mean()):.3f} nats"
        if len(self.lenses) == 2:
            worse = [layer for layer in self.layers[:-1]
                     if self.kl_low[1, layer] > self.kl_high[0, layer]]
            better = [layer for layer in self.layers[:-1] if self.kl_high[1, layer] < self.kl_low[0, layer]]
            text += (f"; by layer, the linear lens is closer beyond noise at {len(better)} of {len(self.layers) - 1} "
                     f"layers and further at {worse if worse else 'none'}")
        return text

    def caveats(self) -> list[str]:
        if self.comparison and self._comparison().within_noise:
            return [f"The difference between the logit and the linear lens is within noise over these {self.n_texts} "
                    "texts: the data do not say which lens is closer. Measure on more texts."]
        return []

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = [{"layer": layer, "lens": name, "kl": float(self.kl[i, j]), "kl_low": float(self.kl_low[i, j]),
                 "kl_high": float(self.kl_high[i, j]), "top1_agreement": float(self.top1_agreement[i, j]),
                 "top1_agreement_low": float(self.top1_low[i, j]), "top1_agreement_high": float(self.top1_high[i, j])}
                for i, name in enumerate(self.lenses) for j, layer in enumerate(self.layers)]
        return pd.DataFrame(rows)

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = go.Figure()
        for i, name in enumerate(self.lenses):
            fig.add_trace(go.Scatter(x=self.layers, y=self.kl[i], mode="lines+markers", name=f"{name} lens",
                                     error_y={"type": "data", "symmetric": False, "visible": True,
                                              "array": np.clip(self.kl_high[i] - self.kl[i], 0, None),
                                              "arrayminus": np.clip(self.kl[i] - self.kl_low[i], 0, None)}))
        fig.update_layout(title=f"KL(final || lens) by layer, {self.model_name}, {self.n_tokens:,} tokens of "
                                f"{self.n_texts:,} texts{' of ' + self.texts_name if self.texts_name else ''} "
                                "(bars: 95 % intervals over texts)",
                          xaxis_title="layer (0 = embeddings)", yaxis_title="KL, nats (log axis)", yaxis_type="log",
                          height=420)
        return fig


@validate_params({"model": ["model"], "texts": ["texts"], "lens": ["no_validation"],  # a fitted LinearLens: checked below
                  "max_tokens": [Interval(int, 1, None)], "seed": [Interval(int, 0, None)], "texts_name": [str],
                  "batch_size": [Interval(int, 1, None), None], "progress": ["progress"]})
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
    token_text: list[int] = []  # the text of each sampled token, in the order of the chunks
    kl_rows: list[list[np.ndarray]] = [[] for _ in lenses]  # per lens: (n_layers + 1, m) chunks
    agree_rows: list[list[np.ndarray]] = [[] for _ in lenses]
    used = sorted(by_text)
    report("texts", 0, len(used))
    with model.lock, torch.inference_mode():
        for begin in range(0, len(used), TEXTS_PER_STEP):
            group = used[begin:begin + TEXTS_PER_STEP]
            cache = model.run_with_cache([items[i] for i in group], names, batch_size=batch_size)
            rows = [(row, p) for row, i in enumerate(group) for p in by_text[i]]  # right padding: p is the index
            token_text += [i for i in group for _ in by_text[i]]
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
    from interp.stats import paired_difference

    _, text_of = np.unique(np.asarray(token_text), return_inverse=True)  # (m,) text index 0..n_texts-1
    counts = np.bincount(text_of).astype(np.float64)  # (n_texts,)

    def per_text(values: np.ndarray) -> np.ndarray:  # (n + 1, m) -> (n_texts, n + 1) sums per text
        return np.stack([np.bincount(text_of, weights=row, minlength=len(counts)) for row in values], axis=1)

    kl_bands = [_text_bands(per_text(k), counts, seed) for k in kl_all]
    top1_bands = [_text_bands(per_text(a.astype(np.float64)), counts, seed) for a in agree_all]
    comparison: dict[str, Any] = {}
    if len(lenses) == 2:
        # per text: (sum over its tokens of the mean KL over layers 0..n-1, its token count); the figure is the
        # ratio of the sums (the mean over tokens), the texts resampled with their tokens, the same for both lenses
        a, b = (np.stack([per_text(k[:-1].mean(0, keepdims=True))[:, 0], counts], axis=1) for k in kl_all)
        comparison = paired_difference(a, b, statistic=lambda x: float(x[:, 0].sum() / x[:, 1].sum()),
                                       names=("logit", "linear"), seed=seed).to_dict()
    return LensDivergenceResult(
        layers=list(range(n + 1)), lenses=lenses, kl=np.stack([k.mean(1) for k in kl_all]),
        kl_low=np.stack([b[0] for b in kl_bands]), kl_high=np.stack([b[1] for b in kl_bands]),
        top1_agreement=np.stack([a.mean(1) for a in agree_all]).astype(np.float64),
        top1_low=np.stack([b[0] for b in top1_bands]), top1_high=np.stack([b[1] for b in top1_bands]),
        comparison=comparison, n_tokens=int(m),
        n_texts=len(used), texts_name=texts_name, model_name=model.name,
        lens_info=lens.info() if lens is not None else {}, model_card=model_card(model))
