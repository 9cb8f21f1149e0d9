"""Self-report vs probe: what the model says about a statement, next to what its activations say.

:func:`self_report` asks "Is the following statement true or false?" about each statement (chat
template) and records, side by side:

- ``stated``: the model's generated verdict (greedy; 1 true, 0 false, -1 when the reply says neither);
- ``p_true``: P(" True") / (P(" True") + P(" False")) after "The statement is" (Kadavath et al. 2022's
  P(True) asked of a statement);
- ``probe``: the truth probe's P(true) of the statement itself (:class:`interp.truth.LieDetector`),
  fitted on truth datasets other than the one the statements come from.

Where they disagree is the interesting list (:meth:`SelfReportResult.disagreements`): a statement the
model calls true while its residual stream reads false, or the reverse.

Example:
    >>> from interp.ask import self_report
    >>> r = self_report(model, "capitals", n=40)
    >>> r.disagreements()
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Options, validate_params
from interp._validation import check_int
from interp.ask import _engine, prompts
from interp.ask.calibration import DEFAULT_PROBE_DATASETS, _fit_detector
from interp.ask.metrics import auroc
from interp.models.card import model_card
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model
    from interp.truth.detector import LieDetector

__all__ = ["SelfReportResult", "self_report"]


@dataclasses.dataclass(eq=False, kw_only=True)
class SelfReportResult(Result):
    """Stated verdict, P(True) and the probe's P(true) of each statement.

    Attributes:
        statements: the statements; ``labels`` (n,) 1 true, 0 false (-1 unknown).
        stated: (n,) 1 the model said true, 0 false, -1 neither; ``replies`` the generated text.
        p_true: (n,) P(True) from the token probabilities; ``probe``: (n,) the probe's P(true).
        agreement: share of items where each pair agrees (stated vs probe > 0.5, P(True) > 0.5 vs probe > 0.5,
            stated vs label, ...), and AUROC of each score against the labels.
        probe_info: the truth probe's layer, kind and training sets.
        intervals: ``{name: Interval.to_dict()}`` for each figure of ``agreement``: Wilson for the rates (over
            the statements each counts), a bootstrap over statements for the AUROCs.
    """

    statements: list[str]
    labels: np.ndarray
    stated: np.ndarray
    replies: list[str]
    p_true: np.ndarray
    probe: np.ndarray
    agreement: dict[str, float]
    probe_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: str = ""
    model_name: str = ""
    intervals: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    format: str = "letter"
    prompt_style: str = "chat"

    title: ClassVar[str] = "Self-report vs probe"

    def _figure(self, name: str) -> str:
        if name in self.intervals:
            from interp.stats import Interval

            return Interval.from_dict(self.intervals[name]).format(2)
        return f"{self.agreement[name]:.2f}"

    def summary(self) -> str:
        f = self._figure
        return (f"{self.model_name}: {len(self.statements)} statements ({self.dataset}; P(True) {self.format} format, "
                f"{self.prompt_style} prompt); stated verdict parsed "
                f"{f('stated_parse_rate')}, right {f('stated_accuracy')}; AUROC vs truth: P(True) "
                f"{f('p_true_auroc')}, probe {f('probe_auroc')}; stated and probe agree on "
                f"{f('stated_vs_probe')}, P(True) and probe on {f('p_true_vs_probe')}")

    def caveats(self) -> list[str]:
        out = []
        for name, what in (("stated_accuracy", "The stated verdicts"), ("p_true_accuracy", "The answers with P(True) > 0.5"),
                           ("probe_accuracy", "The probe's verdicts")):
            i = self.intervals.get(name)
            if i and i["low"] <= 0.5 <= i["high"]:
                out.append(f"{what} are right {self._figure(name)} of the time: no better than a coin (0.5) on these "
                           "statements, so agreement with it says little.")
        return out

    def metrics_frame(self) -> DataFrame:
        """One row per figure of ``agreement``: value, interval, how many statements it counts."""
        import pandas as pd

        return pd.DataFrame([{"figure": k, "value": v, "low": self.intervals.get(k, {}).get("low", float("nan")),
                              "high": self.intervals.get(k, {}).get("high", float("nan")),
                              "n": self.intervals.get(k, {}).get("n", 0)} for k, v in self.agreement.items()])

    def to_frame(self) -> DataFrame:
        import pandas as pd

        frame = pd.DataFrame({"statement": self.statements, "label": self.labels, "stated": self.stated,
                              "p_true": self.p_true, "probe_p_true": self.probe, "reply": self.replies})
        probe_says = (self.probe > 0.5).astype(int)
        frame["disagree"] = ((self.stated >= 0) & (self.stated != probe_says)) | ((self.p_true > 0.5) != (self.probe > 0.5))
        return frame

    def disagreements(self) -> DataFrame:
        """The statements where the model's word (stated or P(True)) and the probe disagree, largest gap first."""
        frame = self.to_frame()
        frame = frame[frame["disagree"]].copy()
        frame["gap"] = (frame["p_true"] - frame["probe_p_true"]).abs()
        return frame.sort_values("gap", ascending=False)

    def tables(self) -> list[tuple[str, Any]]:
        return [("", self.to_frame()), ("Figures", self.metrics_frame()), ("Disagreements", self.disagreements())]

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        colour = np.where(self.labels == 1, "true", np.where(self.labels == 0, "false", "unknown"))
        fig = go.Figure()
        for name, symbol in (("true", "circle"), ("false", "x"), ("unknown", "diamond")):
            keep = colour == name
            if keep.any():
                fig.add_trace(go.Scatter(x=self.p_true[keep].tolist(), y=self.probe[keep].tolist(), mode="markers",
                                         name=f"label {name}",
                                         marker={"symbol": symbol, "size": 9},
                                         text=[s for s, k in zip(self.statements, keep) if k],
                                         hovertemplate="%{text}<br>P(True) %{x:.2f}, probe %{y:.2f}<extra></extra>"))
        fig.add_hline(y=0.5, line_dash="dot")
        fig.add_vline(x=0.5, line_dash="dot")
        fig.update_layout(title="What the model says (P(True)) vs what the probe reads", height=480,
                          xaxis={"title": "P(True) (the model's word)", "range": [0, 1]},
                          yaxis={"title": "truth probe P(true)", "range": [0, 1]})
        return fig


