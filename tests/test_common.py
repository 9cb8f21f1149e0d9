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
    return WORLD_MAP.fit(ctx, ProbeJob(model.name, "places", 1, "linear"))


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
             bad=(Bad("option", lambda m: _attribution().attribute(m, PROMPT, "ablation", n_steps=3),
                      InvalidParameterError, "got unknown option(s) n_steps"),)),
        Case("attribution.gradient_saliency", ("interp.attribution.gradient_saliency",), "tiny-neox",
             lambda m: _attribution().gradient_saliency(m, PROMPT, TARGET, method="grad_x_input", aggregate="sum"),
             lambda: _attribution().AttributionResult, ATTRIBUTION_COLUMNS),
        Case("attribution.attention_maps", ("interp.attribution.attention_maps",), "tiny-gpt2",
             lambda m: _attribution().attention_maps(m, PROMPT, blocks=[0, 1]),
             lambda: _attribution().AttentionResult, ("layer", "head", "entropy", "prev_token", "first_token"),
             rows=lambda r: len(r.layers) * r.patterns.shape[1],
             bad=(Bad("layer", lambda m: _attribution().attention_maps(m, PROMPT, blocks=[5]), LayerIndexError,
                      _layer("attention_maps", "blocks", high="{n}") + " (negative counts from the end). Got 5 instead."),)),
        Case("attribution.faithfulness", ("interp.attribution.faithfulness",), "tiny-llama",
             lambda m: _attribution().faithfulness(m, PROMPT, _attribution().token_ablation(m, PROMPT, " dog")),
             lambda: _attribution().FaithfulnessResult, ("fraction", "count", "comprehensiveness", "sufficiency")),
        Case("attribution.compare_methods", ("interp.attribution.compare_methods",), "tiny-neox",
             lambda m: _attribution().compare_methods(m, PROMPT, " dog", n_steps=4),
             lambda: _attribution().MethodComparisonResult,
             ("method", "comprehensiveness", "comprehensiveness_low", "comprehensiveness_high", "sufficiency",
              "deletion_auc", "insertion_auc"),
             rows=lambda r: len(r.methods) + 1),  # and the random-ranking baseline
    ]
    return cases


