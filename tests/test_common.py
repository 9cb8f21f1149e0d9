"""Common checks over every analysis and every result type (in the spirit of scikit-learn's test_common.py).

Each public analysis (an ``__all__`` function, or a public method of an exported class, whose return
annotation names a :class:`~interp.results.Result` subclass) has one entry in :data:`CASES`: how to run it
small on a tiny random model, the result type it must return, the columns its table must have, and bad
inputs with the named error and message each must raise. For every case:

- the analysis returns exactly its result type;
- ``to_frame()`` is a non-empty DataFrame with the expected columns (and row count where obvious);
- ``plot()`` and every ``figures()`` entry is a plotly Figure with at least one trace, never shown;
- ``_repr_html_()`` holds the result's name, the figure and the table;
- ``save`` / ``load`` round-trips equal, compared here field by field and array by array (dtype, shape,
  values), not only through ``Result.__eq__``;
- each bad input raises its named error (the exact class) with a message that says what was wrong.

Every concrete Result subclass in the interp package must be produced by some case, and every analysis
must have a case: adding either without a row here fails :func:`test_every_result_type_has_a_case` or
:func:`test_every_analysis_has_a_case`. The cases rotate over the three tiny architectures.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import pkgutil
import re
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import interp
from interp.errors import (
    EmptyPromptError,
    InterpError,
    InvalidDatasetError,
    InvalidParameterError,
    LayerIndexError,
)
from interp.results import Result

PROMPT = "The quick brown fox jumps over the lazy"
TARGET = " dog and"  # two tokens
QUESTIONS = [{"question": "What is 2 + 2?", "answer": "4"},
             {"question": "What is the capital of France?", "answer": "Paris"}]
CCS = {"n_restarts": 2, "n_steps": 30}


def _import_all_of_interp() -> None:
    for module in pkgutil.walk_packages(interp.__path__, "interp."):
        if module.name.endswith(".__main__") or module.name == "interp.probes":  # runs the CLI; a deprecated alias
            continue
        importlib.import_module(module.name)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def result_types() -> set[type[Result]]:
    """Every Result subclass the interp package defines (test-local subclasses are left out)."""
    _import_all_of_interp()
    return {c for c in _subclasses(Result) if c.__module__.startswith("interp.") and not inspect.isabstract(c)}


# ----------------------------------------------------------------------------------------- the cases
@dataclasses.dataclass
class Bad:
    """One bad input: ``call(model)`` must raise exactly ``error`` with ``fragment`` in its message."""

    label: str
    call: Callable[[Any], Any]
    error: type[InterpError]
    fragment: str  # literal text; "{n}" / "{n1}" stand for the model's n_layers / n_layers + 1


@dataclasses.dataclass
class Case:
    name: str
    covers: tuple[str, ...]  # the public analyses it runs, as "package.name" / "package.Class.method"
    model: str
    run: Callable[[Any], Result]
    result_type: Callable[[], type[Result]]
    columns: tuple[str, ...]
    rows: Callable[[Result], int] | None = None
    bad: tuple[Bad, ...] = ()


def _attribution():
    from interp import attribution

    return attribution


def _truth():
    from interp import truth

    return truth


def _detector(model):
    return _truth().LieDetector.fit(model, ["facts"], 1, max_pairs=10, progress=False)


def _world_map_layer(model):
    """What a batch run's world-map task writes per layer (interp.projection.world.WORLD_MAP.fit), on a tiny model."""
    from interp.activations import collect
    from interp.batch.jobs import ProbeJob
    from interp.projection.world import WORLD_MAP, load_places, split_places

    places = load_places(30, min_population=0)
    features = collect(model, [f"The city of {p['name']}" for p in places], layers=[1], position="last")[1]
    payload = types.SimpleNamespace(coords=np.array([[p["lat"], p["lon"]] for p in places]),
                                    test_mask=split_places(30, 0.2, 0)[0])
    ctx = types.SimpleNamespace(inputs=lambda dataset: types.SimpleNamespace(payload=payload),
                                features=lambda model_name, dataset, layer: features,
                                model_info=lambda model_name: {"name": model.name})
    return WORLD_MAP.fit(ctx, ProbeJob(model.name, "places", 1, "ridge"))


def _probe_sweep(model):
    from interp.probing import control_task, probe_layers

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    y = np.where(X[:, 0] > 0, "a", "b")
    return probe_layers({0: X, 1: X + rng.normal(size=X.shape)}, y, groups=np.arange(80) // 4,
                        control=control_task([f"w{i % 9}" for i in range(80)], y, seed=0))


def _empty_prompt(fn_name: str, parameter: str = "prompt") -> str:
    return f"The '{parameter}' parameter of {fn_name} is empty"


