"""Runs page: open any result saved by the CLI, a batch run (``interp run``) or a notebook.

A result file is shown the way its own page shows it: :meth:`~interp.results.Result.summary`, every
figure of :meth:`~interp.results.Result.figures`, its tables and the download buttons. A folder is
searched for saved results (an ``interp run`` output folder also shows its summary table and report).
Folders are read only under the runs root (``$INTERP_RUNS_DIR``, default ``./runs``) and searched
within bounds (:func:`interp._paths.find_results`); uploads are parsed as JSON data, never run.
The page needs no model.
"""

import os
from pathlib import Path

import _common
import pandas as pd
import streamlit as st

import interp
from interp import _paths
from interp.errors import InvalidResultFileError

RUNS_ENV = _paths.RUNS_ENV  # the folder the page starts in and reads under (default: ./runs)


def find_results(folder: str) -> _paths.ResultScan:
    """The saved results under ``folder`` (listed again after 5 s: a run writing there shows its new files)."""
    return _common.cached_result("result_scan", None, (folder,), lambda: _paths.find_results(folder), ttl=5)


def open_result(path: str, mtime_ns: int) -> interp.Result:
    """The result saved at ``path`` (read again when the file changed: ``mtime_ns``)."""
    return _common.cached_result("saved_result", None, (path, mtime_ns), lambda: interp.load_result(path),
                                 spinner="Opening…", max_entries=32)


def open_upload(data: bytes, name: str) -> interp.Result:
    return interp.Result.from_json(data, source=name)


def open_folder(folder: str) -> _paths.ResultScan:
    resolved = _paths.resolve_under(folder, [_paths.runs_root()], what="folder")
    if not resolved.is_dir():
        raise InvalidResultFileError(f"{folder!r} is not a folder. Enter the --out folder of an `interp` command "
                                     "or `interp run`, or any folder under the runs folder that holds saved results.")
    return find_results(str(resolved))


st.title("Saved runs and results")
st.caption("Open anything interp saved (`result.save(...)` in a notebook, `--out` of a CLI command, an `interp run` "
           "folder) and see it as the page that made it shows it.")
source = st.radio("Open", ["A folder", "An uploaded file"], horizontal=True, key="runs_source")

result = None
stem = "result"
if source == "A folder":
    start = os.environ.get(RUNS_ENV, "runs")
    root = _paths.runs_root()
    folder = st.text_input("Folder", value=start, key="runs_folder",
                           help=f"Read on the machine that runs the app, relative to where it was started, and only "
                                f"under {root.path} (${RUNS_ENV}, default ./runs).").strip()
    if folder == start and not Path(folder).exists():
        st.info(f"There is no {folder!r} folder yet: `interp run SPEC.toml --out {folder}/NAME` or any command's "
                "`--out` writes results there. Or enter another folder, or upload a file.",
                icon=":material/folder_open:")
        files = None
    else:
        scan = _common.guarded(open_folder, folder, hint="Check the path; it is read on the machine running the app.")
        files = None if scan is None else scan.files
        if scan is not None and not scan.complete:
            st.warning(scan.note(), icon=":material/hourglass_bottom:")
    if files is not None:
        folder = str(scan.folder)
        summary = Path(folder) / "summary.csv"
        if summary.is_file() and _paths.is_under(summary, scan.folder):
            st.subheader("Run summary")
            table = _common.guarded(pd.read_csv, summary)
            if table is not None:
                st.dataframe(table, hide_index=True)
            report = Path(folder) / "report.html"
            if report.is_file() and _paths.is_under(report, scan.folder):
                st.download_button("Download the run's report (HTML)", report.read_bytes, file_name="report.html",
                                   mime="text/html", on_click="ignore", icon=":material/download:",
                                   key="runs_report")
        if not files:
            st.info(f"No saved interp results in {folder}.", icon=":material/folder_open:")
        else:
            chosen = st.selectbox(f"Result ({len(files)} found)", files, key="runs_file")
            path = Path(folder) / chosen
            result = _common.guarded(open_result, str(path), path.stat().st_mtime_ns if path.exists() else 0,
                                     hint="This file is not a result this interp can read.")
            stem = Path(chosen).stem
else:
    uploaded = st.file_uploader("A saved result (.json)", type=["json"], key="runs_upload")
    if uploaded is None:
        st.info("Upload a result JSON saved by interp.", icon=":material/upload_file:")
    else:
        result = _common.guarded(open_upload, uploaded.getvalue(), uploaded.name,
                                 hint="Upload a .json file that interp saved (not an .html export).")
        stem = Path(uploaded.name).stem

if result is not None:
    st.subheader(result.title)
    _common.show_result(result, stem)
