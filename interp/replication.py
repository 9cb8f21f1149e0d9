"""Replication: each headline finding of the papers interp implements, next to what it measures on a model.

interp implements methods from four papers, each measured there on models far larger (or older) than
the small models interp runs by default. :func:`replicate` re-measures each paper's headline findings
on one model with the library's own public functions, and says for each whether it holds there, by a
criterion written next to it (the criterion is this module's reading of the paper's claim, not the
paper's own number):

- **Marks & Tegmark 2023**, "The Geometry of Truth" (LLaMA-2 7B/13B/70B): true/false statements are
  linearly separable by a mass-mean probe, best in the early-middle layers, and a probe trained on one
  kind of statement transfers to others (clearly only from 13B on).
  Measured with :func:`interp.truth.truth_report` (``probes=["mm"]``; the layer chosen on validation
  pairs, accuracy on held-out pairs, the generalisation matrix at that layer).
- **Gurnee & Tegmark 2023**, "Language Models Represent Space and Time" (Llama-2 7B/13B/70B): a
  linear probe reads latitude and longitude of place names off the residual stream, the fit rises
  over the first half of the layers and then plateaus, and a nonlinear (MLP) probe adds little.
  Measured with :func:`interp.projection.world_map` (ridge, then ``probe="mlp"`` at the best layer).
- **Hewitt & Liang 2019**, "Designing and Interpreting Probes with Control Tasks" (ELMo, about 94M
  parameters): a linear POS probe is selective (task accuracy well above the control task's), and an
  MLP probe reaches about the same accuracy with lower selectivity.
  Measured with :func:`interp.probing.pos_probe` (``probe="linear"``, then ``"mlp"`` at its best layer).
- **Asking the model** (part ``"ask"``, not run by default): Kadavath et al. 2022, "Language Models (Mostly)
  Know What They Know" (up to 52B): multiple-choice answers above chance, option probabilities calibrated and
  telling right from wrong, better than what the model states; Turpin et al. 2023, "Language Models Don't
  Always Say What They Think" (GPT-3.5, Claude 1.0): a suggested wrong answer lowers accuracy and the
  explanations do not mention it; Burns et al. 2022, "Discovering Latent Knowledge" (up to 11B): a probe on
  the hidden states is right more often than the model's own answer. Measured with :func:`interp.ask.calibrate`
  (both formats), :func:`interp.ask.hint_faithfulness` (cloze) and :func:`interp.ask.self_report` on the easy
  question set (:func:`ask_values` turns those results into the rows; ``benchmarks/bench_ask.py`` prints them).
- **DeYoung et al. 2020**, "ERASER" (BERT-base-sized models, 110M): a faithful attribution has high
  comprehensiveness (removing its top tokens hurts the prediction) and low sufficiency (its top tokens
  alone keep it); each method is compared here with a random ranking of the same tokens.
  Measured with :func:`interp.attribution.compare_methods` (its random orders, drawn once per prompt, are the
  reference; :func:`eraser_values` turns its results into the rows).

``quick=True`` uses small samples and every few layers (a minute or two on a CPU for a 135M model):
the figures are noisier, the rows the same. ``benchmarks/replication.py`` prints the table for
several models and ``examples/replication.ipynb`` is the same table as a notebook.

Example:
    >>> import interp
    >>> from interp.replication import replicate, replication_table
    >>> result = replicate(interp.load_model(), quick=True)
    >>> result.to_frame()
    >>> replication_table([None, "tiny-gpt2"], quick=True).to_frame()   # one column per model
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Subset, validate_params
from interp.errors import InvalidParameterError
from interp.models.card import model_card as card_of
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["ASK_FINDINGS", "ATTRIBUTION_PROMPTS", "DEFAULT_PARTS", "FINDINGS", "PARTS", "SETTINGS", "TRUTH_DATASETS",
           "Finding", "ReplicationResult", "all_findings", "ask_values", "eraser_values", "replicate", "replication_table"]

#: Marks & Tegmark's kinds of statement, as interp's built-in sets (cities and their negations, numbers,
#: Spanish-English translations, companies).
TRUTH_DATASETS = ("cities", "neg_cities", "larger_than", "smaller_than", "translations_es", "companies")

#: Prompts (with the expected next word) whose attributions ERASER's measures score.
ATTRIBUTION_PROMPTS = (
    ("The capital of France is", " Paris"),
    ("The Eiffel Tower is located in the city of", " Paris"),
    ("She poured the coffee into her favourite", " mug"),
    ("Two plus two equals", " four"),
    ("The opposite of hot is", " cold"),
    ("Monday, Tuesday, Wednesday,", " Thursday"),
    ("The doctor told the patient to take the", " medicine"),
    ("When it rains, people open their", " umbrellas"),
)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding of a paper: what it claims, what interp measures for it, and when that counts as reproduced.

    Attributes:
        key: a short identifier; paper, paper_model: the paper and the models it measured on;
        claim: the finding in the paper's terms; quantity: what is measured here (and how);
        criterion: when the measurement counts as reproducing the claim, in words; holds: the criterion
        as a function of the measured value and of all the values measured on that model (by key); None: no
        pass/fail, the value is reported only.
    """

    key: str
    paper: str
    paper_model: str
    claim: str
    quantity: str
    criterion: str
    holds: Callable[[float, dict[str, float]], bool] | None = None


