"""Batch runs (interp.batch, ``interp run``): specs, end to end on tiny models, equality with the Python
functions, determinism, kill -9 and resume, the lock, the CLI, and (slow) the shipped truth spec."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import interp
from interp.batch import load_run, load_spec, run_lock, run_spec
from interp.errors import InvalidResultFileError, InvalidSpecError, RunFolderError, RunLockedError

ROOT = Path(__file__).resolve().parents[1]
TRUTH = {"task": "truth_sweep", "models": ["tiny-gpt2"], "data": {"datasets": ["cities", "facts"], "max_pairs": 24},
         "probe": {"kinds": ["linear", "mm", "ccs"]}, "extract": {"shard_size": 16}}


def _spec(**changes):
    spec = json.loads(json.dumps(TRUTH))
    for key, value in changes.items():
        table, _, name = key.rpartition("__")
        (spec.setdefault(table, {}) if table else spec)[name] = value
    return spec


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _files(directory: Path, pattern: str) -> dict[str, tuple[int, int]]:
    """relative path -> (inode, mtime_ns) of the files matching ``pattern`` under ``directory``."""
    return {p.relative_to(directory).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob(pattern))}


def _assert_same_numbers(a: Path, b: Path) -> None:
    """Every saved number of run folder ``a`` equals ``b``'s: job results, assembled results, summary, activations."""
    jobs = sorted(p.relative_to(a) for p in (a / "jobs").rglob("*.json"))
    assert jobs and jobs == sorted(p.relative_to(b) for p in (b / "jobs").rglob("*.json"))
    for rel in jobs:
        assert interp.load_result(a / rel) == interp.load_result(b / rel), rel
    run_a, run_b = load_run(a), load_run(b)
    assert [p.name for p in run_a.result_paths] == [p.name for p in run_b.result_paths]
    for x, y in zip(run_a.results(), run_b.results()):
        assert x == y
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()
    from interp.activations import Activations

    for manifest in (a / "activations").rglob("manifest.json"):
        rel = manifest.parent.relative_to(a)
        acts_a, acts_b = Activations.load(a / rel), Activations.load(b / rel)
        for layer in acts_a.layers:
            np.testing.assert_array_equal(acts_a[layer], acts_b[layer])


# ----------------------------------------------------------------------------- specs
def test_shipped_specs_load():
    for name, task in (("truth_sweep", "truth_sweep"), ("pos_sweep", "pos"), ("world_map", "world_map")):
        spec = load_spec(ROOT / "probes" / f"{name}.toml")
        assert spec.task == task and spec.models == ("SmolLM2-135M-Instruct-Q4_1",)
    truth = load_spec(ROOT / "probes" / "truth_sweep.toml")
    assert truth.data["datasets"] == list(interp.truth.DATASETS) and truth.probe["layers"] == "all"