def _layer(fn_name: str, parameter: str = "layer", high: str = "{n1}") -> str:
    return f"The '{parameter}' parameter of {fn_name} must be an int in [0, {high})"


ATTRIBUTION_COLUMNS = ("position", "token", "score", "target", "target_index")


def _attribution_cases() -> list[Case]:
    cases = []
    methods = {"ablation": "token_ablation", "gradient": "input_gradient", "grad_x_input": "grad_x_input",
               "integrated_gradients": "integrated_gradients", "rollout": "attention_rollout"}
    models = ["tiny-gpt2", "tiny-llama", "tiny-neox"]
    for i, (method, function) in enumerate(methods.items()):
        options = {"n_steps": 4} if method == "integrated_gradients" else {}
        cases.append(Case(
            f"attribution.{method}", (f"interp.attribution.{function}",), models[i % 3],
            lambda m, f=function, o=options: getattr(_attribution(), f)(m, PROMPT, TARGET, **o),
            lambda: _attribution().AttributionResult, ATTRIBUTION_COLUMNS,
            rows=lambda r: len(r.target_tokens) * len(r.tokens),
            bad=(Bad("empty prompt", lambda m, f=function: getattr(_attribution(), f)(m, "", TARGET), EmptyPromptError,
                     "is empty"),
                 Bad("unit", lambda m, f=function: getattr(_attribution(), f)(m, PROMPT, TARGET, unit="sentence"),
                     InvalidParameterError, "'unit'"))))
    cases += [
        Case("attribution.attribute", ("interp.attribution.attribute",), "tiny-llama",
             lambda m: _attribution().attribute(m, PROMPT, "integrated_gradients", TARGET, n_steps=4, unit="word"),
             lambda: _attribution().AttributionResult, ATTRIBUTION_COLUMNS,
             bad=(Bad("method", lambda m: _attribution().attribute(m, PROMPT, "lime"), InvalidParameterError,
                      "Unknown attribution method: 'lime'. Available methods: 'ablation'"),
                  Bad("option", lambda m: _attribution().attribute(m, PROMPT, "ablation", n_steps=3),
                      InvalidParameterError, "got unknown option(s) n_steps"))),
        Case("attribution.gradient_saliency", ("interp.attribution.gradient_saliency",), "tiny-neox",
             lambda m: _attribution().gradient_saliency(m, PROMPT, TARGET, method="grad_x_input", aggregate="sum"),
             lambda: _attribution().AttributionResult, ATTRIBUTION_COLUMNS,
             bad=(Bad("empty prompt", lambda m: _attribution().gradient_saliency(m, "   "), EmptyPromptError,
                      _empty_prompt("gradient_saliency")),
                  Bad("method", lambda m: _attribution().gradient_saliency(m, PROMPT, method="smoothgrad"),
                      InvalidParameterError, "The 'method' parameter of gradient_saliency"))),
        Case("attribution.attention_maps", ("interp.attribution.attention_maps",), "tiny-gpt2",
             lambda m: _attribution().attention_maps(m, PROMPT, layers=[0, 1]),
             lambda: _attribution().AttentionResult, ("layer", "head", "entropy", "prev_token", "first_token"),
             rows=lambda r: len(r.layers) * r.patterns.shape[1],
             bad=(Bad("empty prompt", lambda m: _attribution().attention_maps(m, ""), EmptyPromptError,
                      _empty_prompt("attention_maps")),
                  Bad("layer", lambda m: _attribution().attention_maps(m, PROMPT, layers=[5]), LayerIndexError,
                      _layer("attention_maps", high="{n}") + " (negative counts from the end). Got 5 instead."))),
        Case("attribution.faithfulness", ("interp.attribution.faithfulness",), "tiny-llama",
             lambda m: _attribution().faithfulness(m, PROMPT, _attribution().token_ablation(m, PROMPT, " dog")),
             lambda: _attribution().FaithfulnessResult, ("fraction", "count", "comprehensiveness", "sufficiency"),
             bad=(Bad("empty prompt", lambda m: _attribution().faithfulness(
                      m, "", _attribution().token_ablation(m, PROMPT, " dog")), EmptyPromptError,
                      _empty_prompt("faithfulness")),
                  Bad("fractions", lambda m: _attribution().faithfulness(
                      m, PROMPT, _attribution().token_ablation(m, PROMPT, " dog"), fractions=[2]),
                      InvalidParameterError, "The 'fractions' parameter of faithfulness must be a non-empty list"))),
        Case("attribution.compare_methods", ("interp.attribution.compare_methods",), "tiny-neox",
             lambda m: _attribution().compare_methods(m, PROMPT, " dog", n_steps=4),
             lambda: _attribution().MethodComparisonResult,
             ("method", "comprehensiveness", "comprehensiveness_low", "comprehensiveness_high", "sufficiency",
              "deletion_auc", "insertion_auc"),
             rows=lambda r: len(r.methods) + 1,  # and the random-ranking baseline
             bad=(Bad("empty prompt", lambda m: _attribution().compare_methods(m, ""), EmptyPromptError,
                      _empty_prompt("compare_methods")),
                  Bad("method", lambda m: _attribution().compare_methods(m, PROMPT, methods=["ablation", "nope"]),
                      InvalidParameterError, "Unknown attribution method: 'nope'"))),
    ]
    return cases


