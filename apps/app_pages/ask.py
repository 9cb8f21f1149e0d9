"""Ask the model page: calibration (reliability diagram, position bias) and hint faithfulness (hint table, one
item's explanation next to its attribution heat map).

A thin shell over :mod:`interp.ask`: :func:`~interp.ask.calibrate` and :func:`~interp.ask.hint_faithfulness`
on a built-in question set, in either answer format (the option letter, or each option's text scored: cloze) and
prompt style (chat, or plain few-shot text for a base model; "auto" picks by the model's chat template), rendered
with the results' own figures and tables. With a second model chosen in "Compare with" (it starts on the model
this session loaded before the sidebar's), each figure is computed for both models by the same call and shown in
two columns, under a line saying whether their accuracies differ beyond noise
(:func:`~interp.ask.compare_accuracy`: the paired bootstrap over the questions both were asked).
"""

import _common
import streamlit as st

import interp
from interp._params import options_of
from interp.ask import ASK_SETS, calibrate, compare_accuracy, hint_faithfulness
from interp.ask.prompts import FORMATS, STYLES

CHEAP_SIGNALS = ["letter", "letter_debiased", "p_true", "stated"]
FORMAT_HELP = ("letter: the option letter after \"The answer is (\". cloze: each option's text scored after the "
               "question (length-normalised log-likelihood, as lm-eval's acc_norm); small models often know more "
               "than the letter shows.")
STYLE_HELP = "auto: the chat template when the model has one, else plain few-shot Question/Answer text (base models)."


def run_calibrate(model: interp.Model, questions: str, n: int, signals: tuple[str, ...],
                  answer_format: str = "letter", prompt_style: str = "auto"):
    """Calibration with a progress bar (stage, done of total, time left), kept in this process once computed."""
    def compute():
        with _common.progress_bar(f"Asking {n} questions") as bar:
            return calibrate(model, questions, n=n, signals=list(signals), n_boot=200, format=answer_format,
                             prompt_style=prompt_style, progress=bar)

    return _common.cached_result("ask_calibrate", model, (questions, n, signals, answer_format, prompt_style), compute,
                                 max_entries=8)


def run_hints(model: interp.Model, questions: str, n: int, attribute_items: int,
              answer_format: str = "letter", prompt_style: str = "auto"):
    """Hint faithfulness with a progress bar, kept in this process once computed."""
    def compute():
        with _common.progress_bar(f"Asking {n} questions with and without hints") as bar:
            return hint_faithfulness(model, questions, n=n, n_boot=200, attribute_items=attribute_items,
                                     format=answer_format, prompt_style=prompt_style, progress=bar)

    return _common.cached_result("ask_hints", model, (questions, n, attribute_items, answer_format, prompt_style),
                                 compute, max_entries=8)


def compare_request(other: _common.LoadedModel | None, result, request: tuple) -> tuple | None:
    """What :func:`_common.page_result` keeps for the second model's column: its name and the form's settings, or
    None (no model to compare with, or the sidebar model's own call failed: nothing to compare against)."""
    return None if other is None or result is None else (other.key, *request)


def show_comparison(results: list, what: str) -> None:
    """One line: whether the two results' accuracies (``what``) differ beyond noise, on the questions both were
    asked (the library's paired bootstrap)."""
    comparison = _common.guarded(compare_accuracy, results[0], results[1])
    if comparison is not None:
        verdict = ("within noise: these questions do not say which model is more accurate" if comparison.within_noise
                   else f"beyond noise: {comparison.larger} is more accurate")
        st.markdown(f"**{_common.escape(what)}, {comparison.difference.n} questions both were asked** "
                    + _common.escape(f"(paired bootstrap over questions, 95%): {comparison.sentence(2)}; {verdict}."))


def side_by_side(results: list, what: str, show) -> None:
    """``show(result, suffix)`` for each result: one full-width, two in columns under :func:`show_comparison`."""
    if len(results) == 1:
        show(results[0], "")
        return
    show_comparison(results, what)
    for i, (column, result) in enumerate(zip(st.columns(len(results)), results)):
        with column:
            st.subheader(_common.escape(result.model_name))
            show(result, f"_{i + 1}" if i else "")


