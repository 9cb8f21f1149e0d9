"""What one feature means: its top-activating contexts, its activation histogram, its logit effect.

A feature dashboard (Bricken et al. 2023; Neuronpedia's feature pages, without a GPU or an LLM):

- the ``top_n`` tokens it fires on most, each with ``context`` tokens either side (the firing token marked,
  and the feature's activation on every context token);
- the histogram of its non-zero activations and its firing rate;
- its logit effect: the decoder direction through the unembedding (``W_dec[f] @ W_U``, the direct path,
  no final layer norm), the tokens it promotes and suppresses most.

Activations come from a :class:`FeatureStore`: every token of some texts encoded by the SAE once and kept
sparse (the active latents of each token), so that opening a dashboard reads no model; :func:`feature_store`
builds one (and saves it: safetensors + JSON) from texts.

Example:
    >>> store = feature_store(model, sae, default_texts(split="heldout", max_texts=200))
    >>> feature_dashboard(model, sae, 123, store=store).to_frame()
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Attr, InstanceOf, Interval, validate_params
from interp._validation import check_int, check_texts
from interp.errors import InvalidParameterError, InvalidResultFileError
from interp.features.evaluate import SAE_PARAM, check_sae
from interp.features.sae import SparseAutoencoder
from interp.progress import ProgressArg
from interp.results import Result, atomic_write_bytes

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["FeatureStore", "feature_store", "feature_dashboard", "FeatureDashboard"]

MAX_ACTIVE = 64  # latents kept per token in a store (a TopK SAE keeps its k)


class FeatureStore:
    """Every token of some texts, encoded by one SAE, kept sparse.

    Attributes:
        texts: the texts. text_index, token_position: (n_rows,) each row's text and position (BOS never a row).
        tokens: (n_rows,) the token strings. index, values: (n_rows, n_active) the active latents of each row
            (index -1 / value 0 where fewer were active). d_sae, hook_name: the SAE's.
    """

    def __init__(self, *, texts: list[str], text_index: np.ndarray, token_position: np.ndarray, tokens: list[str],
                 index: np.ndarray, values: np.ndarray, d_sae: int, hook_name: str):
        self.texts, self.text_index, self.token_position, self.tokens = texts, text_index, token_position, tokens
        self.index, self.values, self.d_sae, self.hook_name = index, values, int(d_sae), hook_name
        self._columns: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.text_index)

    def column(self, feature: int) -> np.ndarray:
        """(n_rows,) the activation of ``feature`` on every row (0 where inactive)."""
        if feature not in self._columns:
            hit = self.index == feature
            col = np.zeros(len(self), dtype=np.float32)
            rows, slots = np.nonzero(hit)
            col[rows] = self.values[rows, slots]
            self._columns = {feature: col} if len(self._columns) > 64 else {**self._columns, feature: col}
        return self._columns[feature]

    def firing_counts(self) -> np.ndarray:
        """(d_sae,) on how many rows each latent fires."""
        active = self.index[(self.index >= 0) & (self.values > 0)]
        return np.bincount(active, minlength=self.d_sae)

    def top_tokens(self, feature: int, n: int = 5) -> list[str]:
        """The tokens ``feature`` fires on most strongly (distinct, strongest first)."""
        col = self.column(feature)
        out: list[str] = []
        for row in np.argsort(-col, kind="stable"):
            if col[row] <= 0 or len(out) >= n:
                break
            if self.tokens[row] not in out:
                out.append(self.tokens[row])
        return out

    def features_on_token(self, token: str) -> list[tuple[int, float]]:
        """Latents by mean activation on rows whose token (stripped) equals ``token`` (stripped), strongest first."""
        rows = np.array([t.strip() == token.strip() for t in self.tokens])
        if not rows.any():
            return []
        sums = np.zeros(self.d_sae)
        idx, val = self.index[rows], self.values[rows]
        ok = idx >= 0
        np.add.at(sums, idx[ok], val[ok])
        sums /= rows.sum()
        order = np.argsort(-sums, kind="stable")
        return [(int(f), float(sums[f])) for f in order if sums[f] > 0]

    def active_features(self, text_index: int = 0, n: int = 5, labels: dict[int, str] | None = None) -> DataFrame:
        """One row per token of text ``text_index``: its ``n`` strongest features (and their labels, if given)."""
        import pandas as pd

        rows = []
        for row in np.nonzero(self.text_index == text_index)[0]:
            order = np.argsort(-self.values[row], kind="stable")[:n]
            feats = [(int(self.index[row, j]), float(self.values[row, j])) for j in order
                     if self.index[row, j] >= 0 and self.values[row, j] > 0]
            rows.append({"position": int(self.token_position[row]), "token": self.tokens[row],
                         "features": ", ".join(f"{f} ({v:.2f})" for f, v in feats),
                         "labels": ", ".join((labels or {}).get(f, "") for f, _ in feats if (labels or {}).get(f))})
        return pd.DataFrame(rows, columns=["position", "token", "features", "labels"])

    def save(self, folder: str | os.PathLike) -> Path:
        from safetensors.numpy import save as save_arrays

        folder = Path(folder)
        atomic_write_bytes(folder / "store.safetensors", save_arrays({
            "text_index": self.text_index, "token_position": self.token_position, "index": self.index,
            "values": self.values}))
        atomic_write_bytes(folder / "store.json", json.dumps({"format": "interp.feature_store", "texts": self.texts,
                                                              "tokens": self.tokens, "d_sae": self.d_sae,
                                                              "hook_name": self.hook_name}).encode("utf-8"))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> FeatureStore:
        from safetensors.numpy import load_file

        folder = Path(folder)
        try:
            doc = json.loads((folder / "store.json").read_text(encoding="utf-8"))
            arrays = load_file(str(folder / "store.safetensors"))
            return cls(texts=doc["texts"], tokens=doc["tokens"], d_sae=doc["d_sae"], hook_name=doc["hook_name"],
                       **arrays)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidResultFileError(f"{folder} holds no feature store ({exc}).") from None


def feature_store(model: Model, sae: SparseAutoencoder, texts: str | Sequence[str], *, max_active: int = MAX_ACTIVE,
                  batch_size: int | None = None, progress: ProgressArg = None) -> FeatureStore:
    """Encode every token of ``texts`` at the SAE's layer (one :func:`~interp.activations.collect` pass, stopped at the
    layer) and keep each token's ``max_active`` strongest latents.

    Raises:
        InvalidParameterError: an SAE that does not fit the model, or one of a hook that is not a residual layer.
    """
    import torch

    from interp.activations import collect

    where = "feature_store"
    check_sae(model, sae, where)
    if sae.layer is None:
        raise InvalidParameterError(f"{where} reads residual-stream layers; this SAE reads {sae.hook_name!r}.")
    items = check_texts(texts, where=where, name="texts")[0]
    check_int(max_active, name="max_active", where=where, low=1)
    acts = collect(model, items, layers=[sae.layer], position="all", batch_size=batch_size, progress=progress)
    x = acts[sae.layer]
    keep = np.ones(len(x), dtype=bool) if model.prepend_bos else acts.token_position > 0
    n_active = min(max_active, sae.k or max_active, sae.d_sae)
    index = np.full((int(keep.sum()), n_active), -1, dtype=np.int32)
    values = np.zeros((int(keep.sum()), n_active), dtype=np.float32)
    rows = np.nonzero(keep)[0]
    with torch.inference_mode():
        for a in range(0, len(rows), 4096):
            z = sae.encode(torch.from_numpy(x[rows[a:a + 4096]]))
            top = z.topk(n_active, dim=-1)
            v, i = top.values.numpy(), top.indices.numpy().astype(np.int32)
            i[v <= 0] = -1
            index[a:a + 4096], values[a:a + 4096] = i, np.maximum(v, 0)
    tokens = [acts.tokens[r] for r in rows]
    return FeatureStore(texts=items, text_index=acts.text_index[rows].astype(np.int64),
                        token_position=acts.token_position[rows].astype(np.int64), tokens=tokens, index=index,
                        values=values, d_sae=sae.d_sae, hook_name=sae.hook_name)


@dataclasses.dataclass(eq=False)
class FeatureDashboard(Result):
    """One feature's dashboard.

    Attributes:
        feature, hook_name, model_name: which feature. n_tokens: tokens in the store; n_fires: how many it fires on;
        firing_rate, firing_rate_low/_high: its share of tokens with a Wilson interval.
        contexts: the top examples, strongest first: ``{"text_index", "position", "activation", "tokens": [...],
            "activations": [...], "focus": i}`` (``tokens[focus]`` is the firing token).
        histogram_edges, histogram_counts: the histogram of its non-zero activations.
        promoted, promoted_logits, suppressed, suppressed_logits: the tokens whose logits its decoder direction
            raises / lowers most through the unembedding, and by how much (per unit of activation).
    """

    title: ClassVar[str] = "Feature dashboard"
    feature: int
    hook_name: str
    model_name: str
    n_tokens: int
    n_fires: int
    firing_rate: float
    firing_rate_low: float
    firing_rate_high: float
    contexts: list[dict[str, Any]]
    histogram_edges: np.ndarray
    histogram_counts: np.ndarray
    promoted: list[str]
    promoted_logits: np.ndarray
    suppressed: list[str]
    suppressed_logits: np.ndarray

    def summary(self) -> str:
        top = ", ".join(repr(c["tokens"][c["focus"]]) for c in self.contexts[:5])
        return (f"Feature {self.feature} at {self.hook_name} fires on {self.n_fires:,} of {self.n_tokens:,} tokens "
                f"({self.firing_rate:.2%} [{self.firing_rate_low:.2%}, {self.firing_rate_high:.2%}]); strongest on "
                f"{top or 'nothing'}; promotes {', '.join(map(repr, self.promoted[:5]))}.")

    def caveats(self) -> list[str]:
        if self.n_fires == 0:
            return ["This feature never fires on these texts: its contexts are empty (a dead latent, or text it "
                    "does not cover)."]
        if self.n_fires < 10:
            return [f"It fires on only {self.n_fires} tokens here: too few to say what it means."]
        return []

    def to_frame(self) -> DataFrame:
        import pandas as pd

        rows = []
        for rank, c in enumerate(self.contexts, start=1):
            left = "".join(c["tokens"][:c["focus"]])
            right = "".join(c["tokens"][c["focus"] + 1:])
            rows.append({"rank": rank, "activation": c["activation"], "token": c["tokens"][c["focus"]],
                         "left": left, "right": right, "text_index": c["text_index"], "position": c["position"]})
        return pd.DataFrame(rows, columns=["rank", "activation", "token", "left", "right", "text_index", "position"])

    def logit_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"promoted": self.promoted, "promoted_logit": self.promoted_logits,
                             "suppressed": self.suppressed, "suppressed_logit": self.suppressed_logits})

    def tables(self) -> list[tuple[str, Any]]:
        return [("Top contexts", self.to_frame()), ("Logit effect", self.logit_frame())]

    def context_html(self) -> str:
        """The contexts as HTML, each token shaded by the feature's activation on it, the firing token framed."""
        import html

        peak = max((max(c["activations"]) for c in self.contexts if c["activations"]), default=1.0) or 1.0
        lines = []
        for c in self.contexts:
            spans = []
            for j, (tok, act) in enumerate(zip(c["tokens"], c["activations"])):
                alpha = max(0.0, min(1.0, act / peak))
                border = "border:1px solid #d55e00;" if j == c["focus"] else ""
                spans.append(f"<span style='background:rgba(230,159,0,{alpha:.2f});{border}'>"
                             f"{html.escape(tok)}</span>")
            lines.append(f"<div style='font-family:monospace;margin:2px 0'><b>{c['activation']:.2f}</b> "
                         f"{''.join(spans)}</div>")
        return "".join(lines)

    def figures(self) -> list:
        import plotly.graph_objects as go

        logit = go.Figure([go.Bar(x=self.promoted_logits, y=self.promoted, orientation="h", name="promoted"),
                           go.Bar(x=self.suppressed_logits, y=self.suppressed, orientation="h", name="suppressed")])
        logit.update_layout(title=f"Feature {self.feature}: logit effect (W_dec @ W_U)", xaxis_title="logit per unit")
        return [self.plot(), logit]

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        centres = (self.histogram_edges[:-1] + self.histogram_edges[1:]) / 2 if len(self.histogram_edges) > 1 else []
        fig = go.Figure(go.Bar(x=centres, y=self.histogram_counts, name="tokens"))
        fig.update_layout(title=f"Feature {self.feature}: activations where it fires ({self.n_fires:,} tokens)",
                          xaxis_title="activation", yaxis_title="tokens")
        return fig