def _other_cases() -> list[Case]:
    from interp import probing, projection, replication

    truth = _truth()
    return [
        Case("model.top_next_tokens", ("interp.Model.top_next_tokens",), "tiny-neox",
             lambda m: m.top_next_tokens(PROMPT, k=4), lambda: interp.TopTokensResult,
             ("rank", "token", "token_id", "prob", "logit"), rows=lambda r: 4,
             bad=(Bad("empty prompt", lambda m: m.top_next_tokens(""), EmptyPromptError,
                      _empty_prompt("Model.top_next_tokens")),
                  Bad("k", lambda m: m.top_next_tokens(PROMPT, k=0), InvalidParameterError,
                      "The 'k' parameter of Model.top_next_tokens must be an int in [1, "))),
        Case("probing.probe_layers", ("interp.probing.probe_layers",), "tiny-gpt2", _probe_sweep,
             lambda: probing.ProbeSweepResult, ("layer", "accuracy", "train_accuracy", "control_accuracy", "selectivity"),
             rows=lambda r: 2,
             bad=(Bad("layers", lambda m: probing.probe_layers({0: np.zeros((8, 2))}, [0, 1] * 4, groups=range(8),
                                                                layers=[4]),
                      InvalidParameterError, "must be a non-empty subset of the activations' layers [0]. Got [4]"),
                  Bad("probe", lambda m: probing.probe_layers({0: np.zeros((8, 2))}, [0, 1] * 4, groups=range(8),
                                                               probe="svm"),
                      InvalidParameterError, "'linear' or 'mlp'"))),
        Case("probing.pos_probe", ("interp.probing.pos_probe",), "tiny-llama",
             lambda m: probing.pos_probe(m, layers=[1], max_sentences=24, random_baseline=False, progress=False),
             lambda: probing.POSProbeResult, ("layer", "accuracy", "train_accuracy", "control_accuracy", "selectivity"),
             rows=lambda r: len(r.layers),
             bad=(Bad("empty", lambda m: probing.pos_probe(m, []), EmptyPromptError, "is an empty list"),
                  Bad("layer", lambda m: probing.pos_probe(m, layers=[7], max_sentences=24), LayerIndexError,
                      _layer("pos_probe", "layers") + " (negative counts from the end). Got 7 instead."))),
        Case("projection.project", ("interp.projection.project",), "tiny-gpt2",
             lambda m: projection.project(m, ["a cat", "a dog", "Paris", "Rome", "the sea"], layer=1,
                                          labels=["x", "x", "y", "y", "z"]),
             lambda: projection.ProjectionResult, ("x", "y", "label", "hover"), rows=lambda r: 5,
             bad=(Bad("empty", lambda m: projection.project(m, [], layer=1), EmptyPromptError,
                      "The 'texts' parameter of project is an empty list"),
                  Bad("layer", lambda m: projection.project(m, ["a", "b", "c"], layer=7), LayerIndexError,
                      _layer("project") + " (negative counts from the end). Got 7 instead."))),
        Case("projection.world_map", ("interp.projection.world_map",), "tiny-neox",
             lambda m: projection.world_map(m, n_places=40, layers=[1], random_baseline=False, progress=False),
             lambda: projection.WorldMapResult, ("layer", "depth", "r2_lat", "r2_lon", "error_km", "alpha"),
             rows=lambda r: len(r.layers),
             bad=(Bad("places", lambda m: projection.world_map(m, n_places=10, layers=[1]), InvalidParameterError,
                      "at least 20 places"),
                  Bad("layer", lambda m: projection.world_map(m, n_places=40, layers=[9]), LayerIndexError,
                      _layer("world_map", "layers") + " (negative counts from the end). Got 9 instead."))),
        Case("replication.replication_table", ("interp.replication.replicate", "interp.replication.replication_table"),
             "tiny-gpt2", lambda m: replication.replication_table([m.name], quick=True, parts=["space"], progress=False),
             lambda: replication.ReplicationResult, ("paper", "paper_model", "claim", "criterion", "tiny-gpt2",
                                                     "tiny-gpt2 reproduces"),
             rows=lambda r: len(r.keys),
             bad=(Bad("parts", lambda m: replication.replicate(m, parts=["nope"]), InvalidParameterError,
                      "The 'parts' parameter of replicate must be a non-empty list of 'truth', 'space', 'pos', "
                      "'attribution'. Got ['nope'] instead."),)),
        Case("batch.world_map_layer", (), "tiny-gpt2", _world_map_layer,
             lambda: importlib.import_module("interp.projection.world").WorldMapLayerResult,
             ("layer", "r2_lat", "r2_lon", "error_km", "alpha"), rows=lambda r: 1),
        Case("truth.truth_sweep", ("interp.truth.truth_sweep",), "tiny-gpt2",
             lambda m: truth.truth_sweep(m, "facts", layers=[1, 2], probes=["lr", "mm", "ccs"], max_pairs=10,
                                         progress=False, probe_params={"ccs": CCS}),
             lambda: truth.TruthSweepResult, ("dataset", "probe", "layer", "depth_fraction", "accuracy"),
             rows=lambda r: 3 * 2,
             bad=(Bad("dataset", lambda m: truth.truth_sweep(m, "nope", max_pairs=10), InvalidDatasetError,
                      "Unknown dataset 'nope'"),
                  Bad("layer", lambda m: truth.truth_sweep(m, "facts", layers=[9], max_pairs=10), LayerIndexError,
                      _layer("truth_sweep", "layers") + " (negative counts from the end). Got 9 instead."),
                  Bad("probe", lambda m: truth.truth_sweep(m, "facts", probes=["svm"], max_pairs=10),
                      InvalidParameterError, "'svm'"))),
        Case("truth.truth_report", ("interp.truth.truth_report",), "tiny-neox",
             lambda m: truth.truth_report(m, ["facts", "sums"], layers=[1, 2], probes=["mm"], max_pairs=10,
                                          detector=False, progress=False),
             lambda: truth.TruthReport, ("dataset", "probe", "layer", "validation_accuracy", "test_accuracy", "chosen"),
             rows=lambda r: 2 * 1 * 2,
             bad=(Bad("dataset", lambda m: truth.truth_report(m, "nope", max_pairs=10), InvalidDatasetError,
                      "Unknown dataset 'nope'"),
                  Bad("val_size", lambda m: truth.truth_report(m, "facts", val_size=2, max_pairs=10),
                      InvalidParameterError, "The 'val_size' parameter of truth_report must be a float in (0, 1). Got 2."),
                  # (the message names truth_sweep, which truth_report calls: reported as a bug)
                  Bad("layer", lambda m: truth.truth_report(m, "facts", layers=[9], max_pairs=10), LayerIndexError,
                      "must be an int in [0, {n1}) (negative counts from the end). Got 9 instead."))),
        Case("truth.generalization_matrix", ("interp.truth.generalization_matrix",), "tiny-llama",
             lambda m: truth.generalization_matrix(m, ["facts", "sums"], layer=1, max_pairs=10, progress=False),
             lambda: truth.GeneralizationResult, ("train", "test", "accuracy", "auc", "seen"), rows=lambda r: 4,
             bad=(Bad("layer", lambda m: truth.generalization_matrix(m, ["facts", "sums"], layer=9, max_pairs=10),
                      LayerIndexError, _layer("generalization_matrix") + " (negative counts from the end)."),)),
        Case("truth.LieDetector.score", ("interp.truth.LieDetector.score",), "tiny-neox",
             lambda m: _detector(m).score(["Cats are mammals.", "Cats are fish.", "Snow is hot."]),
             lambda: truth.TruthScoreResult, ("text", "p_true"), rows=lambda r: 3,
             bad=(Bad("empty", lambda m: _detector(m).score(""), EmptyPromptError,
                      _empty_prompt("LieDetector.score", "texts")),
                  Bad("layer", lambda m: truth.LieDetector.fit(m, ["facts"], 9, max_pairs=10), LayerIndexError,
                      _layer("LieDetector.fit") + " (negative counts from the end). Got 9 instead."))),
        Case("truth.detect_model_lies", ("interp.truth.detect_model_lies",), "tiny-gpt2",
             lambda m: truth.detect_model_lies(m, QUESTIONS, detector=_detector(m), max_new_tokens=3),
             lambda: truth.LieDetectionResult, ("question", "expected", "honest_answer", "honest_p_true",
                                                "lie_answer", "lie_p_true"), rows=lambda r: len(QUESTIONS),
             bad=(Bad("empty", lambda m: truth.detect_model_lies(m, [], detector=_detector(m)), EmptyPromptError,
                      "The 'questions' parameter of detect_model_lies is an empty list"),)),
        Case("truth.steer_truth", ("interp.truth.steer_truth",), "tiny-llama",
             lambda m: truth.steer_truth(m, "facts", layer=1, alphas=(-1, 0, 1), max_pairs=10, n_test=4),
             lambda: truth.SteeringResult, ("alpha", "p_true_true_statements", "p_true_false_statements", "accuracy"),
             rows=lambda r: 3,
             bad=(Bad("layer", lambda m: truth.steer_truth(m, "facts", layer=9, max_pairs=10), LayerIndexError,
                      _layer("steer_truth") + " (negative counts from the end). Got 9 instead."),)),
    ]