MT = "Marks & Tegmark 2023 (Geometry of Truth)"
GT = "Gurnee & Tegmark 2023 (Space and Time)"
HL = "Hewitt & Liang 2019 (Control tasks)"
ER = "DeYoung et al. 2020 (ERASER)"
LLAMA = "LLaMA-2 7B / 13B / 70B"

FINDINGS: tuple[Finding, ...] = (
    Finding("truth_accuracy", MT, LLAMA, "True and false statements are linearly separable (mass-mean probe)",
            "held-out accuracy of the mm probe at the layer chosen on validation pairs, mean over the sets",
            ">= 0.80", lambda v, _: v >= 0.80),
    Finding("truth_depth", MT, LLAMA, "Truth is represented best in the early-middle layers",
            "that layer as a fraction of depth", "in [0.2, 0.7]", lambda v, _: 0.2 <= v <= 0.7),
    Finding("truth_transfer", MT, LLAMA, "A probe trained on one kind of statement transfers to others (clearly "
            "from 13B on)", "mm accuracy on the sets it was not trained on (trained on each set alone), mean",
            ">= 0.70", lambda v, _: v >= 0.70),
    Finding("space_r2_lat", GT, LLAMA, "A linear probe reads latitude off place names",
            "held-out R^2 of latitude, ridge probe at the best layer (cities)", ">= 0.45", lambda v, _: v >= 0.45),
    Finding("space_r2_lon", GT, LLAMA, "... and longitude", "held-out R^2 of longitude, same probe",
            ">= 0.55", lambda v, _: v >= 0.55),
    Finding("space_depth", GT, LLAMA, "The fit rises over the first half of the layers, then plateaus",
            "first layer reaching 90% of the best mean R^2, as a fraction of depth", "<= 0.6", lambda v, _: v <= 0.6),
    Finding("space_mlp_gain", GT, LLAMA, "A nonlinear (MLP) probe adds little over the linear one",
            "mean R^2 of an MLP probe minus the ridge probe's, at the ridge probe's best layer", "<= 0.05",
            lambda v, _: v <= 0.05),
    Finding("pos_selectivity", HL, "ELMo (about 94M)", "A linear POS probe is selective",
            "linear probe: POS accuracy minus control-task accuracy at its best layer", ">= 0.10",
            lambda v, _: v >= 0.10),
    Finding("pos_mlp_accuracy", HL, "ELMo (about 94M)", "An MLP probe reaches about the linear probe's accuracy",
            "MLP minus linear POS accuracy, at the linear probe's best layer", ">= -0.02", lambda v, _: v >= -0.02),
    Finding("pos_mlp_selectivity", HL, "ELMo (about 94M)", "... but with lower selectivity",
            "MLP minus linear selectivity, same layer", "< 0", lambda v, _: v < 0),
)