def _other_cases() -> list[Case]:
    from interp import probing, projection, replication

    truth = _truth()
    return [
        Case("model.top_next_tokens", ("interp.Model.top_next_tokens",), "tiny-neox",
             lambda m: m.top_next_tokens(PROMPT, k=4), lambda: interp.TopTokensResult,
             ("rank", "token", "token_id", "prob", "logit"), rows=lambda r: 4),
        Case("probing.probe_layers", ("interp.probing.probe_layers",), "tiny-gpt2", _probe_sweep,
             lambda: probing.ProbeSweepResult, ("layer", "accuracy", "train_accuracy", "control_accuracy", "selectivity"),
             rows=lambda r: 2,
             bad=(Bad("layers", lambda m: probing.probe_layers({0: np.zeros((8, 2))}, [0, 1] * 4, groups=range(8),
                                                                layers=[4]),
                      InvalidParameterError, "must be a non-empty subset of the activations' layers [0]. Got [4]"),)),
        Case("probing.pos_probe", ("interp.probing.pos_probe",), "tiny-llama",
             lambda m: probing.pos_probe(m, layers=[1], max_sentences=24, random_baseline=False, progress=False),
             lambda: probing.POSProbeResult, ("layer", "accuracy", "train_accuracy", "control_accuracy", "selectivity"),
             rows=lambda r: len(r.layers)),
        Case("projection.project", ("interp.projection.project",), "tiny-gpt2",
             lambda m: projection.project(m, ["a cat", "a dog", "Paris", "Rome", "the sea"], layer=1,
                                          labels=["x", "x", "y", "y", "z"]),
             lambda: projection.ProjectionResult, ("x", "y", "label", "hover"), rows=lambda r: 5),
        Case("projection.world_map", ("interp.projection.world_map",), "tiny-neox",
             lambda m: projection.world_map(m, n_places=40, layers=[1], random_baseline=False, progress=False),
             lambda: projection.WorldMapResult, ("layer", "depth", "r2_lat", "r2_lon", "error_km", "alpha"),
             rows=lambda r: len(r.layers),
             bad=(Bad("places", lambda m: projection.world_map(m, n_places=10, layers=[1]), InvalidParameterError,
                      "at least 20 places"),)),
        Case("replication.replication_table", ("interp.replication.replicate", "interp.replication.replication_table"),
             "tiny-gpt2", lambda m: replication.replication_table([m.name], quick=True, parts=["space"], progress=False),
             lambda: replication.ReplicationResult, ("paper", "paper_model", "claim", "criterion", "tiny-gpt2",
                                                     "tiny-gpt2 reproduces"),
             rows=lambda r: len(r.keys)),
        Case("batch.world_map_layer", (), "tiny-gpt2", _world_map_layer,
             lambda: importlib.import_module("interp.projection.world").WorldMapLayerResult,
             ("layer", "r2_lat", "r2_lon", "error_km", "alpha"), rows=lambda r: 1),
        Case("truth.truth_sweep", ("interp.truth.truth_sweep",), "tiny-gpt2",
             lambda m: truth.truth_sweep(m, "facts", layers=[1, 2], probes=["linear", "mm", "ccs"], max_pairs=10,
                                         progress=False, probe_params={"ccs": CCS}),
             lambda: truth.TruthSweepResult, ("dataset", "probe", "layer", "depth_fraction", "accuracy"),
             rows=lambda r: 3 * 2,
             bad=(Bad("dataset", lambda m: truth.truth_sweep(m, "nope", max_pairs=10), InvalidDatasetError,
                      "Unknown dataset 'nope'"),)),
        Case("truth.truth_report", ("interp.truth.truth_report",), "tiny-neox",
             lambda m: truth.truth_report(m, ["facts", "sums"], layers=[1, 2], probes=["mm"], max_pairs=10,
                                          detector=False, progress=False),
             lambda: truth.TruthReport, ("dataset", "probe", "layer", "validation_accuracy", "test_accuracy", "chosen"),
             rows=lambda r: 2 * 1 * 2,
             bad=(Bad("dataset", lambda m: truth.truth_report(m, "nope", max_pairs=10), InvalidDatasetError,
                      "Unknown dataset 'nope'"),)),
        Case("truth.generalization_matrix", ("interp.truth.generalization_matrix",), "tiny-llama",
             lambda m: truth.generalization_matrix(m, ["facts", "sums"], layer=1, max_pairs=10, progress=False),
             lambda: truth.GeneralizationResult, ("train", "test", "accuracy", "auc", "seen"), rows=lambda r: 4),
        Case("truth.LieDetector.score", ("interp.truth.LieDetector.score",), "tiny-neox",
             lambda m: _detector(m).score(["Cats are mammals.", "Cats are fish.", "Snow is hot."]),
             lambda: truth.TruthScoreResult, ("text", "p_true"), rows=lambda r: 3,
             bad=(Bad("layer", lambda m: truth.LieDetector.fit(m, ["facts"], 9, max_pairs=10), LayerIndexError,
                      _layer("LieDetector.fit") + " (negative counts from the end). Got 9 instead."),)),
        Case("truth.detect_model_lies", ("interp.truth.detect_model_lies",), "tiny-gpt2",
             lambda m: truth.detect_model_lies(m, QUESTIONS, detector=_detector(m), max_new_tokens=3),
             lambda: truth.LieDetectionResult, ("question", "expected", "honest_answer", "honest_p_true",
                                                "lie_answer", "lie_p_true"), rows=lambda r: len(QUESTIONS),
             bad=(Bad("empty", lambda m: truth.detect_model_lies(m, [], detector=_detector(m)), EmptyPromptError,
                      "The 'questions' parameter of detect_model_lies is an empty list"),)),
        Case("truth.steer_truth", ("interp.truth.steer_truth",), "tiny-llama",
             lambda m: truth.steer_truth(m, "facts", layer=1, alphas=(-1, 0, 1), max_pairs=10, n_test=4),
             lambda: truth.SteeringResult, ("alpha", "p_true_true_statements", "p_true_false_statements", "accuracy"),
             rows=lambda r: 3),
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
             rows=lambda r: len(ask.CONDITIONS)),
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
             bad=(Bad("lengths", lambda m: patching.activation_patching(m, pair[0], "Hint: Rome. " + pair[1], **kw),
                      InvalidParameterError, "differ in length"),)),
        Case("patching.causal_tracing", ("interp.patching.causal_tracing",), "tiny-gpt2",
             lambda m: patching.causal_tracing(m, pair[0], "France", samples=2),
             lambda: patching.CausalTraceResult,
             ("kind", "layer", "position", "token", "is_subject", "prob", "indirect_effect"),
             rows=lambda r: sum(getattr(r, k).size for k in r.kinds),
             bad=(Bad("subject", lambda m: patching.causal_tracing(m, pair[0], "Spain"), InvalidParameterError,
                      "The 'subject' parameter of causal_tracing must occur in the prompt"),)),
        Case("patching.attribution_patching", ("interp.patching.attribution_patching",), "tiny-neox",
             lambda m: patching.attribution_patching(m, *pair, verify_top_k=3, **kw),
             lambda: patching.AttributionPatchingResult, ("site", "layer", "position", "token", "head", "estimate"),
             rows=lambda r: sum(getattr(r, s).size for s in r.sites)),
        Case("patching.pairs", (), "tiny-llama",  # the patching batch task's result, from activation_patching's list
             lambda m: importlib.import_module("interp.patching.batch").PatchingPairsResult.from_pairs(
                 patching.activation_patching(m, list(pair), list(pair[::-1]), sites=("resid", "head"),
                                              target=[interp.Target(" Paris", foil=" Rome"),
                                                      interp.Target(" Rome", foil=" Paris")])),
             lambda: importlib.import_module("interp.patching.batch").PatchingPairsResult,
             ("site", "layer", "restored", "restored_low", "restored_high", "n_pairs"),
             rows=lambda r: r.resid.shape[1] + r.head.shape[1]),
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
             rows=lambda r: len(r.layers) * len(r.input_tokens)),
        Case("lens.linear_lens", ("interp.lens.linear_lens",), "tiny-llama",
             lambda m: lens.linear_lens(m, PROMPT, lens=fitted(m), target=" Paris", layers=[0, 2]),
             lambda: lens.LensResult, columns, rows=lambda r: 2 * len(r.input_tokens)),
        Case("lens.lens_divergence", ("interp.lens.lens_divergence",), "tiny-neox",
             lambda m: lens.lens_divergence(m, lens.lens_texts("heldout", max_texts=10), lens=fitted(m), max_tokens=30,
                                            progress=False),
             lambda: lens.LensDivergenceResult, ("layer", "lens", "kl", "kl_low", "kl_high", "top1_agreement"),
             rows=lambda r: 2 * len(r.layers)),
        Case("lens.fit_result", (), "tiny-gpt2",  # the lens_fit batch task's result, from a fitted lens
             lambda m: importlib.import_module("interp.lens.batch").LensFitResult.from_lens(fitted(m)),
             lambda: importlib.import_module("interp.lens.batch").LensFitResult,
             ("layer", "ridge", "val_error", "val_error_identity", "improvement"), rows=lambda r: r.weight.shape[0]),
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
             bad=(Bad("empty", lambda m: da().attribute_training(_training_run(m), " "), EmptyPromptError,
                      "The 'query' parameter of attribute_training is empty"),)),
        Case("data_attribution.evaluate_attribution", ("interp.data_attribution.evaluate_attribution",), "tiny-gpt2",
             lambda m: da().evaluate_attribution(_training_run(m), ["bm25", "grad_cos"], lds_subsets=3),
             lambda: da().AttributionEvaluationResult, ("method", "kind", "n_queries", "mrr", "recall_at_10", "lds")),
    ]


