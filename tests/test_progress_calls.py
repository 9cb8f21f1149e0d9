"""The long library calls report through interp.progress: each stage starts at 0 and ends at its total, and the
numbers are the same with a callback, without one, and with progress=False."""

from __future__ import annotations

import numpy as np
import pytest

from interp.errors import InvalidParameterError


def _runs(events):
    """The events cut into runs, as (stage, [(done, total), ...]): a run ends where the stage changes or a new one
    starts at 0 after the last reached its total."""
    runs = []
    for stage, done, total in events:
        if not runs or runs[-1][0] != stage or (done == 0 and runs[-1][1][-1][0] == runs[-1][1][-1][1]):
            runs.append((stage, []))
        runs[-1][1].append((done, total))
    return runs


def _check(events, stages):
    """Every run of a stage goes 0 -> total, never backwards, with one total; the stages come in this order."""
    runs = _runs(events)
    assert [stage for stage, _ in runs] == stages
    for stage, steps in runs:
        (first, total), (last, last_total) = steps[0], steps[-1]
        assert first == 0 and last == total == last_total and total > 0, (stage, steps)
        assert all(t == total for _, t in steps) and all(a <= b for (a, _), (b, _) in zip(steps, steps[1:])), steps


@pytest.fixture(scope="module")
def gpt2(tiny_models):
    return tiny_models["tiny-gpt2"]


def test_collect(gpt2):
    from interp.activations import collect

    texts = [f"Sentence number {i} is here." for i in range(7)]
    events = []
    with_cb = collect(gpt2, texts, layers=[0, 2], batch_size=2, shard_size=3, progress=lambda *e: events.append(e))
    quiet = collect(gpt2, texts, layers=[0, 2], batch_size=2, shard_size=3, progress=False)
    default = collect(gpt2, texts, layers=[0, 2], batch_size=2, shard_size=3)  # None: no terminal here, no bar
    for layer in (0, 2):
        assert np.array_equal(with_cb[layer], quiet[layer]) and np.array_equal(default[layer], quiet[layer])
    _check(events, ["activations"])
    assert events[0] == ("activations", 0, 7) and events[-1] == ("activations", 7, 7)
    with pytest.raises(InvalidParameterError, match="The 'progress' parameter of collect must be None, True, False"):
        collect(gpt2, texts, layers=[0], progress="yes")


def test_collect_into_a_folder_counts_reused_shards(gpt2, tmp_path):
    from interp.activations import collect

    texts = [f"Text {i}." for i in range(5)]
    collect(gpt2, texts, layers=[1], out=tmp_path, shard_size=2, progress=False)
    events = []
    collect(gpt2, texts, layers=[1], out=tmp_path, shard_size=2, progress=lambda *e: events.append(e))
    _check(events, ["activations"])  # every shard reused: still 0 -> 5


def test_truth_sweep_and_generalization(gpt2):
    from interp.truth import generalization_matrix, truth_sweep

    kwargs = dict(layers=[1, 2], probes=["linear", "mm"], max_pairs=12)
    events = []
    with_cb = truth_sweep(gpt2, ["facts", "sums"], progress=lambda *e: events.append(e), **kwargs)
    assert with_cb == truth_sweep(gpt2, ["facts", "sums"], progress=False, **kwargs)
    _check(events, ["activations", "probes"] * 2)
    assert [t for s, _, t in events if s == "probes"][0] == 4  # 2 layers x 2 probes

    events = []
    with_cb = generalization_matrix(gpt2, ["facts", "sums"], layer=2, max_pairs=12, progress=lambda *e: events.append(e))
    assert with_cb == generalization_matrix(gpt2, ["facts", "sums"], layer=2, max_pairs=12, progress=False)
    _check(events, ["activations", "activations", "probes"])


