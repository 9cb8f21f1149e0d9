"""Circuits: DLA sums to the logit difference, EAP is the first-order edge effect, faithfulness's ends are exact,
a planted circuit is recovered, the tasks are seeded, the CLI and the explorer tab render the results."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from interp.circuits import (
    CircuitTask,
    build_graph,
    circuit_faithfulness,
    direct_logit_attribution,
    edge_attribution_patching,
    make_task,
    prepare_task,
    read_task_csv,
)
from interp.circuits._graph import run_graph, source_outputs
from interp.errors import InvalidDatasetError, InvalidParameterError


def _reference_logit_diff(model, task: CircuitTask, corrupted: bool = False) -> np.ndarray:
    """The logit difference from the model's own logits, one prompt at a time (no hooks)."""
    texts = task.corrupted if corrupted else task.clean
    out = []
    for text, answer, foil in zip(texts, task.answers, task.foils):
        logits = model.logits(text, last_only=True)
        a, f = (model.tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in (answer, foil))
        out.append(float(logits[a] - logits[f]))
    return np.array(out)


def test_dla_sums_to_the_logit_difference(tiny_model):
    task = make_task("ioi", n=3, seed=1)
    result = direct_logit_attribution(tiny_model, task, top_neurons=5)
    reference = _reference_logit_diff(tiny_model, task)
    np.testing.assert_allclose(result.logit_diff, reference, atol=1e-4)
    np.testing.assert_allclose(result.contributions.sum(1), reference, atol=1e-4)
    heads = [c for c in result.components if "H" in c]
    assert len(heads) == tiny_model.n_layers * tiny_model.n_heads
    # the neurons of a layer sum to that MLP's term minus its output bias's: the top neuron is one of them
    assert result.neuron_contributions.shape == (3, 5)


def test_dla_neurons_sum_to_the_mlp_without_bias(tiny_models):
    model = tiny_models["tiny-llama"]  # no MLP biases: a layer's neurons sum to its MLP row exactly
    d_mlp = model.bridge.blocks[0].mlp.W_out.shape[0]
    result = direct_logit_attribution(model, "The capital of France is", answer=" Paris", foil=" Rome",
                                      top_neurons=model.n_layers * d_mlp)
    for layer in range(model.n_layers):
        mine = [i for i, x in enumerate(result.neuron_layers) if x == layer]
        total = result.neuron_contributions[0, mine].sum()
        assert total == pytest.approx(result.contributions[0, result.components.index(f"L{layer} MLP")], abs=1e-4)


def _setup(model, n=3, name="ioi"):
    prepared = prepare_task(model, make_task(name, n=n, seed=0))
    graph = build_graph(model)
    args = (prepared.clean, prepared.mask, prepared.last, prepared.answers, prepared.foils)
    clean = source_outputs(model, prepared.clean, prepared.mask)[0]
    corrupted = source_outputs(model, prepared.corrupted, prepared.mask)[0]
    return prepared, graph, args, clean, corrupted


def test_graph_pass_reproduces_the_model_and_its_ends_are_exact(tiny_model):
    prepared, graph, args, clean, corrupted = _setup(tiny_model)
    plain = run_graph(tiny_model, graph, *args, record=True)
    np.testing.assert_allclose(plain.metric.numpy(), _reference_logit_diff(tiny_model, prepared.task), atol=1e-4)
    assert torch.allclose(plain.outputs, clean, atol=1e-5)
    full = run_graph(tiny_model, graph, *args, corrupted=corrupted, keep=np.ones_like(graph.valid))
    empty = run_graph(tiny_model, graph, *args, corrupted=corrupted, keep=np.zeros_like(graph.valid))
    np.testing.assert_allclose(full.metric.numpy(), plain.metric.numpy(), atol=1e-5)
    np.testing.assert_allclose(empty.metric.numpy(), _reference_logit_diff(tiny_model, prepared.task, True), atol=1e-4)
    # EAP-IG's inputs: the clean tokens with the corrupted prompt's embeddings are the corrupted run
    swapped = run_graph(tiny_model, graph, *args, embed=corrupted[0])
    np.testing.assert_allclose(swapped.metric.numpy(), empty.metric.numpy(), atol=1e-4)


def test_faithfulness_of_full_graph_is_one_and_of_empty_circuit_zero(tiny_models):
    model = tiny_models["tiny-neox"]  # parallel attention and MLP
    task = make_task("capitals", n=3, seed=2)
    graph = build_graph(model)
    assert graph.parallel and not graph.valid[graph.source_index(0, 0), graph.target_index(0, None)]
    full = circuit_faithfulness(model, task, np.ones_like(graph.valid))
    empty = circuit_faithfulness(model, task, np.zeros_like(graph.valid))
    gap = full["clean"].mean() - full["corrupted"].mean()
    assert (full["circuit"].mean() - full["corrupted"].mean()) / gap == pytest.approx(1.0, abs=1e-4)
    assert (empty["circuit"].mean() - empty["corrupted"].mean()) / gap == pytest.approx(0.0, abs=1e-4)


