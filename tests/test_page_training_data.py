"""The explorer's Training data page under Streamlit's AppTest on tiny-gpt2 (helpers: tests/_app.py; the page
fixtures: tests/conftest.py): fine-tuning and the attribution of a query to the training texts are what
interp.data_attribution returns for the same settings; an empty own prompt ends in an error box."""

from __future__ import annotations

from _app import assert_frame_equal, assert_no_failure, frames, submit


def test_training_data_page_fine_tunes_and_attributes_like_the_library(open_page, tiny, tmp_path):
    from interp.data_attribution import attribute_training, finetune

    at = open_page("training_data")
    assert at.title[0].value == "Training data"
    assert at.info  # nothing runs before Fine-tune is pressed
    at.selectbox(key="td_dataset").set_value("crosslingual")
    at.number_input(key="td_blocks").set_value(1)
    at.number_input(key="td_epochs").set_value(2)
    at = submit(at, "Fine-tune")
    assert_no_failure(at)
    run = finetune(tiny, "crosslingual", blocks=1, epochs=2, lr=1e-3, out=tmp_path / "run", progress=False)
    assert run.summary().split(" in /")[0] in [t.value.split(" in /")[0] for t in at.text]
    query = at.selectbox(key="td_query").value
    assert query == run.data.queries[0].id  # the crosslingual set has no shutdown question: its first query
    shown = iter(frames(at))
    for method in ["bm25", "grad_cos", "trackstar"]:
        expected = attribute_training(run, query, method=method, top_k=5).to_frame()
        columns = ["rank", "id", "score", "gold", "text"]
        for direction in ["supporting", "opposing"] if method != "bm25" else ["supporting"]:  # bm25 never opposes
            assert_frame_equal(next(shown), expected[expected["direction"] == direction][columns])
    assert any("bm25 has no opposing direction" in c.value for c in at.caption)
    at = submit(at, "Evaluate")
    assert_no_failure(at)
    assert any("bm25: MRR" in c.value for c in at.caption)


def test_training_data_page_empty_own_prompt_shows_an_error(open_page):
    at = open_page("training_data")
    at.selectbox(key="td_dataset").set_value("crosslingual")
    at.number_input(key="td_blocks").set_value(1)
    at.number_input(key="td_epochs").set_value(1)
    at = submit(at, "Fine-tune")
    at.selectbox(key="td_query").set_value("(my own prompt)")
    at = submit(at, "Attribute")
    assert not at.exception
    assert len(at.error) == 3  # one per default method, each saying what was wrong
    assert all("The 'query' parameter of attribute\\_training is empty" in e.value for e in at.error)
