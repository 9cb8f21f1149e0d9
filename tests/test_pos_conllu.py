"""CoNLL-U treebanks as POS probe input: the reader (multiword tokens, empty nodes, malformed files), spaCy on a
given tokenisation, gold-tagged pos_probe with spaCy's reference accuracy, eval_texts, the CLI and a batch spec."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from interp.errors import InvalidParameterError, InvalidTextFileError, InvalidTreebankError
from interp.probing import pos_probe
from interp.probing.conllu import read_conllu
from interp.probing.pos import load_corpus, tag_sentences, tag_words
from interp.results import Result

HEADER = "# sent_id = {i}\n"


def _line(i, form, upos, head="0", misc="_"):
    return f"{i}\t{form}\t_\t{upos}\t_\t_\t{head}\tdep\t_\t{misc}"


def _treebank(records, *, relabel=None, text=True) -> str:
    """CoNLL-U of tagged records (words found in their sentences in order), gold = the tags, ``relabel`` applied."""
    relabel = relabel or {}
    blocks = []
    for n, r in enumerate(records):
        lines = [f"# sent_id = {n}"] + ([f"# text = {r['sentence']}"] if text else [])
        cursor = 0
        for i, (word, tag) in enumerate(zip(r["words"], r["tags"]), start=1):
            start = r["sentence"].index(word, cursor)
            cursor = start + len(word)
            glued = cursor < len(r["sentence"]) and not r["sentence"][cursor].isspace()
            lines.append(_line(i, word, relabel.get(tag, tag), misc="SpaceAfter=No" if glued else "_"))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


@pytest.fixture()
def write(tmp_path):
    def write(text: str, name: str = "tb.conllu"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


# ----------------------------------------------------------------------------- the reader
def test_multiword_tokens_empty_nodes_and_spaces(write):
    path = write("# text = I don't know it.\n"
                 + "\n".join([_line(1, "I", "PRON", "3"), "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
                              _line(2, "do", "AUX", "4"), _line(3, "n't", "PART", "4"), _line(4, "know", "VERB"),
                              "4.1\tknows\tknow\tVERB\t_\t_\t_\t_\t_\t_",
                              _line(5, "it", "PRON", "4", "SpaceAfter=No"), _line(6, ".", "PUNCT", "4")])
                 + "\n\n"
                 # no '# text': rebuilt from the forms and SpaceAfter=No; a token spelled otherwise than its words
                 + "\n".join(["1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_", _line(1, "de", "ADP", "3"), _line(2, "le", "DET", "1"),
                              _line(3, "pain", "NOUN", "0", "SpaceAfter=No"), _line(4, "!", "PUNCT", "3")])
                 + "\n\n")
    first, second = read_conllu(path)
    assert first == {"sentence": "I don't know it.", "words": ["I", "do", "n't", "know", "it", "."],
                     "tags": ["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"],
                     "spans": [[0, 1], [2, 4], [4, 7], [8, 12], [13, 15], [15, 16]]}
    # 'du' is not spelled by 'de' + 'le': one word, tagged with its head word's tag ('de' heads outside the range)
    assert second == {"sentence": "du pain!", "words": ["du", "pain", "!"], "tags": ["ADP", "NOUN", "PUNCT"],
                      "spans": [[0, 2], [3, 7], [7, 8]]}
    assert read_conllu(path, max_sentences=1) == [first]


def test_a_text_comment_that_does_not_match_is_rebuilt(write):
    path = write("# text = Something else entirely.\n" + "\n".join(
        [_line(1, "Dogs", "NOUN", "2"), _line(2, "bark", "VERB", "0", "SpaceAfter=No"), _line(3, ".", "PUNCT", "2")])
        + "\n\n")
    (record,) = read_conllu(path)
    assert record["sentence"] == "Dogs bark." and record["words"] == ["Dogs", "bark", "."]


@pytest.mark.parametrize("content, match", [
    (_line(1, "Dogs", "_") + "\n\n", r"sentence 1: word 1 \('Dogs'\) has no UPOS tag"),
    (_line(1, "Dogs", "NOUNS") + "\n\n", "UPOS 'NOUNS'"),
    ("1\tDogs\tdog\tNOUN\n\n", "columns"),
    ("this is not conllu\nat all\n\n", "refused a line|columns"),
    ("1-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n" + _line(1, "do", "AUX") + "\n\n", "covers words"),
    ("# only a comment\n\n", "holds no CoNLL-U sentence"),
])
def test_malformed_treebanks_raise_a_named_error(write, content, match):
    path = write(content)
    with pytest.raises(InvalidTreebankError, match=match) as caught:
        read_conllu(path)
    assert isinstance(caught.value, InvalidTextFileError)  # also caught as a bad text file


def test_unreadable_files(tmp_path):
    binary = tmp_path / "b.conllu"
    binary.write_bytes(b"\x00\x01" * 100)
    with pytest.raises(InvalidTreebankError, match="binary"):
        read_conllu(binary)
    latin = tmp_path / "l.conllu"
    latin.write_bytes(_line(1, "caf\xe9", "NOUN").encode("latin-1"))
    with pytest.raises(InvalidTreebankError, match="not UTF-8"):
        read_conllu(latin)
    with pytest.raises(FileNotFoundError):
        read_conllu(tmp_path / "missing.conllu")


def test_spacy_on_a_given_tokenisation():
    records = tag_sentences(["The cat sat on 3 mats.", "I don't think so!"])
    assert tag_words([r["words"] for r in records], [r["sentence"] for r in records]) == [r["tags"] for r in records]
    # its own words, not spaCy's: "cannot" stays one word (spaCy alone splits it into "can" "not")
    (tags,) = tag_words([["You", "cannot", "go", "."]], ["You cannot go."])
    assert len(tags) == 4 and tags[0] == "PRON" and tags[-1] == "PUNCT"


# ----------------------------------------------------------------------------- pos_probe on a treebank
@pytest.fixture(scope="module")
def records():
    return load_corpus(max_sentences=40)


def test_gold_tags_and_spacys_reference_accuracy(tiny_models, records, write):
    """Gold = spaCy's tags with every DET called PRON: spaCy's accuracy on the held-out words is then exactly the
    share of held-out words that are not DET, and the probes learn the treebank's tags (PRON, never DET)."""
    path = write(_treebank(records, relabel={"DET": "PRON"}))
    r = pos_probe(tiny_models["tiny-gpt2"], path, layers=[1], random_baseline=False, progress=False)
    assert r.tag_source == "gold" and r.corpus == str(path) and r.n_sentences == 40
    spacy_tags = np.asarray([t for rec in records for t in rec["tags"]])
    held_out = spacy_tags[r.test_mask]
    assert r.spacy_accuracy == pytest.approx(float(np.mean(held_out != "DET")))
    assert 0 < r.spacy_accuracy < 1 and "DET" not in r.classes and "PRON" in r.classes
    assert "against gold" in r.summary() and f"spaCy {r.spacy_accuracy:.3f} on the same words" in r.summary()
    assert Result.load(r.save(write("", "r.json"))) == r
    assert r.plot_confusion().layout.yaxis.title.text == "gold tag"