def test_lie_detector_fit_and_detect_model_lies(gpt2):
    from interp.truth import LieDetector, detect_model_lies

    events = []
    fitted = LieDetector.fit(gpt2, ["facts"], layers=[1, 2], max_pairs=12, progress=lambda *e: events.append(e))
    quiet = LieDetector.fit(gpt2, ["facts"], layers=[1, 2], max_pairs=12, progress=False)
    assert fitted.layer_ == quiet.layer_ and fitted.validation_ == quiet.validation_
    assert np.array_equal(fitted.probe_.coef_, quiet.probe_.coef_)
    _check(events, ["activations", "layers"])

    if not gpt2.is_chat:  # pragma: no cover - the tiny models share the default model's chat template
        pytest.skip("tiny-gpt2 has no chat template")
    questions = [{"question": "What is 2 + 2?", "answer": "4"}, {"question": "Capital of France?", "answer": "Paris"}]
    events = []
    kwargs = dict(datasets=["facts"], layer=2, max_new_tokens=3)
    with_cb = detect_model_lies(gpt2, questions, progress=lambda *e: events.append(e), **kwargs)
    assert with_cb == detect_model_lies(gpt2, questions, progress=False, **kwargs)
    _check(events, ["activations", "answers", "scores"])  # a fixed layer: no "layers" stage
    assert ("answers", 4, 4) in events


def test_pos_probe_and_probe_layers(gpt2):
    from interp.probing import pos_probe

    kwargs = dict(layers=[1, 2], max_sentences=30, random_baseline=False)
    events = []
    with_cb = pos_probe(gpt2, progress=lambda *e: events.append(e), **kwargs)
    assert with_cb == pos_probe(gpt2, progress=False, **kwargs)
    _check(events, ["activations", "probes"])
    assert events[-1] == ("probes", 3, 3)  # layers 0 (always added), 1, 2


def test_world_map(gpt2):
    from interp.projection import world_map

    kwargs = dict(n_places=40, layers=[1, 2], random_baseline=False)
    events = []
    with_cb = world_map(gpt2, progress=lambda *e: events.append(e), **kwargs)
    assert with_cb == world_map(gpt2, progress=False, **kwargs)
    _check(events, ["activations", "layers"])
    assert events[-1] == ("layers", 3, 3)  # layer 0 is added as a baseline


# ----------------------------------------------------------------------------- the default bar, by environment
class _FakeKernelShell:
    kernel = object()  # what a Jupyter kernel's shell has and the IPython terminal lacks


def _fake_ipython(shell):
    import types

    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    return module


@pytest.fixture
def screens(capsys, monkeypatch):
    """stdout and stderr as buffers that are no terminal (as in a notebook kernel or a batch job): ``screens()``
    returns what was written to each."""
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    return lambda: tuple(capsys.readouterr())


def test_default_progress_in_a_notebook_without_widgets_is_a_text_bar_on_stdout(screens, monkeypatch):
    import sys

    from interp import progress

    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(_FakeKernelShell()))
    monkeypatch.setattr(progress, "_has_widgets", lambda: False)
    callback = progress.resolve_progress(None, where="test")
    assert isinstance(callback, progress.TqdmProgress)
    for done in range(5):
        callback("probes", done, 4)
    out, err = screens()
    assert "probes" in out and "4/4" in out and err == ""


def test_default_progress_in_a_notebook_with_widgets_is_a_notebook_bar(screens, monkeypatch):
    import sys
    import types

    from interp import progress

    made = []

    class FakeNotebookBar:  # stands in for tqdm.notebook.tqdm (ipywidgets is not installed here)
        def __init__(self, **kwargs):
            self.kwargs, self.n, self.total = kwargs, 0, kwargs["total"]
            made.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(_FakeKernelShell()))
    monkeypatch.setitem(sys.modules, "tqdm.notebook", types.SimpleNamespace(tqdm=FakeNotebookBar))
    monkeypatch.setattr(progress, "_has_widgets", lambda: True)
    callback = progress.resolve_progress(None, where="test")
    for done in range(5):
        callback("probes", done, 4)
    assert len(made) == 1 and made[0].kwargs["desc"] == "probes" and made[0].n == 4 and made[0].closed


