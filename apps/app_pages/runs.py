"""Runs page: open any result saved by the CLI, a batch run (``interp run``) or a notebook.

A result file is shown the way its own page shows it: :meth:`~interp.results.Result.summary`, every
figure of :meth:`~interp.results.Result.figures`, its tables and the download buttons. A folder is
searched for saved results (an ``interp run`` output folder also shows its summary table and report).
The page needs no model.
"""

import os
from pathlib import Path

import _common
import pandas as pd
import streamlit as st

import interp
from interp.errors import InvalidResultFileError

RUNS_ENV = "INTERP_RUNS_DIR"  # the folder the page starts in (default: ./runs)
_MARKER = b'"interp.result"'  # every saved result names its format near the start of the file
_SKIP = {"activations", "jobs", ".git", "__pycache__"}  # shards, and a batch run's per-probe files


@st.cache_data(show_spinner=False, ttl=5)
def find_results(folder: str) -> list[str]:
    """Saved results under ``folder`` (relative paths, sorted); activation shards and other JSON are skipped."""
    root = Path(folder)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".json"):
                continue
            path = Path(dirpath) / name
            try:
                with open(path, "rb") as handle:
                    head = handle.read(4096)
            except OSError:
                continue
            if _MARKER in head:
                found.append(str(path.relative_to(root)))
    return found


@st.cache_data(show_spinner="Opening…", max_entries=32)
def open_result(path: str, mtime_ns: int) -> interp.Result:
    return interp.load_result(path)


def open_upload(data: bytes, name: str) -> interp.Result:
    return interp.Result.from_json(data, source=name)


def open_folder(folder: str) -> list[str]:
    if not Path(folder).is_dir():
        raise InvalidResultFileError(f"{folder!r} is not a folder. Enter the --out folder of an `interp` command "
                                     "or `interp run`, or any folder that holds saved results.")
    return find_results(folder)


st.title("Saved runs and results")
st.caption("Open anything interp saved (`result.save(...)` in a notebook, `--out` of a CLI command, an `interp run` "
           "folder) and see it as the page that made it shows it.")
source = st.radio("Open", ["A folder", "An uploaded file"], horizontal=True, key="runs_source")

result = None
stem = "result"
if source == "A folder":
    start = os.environ.get(RUNS_ENV, "runs")
    folder = st.text_input("Folder", value=start, key="runs_folder",
                           help="Read on the machine that runs the app; relative to where it was started.").strip()
    if folder == start and not Path(folder).exists():
        st.info(f"There is no {folder!r} folder yet: `interp run SPEC.toml --out {folder}/NAME` or any command's "
                "`--out` writes results there. Or enter another folder, or upload a file.",
                icon=":material/folder_open:")
        files = None
    else:
        files = _common.guarded(open_folder, folder, hint="Check the path; it is read on the machine running the app.")
    if files is not None:
        summary = Path(folder) / "summary.csv"
        if summary.is_file():
            st.subheader("Run summary")
            table = _common.guarded(pd.read_csv, summary)
            if table is not None:
                st.dataframe(table, hide_index=True)
            report = Path(folder) / "report.html"
            if report.is_file():
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