def _circuit_cases() -> list[Case]:
    def circuits():
        return importlib.import_module("interp.circuits")

    def task():
        return circuits().make_task("capitals", n=2, seed=0)

    return [
        Case("circuits.direct_logit_attribution", ("interp.circuits.direct_logit_attribution",), "tiny-gpt2",
             lambda m: circuits().direct_logit_attribution(m, task(), top_neurons=3), lambda: circuits().DLAResult,
             ("component", "kind", "layer", "head", "mean", "mean_low", "mean_high", "share"),
             rows=lambda r: len(r.components),
             bad=(Bad("answer", lambda m: circuits().direct_logit_attribution(m, PROMPT, answer=" dog and"),
                      InvalidParameterError, "The 'answer' parameter of direct_logit_attribution must be one token"),
                  Bad("empty", lambda m: circuits().direct_logit_attribution(m, "", answer=" dog"), EmptyPromptError,
                      _empty_prompt("direct_logit_attribution", "prompts")))),
        Case("circuits.edge_attribution_patching", ("interp.circuits.edge_attribution_patching",), "tiny-llama",
             lambda m: circuits().edge_attribution_patching(m, task(), method="eap", sizes=[4], n_random=1,
                                                            progress=False),
             lambda: circuits().EdgeAttributionResult, ("source", "target", "score", "rank"),
             rows=lambda r: r.n_edges,
             bad=(Bad("method", lambda m: circuits().edge_attribution_patching(m, task(), method="acdc"),
                      InvalidParameterError, "The 'method' parameter of edge_attribution_patching must be one of"),
                  Bad("steps", lambda m: circuits().edge_attribution_patching(m, task(), steps=0),
                      InvalidParameterError, "The 'steps' parameter of edge_attribution_patching must be an int"))),
    ]


def _features():
    return importlib.import_module("interp.features")


def _random_sae(model, layer: int = 1, d_sae: int = 32, k: int = 4):
    """A TopK SAE with random unit decoder rows and a tied encoder on ``layer`` of ``model``."""
    from interp.layers import layer_hook_name

    W_dec = np.random.default_rng(0).normal(size=(d_sae, model.d_model)).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    return _features().SparseAutoencoder(W_dec.T.copy(), np.zeros(d_sae), W_dec, np.zeros(model.d_model), k=k,
                                         hook_name=layer_hook_name(layer), layer=layer)


SAE_TEXTS = ["The cat sat on the mat and the cat slept.", "A dog ran to the park with a cat.",
             "My cat likes fish; the dog likes bones.", "They saw a cat near the old red barn."]


def _busiest_feature_dashboard(model):
    f = _features()
    sae = _random_sae(model)
    store = f.feature_store(model, sae, SAE_TEXTS, progress=False)
    return f.feature_dashboard(model, sae, int(store.firing_counts().argmax()), store=store, top_n=5)


def _sae_layer(model):
    """What a batch run's SAE task writes per layer (interp.features.train.SAE_TRAINING.fit), on a tiny model."""
    from interp.activations import collect
    from interp.batch.jobs import ProbeJob
    from interp.features.train import SAE_TRAINING

    acts = collect(model, SAE_TEXTS * 2, layers=[1], position="all")
    ctx = types.SimpleNamespace(features=lambda model_name, dataset, layer: acts[layer],
                                activations=lambda model_name, dataset: acts,
                                model_info=lambda model_name: {"name": model.name},
                                spec=types.SimpleNamespace(seed=0, probe={"k": 4, "width": 32, "batch_size": 32}))
    return SAE_TRAINING.fit(ctx, ProbeJob(model.name, "corpus", 1, "topk"))


