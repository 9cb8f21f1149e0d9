"""How well does the model know when it is right? Confidence four ways on the same multiple-choice items.

:func:`calibrate` asks each question (chat template, reply forced to start "The answer is (") and
reads the model's answer as its most probable option letter. Then, on the same items:

- ``letter``: the letter probability of that answer, renormalised over the option letters (raw);
- ``letter_debiased``: the same after removing position bias by averaging over the k cyclic option
  orders (every option shown once at every position; P(option) = mean over orders of the probability of
  the letter it was shown under; the answer is the debiased argmax). This is the "average over option
  orders" estimator (cf. Zheng et al. 2024, "Large Language Models Are Not Robust Multiple Choice
  Selectors", whose PriDe estimates the prior from a few permutations instead);
- ``p_true``: P(True) that the model's own answer is right (Kadavath et al. 2022; words True/False,
  see :mod:`interp.ask.prompts`);
- ``stated``: the model asked for 0-100 confidence after its answer, generated greedily and parsed
  (items without a number are left out of that signal's metrics; ``stated_parse_rate`` says how many);
- ``probe``: the toolkit's truth probe (:class:`interp.truth.LieDetector`) P(true) of the answer as a
  statement ("The capital of Peru is Lima."), fitted on truth datasets the questions do not come from.

Per signal: accuracy, ECE (equal-width and equal-mass bins), Brier, AUROC of telling right from wrong,
the reliability diagram with bin counts, and intervals (:mod:`interp.ask.metrics`: Wilson for accuracy,
a bootstrap over items for the others). The position bias is its own table
(:meth:`CalibrationResult.position_frame`): over all cyclic orders the correct letter is uniform, so any
departure of the picks from uniform is bias. Whether it is more than chance is tested per item
(:func:`position_bias_test`): the k orders of one question are not k independent draws (a question the
model answers by position answers all its orders alike), so the chi-square statistic of the pick counts
is referred to a permutation distribution that relabels the positions of each question as a whole; the
pick shares carry cluster-bootstrap intervals over questions.

Example:
    >>> from interp.ask import calibrate
    >>> r = calibrate(model, "easy", n=40)
    >>> r.to_frame()[["signal", "accuracy", "ece", "auroc"]]
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Options, Subset, validate_params
from interp._validation import check_choice, check_int
from interp.ask import _engine, prompts
from interp.ask.metrics import calibration_metrics, reliability
from interp.ask.questions import LETTERS, QuestionSet, load_questions
from interp.errors import InvalidParameterError, choices_text
from interp.models.card import model_card
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result
from interp.stats import bootstrap_interval, proportion_interval

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model
    from interp.truth.detector import LieDetector

__all__ = ["SIGNALS", "CalibrationResult", "assemble_calibration", "calibrate", "calibration_items", "calibration_signals",
           "letter_probabilities", "letter_prompt_ids", "position_bias_test"]

SIGNALS = ("letter", "letter_debiased", "option", "p_true", "stated", "probe")
SIGNAL_NAMES = {"letter": "letter probability (raw)", "letter_debiased": "letter probability (debiased)",
                "option": "option likelihood (cloze, softmax over options)",
                "p_true": "P(True)", "stated": "stated 0-100", "probe": "truth probe P(true)"}
DEFAULT_PROBE_DATASETS = ("cities", "larger_than", "facts")
#: one colour per signal, shared by its reliability curve and its bin-count bars
SIGNAL_COLOURS = {"letter": "#1f77b4", "letter_debiased": "#ff7f0e", "option": "#17becf", "p_true": "#2ca02c",
                  "stated": "#d62728", "probe": "#9467bd"}
MOST_PICKS = 0.5  # a caveat when one letter takes more than this share of the answers


@dataclasses.dataclass(eq=False, kw_only=True)
class CalibrationResult(Result):
    """Confidence signals of one model on the same multiple-choice items.

    Attributes:
        ids, questions, topics: the items.
        gold: the correct letter of each item (in the order asked).
        answer: the model's answer (most probable letter, options in the order asked).
        answer_debiased: the argmax after averaging over cyclic option orders.
        n_options: (n,) options per item.
        letter_probs: (n, max_k) letter probabilities in the order asked (renormalised over the options; NaN
            past an item's options). ``letter_probs_debiased``: the same per option after debiasing.
        signals: the signals measured (subset of :data:`SIGNALS`).
        confidence: (n_signals, n) each signal's confidence that its answer is right (NaN: no value).
        correct: (n_signals, n) 1.0 where that answer is right.
        metrics: one dict per signal: accuracy, ece, ece_mass, brier, auroc, each with ``_low`` / ``_high``
            bootstrap bounds, and n.
        reliability: per signal, equal-width bins: count, confidence, accuracy (lists; NaN for empty bins).
        stated_text: the model's replies to the confidence question ("" if not asked).
        stated_parse_rate: share of replies with a number in [0, 100].
        position: the position-bias table as lists: letter, pick_share (over all cyclic orders; ``_low`` /
            ``_high`` its cluster-bootstrap interval over questions), pick_share_asked (the order asked; Wilson
            interval), gold_share, mean_prob, accuracy_when_gold.
        position_chi2, position_p: the chi-square statistic of the picks (all orders) against uniform, and its
            p-value by the within-question permutation test (:func:`position_bias_test`).
        position_test: how ``position_p`` was computed.
        probe_info: the truth probe's layer, kind and training sets ({} without it).
        debias: how ``letter_debiased`` was made ("cyclic": average over the k cyclic orders).
        timing: seconds in forward passes and in generation.
        format: "letter" or "cloze" (see :mod:`interp.ask.prompts`); in cloze ``letter_probs`` holds the option
            probabilities (softmax of the ``length_norm`` log-likelihoods), ``position`` is empty (no letters shown)
            and ``option_logprob`` / ``option_tokens`` / ``option_bytes`` (n, max_k) the raw scores.
        prompt_style: "chat" or "plain" (chosen automatically from the model's chat template unless asked).
        length_norm: the cloze comparison ("sum", "token", "byte"; "" for letter).
    """

    ids: list[str]
    questions: list[str]
    topics: list[str]
    gold: list[str]
    answer: list[str]
    answer_debiased: list[str]
    n_options: np.ndarray
    letter_probs: np.ndarray
    letter_probs_debiased: np.ndarray
    signals: list[str]
    confidence: np.ndarray
    correct: np.ndarray
    metrics: list[dict[str, float]]
    reliability: dict[str, dict[str, list[float]]]
    stated_text: list[str]
    stated_parse_rate: float
    position: dict[str, list[Any]]
    position_chi2: float
    position_p: float
    position_test: str = "permutation of positions within questions"
    probe_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    debias: str = "cyclic"
    n_bins: int = 10
    question_set: str = ""
    model_name: str = ""
    timing: dict[str, float] = dataclasses.field(default_factory=dict)
    format: str = "letter"
    prompt_style: str = "chat"
    length_norm: str = ""
    option_logprob: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    option_tokens: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    option_bytes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))

    title: ClassVar[str] = "Calibration: confidence four ways"

    @property
    def accuracy_interval(self) -> Any:
        """The answers' accuracy with its Wilson interval (:class:`interp.stats.Interval`)."""
        right = int(np.sum(np.asarray(self.gold) == np.asarray(self.answer)))
        return proportion_interval(right, len(self.ids))

    @property
    def above_chance(self) -> bool:
        """Whether the accuracy's interval lies above chance (1 / options)."""
        return bool(self.accuracy_interval.low > self._chance())

    def cloze_accuracy(self, length_norm: str) -> Any:
        """Cloze only: the accuracy (Wilson interval) had the options been compared by ``length_norm`` ("sum": lm-eval
        ``acc``, "byte": ``acc_norm``, "token")."""
        scores = {"logprob": self.option_logprob, "tokens": self.option_tokens, "bytes": self.option_bytes}
        picked = np.nanargmax(option_probabilities(scores, length_norm), axis=1)
        gold = np.array([LETTERS.index(g) for g in self.gold])
        return proportion_interval(int(np.sum(picked == gold)), len(gold))

    def _chance(self) -> float:
        k = int(np.round(np.mean(self.n_options))) if len(self.n_options) else 0
        return 1 / max(k, 1)

    def _top_letter(self) -> tuple[str, float]:
        shares = self.position.get("pick_share_asked") or [0.0]
        top = int(np.argmax(shares))
        return LETTERS[top], float(shares[top])

    def _how(self) -> str:
        how = f"{self.format} format" + (f" ({self.length_norm}-normalised)" if self.format == "cloze" else "")
        return f"{how}, {self.prompt_style} prompt"

    def summary(self) -> str:
        chance = self._chance()
        verdict = "above chance" if self.above_chance else "not above chance"
        parts = [f"{self.model_name}: {len(self.ids)} questions ({self.question_set}; {self._how()}), accuracy "
                 f"{self.accuracy_interval.format(2)} (chance {chance:.2f}: {verdict})"]
        if self.position:
            letter, share = self._top_letter()
            parts[0] += (f"; picks ({letter}) {share:.0%} of the time (position bias p={self.position_p:.2g}, "
                         f"{self.position_test})")
        for name, m in zip(self.signals, self.metrics):
            parts.append(f"{name}: ECE {_ci(m, 'ece')}, AUROC {_ci(m, 'auroc')}")
        return "; ".join(parts)

    def caveats(self) -> list[str]:
        out = []
        chance = self._chance()
        seen = set()
        for m in self.metrics:
            accuracy = (round(m["accuracy"], 12), m["n"])
            low, high = m.get("accuracy_low", float("nan")), m.get("accuracy_high", float("nan"))
            if accuracy in seen or not (np.isfinite(low) and low <= chance <= high):
                continue
            seen.add(accuracy)
            using = [s for s, o in zip(self.signals, self.metrics) if (round(o["accuracy"], 12), o["n"]) == accuracy]
            out.append(f"Accuracy {_ci(m, 'accuracy')} holds chance level ({chance:.2f}): the model picks the right "
                       f"{'letter' if self.format == 'letter' else 'option'} no more often than guessing, so the ECE, "
                       f"Brier and AUROC of {', '.join(using)} mean nothing here"
                       + ("; try format='cloze' (each option's text scored)." if self.format == "letter" else "."))
        if not self.position:
            return out
        letter, share = self._top_letter()
        if share > MOST_PICKS:
            out.append(f"One letter takes most answers: ({letter}) {share:.0%} of the order asked (chance "
                       f"{chance:.0%}); accuracy then follows where the correct letter happens to sit.")
        return out

    def to_frame(self) -> DataFrame:
        """One row per signal: accuracy, ECE, equal-mass ECE, Brier, AUROC with their intervals, n."""
        import pandas as pd

        rows = [{"signal": s, "description": SIGNAL_NAMES.get(s, s), **m} for s, m in zip(self.signals, self.metrics)]
        return pd.DataFrame(rows)

    def compare_signals(self, a: str, b: str, *, n_boot: int = 1000, seed: int = 0) -> DataFrame:
        """Two signals on the same items (those where both have a value): ECE, Brier and AUROC of each, and the
        difference ``a - b`` with its paired bootstrap interval (:func:`interp.stats.paired_difference`; both
        figures on the same resampled items). For ECE and Brier a positive difference means ``a`` is worse
        calibrated; for AUROC that ``a`` tells right from wrong better.

        Example:
            >>> r.compare_signals("stated", "option")   # is the stated confidence worse than the probability?
        """
        import pandas as pd

        from interp.ask.metrics import auroc, brier, ece
        from interp.stats import paired_difference

        for name in (a, b):
            if name not in self.signals:
                raise InvalidParameterError(f"compare_signals: {name!r} was not measured; measured: "
                                            f"{choices_text(self.signals)}.")
        i, j = self.signals.index(a), self.signals.index(b)
        keep = np.isfinite(self.confidence[i]) & np.isfinite(self.confidence[j])
        xa = np.stack([self.confidence[i][keep], self.correct[i][keep]], axis=1)  # (n, 2): confidence, correct
        xb = np.stack([self.confidence[j][keep], self.correct[j][keep]], axis=1)
        rows = []
        for metric, fn in (("ece", lambda x: ece(x[:, 0], x[:, 1], self.n_bins)), ("brier", lambda x: brier(x[:, 0], x[:, 1])),
                           ("auroc", lambda x: auroc(x[:, 0], x[:, 1]))):
            if keep.sum() < 2:
                rows.append({"metric": metric, a: float("nan"), b: float("nan"), "difference": float("nan"),
                             "low": float("nan"), "high": float("nan"), "n": int(keep.sum())})
                continue
            c = paired_difference(xa, xb, statistic=fn, names=(a, b), n_resamples=max(n_boot, 1), seed=seed)
            rows.append({"metric": metric, a: fn(xa), b: fn(xb), "difference": c.difference.estimate,
                         "low": c.difference.low, "high": c.difference.high, "n": int(keep.sum())})
        return pd.DataFrame(rows)

    def position_frame(self) -> DataFrame:
        """The position-bias table: one row per letter."""
        import pandas as pd

        return pd.DataFrame(self.position)

    def items_frame(self) -> DataFrame:
        """One row per item: question, gold, answers, each signal's confidence."""
        import pandas as pd

        frame = pd.DataFrame({"id": self.ids, "topic": self.topics, "question": self.questions, "gold": self.gold,
                              "answer": self.answer, "answer_debiased": self.answer_debiased})
        for s, c in zip(self.signals, self.confidence):
            frame[f"conf_{s}"] = c
        if any(self.stated_text):
            frame["stated_text"] = self.stated_text
        return frame

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), *([("Position bias", self.position_frame())] if self.position else []),
                ("Items", self.items_frame())]

    def plot(self) -> Figure:
        """The reliability diagram: accuracy against mean confidence per bin, per signal; bin counts below."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=2, cols=1, row_heights=[0.72, 0.28], shared_xaxes=True, vertical_spacing=0.06)
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"},
                                 name="perfect calibration", hoverinfo="skip"), row=1, col=1)
        centers = (np.arange(self.n_bins) + 0.5) / self.n_bins
        for s, m in zip(self.signals, self.metrics):
            bins = self.reliability[s]
            count = np.asarray(bins["count"], dtype=float)
            keep = count > 0
            conf, acc = np.asarray(bins["confidence"], dtype=float), np.asarray(bins["accuracy"], dtype=float)
            label = f"{SIGNAL_NAMES.get(s, s)} (ECE {_ci(m, 'ece')})"
            colour = SIGNAL_COLOURS.get(s, "#7f7f7f")
            fig.add_trace(go.Scatter(x=conf[keep].tolist(), y=acc[keep].tolist(), mode="lines+markers", name=label,
                                     legendgroup=s, line={"color": colour},
                                     marker={"color": colour,
                                             "size": (6 + 14 * np.sqrt(count[keep] / max(count.max(), 1))).tolist()},
                                     customdata=count[keep].tolist(),
                                     hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>n=%{customdata}"
                                                   "<extra>" + s + "</extra>"), row=1, col=1)
            fig.add_trace(go.Bar(x=centers.tolist(), y=count.tolist(), name=label, legendgroup=s, showlegend=False,
                                 marker={"color": colour}, hovertemplate="%{y} items<extra>" + s + "</extra>"),
                          row=2, col=1)
        fig.update_layout(title="Reliability diagram (equal-width bins; bars: items per bin, same colours)",
                          barmode="group", height=620,
                          legend={"orientation": "h", "y": -0.15})
        fig.update_yaxes(title_text="accuracy", range=[0, 1], row=1, col=1)
        fig.update_yaxes(title_text="items", row=2, col=1)
        fig.update_xaxes(title_text="confidence", range=[0, 1], row=2, col=1)
        return fig

    def position_plot(self) -> Figure:
        import plotly.graph_objects as go

        if not self.position:
            fig = go.Figure()
            fig.update_layout(title=f"No position bias to show: the {self.format} format shows no letters")
            return fig
        letters = self.position["letter"]

        def bars(name: str) -> dict[str, Any]:
            share = np.asarray(self.position[name], dtype=float)
            if f"{name}_low" not in self.position:
                return {}
            low, high = (np.asarray(self.position[f"{name}_{e}"], dtype=float) for e in ("low", "high"))
            return {"error_y": {"type": "data", "array": np.nan_to_num(high - share).tolist(),
                                "arrayminus": np.nan_to_num(share - low).tolist()}}

        fig = go.Figure([go.Bar(x=letters, y=self.position["pick_share"], name="picked (all cyclic orders)",
                                **bars("pick_share")),
                         go.Bar(x=letters, y=self.position["pick_share_asked"], name="picked (order asked)",
                                **bars("pick_share_asked")),
                         go.Bar(x=letters, y=self.position["gold_share"], name="correct answer")])
        fig.update_layout(title=f"Position bias (p={self.position_p:.2g}, {self.position_test}; 95% intervals)",
                          barmode="group",
                          xaxis={"title": "answer position (letter)"},
                          yaxis={"title": "share of items", "range": [0, 1]}, height=380)
        return fig

    def figures(self) -> list:
        return [self.plot(), *([self.position_plot()] if self.position else [])]


def _ci(m: dict[str, float], name: str) -> str:
    low, high = m.get(f"{name}_low", float("nan")), m.get(f"{name}_high", float("nan"))
    return f"{m[name]:.2f}" + (f" [{low:.2f}, {high:.2f}]" if np.isfinite(low) and np.isfinite(high) else "")


def _chi2(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Chi-square statistic of pick counts (..., k) against ``expected`` (k,) (positions expected > 0 only)."""
    keep = expected > 0
    return (((counts[..., keep] - expected[keep]) ** 2) / expected[keep]).sum(axis=-1)