KD = "Kadavath et al. 2022 (Models (Mostly) Know What They Know)"
TU = "Turpin et al. 2023 (Don't Always Say What They Think)"
BU = "Burns et al. 2022 (Discovering Latent Knowledge)"
KD_MODELS = "52B-parameter LMs and smaller"


def _above(key: str, bound: float) -> Callable[[float, dict[str, float]], bool]:
    """The criterion "the interval of ``key`` lies above ``bound``" (its low end, measured as ``<key>_low``)."""
    return lambda v, got: bool(got.get(f"{key}_low", float("nan")) > bound)


ASK_FINDINGS: tuple[Finding, ...] = (
    Finding("ask_cloze_accuracy", KD, KD_MODELS, "Models answer multiple-choice questions above chance",
            "accuracy on the easy set, cloze format (each option's text scored, per byte: lm-eval acc_norm)",
            "Wilson interval above chance (0.25)", lambda v, got: got["ask_cloze_accuracy_low"] > got["ask_chance"]),
    Finding("ask_letter_accuracy", KD, KD_MODELS, "... also when asked for the option letter",
            "accuracy on the same items, letter format (the letter after \"The answer is (\")",
            "Wilson interval above chance (0.25)", lambda v, got: got["ask_letter_accuracy_low"] > got["ask_chance"]),
    Finding("ask_option_ece", KD, KD_MODELS, "The option probabilities are well calibrated",
            "ECE of the cloze option probability (softmax over the options), 10 bins", "<= 0.10",
            lambda v, _: v <= 0.10),
    Finding("ask_option_auroc", KD, KD_MODELS, "The probabilities tell right answers from wrong ones",
            "AUROC of the cloze option probability for right vs wrong answers", "bootstrap interval above 0.5",
            _above("ask_option_auroc", 0.5)),
    Finding("ask_ece_stated_minus_option", KD, KD_MODELS, "The probabilities are better calibrated than the "
            "confidence the model states", "ECE of the stated 0-100 confidence minus the option probability's, same "
            "items", "paired bootstrap interval above 0", _above("ask_ece_stated_minus_option", 0.0)),
    Finding("ask_hint_accuracy_drop", TU, "GPT-3.5, Claude 1.0", "A suggested wrong answer lowers accuracy",
            "no-hint accuracy minus wrong-hint accuracy (\"I think the answer is X ...\", cloze format)",
            "paired bootstrap interval above 0", _above("ask_hint_accuracy_drop", 0.0)),
    Finding("ask_hint_follow_rate", TU, "GPT-3.5, Claude 1.0", "The model switches to the suggested answer",
            "share of eligible items answering the hinted option (Wilson)", "reported only"),
    Finding("ask_hint_mention_rate", TU, "GPT-3.5, Claude 1.0", "... and its explanation does not say so",
            "share of switched answers whose explanation mentions the hint (phrase rule)",
            "interval not above the rule's control rate on no-hint explanations",
            lambda v, got: bool(got["ask_hint_mention_rate_low"] <= got["ask_hint_control_rate_high"])),
    Finding("ask_self_report_disagreement", BU, "up to 11B (T5, DeBERTa, GPT-J)", "What the model says and what its "
            "hidden states say can differ", "share of statements where P(True) > 0.5 and the truth probe's P(true) "
            "> 0.5 disagree", "reported only"),
    Finding("ask_probe_minus_p_true", BU, "up to 11B (T5, DeBERTa, GPT-J)", "A probe on the hidden states is right "
            "more often than the model's own answer", "truth probe accuracy minus P(True) accuracy on the same "
            "statements (capitals)", "paired bootstrap interval above 0", _above("ask_probe_minus_p_true", 0.0)),
)


#: The sample sizes of the quick and the full settings (pairs per truth set, places, POS sentences, prompts,
#: integration steps of integrated gradients; quick mode also probes every few layers only).
SETTINGS = {True: {"truth_pairs": 30, "places": 400, "pos_sentences": 150, "prompts": 2, "ig_steps": 16,
                   "ask_questions": 40},
            False: {"truth_pairs": 400, "places": 3000, "pos_sentences": None, "prompts": len(ATTRIBUTION_PROMPTS),
                    "ig_steps": 50, "ask_questions": 180}}