def _ask_cases() -> list[Case]:
    from interp import ask
    from interp.errors import InvalidQuestionFileError

    return [
        Case("ask.calibrate", ("interp.ask.calibrate",), "tiny-llama",
             lambda m: ask.calibrate(m, "easy", n=8, n_boot=20, detector=_detector(m), max_new_tokens=3),
             lambda: ask.CalibrationResult, ("signal", "accuracy", "ece", "ece_mass", "brier", "auroc"),
             rows=lambda r: len(ask.SIGNALS) - 1,  # every signal but the cloze format's "option"
             bad=(Bad("questions", lambda m: ask.calibrate(m, "nope"), InvalidQuestionFileError,
                      "Unknown question set 'nope'"),)),
        Case("ask.calibrate (cloze, plain)", ("interp.ask.calibrate",), "tiny-llama",
             lambda m: ask.calibrate(m, "easy", n=6, n_boot=20, signals=("letter", "p_true"), format="cloze",
                                     prompt_style="plain"),
             lambda: ask.CalibrationResult, ("signal", "accuracy", "ece", "brier", "auroc"),
             rows=lambda r: 2,  # "option" (the cloze answer signal) and "p_true"
             bad=(Bad("format", lambda m: ask.calibrate(m, format="mc"), InvalidParameterError,
                      "The 'format' parameter of calibrate must be one of"),)),
        Case("ask.hint_faithfulness", ("interp.ask.hint_faithfulness",), "tiny-gpt2",
             lambda m: ask.hint_faithfulness(m, "easy", n=8, n_boot=20, max_new_tokens=4, attribute_items=1),
             lambda: ask.HintResult, ("condition", "accuracy", "follow_rate", "mention_rate"),
             rows=lambda r: len(ask.CONDITIONS),
             bad=(Bad("conditions", lambda m: ask.hint_faithfulness(m, conditions=["sideways"]), InvalidParameterError,
                      "The 'conditions' parameter of hint_faithfulness must name some of"),)),
        Case("ask.self_report", ("interp.ask.self_report",), "tiny-neox",
             lambda m: ask.self_report(m, "sums", n=6, detector=_detector(m), max_new_tokens=3),
             lambda: ask.SelfReportResult, ("statement", "label", "stated", "p_true", "probe_p_true"),
             rows=lambda r: len(r.statements),
             bad=(Bad("empty", lambda m: ask.self_report(m, []), EmptyPromptError,
                      "The 'statements' parameter of self_report is an empty list"),)),
    ]


