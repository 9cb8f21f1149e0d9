"""interp.activations.collect on tiny models: batching, early stop, positions, word alignment, shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.activations import Activations, collect, layer_hook_name, word_spans, word_token_positions
from interp.errors import EmptyPromptError, InvalidParameterError, InvalidResultFileError, LayerIndexError

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Hi", "Unbelievably, 12345 cats didn't sleep!",
         "Paris is the capital of France, and Rome is the capital of Italy."]


@pytest.mark.parametrize("position", ["last", "all", "mean"])
def test_batched_equals_one_at_a_time(tiny_model, position):
    batched = collect(tiny_model, TEXTS, layers="all", position=position)
    pairs = collect(tiny_model, TEXTS, layers="all", position=position, batch_size=2)
    alone = [collect(tiny_model, [t], layers="all", position=position) for t in TEXTS]
    assert np.array_equal(batched.text_index, np.concatenate([np.full(len(a), i) for i, a in enumerate(alone)]))
    for layer in range(tiny_model.n_layers + 1):
        expected = np.concatenate([a[layer] for a in alone])
        assert batched[layer].shape == (len(expected), tiny_model.d_model) and batched[layer].dtype == np.float32
        np.testing.assert_allclose(batched[layer], expected, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(pairs[layer], expected, atol=1e-5, rtol=1e-5)


def test_early_stop_equals_full_forward(tiny_model):
    """Layer l equals the HF hidden state l of a separate full forward; later blocks never run."""
    from interp.models.tiny import build_tiny_hf_model

    before = tiny_model.logits("Hello world")
    reference = build_tiny_hf_model(tiny_model.name, tiny_model.tokenizer, seed=0)
    acts = collect(tiny_model, TEXTS[0], layers=[0, 1], position="all", include_bos=True)
    with torch.no_grad():
        hidden = reference(tiny_model.to_tokens(TEXTS[0]), output_hidden_states=True).hidden_states
    for layer in (0, 1):
        np.testing.assert_allclose(acts[layer], hidden[layer][0].numpy(), atol=1e-4, rtol=1e-4)
    # the last layer (after block n-1, before the final norm) against an uncached full forward of the bridge
    full = tiny_model.run_with_cache(TEXTS[0], names=[layer_hook_name(2)])[layer_hook_name(2)][0]
    last = collect(tiny_model, TEXTS[0], layers=[2], position="all", include_bos=True)
    np.testing.assert_allclose(last[2], full.numpy(), atol=1e-5, rtol=1e-5)

    seen = []
    with tiny_model.hooks([("blocks.1.hook_resid_post", lambda x, hook: seen.append(hook.name))]):  # block 1's output
        collect(tiny_model, TEXTS, layers=[0, 1], position="last")
        assert seen == []  # block 1 never ran
        collect(tiny_model, TEXTS, layers=[2], position="last")
        assert seen
    # stopping early leaves no hook or stop behind: a full forward afterwards gives the logits of before
    torch.testing.assert_close(tiny_model.logits("Hello world"), before, rtol=0, atol=0)


def test_positions_agree_with_each_other(tiny_model):
    every = collect(tiny_model, TEXTS, layers=[1], position="all")
    last = collect(tiny_model, TEXTS, layers=[1], position="last")
    mean = collect(tiny_model, TEXTS, layers=[1], position="mean")
    with_bos = collect(tiny_model, TEXTS, layers=[1], position="all", include_bos=True)
    bos = int(tiny_model.prepend_bos)  # tiny-neox, like Pythia, prepends no BOS
    assert len(with_bos) == len(every) + bos * len(TEXTS)  # one BOS row per text, only when asked
    assert (0 in every.token_position) == (not bos)
    for i, text in enumerate(TEXTS):
        rows = every[1][every.text_index == i]
        assert len(rows) == len(tiny_model.to_str_tokens(text)) - bos  # every token but BOS
        np.testing.assert_allclose(last[1][i], rows[-1], atol=1e-6)
        np.testing.assert_allclose(mean[1][i], rows.mean(axis=0), atol=1e-5)
    assert last.tokens == [tiny_model.to_str_tokens(t)[-1] for t in TEXTS]
    assert list(last.to_frame().columns) == ["text_index", "token_position", "token", "word_index", "word"]


def test_word_alignment_multi_token_words_punctuation_and_numbers(tiny_models):
    model = tiny_models["tiny-llama"]
    text = "Unbelievably, 12345 cats didn't sleep!"
    words = ["Unbelievably", ",", "12345", "cats", "did", "n't", "sleep", "!"]  # spaCy's split
    tokens = model.to_str_tokens(text)
    positions = word_token_positions(model, text, words)
    assert ["".join(tokens[p] for p in ps).strip() for ps in positions[:4]] == ["Unbelievably", ",", "12345", "cats"]
    assert len(positions[0]) > 1 and len(positions[2]) == 5  # a word in several pieces; digits one token each
    assert tokens[positions[1][0]] == "," and tokens[positions[-1][0]] == "!"
    assert all(p >= 1 for ps in positions for p in ps)  # BOS shift: no word maps to position 0
    assert positions[4][-1] in positions[5] or positions[4][-1] < positions[5][0]  # "did"/"n't" share or follow
    spans = word_spans(text, words)
    assert word_token_positions(model, text, spans) == positions
    assert [text[a:b] for a, b in spans] == words

    every = collect(model, text, layers=[2], position="all")
    per_word = collect(model, [text], layers=[2], position="word_last", words=[words])
    assert per_word.words == words and list(per_word.word_index) == list(range(len(words)))
    for row, ps in enumerate(positions):
        np.testing.assert_allclose(per_word[2][row], every[2][every.token_position == ps[-1]][0], atol=1e-6)
        assert per_word.tokens[row] == tokens[ps[-1]]
    mean = collect(model, [text], layers=[2], position="word_mean", words=[words])
    np.testing.assert_allclose(mean[2][0], every[2][np.isin(every.token_position, positions[0])].mean(0), atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"texts": []}, EmptyPromptError, "empty list"),
    ({"texts": ["ok", " "]}, EmptyPromptError, "item 1"),
    ({"layers": 3}, LayerIndexError, r"\[0, 3\)"),
    ({"layers": [0, 99]}, LayerIndexError, "Got 99"),
    ({"layers": []}, InvalidParameterError, "non-empty"),
    ({"layers": "some"}, InvalidParameterError, "'all'"),
    ({"position": "first"}, InvalidParameterError, "'last', 'all', 'mean', 'word_last' or 'word_mean'"),
    ({"position": "word_last"}, InvalidParameterError, "needs 'words'"),
    ({"position": "word_last", "words": [["Hello"], ["nope"]]}, InvalidParameterError, "not the next word"),
    ({"words": [["Hello"], ["x"]]}, InvalidParameterError, "only used with position"),
    ({"batch_size": 0}, InvalidParameterError, "batch_size"),
])
def test_bad_input_raises_named_errors(tiny_models, kwargs, error, match):
    args = {"texts": ["Hello world", "Good night"], "layers": [1], **kwargs}
    with pytest.raises(error, match=match):
        collect(tiny_models["tiny-gpt2"], args.pop("texts"), **args)


def test_shards_stream_to_disk_and_are_reused(tiny_models, tmp_path):
    model = tiny_models["tiny-neox"]
    texts = [f"Sentence number {i} is about {'cats ' * (i % 4)}and dogs." for i in range(9)]
    memory = collect(model, texts, layers=[0, 2], position="all")
    on_disk = collect(model, texts, layers=[0, 2], position="all", out=tmp_path, shard_size=4)
    shards = sorted(tmp_path.glob("shard-*.safetensors"))
    assert len(shards) == 3 and (tmp_path / "manifest.json").is_file()
    assert on_disk.directory == tmp_path and on_disk._arrays is None  # lazy: nothing loaded
    loaded = Activations.load(tmp_path)
    for acts in (on_disk, loaded):
        assert len(acts) == len(memory) and acts.tokens == memory.tokens
        for layer in (0, 2):  # other micro-batches, so other padding: equal up to float rounding
            np.testing.assert_allclose(acts[layer], memory[layer], atol=1e-5, rtol=1e-5)

    mtimes = [p.stat().st_mtime_ns for p in shards]
    with model.count_passes() as count:  # the model's passes (collect runs them through model.run)
        again = collect(model, texts, layers=[0, 2], position="all", out=tmp_path, shard_size=4)
    assert count.passes == 0 and [p.stat().st_mtime_ns for p in shards] == mtimes  # nothing recomputed
    np.testing.assert_array_equal(again[2], on_disk[2])

    with model.count_passes() as count:
        collect(model, [*texts, "One more sentence."], layers=[0, 2], position="all", out=tmp_path, shard_size=4)
    assert count.rows == 2  # only the last shard (text 8 and the new one) ran again
    assert [p.stat().st_mtime_ns for p in shards[:2]] == mtimes[:2]

    with model.count_passes() as count:
        collect(model, texts, layers=[1], position="all", out=tmp_path, shard_size=4)  # other inputs: all redone
    assert count.rows == len(texts)
    assert Activations.load(tmp_path).layers == (1,)


def test_load_refuses_missing_or_incomplete(tmp_path):
    with pytest.raises(InvalidResultFileError, match="holds no activations"):
        Activations.load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "interp.activations", "complete": false, "shards": []}')
    with pytest.raises(InvalidResultFileError, match="incomplete"):
        Activations.load(tmp_path)


def test_unknown_layer_of_activations(tiny_models):
    acts = collect(tiny_models["tiny-gpt2"], "Hello world", layers=[1])
    with pytest.raises(InvalidParameterError, match=r"hold layers \[1\]"):
        acts[0]


@pytest.mark.slow
def test_default_model_matches_hf_hidden_states(default_model):
    """On SmolLM2: batched, early-stopped rows equal the HF model's own hidden states (BOS excluded)."""
    texts = ["The capital of France is Paris.", "Colorless green ideas sleep furiously", "Hello"]
    layers = [0, 1, 15, 29]
    acts = collect(default_model, texts, layers=layers, position="all")
    hf = default_model.bridge.original_model
    for i, text in enumerate(texts):
        with torch.no_grad():
            hidden = hf(default_model.to_tokens(text), output_hidden_states=True).hidden_states
        for layer in layers:
            expected = hidden[layer][0, 1:].numpy()
            np.testing.assert_allclose(acts[layer][acts.text_index == i], expected, atol=2e-3, rtol=1e-3)


