"""The explorer's one result cache (apps/_common.py: ``cached_result``, ``page_result``) and its keying.

The same inputs answer from the cache (the library is not called again); a changed input and another model compute
afresh, where "another model" means other weights (the key is the weights fingerprint, not the name a model was
loaded by, nor the Python object); a page's kept request shows its result only while the sidebar holds the model it
ran on. Under Streamlit's AppTest through the real entrypoint (the Model and Maps pages), and on the helper itself.
"""

from __future__ import annotations

import functools

import pytest
from _app import APPS, TIMEOUT, assert_frame_equal, assert_no_failure, charts, figure_data, frames, submit

import interp


@pytest.fixture
def calls(monkeypatch):
    """Each call of ``Model.top_next_tokens`` (the Model page's analysis): (model name, prompt, k)."""
    seen = []
    real = interp.Model.top_next_tokens

    @functools.wraps(real)
    def counting(self, prompt, k=10, **kwargs):
        seen.append((self.name, prompt, k))
        return real(self, prompt, k, **kwargs)

    monkeypatch.setattr(interp.Model, "top_next_tokens", counting)
    return seen


def test_a_rerun_with_the_same_inputs_answers_from_the_cache(open_page, calls, tiny):
    at = open_page("model")
    assert calls == [("tiny-gpt2", "The capital of France is", 10)]
    shown = frames(at)[-1]
    at.run(timeout=TIMEOUT)
    at.text_input(key="model_prompt").set_value("The capital of France is").run(timeout=TIMEOUT)  # set, unchanged
    assert_no_failure(at)
    assert len(calls) == 1
    assert_frame_equal(frames(at)[-1], shown)


def test_a_changed_input_computes_and_the_old_one_is_still_kept(open_page, calls, tiny):
    at = open_page("model")
    at.slider(key="model_k").set_value(4).run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert calls[-1] == ("tiny-gpt2", "The capital of France is", 4) and len(calls) == 2
    assert charts(at)[0] == figure_data(tiny.top_next_tokens("The capital of France is", k=4).plot())
    at.slider(key="model_k").set_value(10).run(timeout=TIMEOUT)  # back to the first input: a hit
    assert_no_failure(at)
    assert len(calls) == 3  # the library call just above, not the page
    assert charts(at)[0] == figure_data(tiny.top_next_tokens("The capital of France is", k=10).plot())


def test_another_model_never_answers_from_the_first_ones_cache(open_page, calls, tiny):
    at = open_page("model")
    at.sidebar.selectbox[0].set_value("tiny-llama").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert [c[0] for c in calls] == ["tiny-gpt2", "tiny-llama"]
    llama = interp.load_model("tiny-llama", quiet=True)
    assert charts(at)[0] == figure_data(llama.top_next_tokens("The capital of France is", k=10).plot())
    at.sidebar.selectbox[0].set_value("tiny-gpt2").run(timeout=TIMEOUT)  # the first model's entry is still there
    assert_no_failure(at)
    assert [c[0] for c in calls] == ["tiny-gpt2", "tiny-llama", "tiny-llama"]  # + the reference call above
    assert charts(at)[0] == figure_data(tiny.top_next_tokens("The capital of France is", k=10).plot())


def test_a_kept_request_shows_its_result_only_for_the_model_it_ran_on(open_page, monkeypatch, tiny):
    """Maps: the projection a form submitted stays across reruns (from the cache, not computed again), is not shown
    once the sidebar picks another model, and is back (still not computed again) when the sidebar picks it again."""
    import interp.projection

    real, seen = interp.projection.project, []

    @functools.wraps(real)  # keeps its validation table (the page reads its choices)
    def counting(model, *args, **kwargs):
        seen.append(model.name)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(interp.projection, "project", counting)
    at = submit(open_page("maps"), "Project")
    assert_no_failure(at)
    first = charts(at)
    assert seen == ["tiny-gpt2"] and len(first) == 1
    at.run(timeout=TIMEOUT)
    assert charts(at) == first and seen == ["tiny-gpt2"]
    at.sidebar.selectbox[0].set_value("tiny-llama").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert not at.get("plotly_chart") and seen == ["tiny-gpt2"]
    at.sidebar.selectbox[0].set_value("tiny-gpt2").run(timeout=TIMEOUT)
    assert_no_failure(at)
    assert charts(at) == first and seen == ["tiny-gpt2"]