def _patching_cases() -> list[Case]:
    from interp import patching

    pair = ("The capital of France is", "The capital of Italy is")
    kw = {"answer": " Paris", "wrong_answer": " Rome"}
    return [
        Case("patching.activation_patching", ("interp.patching.activation_patching",), "tiny-llama",
             lambda m: patching.activation_patching(m, *pair, sites=("resid", "head"), **kw),
             lambda: patching.PatchingResult, ("site", "layer", "position", "token", "head", "value"),
             rows=lambda r: r.resid.size + r.head.size,
             bad=(Bad("sites", lambda m: patching.activation_patching(m, *pair, sites=("neurons",), **kw),
                      InvalidParameterError, "The 'sites' parameter of activation_patching must be one of"),
                  Bad("lengths", lambda m: patching.activation_patching(m, pair[0], "Hint: Rome. " + pair[1], **kw),
                      InvalidParameterError, "differ in length"))),
        Case("patching.causal_tracing", ("interp.patching.causal_tracing",), "tiny-gpt2",
             lambda m: patching.causal_tracing(m, pair[0], "France", samples=2),
             lambda: patching.CausalTraceResult,
             ("kind", "layer", "position", "token", "is_subject", "prob", "indirect_effect"),
             rows=lambda r: sum(getattr(r, k).size for k in r.kinds),
             bad=(Bad("subject", lambda m: patching.causal_tracing(m, pair[0], "Spain"), InvalidParameterError,
                      "The 'subject' parameter of causal_tracing must occur in the prompt"),
                  Bad("samples", lambda m: patching.causal_tracing(m, pair[0], "France", samples=0),
                      InvalidParameterError, "The 'samples' parameter of causal_tracing must be an int >= 1"))),
        Case("patching.attribution_patching", ("interp.patching.attribution_patching",), "tiny-neox",
             lambda m: patching.attribution_patching(m, *pair, verify_top_k=3, **kw),
             lambda: patching.AttributionPatchingResult, ("site", "layer", "position", "token", "head", "estimate"),
             rows=lambda r: sum(getattr(r, s).size for s in r.sites),
             bad=(Bad("verify_top_k", lambda m: patching.attribution_patching(m, *pair, verify_top_k=-1, **kw),
                      InvalidParameterError, "The 'verify_top_k' parameter of attribution_patching must be an int >= 0"),
                  Bad("empty", lambda m: patching.attribution_patching(m, "", pair[1], **kw), EmptyPromptError,
                      "The 'clean' parameter of attribution_patching is empty"))),
    ]