def test_eap_is_the_first_order_effect_of_scaling_each_edge(tiny_models):
    """Score(u -> v) = d metric / d eps of giving v the source output a_u + eps (a_u' - a_u): checked by a finite
    difference of the exact edge patch on the largest edges of a GQA model (each query head its own input)."""
    model = tiny_models["tiny-llama"]
    prepared, graph, args, clean, corrupted = _setup(model)
    run = run_graph(model, graph, *args, gradients=True)
    scores = ((corrupted - clean).flatten(1).double() @ run.grads.flatten(1).double().T).numpy()
    scores[~graph.valid] = 0
    eps = 1e-3
    base = run.metric.mean().item()
    for flat in np.argsort(-np.abs(scores).ravel())[:4]:
        s, t = divmod(int(flat), len(graph.targets))
        keep = np.ones_like(graph.valid)
        keep[s, t] = False
        nudged = run_graph(model, graph, *args, corrupted=clean + eps * (corrupted - clean), keep=keep)
        finite_difference = (nudged.metric.mean().item() - base) / eps
        assert finite_difference == pytest.approx(scores[s, t], rel=0.05, abs=1e-5), graph.edge_names([flat])


def test_eap_ig_with_one_step_is_eap(tiny_models):
    model = tiny_models["tiny-gpt2"]
    task = make_task("ioi", n=2, seed=3)
    eap = edge_attribution_patching(model, task, method="eap", sizes=[], progress=False)
    ig = edge_attribution_patching(model, task, method="eap-ig", steps=1, sizes=[], progress=False)
    np.testing.assert_allclose(ig.scores, eap.scores, rtol=1e-4, atol=1e-7)


def _planted(model, layer: int, head: int):
    """A copy of ``model`` whose only writers to the residual stream are the embeddings and head (layer, head): every
    other head's output weights and every MLP's output weights are zeroed."""
    planted = copy.deepcopy(model)
    hf = planted.bridge.original_model.model
    d_head = model.d_head
    with torch.no_grad():
        for i, block in enumerate(hf.layers):
            weight = block.self_attn.o_proj.weight  # (d_model, n_heads * d_head)
            saved = weight[:, head * d_head:(head + 1) * d_head].clone()
            weight.zero_()
            if i == layer:
                weight[:, head * d_head:(head + 1) * d_head] = saved * 4
            block.mlp.down_proj.weight.zero_()
    return planted


def test_a_planted_circuit_is_recovered(tiny_models):
    """tiny-llama (GQA: 4 query heads share 2 key/value heads) with one live head, a1.h2: the only edges with a score
    are input -> a1.h2 -> logits (input -> logits is 0: the prompts differ only before the last position); a1.h3,
    which shares a1.h2's keys and values, gets nothing; the 2-edge circuit is exactly faithful."""
    model = _planted(tiny_models["tiny-llama"], layer=1, head=2)
    task = make_task("capitals", n=3, seed=4)
    result = edge_attribution_patching(model, task, method="eap", sizes=[2], n_random=2, progress=False)
    graph = result.graph
    planted = {("input", "a1.h2"), ("a1.h2", "logits")}
    assert {(s, t) for s, t, _ in result.top_edges(2)} == planted
    frame = result.to_frame()
    largest = frame["score"].abs().iloc[0]
    rest = frame[[(s, t) not in planted for s, t in zip(frame["source"], frame["target"])]]
    assert rest["score"].abs().max() < 1e-6 * largest
    assert result.scores[graph.sources.index("input"), graph.targets.index("a1.h3")] == 0
    assert result.faithfulness(0).estimate == pytest.approx(1.0, abs=1e-4)
    assert result.random_faithfulness.shape == (1, 2)


def test_tasks_are_seeded_and_fit_the_tokenizer(tiny_models, tmp_path):
    for name in ("ioi", "greater_than", "capitals"):
        a, b = make_task(name, n=5, seed=7), make_task(name, n=5, seed=7)
        assert a.pairs == b.pairs and a.pairs != make_task(name, n=5, seed=8).pairs
        prepared = prepare_task(tiny_models["tiny-llama"], a)
        assert prepared.dropped == 0, name  # SmolLM2's tokenizer (the tiny models') fits every shipped pair
    path = tmp_path / "pairs.csv"
    path.write_text("clean,corrupted,answer,foil\nThe capital of France is,The capital of Italy is, Paris, Rome\n")
    task = read_task_csv(path)
    assert task.pairs == [("The capital of France is", "The capital of Italy is", " Paris", " Rome")]
    path.write_text("clean,answer\nx,y\n")
    with pytest.raises(InvalidDatasetError, match="lacks the column"):
        read_task_csv(path)
    bad = CircuitTask("bad", ["The capital of France is"], ["The capital of the United Kingdom is"], [" Paris"],
                      [" London"])
    with pytest.raises(InvalidParameterError, match="no pair of task 'bad' fits"):
        prepare_task(tiny_models["tiny-gpt2"], bad)


def test_post_norm_models_are_refused(tiny_models):
    class Fake:
        name = "fake"

        class bridge:  # noqa: N801
            class blocks:  # noqa: N801
                def __class_getitem__(cls, i):
                    return torch.nn.ModuleDict({"ln1": torch.nn.Identity(), "ln1_post": torch.nn.Identity()})

    from interp.circuits._graph import check_supported

    with pytest.raises(InvalidParameterError, match="ln1_post"):
        check_supported(Fake(), "edge_attribution_patching")