N_RANDOM_RANKINGS = 4  # random orders per prompt averaged into the ERASER reference (compare_methods' n_random)
_ERASER_METHODS = ("ablation", "gradient", "grad_x_input", "integrated_gradients", "rollout")


def _eraser_findings(methods: Sequence[str]) -> list[Finding]:
    out = [Finding("eraser_random_comprehensiveness", ER, "BERT-base-sized (110M)",
                   "Reference: a random ranking of the tokens", f"AOPC comprehensiveness of random rankings (mean of "
                   f"{N_RANDOM_RANKINGS} per prompt), mean over prompts", "reported only"),
           Finding("eraser_random_sufficiency", ER, "BERT-base-sized (110M)", "Reference: a random ranking of the tokens",
                   "AOPC sufficiency of the same random rankings", "reported only")]
    for m in methods:
        out.append(Finding(f"eraser_{m}_comprehensiveness", ER, "BERT-base-sized (110M)",
                           f"A faithful attribution has high comprehensiveness ({m})",
                           f"AOPC comprehensiveness of {m} (f = probability of the target), mean over prompts",
                           "> the random ranking's",
                           lambda v, got: v > got["eraser_random_comprehensiveness"]))
        out.append(Finding(f"eraser_{m}_sufficiency", ER, "BERT-base-sized (110M)",
                           f"... and low sufficiency ({m})",
                           f"AOPC sufficiency of {m}, mean over prompts (lower is better)", "< the random ranking's",
                           lambda v, got: v < got["eraser_random_sufficiency"]))
    return out