def position_bias_test(picks: list[np.ndarray] | np.ndarray, *, n_permutations: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Is there a letter the model picks more than its share, across questions? A test per question.

    Each question was asked in its k cyclic orders and ``picks[i]`` is the position picked in each
    order ((k_i,) ints in [0, k_i)). Without a shared preference every position is picked once per
    question on average, so the statistic is the chi-square of the total pick counts against that. Its
    p-value is not the chi-square distribution's (which takes the n x k picks as independent draws,
    while the orders of one question are answered alike); it is a permutation test with the question as
    the unit: under no shared preference the position labels of each question are exchangeable, so
    each question's picks are relabelled by one random permutation of its k positions.

    Args:
        picks: per question, the position picked in each cyclic order.
        n_permutations: permutations (the smallest p-value possible is 1 / (n_permutations + 1)).
        seed: the permutations' seed.

    Returns:
        ``(chi2, p)``; NaN for fewer than 2 questions.

    Example:
        >>> position_bias_test([np.array([1, 1, 1, 1])] * 12)[1] < 0.001   # (B) in every order of 12 questions
        True
    """
    check_int(n_permutations, name="n_permutations", where="position_bias_test", low=1)
    rows = [np.asarray(p, dtype=np.int64).ravel() for p in picks]
    if len(rows) < 2:
        return float("nan"), float("nan")
    kmax = max(len(r) for r in rows)
    expected = np.zeros(kmax)
    counts = np.zeros((len(rows), kmax))  # (n_questions, kmax) picks per position
    for i, r in enumerate(rows):
        expected[:len(r)] += 1.0  # k_i picks spread over k_i positions: one each
        np.add.at(counts[i], r, 1.0)
    observed = float(_chi2(counts.sum(axis=0), expected))
    rng = np.random.default_rng(seed)
    total = np.zeros((n_permutations, kmax))
    for k in sorted({len(r) for r in rows}):
        block = counts[[i for i, r in enumerate(rows) if len(r) == k], :k]  # (m, k)
        perm = np.argsort(rng.random((n_permutations, len(block), k)), axis=-1)  # a permutation per question
        total[:, :k] += np.take_along_axis(np.broadcast_to(block, perm.shape), perm, axis=-1).sum(axis=1)
    stats = _chi2(total, expected)
    return observed, float((1 + np.sum(stats >= observed - 1e-9)) / (n_permutations + 1))


def letter_probabilities(model: Model, questions: QuestionSet, *, messages: Any = None, batch_size: int | None = None,
                         timer: _engine.Timer | None = None, where: str = "letter_probabilities",
                         style: str = "chat", shots: bool = True) -> np.ndarray:
    """(n, max_k) probabilities of each option letter after "The answer is (", renormalised over the item's
    options (NaN past them). ``messages`` is one chat per question (default: each plain question,
    :func:`interp.ask.prompts.mc_messages`); ``style`` "plain" renders them as Question/Answer text after the
    plain style's few-shot examples (unless ``shots`` is False: prompts that bring their own examples)."""
    chats = messages if messages is not None else [prompts.mc_messages(q) for q in questions]
    kmax = max(len(q.options) for q in questions)
    letter_ids = [_engine.single_token(model, c, where=where) for c in LETTERS[:kmax]]
    seqs = letter_prompt_ids(model, chats, style=style, shots=shots, where=where)
    logp = _engine.next_token_logprobs(model, seqs, letter_ids, batch_size=batch_size, timer=timer)
    out = np.full((len(questions), kmax), np.nan)
    for i, q in enumerate(questions):
        k = len(q.options)
        row = np.exp(logp[i, :k] - logp[i, :k].max())
        out[i, :k] = row / row.sum()
    return out


