"""The wheel is the package: built from this tree and installed into a fresh venv outside the repository,
interp reads its built-in data from inside itself, ``interp probe truth`` runs on that data, and
``interp explore`` serves the explorer on 127.0.0.1 only. Plus the ``explore`` command's argument
handling, without a server.

The fresh venv gets its dependencies cheaply: a ``.pth`` file lists this environment's site-packages.
Python does not process the ``.pth`` files of a folder listed that way, so this environment's editable
install of interp is not seen there and ``import interp`` is the wheel's (checked). The installed
commands run from a temporary folder with an empty HOME and their own INTERP_CACHE, and the source
copy the wheel was built from is deleted before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120  # seconds for the installed explorer to answer its health check (a busy 2-core CI machine)
COMMAND_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _source_files() -> list[str]:
    """The tree a clean clone has (tracked files, and new ones not ignored), relative to ROOT."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
        return sorted(p for p in listed if p and (ROOT / p).is_file())
    skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "artifacts"}
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                  if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts) and ".egg-info" not in str(p))


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, **kwargs)
    assert result.returncode == 0, f"{argv[:4]} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the wheel, the source files it was built from); built from a copy of the tree, deleted afterwards."""
    files = _source_files()
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    # this environment's setuptools (the dev extra), no index: the build is offline
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
          "-w", str(tmp / "dist"), str(src)])
    shutil.rmtree(src)
    (wheel,) = (tmp / "dist").glob("interp-*.whl")
    return wheel, files


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A fresh venv outside the repository with the wheel in it, and the environment to run it in."""
    wheel, _ = built
    tmp = tmp_path_factory.mktemp("installed")
    venv = tmp / "venv"
    assert not venv.resolve().is_relative_to(ROOT)  # outside the repository (pytest's base temp is elsewhere)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    paths = {"base": str(venv), "platbase": str(venv)}
    python = Path(sysconfig.get_path("scripts", vars=paths)) / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
          str(wheel)])
    here = sysconfig.get_paths()
    deps = dict.fromkeys([here["purelib"], here["platlib"]])  # this environment's site-packages, in order
    Path(sysconfig.get_path("purelib", vars=paths), "zz-dependencies.pth").write_text("\n".join(deps) + "\n")
    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "INTERP_", "XDG_", "STREAMLIT_")) and k != "VIRTUAL_ENV"}
    env.update(HOME=str(home), INTERP_CACHE=str(tmp / "cache"), PYTHONNOUSERSITE="1")
    return {"venv": venv, "python": python, "bin": python.parent, "env": env, "cwd": work}


def _in_venv(installed, code: str, **env: str) -> dict:
    """Run ``code`` with the fresh venv's Python; its last line of output, as JSON."""
    out = _run([str(installed["python"]), "-c", code], cwd=installed["cwd"], env={**installed["env"], **env}).stdout
    return json.loads(out.strip().splitlines()[-1])


def _digest(items) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------- the wheel
@pytest.mark.wheel
def test_the_wheel_holds_every_module_the_data_and_the_explorer(built):
    wheel, files = built
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f for f in files if f.startswith("interp/") and (f.endswith(".py") or f.startswith("interp/data/"))}
    wanted |= {"interp/_explorer_app/" + f.removeprefix("apps/") for f in files
               if f.startswith("apps/") and (f.endswith(".py") or f.startswith(("apps/assets/", "apps/.streamlit/")))}
    assert {"interp/data/truth/cities.csv", "interp/data/truth/questions.csv", "interp/data/pos/corpus.jsonl",
            "interp/_explorer_app/explorer.py", "interp/_explorer_app/.streamlit/config.toml"} <= wanted
    assert sorted(wanted - names) == []  # a module or data file missing from the wheel (pyproject's package list?)
    assert not [n for n in names if n.startswith(("probes/", "tests/", "apps/", "benchmarks/"))]
    config = zipfile.ZipFile(wheel).read("interp/_explorer_app/.streamlit/config.toml").decode()
    assert 'address = "127.0.0.1"' in config