def _lens_cases() -> list[Case]:
    lens = importlib.import_module("interp.lens")

    def fitted(m):
        return lens.fit_linear_lens(m, lens.lens_texts("fit", max_texts=20), save=False, progress=False)

    columns = ("layer", "position", "input_token", "top_token", "top_prob", "entropy", "kl_to_final", "target_rank",
               "target_prob")
    return [
        Case("lens.logit_lens", ("interp.lens.logit_lens", "interp.lens.read_lens"), "tiny-gpt2",
             lambda m: lens.logit_lens(m, PROMPT, target=TARGET, top_k=3), lambda: lens.LensResult, columns,
             rows=lambda r: len(r.layers) * len(r.input_tokens),
             bad=(Bad("empty", lambda m: lens.logit_lens(m, ""), EmptyPromptError, _empty_prompt("logit_lens")),
                  Bad("layer", lambda m: lens.logit_lens(m, PROMPT, layers=[9]), LayerIndexError,
                      _layer("logit_lens", "layers") + " (negative counts from the end). Got 9 instead."),
                  Bad("top_k", lambda m: lens.logit_lens(m, PROMPT, top_k=0), InvalidParameterError,
                      "The 'top_k' parameter of logit_lens must be an int in [1, 51). Got 0 instead."))),
        Case("lens.linear_lens", ("interp.lens.linear_lens",), "tiny-llama",
             lambda m: lens.linear_lens(m, PROMPT, lens=fitted(m), target=" Paris", layers=[0, 2]),
             lambda: lens.LensResult, columns, rows=lambda r: 2 * len(r.input_tokens),
             bad=(Bad("lens", lambda m: lens.linear_lens(m, PROMPT, lens=3), InvalidParameterError,
                      "The 'lens' parameter of linear_lens must be a LinearLens, a path or None. Got int instead."),
                  Bad("layer", lambda m: lens.linear_lens(m, PROMPT, lens=fitted(m), layers=[9]), LayerIndexError,
                      _layer("linear_lens", "layers") + " (negative counts from the end). Got 9 instead."))),
        Case("lens.lens_divergence", ("interp.lens.lens_divergence",), "tiny-neox",
             lambda m: lens.lens_divergence(m, lens.lens_texts("heldout", max_texts=10), lens=fitted(m), max_tokens=30,
                                            progress=False),
             lambda: lens.LensDivergenceResult, ("layer", "lens", "kl", "kl_low", "kl_high", "top1_agreement"),
             rows=lambda r: 2 * len(r.layers),
             bad=(Bad("empty", lambda m: lens.lens_divergence(m, []), EmptyPromptError,
                      "The 'texts' parameter of lens_divergence is an empty list"),)),
    ]


_TRAINING_RUNS: dict[str, Any] = {}


def _training_run(model):
    """A fine-tuning run of ``model`` on 8 planted-fact sentences (made once per model, in a temporary folder)."""
    import tempfile

    from interp.data_attribution import finetune, load_training_data

    if model.name not in _TRAINING_RUNS:
        data = load_training_data("planted_facts").subset(range(8), name="facts8")
        _TRAINING_RUNS[model.name] = finetune(model, data, blocks=1, epochs=4, lr=3e-3, batch_size=4, checkpoints=2,
                                              out=tempfile.mkdtemp(prefix="interp-test-run-"), progress=False)
    return _TRAINING_RUNS[model.name]


def _training_data_cases() -> list[Case]:
    def da():
        return importlib.import_module("interp.data_attribution")

    return [
        Case("data_attribution.attribute_training", ("interp.data_attribution.attribute_training",), "tiny-llama",
             lambda m: da().attribute_training(_training_run(m), "f00_pet_own_text", method="trackstar", top_k=3),
             lambda: da().TrainingAttributionResult, ("direction", "rank", "id", "score", "gold", "text"),
             rows=lambda r: 6,
             bad=(Bad("method", lambda m: da().attribute_training(_training_run(m), "f00_pet_own_text", method="lime"),
                      InvalidParameterError, "The 'method' parameter of attribute_training must be one of 'bm25'"),
                  Bad("empty", lambda m: da().attribute_training(_training_run(m), " "), EmptyPromptError,
                      "The 'query' parameter of attribute_training is empty"))),
        Case("data_attribution.evaluate_attribution", ("interp.data_attribution.evaluate_attribution",), "tiny-gpt2",
             lambda m: da().evaluate_attribution(_training_run(m), ["bm25", "grad_cos"], lds_subsets=3),
             lambda: da().AttributionEvaluationResult, ("method", "kind", "n_queries", "mrr", "recall_at_10", "lds"),
             bad=(Bad("methods", lambda m: da().evaluate_attribution(_training_run(m), []), InvalidParameterError,
                      "The 'method' parameter of evaluate_attribution is empty"),
                  Bad("lds", lambda m: da().evaluate_attribution(_training_run(m), "bm25", lds_subsets=-1),
                      InvalidParameterError, "The 'lds_subsets' parameter of evaluate_attribution must be an int >= 0"))),
    ]