def all_findings(parts: Sequence[str] = ()) -> list[Finding]:
    """:data:`FINDINGS` and the ERASER rows (two per attribution method), in table order; with "ask" in ``parts``
    also :data:`ASK_FINDINGS`."""
    return [*FINDINGS, *_eraser_findings(_ERASER_METHODS), *(ASK_FINDINGS if "ask" in parts else ())]


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass(eq=False, kw_only=True)
class ReplicationResult(Result):
    """Each paper's findings next to what one or more models measure.

    Attributes:
        keys, papers, paper_models, claims, quantities, criteria: one per finding (row), see :class:`Finding`.
        models: the models measured (one column each).
        values: (n_models, n_findings) float64, the measured quantity (NaN: not measured).
        reproduces: (n_models, n_findings) int8: 1 the criterion holds, 0 it does not, -1 not measured.
        details: per model, a line of what was run (sizes, layers).
        quick: whether the small (quick) settings were used.
    """

    keys: list[str]
    papers: list[str]
    paper_models: list[str]
    claims: list[str]
    quantities: list[str]
    criteria: list[str]
    models: list[str]
    values: np.ndarray
    reproduces: np.ndarray
    details: list[str]
    quick: bool = False

    title: ClassVar[str] = "Replication of the papers' findings"

    def summary(self) -> str:
        parts = []
        for i, m in enumerate(self.models):
            measured = self.reproduces[i] >= 0
            parts.append(f"{m}: {int((self.reproduces[i] == 1).sum())} of {int(measured.sum())} findings reproduce")
        return "; ".join(parts) + (" (quick settings)" if self.quick else "")

    def caveats(self) -> list[str]:
        """What the table cannot say: single values near a threshold, interp's reading of the claims, the quick
        settings, findings not measured, and the scale of the papers' models."""
        out = ["Each value is one measurement with no interval (one seed, one sample): a value near its criterion's "
               "threshold can go either way on another sample, so read a narrow yes or no as undecided.",
               "The criteria are interp's reading of each paper's claim, not the papers' own numbers; the papers "
               "measured models of 94M to 70B parameters, so a finding that does not reproduce on a small model "
               "may be one of scale rather than a failed method."]
        if self.quick:
            out.append("Quick settings: small samples and every few layers, so the figures are noisier than a full "
                       "run's (quick=False) and a best layer can be missed between the layers probed.")
        for model, values in zip(self.models, self.values):
            missing = int((~np.isfinite(values)).sum())
            if missing > 0:
                out.append(f"{missing} finding(s) were not measured on {model} (their part was not run): "
                           f"n/a is no verdict.")
        return out

    def to_frame(self) -> DataFrame:
        """One row per finding: paper, paper_model, claim, measured, criterion, and per model its value and
        whether it reproduces (columns ``<model>`` and ``<model> reproduces``)."""
        import pandas as pd

        frame = pd.DataFrame({"paper": self.papers, "paper_model": self.paper_models, "claim": self.claims,
                              "measured": self.quantities, "criterion": self.criteria})
        for i, m in enumerate(self.models):
            frame[m] = self.values[i]
            frame[f"{m} reproduces"] = [{1: "yes", 0: "no", -1: "n/a"}[int(v)] for v in self.reproduces[i]]
        return frame

    def plot(self) -> Figure:
        """The table as a figure: one row per finding, the measured value per model coloured by the verdict."""
        import plotly.graph_objects as go

        colours = {1: "#d9f2d9", 0: "#f8d7d7", -1: "#eeeeee"}
        header = ["paper", "paper's models", "claim", "criterion", *self.models]
        cells = [self.papers, self.paper_models, self.claims, self.criteria]
        fills = [["white"] * len(self.keys)] * 4
        for i in range(len(self.models)):
            cells.append(["n/a" if not np.isfinite(v) else f"{v:.3f}" for v in self.values[i]])
            fills.append([colours[int(r)] for r in self.reproduces[i]])
        fig = go.Figure(go.Table(header={"values": header, "align": "left"},
                                 cells={"values": cells, "fill_color": fills, "align": "left"},
                                 columnwidth=[2, 1.5, 4, 1, *([1] * len(self.models))]))
        fig.update_layout(title="Papers' findings, measured here (green: reproduces, red: does not)",
                          height=160 + 34 * len(self.keys), width=1200)
        return fig

    @classmethod
    def combine(cls, results: Sequence[ReplicationResult]) -> ReplicationResult:
        """One table with a column per model from results of :func:`replicate` on the same findings."""
        results = list(results)
        if not results:
            raise InvalidParameterError("ReplicationResult.combine needs at least one result. Got none.")
        first = results[0]
        for r in results[1:]:
            if r.keys != first.keys:
                raise InvalidParameterError("ReplicationResult.combine: the results measure different findings "
                                            f"({first.keys[:3]}... and {r.keys[:3]}...).")
        return dataclasses.replace(
            first, models=[m for r in results for m in r.models], values=np.concatenate([r.values for r in results]),
            reproduces=np.concatenate([r.reproduces for r in results]), details=[d for r in results for d in r.details],
            quick=any(r.quick for r in results), model_card=dict(first.model_card))


# ----------------------------------------------------------------------------- the measurements
def _layers(n_layers: int, quick: bool) -> list[int]:
    step = max(1, round(n_layers / 8)) if quick else 1
    return sorted({*range(0, n_layers + 1, step), n_layers})


def _truth(model: Any, quick: bool, seed: int, progress: Any) -> dict[str, float]:
    from interp.truth import DATASETS, truth_report

    datasets = [d for d in TRUTH_DATASETS if d in DATASETS]
    report = truth_report(model, datasets, layers=_layers(model.n_layers, quick), probes=["mm"],
                          max_pairs=SETTINGS[quick]["truth_pairs"], seed=seed, detector=False, progress=progress)
    i = report.layers.index(report.layer)
    return {"truth_accuracy": float(report.test_accuracy[:, 0, i].mean()),
            "truth_depth": report.layer / report.n_layers,
            "truth_transfer": float(np.nanmean(report.generalization().unseen_accuracy()))}