def test_eval_texts_equal_the_held_out_split_they_repeat(tiny_models, records, write):
    """Scoring the probes on the very sentences of the held-out split gives the held-out accuracy at every layer."""
    model = tiny_models["tiny-gpt2"]
    base = pos_probe(model, [r["sentence"] for r in records], layers="all", random_baseline=False, progress=False)
    from interp.activations import collect

    acts = collect(model, base_sentences := [r["sentence"] for r in records], layers=[0], position="word_last",
                   words=[r["words"] for r in records], progress=False)
    held = sorted({int(i) for i in acts.text_index[base.test_mask]})
    again = pos_probe(model, base_sentences, eval_texts=[base_sentences[i] for i in held], layers="all",
                      random_baseline=False, progress=False)
    np.testing.assert_allclose(again.eval_accuracy, base.accuracy)
    assert again.eval_n_words == base.n_test and again.eval_tag_source == "spacy" and again.eval_spacy_accuracy is None
    assert again.eval_at_best == pytest.approx(float(base.accuracy[base.layers.index(base.best_layer)]))
    assert list(again.to_frame().columns)[-1] == "eval_accuracy" and "Not trained on" in again.summary()
    # a treebank as the evaluation set: against its gold, with spaCy's accuracy beside it
    gold = pos_probe(model, corpus="grammar", max_sentences=40, layers=[2], progress=False, random_baseline=False,
                     eval_texts=write(_treebank(records[:10], relabel={"NOUN": "PROPN"})))
    spacy_tags = np.asarray([t for rec in records[:10] for t in rec["tags"]])
    assert gold.eval_tag_source == "gold" and gold.eval_spacy_accuracy == pytest.approx(np.mean(spacy_tags != "NOUN"))
    assert gold.eval_accuracy.shape == (2,) and gold.corpus.startswith("built-in grammar")


def test_bad_corpus_name(tiny_models):
    with pytest.raises(InvalidParameterError, match="'natural' or 'grammar'"):
        pos_probe(tiny_models["tiny-gpt2"], corpus="wiki")


# ----------------------------------------------------------------------------- the CLI and a batch spec
def test_cli_trains_on_a_treebank_and_scores_another(tiny_models, records, write, tmp_path):
    from interp.cli import app

    train = write(_treebank(records), "train.conllu")
    test = write(_treebank(records[:12], relabel={"DET": "PRON"}), "test.conllu")
    result = CliRunner().invoke(app, ["probe", "pos", "-m", "tiny-gpt2", "--layers", "1", "--text", str(train),
                                      "--eval", str(test), "--out", str(tmp_path / "o"), "--no-random-baseline"])
    assert result.exit_code == 0, result.output
    saved = Result.load(tmp_path / "o" / "result.json")
    assert saved.tag_source == "gold" and saved.spacy_accuracy == 1.0 and saved.eval_corpus == str(test)
    assert "spaCy vs gold on --eval (reference)" in result.stdout
    bad = write(_line(1, "Dogs", "NOUNS") + "\n\n", "bad.conllu")
    failed = CliRunner().invoke(app, ["probe", "pos", "-m", "tiny-gpt2", "--text", str(bad), "--out", str(tmp_path)])
    assert failed.exit_code == 1 and "InvalidTreebankError" in failed.stderr and "Traceback" not in failed.stderr


def test_batch_spec_with_a_treebank_equals_the_library(tiny_models, records, write, tmp_path):
    from interp.batch import run_spec

    path = write(_treebank(records, relabel={"DET": "PRON"}))
    spec = {"task": "pos", "models": ["tiny-gpt2"], "data": {"corpus": str(path)}, "probe": {"layers": [2]}}
    (got,) = run_spec(spec, out=tmp_path / "run").results()
    expected = pos_probe(tiny_models["tiny-gpt2"], path, layers=[2], random_baseline=False, progress=False)
    assert got == expected and got.tag_source == "gold" and got.spacy_accuracy is not None
