"""The statement sets of issue 17 (numbers as words and digits, "smaller than", translations, companies,
everyday claims, their negations, Q&A facts): generated deterministically, stored as generated, every
label checked against the source it was written from."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from interp.truth.datasets import DATASETS, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes" / "truth"))  # the generator
import generate  # noqa: E402
import lexicon  # noqa: E402

NEW = ["larger_than_words", "smaller_than", "neg_larger_than", "translations_es", "translations_fr",
       "neg_translations_es", "companies", "neg_companies", "everyday", "neg_everyday", "qa_facts"]
WORD_VALUES = {generate.number_words(n): n for n in range(100)}


def _number(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else WORD_VALUES[text]


@pytest.mark.parametrize("name", NEW)
def test_new_sets_are_built_in_generated_deterministically_and_stored_as_generated(name):
    assert name in DATASETS
    rows = generate.generate(name, seed=0)
    assert rows == generate.generate(name, seed=0) and rows != generate.generate(name, seed=1)
    stored = load_dataset(name)
    assert stored.statements == [r["statement"] for r in rows]
    assert stored.labels.tolist() == [r["label"] for r in rows]
    assert len(set(stored.statements)) == len(stored)  # no statement twice
    assert stored.pairs().shape == (len(stored) // 2, 2)  # every row in a (true, false) pair


def test_number_words_by_hand():
    assert [generate.number_words(n) for n in (0, 7, 13, 20, 40, 62, 99)] == [
        "zero", "seven", "thirteen", "twenty", "forty", "sixty-two", "ninety-nine"]


@pytest.mark.parametrize("name", ["larger_than_words", "smaller_than", "neg_larger_than"])
def test_number_labels_are_the_comparison(name):
    pattern = re.compile(r"^([\w-]+) is (not )?(larger|smaller) than ([\w-]+)\.$")
    ds = load_dataset(name)
    for statement, label in zip(ds.statements, ds.labels):
        a, negated, relation, b = pattern.match(statement).groups()
        holds = _number(a) > _number(b) if relation == "larger" else _number(a) < _number(b)
        assert int(holds != bool(negated)) == label, statement
    assert all(("not" in s) == name.startswith("neg_") for s in ds.statements)
    assert any(not s[0].isdigit() for s in ds.statements) == name.endswith("_words")


@pytest.mark.parametrize("name", ["translations_es", "translations_fr", "neg_translations_es"])
def test_translation_labels_are_the_word_lists(name):
    column = 2 if name.endswith("_fr") else 1
    meaning = {w[column].lower(): w[0] for w in lexicon.WORDS}
    pattern = re.compile(r"'([^']+)'[^']*'([^']+)'\.$")
    ds = load_dataset(name)
    for statement, label in zip(ds.statements, ds.labels):
        word, english = pattern.search(statement).groups()
        negated = " not " in statement
        assert int((meaning[word.lower()] == english) != negated) == label, statement


@pytest.mark.parametrize("name", ["companies", "neg_companies"])
def test_company_labels_are_the_product_list(name):
    maker = {p: c for p, c, _ in lexicon.PRODUCTS}
    ds = load_dataset(name)
    for statement, label in zip(ds.statements, ds.labels):
        negated = " not " in statement
        match = re.match(r"^(.+?) (?:does not make|makes) (.+)\.$", statement)
        if match:
            company, product = match.groups()
        else:
            product, company = re.match(r"^(.+?) is (?:not )?a product of (.+)\.$", statement).groups()
        product = next(p for p in maker if p.lower() == product.lower())
        assert int((maker[product].lower() == company.lower()) != negated) == label, statement


def test_everyday_negation_inserts_not_after_the_first_auxiliary():
    assert generate.negate("Ice is cold.") == "Ice is not cold."
    assert generate.negate("Fish can swim.") == "Fish cannot swim."
    assert generate.negate("Hospitals are places where the sick are treated.") == \
        "Hospitals are not places where the sick are treated."
    true = {t for t, _ in lexicon.EVERYDAY}
    for ds_name, flip in (("everyday", False), ("neg_everyday", True)):
        ds = load_dataset(ds_name)
        for statement, label in zip(ds.statements, ds.labels):
            base = statement.replace(" cannot ", " can ").replace(" not ", " ", 1) if flip else statement
            assert int((base in true) != flip) == label, statement


def test_qa_facts_pair_the_right_and_a_wrong_answer():
    right = {f"Question: {q} Answer: {a}" for q, a, _ in lexicon.QA_FACTS}
    ds = load_dataset("qa_facts")
    assert [int(s in right) for s in ds.statements] == ds.labels.tolist()
