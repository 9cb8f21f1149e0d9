"""Replication page: each headline finding of the papers interp implements, next to what a model measures.

A thin shell over :mod:`interp.replication`: it opens a table saved by ``interp replicate --out DIR`` (or
``result.save``), or measures one on the sidebar model with :func:`~interp.replication.replicate` (quick
settings by default: minutes on a CPU, the full settings tens of minutes), and shows the result as every page
does: its caveats first (one value per finding without an interval, interp's reading of the claims, the scale
of the papers' models, findings not measured), its summary, the table coloured by verdict and the downloads.
"""

import _common
import streamlit as st

import interp
from interp.replication import DEFAULT_PARTS, PARTS, ReplicationResult, replicate

PART_NAMES = {"truth": "Marks & Tegmark (truth)", "space": "Gurnee & Tegmark (space)",
              "pos": "Hewitt & Liang (POS, control tasks)", "attribution": "DeYoung et al. (ERASER)",
              "ask": "Kadavath, Turpin et al. (asking the model)"}


def run_replication(model: interp.Model, quick: bool, parts: tuple[str, ...], seed: int) -> ReplicationResult:
    """From this process, else the explorer cache on disk, else measured with a progress bar of what runs."""

    def compute() -> ReplicationResult:
        with _common.progress_bar("Measuring the papers' findings") as bar:
            return replicate(model, quick=quick, parts=list(parts), seed=seed, progress=bar)

    return _common.cached_result("replication", model, (quick, parts, seed), compute, disk=True, max_entries=4)


def open_table(data: bytes) -> ReplicationResult:
    return _common.cached_result("replication_upload", None, (data,),
                                 lambda: ReplicationResult.from_json(data, source="the uploaded file"))


st.title("Replication")
st.caption("Each headline finding of the papers interp implements (Marks & Tegmark, Gurnee & Tegmark, Hewitt & Liang, "
           "ERASER), measured with the library's own functions, next to the criterion it is judged by. Open a table "
           "saved by `interp replicate --out DIR`, or measure one on the sidebar model.")
_common.defaults_note("replication")

uploaded = st.file_uploader("Open a saved table (result.json from `interp replicate --out DIR`)", type=["json"],
                            key="replication_upload")
opened = None if uploaded is None else _common.guarded(
    open_table, uploaded.getvalue(), hint="Upload the result.json that `interp replicate --out DIR` wrote.")
with st.expander("…or measure it on the sidebar model", expanded=uploaded is None):
    with st.form("replication_form"):
        quick = st.checkbox("Quick settings (small samples, every few layers)", value=True, key="replication_quick")
        parts = st.multiselect("Papers", list(PARTS), default=list(DEFAULT_PARTS), format_func=PART_NAMES.get,
                               key="replication_parts")
        seed = st.number_input("Seed", min_value=0, value=0, step=1, key="replication_seed")
        run = st.form_submit_button("Measure", type="primary")
    loaded = _common.current_model(required=run)  # an open table needs no model
    result = None if loaded is None else _common.page_result(
        "replication", lambda *r: run_replication(loaded.model, *r), (bool(quick), tuple(parts), int(seed)),
        submitted=run, loaded=loaded)
if uploaded is not None:  # an open upload is shown, whatever ran
    result = opened
if result is None:
    st.info("Open a saved table, or press **Measure** (quick settings take minutes for the default model on a CPU).",
            icon=":material/play_arrow:")
else:
    _common.show_result(result, "replication")
    for line in result.details:
        st.caption(line)