@pytest.mark.wheel
def test_the_installed_package_reads_its_built_in_data_from_itself(installed):
    code = """if True:
        import hashlib, json, interp
        from interp.explorer import explorer_entrypoint
        from interp.probing.pos import CORPUS_PATH, load_corpus
        from interp.truth.datasets import DATA_DIR, DATASETS, load_dataset
        from interp.truth.lies import QUESTIONS_PATH, load_questions
        digest = lambda items: hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        print(json.dumps({
            "files": [str(p) for p in (interp.__file__, DATA_DIR, CORPUS_PATH, QUESTIONS_PATH, explorer_entrypoint())],
            "truth": {n: digest(load_dataset(n).statements) for n in DATASETS},
            "corpus": digest(load_corpus()), "questions": digest(load_questions())}))
    """
    got = _in_venv(installed, code)
    venv = installed["venv"].resolve()
    for path in got["files"]:
        assert Path(path).resolve().is_relative_to(venv), path  # the wheel's, not this checkout's
        assert Path(path).exists(), path
    from interp.probing.pos import load_corpus
    from interp.truth.datasets import DATASETS, load_dataset
    from interp.truth.lies import load_questions

    assert got["truth"] == {n: _digest(load_dataset(n).statements) for n in DATASETS}  # the same statements
    assert got["corpus"] == _digest(load_corpus()) and got["questions"] == _digest(load_questions())


@pytest.mark.wheel
def test_installed_interp_probe_truth_runs_on_the_built_in_data(installed):
    out = installed["cwd"] / "truth"
    result = _run([str(installed["bin"] / "interp"), "probe", "truth", "--model", "tiny-gpt2", "--datasets",
                   "cities,facts", "--max-pairs", "16", "--probes", "linear", "--out", str(out)],
                  cwd=installed["cwd"], env=installed["env"])
    assert "wrote truth_sweep" in " ".join(result.stdout.split())
    import interp

    sweep = interp.load_result(out / "truth_sweep.json")
    assert sweep.datasets == ["cities", "facts"] and sweep.probes == ["linear"] and sweep.layers == [0, 1, 2]
    assert sweep.accuracy.shape == (2, 1, 3)
    assert [a + b for a, b in zip(sweep.n_train, sweep.n_test)] == [32, 32]  # 16 pairs of each built-in set
    assert (out / "detector.json").is_file() and (out / "generalization.html").is_file()


