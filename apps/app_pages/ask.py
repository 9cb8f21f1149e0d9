"""Ask the model page: calibration (reliability diagram, position bias) and hint faithfulness (hint table, one
item's explanation next to its attribution heat map).

A thin shell over :mod:`interp.ask`: :func:`~interp.ask.calibrate` and :func:`~interp.ask.hint_faithfulness`
on a built-in question set, in either answer format (the option letter, or each option's text scored: cloze) and
prompt style (chat, or plain few-shot text for a base model; "auto" picks by the model's chat template), rendered
with the results' own figures and tables.
"""

import _common
import streamlit as st

import interp
from interp._params import options_of
from interp.ask import ASK_SETS, calibrate, hint_faithfulness
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


loaded = _common.current_model()
model = loaded.model

st.title("Ask the model")
st.caption("What the model says about its answers, next to what its probabilities and activations say. "
           "Chance accuracy on four options is 0.25; calibration means little near chance.")
_common.defaults_note("ask")
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
    result = _common.page_result("ask_calibration", lambda *r: run_calibrate(model, *r),
                                 (questions, int(n), tuple(signals), answer_format, prompt_style), submitted=submitted,
                                 loaded=loaded, hint="Pick at least one signal.")
    if result is not None:
        _common.show_result(result, "calibration")

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
    hints = _common.page_result("ask_hints", lambda *r: run_hints(model, *r),
                                (questions, int(n), int(items), answer_format, prompt_style), submitted=submitted,
                                loaded=loaded)
    if hints is not None:
        _common.show_summary(hints)
        _common.chart(hints.plot())
        st.dataframe(hints.to_frame(), hide_index=True)
        if hints.attribution:
            labels = [f"{a['id']}: ({a['answer_no_hint']}) -> ({a['answer']}) with hint ({a['hint_letter']})"
                      for a in hints.attribution]
            k = st.selectbox("Item", range(len(labels)), format_func=lambda i: labels[i], key="ask_hint_item")
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
        _common.downloads(hints, "hints")
