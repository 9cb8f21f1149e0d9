"""interp.replication: the papers' findings table, and examples/replication.ipynb executed so it never rots."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from interp.errors import InvalidParameterError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "replication.ipynb"


def _result(model="m", values=None):
    from interp.replication import ReplicationResult, all_findings

    findings = all_findings()
    values = np.arange(len(findings), dtype=np.float64)[None] if values is None else values
    return ReplicationResult(keys=[f.key for f in findings], papers=[f.paper for f in findings],
                             paper_models=[f.paper_model for f in findings], claims=[f.claim for f in findings],
                             quantities=[f.quantity for f in findings], criteria=[f.criterion for f in findings],
                             models=[model], values=values, reproduces=np.zeros_like(values, dtype=np.int8),
                             details=[model])


def test_every_paper_has_rows_and_a_model_size():
    from interp.replication import all_findings

    findings = all_findings()
    papers = {f.paper.split(" (")[0] for f in findings}
    assert papers == {"Marks & Tegmark 2023", "Gurnee & Tegmark 2023", "Hewitt & Liang 2019", "DeYoung et al. 2020"}
    assert len({f.key for f in findings}) == len(findings)
    assert all(f.paper_model and f.criterion for f in findings)
    methods = {"ablation", "gradient", "grad_x_input", "integrated_gradients", "rollout"}
    assert {f.key for f in findings if f.key.startswith("eraser_")} == (
        {f"eraser_{m}_{q}" for m in methods | {"random"} for q in ("comprehensiveness", "sufficiency")})


def test_criteria_read_the_values():
    """Each criterion is a function of the value (and, for ERASER, of the random ranking's value)."""
    from interp.replication import all_findings

    by_key = {f.key: f for f in all_findings()}
    assert by_key["truth_transfer"].holds(0.71, {}) and not by_key["truth_transfer"].holds(0.69, {})
    assert by_key["space_r2_lat"].holds(0.45, {}) and not by_key["space_r2_lat"].holds(0.44, {})
    assert by_key["pos_mlp_selectivity"].holds(-0.01, {}) and not by_key["pos_mlp_selectivity"].holds(0.0, {})
    got = {"eraser_random_comprehensiveness": 0.2, "eraser_random_sufficiency": 0.1}
    assert by_key["eraser_gradient_comprehensiveness"].holds(0.3, got)
    assert not by_key["eraser_gradient_comprehensiveness"].holds(0.1, got)
    assert by_key["eraser_gradient_sufficiency"].holds(0.05, got)
    assert not by_key["eraser_gradient_sufficiency"].holds(0.15, got)
    assert by_key["eraser_random_sufficiency"].holds is None


def test_combine_makes_a_column_per_model(tmp_path):
    from interp.replication import ReplicationResult

    a, b = _result("a"), _result("b", values=np.full((1, len(_result().keys)), np.nan))
    both = ReplicationResult.combine([a, b])
    assert both.models == ["a", "b"] and both.values.shape == (2, len(a.keys))
    frame = both.to_frame()
    assert list(frame.columns[-4:]) == ["a", "a reproduces", "b", "b reproduces"]
    np.testing.assert_array_equal(frame["a"].to_numpy(), a.values[0])
    assert ReplicationResult.load(both.save(tmp_path / "r.json")) == both
    with pytest.raises(InvalidParameterError, match="at least one result"):
        ReplicationResult.combine([])
    other = _result("c")
    other.keys = other.keys[::-1]
    with pytest.raises(InvalidParameterError, match="different findings"):
        ReplicationResult.combine([a, other])


def test_cli_replicate_prints_saves_and_reloads_a_table(tmp_path):
    """interp replicate: --load prints a saved table (caveats and summary first, a row per finding), --out FOLDER
    saves it as result.json + result.html, --json prints the saved format; an unknown part fails before any model
    loads."""
    from typer.testing import CliRunner

    from interp.cli import app
    from interp.replication import ReplicationResult

    runner = CliRunner()
    table = _result("tiny-gpt2")
    table.save(tmp_path / "saved.json")
    res = runner.invoke(app, ["replicate", "--load", str(tmp_path / "saved.json"), "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert text.startswith(" ".join(table.caveats()[0].split())) and "truth_transfer" in text
    assert ReplicationResult.load(tmp_path / "again" / "result.json") == table
    assert (tmp_path / "again" / "result.html").is_file()
    res = runner.invoke(app, ["replicate", "--load", str(tmp_path / "again"), "--json"])
    assert res.exit_code == 0 and ReplicationResult.from_json(res.stdout) == table
    res = runner.invoke(app, ["replicate", "--parts", "truth,grammar", "-m", "no-such-model"])
    assert res.exit_code == 1 and "--parts" in res.output and "grammar" in res.output


def test_caveats_count_the_findings_not_measured():
    values = np.arange(len(_result().keys), dtype=np.float64)[None]
    values[0, :4] = np.nan
    caveats = _result("m", values).caveats()
    assert any(c.startswith("4 finding(s) were not measured on m") for c in caveats)
    assert not any("not measured" in c for c in _result("m").caveats())


@pytest.mark.slow
def test_notebook_runs_in_quick_mode(tmp_path):
    """examples/replication.ipynb, its parameters cell set to quick mode on the tiny GPT-2, runs top to bottom in a
    kernel of this environment's python, and its table has a row per finding, each one measured. (This checks that
    the notebook runs, not its figures: those are benchmarks/replication.py's on the real models, and each part's
    analysis is tested on the default model in its own file.)"""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    from interp.replication import all_findings

    nb = nbformat.read(NOTEBOOK, as_version=4)
    (parameters,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert "MODELS = [None]" in parameters.source  # the notebook's own default: the default model
    parameters.source += "\nQUICK = True\nMODELS = ['tiny-gpt2']\n"
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, json\nprint(json.dumps({'python': sys.executable, 'rows': len(result.to_frame()), "
        "'models': result.models, 'finite': int(__import__('numpy').isfinite(result.values).sum())}))"))
    kernels = tmp_path / "kernels" / "interp-venv"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "interp venv", "language": "python"}))
    manager = KernelManager(kernel_name="interp-venv",  # its ports are on 127.0.0.1
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    client = nbclient.NotebookClient(nb, km=manager, timeout=600, startup_timeout=300,  # a busy CI machine
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    last = json.loads(nb.cells[-1].outputs[0]["text"])
    assert last["python"] == sys.executable
    assert last["rows"] == len(all_findings()) and last["models"] == ["tiny-gpt2"]
    assert last["finite"] == len(all_findings())  # every finding measured


def test_eraser_random_reference_is_drawn_once_seeded_with_its_interval_over_the_draws(monkeypatch):
    """The ERASER rows' random reference: compare_methods' own random orders (N_RANDOM_RANKINGS per prompt, drawn
    once there, one seed per prompt from replicate's seed), the same values for the same seed, and an interval
    over every draw of every prompt. compare_methods is replaced by a stand-in that records its calls and returns
    seeded numbers in its result's shape (its own scoring is tested in test_attribution.py)."""
    import types

    import interp.attribution
    from interp.replication import _ERASER_METHODS, N_RANDOM_RANKINGS, SETTINGS, _eraser, _eraser_tables, eraser_values
    from interp.stats import mean_interval

    calls = []

    def compare_methods(model, prompt, target, *, methods, n_steps, n_random, random_seed):
        calls.append((prompt, n_random, random_seed))
        rng = np.random.default_rng(random_seed)
        return types.SimpleNamespace(methods=list(methods), comprehensiveness=rng.random(len(methods)),
                                     sufficiency=rng.random(len(methods)),
                                     random_comprehensiveness=rng.random((n_random, 5)),
                                     random_sufficiency=rng.random((n_random, 5)))

    monkeypatch.setattr(interp.attribution, "compare_methods", compare_methods)
    tables = _eraser_tables("model", True, 3)
    n_prompts = SETTINGS[True]["prompts"]
    assert len(tables) == len(calls) == n_prompts  # one call per prompt: its random orders are the only ones drawn
    assert all(n == N_RANDOM_RANKINGS for _, n, _ in calls)
    assert len({seed for _, _, seed in calls}) == n_prompts  # each prompt its own orders
    seeds = [seed for _, _, seed in calls]
    _eraser_tables("model", True, 3)
    assert [seed for _, _, seed in calls[n_prompts:]] == seeds  # the same seed draws the same orders
    _eraser_tables("model", True, 4)
    assert [seed for _, _, seed in calls[2 * n_prompts:]] != seeds
    values = eraser_values(tables, seed=3)
    assert _eraser("model", True, 3) == values  # the seed gives the same values
    for name in ("comprehensiveness", "sufficiency"):
        draws = np.stack([getattr(t, f"random_{name}").mean(axis=1) for t in tables])  # (n_prompts, n_random) AOPCs
        expected = mean_interval(draws.ravel(), seed=3)
        assert expected.n == n_prompts * N_RANDOM_RANKINGS  # over the draws, not over the prompts or fractions
        key = f"eraser_random_{name}"
        assert values[key] == pytest.approx(draws.mean())
        assert (values[f"{key}_low"], values[f"{key}_high"]) == (expected.low, expected.high)
        for k, m in enumerate(_ERASER_METHODS):
            assert values[f"eraser_{m}_{name}"] == pytest.approx(np.mean([getattr(t, name)[k] for t in tables]))