@pytest.mark.parametrize("text, key, match", [
    ('task = "truth_sweep"\nmodles = ["tiny-gpt2"]\n', "modles", r"unknown key.*Did you mean 'models'"),
    ('task = "truth_sweep"\n[probe]\nlayer = "all"\n', "probe.layer", r"\[probe\]\.layer: unknown key.*'layers'"),
    ('task = "truth_sweep"\n[data]\nmax_pairs = "100"\n', "data.max_pairs", r"must be an int >= 4.*'100' \(str\)"),
    ('task = "truth_sweep"\nseed = 1.5\n', "seed", r"seed: must be an int"),
    ('task = "truth_sweep"\n[probe]\nkinds = ["linear", "svm"]\n', "probe.kinds",
     r"'linear', 'mm', 'mm_iid', 'mm_std', 'ccs' or 'lat'"),
    ('task = "truth_sweep"\n[probe]\nlayers = "0-31"\n', "probe.layers", r"'all', a non-negative int"),
    ('task = "truth_sweep"\n[data]\ndatasets = ["cities", "nope.csv"]\n', "data.datasets", r"no such file 'nope.csv'"),
    ('task = "truth_sweep"\n[data]\ndatasets = ["citties"]\n', "data.datasets", r"neither a built-in dataset"),
    ('task = "pos"\n[data]\ncorpus = "missing.txt"\n', "data.corpus", r"no such file"),
    ('task = "world_map"\n[data]\nprompt = "The city of"\n', "data.prompt", r"must contain '\{name\}'"),
    ('task = "sweep"\n', "task", r"'truth_sweep', 'pos', 'world_map', 'sae', 'patching', 'ask', 'data_attribution' or "
                               r"'lens_fit'"),
    ('models = ["tiny-gpt2"]\n', "task", r"missing"),
    ('task = "truth_sweep"\ndata = 3\n', "data", r"must be a table"),
    ('task = "truth_sweep"\nexecutor = "dask"\n', "executor", r"'local' or 'ray'"),
    ('task = "truth_sweep"\n[ray]\nworkers = 0\n', "ray.workers", r"\[ray\]\.workers: must be an int >= 1"),
    ('task = "truth_sweep"\n[ray]\nwokers = 2\n', "ray.wokers", r"unknown key.*Did you mean 'workers'"),
    ('task = "truth_sweep"\n[ray]\naddress = "head"\n', "ray.address", r"'auto'.*'HOST:PORT'"),
    ('task = "truth_sweep"\n[ray]\ngpus_per_worker = -1\n', "ray.gpus_per_worker", r"number >= 0"),
])
def test_malformed_specs_name_the_key(tmp_path, text, key, match):
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(InvalidSpecError, match=match) as info:
        load_spec(path)
    assert info.value.key == key
    assert str(info.value).startswith(f"{path}: ")
    shown = key if "." not in key else "[{}].{}".format(*key.split("."))
    assert shown in str(info.value)