def show_hints(hints, suffix: str) -> None:
    """A hint result: summary, table, figure, one item's explanation next to its attribution, patching, items."""
    _common.show_summary(hints)
    _common.chart(hints.plot())
    st.dataframe(hints.to_frame(), hide_index=True)
    if hints.attribution:
        labels = [f"{a['id']}: ({a['answer_no_hint']}) -> ({a['answer']}) with hint ({a['hint_letter']})"
                  for a in hints.attribution]
        k = st.selectbox("Item", range(len(labels)), format_func=lambda i: labels[i], key=f"ask_hint_item{suffix}")
        explanation, heat = st.columns([1, 2])
        a = hints.attribution[k]
        explanation.markdown("**What the model says**")
        explanation.write(hints.explanations["wrong"][a["index"]] or "(no explanation: it did not switch)")
        explanation.markdown(f"Mentions the hint: **{ {1: 'yes', 0: 'no', -1: 'not asked'}[a['mentioned']] }**")
        heat.markdown("**What moved the answer** (attribution of the chosen letter)")
        _common.chart(hints.item_plot(k), heat)
    if hints.patching.get("items"):
        _common.chart(hints.patching_plot())
    with st.expander("Items"):
        st.dataframe(hints.items_frame(), hide_index=True)
    _common.downloads(hints, f"hints{suffix}")


loaded = _common.current_model()
model = loaded.model

st.title("Ask the model")
st.caption("What the model says about its answers, next to what its probabilities and activations say. "
           "Chance accuracy on four options is 0.25; calibration means little near chance.")
_common.defaults_note("ask")
other = _common.second_model("ask_compare")
calibration_tab, hints_tab = st.tabs(["Calibration", "Hints"])

with calibration_tab:
    with st.form("ask_calibrate_form"):
        left, middle = st.columns(2)
        questions = left.selectbox("Questions", list(ASK_SETS), index=list(ASK_SETS).index("easy"), key="ask_cal_set")
        n = middle.number_input("Questions asked", 4, 400, 40, key="ask_cal_n")
        signals = st.multiselect("Signals", options_of(calibrate, "signals"), CHEAP_SIGNALS,
                                 key="ask_cal_signals", help="'probe' fits a truth probe first (slower). In the cloze "
                                 "format the letter signals become one: the option likelihood.")
        left, middle = st.columns(2)
        answer_format = left.radio("Answer format", list(FORMATS), key="ask_cal_format", horizontal=True,
                                   help=FORMAT_HELP)
        prompt_style = middle.radio("Prompt style", list(STYLES), key="ask_cal_style", horizontal=True, help=STYLE_HELP)
        submitted = st.form_submit_button("Calibrate", type="primary")
    request = (questions, int(n), tuple(signals), answer_format, prompt_style)
    result = _common.page_result("ask_calibration", lambda *r: run_calibrate(model, *r), request,
                                 submitted=submitted, loaded=loaded, hint="Pick at least one signal.")
    beside = _common.page_result("ask_calibration_compare", lambda key, *r: run_calibrate(_common.shared_model(key), *r),
                                 compare_request(other, result, request), submitted=submitted, loaded=loaded)
    results = [r for r in (result, beside) if r is not None] if result is not None else []
    if results:
        side_by_side(results, "Accuracy",
                     lambda result, suffix: _common.show_result(result, f"calibration{suffix}"))

with hints_tab:
    with st.form("ask_hints_form"):
        left, middle, right = st.columns(3)
        questions = left.selectbox("Questions", list(ASK_SETS), index=list(ASK_SETS).index("easy"),
                                   key="ask_hint_set")
        n = middle.number_input("Questions asked", 4, 400, 24, key="ask_hint_n")
        items = right.number_input("Items attributed", 0, 10, 2, key="ask_hint_items",
                                   help="Letter format in chat form only.")
        left, middle = st.columns(2)
        answer_format = left.radio("Answer format", list(FORMATS), key="ask_hint_format", horizontal=True,
                                   help=FORMAT_HELP + " The cloze hint names the option's text; it has no always-(A) "
                                   "condition.")
        prompt_style = middle.radio("Prompt style", list(STYLES), key="ask_hint_style", horizontal=True,
                                    help=STYLE_HELP)
        submitted = st.form_submit_button("Ask with hints", type="primary")
    request = (questions, int(n), int(items), answer_format, prompt_style)
    hints = _common.page_result("ask_hints", lambda *r: run_hints(model, *r), request, submitted=submitted,
                                loaded=loaded)
    beside = _common.page_result("ask_hints_compare", lambda key, *r: run_hints(_common.shared_model(key), *r),
                                 compare_request(other, hints, request), submitted=submitted, loaded=loaded)
    hint_results = [r for r in (hints, beside) if r is not None] if hints is not None else []
    if hint_results:
        side_by_side(hint_results, "Accuracy without a hint", show_hints)
