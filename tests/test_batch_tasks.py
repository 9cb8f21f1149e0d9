"""The shard-map batch tasks (``interp run`` with ``task`` = patching, ask, data_attribution, lens_fit): each
assembled result equals its library function's on the same inputs (to float rounding: shards batch their
forward passes differently), a resumed run after deleting one part recomputes only that shard, spec errors
name the key, and one task runs on a 2-worker local Ray cluster with the local results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_batch import _files

import interp
from interp.batch import load_run, load_spec, run_spec
from interp.errors import InvalidSpecError

ROOT = Path(__file__).resolve().parents[1]

PAIRS = [("The capital of France is", "The capital of Italy is", " Paris", " Rome"),
         ("The capital of Italy is", "The capital of Spain is", " Rome", " Madrid"),
         ("The capital of Spain is", "The capital of France is", " Madrid", " Paris"),
         ("The capital of Japan is", "The capital of China is", " Tokyo", " Beijing"),
         ("The capital of China is", "The capital of Japan is", " Beijing", " Tokyo")]


def _pairs_csv(path: Path) -> Path:
    lines = ["clean,corrupted,answer,foil", *(",".join(row) for row in PAIRS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _resume_recomputes_one_part(spec: dict, out: Path) -> tuple[list, list]:
    """Delete the second part of the finished run in ``out``, run again: only that shard is computed, the other parts
    are untouched, and the results are the same. Returns (results before, results after)."""
    before = load_run(out).results()
    parts = _files(out, "part-*.safetensors")
    assert len(parts) >= 2
    victim = sorted(parts)[1]
    (out / victim).unlink()
    again = run_spec(spec, out=out, progress=False)
    attempt = again.attempts[-1]
    assert attempt["shards_computed"] == 1 and attempt["shards_reused"] == len(parts) - 1
    after = _files(out, "part-*.safetensors")
    assert {k: v for k, v in after.items() if k != victim} == {k: v for k, v in parts.items() if k != victim}
    assert victim in after
    return before, again.results()


# ----------------------------------------------------------------------------- the shipped specs
def test_shipped_specs_of_the_shard_tasks_load(tmp_path):
    for name in ("patching", "ask", "lens_fit"):
        spec = load_spec(ROOT / "probes" / f"{name}.toml")
        assert spec.task == name and spec.models == ("SmolLM2-135M-Instruct-Q4_1",)
    assert load_spec(ROOT / "probes" / "patching.toml").data["pairs"].endswith("capitals.csv")
    (tmp_path / "run.json").write_text("{}")  # the data_attribution spec names a fine-tuning run made first
    spec = load_spec(ROOT / "probes" / "data_attribution.toml", overrides={"data.run": str(tmp_path)})
    assert spec.probe["methods"] == ["grad_dot", "trackstar"] and spec.extract["shard_size"] == 64


# ----------------------------------------------------------------------------- patching
def test_patching_batch_equals_activation_patching_and_resumes_one_shard(tiny_models, tmp_path):
    from interp.patching import activation_patching

    model = tiny_models["tiny-gpt2"]
    csv = _pairs_csv(tmp_path / "pairs.csv")
    spec = {"task": "patching", "models": ["tiny-gpt2"], "data": {"pairs": str(csv)},
            "probe": {"sites": ["resid", "mlp"], "align": "right"}, "extract": {"shard_size": 2}}
    run = run_spec(spec, out=tmp_path / "run", progress=False)
    assert run.status == "complete" and run.stages["extract"]["total"] == 3  # 5 pairs in shards of 2
    (result,) = run.results()
    expected = activation_patching(model, [p[0] for p in PAIRS], [p[1] for p in PAIRS], sites=("resid", "mlp"),
                                   target=[interp.Target(p[2], foil=p[3]) for p in PAIRS], align="right", progress=False)
    got = result.pairs()
    assert len(got) == len(expected) == 5
    for a, b in zip(got, expected):
        assert (a.clean, a.corrupted, a.answer, a.wrong_answer, a.positions, a.corrupted_tokens, a.metric, a.sites) == \
               (b.clean, b.corrupted, b.answer, b.wrong_answer, b.positions, b.corrupted_tokens, b.metric, b.sites)
        np.testing.assert_allclose([a.clean_metric, a.corrupted_metric], [b.clean_metric, b.corrupted_metric],
                                   rtol=1e-5, atol=1e-6)
        for site in ("resid", "mlp"):  # the raw metric: the normalised map divides by a difference of the baselines
            np.testing.assert_allclose(a.raw(site), b.raw(site), rtol=1e-5, atol=1e-5)
        assert a.attn.shape == b.attn.shape == (0, len(b.positions))
    frame = run.frame()
    assert set(frame["probe"]) == {"resid", "mlp"} and len(frame) == (model.n_layers + 1) + model.n_layers
    assert frame["restored_low"].le(frame["restored"] + 1e-12).all()
    before, after = _resume_recomputes_one_part(spec, tmp_path / "run")
    assert before[0] == after[0]  # recomputing the same shard gives the same numbers


# ----------------------------------------------------------------------------- ask
QUESTIONS = [
    {"question": "What is the capital of France?", "options": ["Paris", "Rome", "Madrid", "Berlin"], "answer": "A"},
    {"question": "What is 2 + 3?", "options": ["4", "5"], "answer": "B"},
    {"question": "What is the capital of Japan?", "options": ["Seoul", "Beijing", "Tokyo"], "answer": "C"},
    {"question": "Which is larger, 31 or 13?", "options": ["13", "31"], "answer": "B"},
    {"question": "What colour is the sky?", "options": ["Green", "Red", "Blue", "Yellow"], "answer": "C"},
    {"question": "How many legs does a spider have?", "options": ["Six", "Eight", "Ten"], "answer": "B"},
    {"question": "What is 7 + 8?", "options": ["15", "14", "16", "13"], "answer": "A"},
]


@pytest.mark.parametrize("fmt", ["letter", "cloze"])
def test_ask_batch_equals_calibrate(tiny_models, tmp_path, fmt):
    from interp.ask import calibrate

    model = tiny_models["tiny-llama"]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n", encoding="utf-8")
    signals = ["letter", "letter_debiased", "p_true"]
    spec = {"task": "ask", "models": ["tiny-llama"], "seed": 3, "data": {"questions": str(path), "n": 6},
            "probe": {"signals": signals, "format": fmt, "prompt_style": "plain", "n_boot": 50},
            "extract": {"shard_size": 2}}
    run = run_spec(spec, out=tmp_path / "run", progress=False)
    (got,) = run.results()
    expected = calibrate(model, str(path), n=6, seed=3, signals=signals, format=fmt, prompt_style="plain", n_boot=50,
                         progress=False)
    assert got.signals == expected.signals and got.ids == expected.ids and got.format == expected.format == fmt
    assert got.answer == expected.answer and got.answer_debiased == expected.answer_debiased
    np.testing.assert_allclose(got.letter_probs, expected.letter_probs, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.confidence, expected.confidence, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(got.correct, expected.correct)
    for a, b in zip(got.metrics, expected.metrics):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in a], [b[k] for k in b], rtol=1e-4, atol=1e-7)  # float32 passes
    assert got.position == expected.position or fmt == "letter" and np.allclose(
        [v for k in got.position if k != "letter" for v in got.position[k]],
        [v for k in expected.position if k != "letter" for v in expected.position[k]], equal_nan=True)
    assert set(run.frame()["probe"]) == set(expected.signals)
    if fmt == "letter":
        _resume_recomputes_one_part(spec, tmp_path / "run")


# ----------------------------------------------------------------------------- data attribution
@pytest.fixture(scope="module")
def finetuned(tiny_models, tmp_path_factory):
    """A tiny fine-tuning run on 16 planted facts written as a user JSONL file (with its queries file)."""
    from interp.data_attribution import finetune, load_training_data

    folder = tmp_path_factory.mktemp("finetune")
    data = load_training_data("planted_facts").subset(range(16), name="facts16")
    path = folder / "facts16.jsonl"
    path.write_text("".join(json.dumps({"id": e.id, "prompt": e.prompt, "text": e.text}) + "\n"
                            for e in data.examples), encoding="utf-8")
    (folder / "facts16_queries.jsonl").write_text("".join(
        json.dumps({"id": q.id, "prompt": q.prompt, "target": q.target, "gold": list(q.gold)}) + "\n"
        for q in data.queries), encoding="utf-8")
    run = finetune(tiny_models["tiny-llama"], path, blocks=1, epochs=2, lr=3e-3, batch_size=4, checkpoints=2, seed=0,
                   out=folder / "run", progress=False)
    return run, path


def test_data_attribution_batch_fills_the_store_and_gives_the_in_process_scores(tiny_models, finetuned, tmp_path):
    from safetensors.torch import load_file

    from interp.data_attribution import attribute_training, load_run

    ft, path = finetuned
    model = tiny_models["tiny-llama"]
    copy = tmp_path / "copy"  # the same run, without any gradients yet: the in-process path computes its own
    shutil.copytree(ft.path, copy, ignore=shutil.ignore_patterns("gradients"))
    query = ft.data.queries[0].id
    methods = ["grad_dot", "tracin_adam"]
    spec = {"task": "data_attribution", "models": ["tiny-llama"], "seed": 1,
            "data": {"run": str(ft.path), "dataset": str(path), "queries": [query]},
            "probe": {"methods": methods, "dim": 4}, "extract": {"shard_size": 8}}
    run = run_spec(spec, out=tmp_path / "batch", progress=False)
    assert run.stages["extract"]["total"] == 2  # 16 examples in shards of 8
    results = run.results()
    assert [r.method for r in results] == methods and all(r.query_id == query for r in results)
    in_process = load_run(copy, model, path)
    for result in results:
        expected = attribute_training(in_process, query, method=result.method, dim=4, seed=1, progress=False)
        np.testing.assert_array_equal(result.scores, expected.scores)
        assert result.ids == expected.ids
    # the batch wrote the store the in-process path writes: the same files, the same tensors
    store = sorted(p.relative_to(ft.path) for p in (ft.path / "gradients").rglob("*.safetensors"))
    assert store and store == sorted(p.relative_to(copy) for p in (copy / "gradients").rglob("*.safetensors"))
    for rel in store:
        a, b = load_file(ft.path / rel), load_file(copy / rel)
        assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    _resume_recomputes_one_part(spec, tmp_path / "batch")


# ----------------------------------------------------------------------------- lens fit
def test_lens_fit_batch_equals_fit_linear_lens(tiny_models, tmp_path):
    from interp.lens import fit_linear_lens, lens_texts

    model = tiny_models["tiny-gpt2"]
    spec = {"task": "lens_fit", "models": ["tiny-gpt2"], "data": {"max_texts": 64}, "probe": {"save": False},
            "extract": {"shard_size": 32}}
    run = run_spec(spec, out=tmp_path / "run", progress=False)
    assert run.stages["extract"]["total"] == 2  # 64 texts in shards of 32
    (result,) = run.results()
    got = result.lens()
    expected = fit_linear_lens(model, lens_texts("fit", max_texts=64, seed=0), save=False, progress=False)
    assert got.ridge_ == expected.ridge_
    assert (got.n_tokens_, got.n_texts_, got.texts_sha256_, got.fingerprint_) == \
           (expected.n_tokens_, expected.n_texts_, expected.texts_sha256_, expected.fingerprint_)
    np.testing.assert_allclose(got.weight_.numpy(), expected.weight_.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.bias_.numpy(), expected.bias_.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.val_error_, expected.val_error_, rtol=1e-6)
    assert len(run.frame()) == model.n_layers
    _resume_recomputes_one_part(spec, tmp_path / "run")


# ----------------------------------------------------------------------------- spec errors
@pytest.mark.parametrize("task, data, probe, key, match", [
    ("patching", {"pairs": "missing.csv"}, {}, "data.pairs", "no such file"),
    ("patching", {}, {}, "data.pairs", "missing"),
    ("patching", {"pairs": "PAIRS"}, {"sites": ["resid", "neuron"]}, "probe.sites", "must be one of"),
    ("patching", {"pairs": "PAIRS"}, {"align": "centre"}, "probe.align", "'none', 'right' or 'left'"),
    ("patching", {"pairs": "BAD"}, {}, "data.pairs", "lacks the column"),
    ("ask", {"questions": "missing.jsonl"}, {}, "data.questions", "no such file"),
    ("ask", {}, {"format": "essay"}, "probe.format", "'letter' or 'cloze'"),
    ("ask", {}, {"kinds": ["lr"]}, "probe.kinds", "takes no kinds"),
    ("data_attribution", {"run": "EMPTY"}, {}, "data.run", "holds no fine-tuning run"),
    ("data_attribution", {"run": "RUN"}, {"methods": ["ekfac"]}, "probe.methods", "must be one of"),
    ("lens_fit", {"max_texts": 3}, {}, "data.max_texts", "must be an int >= 10"),
    ("lens_fit", {}, {"save": "yes"}, "probe.save", "true or false"),
])
def test_spec_errors_of_the_shard_tasks_name_the_key(tmp_path, task, data, probe, key, match):
    pairs = _pairs_csv(tmp_path / "pairs.csv")
    (tmp_path / "bad.csv").write_text("clean,corrupted,answer\na,b,c\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    swap = {"PAIRS": str(pairs), "BAD": str(tmp_path / "bad.csv"), "RUN": str(tmp_path / "run"),
            "EMPTY": str(tmp_path / "empty")}
    data = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    with pytest.raises(InvalidSpecError, match=match) as info:
        load_spec({"task": task, "data": data, "probe": probe})
    assert info.value.key == key


# ----------------------------------------------------------------------------- Ray
@pytest.mark.ray
def test_patching_on_a_two_worker_local_ray_cluster_gives_the_local_results(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    csv = _pairs_csv(tmp_path / "pairs.csv")
    spec = {"task": "patching", "models": ["tiny-gpt2"], "data": {"pairs": str(csv)},
            "probe": {"sites": ["resid"], "align": "right"}, "extract": {"shard_size": 2}}
    local = run_spec(spec, out=tmp_path / "local", progress=False).results()[0]
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run = run_spec(spec, out=tmp_path / "ray", executor="ray", overrides={"ray.workers": 2}, progress=False)
    finally:
        ray.shutdown()
    attempt = run.attempts[-1]
    assert attempt["executor"] == "ray" and attempt["executor_info"]["workers"] == 2
    assert attempt["shards_computed"] == 3
    (remote,) = run.results()
    for a, b in zip(remote.pairs(), local.pairs()):
        np.testing.assert_allclose(a.raw("resid"), b.raw("resid"), rtol=1e-5, atol=1e-5)