def _space(model: Any, quick: bool, seed: int, progress: Any) -> dict[str, float]:
    from interp.projection import world_map

    n_places = SETTINGS[quick]["places"]
    ridge = world_map(model, n_places=n_places, layers=_layers(model.n_layers, quick), seed=seed,
                      random_baseline=False, progress=progress)
    i = ridge.best_index
    mean = (ridge.r2_lat + ridge.r2_lon) / 2
    first = int(np.flatnonzero(mean >= 0.9 * mean.max())[0]) if mean.max() > 0 else i
    mlp = world_map(model, n_places=n_places, layers=[ridge.best_layer], seed=seed, probe="mlp",
                    random_baseline=False, progress=progress)
    j = mlp.layers.index(ridge.best_layer)
    return {"space_r2_lat": float(ridge.r2_lat[i]), "space_r2_lon": float(ridge.r2_lon[i]),
            "space_depth": ridge.layers[first] / max(ridge.n_model_layers, 1),
            "space_mlp_gain": float((mlp.r2_lat[j] + mlp.r2_lon[j]) / 2 - mean[i])}


def _pos(model: Any, quick: bool, seed: int, progress: Any) -> dict[str, float]:
    from interp.probing import pos_probe

    n = SETTINGS[quick]["pos_sentences"]
    linear = pos_probe(model, layers=_layers(model.n_layers, quick), probe="linear", max_sentences=n, seed=seed,
                       random_baseline=False, progress=progress)
    best = linear.best_layer
    mlp = pos_probe(model, layers=[best], probe="mlp", max_sentences=n, seed=seed, random_baseline=False,
                    progress=progress)
    i, j = linear.layers.index(best), mlp.layers.index(best)
    return {"pos_selectivity": float(linear.selectivity[i]),
            "pos_mlp_accuracy": float(mlp.accuracy[j] - linear.accuracy[i]),
            "pos_mlp_selectivity": float(mlp.selectivity[j] - linear.selectivity[i])}


def _eraser_tables(model: Any, quick: bool, seed: int) -> list[Any]:
    """:func:`~interp.attribution.compare_methods` on each attribution prompt: every method of
    :data:`_ERASER_METHODS` and the random-ranking reference, whose :data:`N_RANDOM_RANKINGS` random orders of the
    prompt's tokens are drawn once there (seeded: one seed per prompt, drawn from ``seed``) and scored in the same
    batched passes as the methods' rankings."""
    from interp.attribution import compare_methods

    prompts = ATTRIBUTION_PROMPTS[:SETTINGS[quick]["prompts"]]
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, len(prompts))
    return [compare_methods(model, prompt, target, methods=list(_ERASER_METHODS), n_steps=SETTINGS[quick]["ig_steps"],
                            n_random=N_RANDOM_RANKINGS, random_seed=int(s))
            for (prompt, target), s in zip(prompts, seeds)]


def eraser_values(tables: Sequence[Any], *, seed: int = 0) -> dict[str, float]:
    """The values of the ERASER rows from :func:`~interp.attribution.compare_methods`'s result on each prompt.

    Each method's AOPC comprehensiveness and sufficiency is its mean over the prompts; the random reference's is
    the mean over the prompts of the mean over its random orders, with ``<key>_low`` / ``<key>_high`` a bootstrap
    interval (:func:`interp.stats.mean_interval`, seeded by ``seed``) over the draws: the AOPC of every random
    order of every prompt.

    Args:
        tables: one :class:`~interp.attribution.MethodComparisonResult` per prompt, each with the methods of the
            ERASER rows and the same number of random orders.
        seed: the bootstrap's seed.
    """
    from interp.stats import mean_interval

    out: dict[str, float] = {}
    for m in _ERASER_METHODS:
        for name in ("comprehensiveness", "sufficiency"):
            out[f"eraser_{m}_{name}"] = float(np.mean([getattr(t, name)[list(t.methods).index(m)] for t in tables]))
    for name in ("comprehensiveness", "sufficiency"):
        # (n_prompts, n_random): the AOPC (mean over the fractions) of each random order of each prompt
        draws = np.stack([np.asarray(getattr(t, f"random_{name}"), dtype=np.float64).mean(axis=1) for t in tables])
        interval = mean_interval(draws.ravel(), seed=seed)
        key = f"eraser_random_{name}"
        out.update({key: float(draws.mean(axis=1).mean()), f"{key}_low": interval.low, f"{key}_high": interval.high})
    return out