def test_default_progress_is_silent_when_not_interactive_or_asked(screens, monkeypatch):
    import sys

    from interp import progress

    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert progress.resolve_progress(None, where="test") is progress._silent  # a script piped to a file
    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(None))  # IPython imported, no shell running
    assert progress.resolve_progress(None, where="test") is progress._silent
    monkeypatch.setitem(sys.modules, "IPython", _fake_ipython(_FakeKernelShell()))
    assert progress.resolve_progress(False, where="test") is progress._silent  # asked for silence
    assert screens() == ("", "")


def test_bar_rate_is_measured_from_the_steps(screens, monkeypatch):
    """The bar advances through tqdm.update (so its rate and time left come from the steps done), not by setting n."""
    from interp import progress

    callback = progress.TqdmProgress(leave=True)  # no notebook here: a bar on stderr
    callback("probes", 0, 10)
    bar = callback._bar
    bar._time = lambda: bar.start_t + 2.0  # two seconds after the start
    callback("probes", 2, 10)
    info = bar.format_dict
    assert info["n"] == 2 and info["rate"] is not None and info["rate"] > 0
    callback("probes", 10, 10)


def _public_callables():
    """(where, callable) for every public function and public method of a public class in interp's modules (their
    ``__all__``), private modules and the shells left out."""
    import importlib
    import inspect
    import pkgutil

    import interp

    for info in pkgutil.walk_packages(interp.__path__, "interp."):
        if (info.name.startswith("interp.cli") or info.name == "interp.probes"  # the shells; a deprecated alias
                or any(part.startswith("_") for part in info.name.split("."))):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra (ray, kronfluence) that is not installed
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    member = getattr(obj, attr) if isinstance(member, (classmethod, staticmethod)) else member
                    if not attr.startswith("_") and callable(member):
                        yield f"{info.name}.{name}.{attr}", member


def test_every_progress_parameter_takes_a_callable():
    """One protocol: an entry point takes ``ProgressArg`` (None, True, False or a callable), a building block that is
    handed an already-resolved callback takes ``ProgressCallback | None``; so a shell passes its bar to any of them
    without looking at the function first."""
    import inspect

    from interp.progress import report, resolve_progress

    seen = 0
    for where, fn in _public_callables():
        if fn in (report, resolve_progress):  # the protocol's own helpers
            continue
        try:
            parameter = inspect.signature(fn).parameters.get("progress")
        except (TypeError, ValueError):
            continue
        if parameter is None:
            continue
        seen += 1
        assert parameter.annotation in ("ProgressArg", "ProgressCallback | None"), (where, parameter.annotation)
        assert parameter.default is None, where
    assert seen >= 40  # the long calls are found (collect, the sweeps, the maps, truth_report, finetune, ...)


def test_no_shell_reads_a_progress_annotation():
    """The CLI, the explorer and the library pass progress callables as they are: nothing inspects a function's
    ``progress`` parameter to decide (the old ``progress_arg`` / ``takes_progress_callback`` / ``_takes_callback``)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"parameters\s*\[\s*[\"']progress[\"']\s*\]|progress_arg\(|takes_progress_callback|_takes_callback")
    offenders = [str(path.relative_to(root)) for folder in ("interp", "apps") for path in (root / folder).rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_truth_report_hands_a_callable_to_every_step(gpt2):
    """truth_report passes a callable on to the functions it runs (no annotation read): their stages arrive
    prefixed with the step, and the numbers are those of progress=False."""
    from interp.truth import truth_report

    events = []
    kwargs = dict(layers=[1, 2], probes=["linear"], max_pairs=12, detector=False)
    with_cb = truth_report(gpt2, ["facts", "sums"], progress=lambda *e: events.append(e), **kwargs)
    quiet = truth_report(gpt2, ["facts", "sums"], progress=False, **kwargs)
    stages = {stage for stage, _, _ in events}
    assert "sweep: activations" in stages and any(s.startswith("generalisation: ") for s in stages)
    assert np.array_equal(with_cb.test_accuracy, quiet.test_accuracy) and with_cb.layer == quiet.layer