# ----------------------------------------------------------------------------------------- the helper itself
@pytest.fixture
def cache(app_common, explorer_cache):
    """``cached_result`` with a fresh explorer cache folder (the memory mirrors one folder), and a call log."""
    log = []

    def cached(kind, model, params, value="v", **kwargs):
        def compute():
            log.append((kind, params))
            return value
        return app_common.cached_result(kind, model, params, compute, **kwargs)

    cached.log = log
    return cached


def test_the_key_is_the_weights_not_the_name_or_the_object(cache, tiny):
    from interp.models.card import weights_fingerprint

    same_weights = interp.load_model("tiny-gpt2", quiet=True, seed=0)
    other_weights = interp.load_model("tiny-gpt2", quiet=True, seed=1)
    assert other_weights.name == tiny.name and weights_fingerprint(other_weights) != weights_fingerprint(tiny)
    assert cache("k", tiny, ("a", 1)) == "v"
    cache("k", same_weights, ("a", 1))
    assert len(cache.log) == 1  # equal weights: a hit, whichever object
    cache("k", other_weights, ("a", 1))
    cache("k", tiny, ("a", 2))
    cache("other kind", tiny, ("a", 1))
    cache("k", None, ("a", 1))
    assert len(cache.log) == 5


def test_params_are_plain_values_and_bytes_key_by_content(cache):
    cache("upload", None, (b"abc", {"x": 1, "y": [1, 2]}))
    cache("upload", None, (b"abc", {"y": (1, 2), "x": 1}))  # the same content and mapping
    assert len(cache.log) == 1
    cache("upload", None, (b"abd", {"x": 1, "y": [1, 2]}))
    assert len(cache.log) == 2
    with pytest.raises(TypeError, match="plain values"):
        cache("upload", None, (object(),))


def test_entries_beyond_max_entries_go_least_recently_used_first(cache):
    for i in range(3):
        cache("k", None, (i,), max_entries=2)
    cache("k", None, (2,), max_entries=2)
    cache("k", None, (1,), max_entries=2)
    assert len(cache.log) == 3
    cache("k", None, (0,), max_entries=2)  # evicted
    assert len(cache.log) == 4


def test_disk_keeps_a_result_for_the_next_process(app_common, explorer_cache, tiny):
    result = tiny.top_next_tokens("Hello", k=3)
    assert app_common.cached_result("top", tiny, ("Hello", 3), lambda: result, disk=True) is result
    (saved,) = explorer_cache.glob("top-*.json")
    app_common._store.clear()  # a restarted explorer: nothing in memory

    def no_compute():
        raise AssertionError("computed again instead of loading the saved file")

    loaded = app_common.cached_result("top", tiny, ("Hello", 3), no_compute, disk=True)
    assert loaded is not result and loaded.to_frame().equals(result.to_frame())
    other = interp.load_model("tiny-gpt2", quiet=True, seed=1)  # other weights: another file
    app_common.cached_result("top", other, ("Hello", 3), lambda: other.top_next_tokens("Hello", k=3), disk=True)
    assert len(list(explorer_cache.glob("top-*.json"))) == 2


def test_pages_cache_only_through_the_helper():
    """One caching idiom: no page (nor a part a page imports) caches or keeps results in its own way."""
    for path in sorted(APPS.rglob("*.py")):
        if path.name == "_common.py":
            continue
        source = path.read_text(encoding="utf-8")
        for idiom in ("st.cache_data", "st.cache_resource", "session_state", "lru_cache", "functools.cache"):
            assert idiom not in source, f"{path.relative_to(APPS)} uses {idiom}; use _common.cached_result / page_result"