def _listening(pids: list[int], port: int) -> set[str]:
    """The local addresses on which any of ``pids`` listens on ``port``."""
    import psutil

    found = set()
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found |= {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    return found


@pytest.mark.wheel
def test_installed_interp_explore_serves_on_loopback_only(installed):
    import psutil

    port = _free_port()
    log = installed["cwd"] / "explore.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen([str(installed["bin"] / "interp"), "explore", "--port", str(port), "--model", "tiny-gpt2"],
                                cwd=installed["cwd"], env=installed["env"], stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: whatever is left is killed below
    try:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"interp explore exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                with no_proxy.open(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"no answer on 127.0.0.1:{port} in {START_TIMEOUT} s:\n{log.read_text()}"
            time.sleep(0.3)
        with no_proxy.open(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        children = psutil.Process(proc.pid).children(recursive=True)
        (server,) = [c for c in children if "streamlit" in c.cmdline()]
        command = server.cmdline()
        assert Path(command[0]).parent == installed["bin"]  # the fresh venv's interpreter
        script = Path(command[command.index("run") + 1])
        assert script.resolve().is_relative_to(installed["venv"].resolve()) and script.name == "explorer.py"
        assert _listening([proc.pid, *(c.pid for c in children)], port) == {"127.0.0.1"}  # not 0.0.0.0, not ::
        assert "warning" not in log.read_text().lower()  # loopback: nothing to warn about
        proc.send_signal(signal.SIGTERM)  # `interp explore` passes it on to the server
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
        server.wait(timeout=30)
        assert not server.is_running()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


@pytest.mark.wheel
def test_the_installed_explorer_runs_its_entrypoint(installed):
    """The wheel's explorer scripts run (imports, pages, favicon) under AppTest on the tiny GPT-2."""
    code = """if True:
        import json
        from streamlit.testing.v1 import AppTest
        from interp.explorer import explorer_entrypoint
        at = AppTest.from_file(str(explorer_entrypoint()), default_timeout=120).run()
        print(json.dumps({"exceptions": [e.value for e in at.exception], "errors": [e.value for e in at.error],
                          "titles": [t.value for t in at.title]}))
    """
    got = _in_venv(installed, code, INTERP_MODEL="tiny-gpt2")
    assert got["exceptions"] == [] and got["errors"] == []
    assert got["titles"][0] == "tiny-gpt2"  # the Model page's title: the model it was started on


# ----------------------------------------------------------------------------- the command line, no server
def test_explore_command_line():
    from interp.errors import InvalidParameterError
    from interp.explorer import explorer_command, explorer_entrypoint, exposure_warning, is_loopback

    entry = explorer_entrypoint()
    assert entry.name == "explorer.py" and entry.is_file()
    argv, env = explorer_command()
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(entry)]
    options = dict(zip(argv[5::2], argv[6::2]))
    assert options == {"--server.address": "127.0.0.1", "--server.port": "8501", "--server.headless": "true",
                       "--browser.gatherUsageStats": "false"}
    assert env == {}
    argv, env = explorer_command(port=9000, host="0.0.0.0", model="tiny-gpt2")
    assert dict(zip(argv[5::2], argv[6::2]))["--server.address"] == "0.0.0.0" and "9000" in argv
    assert env == {"INTERP_MODEL": "tiny-gpt2"}
    for port in (0, 65536, -1, "8501", True):
        with pytest.raises(InvalidParameterError, match=r"'port' parameter of interp explore must be an int in \[1, 65535\]"):
            explorer_command(port=port)
    for host in ("", "  ", "127.0.0.1 0.0.0.0"):
        with pytest.raises(InvalidParameterError, match="'host' parameter"):
            explorer_command(host=host)
    with pytest.raises(InvalidParameterError, match="'model' parameter"):
        explorer_command(model="")
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.org"))
    assert exposure_warning("127.0.0.1", 8501) is None
    warning = exposure_warning("0.0.0.0", 8501)
    assert "every network interface" in warning and "no login" in warning and "upload files" in warning


def test_interp_explore_passes_its_settings_to_the_child_only(monkeypatch):
    from typer.testing import CliRunner

    from interp.cli import app

    started = []

    class FakeServer:  # records the command instead of starting Streamlit
        def __init__(self, argv, env):
            started.append((argv, env))

        def wait(self, timeout=None):
            return 0

        def terminate(self):
            pass

    monkeypatch.setattr(subprocess, "Popen", FakeServer)
    monkeypatch.delenv("INTERP_MODEL", raising=False)
    handler = signal.getsignal(signal.SIGTERM)
    environment = dict(os.environ)
    runner = CliRunner()
    result = runner.invoke(app, ["explore", "--port", "8600", "--model", "tiny-gpt2"])
    assert result.exit_code == 0, result.output
    (argv, env), = started
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1" and argv[argv.index("--server.port") + 1] == "8600"
    assert env["INTERP_MODEL"] == "tiny-gpt2" and "warning" not in result.stderr
    assert dict(os.environ) == environment and signal.getsignal(signal.SIGTERM) == handler  # nothing changed here

    result = runner.invoke(app, ["explore", "--host", "0.0.0.0"])
    assert result.exit_code == 0
    assert started[-1][0][started[-1][0].index("--server.address") + 1] == "0.0.0.0"
    assert "every network interface" in " ".join(result.stderr.split()) and "no login" in " ".join(result.stderr.split())

    result = runner.invoke(app, ["explore", "--port", "0"])
    assert result.exit_code == 1 and "InvalidParameterError" in result.stderr and "Traceback" not in result.output
    assert len(started) == 2  # refused before anything was started
