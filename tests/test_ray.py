"""``interp run --executor ray``: the same files as the local executor on a local Ray instance and on a
head + worker started with ``ray start``; a worker killed mid-shard is retried; a run started locally
and killed resumes on Ray; without Ray the error says how to install it. (Marked ``ray``; the tests
that start Ray skip where it is not installed.)"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_batch import _assert_same_numbers, _files, _kill_when_paused, _spec, _write

from interp.batch import load_run, load_spec, run_spec
from interp.errors import InvalidParameterError, MissingExtraError, RayClusterError

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.ray


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_same_shards(a: Path, b: Path) -> None:
    """Every activation shard of run folder ``a`` holds the very same bits as ``b``'s: each tensor's bytes,
    dtype and shape, and the header's metadata (the files' bytes differ only in the order safetensors
    writes the metadata keys, which differs between any two processes)."""
    from safetensors import safe_open

    shards = sorted(p.relative_to(a) for p in (a / "activations").rglob("shard-*.safetensors"))
    assert shards and shards == sorted(p.relative_to(b) for p in (b / "activations").rglob("shard-*.safetensors"))
    for rel in shards:
        with safe_open(str(a / rel), "numpy") as x, safe_open(str(b / rel), "numpy") as y:
            assert x.metadata() == y.metadata(), rel
            assert sorted(x.keys()) == sorted(y.keys()), rel
            for key in x.keys():
                u, v = x.get_tensor(key), y.get_tensor(key)
                assert u.dtype == v.dtype and u.shape == v.shape and u.tobytes() == v.tobytes(), (rel, key)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The spec run by the local executor (6 shards, 18 probes)."""
    return run_spec(_spec(), out=tmp_path_factory.mktemp("local") / "run")


# ----------------------------------------------------------------------------- no Ray, bad settings
def test_without_ray_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from interp.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'interp\[ray\]'"):
        run_spec(_spec(), out=tmp_path / "a", executor="ray")
    with pytest.raises(MissingExtraError, match=r"pip install 'interp\[ray\]'"):
        run_spec(_spec(executor="ray"), out=tmp_path / "b")  # the spec's executor
    path = _write(tmp_path / "spec.toml", 'task = "truth_sweep"\nmodels = "tiny-gpt2"\n')
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "c"), "--executor", "ray"])
    assert result.exit_code == 1 and "MissingExtraError" in result.stderr
    assert "pip install 'interp[ray]'" in result.stderr and "Traceback" not in result.output + result.stderr
    assert not any((tmp_path / d).exists() for d in "abc")  # refused before anything was written


def test_executor_settings_are_not_part_of_the_run_identity():
    local = load_spec(_spec())
    ray = load_spec(_spec(executor="ray", ray={"address": "10.0.0.1:6379", "workers": 4, "gpus_per_worker": 0.5}))
    assert ray.executor == "ray" and ray.ray == {"address": "10.0.0.1:6379", "workers": 4, "gpus_per_worker": 0.5}
    assert local.ray == {"address": None, "workers": None, "gpus_per_worker": 0.0}
    assert ray.hash() == local.hash() and not ray.differences(local.identity())
    assert load_spec(ray.to_dict()).ray == ray.ray  # run.json's copy reads back


def test_ray_executor_arguments_and_an_unreachable_address():
    from interp.batch import RayExecutor

    with pytest.raises(InvalidParameterError, match=r"'workers' parameter of RayExecutor must be an int >= 1"):
        RayExecutor(workers=0)
    with pytest.raises(InvalidParameterError, match=r"'address' parameter of RayExecutor must be 'auto'"):
        RayExecutor(address="nowhere")
    pytest.importorskip("ray")
    import ray

    port = _free_port()  # nothing listens there
    with pytest.raises(RayClusterError, match=rf"Cannot reach a Ray head node at 127.0.0.1:{port}.*ray start --head"):
        RayExecutor(address=f"127.0.0.1:{port}")
    assert not ray.is_initialized()  # refused before ray.init (and its long wait) was ever called