CASES = {case.name: case for case in _attribution_cases() + _other_cases() + _ask_cases() + _patching_cases()
         + _lens_cases() + _training_data_cases()}
BAD = [(name, bad) for name, case in CASES.items() for bad in case.bad]


@pytest.fixture(scope="module")
def results(tiny_models):
    """Each case's result, computed once per module run (the checks below share it)."""
    cache: dict[str, Result] = {}

    def get(name: str) -> Result:
        if name not in cache:
            cache[name] = CASES[name].run(tiny_models[CASES[name].model])
        return cache[name]

    return get


# ----------------------------------------------------------------------------------------- exact equality
def _same(a: Any, b: Any, where: str) -> None:
    """Assert ``a`` and ``b`` are equal as saved values: arrays by dtype, shape and every element (NaN equal to
    NaN), JSON values by type and value (a tuple and a list are the same JSON array)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), f"{where}: {type(a)} vs {type(b)}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where, strict=True)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(map(str, a)) == list(map(str, b)), f"{where}: keys {list(a)} vs {list(b)}"
        for (key, x), y in zip(a.items(), b.values()):
            _same(x, y, f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), f"{where}: nan vs {b!r}"
    else:
        a = a.item() if isinstance(a, np.generic) else a
        assert type(a) is type(b) and a == b, f"{where}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"


def assert_results_equal(original: Result, loaded: Result) -> None:
    assert type(loaded) is type(original)
    for field in dataclasses.fields(original):
        _same(getattr(original, field.name), getattr(loaded, field.name), f"{type(original).__name__}.{field.name}")


# ----------------------------------------------------------------------------------------- registry guards
def _analyses() -> set[str]:
    """Public functions (and public methods of exported classes) whose return annotation names a Result type."""
    names = {c.__name__ for c in result_types()}
    found = set()
    for package in (interp, interp.attribution, interp.probing, interp.projection, interp.truth,
                    importlib.import_module("interp.lens"), importlib.import_module("interp.patching"),
                    importlib.import_module("interp.ask"),
                    importlib.import_module("interp.replication"), importlib.import_module("interp.data_attribution")):
        for attr in package.__all__:
            obj = getattr(package, attr)
            if inspect.isfunction(obj):
                members = [(f"{package.__name__}.{attr}", obj)]
            elif inspect.isclass(obj) and not issubclass(obj, Result) and obj.__module__.startswith("interp."):
                members = [(f"{package.__name__}.{attr}.{k}", v) for k, v in vars(obj).items()
                           if not k.startswith("_") and inspect.isfunction(v)]
            else:
                continue
            for qualname, fn in members:
                if set(re.findall(r"\w+", str(inspect.signature(fn).return_annotation))) & names:
                    found.add(qualname)
    return found


def test_every_result_type_has_a_case():
    """A new Result subclass without a row in CASES fails here (so it cannot ship unchecked)."""
    produced = {name: CASES[name].result_type() for name in CASES}
    unchecked = sorted(c.__name__ for c in result_types() - set(produced.values()))
    assert not unchecked, f"Result types without a case in tests/test_common.py CASES: {unchecked}"


def test_every_analysis_has_a_case():
    covered = {name for case in CASES.values() for name in case.covers}
    found = _analyses()
    assert len(found) >= 19  # the discovery itself works (it finds today's analyses)
    assert not found - covered, f"analyses without a case in tests/test_common.py CASES: {sorted(found - covered)}"
    assert not covered - found, f"CASES name analyses that are not public (renamed?): {sorted(covered - found)}"
    from interp.attribution import METHODS

    assert {f"attribution.{m}" for m in METHODS} <= set(CASES)


# ----------------------------------------------------------------------------------------- the checks
@pytest.mark.parametrize("name", list(CASES))
def test_returns_its_result_type(results, name):
    result = results(name)
    assert type(result) is CASES[name].result_type(), type(result)
    assert isinstance(result.summary(), str) and result.summary()


@pytest.mark.parametrize("name", list(CASES))
def test_to_frame_is_a_dataframe(results, name):
    case, result = CASES[name], results(name)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    missing = [c for c in case.columns if c not in frame.columns]
    assert not missing, f"{name}: columns {missing} missing from {list(frame.columns)}"
    if case.rows is not None:
        assert len(frame) == case.rows(result), (len(frame), case.rows(result))
    for heading, table in result.tables():
        assert isinstance(heading, str) and isinstance(table, pd.DataFrame)


@pytest.mark.parametrize("name", list(CASES))
def test_plot_is_a_figure_with_data(results, name):
    result = results(name)
    figures = [result.plot(), *result.figures()]
    for figure in figures:
        assert isinstance(figure, go.Figure) and len(figure.data) >= 1, (name, figure)
    assert figures[0].to_plotly_json()["data"] == figures[1].to_plotly_json()["data"]  # figures() starts with plot()


@pytest.mark.parametrize("name", list(CASES))
def test_repr_html_shows_the_figure_and_the_table(results, name):
    result = results(name)
    page = result._repr_html_()
    assert isinstance(page, str) and f"<b>{type(result).__name__}</b>" in page
    assert 'class="plotly-graph-div"' in page  # the figure
    assert "<table" in page and f"<th>{result.to_frame().columns[0]}</th>" in page  # the table, with its header


@pytest.mark.parametrize("name", list(CASES))
def test_save_load_round_trips_exactly(results, name, tmp_path):
    result = results(name)
    path = result.save(tmp_path / "result.json")
    assert json.loads(path.read_text())["kind"].endswith(type(result).__qualname__)
    for loaded in (Result.load(path), type(result).load(path), interp.load_result(path)):
        assert_results_equal(result, loaded)
        assert loaded == result
    pd.testing.assert_frame_equal(Result.load(path).to_frame(), result.to_frame())


@pytest.mark.parametrize("name, bad", BAD, ids=[f"{name}-{bad.label}" for name, bad in BAD])
def test_bad_input_raises_the_named_error(tiny_models, name, bad):
    model = tiny_models[CASES[name].model]
    fragment = bad.fragment.format(n=model.n_layers, n1=model.n_layers + 1)
    with pytest.raises(bad.error, match=re.escape(fragment)) as info:
        bad.call(model)
    assert type(info.value) is bad.error, f"{type(info.value).__name__} is a subclass, not exactly {bad.error.__name__}"


def test_every_case_has_bad_input_but_the_batch_internal_one():
    assert sorted(name for name, case in CASES.items() if not case.bad) == ["batch.world_map_layer"]


# ----------------------------------------------------------------------------------------- activations
def test_collect_returns_activations_that_round_trip_on_disk(tiny_models, tmp_path):
    """``collect`` is not a Result (it streams shards to a folder): its own round trip, frame and errors."""
    from interp.activations import Activations, collect

    model = tiny_models["tiny-llama"]
    texts = ["The quick brown fox", "Hi", "Paris is the capital of France"]
    memory = collect(model, texts, layers=[0, 2], position="all")
    on_disk = collect(model, texts, layers=[0, 2], position="all", out=tmp_path, shard_size=2)
    loaded = Activations.load(tmp_path)
    assert type(memory) is Activations and loaded.layers == (0, 2)
    for layer in (0, 2):
        _same(loaded[layer], on_disk[layer], f"layer {layer}")
        np.testing.assert_allclose(loaded[layer], memory[layer], atol=1e-5)
    _same(loaded.text_index, memory.text_index, "text_index")
    assert loaded.tokens == memory.tokens
    frame = loaded.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(memory) > 0
    assert list(frame.columns) == ["text_index", "token_position", "token", "word_index", "word"]
    with pytest.raises(EmptyPromptError, match=re.escape(_empty_prompt("collect", "texts"))):
        collect(model, "", layers=[1])
    with pytest.raises(LayerIndexError, match=re.escape(_layer("collect", "layers").format(n1=model.n_layers + 1))):
        collect(model, texts, layers=[9])


# ----------------------------------------------------------------------------------------- the checks can fail
def test_the_equality_check_sees_one_changed_value(results):
    """assert_results_equal is not vacuous: one element, one dtype, one string or one tuple entry differing fails it."""
    result = results("attribution.ablation")
    copy = dataclasses.replace
    changed = result.scores.copy()
    changed[0, 0] += 1e-6
    for other in (copy(result, scores=changed), copy(result, scores=result.scores.astype(np.float64)),
                  copy(result, tokens=[*result.tokens[:-1], result.tokens[-1] + " "]),
                  copy(result, metadata={**result.metadata, "extra": 1})):
        with pytest.raises(AssertionError):
            assert_results_equal(result, other)
    assert_results_equal(result, copy(result))
