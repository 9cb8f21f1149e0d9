"""The part-of-speech probe: :func:`pos_probe` (activations, the layer sweep, the baselines) and the steps
it is built from (:func:`pos_eval`, :func:`pos_result`)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interp._params import Interval, Layers, Options, validate_params
from interp.models.card import model_card as card_of
from interp.probing.control import random_model
from interp.probing.pos.data import ALIGNMENTS, CORPORA, MIN_SENTENCES, POSInputs, pos_inputs, pos_split
from interp.probing.pos.result import POSProbeResult
from interp.probing.sweep import ProbeSweepResult
from interp.progress import ProgressArg, resolve_progress

if TYPE_CHECKING:
    from interp.models.model import Model


# ----------------------------------------------------------------------------- the analysis
@validate_params({
    "model": ["model"], "texts": ["texts", "path", None], "corpus": [Options(lambda: CORPORA)],
    "eval_texts": ["texts", "path", None], "layers": [Layers(allow_embed=True)], "probe": [Options(("linear", "mlp"))],
    "alignment": [Options(lambda: ALIGNMENTS)], "max_sentences": [Interval(int, MIN_SENTENCES, None), None],
    "test_size": [Interval(float, 0, 1, closed="neither")], "seed": [Interval(int, None, None)],
    "control_seed": [Interval(int, None, None)], "random_baseline": ["no_validation"], "probe_params": [dict, None],
    "batch_size": [Interval(int, 1, None), None], "cache_dir": ["path", None], "progress": ["progress"],
})
def pos_probe(model: Model, texts: Sequence[str] | str | os.PathLike | None = None, *, corpus: str = "natural",
              eval_texts: Sequence[str] | str | os.PathLike | None = None,
              layers: int | Sequence[int] | str = "all", probe: str = "linear", alignment: str = "last",
              max_sentences: int | None = None, test_size: float = 0.2, seed: int = 0, control_seed: int = 0,
              random_baseline: bool | Any = True, probe_params: dict[str, Any] | None = None,
              batch_size: int | None = None, cache_dir: str | os.PathLike | None = None,
              progress: ProgressArg = None) -> POSProbeResult:
    """Probe every requested layer of ``model`` for part of speech, with control task and baselines.

    Args:
        model: an :class:`interp.Model`.
        texts: None for the built-in ``corpus``; a list of sentences, or the path of a UTF-8 text file
            with one sentence per line (tagged by spaCy), of a tagged ``.jsonl`` corpus, or of a CoNLL-U
            treebank (``.conllu``: its tokenisation and gold UPOS tags; ``spacy_accuracy`` is then spaCy's
            accuracy on the same held-out words).
        corpus: the built-in corpus used when ``texts`` is None: "natural" (hand-written varied English,
            the default) or "grammar" (grammar-made sentences).
        eval_texts: sentences to score every layer's probe on without training on them (same forms as
            ``texts``; a treebank scores against gold): ``eval_accuracy``, ``eval_spacy_accuracy``.
        layers: "all" (0..n_layers), an int or a list; layer 0 (the embeddings) is always added,
            as a baseline.
        probe: "linear" (:class:`~interp.probing.estimators.LinearProbe`) or "mlp" (:class:`~interp.probing.estimators.MLPProbe`).
        alignment: "last" (a word's last sub-token) or "mean" (the mean of its sub-tokens).
        max_sentences: use only the first N sentences.
        test_size: share of sentences held out; seed: the split's seed.
        control_seed: seed of the control task (a fixed random tag per word type).
        random_baseline: True to probe the same architecture with random weights at the best layer,
            False to skip it, or an :class:`interp.Model` to use as that baseline.
        probe_params: parameters of the probe (e.g. ``{"C": 0.5}``).
        batch_size: texts per forward pass (default: as many as fit the engine's byte budget, as in collect).
        cache_dir: keep the activations there (re-runs reuse them); default a temporary folder.
        progress: stage ``"activations"`` (sentences, :func:`~interp.activations.collect`), then ``"probes"``
            (layers, :func:`~interp.probing.probe_layers`), and for the random baseline ``"activations"`` again;
            see :mod:`interp.progress`.

    Returns:
        :class:`POSProbeResult`.

    Raises:
        EmptyPromptError: an empty list of texts. InvalidTextFileError: a binary or empty file
        (InvalidTreebankError: a malformed CoNLL-U file).
        LayerIndexError: a layer outside [0, n_layers]. InvalidParameterError: too few sentences, a
        bad probe or alignment.

    Example:
        >>> result = pos_probe(interp.load_model("tiny-gpt2"), max_sentences=200)
        >>> result.to_frame()
    """
    from interp.activations import collect, resolve_layers
    from interp.probing.sweep import probe_layers

    where = "pos_probe"
    layer_list = sorted({0, *resolve_layers(model, layers, where=where)})
    inputs = pos_inputs(texts, corpus=corpus, max_sentences=max_sentences, where=where)
    sentences, words, labels = inputs.sentences, inputs.words, inputs.labels
    held_out = None if eval_texts is None else pos_inputs(eval_texts, min_sentences=1, where=f"{where} (eval_texts)")

    report = resolve_progress(progress, where=where)
    with tempfile.TemporaryDirectory(prefix="interp-pos-") as scratch:
        acts = collect(model, sentences, layers=layer_list, position=ALIGNMENTS[alignment], words=words,
                       batch_size=batch_size, out=cache_dir if cache_dir is not None else scratch, progress=report)
        row_words = acts.words
        groups = acts.text_index
        control, test_mask = pos_split(row_words, groups, labels, test_size=test_size, seed=seed,
                                       control_seed=control_seed, where="probe_layers")
        sweep = probe_layers(acts, labels, groups=groups, probe=probe, control=control, test_size=test_size,
                             seed=seed, test_mask=test_mask, probe_params=probe_params, progress=report)
        predicted = sweep.probe_at(sweep.best_layer).predict(acts[sweep.best_layer][sweep.test_mask])
        scored = None
        if held_out is not None:
            eval_acts = collect(model, held_out.sentences, layers=layer_list, position=ALIGNMENTS[alignment],
                                words=held_out.words, batch_size=batch_size, out=Path(scratch) / "eval",
                                progress=report)
            scored = pos_eval(sweep, {layer: eval_acts[layer] for layer in layer_list}, held_out)

    random_accuracy, random_layer = None, None
    if random_baseline is not False and random_baseline is not None:
        random_model_ = random_model(model) if random_baseline is True else random_baseline
        if random_model_ is not None:
            random_layer = sweep.best_layer
            with tempfile.TemporaryDirectory(prefix="interp-pos-random-") as scratch:
                random_acts = collect(random_model_, sentences, layers=[random_layer], position=ALIGNMENTS[alignment],
                                      words=words, batch_size=batch_size, out=scratch, progress=report)
                random_sweep = probe_layers(random_acts, labels, groups=groups, probe=probe, test_mask=sweep.test_mask,
                                            probe_params=probe_params, progress=False)
            random_accuracy = float(random_sweep.accuracy[0])
    result = pos_result(sweep, labels, row_words, predicted, model_name=model.name, model_card=card_of(model),
                        alignment=alignment,
                        control_seed=control_seed, corpus=inputs.corpus, n_sentences=inputs.n_sentences,
                        random_accuracy=random_accuracy, random_layer=random_layer, tag_source=inputs.tag_source,
                        spacy_labels=inputs.spacy_labels, evaluation=scored)
    result._model = model
    return result


def pos_eval(sweep: ProbeSweepResult, features: dict[int, np.ndarray], held_out: POSInputs) -> dict[str, Any]:
    """Every layer's probe of ``sweep`` scored on sentences it was not trained on.

    Args:
        sweep: the fitted sweep; features: layer -> (n_eval_words, d_model) activations of ``held_out``'s words.
        held_out: the evaluation sentences (:func:`pos_inputs`).

    Returns:
        The ``eval_*`` fields of :class:`POSProbeResult`.
    """
    truth = held_out.labels
    accuracy = np.asarray([float(np.mean(sweep.probe_at(layer).predict(features[layer]) == truth))
                           for layer in sweep.layers])
    spacy = None if held_out.spacy_labels is None else float(np.mean(held_out.spacy_labels == truth))
    return {"eval_corpus": held_out.corpus, "eval_tag_source": held_out.tag_source,
            "eval_n_sentences": held_out.n_sentences, "eval_n_words": int(len(truth)), "eval_accuracy": accuracy,
            "eval_spacy_accuracy": spacy}


def pos_result(sweep: ProbeSweepResult, labels: np.ndarray, row_words: Sequence[str], predicted: np.ndarray, *,
               model_name: str, alignment: str, control_seed: int, corpus: str, n_sentences: int,
               random_accuracy: float | None = None, random_layer: int | None = None,
               model_card: dict | None = None, tag_source: str = "spacy", spacy_labels: np.ndarray | None = None,
               evaluation: dict[str, Any] | None = None) -> POSProbeResult:
    """The :class:`POSProbeResult` of a finished sweep (the last step of :func:`pos_probe`, also used by
    ``interp run``): per-tag scores and the confusion matrix at the best layer, and the baselines.

    Args:
        sweep: :func:`~interp.probing.probe_layers` over the layers (layer 0 among them) with the control task.
        labels: (n_rows,) each word's tag; row_words: (n_rows,) each word.
        predicted: (n_test,) the best layer's probe's tags for the held-out rows (``sweep.test_mask``).
        random_accuracy, random_layer: the random-weights baseline, if it was run.
        tag_source: "spacy" or "gold"; spacy_labels: (n_rows,) spaCy's tags of the same words when the labels
            are gold (for ``spacy_accuracy`` on the held-out rows).
        evaluation: :func:`pos_eval`'s fields, if the probes were scored on other sentences.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from interp.probing.control import word_type_baseline

    test = sweep.test_mask
    truth = labels[test]
    tags = sorted(set(sweep.classes) | set(truth.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=tags, zero_division=0)
    train_words = [w for w, t in zip(row_words, test) if not t]
    test_words = [w for w, t in zip(row_words, test) if t]
    seen = set(train_words)
    baselines: dict[str, float | None] = {
        "majority": sweep.majority_accuracy,
        "word_type": word_type_baseline(train_words, labels[~test], test_words, truth),
        "layer0": float(sweep.accuracy[sweep.layers.index(0)]),
        "random_weights": random_accuracy,
    }
    fields = {f.name: getattr(sweep, f.name) for f in dataclasses.fields(sweep)}
    fields["model_name"] = model_name
    fields["model_card"] = dict(model_card or {})
    return POSProbeResult(
        **fields, tags=tags, confusion=confusion_matrix(truth, predicted, labels=tags).astype(np.int64),
        precision=precision.astype(np.float64), recall=recall.astype(np.float64), f1=f1.astype(np.float64),
        support=support.astype(np.int64), baselines=baselines, random_weights_layer=random_layer, alignment=alignment,
        control_seed=control_seed, corpus=corpus, n_sentences=n_sentences, n_word_types=len(set(row_words)),
        test_unseen_rate=float(np.mean([w not in seen for w in test_words])), tag_source=tag_source,
        spacy_accuracy=None if spacy_labels is None else float(np.mean(np.asarray(spacy_labels)[test] == truth)),
        **(evaluation or {}))


_random_model = random_model  # the name this module used (one definition: interp.probing.control.random_model)