def _features_cases() -> list[Case]:
    f = _features
    annotations = [{"text": t, "words": t.replace(";", " ;").replace(".", " .").split(),
                    "labels": [["animal"] if w in ("cat", "dog") else [] for w in
                               t.replace(";", " ;").replace(".", " .").split()]} for t in SAE_TEXTS]
    return [
        Case("features.train_sae", ("interp.features.train_sae",), "tiny-gpt2",
             lambda m: f().train_sae(m, SAE_TEXTS * 3, 1, k=4, width=32, batch_size=32, progress=False),
             lambda: f().SAETrainingResult, ("step", "tokens", "fvu", "explained_variance", "l0", "dead_fraction"),
             bad=(Bad("kind", lambda m: f().train_sae(m, SAE_TEXTS, 1, kind="gated"), InvalidParameterError,
                      "The 'kind' parameter of train_sae must be one of"),)),
        Case("features.sae_layer", (), "tiny-llama", _sae_layer,
             lambda: importlib.import_module("interp.features.train").SAELayerResult,
             ("layer", "kind", "n_tokens", "explained_variance", "explained_variance_low", "explained_variance_high",
              "l0", "dead_fraction"), rows=lambda r: 1),
        Case("features.evaluate_sae", ("interp.features.evaluate_sae",), "tiny-llama",
             lambda m: f().evaluate_sae(m, _random_sae(m), SAE_TEXTS, progress=False),
             lambda: f().SAEEvaluationResult, ("metric", "estimate", "low", "high"), rows=lambda r: 5,
             bad=(Bad("sae", lambda m: f().evaluate_sae(m, "sae", SAE_TEXTS), InvalidParameterError,
                      "The 'sae' parameter of evaluate_sae must be a SparseAutoencoder"),)),
        Case("features.feature_dashboard", ("interp.features.feature_dashboard",), "tiny-neox",
             _busiest_feature_dashboard, lambda: f().FeatureDashboard,
             ("rank", "activation", "token", "left", "right", "text_index", "position"),
             bad=(Bad("feature", lambda m: f().feature_dashboard(m, _random_sae(m), 32, SAE_TEXTS),
                      InvalidParameterError, "The 'feature' parameter of feature_dashboard must be an int in [0, 32)"),)),
        Case("features.label_features", ("interp.features.label_features",), "tiny-gpt2",
             lambda m: f().label_features(m, _random_sae(m), annotations, top_n=10, progress=False),
             lambda: f().FeatureLabelsResult,
             ("feature", "n_fires", "label", "precision", "precision_low", "precision_high", "recall", "labelled"),
             bad=(Bad("empty", lambda m: f().label_features(m, _random_sae(m), []), InvalidParameterError,
                      "The 'annotations' parameter of label_features must be a non-empty list"),
                  Bad("annotation", lambda m: f().label_features(m, _random_sae(m), [{"text": "a b", "words": ["a"]}]),
                      InvalidParameterError, "Annotation 0 given to label_features must be a dict with"))),
        Case("features.feature_attribution", ("interp.features.feature_attribution",), "tiny-llama",
             lambda m: f().feature_attribution(m, _random_sae(m), PROMPT, " dog", top_k=5, verify=3),
             lambda: f().FeatureAttributionResult,
             ("feature", "attribution", "predicted_change", "ablation_effect", "top_token"), rows=lambda r: 5,
             bad=(Bad("empty", lambda m: f().feature_attribution(m, _random_sae(m), "", " dog"), EmptyPromptError,
                      "feature_attribution"),)),
        Case("features.steer_with_feature", ("interp.features.steer_with_feature",), "tiny-gpt2",
             lambda m: f().steer_with_feature(m, _random_sae(m), 0, PROMPT, strengths=[0.0, 5.0], max_new_tokens=3),
             lambda: f().FeatureSteeringResult, ("strength", "completion"), rows=lambda r: 2,
             bad=(Bad("strengths", lambda m: f().steer_with_feature(m, _random_sae(m), 0, PROMPT, strengths=[]),
                      InvalidParameterError, "The 'strengths' parameter of steer_with_feature"),)),
        Case("features.probe_feature_cosines", ("interp.features.probe_feature_cosines",), "tiny-neox",
             lambda m: f().probe_feature_cosines(_random_sae(m), {"planted": _random_sae(m).W_dec[3].numpy()},
                                                 top_k=4),
             lambda: f().ProbeFeatureResult, ("probe", "rank", "feature", "cosine"), rows=lambda r: 4,
             bad=(Bad("probe", lambda m: f().probe_feature_cosines(_random_sae(m), {"p": np.zeros(3)}),
                      InvalidParameterError, "must be a non-zero"),)),
    ]


def _control_vector_round_trip(vector):
    import tempfile
    from pathlib import Path

    from interp import steering

    with tempfile.TemporaryDirectory() as folder:
        return steering.load_vector(steering.export_control_vector(vector, Path(folder) / "v.gguf"))  # -> load_control_vector


def _steering_vector(model):
    """A steering vector of ``model`` at layer 1 (from two contrast pairs)."""
    from interp import steering

    return steering.steering_vector(model, ["Il fait beau.", "Bonjour"], ["The weather is nice.", "Hello"], layers=[1])


