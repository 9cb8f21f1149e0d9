"""The one forward-pass engine (``Model.run``, interp/models/engine.py) and the one target type (interp/targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.errors import EmptyPromptError, InvalidParameterError
from interp.models import engine
from interp.targets import Target, metric_values, one_token, token_ids

TEXTS = ["The cat sat on the mat.", "Hi", "A much longer sentence about nothing in particular at all.", "Dogs bark."]


@pytest.fixture(scope="module")
def llama(tiny_models):
    return tiny_models["tiny-llama"]


@pytest.fixture(scope="module")
def full(llama):
    return [llama.logits(t) for t in TEXTS]  # one text per pass: the reference


@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [None, 1, 3])
def test_run_keeps_the_positions_asked_for(llama, full, padding_side, batch_size):
    ids = [llama.encode(t) for t in TEXTS]
    last = llama.run(ids, padding_side=padding_side, batch_size=batch_size)
    two = llama.run(ids, keep=2, padding_side=padding_side, batch_size=batch_size)
    every = llama.run(TEXTS, keep="all", padding_side=padding_side, batch_size=batch_size)
    assert last.shape == (len(TEXTS), llama.d_vocab) and two.shape == (len(TEXTS), 2, llama.d_vocab)
    for i, ref in enumerate(full):
        torch.testing.assert_close(last[i], ref[-1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(two[i], ref[-2:], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(every[i], ref, atol=1e-5, rtol=1e-5)


def test_count_passes_counts_the_planned_micro_batches(llama):
    ids = [llama.encode(t) for t in TEXTS]
    with llama.count_passes() as count:
        llama.run(ids, batch_size=3)
    assert (count.passes, count.rows) == (2, 4)
    widths = sorted((len(x) for x in ids), reverse=True)
    assert count.tokens == 3 * widths[0] + widths[3]  # longest first: [0, 1, 2] padded to the longest, then one
    with llama.count_passes() as count:
        llama.run(ids, budget_bytes=1)  # nothing fits: one row per pass
    assert count.passes == 4
    with llama.count_passes() as outer:
        with llama.count_passes() as inner:
            llama.run(ids)
        llama.run(ids)
    assert (inner.passes, outer.passes) == (1, 2)
    assert outer.peak_bytes == len(ids) * engine.row_bytes(llama, max(len(x) for x in ids))


def test_planner_keeps_each_pass_within_the_byte_budget(llama):
    lengths = [5, 17, 3, 9, 12, 1, 30, 8]
    budget = 6 * engine.row_bytes(llama, 17)
    groups = engine.plan(llama, lengths, budget_bytes=budget)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        width = max(lengths[i] for i in g)
        assert len(g) == 1 or len(g) * engine.row_bytes(llama, width) <= budget
        assert [lengths[i] for i in g] == sorted((lengths[i] for i in g), reverse=True)
    # a backward pass keeps every layer's activations: n_layers times the forward's, plus the same logits
    logits = engine.row_bytes(llama, 10) - engine.row_bytes(llama, 10, keep=0)
    assert engine.row_bytes(llama, 10, grad=True) - logits == llama.n_layers * (engine.row_bytes(llama, 10) - logits)
    assert engine.plan_batches([4, 4, 4], None, budget=8) == [[0, 1], [2]]  # the token planner, as before


def test_hooks_built_per_micro_batch_see_their_rows(llama):
    ids = [llama.encode(t) for t in TEXTS]
    seen = []

    def hooks(rows, batch):
        seen.append((list(rows), batch.tokens.shape[0]))
        return []

    llama.run(ids, keep=None, hooks=hooks, batch_size=2)
    assert sorted(r for rows, _ in seen for r in rows) == [0, 1, 2, 3] and all(len(r) == n for r, n in seen)


def test_split_on_oom_halves_a_group_and_reraises_other_errors():
    calls = []

    def fn(group):
        calls.append(list(group))
        if len(group) > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return group[0] * 10

    assert list(engine.split_on_oom([[0, 1, 2]], fn)) == [([0], 0), ([1], 10), ([2], 20)]
    with pytest.raises(ValueError):
        list(engine.split_on_oom([[0]], lambda g: (_ for _ in ()).throw(ValueError("bad"))))


def test_bad_keep_is_a_named_error(llama):
    with pytest.raises(InvalidParameterError, match="'keep' parameter of Model.run"):
        llama.run(["Hi"], keep="first")
    with pytest.raises(InvalidParameterError, match="'sequences' parameter"):
        llama.run([])


# ----------------------------------------------------------------------------------------- targets
def test_one_token_resolver(llama):
    paris = llama.tokenizer(" Paris", add_special_tokens=False)["input_ids"]
    assert token_ids(llama, " Paris", where="t") == paris
    assert token_ids(llama, 5, where="t") == [5] and token_ids(llama, [5, 6], where="t") == [5, 6]
    with pytest.raises(EmptyPromptError, match="'target' parameter of t tokenizes to no tokens"):
        token_ids(llama, "", where="t")
    with pytest.raises(InvalidParameterError, match="must be one token.*exactly one token"):
        one_token(llama, " Paris France and Rome", name="foil", where="t")
    with pytest.raises(InvalidParameterError, match="must be a str"):
        token_ids(llama, 1.5, where="t")
    with pytest.raises(InvalidParameterError, match="target"):
        token_ids(llama, llama.d_vocab, where="t")


def test_named_metrics_match_a_hand_computation():
    logits = torch.tensor([[[1.0, 2.0, 0.5]], [[0.0, -1.0, 3.0]]])  # (2, 1, 3)
    target = torch.tensor([[1], [2]])
    logp = torch.log_softmax(logits, -1)
    torch.testing.assert_close(metric_values("logit", logits, target), torch.tensor([[2.0], [3.0]]))
    torch.testing.assert_close(metric_values("logprob", logits, target), logp[[0, 1], 0, [1, 2]].view(2, 1))
    torch.testing.assert_close(metric_values("prob", logits, target), logp[[0, 1], 0, [1, 2]].exp().view(2, 1))
    diff = metric_values("logit_diff", logits, target, torch.tensor([0, 1]))
    torch.testing.assert_close(diff, torch.tensor([[1.0], [4.0]]))
    with pytest.raises(InvalidParameterError, match="needs a foil"):
        metric_values("logit_diff", logits, target)


def test_target_and_callable_metric_agree_with_the_old_names(llama):
    from interp.attribution import token_ablation
    from interp.patching import activation_patching

    prompt, clean, corrupted = "The capital of France is", "The capital of France is", "The capital of Italy is"
    new = activation_patching(llama, clean, corrupted, target=Target(" Paris", foil=" Rome"), sites=("resid",))
    with pytest.warns(DeprecationWarning, match="'answer' parameter of activation_patching is now 'target'"):
        old = activation_patching(llama, clean, corrupted, answer=" Paris", wrong_answer=" Rome", sites=("resid",))
    np.testing.assert_array_equal(new.resid, old.resid)

    def logit_diff(logits, target_ids, foil_ids):
        rows = torch.arange(logits.shape[0])
        return logits[rows, target_ids] - logits[rows, foil_ids]

    custom = activation_patching(llama, clean, corrupted, target=Target(" Paris", " Rome"), metric=logit_diff,
                                 sites=("resid",))
    np.testing.assert_allclose(custom.resid, new.resid, atol=1e-6)
    assert custom.metric == "logit_diff"  # the callable's name

    with pytest.warns(DeprecationWarning, match="'contrast' parameter of token_ablation"):
        old_a = token_ablation(llama, prompt, " Paris", contrast=" Rome")
    new_a = token_ablation(llama, prompt, Target(" Paris", foil=" Rome"))
    np.testing.assert_array_equal(new_a.scores, old_a.scores)
    assert new_a.metric == "logit_diff"


def test_an_ablation_is_one_engine_pass(llama):
    from interp.attribution import token_ablation

    with llama.count_passes() as count:
        result = token_ablation(llama, "The capital of France is", " Paris")
    assert count.passes == 1 and count.rows == len(result.tokens) + 1  # the original and one variant per token


def test_the_contributing_example_needs_no_batching_or_resolving_code(llama):
    """CONTRIBUTING.md's smallest analysis: model.run and interp.targets do the batching and the tokens."""
    from collections.abc import Sequence
    from typing import Any

    from interp import targets

    def target_logprob(model, prompts: Sequence[str], target: Any, *, metric: Any = "logprob") -> np.ndarray:
        where = "target_logprob"
        targets.check_metric(metric, where=where)
        ids = [targets.one_token(model, t, where=where) for t in targets.per_prompt(target, len(prompts), where=where)]
        logits = model.run(prompts)
        return targets.metric_values(metric, logits, torch.tensor(ids)).double().numpy()

    prompts = ["The cat sat on the", "Hi"]
    got = target_logprob(llama, prompts, " mat")
    mat = one_token(llama, " mat", where="t")
    expected = [float(torch.log_softmax(llama.logits(p)[-1].double(), -1)[mat]) for p in prompts]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_engine_helpers_are_imported_from_the_engine_not_re_exported():
    """The engine's helpers (pad_left, the planner, the budget) are defined once, in interp/models/engine.py, and
    each caller imports them from there: no other module imports one it neither uses nor lists in its ``__all__``
    (a silent re-export kept for others, as interp.attribution._core kept pad_left for interp.ask)."""
    import ast
    from pathlib import Path

    import interp

    unused = []
    for path in sorted(Path(interp.__file__).parent.rglob("*.py")):
        if path.name == "__init__.py":  # a package's public surface re-exports by design
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "interp.models.engine" for a in node.names}
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        public = {node.value for assign in tree.body if isinstance(assign, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "__all__" for t in assign.targets)
                  for node in ast.walk(assign.value) if isinstance(node, ast.Constant)}
        unused += [f"{path.name}: {name}" for name in sorted(imported - used - public)]
    assert unused == []
    from interp.attribution import _core

    assert not hasattr(_core, "pad_left")  # interp.ask imports it from interp.models.engine