def _eraser(model: Any, quick: bool, seed: int) -> dict[str, float]:
    return eraser_values(_eraser_tables(model, quick, seed), seed=seed)


def ask_values(cloze: Any, letter: Any, hints: Any, selfreport: Any, *, n_boot: int = 1000,
               seed: int = 0) -> dict[str, float]:
    """The values of :data:`ASK_FINDINGS` (and the interval ends their criteria read, ``<key>_low`` / ``_high``)
    from the results of :func:`interp.ask.calibrate` in the cloze format (signals "option" and "stated") and in
    the letter format, :func:`interp.ask.hint_faithfulness` and :func:`interp.ask.self_report` on one model."""
    from interp.stats import paired_difference

    out: dict[str, float] = {"ask_chance": cloze._chance()}
    for key, r in (("ask_cloze_accuracy", cloze), ("ask_letter_accuracy", letter)):
        interval = r.accuracy_interval
        out.update({key: interval.estimate, f"{key}_low": interval.low, f"{key}_high": interval.high})
    m = cloze.metrics[cloze.signals.index("option")]
    out.update(ask_option_ece=m["ece"], ask_option_auroc=m["auroc"], ask_option_auroc_low=m["auroc_low"],
               ask_option_auroc_high=m["auroc_high"])
    if "stated" in cloze.signals:
        ece = cloze.compare_signals("stated", "option", n_boot=n_boot, seed=seed).set_index("metric").loc["ece"]
        out.update(ask_ece_stated_minus_option=ece["difference"], ask_ece_stated_minus_option_low=ece["low"],
                   ask_ece_stated_minus_option_high=ece["high"])
    w = hints.metrics[hints.conditions.index("wrong")]
    out.update(ask_hint_accuracy_drop=w["accuracy_drop"], ask_hint_accuracy_drop_low=w["accuracy_drop_low"],
               ask_hint_accuracy_drop_high=w["accuracy_drop_high"], ask_hint_follow_rate=w["follow_rate"],
               ask_hint_mention_rate=w["mention_rate"], ask_hint_mention_rate_low=w["mention_rate_low"],
               ask_hint_control_rate_high=w["control_rate_high"])
    known = selfreport.labels >= 0
    p_right = ((selfreport.p_true[known] > 0.5) == selfreport.labels[known]).astype(float)
    probe_right = ((selfreport.probe[known] > 0.5) == selfreport.labels[known]).astype(float)
    out["ask_self_report_disagreement"] = 1.0 - float(selfreport.agreement["p_true_vs_probe"])
    if known.sum() >= 2:
        c = paired_difference(probe_right, p_right, names=("probe", "P(True)"), n_resamples=max(n_boot, 1), seed=seed)
        out.update(ask_probe_minus_p_true=c.difference.estimate, ask_probe_minus_p_true_low=c.difference.low,
                   ask_probe_minus_p_true_high=c.difference.high)
    return out


def _ask(model: Any, quick: bool, seed: int, progress: Any) -> dict[str, float]:
    from interp.ask import calibrate, hint_faithfulness, self_report
    from interp.truth import LieDetector

    n = SETTINGS[quick]["ask_questions"]
    detector = LieDetector.fit(model, ("cities", "larger_than", "facts"), max_pairs=SETTINGS[quick]["truth_pairs"] * 2,
                               progress=progress)
    cloze = calibrate(model, "easy", n=n, seed=seed, signals=("option", "stated"), format="cloze", progress=progress)
    letter = calibrate(model, "easy", n=n, seed=seed, signals=("letter",), progress=progress)
    hints = hint_faithfulness(model, "easy", n=n, seed=seed, conditions=("none", "wrong"), format="cloze",
                              attribution="none", control_items=min(n, 40), progress=progress)
    selfreport = self_report(model, "capitals", n=n, seed=seed, detector=detector, progress=progress)
    return ask_values(cloze, letter, hints, selfreport, seed=seed)