def test_a_local_ray_instance_leaves_the_environment_as_it_was():
    """Ray's import and ray.init set variables (RAY_CLIENT_MODE, RAY_AUTH_MODE, PYTHONBREAKPOINT, and interp's
    RAY_USAGE_STATS_ENABLED=0 for the instance it starts): closing the executor puts the environment back."""
    pytest.importorskip("ray")
    code = ("import json, os\n"
            "before = dict(os.environ)\n"
            "from interp.batch import RayExecutor\n"
            "ex = RayExecutor(workers=1)\n"
            "ex._connect()\n"
            "during = sorted(k for k in os.environ if os.environ.get(k) != before.get(k))\n"
            "ex.close()\n"
            "after = sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))\n"
            "print(json.dumps([during, after]))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    during, after = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "RAY_USAGE_STATS_ENABLED" in during  # the check can see a change
    assert after == [], after


# ----------------------------------------------------------------------------- a head and a worker (`ray start`)
def _ray_start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``ray start --block ...`` in its own process group (stopped by :func:`_ray_stop`, by that group only)."""
    ray_bin = Path(sys.executable).with_name("ray")
    return subprocess.Popen([str(ray_bin), "start", "--block", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _ray_stop(proc: subprocess.Popen) -> None:
    """Stop one ``ray start --block`` and every process it started (not other Ray instances on this machine,
    which ``ray stop --force`` would kill too)."""
    proc.terminate()  # ray start --block stops its node's processes on SIGTERM
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its process group
    except ProcessLookupError:
        pass
    proc.wait()
    proc.stderr.close()


def test_cluster_started_with_ray_start_gives_the_local_results(tmp_path, reference):
    pytest.importorskip("ray")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's sockets live there
    # The cluster's own token, in its own folder: nothing read from ~/.ray (empty on a fresh machine), and
    # nodes and driver share it through RAY_AUTH_TOKEN_PATH (an inherited RAY_AUTH_TOKEN would take precedence).
    token_path = tmp_path / "auth_token"
    token_path.write_text(secrets.token_hex(32), encoding="utf-8")
    token_path.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_path),
                "PYTHONPATH": str(ROOT)})
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    nodes = [_ray_start(["--head", "--port", str(port), "--temp-dir", temp_dir, "--include-dashboard", "false",
                         *common], env)]
    try:
        deadline = time.monotonic() + 60
        while True:  # the head's GCS port is open
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert nodes[0].poll() is None, nodes[0].stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the head node did not start"
                time.sleep(0.2)
        nodes.append(_ray_start(["--address", f"127.0.0.1:{port}", *common], env))
        spec = _write(tmp_path / "spec.toml", 'task = "truth_sweep"\nmodels = "tiny-gpt2"\n[data]\n'
                                              'datasets = ["cities", "facts"]\nmax_pairs = 24\n[probe]\n'
                                              'kinds = ["linear", "mm", "ccs"]\n[extract]\nshard_size = 16\n')
        out = tmp_path / "run"
        result = subprocess.run([sys.executable, "-m", "interp.cli", "run", str(spec), "--out", str(out), "--quiet",
                                 "--executor", "ray", "--address", f"127.0.0.1:{port}", "--workers", "2"],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "6 shards computed, 0 reused; 18 probes fitted" in " ".join(result.stdout.split())
    finally:
        for node in reversed(nodes):
            _ray_stop(node)
        shutil.rmtree(temp_dir, ignore_errors=True)  # the nodes' sockets and logs
    run = load_run(out)
    attempt = run.attempts[-1]
    assert run.status == "complete" and attempt["executor"] == "ray"
    info = attempt["executor_info"]
    assert info["nodes"] == 2 and info["workers"] == 2 and info["cpus_per_worker"] == 1
    assert info["address"].endswith(f":{port}")
    _assert_same_shards(out, reference.directory)
    _assert_same_numbers(out, reference.directory)


# ----------------------------------------------------------------------------- a local Ray instance in this process
@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_gives_the_local_results_bit_for_bit(ray_instance, reference, tmp_path):
    run = run_spec(_spec(), out=tmp_path / "ray", executor="ray", overrides={"ray.workers": 2})
    attempt = run.attempts[-1]
    assert run.status == "complete" and attempt["executor"] == "ray"
    assert attempt["shards_computed"] == 6 and attempt["probes_computed"] == 18
    assert attempt["executor_info"]["workers"] == 2 and attempt["executor_info"]["cpus_per_worker"] == 1
    assert run.record["spec_hash"] == reference.record["spec_hash"]  # the executor is not part of the identity
    _assert_same_shards(run.directory, reference.directory)
    _assert_same_numbers(run.directory, reference.directory)
    assert ray_instance.is_initialized()  # an instance the executor did not start is left running


_SLOW_SHARDS = '''
import os, time
if os.environ.get("INTERP_TEST_SHARDS"):  # a Ray worker of test_ray: slow shards, each marked while it runs
    import interp.activations as _acts
    _run = _acts._Collector.run_shard
    def _slow(self, *args, **kwargs):
        busy = os.path.join(os.environ["INTERP_TEST_SHARDS"], f"busy-{os.getpid()}")
        open(busy, "w").close()
        try:
            time.sleep(0.6)
            return _run(self, *args, **kwargs)
        finally:
            os.unlink(busy)
    _acts._Collector.run_shard = _slow
'''


def test_a_worker_killed_mid_shard_is_restarted_and_the_run_completes(ray_instance, reference, tmp_path):
    from interp.batch import RayExecutor

    hook, marks = tmp_path / "hook", tmp_path / "marks"
    hook.mkdir()
    marks.mkdir()
    (hook / "sitecustomize.py").write_text(_SLOW_SHARDS)  # runs in the workers, which get this PYTHONPATH
    paths = os.pathsep.join(p for p in (str(hook), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    executor = RayExecutor(workers=2, runtime_env={"env_vars": {"PYTHONPATH": paths, "INTERP_TEST_SHARDS": str(marks)}})
    out = tmp_path / "run"
    killed: list[int] = []
    done = threading.Event()

    def kill_one_worker_mid_shard() -> None:
        while not done.is_set():
            busy = sorted(marks.glob("busy-*"))
            if busy and list(out.rglob("shard-*.safetensors")):  # a shard committed, another one running
                pid = int(busy[0].name.split("-")[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker_mid_shard)
    killer.start()
    try:
        run = run_spec(_spec(), out=out, executor=executor)
    finally:
        done.set()
        killer.join()
    assert len(killed) == 1
    attempt = run.attempts[-1]
    assert run.status == "complete" and attempt["shards_computed"] == 6
    assert attempt["executor_info"]["worker_restarts"] >= 1  # Ray restarted the actor and retried its shard
    _assert_same_shards(out, reference.directory)
    _assert_same_numbers(out, reference.directory)
    assert not list(out.rglob("*.tmp"))


def test_a_local_run_killed_mid_extraction_resumes_on_ray(ray_instance, reference, tmp_path):
    spec = _spec()
    killed = tmp_path / "killed"
    _kill_when_paused(killed, spec, "extract", 2, tmp_path / "paused")  # the local executor, kill -9 mid-shard
    shards = _files(killed, "shard-*.safetensors")
    assert 2 <= len(shards) < 6 and load_run(killed).status == "interrupted"
    resumed = run_spec(spec, out=killed, resume=True, executor="ray", overrides={"ray.workers": 2})
    first, attempt = resumed.attempts
    assert first["executor"] == "local" and attempt["executor"] == "ray" and attempt["resumed"]
    assert attempt["shards_reused"] == len(shards) and attempt["shards_computed"] == 6 - len(shards)
    assert attempt["executor_info"]["workers"] == min(2, 6 - len(shards))  # only for the missing shards
    manifests = {p.parent.name: json.loads(p.read_text()) for p in killed.rglob("manifest.json")}
    texts = {f"activations/tiny-gpt2/{d}/{s['file']}": s["texts"][1] - s["texts"][0]
             for d, m in manifests.items() for s in m["shards"]}
    assert attempt["texts_forwarded"] == sum(n for f, n in texts.items() if f not in shards)
    assert {f: v for f, v in _files(killed, "shard-*.safetensors").items() if f in shards} == shards  # untouched
    assert attempt["probes_computed"] == 18
    _assert_same_shards(killed, reference.directory)
    _assert_same_numbers(killed, reference.directory)
    again = run_spec(spec, out=killed, executor="ray")  # finished: nothing to ship, no worker started
    assert again.attempts[-1]["shards_computed"] == again.attempts[-1]["probes_computed"] == 0
    assert again.attempts[-1].get("executor_info", {}).get("workers", 0) == 0
    np.testing.assert_array_equal(again.frame().accuracy, reference.frame().accuracy)