def letter_prompt_ids(model: Model, chats: Any, *, style: str = "chat", shots: bool = True,
                      where: str = "letter_prompt_ids") -> list[list[int]]:
    """The token ids :func:`letter_probabilities` scores: each chat (a list of messages) followed by "The answer
    is (", in the chat template (``style`` "chat") or as plain Question/Answer text after the plain style's few-shot
    examples (``style`` "plain"; none when ``shots`` is False). What a benchmark's bare forward pass runs over."""
    if style == "chat":
        return [_engine.encode(model, _engine.chat_text(model, chat, prompts.ANSWER_PREFIX), where=where)
                for chat in chats]
    first = prompts.shot_messages("mc", "letter", style) if shots else []
    return [_engine.encode_prompt(model, _engine.render(model, first + chat, prompts.ANSWER_PREFIX, style=style),
                                  style=style, where=where) for chat in chats]


def option_scores(model: Model, questions: QuestionSet, *, messages: Any = None, style: str = "chat",
                  batch_size: int | None = None, timer: _engine.Timer | None = None,
                  where: str = "option_scores", shots: bool = True) -> dict[str, np.ndarray]:
    """The cloze format's raw scores: each option's text (" Lima") scored after the question and "The answer is".

    Returns:
        ``{"logprob": (n, max_k) summed log-probability of each option's tokens, "tokens": (n, max_k) its token
        count, "bytes": (n, max_k) its UTF-8 length with the leading space}`` (NaN / 0 past an item's options).
        One left-padded batch of rows ``[question + option_i]`` (the k rows of a question share passes).
    """
    chats = messages if messages is not None else [prompts.mc_messages(q, fmt="cloze") for q in questions]
    kmax = max(len(q.options) for q in questions)
    first = prompts.shot_messages("mc", "cloze", style) if shots else []
    contexts, continuations, index = [], [], []
    for i, (q, chat) in enumerate(zip(questions, chats)):
        ctx = _engine.encode_prompt(model, _engine.render(model, first + chat, prompts.CLOZE_PREFIX, style=style),
                                    style=style, where=where)
        for j, option in enumerate(q.options):
            contexts.append(ctx)
            continuations.append(model.tokenizer(f" {option}", add_special_tokens=False)["input_ids"])
            index.append((i, j))
    logp = _engine.continuation_logprobs(model, contexts, continuations, batch_size=batch_size, timer=timer)
    out = {"logprob": np.full((len(questions), kmax), np.nan), "tokens": np.zeros((len(questions), kmax)),
           "bytes": np.zeros((len(questions), kmax))}
    for (i, j), value, cont in zip(index, logp, continuations):
        out["logprob"][i, j] = value
        out["tokens"][i, j] = len(cont)
        out["bytes"][i, j] = len(f" {questions[i].options[j]}".encode())
    return out


