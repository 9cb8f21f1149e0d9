"""One shared Model, many threads: every analysis gives exactly what it gives alone.

The explorer's sessions are threads of one process sharing one ``interp.Model`` per model, and a
notebook may run analyses in threads. TransformerLens hooks live on the shared modules, so without
``model.lock`` one thread's hooks act on another thread's forward passes (wrong logits, collect's
"hooks for layers [...] did not run"). Here threads run different analyses at once on a tiny model,
released together by a barrier each round so that they really overlap, and every result must equal
the sequential one exactly, with no error.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
import pandas as pd
import pytest
import torch

import interp
from interp.attribution import gradient_saliency, token_ablation

N_THREADS = 8
N_ROUNDS = 10
PROMPT = "The capital of France is"
TEXTS = ["Hello world", "The cat sat on the mat because it was tired", "Hi", "A longer sentence about many things"]


@pytest.fixture(scope="module")
def model():
    return interp.load_model("tiny-llama", quiet=True)


def zero(x, hook):
    return torch.zeros_like(x)


def tasks(model) -> dict:
    """name -> a function of no arguments whose result is compared exactly (tensors, arrays, frames)."""
    from interp.activations import collect
    from interp.truth import steer_truth

    def steered():
        with model.hooks([("blocks.0.hook_resid_post", zero)]):
            return model.logits("Hello world")

    def direct_bridge():  # an analysis calling the bridge itself is covered too
        with torch.inference_mode():
            return model.bridge(model.to_tokens("Hello world")).clone()

    return {
        "logits": lambda: model.logits("Hello world"),
        "steered logits": steered,
        "direct bridge call": direct_bridge,
        "collect": lambda: collect(model, TEXTS, layers=[1, 2], position="all", progress=False)[2],
        "run_with_cache": lambda: model.run_with_cache(TEXTS, names=["blocks.1.hook_resid_post"])[
            "blocks.1.hook_resid_post"],
        "token_ablation": lambda: token_ablation(model, PROMPT).to_frame(),
        "grad_x_input": lambda: gradient_saliency(model, PROMPT).to_frame(),
        "integrated_gradients": lambda: gradient_saliency(model, PROMPT, method="integrated_gradients",
                                                          n_steps=8).to_frame(),
        "steer_truth": lambda: steer_truth(model, layer=1, alphas=(0, 2), max_pairs=16, n_test=8).to_frame(),
        "top_next_tokens": lambda: model.top_next_tokens(PROMPT, k=5).to_frame(),
    }


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return True
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def run_concurrently(jobs: list, n_rounds: int) -> list[list]:
    """Run ``jobs[i]`` on thread ``i``, ``n_rounds`` times, all threads released together each round.

    Returns each thread's results (an exception counts as a result)."""
    barrier = threading.Barrier(len(jobs))
    results: list[list] = [[] for _ in jobs]

    def work(i: int) -> None:
        for _ in range(n_rounds):
            barrier.wait()
            try:
                results[i].append(jobs[i]())
            except Exception as exc:  # noqa: BLE001 - an error is a wrong result here
                results[i].append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def check(names: list[str], expected: dict, results: list[list]) -> None:
    wrong = {}
    for name, got in zip(names, results):
        bad = [r for r in got if not same(expected[name], r)]
        if bad:
            wrong[name] = f"{len(bad)}/{len(got)} wrong, e.g. {bad[0]!r:.200}"
    assert not wrong, wrong