def _steering_cases() -> list[Case]:
    from interp import steering
    from interp.errors import InvalidProbeFileError

    pos, neg = ["Il fait beau.", "Le chat dort.", "Je suis content."], ["It is sunny.", "The cat sleeps.", "I am glad."]

    def vector(m):
        return steering.steering_vector(m, pos, neg, layers=[1, 2], concept="french")

    return [
        Case("steering.steering_vector", ("interp.steering.steering_vector",), "tiny-gpt2", vector,
             lambda: steering.SteeringVector, ("layer", "norm", "pairs_ordered", "pairs_ordered_low",
                                               "pairs_ordered_high"), rows=lambda r: 2,
             bad=(Bad("pairs", lambda m: steering.steering_vector(m, pos, neg[:2], layers=1), InvalidParameterError,
                      "must be contrast pairs of equal length. Got 3 positives and 2 negatives"),
                  Bad("layer", lambda m: steering.steering_vector(m, pos, neg, layers=[9]), LayerIndexError,
                      "The 'layers' parameter of steering_vector must be an int in [0, {n1})"),
                  Bad("method", lambda m: steering.steering_vector(m, pos, neg, layers=1, method="svm"),
                      InvalidParameterError, "The 'method' parameter of steering_vector must be one of"))),
        Case("steering.load_control_vector", ("interp.steering.load_control_vector", "interp.steering.load_vector"),
             "tiny-llama",
             lambda m: _control_vector_round_trip(steering.steering_vector(m, pos, neg, layers=2, method="pca")),
             lambda: steering.SteeringVector, ("layer", "norm"), rows=lambda r: 1,
             bad=(Bad("missing", lambda m: steering.load_control_vector("/nonexistent/x.gguf"), InvalidProbeFileError,
                      "is not a control-vector file: no such file"),)),
        Case("steering.steer", ("interp.steering.steer",), "tiny-llama",
             lambda m: steering.steer(m, ["Tell me about Paris.", "Hello"], vector(m), 4.0, max_new_tokens=3,
                                      scorer="french"),
             lambda: steering.SteeredGenerations, ("prompt", "strength", "generation", "score"), rows=lambda r: 4,
             bad=(Bad("empty", lambda m: steering.steer(m, " ", vector(m), 1.0), EmptyPromptError,
                      "The 'prompt' parameter of steer is empty"),
                  Bad("strength", lambda m: steering.steer(m, "Hi", vector(m), float("nan")), InvalidParameterError,
                      "The 'strength' parameter of steer must be a float in (-inf, inf) or a non-empty list"))),
        Case("steering.steering_sweep", ("interp.steering.steering_sweep",), "tiny-neox",
             lambda m: steering.steering_sweep(m, vector(m), ["Tell me about Paris.", "Hello there"], [1.0, 4.0],
                                               scorer="sentiment", neutral_texts=["The river runs north.",
                                                                                  "A week has seven days."],
                                               max_new_tokens=3, n_resamples=50),
             lambda: steering.SteeringSweepResult,
             ("strength", "rate", "rate_low", "rate_high", "kl", "kl_low", "kl_high", "ppl", "ppl_low", "ppl_high",
              "ppl_ratio", "ppl_ratio_low", "ppl_ratio_high"), rows=lambda r: 3,
             bad=(Bad("scorer", lambda m: steering.steering_sweep(m, vector(m), ["Hi"], [1.0], scorer="german"),
                      InvalidParameterError, "The 'scorer' parameter of steering_sweep must be one of"),
                  Bad("ratio", lambda m: steering.steering_sweep(m, vector(m), ["Hi"], [1.0], scorer="french",
                                                                 max_ppl_ratio=0.5),
                      InvalidParameterError, "The 'max_ppl_ratio' parameter of steering_sweep must be a float >= 1"))),
    ]


CASES = {case.name: case for case in _attribution_cases() + _other_cases() + _ask_cases() + _patching_cases()
         + _lens_cases() + _training_data_cases() + _circuit_cases() + _features_cases() + _steering_cases()}
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
def _public_surfaces() -> list[types.ModuleType]:
    """``interp`` itself, every package under it and every top-level module: what defines the public names (its
    ``__all__``). Found by walking the package, so a new subpackage or module is included without a line here."""
    _import_all_of_interp()
    surfaces = [interp]
    for module in pkgutil.walk_packages(interp.__path__, "interp."):
        if module.name.endswith(".__main__") or module.name == "interp.probes":
            continue
        if module.name.count(".") == 1:  # interp.<area>: a package's sub-packages (interp.truth.sweep) re-export through it
            surfaces.append(importlib.import_module(module.name))
    return surfaces


def _discover() -> dict[str, Callable[..., Any]]:
    """Public functions (and public methods of exported classes) whose return annotation names a Result type, by the
    first public path that exports them (``interp.attribution.token_ablation``, ``interp.Model.top_next_tokens``)."""
    names = {c.__name__ for c in result_types()}
    found: dict[Callable[..., Any], str] = {}
    for package in _public_surfaces():
        for attr in getattr(package, "__all__", ()):
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
                    found.setdefault(fn, qualname)
    return {qualname: fn for fn, qualname in found.items()}


ANALYSES = _discover()


def _analyses() -> set[str]:
    return set(ANALYSES)