def option_probabilities(scores: dict[str, np.ndarray], length_norm: str = "byte") -> np.ndarray:
    """(n, max_k) the softmax over each item's options of its log-likelihood: summed ("sum", lm-eval's ``acc``),
    per token ("token") or per byte ("byte", lm-eval's ``acc_norm``). NaN past an item's options."""
    logp = scores["logprob"]
    if length_norm == "token":
        logp = logp / np.where(scores["tokens"] > 0, scores["tokens"], 1)
    elif length_norm == "byte":
        logp = logp / np.where(scores["bytes"] > 0, scores["bytes"], 1)
    out = np.full(logp.shape, np.nan)
    for i, row in enumerate(logp):
        keep = np.isfinite(row)
        e = np.exp(row[keep] - row[keep].max())
        out[i, keep] = e / e.sum()
    return out


def answer_probabilities(model: Model, questions: QuestionSet, *, fmt: str, style: str, length_norm: str = "byte",
                         messages: Any = None, batch_size: int | None = None, timer: _engine.Timer | None = None,
                         where: str = "answer_probabilities", shots: bool = True
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(n, max_k) the model's probability of each option in ``fmt`` ("letter": :func:`letter_probabilities`;
    "cloze": :func:`option_probabilities` of :func:`option_scores`), and the cloze raw scores ({} for letter)."""
    if fmt == "letter":
        return letter_probabilities(model, questions, messages=messages, batch_size=batch_size, timer=timer,
                                    where=where, style=style, shots=shots), {}
    scores = option_scores(model, questions, messages=messages, style=style, batch_size=batch_size, timer=timer,
                           where=where, shots=shots)
    return option_probabilities(scores, length_norm), scores


def _fit_detector(model: Model, detector: Any, datasets: Any, probe_pairs: int, report: Any) -> LieDetector:
    from interp.truth.detector import LieDetector

    if detector is not None:
        if not isinstance(detector, LieDetector):
            raise InvalidParameterError(f"The 'detector' parameter must be a fitted interp.truth.LieDetector. Got "
                                        f"{type(detector).__name__} instead.")
        return detector
    return LieDetector.fit(model, datasets, max_pairs=probe_pairs, progress=report)


@validate_params({
    "model": ["model"], "questions": ["no_validation"], "n": [Interval(int, 1, None), None],
    "seed": [Interval(int, None, None)], "batch_size": [Interval(int, 1, None), None], "progress": ["progress"],
    "signals": [Subset(SIGNALS)], "detector": ["no_validation"], "probe_datasets": ["no_validation"],
    "probe_pairs": [Interval(int, 1, None)], "n_bins": [Interval(int, 1, None)], "n_boot": [Interval(int, 0, None)],
    "max_new_tokens": [Interval(int, 1, None)],
    "format": [Options(prompts.FORMATS)], "prompt_style": [Options(prompts.STYLES)],
    "length_norm": [Options(prompts.LENGTH_NORMS)],
})
def calibrate(model: Model, questions: Any = "easy", *, n: int | None = 60, seed: int = 0,
              signals: tuple[str, ...] | list[str] = SIGNALS, detector: LieDetector | None = None,
              probe_datasets: Any = DEFAULT_PROBE_DATASETS, probe_pairs: int = 150, n_bins: int = 10,
              n_boot: int = 1000, max_new_tokens: int = 8, batch_size: int | None = None,
              format: str = "letter", prompt_style: str = "auto", length_norm: str = "byte",
              progress: ProgressArg = None) -> CalibrationResult:
    """Measure how well each confidence signal tells the model's right answers from its wrong ones.

    Args:
        model: an :class:`interp.Model` (an instruct model is asked in chat form, a base model in plain text).
        questions: a built-in set name (``interp.ask.ASK_SETS``; default "easy"), a .jsonl/.csv path, or a
            :class:`QuestionSet`.
        n: ask this many questions, drawn with ``seed`` with the correct letter balanced (None: all).
        signals: which of :data:`SIGNALS` to measure ("letter" and "letter_debiased" are always cheap).
        detector: a fitted :class:`~interp.truth.LieDetector` for "probe"; by default one is fitted on
            ``probe_datasets`` (``probe_pairs`` pairs each).
        n_bins: bins of the ECE and the reliability diagram.
        n_boot: bootstrap resamples for the intervals of ECE, Brier, AUROC and the pick shares (0: none; accuracy
            carries a Wilson interval regardless), and at least 200 permutations of the position-bias test.
        max_new_tokens: length of the stated-confidence reply.
        batch_size: prompts per forward pass (default: about 8,192 padded tokens per pass).
        format: "letter" (the option letter after "The answer is (") or "cloze" (each option's text scored after
            the question; the signals "letter" / "letter_debiased" become "option", the softmax over the options'
            ``length_norm`` log-likelihoods; no position bias, the options are not shown). See
            :mod:`interp.ask.prompts`.
        prompt_style: "auto" (chat with a chat template, else plain), "chat" or "plain" (few-shot Question/Answer
            text, for base models).
        length_norm: the cloze comparison: "sum", "token" or "byte" (lm-eval's ``acc`` / ``acc_norm``).
        progress: stages "letters", "p_true", "stated", the detector's stages and "probe" (see
            :mod:`interp.progress`).

    Returns:
        :class:`CalibrationResult`; ``to_frame()`` is one row per signal.

    Raises:
        NoChatTemplateError: ``prompt_style="chat"`` and the model has no chat template.
        InvalidQuestionFileError: bad ``questions``.
    """
    where = "calibrate"
    check_choice(format, prompts.FORMATS, name="format", where=where)
    check_choice(length_norm, prompts.LENGTH_NORMS, name="length_norm", where=where)
    style = prompts.resolve_style(model, prompt_style, where)
    signals = calibration_signals(signals, format, where=where)
    check_int(n_bins, name="n_bins", where=where, low=1)
    check_int(n_boot, name="n_boot", where=where, low=0)
    if n is not None:
        check_int(n, name="n", where=where, low=1)
    qs = load_questions(questions).sample(n, seed=seed)
    report = resolve_progress(progress, where=where)
    timer = _engine.Timer()
    items = calibration_items(model, qs, signals=signals, format=format, style=style, length_norm=length_norm,
                              fit_detector=lambda: _fit_detector(model, detector, probe_datasets, probe_pairs, report),
                              max_new_tokens=max_new_tokens, batch_size=batch_size, timer=timer, report=report,
                              where=where)
    return assemble_calibration(qs, items, signals=signals, format=format, style=style, length_norm=length_norm,
                                n_bins=n_bins, n_boot=n_boot, seed=seed, model_name=model.name,
                                card=model_card(model), timing=timer.as_dict())


def calibration_signals(signals: Any, format: str, *, where: str = "calibrate") -> list[str]:
    """The signals :func:`calibrate` measures for ``signals`` in ``format``, in :data:`SIGNALS` order: with "cloze"
    the letter signals become "option"; with "letter", "option" is dropped (at least "letter" is kept).

    Raises:
        InvalidParameterError: an empty list or a name outside :data:`SIGNALS`.
    """
    signals = list(signals)
    unknown = [s for s in signals if s not in SIGNALS]
    if unknown or not signals:
        raise InvalidParameterError(f"The 'signals' parameter of {where} must name some of {choices_text(SIGNALS)}. "
                                    f"Got {signals!r} instead.")
    if format == "cloze":  # no letters and no positions: the option likelihood is the one answer signal
        signals = ["option"] + [s for s in signals if s not in ("letter", "letter_debiased", "option")]
    else:
        signals = [s for s in signals if s != "option"] or ["letter"]
    return [s for s in SIGNALS if s in signals]


def calibration_items(model: Model, qs: QuestionSet, *, signals: list[str], format: str = "letter",
                      style: str = "chat", length_norm: str = "byte", fit_detector: Any = None,
                      max_new_tokens: int = 8, batch_size: int | None = None, timer: _engine.Timer | None = None,
                      report: Any = None, where: str = "calibrate") -> dict[str, Any]:
    """:func:`calibrate`'s work on each question, item by item (what a batch run's shard of questions computes).

    Args:
        qs: the questions; signals: from :func:`calibration_signals`; format, style, length_norm: as calibrate's
            (``style`` resolved); fit_detector: a callable returning the fitted
            :class:`~interp.truth.LieDetector` (only called for the "probe" signal).

    Returns:
        ``{"probs": (rows, max_k) letter probabilities of every question in every cyclic order (format "letter";
        the k rows of a question in order of shift) or (n, max_k) option probabilities ("cloze"), "logprob" /
        "tokens" / "bytes": the cloze raw scores (n, max_k) ("cloze" only), and for the signals asked "p_true",
        "stated" (n,) float64, "stated_text" (list of n str), "probe" (n,) float64 and "probe_info" (dict)}``.
        Each row depends on its own question only.
    """
    report = report or (lambda *args: None)
    timer = timer if timer is not None else _engine.Timer()
    ks = np.array([len(q.options) for q in qs])
    out: dict[str, Any] = {}
    if format == "letter":
        # letters in every cyclic order: order s shows option i at position (i + s) % k
        rotated = QuestionSet(qs.name, [q.rotated(s) for q in qs for s in range(len(q.options))])
        report("letters", 0, len(rotated))
        out["probs"] = letter_probabilities(model, rotated, batch_size=batch_size, timer=timer, where=where, style=style)
        report("letters", len(rotated), len(rotated))
        answer_idx = np.nanargmax(out["probs"][np.concatenate([[0], np.cumsum(ks)[:-1]])], axis=1)  # shift 0: as asked
    else:
        report("letters", 0, len(qs))
        out["probs"], scores = answer_probabilities(model, qs, fmt="cloze", style=style, length_norm=length_norm,
                                                    batch_size=batch_size, timer=timer, where=where)
        out.update(scores)
        report("letters", len(qs), len(qs))
        answer_idx = np.nanargmax(out["probs"], axis=1)
    if "p_true" in signals:
        report("p_true", 0, len(qs))
        tf = [_engine.single_token(model, w, where=where) for w in (" True", " False")]
        shots = prompts.shot_messages("p_true", format, style)
        seqs = [_engine.encode_prompt(model, _engine.render(model, shots + prompts.p_true_messages(q, int(a), format),
                                                            prompts.PTRUE_PREFIX, style=style), style=style, where=where)
                for q, a in zip(qs, answer_idx)]
        logp = _engine.next_token_logprobs(model, seqs, tf, batch_size=batch_size, timer=timer)
        out["p_true"] = 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))
        report("p_true", len(qs), len(qs))
    if "stated" in signals:
        report("stated", 0, len(qs))
        seqs = [_engine.encode_prompt(model, _engine.render(model, prompts.confidence_messages(q, int(a), format),
                                                            style=style), style=style, where=where)
                for q, a in zip(qs, answer_idx)]
        out["stated_text"] = _engine.generate(model, seqs, max_new_tokens=max_new_tokens, timer=timer,
                                              stop=_engine.plain_stops(style))
        parsed = [prompts.parse_confidence(t) for t in out["stated_text"]]
        out["stated"] = np.array([np.nan if v is None else v for v in parsed], dtype=np.float64)
        report("stated", len(qs), len(qs))
    if "probe" in signals:
        fitted = fit_detector()
        report("probe", 0, len(qs))
        statements = [q.state(int(a)) for q, a in zip(qs, answer_idx)]
        out["probe"] = np.asarray(fitted.score(statements, model=model, batch_size=batch_size).p_true, dtype=np.float64)
        out["probe_info"] = {"layer": fitted.layer_, "probe": type(fitted.probe_).__name__,
                             "datasets": list(fitted.datasets_)}
        report("probe", len(qs), len(qs))
    return out


def assemble_calibration(qs: QuestionSet, items: dict[str, Any], *, signals: list[str], format: str = "letter",
                         style: str = "chat", length_norm: str = "byte", n_bins: int = 10, n_boot: int = 1000,
                         seed: int = 0, model_name: str = "", card: dict | None = None,
                         timing: dict[str, float] | None = None) -> CalibrationResult:
    """:func:`calibrate`'s result from :func:`calibration_items` of ``qs`` (their probability arrays as wide as the
    most options of any question): the debiased answers, the position-bias test, each signal's metrics and
    intervals. What a batch run's assembly does with its shards' items, concatenated in order."""
    kmax = max(len(q.options) for q in qs)
    ks = np.array([len(q.options) for q in qs])
    gold_idx = np.array([q.answer for q in qs])
    scores: dict[str, np.ndarray] = {}
    if format == "letter":
        probs_all = items["probs"]
        starts = np.concatenate([[0], np.cumsum(ks)[:-1]])
        raw = probs_all[starts]  # shift 0 = the order asked
        debiased = np.full((len(qs), kmax), np.nan)
        picks = np.zeros(kmax)
        picks_asked = np.zeros(kmax)
        gold_count = np.zeros(kmax)
        prob_sum = np.zeros(kmax)
        prob_n = np.zeros(kmax)
        right_at = np.zeros(kmax)
        choices = []  # per question, the position picked in each cyclic order
        for i, q in enumerate(qs):
            k, block = len(q.options), probs_all[starts[i]:starts[i] + len(q.options), :len(q.options)]  # (k shifts, k)
            debiased[i, :k] = [np.mean([block[s, (o + s) % k] for s in range(k)]) for o in range(k)]
            choice = block.argmax(axis=1)  # position picked in each order
            choices.append(choice)
            np.add.at(picks, choice, 1)
            picks_asked[choice[0]] += 1
            for s in range(k):
                g = (q.answer + s) % k
                gold_count[g] += 1
                right_at[g] += choice[s] == g
            prob_sum[:k] += block.sum(axis=0)
            prob_n[:k] += k
        answer_idx = np.nanargmax(raw, axis=1)
        deb_idx = np.nanargmax(debiased, axis=1)
        chi2, pval = position_bias_test(choices, n_permutations=max(n_boot, 200), seed=seed)
        # each pick share with its interval: over questions (a cluster bootstrap of the orders) / Wilson
        flat = np.concatenate(choices)
        question = np.repeat(np.arange(len(qs)), ks)
        share_ci = [bootstrap_interval(lambda r, c=c: float(np.mean(flat[r] == c)), len(flat), clusters=question,
                                       n_resamples=n_boot, seed=seed) if n_boot else None for c in range(kmax)]
        asked_ci = [proportion_interval(int(picks_asked[c]), len(qs)) for c in range(kmax)]
        with np.errstate(invalid="ignore", divide="ignore"):
            position = {"letter": list(LETTERS[:kmax]), "pick_share": (picks / picks.sum()).tolist(),
                        "pick_share_low": [ci.low if ci else float("nan") for ci in share_ci],
                        "pick_share_high": [ci.high if ci else float("nan") for ci in share_ci],
                        "pick_share_asked": (picks_asked / picks_asked.sum()).tolist(),
                        "pick_share_asked_low": [ci.low for ci in asked_ci],
                        "pick_share_asked_high": [ci.high for ci in asked_ci],
                        "gold_share": (gold_count / gold_count.sum()).tolist(),
                        "mean_prob": (prob_sum / np.maximum(prob_n, 1)).tolist(),
                        "accuracy_when_gold": (right_at / np.maximum(gold_count, 1)).tolist()}
    else:
        raw = items["probs"]
        scores = {k: items[k] for k in ("logprob", "tokens", "bytes")}
        debiased = raw
        position, chi2, pval = {}, float("nan"), float("nan")
        answer_idx = np.nanargmax(raw, axis=1)
        deb_idx = answer_idx

    conf: dict[str, np.ndarray] = {}
    correct: dict[str, np.ndarray] = {}
    rows = np.arange(len(qs))
    answer_right = (answer_idx == gold_idx).astype(np.float64)
    if format == "letter":
        conf["letter"], correct["letter"] = raw[rows, answer_idx], answer_right
        conf["letter_debiased"], correct["letter_debiased"] = debiased[rows, deb_idx], (deb_idx == gold_idx).astype(float)
    else:
        conf["option"], correct["option"] = raw[rows, answer_idx], answer_right
    for s in ("p_true", "stated", "probe"):
        if s in signals:
            conf[s], correct[s] = np.asarray(items[s], dtype=np.float64), answer_right
    stated_text = list(items["stated_text"]) if "stated" in signals else [""] * len(qs)
    parse_rate = float(np.mean(np.isfinite(conf["stated"]))) if "stated" in signals else float("nan")

    metrics, bins = [], {}
    for j, s in enumerate(signals):
        metrics.append(calibration_metrics(conf[s], correct[s], n_bins=n_bins, n_boot=n_boot, seed=seed + j))
        keep = np.isfinite(conf[s])
        rel = reliability(conf[s][keep], correct[s][keep], n_bins=n_bins)
        bins[s] = {"count": rel["count"].tolist(), "confidence": rel["confidence"].tolist(),
                   "accuracy": rel["accuracy"].tolist()}
    return CalibrationResult(
        ids=[q.id for q in qs], questions=[q.question for q in qs], topics=[q.topic for q in qs],
        gold=[q.answer_letter for q in qs], answer=[LETTERS[i] for i in answer_idx],
        answer_debiased=[LETTERS[i] for i in deb_idx], n_options=ks.astype(np.int64), letter_probs=raw,
        letter_probs_debiased=debiased, signals=signals, confidence=np.stack([conf[s] for s in signals]),
        correct=np.stack([correct[s] for s in signals]), metrics=metrics, reliability=bins, stated_text=stated_text,
        stated_parse_rate=parse_rate, position=position, position_chi2=float(chi2), position_p=float(pval),
        probe_info=dict(items.get("probe_info", {})), n_bins=n_bins, question_set=qs.name, model_name=model_name,
        timing=dict(timing or {}), format=format, prompt_style=style,
        length_norm=length_norm if format == "cloze" else "",
        option_logprob=scores.get("logprob", np.zeros((0, 0))), option_tokens=scores.get("tokens", np.zeros((0, 0))),
        option_bytes=scores.get("bytes", np.zeros((0, 0))), model_card=dict(card or {}))
