"""2-D and 3-D projections of representation space: PCA, UMAP and t-SNE.

A scatter of hidden states is the first look at what a layer groups together. :func:`project`
takes one of three inputs and returns a :class:`ProjectionResult`:

- texts: the residual stream of each text at ``layer`` (via :func:`interp.activations.collect`;
  ``position="last"`` token or ``"mean"`` over tokens);
- ``vocab=``: rows of the token embedding matrix ``W_E`` (d_vocab, d_model) for the given token
  strings or ids (no forward pass);
- a raw (n, d) array.

Rows are standardised (zero mean, unit variance per dimension), then reduced with PCA (Pearson
1901; scikit-learn), UMAP (McInnes et al. 2018; umap-learn, run single-threaded with
``random_state`` so it is deterministic) or t-SNE (van der Maaten & Hinton 2008; scikit-learn).
The same seed gives the same coordinates.

Example:
    >>> import interp
    >>> from interp.projection import project
    >>> model = interp.load_model("tiny-gpt2")
    >>> result = project(model, ["Paris", "Rome", "cat", "dog"], layer=1, labels=["city", "city", "animal", "animal"])
    >>> result.coords.shape
    (4, 2)
    >>> project(model, vocab=[" cat", " dog", " Paris"], method="pca").plot()
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._imports import import_preserving_state
from interp._params import Interval, Layer, Options, validate_params
from interp._validation import check_choice, check_int, check_layer, check_texts
from interp.errors import InvalidParameterError, InvalidTextFileError
from interp.models.card import model_card
from interp.results import Result

import_preserving_state("sklearn")  # its first import sets KMP_* environment variables; they are put back

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["METHODS", "ProjectionResult", "parse_labelled_lines", "project", "read_labelled_texts", "reduce"]

METHODS = ("pca", "umap", "tsne")
TEXT_POSITIONS = ("last", "mean")


# ----------------------------------------------------------------------------- reduction
def reduce(x: np.ndarray, *, method: str = "pca", n_components: int = 2, seed: int = 0,
           standardize: bool = True, where: str = "reduce") -> tuple[np.ndarray, np.ndarray | None]:
    """(n, d) -> ((n, n_components) float32 coordinates, explained variance ratio for PCA else None)."""
    from sklearn.preprocessing import StandardScaler

    check_choice(method, METHODS, name="method", where=where)
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if method == "tsne" and n < 4 or n < n_components + 1:
        raise InvalidParameterError(f"{where} needs more rows than components to project with {method!r} (at least "
                                    f"{max(n_components + 1, 4 if method == 'tsne' else 0)}). Got {n} rows.")
    if standardize:
        x = StandardScaler().fit_transform(x)
    explained = None
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=n_components, random_state=seed, svd_solver="full").fit(x)
        coords = pca.transform(x)
        # fix each component's sign (the largest-|loading| coordinate positive) so runs agree exactly
        signs = np.sign(pca.components_[np.arange(n_components), np.abs(pca.components_).argmax(axis=1)])
        coords = coords * np.where(signs == 0, 1, signs)
        explained = pca.explained_variance_ratio_.astype(np.float32)
    elif method == "umap":
        import umap

        neighbours = max(2, min(15, n - 1))
        coords = umap.UMAP(n_components=n_components, n_neighbors=neighbours, random_state=seed, n_jobs=1,
                           init="spectral" if n > n_components + 1 else "random").fit_transform(x)
    else:
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=n_components, perplexity=float(min(30, (n - 1) / 3)), random_state=seed,
                      init="pca", method="barnes_hut" if n_components < 4 else "exact").fit_transform(x)
    return np.asarray(coords, dtype=np.float32), explained


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass(eq=False, kw_only=True)
class ProjectionResult(Result):
    """Coordinates of a 2-D or 3-D projection, with labels and hover text.

    Attributes:
        coords: (n, n_components) float32 coordinates.
        labels: (n,) label of each point (colour); ``""`` when none was given.
        hover: (n,) hover text of each point (the text, the token, or the row index).
        method: "pca", "umap" or "tsne"; seed: its seed; n_components: 2 or 3.
        source: "texts", "vocab" or "array"; layer: the layer for texts (0 = embeddings), else None.
        position: "last" or "mean" for texts, else "".
        explained_variance: (n_components,) PCA's explained variance ratio, else None.
        model_name: the model the vectors came from ("" for a raw array).
    """

    coords: np.ndarray
    labels: list[str]
    hover: list[str]
    method: str = "pca"
    seed: int = 0
    n_components: int = 2
    source: str = "array"
    layer: int | None = None
    position: str = ""
    explained_variance: np.ndarray | None = None
    model_name: str = ""

    title: ClassVar[str] = "Projection"

    def summary(self) -> str:
        where = {"texts": f"activations at layer {self.layer} ({self.position} token)",
                 "vocab": "token embeddings (W_E rows)", "array": "given vectors"}.get(self.source, self.source)
        extra = ""
        if self.explained_variance is not None:
            extra = f"; explained variance {', '.join(f'{v:.1%}' for v in self.explained_variance)}"
        model = f" of {self.model_name}" if self.model_name else ""
        return (f"{self.method.upper()} ({self.n_components}-D, seed {self.seed}) of {len(self.coords)} {where}"
                f"{model}{extra}.")

    def to_frame(self) -> DataFrame:
        """One row per point: x, y (and z), label, hover."""
        import pandas as pd

        frame = pd.DataFrame(self.coords, columns=["x", "y", "z"][: self.coords.shape[1]])
        frame["label"] = self.labels
        frame["hover"] = self.hover
        return frame

    def plot(self) -> Figure:
        """An interactive scatter coloured by label (``scatter_3d`` for 3 components)."""
        import plotly.graph_objects as go

        labels = np.asarray(self.labels, dtype=object)
        fig = go.Figure()
        for label in dict.fromkeys(self.labels):
            idx = np.flatnonzero(labels == label)
            common = {"mode": "markers", "name": label or "points", "text": [self.hover[i] for i in idx],
                      "hovertemplate": "%{text}<extra>" + (label or "") + "</extra>"}
            if self.coords.shape[1] == 3:
                fig.add_trace(go.Scatter3d(x=self.coords[idx, 0], y=self.coords[idx, 1], z=self.coords[idx, 2],
                                           marker={"size": 3}, **common))
            else:
                fig.add_trace(go.Scattergl(x=self.coords[idx, 0], y=self.coords[idx, 1], marker={"size": 7}, **common))
        axis = {"pca": "PC", "umap": "UMAP", "tsne": "t-SNE"}[self.method]
        fig.update_layout(title=self.summary(), height=600, width=800, showlegend=any(self.labels),
                          xaxis_title=f"{axis} 1", yaxis_title=f"{axis} 2")
        if self.coords.shape[1] == 3:
            fig.update_layout(scene={"xaxis_title": f"{axis} 1", "yaxis_title": f"{axis} 2", "zaxis_title": f"{axis} 3"})
        return fig


# ----------------------------------------------------------------------------- inputs
def read_labelled_texts(path: str | os.PathLike) -> tuple[list[str], list[str] | None]:
    """Read a UTF-8 file with one text per line, optionally ``label<TAB>text``.

    Returns:
        (texts, labels); labels is None when no line has a tab.

    Raises:
        FileNotFoundError, InvalidTextFileError: see :func:`interp.probing.read_text_file`.
    """
    from interp.probing.pos import read_text_file

    return parse_labelled_lines(read_text_file(path), source=str(path))


def parse_labelled_lines(lines: Sequence[str], *, source: str = "the texts") -> tuple[list[str], list[str] | None]:
    """``(texts, labels)`` from lines that are all ``text`` (labels None) or all ``label<TAB>text``.

    Raises:
        InvalidTextFileError: some lines have a label and others do not, or a label has no text.
    """
    lines = [line for line in lines if line.strip()]
    if not any("\t" in line for line in lines):
        return [line.strip() for line in lines], None
    texts, labels = [], []
    for number, line in enumerate(lines, start=1):
        label, tab, text = line.partition("\t")
        if not tab or not text.strip():
            raise InvalidTextFileError(f"{source}, line {number}: when any line has a label, every line must be "
                                       f"'label<TAB>text'. Got {line.strip()[:60]!r}.")
        texts.append(text.strip())
        labels.append(label.strip())
    return texts, labels


def _vocab_rows(model: Any, vocab: Sequence[Any], where: str) -> tuple[np.ndarray, list[str]]:
    """Rows of W_E for token strings (each must be one token) or ids -> ((n, d_model), token strings)."""
    if isinstance(vocab, (str, bytes)) or not isinstance(vocab, (Sequence, np.ndarray)) or len(vocab) == 0:
        raise InvalidParameterError(f"The 'vocab' parameter of {where} must be a non-empty list of token strings or "
                                    f"ids. Got {vocab!r} instead.")
    ids, names = [], []
    for item in vocab:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            token_id = check_int(int(item), name="vocab", where=where, low=0, high=model.d_vocab)
        elif isinstance(item, str):
            encoded = model.tokenizer.encode(item, add_special_tokens=False)
            if len(encoded) != 1:
                raise InvalidParameterError(f"Token {item!r} given to {where} in 'vocab' is {len(encoded)} tokens for "
                                            f"{model.name}, not one; give single tokens (e.g. ' Paris' with its space) "
                                            "or token ids.")
            token_id = encoded[0]
        else:
            raise InvalidParameterError(f"The 'vocab' parameter of {where} must hold token strings or ids. Got "
                                        f"{item!r} of type {type(item).__name__}.")
        ids.append(token_id)
        names.append(model.tokenizer.convert_ids_to_tokens(token_id) if not isinstance(item, str) else item)
    w_e = model.bridge.W_E.detach()  # (d_vocab, d_model)
    return w_e[ids].float().cpu().numpy(), names


@validate_params({
    "model_or_vectors": ["no_validation"],  # a Model or an (n, d) array: told apart below
    "texts": ["texts", None], "layer": [Layer(allow_embed=True, model="model_or_vectors"), None],
    "method": [Options(METHODS)], "labels": ["no_validation"], "vocab": ["no_validation"],
    "position": [Options(TEXT_POSITIONS)], "seed": [Interval(int, 0, None)], "n_components": [Options((2, 3))],
    "standardize": ["boolean"], "batch_size": [Interval(int, 1, None), None],
})
def project(model_or_vectors: Model | np.ndarray, texts: str | Sequence[str] | None = None, *, layer: int | None = None,
            method: str = "pca", labels: Sequence[Any] | None = None, vocab: Sequence[Any] | None = None,
            position: str = "last", seed: int = 0, n_components: int = 2, standardize: bool = True,
            batch_size: int | None = None) -> ProjectionResult:
    """Project texts' activations, token embeddings or a raw array to 2-D (or 3-D).

    Args:
        model_or_vectors: an :class:`interp.Model`, or an (n, d) array (then ``texts``, ``layer`` and
            ``vocab`` are not used).
        texts: texts whose residual stream at ``layer`` is projected (one point per text).
        layer: the layer for texts, in [0, n_layers] (0 = embedding output, negative counts from the end).
        method: "pca", "umap" or "tsne".
        labels: (n,) a label per point (colours the plot); hover text is the text / token / row.
        vocab: token strings (single tokens) or ids whose rows of ``W_E`` are projected (``texts=None``).
        position: for texts, the "last" token or the "mean" over tokens.
        seed: seed of the projection; the same seed gives the same coordinates.
        n_components: 2 or 3.
        standardize: standardise each dimension before projecting.
        batch_size: passed to :func:`interp.activations.collect`.

    Returns:
        :class:`ProjectionResult` with ``coords`` (n, n_components).

    Raises:
        InvalidParameterError: unknown method, both or neither of texts and vocab, labels of the wrong length.
        LayerIndexError: ``layer`` outside [0, n_layers].

    Example:
        >>> project(np.random.default_rng(0).normal(size=(50, 8)), method="umap").coords.shape
        (50, 2)
    """
    where = "project"
    model_name, used_layer, used_position, card = "", None, "", {}
    if isinstance(model_or_vectors, np.ndarray) or type(model_or_vectors).__module__ == "torch":
        if texts is not None or vocab is not None:
            raise InvalidParameterError(f"{where} got an array and also texts or vocab; give a model with texts or "
                                        "vocab, or an array alone.")
        x = np.asarray(model_or_vectors.detach().cpu() if hasattr(model_or_vectors, "detach") else model_or_vectors,
                       dtype=np.float64)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise InvalidParameterError(f"The array given to {where} must be 2-D (n, d) and finite. Got shape {x.shape}.")
        source, hover = "array", [f"row {i}" for i in range(len(x))]
    elif hasattr(model_or_vectors, "bridge") and hasattr(model_or_vectors, "encode"):
        model = model_or_vectors
        model_name = model.name
        card = model_card(model)
        if (texts is None) == (vocab is None):
            raise InvalidParameterError(f"{where} needs exactly one of 'texts' (project activations at a layer) and "
                                        "'vocab' (project token embeddings). Got "
                                        f"{'both' if texts is not None else 'neither'}.")
        if vocab is not None:
            x, hover = _vocab_rows(model, vocab, where)
            source = "vocab"
        else:
            from interp.activations import collect

            if layer is None:
                raise InvalidParameterError(f"The 'layer' parameter of {where} is needed with texts: an int in "
                                            f"[0, {model.n_layers + 1}). Got None.")
            used_layer = check_layer(layer, model.n_layers, where=where, allow_embed=True)
            items, _ = check_texts(texts, where=where, name="texts")
            x = collect(model, items, layers=[used_layer], position=position, batch_size=batch_size,
                        progress=False)[used_layer]
            source, hover, used_position = "texts", items, position
    else:
        raise InvalidParameterError(f"The first parameter of {where} must be an interp.Model or an (n, d) array. Got "
                                    f"{type(model_or_vectors).__name__} instead.")
    if labels is None:
        label_list = [""] * len(x)
    else:
        label_list = [str(v) for v in labels]
        if len(label_list) != len(x):
            raise InvalidParameterError(f"The 'labels' parameter of {where} must have one label per point ({len(x)}). "
                                        f"Got {len(label_list)}.")
    coords, explained = reduce(x, method=method, n_components=n_components, seed=seed, standardize=standardize,
                               where=where)
    return ProjectionResult(coords=coords, labels=label_list, hover=[str(h) for h in hover], method=method, seed=seed,
                            n_components=n_components, source=source, layer=used_layer, position=used_position,
                            explained_variance=explained, model_name=model_name, model_card=card)