def _resolve(path: str) -> Any:
    """The object at a public path such as ``interp.truth.LieDetector.score``."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    for part in parts[i:]:
        obj = getattr(obj, part)
    return obj


def test_every_result_type_has_a_case():
    """A new Result subclass without a row in CASES fails here (so it cannot ship unchecked)."""
    produced = {name: CASES[name].result_type() for name in CASES}
    unchecked = sorted(c.__name__ for c in result_types() - set(produced.values()))
    assert not unchecked, f"Result types without a case in tests/test_common.py CASES: {unchecked}"


def test_every_analysis_has_a_case():
    covered = {_resolve(name): name for case in CASES.values() for name in case.covers}
    found = {fn: name for name, fn in ANALYSES.items()}
    assert len(found) >= 35  # the discovery itself works (it finds today's analyses)
    missing = sorted(name for fn, name in found.items() if fn not in covered)
    assert not missing, f"analyses without a case in tests/test_common.py CASES: {missing}"
    stale = sorted(name for fn, name in covered.items() if fn not in found)
    assert not stale, f"CASES name analyses that are not public (renamed?): {stale}"
    from interp.attribution import METHODS

    assert {f"attribution.{m}" for m in METHODS} <= set(CASES)


def test_every_package_exports_its_names():
    """Discovery reads ``__all__``: a package without one would hide its analyses from every check here."""
    without = [m.__name__ for m in _public_surfaces() if m.__name__ != "interp" and hasattr(m, "__path__")
               and not hasattr(m, "__all__")]
    assert not without, f"packages without __all__ (their analyses would escape tests/test_common.py): {without}"


def test_no_analysis_hides_in_an_unexported_module():
    """A function anywhere under interp/ that takes a model first and returns a Result is exported (so discovered)."""
    names = {c.__name__ for c in result_types()}
    exported = set(ANALYSES.values())
    hidden = []
    for module in pkgutil.walk_packages(interp.__path__, "interp."):
        if any(part.startswith("_") for part in module.name.split(".")) or module.name == "interp.probes":
            continue  # private modules (building blocks) and the deprecated alias
        for attr, fn in vars(importlib.import_module(module.name)).items():
            if attr.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.name:
                continue
            params = list(inspect.signature(fn).parameters)
            returns = set(re.findall(r"\w+", str(inspect.signature(fn).return_annotation)))
            if params[:1] == ["model"] and returns & names and fn not in exported:
                hidden.append(f"{fn.__module__}.{fn.__qualname__}")
    assert not hidden, f"analyses exported by no package __all__: {sorted(set(hidden))}"


# ----------------------------------------------------------------------------------------- bad inputs from the tables
#: The model every generated call gets (validation runs before any work, so one architecture is enough).
TABLE_MODEL = "tiny-gpt2"


def _bad_values(constraint: Any, model: Any, context: dict[str, Any]) -> list[tuple[str, Any, type[InterpError]]]:
    """One bad value per constraint kind: ``(label, value, named error)``. A new kind without a row fails here."""
    kind = constraint.kind
    if kind == "interval":
        left, right = constraint.bounds(context)
        if left is not None:
            value = left if constraint.closed in ("right", "neither") else left - 1
        elif right is not None:
            value = right if constraint.closed in ("left", "neither") else right + 1
        else:
            value = "seven"
        return [(f"interval:{value!r}", value, InvalidParameterError)]
    if kind == "options":
        return [("options", "no-such-choice", InvalidParameterError)]
    if kind == "subset":
        return [("subset", ["no-such-choice"], InvalidParameterError)]
    if kind == "layer":
        return [("layer", model.n_layers + 5, LayerIndexError)]
    if kind == "layers":
        return [("layers", [model.n_layers + 5], LayerIndexError)]
    if kind == "text":
        return [("text", "   ", EmptyPromptError)]
    if kind == "texts":
        return [("texts", [], EmptyPromptError)]
    if kind == "list_of":
        inner = _bad_values(constraint.item, model, context)
        return [("list_of", [inner[0][1]] if inner else [], InvalidParameterError)]
    if kind in ("model", "boolean", "callable", "path", "progress", "type"):
        return [(kind, object() if kind in ("type", "path") else 3.5, InvalidParameterError)]
    if kind in ("none", "no_validation"):
        return []
    raise AssertionError(f"constraint kind {kind!r} ({constraint!r}) has no bad value in tests/test_common.py: add one "
                         "to _bad_values")


#: Values for required parameters whose table entry is a type no generic value satisfies.
REQUIRED = {("interp.attribution.faithfulness", "result"): lambda m: _attribution().token_ablation(m, PROMPT, " dog"),
            ("interp.circuits.edge_attribution_patching", "task"):
                lambda m: importlib.import_module("interp.circuits").make_task("capitals", n=2, seed=0),
            ("interp.features.probe_feature_cosines", "probes"): lambda m: {"p": np.ones(m.d_model)},
            ("interp.features.feature_dashboard", "feature"): lambda m: 0,
            ("interp.steering.steer", "vector"): lambda m: _steering_vector(m),
            ("interp.steering.steering_sweep", "vector"): lambda m: _steering_vector(m),
            ("interp.steering.steering_sweep", "strengths"): lambda m: [0.0, 2.0],
            ("interp.features.steer_with_feature", "feature"): lambda m: 0,
            **{(f"interp.features.{fn}", "sae"): lambda m: _random_sae(m)
               for fn in ("evaluate_sae", "feature_dashboard", "label_features", "feature_attribution",
                          "steer_with_feature", "probe_feature_cosines")}}


_REQUIRED_MADE: dict[tuple[str, str, str], Any] = {}


def _required(name: str, param: str, model: Any) -> Any:
    """``REQUIRED[name, param](model)``, made once per model: a refused call never reaches it (the table stops at the
    bad value first), so every generated case of ``name`` can share it (a token ablation, a steering vector)."""
    key = (name, param, model.name)
    if key not in _REQUIRED_MADE:
        _REQUIRED_MADE[key] = REQUIRED[name, param](model)
    return _REQUIRED_MADE[key]


def _good_value(constraint: Any, model: Any) -> Any:
    """A value that passes ``constraint`` (for a required parameter beside the bad one); None if there is none."""
    kind = constraint.kind
    if kind == "type":
        samples = {str: PROMPT, int: 1, list: [PROMPT], tuple: (PROMPT,), dict: {}}
        return next((samples[t] for t in constraint.types if t in samples), None)
    return {"model": model, "text": PROMPT, "texts": PROMPT, "layer": 1, "layers": [1], "boolean": False,
            "options": getattr(constraint, "choices", (None,))[0], "subset": list(getattr(constraint, "choices", ()))[:1],
            }.get(kind, None)


def _generated_bad_inputs() -> list[tuple[str, str, str]]:
    """``(analysis, parameter, label)`` for every constraint of every analysis's table (labels made at run time)."""
    from interp._params import constraints_of

    out = []
    for name, fn in sorted(ANALYSES.items()):
        for param, entry in constraints_of(fn).items():
            for i, constraint in enumerate(entry):
                if constraint.kind not in ("none", "no_validation"):
                    out.append((name, param, f"{i}:{constraint.kind}"))
    return out


GENERATED = _generated_bad_inputs()