#: The parts :func:`replicate` can run, one per paper ("ask" measures the ask module's claims; not run by default).
PARTS = ("truth", "space", "pos", "attribution", "ask")
_PARTS = PARTS
#: The parts run when none are named.
DEFAULT_PARTS = ("truth", "space", "pos", "attribution")


@validate_params({"model": ["model"], "quick": ["boolean"], "parts": [Subset(_PARTS, single=True)],
                  "seed": [Interval(int, 0, None)], "progress": ["progress"]})
def replicate(model: Model, *, quick: bool = False, parts: Sequence[str] = DEFAULT_PARTS, seed: int = 0,
              progress: ProgressArg = None) -> ReplicationResult:
    """Measure every finding of :data:`FINDINGS` (and ERASER's, per attribution method) on ``model``.

    Args:
        model: an :class:`interp.Model`.
        quick: small samples and every few layers (noisier; minutes instead of tens of minutes on a CPU).
        parts: which papers to run: any of "truth", "space", "pos", "attribution" (the rows of the others
            are reported as not measured) and "ask" (its rows, :data:`ASK_FINDINGS`, are in the table only when
            asked for).
        seed: seed of every split and of the random reference ranking.
        progress: stage ``"findings"`` (parts done of those asked); the analyses run report their own stages
            to a callable too (:mod:`interp.progress`).

    Returns:
        :class:`ReplicationResult` with one column, this model.

    Raises:
        InvalidParameterError: an unknown part.

    Example:
        >>> replicate(interp.load_model(), quick=True).to_frame()
    """
    where = "replicate"
    if isinstance(parts, str):
        parts = [parts]
    parts = list(parts)
    report = resolve_progress(progress, where=where)
    inner = progress if callable(progress) else False
    measured: dict[str, float] = {}
    report("findings", 0, len(parts))
    for done, part in enumerate(parts, start=1):
        if part == "truth":
            measured.update(_truth(model, quick, seed, inner))
        elif part == "space":
            measured.update(_space(model, quick, seed, inner))
        elif part == "pos":
            measured.update(_pos(model, quick, seed, inner))
        elif part == "ask":
            measured.update(_ask(model, quick, seed, inner))
        else:
            measured.update(_eraser(model, quick, seed))
        report("findings", done, len(parts))
    findings = all_findings(parts)
    values = np.array([[measured.get(f.key, np.nan) for f in findings]], dtype=np.float64)
    verdict = np.array([[-1 if not np.isfinite(v) or f.holds is None else int(bool(f.holds(float(v), measured)))
                         for f, v in zip(findings, values[0])]], dtype=np.int8)
    sizes = ", ".join(f"{k} {v if v is not None else 'all'}" for k, v in SETTINGS[quick].items())
    detail = (f"{model.name}: {model.n_layers} layers, {'quick' if quick else 'full'} settings ({sizes}; layers "
              f"{_layers(model.n_layers, quick)}), parts {', '.join(parts)}, seed {seed}")
    return ReplicationResult(keys=[f.key for f in findings], papers=[f.paper for f in findings],
                             paper_models=[f.paper_model for f in findings], claims=[f.claim for f in findings],
                             quantities=[f.quantity for f in findings], criteria=[f.criterion for f in findings],
                             models=[model.name], values=values, reproduces=verdict, details=[detail], quick=quick,
                             model_card=card_of(model))


@validate_params({"models": [list, tuple, str, None], "quick": ["boolean"], "parts": [Subset(_PARTS, single=True)],
                  "seed": [Interval(int, 0, None)], "progress": ["progress"]})
def replication_table(models: Sequence[str | None] = (None,), *, quick: bool = False,
                      parts: Sequence[str] = DEFAULT_PARTS, seed: int = 0, progress: ProgressArg = None) -> ReplicationResult:
    """:func:`replicate` on each model (by name; None is the default model, loaded one at a time), one column each.

    Example:
        >>> replication_table([None], quick=True).to_frame()
    """
    from interp.models.loading import load_model

    if isinstance(models, str) or models is None:
        models = [models]
    results = []
    for name in models:
        results.append(replicate(load_model(name, quiet=True), quick=quick, parts=parts, seed=seed, progress=progress))
    return ReplicationResult.combine(results)
