"""The part-of-speech probe's result: :class:`POSProbeResult` (a probe sweep with tag-level figures and
baselines)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.errors import InvalidParameterError
from interp.models.card import model_card as card_of
from interp.probing.pos.data import ALIGNMENTS, tag_sentences
from interp.probing.sweep import ProbeSweepResult

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass(eq=False, kw_only=True)
class POSProbeResult(ProbeSweepResult):
    """Part-of-speech probing of one model: per-layer accuracy and selectivity, baselines, and the
    confusion matrix and per-tag scores at the best layer.

    Attributes (beyond :class:`~interp.probing.sweep.ProbeSweepResult`'s):
        tags: the tags, in the order of ``confusion``'s rows and columns and of the per-tag arrays.
        confusion: (n_tags, n_tags) int64 counts at the best layer; rows are spaCy's tag, columns the
            probe's.
        precision, recall, f1: (n_tags,) per-tag scores at the best layer; support: (n_tags,) int64.
        baselines: held-out accuracy of "majority" (one tag for all), "word_type" (each word's most
            frequent training tag), "layer0" (the probe on token embeddings) and "random_weights"
            (the probe on the same architecture with random weights, at ``random_weights_layer``;
            None if not computed).
        random_weights_layer: the layer the random-weights baseline was probed at (the best layer).
        alignment: "last" (each word's last sub-token) or "mean" (mean of its sub-tokens).
        control_seed: seed of the control task.
        corpus: which sentences; n_sentences: how many; n_word_types: distinct words;
        test_unseen_rate: share of held-out words never seen in training.
        tag_source: what the probes learned and are scored against: "spacy" (spaCy's tags) or "gold" (a
            treebank's own tags).
        spacy_accuracy: with gold tags, spaCy's accuracy on the same held-out words (the reference line),
            else None.
        eval_corpus, eval_tag_source, eval_n_sentences, eval_n_words: the sentences the probes were also
            scored on but never trained on (``eval_texts``; "" and 0 if none).
        eval_accuracy: (n_layers,) each layer's probe on them (against gold for a treebank), or None.
        eval_spacy_accuracy: spaCy's accuracy on the same words against the treebank's gold tags, or None.
    """

    tags: list[str]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    baselines: dict
    random_weights_layer: int | None = None
    alignment: str = "last"
    control_seed: int = 0
    corpus: str = ""
    n_sentences: int = 0
    n_word_types: int = 0
    test_unseen_rate: float = 0.0
    tag_source: str = "spacy"
    spacy_accuracy: float | None = None
    eval_corpus: str = ""
    eval_tag_source: str = ""
    eval_n_sentences: int = 0
    eval_n_words: int = 0
    eval_accuracy: np.ndarray | None = None
    eval_spacy_accuracy: float | None = None

    title: ClassVar[str] = "Part-of-speech probe"

    def __post_init__(self) -> None:
        super().__post_init__()
        # the model it was computed with (not saved); predict() otherwise loads it by name, checking its fingerprint
        self._model = None

    def __getstate__(self) -> dict[str, Any]:  # copies and pickles (st.cache_data) leave the model behind
        return {**self.__dict__, "_model": None}

    @property
    def eval_at_best(self) -> float | None:
        """Accuracy on the evaluation sentences at ``best_layer`` (chosen on the training corpus's held-out
        split), or None without ``eval_texts``."""
        return None if self.eval_accuracy is None else float(self.eval_accuracy[self.layers.index(self.best_layer)])

    def summary(self) -> str:
        against = "gold" if self.tag_source == "gold" else "spaCy's tags"
        parts = [f"{self.model_name}: {self.probe} POS probe best at layer {self.best_layer} "
                 f"(accuracy {self.interval('accuracy').format()} against {against}"]
        if self.spacy_accuracy is not None:
            parts.append(f", spaCy {self.spacy_accuracy:.3f} on the same words")
        if self.selectivity is not None:
            parts.append(f"; selectivity {self.interval('selectivity').format()}, peaking at layer "
                         f"{self.best_selectivity_layer} "
                         f"({self.interval('selectivity', self.best_selectivity_layer).format()})")
        base = ", ".join(f"{k} {v:.3f}" for k, v in self.baselines.items() if v is not None)
        text = "".join(parts) + (f"). Baselines: {base}. {self.n_test} held-out words in {self.n_test_groups} "
                                 f"sentences of {self.corpus} (95% intervals: bootstrap over the held-out sentences).")
        if self.eval_accuracy is not None:
            against = "gold" if self.eval_tag_source == "gold" else "spaCy's tags"
            text += (f" Not trained on {self.eval_corpus} ({self.eval_n_words} words in {self.eval_n_sentences} "
                     f"sentences): {self.eval_at_best:.3f} against {against} at layer {self.best_layer}")
            if self.eval_spacy_accuracy is not None:
                text += f" (spaCy {self.eval_spacy_accuracy:.3f} on the same words)"
            text += "."
        return text

    def _baselines(self) -> dict[str, float]:
        lines = {"majority": self.baselines.get("majority"), "word type": self.baselines.get("word_type"),
                 "random weights": self.baselines.get("random_weights")}
        if self.spacy_accuracy is not None:
            lines["spaCy vs gold"] = self.spacy_accuracy
        if self.eval_spacy_accuracy is not None:
            lines["spaCy vs gold (eval)"] = self.eval_spacy_accuracy
        return lines

    def to_frame(self) -> DataFrame:
        frame = super().to_frame()
        if self.eval_accuracy is not None:
            frame["eval_accuracy"] = self.eval_accuracy
        return frame

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = super().plot()
        if self.eval_accuracy is not None:
            fig.add_trace(go.Scatter(x=self.layers, y=self.eval_accuracy, mode="lines+markers",
                                     name=f"accuracy on {Path(self.eval_corpus).name or 'eval'} (not trained on)"))
        return fig

    def tag_frame(self) -> DataFrame:
        """Per-tag precision, recall, F1 and support at the best layer (a :class:`pandas.DataFrame`)."""
        import pandas as pd

        return pd.DataFrame({"tag": self.tags, "precision": self.precision, "recall": self.recall, "f1": self.f1,
                             "support": self.support})

    def plot_confusion(self, normalize: bool = True) -> Figure:
        """Heatmap of the best layer's confusion matrix (rows: the true tag, spaCy's or gold; columns: predicted)."""
        import plotly.graph_objects as go

        counts = self.confusion.astype(float)
        values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
        fig = go.Figure(go.Heatmap(z=values, x=self.tags, y=self.tags, colorscale="Blues", zmin=0,
                                   customdata=self.confusion, texttemplate="%{customdata}",
                                   hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>"))
        fig.update_layout(title=f"Confusion at layer {self.best_layer} ({'row-normalised' if normalize else 'counts'})",
                          xaxis_title="predicted", yaxis_title="gold tag" if self.tag_source == "gold" else "spaCy tag",
                          yaxis={"autorange": "reversed"},
                          height=600, width=700)
        return fig

    def figures(self) -> list:
        return [self.plot(), self.plot_confusion()]

    def tables(self) -> list[tuple[str, Any]]:
        return [("By layer", self.to_frame()), (f"By tag (layer {self.best_layer})", self.tag_frame())]

    def _get_model(self, model: Model | None) -> Model:
        if model is not None:
            return model
        if self._model is None:
            from interp.models.loading import canonical_model_name, load_model

            if not self.model_name:
                raise InvalidParameterError("This POSProbeResult records no model name, so the model its probes read "
                                            "cannot be loaded: pass model=... (the model it was computed with).")
            loaded = load_model(canonical_model_name(self.model_name), quiet=True)
            expected = (self.model_card or {}).get("fingerprint")
            if expected and card_of(loaded)["fingerprint"] != expected:
                raise InvalidParameterError(
                    f"The model loaded by the name {self.model_name!r} has other weights than the ones these probes were "
                    f"trained on (fingerprint {card_of(loaded)['fingerprint'][:19]}..., recorded {expected[:19]}...): "
                    "pass model=... with the model the result was computed with.")
            self._model = loaded
        return self._model

    def predict_layers(self, text: str, layers: Sequence[int] | None = None, *, model: Model | None = None
                       ) -> DataFrame:
        """Each word of ``text`` with spaCy's tag and the probe's predicted tag at each layer.

        Args:
            text: a sentence (split into words and tagged by spaCy).
            layers: which of the probed layers (default: all of them).
            model: the model to read activations from; default the one the result was computed
                with (or loaded by ``model_name`` after :meth:`load`).

        Returns:
            A :class:`pandas.DataFrame` with columns ``word``, ``spacy`` and one column per layer.
        """
        import pandas as pd

        from interp.activations import collect

        wanted = list(self.layers) if layers is None else [self.layers[self._index(l)] for l in layers]
        (record,) = tag_sentences([text])
        acts = collect(self._get_model(model), [text], layers=wanted, position=ALIGNMENTS[self.alignment],
                       words=[record["words"]], progress=False)
        frame = pd.DataFrame({"word": record["words"], "spacy": record["tags"]})
        for layer in wanted:
            frame[f"layer {layer}"] = self.probe_at(layer).predict(acts[layer])
        return frame

    def predict(self, text: str, layer: int | None = None, *, model: Model | None = None) -> DataFrame:
        """Each word of ``text`` with its predicted tag at ``layer`` (default: the best layer).

        Returns:
            A :class:`pandas.DataFrame`: ``word``, ``spacy`` (reference tag), ``predicted``, ``probability``.

        Example:
            >>> result.predict("The old man the boats.", layer=9)
        """
        import pandas as pd

        from interp.activations import collect

        layer = self.best_layer if layer is None else self.layers[self._index(layer)]
        (record,) = tag_sentences([text])
        acts = collect(self._get_model(model), [text], layers=[layer], position=ALIGNMENTS[self.alignment],
                       words=[record["words"]], progress=False)
        probe = self.probe_at(layer)
        proba = probe.predict_proba(acts[layer])
        return pd.DataFrame({"word": record["words"], "spacy": record["tags"],
                             "predicted": probe.classes_[proba.argmax(axis=1)], "probability": proba.max(axis=1)})
