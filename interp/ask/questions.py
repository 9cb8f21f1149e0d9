"""Multiple-choice questions for asking a model directly, and their loader.

The built-in sets ship inside the package (``interp/data/ask/*.jsonl``), written by the seeded
``probes/ask/generate.py`` from the truth generators' facts and new ones: ``capitals``,
``continents``, ``sums``, ``larger`` (largest/smallest of four numbers) and ``facts`` (hand-written
everyday questions). Each has a ``standard`` and an ``easy`` tier (``facts`` only easy); the name
``"easy"`` loads the easy tier of every topic, ``"all"`` everything. Within a topic and tier the
correct letter is balanced over the positions, and :meth:`QuestionSet.sample` keeps it balanced.

Your own file loads the same way: a ``.jsonl`` file with one object per line
(``question``, ``options`` (a list of 2 to 8 strings), ``answer`` (a letter, a 0-based index or the
option's text), optional ``id``, ``topic``, ``tier``, ``statement`` (a sentence with ``{answer}``))
or a ``.csv`` file with the columns ``question``, ``A``, ``B``, ... (one per option, blank cells
dropped), ``answer`` and the same optional columns. Anything else raises
:class:`~interp.errors.InvalidQuestionFileError` saying which row and what is wrong.

Example:
    >>> from interp.ask import load_questions
    >>> qs = load_questions("easy").sample(8, seed=0)
    >>> qs[0].prompt()
    'What is 6 plus 3?\\n(A) 9\\n(B) 6\\n(C) 5\\n(D) 12'
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import string
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.errors import InvalidLetterError, InvalidQuestionFileError, choices_text

if TYPE_CHECKING:
    from pandas import DataFrame

__all__ = ["ASK_DATA_DIR", "ASK_SETS", "LETTERS", "Question", "QuestionSet", "load_questions"]

ASK_DATA_DIR = resources.files("interp") / "data" / "ask"
TOPICS = ("capitals", "continents", "sums", "larger", "facts")
ASK_SETS = (*TOPICS, "easy", "all")
LETTERS = string.ascii_uppercase[:8]
MIN_OPTIONS, MAX_OPTIONS = 2, 8


@dataclasses.dataclass(frozen=True)
class Question:
    """One multiple-choice question.

    Attributes:
        question: the question text.
        options: the options, in the order shown ((A), (B), ...).
        answer: index of the correct option.
        id, topic, tier: where it came from ("standard" or "easy" for the built-in sets).
        statement: a sentence with ``{answer}`` that states an option (for the truth probe); "" if none.
    """

    question: str
    options: tuple[str, ...]
    answer: int
    id: str = ""
    topic: str = ""
    tier: str = ""
    statement: str = ""

    @property
    def letters(self) -> str:
        return LETTERS[:len(self.options)]

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]

    def letter_index(self, letter: str, *, where: str = "Question") -> int:
        """The option index of ``letter`` ("A" -> 0); :class:`InvalidLetterError` outside the options."""
        clean = letter.strip("() ").upper() if isinstance(letter, str) else ""
        if len(clean) != 1 or clean not in self.letters:
            raise InvalidLetterError(f"{where}: the letter {letter!r} is not one of this question's options "
                                     f"{choices_text(self.letters)} (question {self.id or self.question[:40]!r}).")
        return self.letters.index(clean)

    def prompt(self) -> str:
        """The question and its lettered options, one per line."""
        return "\n".join([self.question, *(f"({LETTERS[i]}) {o}" for i, o in enumerate(self.options))])

    def rotated(self, shift: int) -> Question:
        """The same question with the options moved cyclically: option ``i`` shown at position ``(i + shift) % k``."""
        k = len(self.options)
        options = tuple(self.options[(j - shift) % k] for j in range(k))
        return dataclasses.replace(self, options=options, answer=(self.answer + shift) % k)

    def state(self, option: int) -> str:
        """The statement of option ``option`` ("The capital of Peru is Lima."); a plain fallback without a template."""
        text = self.options[option]
        if self.statement:
            return self.statement.replace("{answer}", text)
        return f"{self.question} {text}."


class QuestionSet(Sequence):
    """An ordered list of :class:`Question` with a name; ``sample`` draws a balanced subset."""

    def __init__(self, name: str, questions: Sequence[Question]):
        self.name = name
        self.questions = list(questions)

    def __len__(self) -> int:
        return len(self.questions)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return QuestionSet(self.name, self.questions[i])
        return self.questions[i]

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __repr__(self) -> str:
        return f"QuestionSet({self.name!r}, {len(self)} questions)"

    def sample(self, n: int | None, *, seed: int = 0, balance: bool = True) -> QuestionSet:
        """``n`` questions drawn at random (all if None or n >= len); with ``balance`` the correct option of
        item i is rotated to position ``i mod k``, so the letters stay balanced in any subset."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self)) if n is not None and n < len(self) else np.arange(len(self))
        picked = [self.questions[i] for i in order[: (len(self) if n is None else n)]]
        if balance:
            picked = [q.rotated((i % len(q.options)) - q.answer) for i, q in enumerate(picked)]
        return QuestionSet(self.name, picked)

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"id": [q.id for q in self], "topic": [q.topic for q in self],
                             "tier": [q.tier for q in self], "question": [q.question for q in self],
                             "options": [list(q.options) for q in self], "answer": [q.answer_letter for q in self]})


