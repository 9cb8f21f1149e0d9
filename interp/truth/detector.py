"""A lie detector: a truth probe at one layer, applied to statements and to every token of a text.

:meth:`LieDetector.fit` fits a truth probe (logistic regression by default, see
:mod:`interp.truth.probes`) on the last-token residual of labelled statements; without ``layer`` it
picks the layer whose held-out (by contrast pair) accuracy, averaged over the datasets, is highest.
:meth:`LieDetector.score` gives P(true) of each statement, or with ``per_token=True`` of every token
of a longer text (a text heat map). The experiment on the model's own answers,
:func:`~interp.truth.lies.detect_model_lies`, lives in :mod:`interp.truth.lies`.

A detector saves to one JSON file: its settings plus the probe in :mod:`interp.probing.estimators`'s format,
under a checksum over both, so an edited file is refused (:class:`~interp.errors.InvalidProbeFileError`).

Example:
    >>> detector = LieDetector.fit(model, ["cities", "larger_than", "facts"])
    >>> detector.score(["Paris is in France.", "Paris is in Peru."]).p_true
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._validation import check_choice, check_layer, check_texts
from interp.errors import InvalidParameterError, InvalidProbeFileError
from interp.models.card import model_card
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result, atomic_write_bytes
from interp.truth.datasets import load_datasets

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["LieDetector", "TruthScoreResult"]

FORMAT_NAME = "interp.lie_detector"
FORMAT_VERSION = 1


@dataclasses.dataclass(eq=False, kw_only=True)
class TruthScoreResult(Result):
    """P(true) of each text (its last token), and optionally of each token.

    Attributes:
        texts: the texts scored.
        p_true: (n_texts,) the detector's P(true) at each text's last token.
        tokens: per text, its tokens (BOS excluded), or None.
        token_p_true: per text, P(true) at each token, or None.
        layer, probe, model_name: the detector that scored them.
    """

    texts: list[str]
    p_true: np.ndarray
    layer: int
    probe: str
    tokens: list | None = None
    token_p_true: list | None = None
    model_name: str = ""

    title: ClassVar[str] = "Truth scores"

    def summary(self) -> str:
        return (f"{len(self.texts)} text(s) scored by a {self.probe} at layer {self.layer}: mean P(true) "
                f"{float(np.mean(self.p_true)):.3f}")

    def to_frame(self) -> DataFrame:
        import pandas as pd

        if self.tokens is None:
            return pd.DataFrame({"text": self.texts, "p_true": self.p_true})
        return pd.DataFrame([{"text_index": i, "position": j, "token": tok, "p_true": float(p)}
                             for i, (toks, ps) in enumerate(zip(self.tokens, self.token_p_true))
                             for j, (tok, p) in enumerate(zip(toks, ps))])

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        if self.tokens is None:
            fig = go.Figure(go.Bar(x=self.p_true, y=[t[:60] for t in self.texts], orientation="h",
                                   marker={"color": self.p_true, "colorscale": "RdYlGn", "cmin": 0, "cmax": 1}))
            fig.update_layout(title=self.summary(), xaxis={"title": "P(true)", "range": [0, 1]},
                              yaxis={"autorange": "reversed"}, height=max(300, 160 + 28 * len(self.texts)))
            return fig
        width = max(len(t) for t in self.tokens)
        z = np.full((len(self.tokens), width), np.nan)
        labels = np.full((len(self.tokens), width), "", dtype=object)
        for i, (toks, ps) in enumerate(zip(self.tokens, self.token_p_true)):
            z[i, :len(ps)] = ps
            labels[i, :len(toks)] = [t.replace(" ", "␣") for t in toks]
        fig = go.Figure(go.Heatmap(z=z, text=labels, texttemplate="%{text}", colorscale="RdYlGn", zmin=0, zmax=1,
                                   hovertemplate="%{text}: P(true) %{z:.2f}<extra></extra>",
                                   colorbar={"title": "P(true)"}))
        fig.update_layout(title=self.summary(), xaxis={"title": "token", "showticklabels": False},
                          yaxis={"title": "text", "autorange": "reversed"}, height=max(300, 150 + 40 * len(self.tokens)))
        return fig


class LieDetector:
    """A fitted truth probe at one layer of one model.

    Build one with :meth:`fit` or :meth:`load`. Attributes: ``probe_`` (the fitted probe),
    ``layer_``, ``position_``, ``model_name_``, ``datasets_``, ``validation_`` (layer -> held-out
    accuracy when the layer was chosen), ``model_card_`` (the weights it was fitted on; a model with
    another fingerprint is refused), ``model`` (the model it scores with; None after ``load``).
    """

    def __init__(self, probe: Any, layer: int, *, model_name: str, position: str = "last",
                 datasets: Sequence[str] = (), validation: dict[int, float] | None = None, model: Model | None = None):
        self.probe_ = probe
        self.layer_ = int(layer)
        self.position_ = position
        self.model_name_ = model_name
        self.datasets_ = list(datasets)
        self.validation_ = dict(validation or {})
        self.model = model
        self.model_card_: dict[str, Any] = model_card(model) if model is not None else {}

    def __repr__(self) -> str:
        return (f"LieDetector({type(self.probe_).__name__} at layer {self.layer_} of {self.model_name_!r}, "
                f"trained on {self.datasets_})")

    @classmethod
    def fit(cls, model: Model, datasets: Any = ("cities", "larger_than", "facts"), layer: int | None = None, *,
            probe: str = "lr", layers: Sequence[int] | None = None, position: str = "last",
            max_pairs: int | None = 400, val_size: float = 0.25, seed: int = 0,
            progress: ProgressArg = None) -> LieDetector:
        """Fit a detector; without ``layer``, choose it by held-out accuracy.

        Args:
            model: an :class:`interp.Model`.
            datasets: names, CSV paths or :class:`TruthDataset` (the probe trains on all of them).
            layer: the layer to read (0 = embeddings); None: the best of ``layers`` on validation pairs.
            probe: "lr", "mm", "mm_iid", "mm_std" or "ccs".
            layers: candidate layers (default: every second layer in the middle two thirds).
            position: "last" or "mean" token features.
            max_pairs: at most this many pairs per dataset (for speed; None: all).
            val_size: share of pairs held out to choose the layer.
            seed: split and subsample seed.
            progress: stages ``"activations"`` (texts) and, when choosing the layer, ``"layers"`` (one
                validation fit per candidate layer); see :mod:`interp.progress`.

        Returns:
            A fitted :class:`LieDetector` (refit on all rows at the chosen layer).
        """
        from interp.truth.probes import TRUTH_PROBES, ccs_accuracy
        from interp.truth.sweep import FEATURE_POSITIONS, _concat, fit_truth_probe, split_pairs, statement_features

        where = "LieDetector.fit"
        loaded = [d.sample(max_pairs, seed=seed) for d in load_datasets(datasets, where=where)]
        check_choice(probe, list(TRUTH_PROBES), name="probe", where=where)
        check_choice(position, FEATURE_POSITIONS, name="position", where=where)
        if layer is not None:
            candidates = [check_layer(layer, model.n_layers, where=where, allow_embed=True)]
        elif layers is not None:
            candidates = sorted({check_layer(int(l), model.n_layers, where=where, name="layers", allow_embed=True)
                                 for l in layers})
        else:
            n = model.n_layers
            candidates = list(range(max(1, n // 6), max(2, 5 * n // 6) + 1, 2 if n > 6 else 1))
        combined = _concat(loaded, name="+".join(d.name for d in loaded))
        report = resolve_progress(progress, where=where)
        acts = statement_features(model, combined.statements, candidates, position=position, progress=report)
        validation: dict[int, float] = {}
        if len(candidates) > 1:
            tests = [split_pairs(d, test_size=val_size, seed=seed) for d in loaded]
            test = np.concatenate(tests)
            train_ds = combined.subset(np.flatnonzero(~test))
            report("layers", 0, len(candidates))
            for done, l in enumerate(candidates, start=1):
                X = acts[l]
                fitted = fit_truth_probe(probe, X[~test], train_ds, seed=seed, where=where)
                offsets = np.cumsum([0, *[len(d) for d in loaded]])
                validation[l] = float(np.mean([ccs_accuracy(fitted, X[a:b][t], d.labels[t])
                                               for d, t, a, b in zip(loaded, tests, offsets[:-1], offsets[1:])]))
                report("layers", done, len(candidates))
            best = max(candidates, key=lambda l: (validation[l], -l))
        else:
            best = candidates[0]
        fitted = fit_truth_probe(probe, acts[best], combined, seed=seed, where=where)
        return cls(fitted, best, model_name=model.name, position=position, datasets=[d.name for d in loaded],
                   validation=validation, model=model)

    def _model(self, model: Model | None, where: str) -> Model:
        model = model if model is not None else self.model
        if model is None:
            raise InvalidParameterError(f"{where} needs the model: pass model=... (a loaded detector holds none).")
        from interp.models.loading import canonical_model_name

        if canonical_model_name(model.name) != canonical_model_name(self.model_name_):
            raise InvalidParameterError(f"This detector was fitted on {self.model_name_!r}; got model {model.name!r}.")
        expected = self.model_card_.get("fingerprint")
        if expected and model_card(model)["fingerprint"] != expected:
            raise InvalidParameterError(f"This detector was fitted on other weights of {self.model_name_!r} (fingerprint "
                                        f"{expected[:19]}...); the model given has {model_card(model)['fingerprint'][:19]}...")
        if model.d_model != self.probe_.n_features_in_:
            raise InvalidParameterError(f"This detector reads {self.probe_.n_features_in_} features; the model has "
                                        f"d_model={model.d_model}.")
        return model

    def predict_proba_features(self, X: np.ndarray) -> np.ndarray:
        """(n,) P(true) of (n, d_model) residual-stream rows at the detector's layer."""
        column = list(self.probe_.classes_).index(1) if 1 in list(self.probe_.classes_) else -1
        return self.probe_.predict_proba(X)[:, column]

    def score(self, texts: str | Sequence[str], *, model: Model | None = None, per_token: bool = False,
              batch_size: int | None = None) -> TruthScoreResult:
        """P(true) of each text at its last token (and of every token with ``per_token=True``).

        Args:
            texts: a statement or a list of them (or longer texts, with ``per_token``).
            model: the model (default: the one the detector was fitted with).
            per_token: also score every token (BOS excluded), for a text heat map.

        Returns:
            :class:`TruthScoreResult`; ``p_true`` is (n_texts,).
        """
        from interp.activations import collect

        where = "LieDetector.score"
        items, _ = check_texts(texts, where=where, name="texts")
        model = self._model(model, where)
        acts = collect(model, items, layers=[self.layer_], position="all" if per_token else self.position_,
                       batch_size=batch_size, progress=False)
        p = self.predict_proba_features(acts[self.layer_])
        tokens = token_p = None
        if per_token:
            index = acts.text_index
            tokens = [[t for t, k in zip(acts.tokens, index) if k == i] for i in range(len(items))]
            token_p = [p[index == i].tolist() for i in range(len(items))]
            if self.position_ == "mean":
                p_text = np.array([np.mean(x) for x in token_p])  # approximate: mean of per-token P
                last = self.predict_proba_features(collect(model, items, layers=[self.layer_], position="mean",
                                                           progress=False)[self.layer_])
                p_text = last if len(last) == len(items) else p_text
            else:
                p_text = np.array([x[-1] for x in token_p])
        else:
            p_text = p
        return TruthScoreResult(texts=items, p_true=np.asarray(p_text, dtype=np.float64), layer=self.layer_,
                                probe=type(self.probe_).__name__, tokens=tokens, token_p_true=token_p,
                                model_name=model.name, model_card=model_card(model))

    # ------------------------------------------------------------------ saving
    def _meta(self) -> dict[str, Any]:
        return {"layer": self.layer_, "position": self.position_, "model": self.model_name_,
                "datasets": self.datasets_, "validation": {str(k): v for k, v in self.validation_.items()},
                "model_card": self.model_card_}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the detector to one JSON file (settings + probe, checksummed), atomically."""
        meta = self._meta()
        probe_doc = self.probe_.to_document()
        document = {"format": FORMAT_NAME, "schema_version": FORMAT_VERSION, "meta": meta, "probe": probe_doc,
                    "sha256": _checksum(meta, probe_doc)}
        return atomic_write_bytes(path, json.dumps(document).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike, *, model: Model | None = None) -> LieDetector:
        """Load a detector written by :meth:`save` (pass ``model`` to score without passing it again).

        Raises:
            InvalidProbeFileError: no such file, not a saved detector, or a file edited after saving.
        """
        from interp.probing.estimators import probe_from_document, read_document

        path = Path(path)
        document = read_document(path, FORMAT_NAME, "lie detector")
        if document.get("schema_version") != FORMAT_VERSION:
            raise InvalidProbeFileError(f"{path} has schema_version {document.get('schema_version')!r}; this interp "
                                        f"reads {FORMAT_VERSION}.")
        meta, probe_doc = document.get("meta"), document.get("probe")
        if not isinstance(meta, dict) or not isinstance(probe_doc, dict):
            raise InvalidProbeFileError(f"{path} is not a valid saved lie detector: 'meta' or 'probe' is malformed.")
        if document.get("sha256") != _checksum(meta, probe_doc):
            raise InvalidProbeFileError(f"{path} was modified after it was saved (its checksum does not match its "
                                        "content); refusing to load it.")
        probe = probe_from_document(probe_doc, source=f"{path} (probe)")
        try:
            detector = cls(probe, int(meta["layer"]), model_name=str(meta["model"]), position=str(meta["position"]),
                           datasets=list(meta.get("datasets", [])),
                           validation={int(k): float(v) for k, v in meta.get("validation", {}).items()})
            detector.model_card_ = dict(meta.get("model_card") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidProbeFileError(f"{path} is not a valid saved lie detector: bad setting {exc}.") from None
        if model is not None:
            detector.model = detector._model(model, "LieDetector.load")
        return detector


def _checksum(meta: dict[str, Any], probe_doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([FORMAT_NAME, meta, probe_doc], sort_keys=True).encode("utf-8")).hexdigest()