@validate_params({
    "model": ["model"], "n": [Interval(int, 1, None), None],
    "seed": [Interval(int, None, None)], "batch_size": [Interval(int, 1, None), None], "progress": ["progress"],
    "statements": ["no_validation"], "labels": ["no_validation"], "detector": ["no_validation"],
    "probe_datasets": ["no_validation"], "probe_pairs": [Interval(int, 1, None)], "max_new_tokens": [Interval(int, 1, None)],
    "format": [Options(prompts.FORMATS)], "prompt_style": [Options(prompts.STYLES)],
})
def self_report(model: Model, statements: Any = "capitals", labels: Any = None, *, n: int | None = 40, seed: int = 0,
                detector: LieDetector | None = None, probe_datasets: Any = DEFAULT_PROBE_DATASETS,
                probe_pairs: int = 150, max_new_tokens: int = 6, batch_size: int | None = None,
                format: str = "letter", prompt_style: str = "auto", progress: ProgressArg = None) -> SelfReportResult:
    """Ask the model whether each statement is true; set its answer next to P(True) and the probe's P(true).

    Args:
        model: an :class:`interp.Model` (an instruct model is asked in chat form, a base model in plain text).
        statements: a truth dataset name or CSV (:func:`interp.truth.load_dataset`; default "capitals", which the
            default probe is not fitted on), or a list of statements (then ``labels`` is optional).
        n: this many pairs' statements of a dataset (seeded; None: all).
        detector: a fitted :class:`~interp.truth.LieDetector`; default: one fitted on ``probe_datasets``.
        max_new_tokens: the verdict reply's length.
        format: how P(True) is read after "The statement is": "letter" (the next token, " True" against " False")
            or "cloze" (the continuations " true." and " false." scored whole, summed log-probability).
        prompt_style: "auto" (chat with a chat template, else plain few-shot text), "chat" or "plain".

    Returns:
        :class:`SelfReportResult`.
    """
    from interp.truth.datasets import TruthDataset, load_dataset

    where = "self_report"
    from interp._validation import check_choice

    check_choice(format, prompts.FORMATS, name="format", where=where)
    style = prompts.resolve_style(model, prompt_style, where)
    if n is not None:
        check_int(n, name="n", where=where, low=1)
    if isinstance(statements, (list, tuple)) and all(isinstance(s, str) for s in statements):
        from interp._validation import check_texts

        texts, _ = check_texts(list(statements), where=where, name="statements")
        labs = np.full(len(texts), -1, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        if labs.shape != (len(texts),):
            from interp.errors import InvalidParameterError

            raise InvalidParameterError(f"The 'labels' of {where} must be one per statement ({len(texts)}); got "
                                        f"{labs.shape}.")
        name = "statements"
    else:
        ds = load_dataset(statements) if not isinstance(statements, TruthDataset) else statements
        ds = ds.sample(None if n is None else max(1, n // 2), seed=seed)
        texts, labs, name = list(ds.statements), np.asarray(ds.labels, dtype=np.int64), ds.name
    report = resolve_progress(progress, where=where)
    shots = prompts.shot_messages("statement", format, style)
    seqs = [_engine.encode_prompt(model, _engine.render(model, shots + prompts.statement_messages(s),
                                                        prompts.STATEMENT_PREFIX, style=style), style=style, where=where)
            for s in texts]
    report("p_true", 0, 1)
    if format == "letter":
        tf = [_engine.single_token(model, w, where=where) for w in (" True", " False")]
        logp = _engine.next_token_logprobs(model, seqs, tf, batch_size=batch_size)
    else:
        words = [model.tokenizer(w, add_special_tokens=False)["input_ids"] for w in (" true.", " false.")]
        scored = _engine.continuation_logprobs(model, [s for s in seqs for _ in words], words * len(seqs),
                                               batch_size=batch_size)
        logp = scored.reshape(len(seqs), 2)
    p_true = 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))
    report("p_true", 1, 1)
    report("stated", 0, len(texts))
    replies = _engine.generate(model, seqs, max_new_tokens=max_new_tokens, stop=_engine.plain_stops(style))
    stated = np.array([-1 if v is None else v for v in map(prompts.parse_true_false, replies)], dtype=np.int64)
    report("stated", len(texts), len(texts))
    fitted = _fit_detector(model, detector, probe_datasets, probe_pairs, report)
    probe = np.asarray(fitted.score(texts, model=model, batch_size=batch_size).p_true, dtype=np.float64)
    parsed = stated >= 0
    known = labs >= 0
    probe_says = (probe > 0.5).astype(np.int64)
    agreement = {
        "stated_parse_rate": float(parsed.mean()),
        "stated_accuracy": float(np.mean(stated[parsed & known] == labs[parsed & known])) if (parsed & known).any()
        else float("nan"),
        "p_true_accuracy": float(np.mean((p_true[known] > 0.5) == labs[known])) if known.any() else float("nan"),
        "probe_accuracy": float(np.mean(probe_says[known] == labs[known])) if known.any() else float("nan"),
        "p_true_auroc": auroc(p_true[known], labs[known]) if known.any() else float("nan"),
        "probe_auroc": auroc(probe[known], labs[known]) if known.any() else float("nan"),
        "stated_vs_probe": float(np.mean(stated[parsed] == probe_says[parsed])) if parsed.any() else float("nan"),
        "p_true_vs_probe": float(np.mean((p_true > 0.5) == (probe > 0.5))),
        "stated_vs_p_true": float(np.mean(stated[parsed] == (p_true[parsed] > 0.5))) if parsed.any() else float("nan"),
    }
    from interp.stats import bootstrap_interval, proportion_interval

    def rate(hits: np.ndarray) -> dict[str, Any]:
        return proportion_interval(int(np.sum(hits)), len(hits)).to_dict()

    kp = np.flatnonzero(known)
    intervals = {
        "stated_parse_rate": rate(parsed), "stated_accuracy": rate(stated[parsed & known] == labs[parsed & known]),
        "p_true_accuracy": rate((p_true[known] > 0.5) == labs[known]),
        "probe_accuracy": rate(probe_says[known] == labs[known]),
        "p_true_auroc": bootstrap_interval(lambda r: auroc(p_true[kp[r]], labs[kp[r]]), len(kp)).to_dict(),
        "probe_auroc": bootstrap_interval(lambda r: auroc(probe[kp[r]], labs[kp[r]]), len(kp)).to_dict(),
        "stated_vs_probe": rate(stated[parsed] == probe_says[parsed]),
        "p_true_vs_probe": rate((p_true > 0.5) == (probe > 0.5)),
        "stated_vs_p_true": rate(stated[parsed] == (p_true[parsed] > 0.5)),
    }
    return SelfReportResult(statements=texts, labels=labs, stated=stated, replies=replies, p_true=p_true, probe=probe,
                            agreement=agreement, intervals=intervals,
                            probe_info={"layer": fitted.layer_, "probe": type(fitted.probe_).__name__,
                                        "datasets": list(fitted.datasets_)},
                            dataset=name, model_name=model.name, format=format, prompt_style=style,
                            model_card=model_card(model))