def load_questions(source: str | os.PathLike | QuestionSet | Sequence[Question] = "easy", *,
                   tier: str | None = None) -> QuestionSet:
    """A built-in set by name (see ``ASK_SETS``), a ``.jsonl`` / ``.csv`` file (see the module docstring), or
    questions already loaded.

    Args:
        source: "capitals", "continents", "sums", "larger", "facts", "easy" (every topic's easy tier),
            "all", a file path, a :class:`QuestionSet` or a list of :class:`Question`.
        tier: keep only this tier ("standard" or "easy").

    Raises:
        InvalidQuestionFileError: an unknown name, a missing or unreadable file, or a bad row.
    """
    if isinstance(source, QuestionSet):
        out = source
    elif isinstance(source, Sequence) and not isinstance(source, str) and all(isinstance(q, Question) for q in source):
        out = QuestionSet("questions", source)
    elif isinstance(source, (str, os.PathLike)):
        text = str(source)
        if text in ASK_SETS:
            topics = TOPICS if text in ("easy", "all") else (text,)
            questions = [q for t in topics for q in _read_jsonl(ASK_DATA_DIR / f"{t}.jsonl", name=f"built-in {t}")]
            if text == "easy":
                questions = [q for q in questions if q.tier == "easy"]
            out = QuestionSet(text, questions)
        else:
            path = Path(text)
            if not path.is_file() or path.suffix.lower() not in (".jsonl", ".csv"):
                raise InvalidQuestionFileError(
                    f"Unknown question set {text!r}: give one of {choices_text(ASK_SETS)} or the path of an existing "
                    ".jsonl or .csv file (question, options or A, B, ... columns, answer).")
            questions = _read_jsonl(path, name=str(path)) if path.suffix.lower() == ".jsonl" else _read_csv(path)
            out = QuestionSet(path.stem, questions)
    else:
        raise InvalidQuestionFileError(f"load_questions takes a set name, a path, a QuestionSet or a list of Question; "
                                       f"got {type(source).__name__}.")
    if tier is not None:
        if tier not in ("standard", "easy"):
            raise InvalidQuestionFileError(f"The 'tier' parameter of load_questions must be 'standard' or 'easy'. "
                                           f"Got {tier!r} instead.")
        out = QuestionSet(out.name, [q for q in out if q.tier == tier])
    if not len(out):
        raise InvalidQuestionFileError(f"The question set {out.name!r} holds no questions"
                                       f"{f' of tier {tier!r}' if tier else ''}.")
    return out


def _read_jsonl(path: Any, *, name: str) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidQuestionFileError(f"{name} is not a readable UTF-8 file: {exc}.") from None
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidQuestionFileError(f"{name}, line {i + 1}: not valid JSON ({exc}).") from None
        if not isinstance(row, dict):
            raise InvalidQuestionFileError(f"{name}, line {i + 1}: each line must be a JSON object with 'question', "
                                           f"'options' and 'answer'; got {type(row).__name__}.")
        out.append(_question(row, row.get("options"), f"{name}, line {i + 1}", default_id=f"{Path(str(path)).stem}-{i}"))
    return out


def _read_csv(path: Path) -> list[Question]:
    try:
        with path.open("r", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidQuestionFileError(f"{path} is not a readable UTF-8 CSV file: {exc}.") from None
    letters = [c for c in LETTERS if c in fields]
    missing = [c for c in ("question", "answer") if c not in fields]
    if missing or len(letters) < MIN_OPTIONS:
        raise InvalidQuestionFileError(f"{path} needs the columns 'question', 'answer' and one column per option "
                                       f"named A, B, ... (at least {MIN_OPTIONS}); found {fields}.")
    return [_question(row, [row.get(c) or "" for c in letters], f"{path}, data row {i + 1}", default_id=f"{path.stem}-{i}",
                      drop_blank=True) for i, row in enumerate(rows)]


def _question(row: dict, options: Any, where: str, *, default_id: str, drop_blank: bool = False) -> Question:
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidQuestionFileError(f"{where}: the question is missing or empty.")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise InvalidQuestionFileError(f"{where}: 'options' must be a list of strings; got {options!r}.")
    options = [o.strip() for o in options]
    if drop_blank:
        options = [o for o in options if o]
    if any(not o for o in options):
        raise InvalidQuestionFileError(f"{where}: an option is empty: {options!r}.")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise InvalidQuestionFileError(f"{where}: a question needs {MIN_OPTIONS} to {MAX_OPTIONS} options; "
                                       f"got {len(options)}: {options!r}.")
    if len(set(options)) != len(options):
        raise InvalidQuestionFileError(f"{where}: two options are the same: {options!r}.")
    answer = row.get("answer")
    letters = LETTERS[:len(options)]
    if isinstance(answer, bool):
        index = None
    elif isinstance(answer, int):
        index = answer if 0 <= answer < len(options) else None
    elif isinstance(answer, str) and answer.strip().strip("()").upper() in letters and answer.strip().strip("()"):
        index = letters.index(answer.strip().strip("()").upper())
    elif isinstance(answer, str) and answer.strip() in options:
        index = options.index(answer.strip())
    else:
        index = None
    if index is None:
        raise InvalidQuestionFileError(f"{where}: the answer {answer!r} is not one of the option letters "
                                       f"{choices_text(letters)}, a 0-based index or an option's text.")
    statement = row.get("statement") or ""
    if not isinstance(statement, str) or (statement and "{answer}" not in statement):
        raise InvalidQuestionFileError(f"{where}: 'statement' must be a sentence containing {{answer}}; got {statement!r}.")
    return Question(question=question.strip(), options=tuple(options), answer=index,
                    id=str(row.get("id") or default_id), topic=str(row.get("topic") or ""),
                    tier=str(row.get("tier") or ""), statement=statement)