def test_spec_errors_for_a_file_that_is_not_toml_and_overrides(tmp_path):
    with pytest.raises(InvalidSpecError, match="not valid TOML"):
        load_spec(_write(tmp_path / "x.toml", "task = \n"))
    with pytest.raises(InvalidSpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.toml")
    spec = load_spec(_write(tmp_path / "ok.toml", 'task = "truth_sweep"\n'),
                     overrides={"data.max_pairs": 50, "probe.layers": "0:31:10", "models": "default"})
    assert spec.data["max_pairs"] == 50 and spec.probe["layers"] == [0, 10, 20, 30]
    assert spec.models == ("SmolLM2-135M-Instruct-Q4_1",)
    with pytest.raises(InvalidSpecError, match="max_pairs") as info:
        load_spec(spec, overrides={"data.max_pairs": 2})
    assert info.value.key == "data.max_pairs"
    csv = _write(tmp_path / "mine.csv", "statement,label,pair_id\nA is A.,1,p1\nA is B.,0,p1\n")
    spec = load_spec(_write(tmp_path / "own.toml", 'task = "truth_sweep"\n[data]\ndatasets = ["mine.csv"]\n'))
    assert spec.data["datasets"] == [str(csv)]  # relative to the spec file, stored absolute


def test_layer_out_of_range_and_unknown_model_name_the_key(tmp_path):
    path = _write(tmp_path / "deep.toml", 'task = "truth_sweep"\nmodels = ["tiny-gpt2"]\n[probe]\nlayers = [0, 40]\n')
    with pytest.raises(InvalidSpecError, match=r"\[probe\]\.layers: layer 40 is out of range for tiny-gpt2 \(0\.\.2")\
            as info:
        run_spec(path, out=tmp_path / "out")
    assert info.value.key == "probe.layers"
    assert not (tmp_path / "out" / "run.json").exists()  # refused before anything was written
    with pytest.raises(InvalidSpecError, match=r"models: cannot load 'no-such-model'") as info:
        run_spec(_spec(models=["no-such-model"]), out=tmp_path / "out2")
    assert info.value.key == "models"
    with pytest.raises(InvalidSpecError, match="no output folder") as info:
        run_spec(_spec())
    assert info.value.key == "out"


# ----------------------------------------------------------------------------- runs
def test_run_end_to_end_on_tiny_models(tmp_path):
    spec = _spec(models=["tiny-gpt2", "tiny-llama"], probe__layers="1:3", probe__kinds=["linear", "mm"])
    run = run_spec(spec, out=tmp_path / "run")
    d = run.directory
    assert run.status == "complete" and run.task == "truth_sweep"
    for name in ("run.json", "summary.csv", "summary.parquet", "report.html", ".lock"):
        assert (d / name).is_file(), name
    for model in ("tiny-gpt2", "tiny-llama"):
        for dataset in ("cities", "facts"):
            assert (d / "activations" / model / dataset / "manifest.json").is_file()
            assert len(list((d / "jobs" / model / dataset).glob("*.json"))) == 2 * 2  # 2 layers x 2 probes
    record = json.loads((d / "run.json").read_text())
    assert record["interp_version"] == interp.__version__ and record["spec"]["task"] == "truth_sweep"
    assert all(s["status"] == "done" and s["finished"] for s in record["stages"].values())
    assert record["models"]["tiny-gpt2"]["layers"] == [1, 2] and record["models"]["tiny-gpt2"]["n_layers"] == 2
    assert load_spec(record["spec"]).identity() == load_spec(spec).identity()  # run.json's spec reads back

    frame = run.frame()  # one row per model x dataset x layer x probe
    assert len(frame) == 2 * 2 * 2 * 2
    assert list(frame.columns[:6]) == ["task", "model", "dataset", "probe", "layer", "depth"]
    assert frame["accuracy"].between(0, 1).all()
    again = load_run(d)
    assert again.status == "complete" and [type(r).__name__ for r in again.results()] == ["TruthSweepResult"] * 2
    for path in again.result_paths:
        assert path.with_suffix(".html").is_file()
    report = (d / "report.html").read_text()
    assert "<script" in report and "Plotly" in report
    assert not re.search(r"<script[^>]*\ssrc\s*=", report, re.IGNORECASE)  # every script inline: opens offline
    assert not re.search(r"<(link|img|iframe)[^>]*(href|src)\s*=\s*[\"']?(https?:)?//", report, re.IGNORECASE)
    with pytest.raises(InvalidResultFileError, match="not an interp run folder"):
        load_run(tmp_path)


@pytest.mark.parametrize("task", ["truth_sweep", "pos", "world_map"])
def test_batch_numbers_equal_the_python_functions(tiny_models, tmp_path, task):
    model = tiny_models["tiny-gpt2"]
    if task == "truth_sweep":
        from interp.truth import truth_sweep

        spec = _spec(extract={})  # the default shard size: the same shards as the function's
        expected = [truth_sweep(model, ["cities", "facts"], probes=["linear", "mm", "ccs"], max_pairs=24)]
    elif task == "pos":
        from interp.probing import pos_probe

        spec = {"task": "pos", "models": ["tiny-gpt2"], "data": {"max_sentences": 30}, "probe": {"layers": [2]}}
        expected = [pos_probe(model, max_sentences=30, layers=[2], random_baseline=False, progress=False)]
    else:
        from interp.projection import world_map

        spec = {"task": "world_map", "models": ["tiny-gpt2"], "data": {"n_places": 40}, "probe": {"position": "mean"}}
        expected = [world_map(model, n_places=40, position="mean", random_baseline=False)]
    got = run_spec(spec, out=tmp_path / task).results()
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a == b


# ----------------------------------------------------------------------------- one definition per analysis
def test_the_tasks_are_the_registered_analyses_definitions(tmp_path):
    from interp.analysis import BUILTIN, analysis_names, get_analysis
    from interp.batch.context import RunContext
    from interp.probing.pos import POS
    from interp.projection.world import WORLD_MAP
    from interp.truth.sweep import TRUTH_SWEEP

    assert analysis_names()[:8] == ("truth_sweep", "pos", "world_map", "sae", "patching", "ask", "data_attribution",
                                    "lens_fit") == tuple(BUILTIN)
    for name, definition in (("truth_sweep", TRUTH_SWEEP), ("pos", POS), ("world_map", WORLD_MAP)):
        assert get_analysis(name) is definition and definition.name == name
        assert RunContext(load_spec({"task": name}), tmp_path).analysis is definition  # what run_spec fits with
    with pytest.raises(InvalidSpecError, match=r"task: must be one of 'truth_sweep', 'pos', 'world_map', 'sae', "):
        load_spec({"task": "toy_norm"})


def test_batch_imports_only_public_names_of_the_analyses():
    """interp/batch/* imports the analyses' packages by public names only (no ``_private`` module or name); the
    library's shared helper modules (``interp._validation``, ``interp._lazy``, ``interp._imports``) are not analyses."""
    import ast

    private = []
    for path in sorted((ROOT / "interp" / "batch").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("interp"):
                module = node.module or ""
                if module.startswith("interp.batch") or module in ("interp._lazy", "interp._validation", "interp._imports"):
                    continue
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if any(part.startswith("_") for part in module.split(".")) or names:
                    private.append(f"{path.name}: from {module} import {', '.join(a.name for a in node.names)}")
    assert not private, private


# each module of interp/batch imports only modules of earlier layers; the analyses never import interp.batch
BATCH_LAYERS = (("spec",), ("jobs",), ("context",), ("ray_executor",), ("executors",), ("lock", "report", "bars"),
                ("record",), ("runner",))


def test_batch_layers_point_one_way():
    import ast

    def imports(path: Path) -> set[str]:
        return {node.module for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}

    rank = {name: i for i, layer in enumerate(BATCH_LAYERS) for name in layer}
    files = {p.stem: p for p in (ROOT / "interp" / "batch").glob("*.py") if p.stem != "__init__"}
    assert set(files) == set(rank), f"a module of interp/batch without a layer: {set(files) ^ set(rank)}"
    upward = [f"{name} -> {module}" for name, path in files.items() for module in imports(path)
              if module.startswith("interp.batch.") and rank[module.split(".")[2]] >= rank[name]]
    assert not upward, upward
    # the analyses' packages (split into data / result / analysis / batch modules), every module of them
    paths = [ROOT / "interp" / "analysis.py", *(p for package in ("truth/sweep", "probing/pos", "projection/world")
                                                for p in sorted((ROOT / "interp" / package).glob("*.py")))]
    assert len(paths) == 1 + 3 * 5
    for path in paths:
        assert not [m for m in imports(path) if m.startswith("interp.batch")], path


TEXTS = ["The cat sat.", "A dog ran far away.", "Paris is in France.", "Two and two make four.", "Red.",
         "The sea is wide and deep.", "Birds fly.", "Snow falls in winter."]


def _toy_analysis():
    """A tiny analysis written against the contract: the mean norm of the last token's residual per layer."""
    import dataclasses

    import pandas as pd

    from interp.analysis import Analysis, Inputs, fingerprint
    from interp.results import Result

    @dataclasses.dataclass(eq=False, kw_only=True)
    class ToyNormResult(Result):
        layers: list
        norm: np.ndarray  # (n_layers,)
        model_name: str = ""

        kind = "TestBatchToyNormResult"

        def summary(self) -> str:
            return f"{self.model_name}: mean norm {self.norm.round(3).tolist()}"

        def to_frame(self):
            return pd.DataFrame({"layer": self.layers, "norm": self.norm})

    def norm(x: np.ndarray) -> float:  # the per-layer work, shared by the in-memory run and the batch task
        return float(np.linalg.norm(x.astype(np.float64), axis=1).mean())

    class ToyNorm(Analysis):
        name = "toy_norm"
        metrics = ("norm",)
        headline = "norm"
        kinds = ("mean",)
        data_keys = ("texts",)

        def read_data(self, table, check, base):
            return {"texts": check.names(table.get("texts", TEXTS), "data.texts")}

        def datasets(self, spec):
            return ["texts"]

        def inputs(self, spec, dataset):
            return Inputs(dataset, list(spec.data["texts"]), None, fingerprint(spec.data["texts"]), None)

        def position(self, spec):
            return "last"

        def fit(self, run, job):
            return ToyNormResult(layers=[job.layer], norm=np.array([norm(run.features(job.model, job.dataset,
                                                                                       job.layer))]))

        def assemble(self, run, model):
            info = run.model_info(model)
            parts = [run.part(model, "texts", layer, "mean") for layer in info["layers"]]
            return [("toy_norm", ToyNormResult(layers=list(info["layers"]), norm=np.concatenate([p.norm for p in parts]),
                                               model_name=info["name"]))]

        def rows(self, run, model, result):
            n_layers = run.model_info(model)["n_layers"]
            return [{"task": self.name, "model": model, "dataset": "texts", "probe": "mean", "layer": layer,
                     "depth": layer / n_layers, "norm": value} for layer, value in zip(result.layers, result.norm)]

    return ToyNorm(), ToyNormResult, norm


def test_a_registered_analysis_runs_through_run_spec(tiny_models, tmp_path):
    from interp.activations import collect
    from interp.analysis import analysis_names, register, unregister

    toy, ToyNormResult, norm = _toy_analysis()
    register(toy)
    try:
        assert "toy_norm" in analysis_names()
        seen = []
        run = run_spec({"task": "toy_norm", "models": ["tiny-gpt2"], "probe": {"layers": [1, 2]},
                        "extract": {"shard_size": 3}}, out=tmp_path / "toy",
                       progress=lambda stage, done, total: seen.append((stage, done, total)))
        with pytest.raises(InvalidSpecError, match=r"\[data\]\.words: unknown key.*Allowed keys in \[data\]: texts"):
            load_spec({"task": "toy_norm", "data": {"words": []}})
    finally:
        unregister("toy_norm")
    assert "toy_norm" not in analysis_names()

    (result,) = run.results()
    assert type(result) is ToyNormResult and result.layers == [1, 2]
    acts = collect(tiny_models["tiny-gpt2"], TEXTS, layers=[1, 2], position="last", progress=False)
    assert np.array_equal(result.norm, [norm(acts[1]), norm(acts[2])])  # the definition, run in memory
    assert run.frame()["norm"].tolist() == result.norm.tolist()
    assert run.best_layers()["layer"].tolist() == [int(np.argmax(result.norm)) + 1]
    assert run.stages["extract"]["total"] == 3 and run.stages["probe"]["total"] == 2  # 8 texts in shards of 3

    # progress: every stage in order, from 0 up to its total
    assert [s for s, d, _ in seen if d == 0] == ["plan", "extract", "probe", "report"]
    for stage, total in (("plan", 2), ("extract", len(TEXTS)), ("probe", 2), ("report", 2)):
        done = [d for s, d, t in seen if s == stage]
        assert done[0] == 0 and done[-1] == total and done == sorted(done), (stage, done)
        assert {t for s, _, t in seen if s == stage} == {total}


def test_run_spec_refuses_a_bad_progress_argument(tmp_path):
    from interp.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=r"'progress' parameter of run_spec .* Got 'yes' instead"):
        run_spec(_spec(), out=tmp_path / "run", progress="yes")
    assert not (tmp_path / "run").exists()


def test_same_spec_and_seed_give_the_same_numbers(tmp_path):
    first = run_spec(_spec(), out=tmp_path / "a")
    second = run_spec(_spec(), out=tmp_path / "b")
    _assert_same_numbers(first.directory, second.directory)
    other = run_spec(_spec(seed=1), out=tmp_path / "c")
    assert (other.directory / "summary.csv").read_bytes() != (first.directory / "summary.csv").read_bytes()


_CHILD = r"""
import json, pathlib, sys, time
import interp.activations as acts
import interp.truth.sweep as sweep
spec, out, stage, after, marker = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), pathlib.Path(sys.argv[5])
done = []

def pause_after(work):
    # job number after + 1 does its work, says so, and waits before it is committed: the parent kills it there
    def paused(*args, **kwargs):
        result = work(*args, **kwargs)
        done.append(1)
        if len(done) == after + 1:
            marker.write_text("paused")
            time.sleep(600)  # never returns in the test: the parent kills this process as soon as it sees the marker
        return result
    return paused

if stage == "extract":  # a shard's activations are computed, not yet written
    acts._Collector.run_shard = pause_after(acts._Collector.run_shard)
else:  # a probe is fitted, its result not yet saved
    sweep.TruthSweepAnalysis.fit = pause_after(sweep.TruthSweepAnalysis.fit)
from interp.batch import run_spec
run_spec(spec, out, resume=True)
"""


def _kill_when_paused(directory: Path, spec: dict, stage: str, after: int, marker: Path) -> None:
    """Run ``spec`` into ``directory`` in a subprocess that commits ``after`` jobs of ``stage``, computes the next one
    and then waits; SIGKILL it as soon as it says so (through ``marker``), so the kill lands mid-job, every time."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(spec), str(directory), stage, str(after),
                              str(marker)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not marker.exists():
            assert child.poll() is None, f"the run ended before it was killed: {child.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, f"the run did not reach job {after + 1} of {stage} within 120 s"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["extract", "probe"])
def test_kill_9_and_resume_gives_identical_results_and_recomputes_nothing(tmp_path, stage):
    spec = _spec()
    reference = run_spec(spec, out=tmp_path / "reference")
    n_shards = reference.stages["extract"]["total"]
    n_probes = reference.stages["probe"]["total"]
    assert n_shards == 6 and n_probes == 2 * 3 * 3  # 2 datasets x 3 shards; 2 datasets x 3 layers x 3 probes

    killed = tmp_path / "killed"
    committed = 2 if stage == "extract" else 3  # jobs finished before the kill; the next one dies computed, unsaved
    _kill_when_paused(killed, spec, stage, committed, tmp_path / "paused")
    shards = _files(killed, "shard-*.safetensors")
    probes = _files(killed / "jobs", "*.json") if (killed / "jobs").is_dir() else {}
    assert load_run(killed).status == "interrupted"  # nobody holds the lock, the run never finished
    if stage == "extract":
        assert len(shards) == committed and not probes
    else:
        assert len(shards) == n_shards and len(probes) == committed

    with pytest.raises(RunFolderError, match="--resume"):
        run_spec(spec, out=killed)  # an unfinished run is continued only when asked
    resumed = run_spec(spec, out=killed, resume=True)
    assert resumed.status == "complete"
    attempt = resumed.attempts[-1]
    assert attempt["resumed"] and attempt["shards_reused"] == len(shards)
    assert attempt["shards_computed"] == n_shards - len(shards)
    manifests = {p.parent.name: json.loads(p.read_text()) for p in killed.rglob("manifest.json")}
    texts = {f"activations/tiny-gpt2/{d}/{s['file']}": s["texts"][1] - s["texts"][0]
             for d, m in manifests.items() for s in m["shards"]}
    assert attempt["texts_forwarded"] == sum(n for f, n in texts.items() if f not in shards)  # forward passes
    assert attempt["probes_reused"] == len(probes) and attempt["probes_computed"] == n_probes - len(probes)
    # the finished files are the very same files, untouched
    assert {f: v for f, v in _files(killed, "shard-*.safetensors").items() if f in shards} == shards
    assert {f: v for f, v in _files(killed / "jobs", "*.json").items() if f in probes} == probes
    _assert_same_numbers(killed, reference.directory)
    assert not list(killed.rglob("*.tmp"))


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    folder = tmp_path / "run"
    code = ("import sys\nfrom interp.batch import run_lock\n"  # holds the lock until it is killed (stdin never closes)
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, stdin=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"{folder} is in use by another run \\(pid {holder.pid} "):
            run_spec(_spec(), out=folder)
        assert not (folder / "run.json").exists()  # nothing interleaved
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        holder.stdin.close()
    assert run_spec(_spec(), out=folder).status == "complete"  # the kernel released the killed holder's lock
    with run_lock(folder), pytest.raises(RunLockedError):  # in one process too: each run opens its own lock
        run_spec(_spec(), out=folder)


def test_folders_that_hold_something_else_are_refused(tmp_path):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="holds no interp run"):
        run_spec(_spec(), out=stranger, resume=True)
    assert (stranger / "notes.txt").read_text() == "mine"
    done = run_spec(_spec(probe__kinds=["mm"]), out=tmp_path / "done")
    again = run_spec(_spec(probe__kinds=["mm"]), out=tmp_path / "done")  # a finished run: nothing recomputed
    assert again.attempts[-1]["shards_computed"] == again.attempts[-1]["probes_computed"] == 0
    with pytest.raises(RunFolderError, match=r"another spec.*probe\.kinds"):
        run_spec(_spec(), out=done.directory, resume=True)
    (done.directory / "jobs" / "tiny-gpt2" / "facts" / "mm-L001.json").unlink()  # a lost probe result is redone
    redone = run_spec(_spec(probe__kinds=["mm"]), out=done.directory)
    assert redone.attempts[-1]["probes_computed"] == 1


# ----------------------------------------------------------------------------- command line
def test_cli_run(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    path = _write(tmp_path / "spec.toml", 'task = "truth_sweep"\nmodels = "tiny-gpt2"\n[data]\n'
                                          'datasets = ["facts"]\nmax_pairs = 20\n[probe]\nkinds = ["mm"]\n')
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--set", "probe.layers=[1, 2]"])
    assert result.exit_code == 0, result.output
    assert "Best layer by accuracy" in result.output and "report.html" in result.output
    assert load_run(tmp_path / "run").record["models"]["tiny-gpt2"]["layers"] == [1, 2]
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--set", "probe.layers=[1, 2]",
                                 "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "complete"

    bad = _write(tmp_path / "bad.toml", 'task = "truth_sweep"\n[probe]\nlayer = 3\n')
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "InvalidSpecError" in result.stderr and "[probe].layer" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run")])  # other layers: another spec
    assert result.exit_code == 1 and "RunFolderError" in result.stderr and "probe.layers" in result.stderr


# ----------------------------------------------------------------------------- the default model
@pytest.mark.slow
def test_shipped_truth_spec_on_the_default_model(tmp_path, default_model, monkeypatch):
    # every dataset and probe of the shipped spec; fewer pairs and every sixth layer to stay near half a minute
    from interp.models import loading

    load = loading.load_model

    def session_model(name=None, **kwargs):  # the session's default model (one real load per test run), not a 2nd
        if name in loading.DEFAULT_ALIASES and kwargs.get("dtype", "float32") == "float32" and not kwargs.get(
                "random_weights"):
            return default_model
        return load(name, **kwargs)

    monkeypatch.setattr(loading, "load_model", session_model)
    run = run_spec(ROOT / "probes" / "truth_sweep.toml", out=tmp_path / "truth",
                   overrides={"data.max_pairs": 24, "probe.layers": "0:31:6"}, progress=False)
    frame = run.frame()
    n_sets = len(interp.truth.DATASETS)
    assert run.status == "complete" and len(frame) == n_sets * 6 * 3
    assert sorted(frame["dataset"].unique()) == sorted(interp.truth.DATASETS)
    best_lr = frame[frame.probe == "linear"].groupby("dataset").accuracy.max()
    first_sets = ["cities", "neg_cities", "capitals", "continents", "larger_than", "sums", "facts"]
    assert best_lr[first_sets].mean() > 0.7  # SmolLM2 represents truth linearly in some layer (0.81 with every 2nd layer)
    (result,) = run.results()
    assert result.n_layers == 30 and result.layers == list(range(0, 31, 6))
    assert result.accuracy[:, :, 0].tolist() == [[0.5] * 3] * n_sets  # layer 0 is the same token for all: chance