def _logit_effect(model: Model, sae: SparseAutoencoder, feature: int, n: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    import torch

    with model.lock, torch.inference_mode():
        W_U = model.bridge.W_U  # (d_model, d_vocab)
        effect = (sae.W_dec[feature].to(W_U.dtype).to(W_U.device) @ W_U).float().cpu().numpy()  # (d_vocab,)
    order = np.argsort(-effect, kind="stable")
    up, down = order[:n], order[::-1][:n]
    return model.ids_to_str(up.tolist()), effect[up], model.ids_to_str(down.tolist()), effect[down]


@validate_params({
    "model": ["model"], "sae": SAE_PARAM, "feature": [Interval(int, 0, Attr("d_sae", of="sae"))],
    "texts": ["texts", None], "store": [InstanceOf(FeatureStore, name="a FeatureStore (see feature_store)"), None],
    "top_n": [Interval(int, 1, None)], "context": [Interval(int, 0, None)],
    "n_logits": [Interval(int, 1, Attr("d_vocab", plus=1))], "bins": [Interval(int, 1, None)],
})
def feature_dashboard(model: Model, sae: SparseAutoencoder, feature: int, texts: str | Sequence[str] | None = None, *,
                      store: FeatureStore | None = None, top_n: int = 10, context: int = 8, n_logits: int = 10,
                      bins: int = 30) -> FeatureDashboard:
    """The dashboard of ``feature``: top contexts, activation histogram, logit effect.

    Args:
        model: the SAE's model. sae: a :class:`SparseAutoencoder`. feature: the latent's index.
        texts: texts to look in (encoded now); or give ``store`` (:func:`feature_store`, no model pass).
        top_n: contexts shown. context: tokens shown either side. n_logits: promoted / suppressed tokens.
        bins: histogram bins.

    Returns:
        :class:`FeatureDashboard`.

    Raises:
        InvalidParameterError: a feature outside [0, d_sae), neither or both of texts and store, a store of another
            SAE.
    """
    from interp.models.card import model_card
    from interp.stats import proportion_interval

    where = "feature_dashboard"
    check_sae(model, sae, where)
    feature = int(feature)
    if (texts is None) == (store is None):
        raise InvalidParameterError(f"{where} needs exactly one of 'texts' (encoded now) or 'store' (a FeatureStore). "
                                    f"Got {'neither' if texts is None else 'both'}.")
    if store is None:
        store = feature_store(model, sae, texts, progress=False)
    elif store.d_sae != sae.d_sae or store.hook_name != sae.hook_name:
        raise InvalidParameterError(f"The 'store' parameter of {where} must be a FeatureStore made with this SAE "
                                    f"({sae.d_sae} latents at {sae.hook_name}).")
    col = store.column(feature)
    fires = col > 0
    order = np.argsort(-col, kind="stable")[:top_n]
    contexts = []
    for row in order:
        if col[row] <= 0:
            break
        t = store.text_index[row]
        same = np.nonzero(store.text_index == t)[0]
        pos = store.token_position[same]
        near = same[np.abs(pos - store.token_position[row]) <= context]
        contexts.append({"text_index": int(t), "position": int(store.token_position[row]),
                         "activation": float(col[row]), "tokens": [store.tokens[r] for r in near],
                         "activations": [float(col[r]) for r in near], "focus": int(np.nonzero(near == row)[0][0])})
    counts, edges = np.histogram(col[fires], bins=bins) if fires.any() else (np.zeros(0, np.int64), np.zeros(0))
    rate = proportion_interval(int(fires.sum()), len(store))
    promoted, up, suppressed, down = _logit_effect(model, sae, feature, n_logits)
    return FeatureDashboard(feature=feature, hook_name=sae.hook_name, model_name=model.name, n_tokens=len(store),
                            n_fires=int(fires.sum()), firing_rate=rate.estimate, firing_rate_low=rate.low,
                            firing_rate_high=rate.high, contexts=contexts,
                            histogram_edges=np.asarray(edges, dtype=np.float64),
                            histogram_counts=np.asarray(counts, dtype=np.int64), promoted=promoted,
                            promoted_logits=up.astype(np.float64), suppressed=suppressed,
                            suppressed_logits=down.astype(np.float64), model_card=model_card(model))