def test_cli_dla_and_eap(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["circuit", "dla", "--model", "tiny-gpt2", "--task", "capitals", "--pairs", "2"])
    assert out.exit_code == 0, out.output
    assert "direct logit attribution" in out.output
    folder = tmp_path / "eap"
    out = runner.invoke(app, ["circuit", "eap", "--model", "tiny-llama", "--task", "ioi", "--pairs", "2",
                              "--method", "eap", "--sizes", "4", "--random", "1", "--out", str(folder)])
    assert out.exit_code == 0, out.output
    assert "EAP over" in out.output and (folder / "result.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["dla", "--task", "iio"], "The '--task' parameter of interp circuit dla must be one of 'ioi', 'greater_than' or "
                               "'capitals'. Got 'iio' instead. Did you mean 'ioi'?"),
    (["dla", "--neurons", "-1"], "The '--neurons' parameter of interp circuit dla must be an int in [0, 10000000). "
                                 "Got -1 instead."),
    (["eap", "--pairs", "0"], "The '--pairs' parameter of interp circuit eap must be an int in [1, 100000). Got 0"),
    (["eap", "--method", "acdc"], "The '--method' parameter of interp circuit eap must be one of 'eap' or 'eap-ig'."),
    (["eap", "--steps", "0"], "The '--steps' parameter of interp circuit eap must be an int in [1, 1000). Got 0"),
    (["eap", "--random", "-2"], "The '--random' parameter of interp circuit eap must be an int in [0, 10000). Got -2"),
    (["eap", "--sizes", "10,-3"], "The '--sizes' parameter of interp circuit eap must be a list, each an int >= 0"),
    (["eap", "--sizes", "ten"], "The '--sizes' parameter of interp circuit eap must be comma-separated edge counts"),
])
def test_cli_bad_options_fail_before_the_model_loads(monkeypatch, args, message):
    """The commands check their options against the functions' tables (interp._params.check_args) first."""
    from typer.testing import CliRunner

    import interp.models.loading as loading
    from interp.cli import app

    loaded: list = []
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loaded.append(a))
    out = CliRunner().invoke(app, ["circuit", *args, "--model", "no-such-model"])
    assert out.exit_code == 1 and "InvalidParameterError" in out.output, out.output
    assert message in " ".join(out.output.split()), out.output
    assert loaded == []


def test_explorer_tab(tmp_path, monkeypatch):
    """The Circuits tab of the real explorer (apps/explorer.py -> Inside the model), as Streamlit runs it (no sys.path
    edits): DLA bars, the circuit's graph and the faithfulness curve, on a tiny GQA model."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path))
    monkeypatch.setenv("INTERP_MODEL", "tiny-llama")
    explorer = Path(__file__).resolve().parents[1] / "apps" / "explorer.py"
    at = AppTest.from_file(str(explorer), default_timeout=300).run()
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception, at.exception
    tab = [t for t in at.tabs if t.label == "Circuits"][0]
    assert any("Find the circuit" in i.value for i in tab.info)
    at.number_input(key="inside_circuits_pairs").set_value(2)
    at.number_input(key="inside_circuits_random").set_value(0)
    at.radio(key="inside_circuits_method").set_value("eap")
    tab = [t for t in at.tabs if t.label == "Circuits"][0]
    tab.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.subheader if s.value in ("Direct logit attribution", "Edge attribution patching")] == [
        "Direct logit attribution", "Edge attribution patching"]
    charts = at.get("plotly_chart")
    titles = " ".join(str(c.proto.spec) for c in charts)
    assert "Direct logit attribution" in titles and "Top " in titles and "Faithfulness by circuit size" in titles


@pytest.mark.slow
def test_default_model_dla_sums_and_graph_pass_is_exact(default_model):
    """On SmolLM2 (GQA: 9 query heads over 3 key/value heads, 30 layers): the DLA rows sum to the model's own logit
    difference, the per-head pass reproduces the clean and corrupted runs, and the top EAP edge's exact effect has
    its score's sign."""
    model = default_model
    task = make_task("ioi", n=2, seed=0)
    reference = _reference_logit_diff(model, task)
    dla = direct_logit_attribution(model, task, top_neurons=3)
    np.testing.assert_allclose(dla.contributions.sum(1), reference, atol=1e-4)
    result = edge_attribution_patching(model, task, method="eap", sizes=[], progress=False)
    np.testing.assert_allclose(result.clean_metric, reference, atol=1e-3)
    np.testing.assert_allclose(result.corrupted_metric, _reference_logit_diff(model, task, corrupted=True), atol=1e-3)
    (source, target, score), = result.top_edges(1)
    keep = np.ones_like(result.graph.valid)
    keep[result.sources.index(source), result.targets.index(target)] = False
    exact = circuit_faithfulness(model, task, keep)
    assert np.sign(exact["circuit"].mean() - exact["clean"].mean()) == np.sign(score)