def test_passes_are_the_engines_planned_micro_batches(tiny_models):
    """collect runs its forward passes through model.run: the engine's byte planner sizes them (no more passes than
    the token planner it replaced), batch_size fixes the texts per pass, and the rows do not depend on either."""
    from interp.models import engine

    model = tiny_models["tiny-llama"]
    texts = [f"Sentence {i} is about {'cats and dogs ' * (i % 7)}." for i in range(40)]
    lengths = [len(model.encode(t)) for t in texts]
    with model.count_passes() as count:
        planned = collect(model, texts, layers=[1, 2], position="mean")
    groups = engine.plan(model, lengths, keep=None)
    assert (count.passes, count.rows) == (len(groups), len(texts))
    assert count.passes <= len(engine.plan_batches(lengths, None))  # the token budget collect used before
    assert count.peak_bytes <= engine.DEFAULT_BUDGET_BYTES
    with model.count_passes() as count:
        fixed = collect(model, texts, layers=[1, 2], position="mean", batch_size=16)
    assert (count.passes, count.rows) == (3, len(texts))
    for layer in (1, 2):
        np.testing.assert_allclose(fixed[layer], planned[layer], atol=1e-5, rtol=1e-5)


def test_a_pass_out_of_memory_is_retried_in_halves(tiny_models, monkeypatch):
    """A micro-batch that runs out of memory is split and retried by the engine; the rows are those of a pass
    that fitted."""
    model = tiny_models["tiny-gpt2"]
    texts = [f"Text {i}: {'more words ' * i}" for i in range(6)]
    expected = collect(model, texts, layers=[1], position="all", batch_size=1)
    forward = model.bridge.forward

    def small_memory(tokens, *args, **kwargs):
        if tokens.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return forward(tokens, *args, **kwargs)

    monkeypatch.setattr(model.bridge, "forward", small_memory)
    with model.count_passes() as count:
        acts = collect(model, texts, layers=[1], position="all", batch_size=6)
    assert count.passes == 4 and count.rows == len(texts)  # 6 -> 3 + 3 -> (1 + 2) + (1 + 2)
    np.testing.assert_allclose(acts[1], expected[1], atol=1e-5, rtol=1e-5)
