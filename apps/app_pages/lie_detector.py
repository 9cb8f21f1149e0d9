"""Lie detector page: is "true" readable from the residual stream, where, and does it transfer?

A thin shell over :mod:`interp.truth`: :func:`~interp.truth.truth_report` (accuracy per layer per probe on
held-out test pairs, the layer chosen on validation pairs carved from the training pairs, the
generalisation matrix and a :class:`~interp.truth.LieDetector` there), the detector scoring statements
typed in a box (optionally centred as one batch), its reach (leave-one-dataset-out accuracy: what to expect
on kinds of statement it was not trained on), and :func:`~interp.truth.detect_model_lies` (the model's honest vs instructed-false
answers, with scores). The report's steps show in a progress bar with what runs.
"""

import _common
import streamlit as st

import interp
from interp._validation import every_nth_layer
from interp.truth import DATASETS, LieDetector, detect_model_lies, generalization_matrix, truth_report
from interp.truth.probes import TRUTH_PROBES


def run_report(model: interp.Model, request: tuple) -> tuple:
    """The report and its detector for ``request`` (datasets, probes, layers, pairs): from this process, else from
    the explorer cache on disk, else computed with a progress bar."""
    datasets, probes, layers, max_pairs = params = request

    def compute() -> tuple:
        fresh = {}

        def report_now():
            with _common.progress_bar("Running the truth report") as bar:
                fresh["report"] = truth_report(model, list(datasets), layers=list(layers), probes=list(probes),
                                               max_pairs=max_pairs, progress=bar)
            return fresh["report"]

        report = _common.cached_result("truth_report", model, params, report_now, disk=True, max_entries=4)
        detector = _common.cached_result(  # a report read from disk holds no detector: run the report again
            "lie_detector", model, params, lambda: (fresh.get("report") or report_now()).detector, disk=True,
            load=lambda path: LieDetector.load(path, model=model), max_entries=4)
        return report, detector

    return _common.cached_result("truth_report_and_detector", model, params, compute, max_entries=4)


def run_matrix(model: interp.Model, datasets: tuple[str, ...], layer: int, probe: str, max_pairs: int):
    return _common.cached_result(
        "truth_generalization", model, (datasets, layer, probe, max_pairs),
        lambda: generalization_matrix(model, list(datasets), layer=layer, probe=probe, max_pairs=max_pairs,
                                      progress=False),
        spinner="Training on each set, testing on every other…", disk=True, max_entries=8)


def score(model: interp.Model, detector: LieDetector, detector_key: str, text: str, per_token: bool,
          batch_center: bool = False):
    """The detector's scores of the statements in ``text`` (the detector named by ``detector_key``)."""
    return _common.cached_result(
        "truth_scores", model, (detector_key, text, per_token, batch_center),
        lambda: detector.score([t for t in text.splitlines() if t.strip()] or [text], per_token=per_token,
                               batch_center=batch_center),
        spinner="Scoring…", max_entries=256)


def run_lies(model: interp.Model, detector: LieDetector, detector_key: str, n_questions: int):
    def compute():
        with _common.progress_bar("Asking the model each question twice (greedy decoding)") as bar:
            return detect_model_lies(model, detector=detector, max_questions=n_questions, progress=bar)

    return _common.cached_result("model_lies", model, (detector_key, n_questions), compute, max_entries=4)


loaded = _common.current_model()
model = loaded.model
st.title("Lie detector")
st.caption("Truth probes read whether a statement is true from the residual stream at its last token: logistic "
           "regression (linear), mass-mean (mm: the raw class-mean difference of Marks & Tegmark 2023; mm_iid its "
           "covariance variant; mm_std the standardised difference) and CCS (Burns et al. 2022, no labels). "
           "Accuracy is on held-out contrast pairs.")

_common.defaults_note("lie_detector")
with st.form("truth_form"):
    left, middle, right = st.columns([5, 4, 3])  # room for the three default datasets' chips
    datasets = left.multiselect("Datasets", list(DATASETS), default=["cities", "larger_than", "facts"],
                                key="truth_sets")
    probes = middle.multiselect("Probes", list(TRUTH_PROBES), default=["linear", "mm", "ccs"],
                                key="truth_probes")
    max_pairs = right.number_input("Pairs per dataset", 20, 1000, 200, step=20, key="truth_pairs")
    step = left.number_input("Every n-th layer", 1, max(1, model.n_layers), max(1, model.n_layers // 10),
                             key="truth_step")
    submitted = st.form_submit_button("Run", type="primary")
if submitted and not (datasets and probes):
    _common.page_result("truth_sweep", run_report, None, submitted=True)  # forgets the last sweep
    st.error("Choose at least one dataset and at least one probe, then press **Run**.", icon=":material/error:")
    st.stop()
request = (tuple(datasets), tuple(probes), tuple(every_nth_layer(model.n_layers, int(step))), int(max_pairs))
shown = _common.page_result("truth_sweep", lambda *r: run_report(model, r), request, submitted=submitted,
                            loaded=loaded)  # this process's copy, or the disk's
kept = _common.kept_request("truth_sweep")
if shown is None and kept is not None and kept[0] != loaded.key:  # a sweep of the model picked before: not this one's
    st.info(f"The last sweep probed {kept[0]}; press **Run** to probe {loaded.key}.", icon=":material/play_arrow:")
    st.stop()
if shown is None:
    st.info("Choose datasets and probes and press **Run**.", icon=":material/play_arrow:")
    st.stop()
sets, probe_names, _, pairs = kept[1]
report, detector = shown
best = report.layer

st.subheader("Accuracy per layer")
_common.chart(report.plot())
_common.downloads(report, "truth_report")
_common.show_summary(report, ". The layer is chosen on validation pairs carved from the training pairs; the "
                     "accuracy shown there is on held-out test pairs that chose nothing.")

st.subheader("Reach: kinds of statement it was not trained on")
st.info(f"The detector at layer {best}: {report.reach()}.", icon=":material/travel_explore:")
if report.transfer_datasets:
    _common.chart(report.transfer_plot())

st.subheader("Generalisation")
probe = st.selectbox("Probe", probe_names, key="truth_matrix_probe")
matrix = (report.generalization() if probe == report.probe else
          _common.guarded(run_matrix, model, sets, best, probe, pairs))
if matrix is not None:
    _common.chart(matrix.plot())
    _common.downloads(matrix, "truth_generalization")

st.subheader("Score statements")
detector_key = f"{loaded.key}:{sets}:{best}:{report.probe}:{pairs}"
text = st.text_area("One statement per line", "The city of Paris is in France.\nThe city of Paris is in Peru.",
                    key="truth_text")
per_token = st.checkbox("Per token (text heat map)", key="truth_per_token")
batch_center = st.checkbox("Centre the statements as one batch (many statements of one kind, about half true)",
                           key="truth_batch_center", disabled=per_token)
if text.strip():
    scores = _common.guarded(score, model, detector, detector_key, text, per_token, batch_center and not per_token)
    if scores is not None:
        _common.chart(scores.plot())
        _common.downloads(scores, "truth_scores")

st.subheader("The model's own lies")
n_questions = st.number_input("Questions", 2, 40, 10, key="truth_questions")
if st.button("Ask honestly and instructed to lie", key="truth_ask"):
    lies = _common.guarded(run_lies, model, detector, detector_key, int(n_questions),
                           hint="This needs an instruct model with a chat template.")
    if lies is not None:
        _common.show_summary(lies)  # first: when the instructed answers were no lies, the AUC means nothing
        _common.chart(lies.plot())
        st.dataframe(lies.to_frame(), hide_index=True)
        _common.downloads(lies, "model_lies")
