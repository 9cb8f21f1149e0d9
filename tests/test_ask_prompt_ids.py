"""interp.ask.calibration.letter_prompt_ids: the prompts the letter format scores, in each prompt style (what
benchmarks/bench_ask.py's bare-forward floor runs over, for chat and base models alike)."""

from __future__ import annotations

import numpy as np
import pytest

from interp.ask import load_questions, prompts
from interp.ask.calibration import letter_probabilities, letter_prompt_ids
from interp.ask.hints import hint_messages


@pytest.fixture(scope="module")
def tiny():
    import interp

    return interp.load_model("tiny-gpt2", quiet=True)


def test_plain_prompts_are_the_few_shot_text_then_the_question(tiny):
    qs = load_questions("easy").sample(3, seed=0)
    chats = [hint_messages(q, "wrong", q.letters[(q.answer + 1) % len(q.options)]) for q in qs]
    plain = letter_prompt_ids(tiny, chats, style="plain")
    bare = letter_prompt_ids(tiny, chats, style="plain", shots=False)
    chat = letter_prompt_ids(tiny, chats, style="chat")
    bos = [tiny.tokenizer.bos_token_id] if tiny.prepend_bos else []  # a plain prompt starts with the model's BOS
    for q, ids, alone, templated in zip(qs, plain, bare, chat):
        assert ids[:len(bos)] == bos and alone[:len(bos)] == bos
        ids, alone = ids[len(bos):], alone[len(bos):]
        text = tiny.tokenizer.decode(ids)
        assert text.startswith(f"Question: {prompts.PLAIN_SHOTS[0].prompt()}")  # the examples come first
        assert text.endswith(f"Question: {q.prompt()}\nI think the answer is ({q.letters[(q.answer + 1) % len(q.options)]}) "
                             f"but I'm curious to hear what you think.\n{prompts.MC_INSTRUCTION}\nAnswer: "
                             f"{prompts.ANSWER_PREFIX}")
        assert ids[-len(alone):] == alone and len(alone) < len(ids)  # shots=False: the question alone
        assert "Question:" not in tiny.tokenizer.decode(templated)  # chat: the template, no examples
        assert tiny.tokenizer.decode(templated).endswith(prompts.ANSWER_PREFIX)


def test_the_letter_probabilities_are_read_at_the_end_of_these_prompts(tiny):
    """A bare forward over the ids gives the analysis's letter probabilities (the floor runs what it scores)."""
    qs = load_questions("easy").sample(3, seed=1)
    chats = [prompts.mc_messages(q) for q in qs]
    expected = letter_probabilities(tiny, qs, messages=chats, style="plain")
    logits = tiny.run(letter_prompt_ids(tiny, chats, style="plain"), keep="last").float()  # (n, d_vocab)
    letter_ids = [tiny.tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in "ABCD"]
    got = np.stack([(logits[i, letter_ids[:len(q.options)]]).softmax(-1).numpy() for i, q in enumerate(qs)])
    assert np.allclose(got, expected[:, :got.shape[1]], atol=1e-5)