def test_a_hook_acts_only_on_its_own_block(model):
    """The issue's first check: one thread steers with a zeroing hook, the other asks for plain logits."""
    jobs = tasks(model)
    names = ["steered logits", "logits"] * (N_THREADS // 2)
    expected = {name: jobs[name]() for name in set(names)}
    assert not same(expected["steered logits"], expected["logits"])  # the hook does change the logits
    check(names, expected, run_concurrently([jobs[n] for n in names], N_ROUNDS))


def test_collect_from_two_threads(model):
    """The issue's second check: collect on different texts from two threads at once."""
    from interp.activations import collect

    texts = [TEXTS, TEXTS[::-1]]
    jobs = [lambda t=t: collect(model, t, layers=[1, 2], position="last", progress=False)[2] for t in texts]
    expected = {str(i): job() for i, job in enumerate(jobs)}
    check([str(i % 2) for i in range(N_THREADS)], expected,
          run_concurrently([jobs[i % 2] for i in range(N_THREADS)], N_ROUNDS))


def test_every_analysis_concurrently_equals_sequential(model):
    """Different analyses at once (attribution, collect, steering, logits, ...): each equals its run alone."""
    jobs = tasks(model)
    expected = {name: job() for name, job in jobs.items()}  # sequential, one at a time
    names = list(jobs)
    for offset in (0, 3):  # two layouts of analyses over threads
        chosen = [names[(i + offset) % len(names)] for i in range(N_THREADS)]
        check(chosen, expected, run_concurrently([jobs[n] for n in chosen], N_ROUNDS // 2))


def test_the_lock_is_released_after_errors(model):
    """A hook that raises, a forward stopped early, a bad input: the next caller (another thread) gets the model."""
    def boom(x, hook):
        raise RuntimeError("a failing hook")

    with pytest.raises(RuntimeError, match="a failing hook"), model.hooks([("blocks.0.hook_resid_post", boom)]):
        model.logits("Hello")
    with pytest.raises(RuntimeError, match="a failing hook"), model.hooks([("blocks.0.hook_resid_post", boom)]):
        model.bridge(model.to_tokens("Hello"))
    model.run_with_cache("Hello", names=["blocks.0.hook_resid_post"])  # stops at layer 1 by an exception
    with pytest.raises(interp.errors.EmptyPromptError):
        model.logits("")
    assert not model.lock._lock._is_owned()
    free = []

    def other():
        free.append(model.lock.acquire(blocking=False))
        if free[-1]:
            model.lock.release()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert free == [True]


def test_the_lock_holds_the_model_across_calls(model):
    """``with model.lock:`` keeps other threads' passes out until the block ends (re-entrant inside)."""
    entered, leave, seen = threading.Event(), threading.Event(), []

    def holder():
        try:
            with model.lock:
                model.logits("Hi")  # re-entrant: the holder can still call the model
                entered.set()
                leave.wait()
        finally:
            entered.set()

    def other():
        seen.append(model.lock.acquire(blocking=False))

    t = threading.Thread(target=holder)
    t.start()
    entered.wait()
    probe = threading.Thread(target=other)
    probe.start()
    probe.join()
    leave.set()
    t.join()
    assert seen == [False]


def test_the_bridge_entry_points_take_the_lock(model):
    """``bridge(...)``, ``bridge.forward``, ``run_with_cache``, ``hooks`` hold the lock; a copy gets its own lock."""
    held = []

    def spy(x, hook):
        held.append(model.lock._lock._is_owned())
        return x

    name = "blocks.0.hook_resid_post"
    tokens = model.to_tokens("Hello")
    with torch.inference_mode():
        model.bridge.hooks(fwd_hooks=[(name, spy)])  # creating the context holds nothing
        with model.bridge.hooks(fwd_hooks=[(name, spy)]):
            assert model.lock._lock._is_owned()
            model.bridge(tokens)
        assert not model.lock._lock._is_owned()
        model.bridge.add_hook(name, spy)
        try:
            model.bridge(tokens)
            model.bridge.forward(tokens)
            model.bridge.run_with_cache(tokens, names_filter=[name])
        finally:
            model.bridge.reset_hooks()
    assert held == [True] * 4
    twin = copy.deepcopy(model.bridge)
    assert twin.forward.owner is twin and twin.forward.lock is not model.lock
    assert twin.forward.lock is twin.run_with_cache.lock
    with torch.inference_mode():
        assert torch.equal(twin(tokens), model.bridge(tokens))


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_run_with_cache_pads_each_micro_batch_to_its_own_longest_text(model, monkeypatch, padding_side):
    """Each forward is as wide as its group's longest text; the cache is padded to the call's longest text,
    and its values at real positions equal one forward over the whole call (the former behaviour)."""
    names = ["blocks.1.hook_resid_post", "blocks.0.attn.hook_pattern"]
    whole = model.run_with_cache(TEXTS, names=names, padding_side=padding_side)  # one micro-batch: full width
    widths = []
    forward = model.bridge.run_with_cache

    def spy(tokens, **kwargs):
        widths.append(tuple(tokens.shape))
        return forward(tokens, **kwargs)

    monkeypatch.setattr(model.bridge, "run_with_cache", spy)
    split = model.run_with_cache(TEXTS, names=names, padding_side=padding_side, batch_size=1)
    lengths = [len(model.encode(t)) for t in TEXTS]
    assert widths == [(1, n) for n in sorted(lengths, reverse=True)]  # longest first, each its own width
    expected = model.tokenize(TEXTS, padding_side=padding_side)
    assert torch.equal(split.batch.tokens, expected.tokens) and split.batch.lengths == lengths
    assert split.batch.padding_side == padding_side
    for name in names:
        assert split[name].shape == whole[name].shape
    for i in range(len(TEXTS)):
        real = split.batch.real_slice(i)
        torch.testing.assert_close(split.real(names[0], i), whole.real(names[0], i))
        torch.testing.assert_close(split[names[1]][i][:, real, real], whole[names[1]][i][:, real, real])
        width = split.batch.tokens.shape[1]
        pad = [p for p in range(width) if p not in range(*real.indices(width))]
        assert not split[names[0]][i][pad].any()  # positions no forward computed are zero