def _arguments(fn: Callable[..., Any], model: Any, param: str, value: Any, name: str) -> tuple[list, dict]:
    """``fn``'s arguments with ``param=value``, every other required parameter a value its table accepts (or None where
    the table does not check it: validation stops at the bad value before any work), the rest at their defaults."""
    from interp._params import constraints_of

    table = constraints_of(fn)
    args, kwargs = [], {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self":
            args.append(model if hasattr(model, "top_next_tokens") and "Model" in fn.__qualname__ else None)
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == param:
            given = value
        elif (name, p.name) in REQUIRED:
            given = _required(name, p.name, model)
        elif p.default is p.empty and p.name.startswith("model"):  # project(model_or_vectors, ...)
            given = model
        elif p.default is p.empty:
            given = next((g for g in (_good_value(c, model) for c in table[p.name]) if g is not None), None)
        else:
            continue
        if p.kind is p.POSITIONAL_ONLY:
            args.append(given)
        else:
            kwargs[p.name] = given
    return args, kwargs


def test_every_analysis_declares_a_table():
    """Each analysis validates from one table (``interp._params.validate_params``) that names every parameter."""
    from interp._params import constraints_of

    without = sorted(name for name, fn in ANALYSES.items() if not constraints_of(fn))
    assert not without, f"analyses without a validation table (@validate_params): {without}"
    assert len(GENERATED) >= 150  # every table yields its bad inputs


def test_defaults_satisfy_the_tables(tiny_models):
    from interp._params import check_param, constraints_of

    model = tiny_models[TABLE_MODEL]
    for name, fn in ANALYSES.items():
        table = constraints_of(fn)
        for p in inspect.signature(fn).parameters.values():
            if p.name in table and p.default is not p.empty:
                check_param(p.default, table[p.name], name=p.name, where=name, context={"model": model, "self": model})


@pytest.mark.parametrize("name, param, label", GENERATED, ids=[f"{n}-{p}-{lbl}" for n, p, lbl in GENERATED])
def test_table_bad_input_raises_the_named_error(tiny_models, name, param, label):
    """One bad value per constraint of the table, alone among valid arguments: the named error, before any work, naming
    the parameter and the function (or, for a registry, "Unknown ...: ... (the 'p' parameter of f)")."""
    from interp._params import constraints_of

    fn, model = ANALYSES[name], tiny_models[TABLE_MODEL]
    entry = constraints_of(fn)[param]
    constraint = entry[int(label.split(":")[0])]
    where = fn.__qualname__
    tried = 0
    for bad_label, value, error in _bad_values(constraint, model, {"model": model, "self": model}):
        args, kwargs = _arguments(fn, model, param, value, name)
        context = inspect.signature(fn).bind(*args, **kwargs).arguments
        if any(c.is_satisfied_by(value, context) for c in entry):  # another constraint of the entry accepts it
            continue
        tried += 1
        with model.count_passes() as passes, pytest.raises(InterpError) as info:
            fn(*args, **kwargs)
        assert passes.passes == 0, (bad_label, f"{passes.passes} forward pass(es) ran before the refusal")
        message = str(info.value)
        assert type(info.value) is error or (error is InvalidParameterError and type(info.value) is constraint.error), (
            bad_label, type(info.value).__name__, message)
        assert f"{param!r} parameter of {where}" in message, (bad_label, message)
        says = {"layer": "must be an int in [0, ", "layers": "must be an int in [0, ", "text": "is empty",
                "texts": "is an empty list"}.get(constraint.kind)
        if says is None and not getattr(constraint, "noun", None) and not getattr(getattr(constraint, "_options", None),
                                                                                   "noun", None):
            says = constraint.describe(context) if constraint.kind == "interval" else constraint.describe()
        assert says is None or says in message, (says, message)  # says what is allowed
        assert "Got" in message or "Unknown" in message or "empty" in message, message  # and what was given
    assert tried, f"no bad value tried for {name}({param}) {constraint!r}"


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


def test_every_analysis_gets_bad_inputs_from_its_table():
    """The bad inputs come from the tables (:func:`test_table_bad_input_raises_the_named_error`); the few hand-written
    ones in CASES check what a table cannot state (an unknown dataset, prompts of different lengths, ...)."""
    generated = {name for name, _, _ in GENERATED}
    assert set(ANALYSES) <= generated, sorted(set(ANALYSES) - generated)


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


# ----------------------------------------------------------------------------------------- the table vocabulary
def test_a_table_must_name_every_parameter_and_only_them():
    from interp._params import Interval, validate_params

    with pytest.raises(TypeError, match=r"missing \['b'\], unknown \[\]"):
        validate_params({"a": [Interval(int, 0, None)]})(lambda a, b=1: a)
    with pytest.raises(TypeError, match=r"unknown \['c'\]"):
        validate_params({"a": [int], "c": [int]})(lambda a: a)
    with pytest.raises(TypeError, match="Unknown parameter constraint 'nope'"):
        validate_params({"a": ["nope"]})


def test_messages_say_what_is_allowed_and_what_was_given(tiny_models):
    from interp._params import Attr, Interval, Options, Subset, constraints_of, options_of, validate_params

    @validate_params({"model": ["model"], "k": [Interval(int, 1, Attr("d_vocab", plus=1)), None],
                      "p": [Interval(float, 0, 1, closed="neither")], "how": [Options(("a", "b"), deprecated=("old",))],
                      "parts": [Subset(("x", "y"), single=True, noun="part")]})
    def f(model, k=None, p=0.5, how="a", parts="x"):
        return k

    model = tiny_models["tiny-gpt2"]
    assert f(model, k=3, how="old") == 3  # a deprecated name is accepted, never listed
    assert options_of(f, "how") == ("a", "b") and set(constraints_of(f)) == {"model", "k", "p", "how", "parts"}
    cases = [({"k": 0}, f"The 'k' parameter of {f.__qualname__} must be an int in [1, {model.d_vocab + 1}) or None. "
                        "Got 0 instead."),
             ({"p": 1}, "must be a float in (0, 1). Got 1 instead."),
             ({"p": True}, "must be a float in (0, 1). Got True instead."),
             ({"how": "c"}, "must be one of 'a' or 'b'. Got 'c' instead."),
             ({"how": "bb"}, "Got 'bb' instead. Did you mean 'b'?"),
             ({"parts": ["x", "z"]}, "Unknown part: 'z'. Available parts: 'x' or 'y' (the 'parts' parameter of")]
    for kwargs, message in cases:
        with pytest.raises(InvalidParameterError) as info:
            f(model, **kwargs)
        assert message in str(info.value), (kwargs, str(info.value))
    with pytest.raises(InvalidParameterError, match=re.escape("must be an interp.Model (from interp.load_model). "
                                                              "Got 'gpt2' instead.")):
        f("gpt2")


def test_the_table_runs_before_any_work(tiny_models, monkeypatch):
    """A bad argument fails before the model is touched (its forward pass would be the first work)."""
    model = tiny_models["tiny-llama"]
    calls = []
    monkeypatch.setattr(type(model), "encode", lambda *a, **k: calls.append(a))
    with pytest.raises(InvalidParameterError, match="'top_k' parameter of logit_lens"):
        importlib.import_module("interp.lens").logit_lens(model, PROMPT, top_k=99)
    assert calls == []


# ----------------------------------------------------------------------------------------- the CLI reads the tables
CLI_CHOICES = [  # (arguments before the bad choice, option, function, parameter)
    (["probe", "pos", "--out", "{tmp}"], "--probe", "interp.probing.pos_probe", "probe"),
    (["probe", "pos", "--out", "{tmp}"], "--corpus", "interp.probing.pos_probe", "corpus"),
    (["map", "world", "--out", "{tmp}"], "--probe", "interp.projection.world_map", "probe"),
    (["project", "{tmp}/../texts.txt", "--out", "{tmp}"], "--method", "interp.projection.project", "method"),
    (["probe", "truth", "--out", "{tmp}"], "--center", "interp.truth.truth_report", "center"),
    (["attribute", "Hello"], "--method", "interp.attribution.attribute", "method"),
    (["attribute", "Hello"], "--unit", "interp.attribution.gradient_saliency", "unit"),
    (["patch", "a b", "a c", "--answer", " b"], "--metric", "interp.patching.activation_patching", "metric"),
    (["atp", "a b", "a c", "--answer", " b"], "--method", "interp.patching.attribution_patching", "method"),
]


@pytest.fixture
def no_model_loads(monkeypatch):
    import interp.models.loading as loading

    loaded: list = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    return loaded


@pytest.mark.parametrize("args, option, fn, param", CLI_CHOICES, ids=[f"{a[0]}-{o}" for a, o, _, _ in CLI_CHOICES])
def test_cli_choices_are_the_tables(no_model_loads, tmp_path, args, option, fn, param):
    from typer.testing import CliRunner

    from interp._params import options_of
    from interp.cli import app
    from interp.errors import choices_text

    (tmp_path / "texts.txt").write_text("a cat\na dog\nParis\n")
    args = [a.format(tmp=tmp_path / "out") for a in args]
    result = CliRunner().invoke(app, [*args, option, "no-such-choice", "-m", "no-such-model"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "error: InvalidParameterError" in text, text  # one line, the named error
    assert f"'{option}' parameter of interp" in text and choices_text(options_of(_resolve(fn), param)) in text, text
    assert no_model_loads == []


@pytest.mark.parametrize("args, message", [
    (["probe", "pos", "--out", "{tmp}", "--max-sentences", "3"],
     "The '--max-sentences' parameter of interp probe pos must be an int >= 10 or None. Got 3 instead."),
    (["map", "world", "--out", "{tmp}", "--n-places", "0"],
     "The '--n-places' parameter of interp map world must be an int >= 1. Got 0 instead."),
    (["project", "{texts}", "--out", "{tmp}", "--components", "4"],
     "The '--components' parameter of interp project must be one of 2 or 3. Got 4 instead."),
    (["lens", "Hello", "--top-k", "0"], "The '--top-k' parameter of interp lens must be an int in [1, 51). Got 0 instead."),
    (["trace", "The capital of France is", "--subject", "France", "--samples", "0"],
     "The '--samples' parameter of interp trace must be an int >= 1. Got 0 instead."),
    (["patch", "a b", "a c", "--answer", " b", "--sites", "resid,neurons"],
     "The '--sites' parameter of interp patch must be one of 'resid', 'attn', 'mlp' or 'head', or a non-empty list"),
    (["probe", "truth", "--out", "{tmp}", "--probes", "linear,svm"], "'svm' is not allowed"),
    (["attribute", "Hello", "--steps", "0"], "The '--steps' parameter of interp attribute must be an int in [1, 10001)"),
], ids=lambda v: v[1] if isinstance(v, list) else None)
def test_cli_bad_numbers_and_lists_fail_before_the_model_loads(no_model_loads, tmp_path, args, message):
    from typer.testing import CliRunner

    from interp.cli import app

    texts = tmp_path / "texts.txt"
    texts.write_text("a cat\na dog\nParis\n")
    result = CliRunner().invoke(app, [a.format(tmp=tmp_path / "out", texts=texts) for a in args])
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output
    assert no_model_loads == []
