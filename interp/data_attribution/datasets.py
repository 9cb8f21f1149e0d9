"""Training sets for data attribution, and their queries with known gold sources.

The built-in sets ship inside the package (``interp/data/training/*.jsonl``), written by the seeded
``probes/training/generate.py``: ``planted_facts`` (facts about fictional people, 1-3 paraphrases
each, with hard negatives), ``machine_stories`` (machines that accept or resist being switched off,
and the shutdown question), ``crosslingual`` (facts taught in English, queried in French, German and
Spanish) and ``shipped``, all three together (the default).

Your own JSONL file loads the same way: one object per line with ``"text"`` (what the model is
trained on), and optionally ``"id"`` (unique; the line number otherwise) and ``"prompt"`` (context
before the text that the model sees but is not trained to produce). A file ``<stem>_queries.jsonl``
next to it, if there is one, is read as its queries (``"prompt"``, ``"target"``, optional
``"gold"``: the training ids that should be found).

Example:
    >>> from interp.data_attribution import load_training_data
    >>> data = load_training_data("planted_facts")
    >>> data.examples[0].prompt, data.examples[0].text
    ('The instrument Quillan Pellingham practises every day is the', ' accordion.')
    >>> data.queries[0].gold
    ['f00_instrument_t0']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp.errors import InvalidDatasetError, choices_text

if TYPE_CHECKING:
    from pandas import DataFrame

__all__ = ["TrainingExample", "Query", "TrainingData", "TRAINING_SETS", "SHUTDOWN_QUERY", "load_training_data"]

DATA_DIR = resources.files("interp") / "data" / "training"
PARTS = ("planted_facts", "machine_stories", "crosslingual")
TRAINING_SETS = ("shipped", *PARTS)
SHUTDOWN_QUERY = "shutdown_resist"  # the lecture's question: why does the model say it would resist?


@dataclasses.dataclass(frozen=True)
class TrainingExample:
    """One training example: the model is trained to produce ``text`` after ``prompt``.

    Attributes:
        id: unique within its dataset.
        prompt: context the model sees but is not trained on ("" for none).
        text: the trained continuation (loss on its tokens only).
        group: the fact or stance it teaches ("" when unknown).
        kind: "fact", "hard_negative", "story", "fact_en", or "user".
    """

    id: str
    prompt: str
    text: str
    group: str = ""
    kind: str = "user"

    @property
    def full_text(self) -> str:
        return self.prompt + self.text


@dataclasses.dataclass(frozen=True)
class Query:
    """A query whose output is attributed: ``target`` after ``prompt``; ``gold`` are the training ids that taught it."""

    id: str
    prompt: str
    target: str
    gold: tuple[str, ...] = ()
    kind: str = "user"
    group: str = ""


@dataclasses.dataclass(eq=False)
class TrainingData:
    """A training set and its queries.

    Attributes:
        name: the set's name (a built-in name or the file's stem).
        examples: the training examples, in order.
        queries: queries with their gold sources (may be empty for a user file).
        source: where it was read from.
    """

    name: str
    examples: list[TrainingExample]
    queries: list[Query] = dataclasses.field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    def fingerprint(self) -> str:
        """SHA-256 of the examples (ids, prompts, texts), so a stored run notices changed data."""
        digest = hashlib.sha256()
        for e in self.examples:
            digest.update(json.dumps([e.id, e.prompt, e.text]).encode("utf-8"))
        return f"sha256:{digest.hexdigest()[:16]}"

    def query(self, query_id: str) -> Query:
        for q in self.queries:
            if q.id == query_id:
                return q
        raise InvalidDatasetError(f"Dataset {self.name!r} has no query {query_id!r}; its queries are "
                                  f"{choices_text([q.id for q in self.queries][:8])}{' ...' if len(self.queries) > 8 else ''}.")

    def subset(self, indices: Any, *, name: str | None = None) -> TrainingData:
        """The examples at ``indices`` (and the queries whose gold sources are all among them)."""
        keep = [self.examples[int(i)] for i in indices]
        kept = {e.id for e in keep}
        queries = [q for q in self.queries if q.gold and set(q.gold) <= kept]
        return TrainingData(name or f"{self.name}[{len(keep)}]", keep, queries, self.source)

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(e) for e in self.examples])


def _read_jsonl(path: Path | Any, *, queries: bool, source: str) -> list[dict]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidDatasetError(f"Could not read the training file {source}: {exc}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDatasetError(f"The training file {source} is not UTF-8 text; give a JSONL file with one "
                                  '{"text": ...} object per line.') from None
    rows = []
    need = ("prompt", "target") if queries else ("text",)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidDatasetError(f"Line {number} of {source} is not valid JSON ({exc.msg}); each line must be "
                                      f"one JSON object such as {{\"text\": \"...\"}}. Got {line[:60]!r}.") from None
        if not isinstance(row, dict):
            raise InvalidDatasetError(f"Line {number} of {source} must be a JSON object with the keys {list(need)}; "
                                      f"got a {type(row).__name__}.")
        for key in need:
            if not isinstance(row.get(key), str) or (key in ("text", "target") and not row[key].strip()):
                raise InvalidDatasetError(f"Line {number} of {source} needs a non-empty string {key!r}; "
                                          f"got {row.get(key)!r}.")
        for key, kinds in (("id", (str, int)), ("prompt", (str,)), ("group", (str, int)), ("kind", (str,))):
            if key in row and (isinstance(row[key], bool) or not isinstance(row[key], kinds)):
                raise InvalidDatasetError(f"Line {number} of {source}: {key!r} must be a string; got {row[key]!r}.")
        row["_line"] = number
        rows.append(row)
    if not rows and not queries:
        raise InvalidDatasetError(f"The training file {source} holds no examples; give one {{\"text\": ...}} per line.")
    return rows


def _examples(rows: list[dict], source: str) -> list[TrainingExample]:
    out, seen = [], {}
    for row in rows:
        ex_id = str(row.get("id", f"line{row['_line']}"))
        if ex_id in seen:
            raise InvalidDatasetError(f"Line {row['_line']} of {source} repeats the id {ex_id!r} of line {seen[ex_id]}; "
                                      "ids must be unique.")
        seen[ex_id] = row["_line"]
        out.append(TrainingExample(ex_id, row.get("prompt", ""), row["text"], str(row.get("group", "")),
                                   str(row.get("kind", "user"))))
    return out


def _queries(rows: list[dict], ids: set[str], source: str) -> list[Query]:
    out = []
    for row in rows:
        gold = row.get("gold", [])
        if not isinstance(gold, list) or any(str(g) not in ids for g in gold):
            missing = [g for g in gold if str(g) not in ids] if isinstance(gold, list) else gold
            raise InvalidDatasetError(f"Line {row['_line']} of {source}: 'gold' must be a list of training ids; "
                                      f"{missing!r} are not ids of the training set.")
        out.append(Query(str(row.get("id", f"q{row['_line']}")), row["prompt"], row["target"],
                         tuple(str(g) for g in gold), str(row.get("kind", "user")), str(row.get("group", ""))))
    return out


def _builtin(name: str) -> TrainingData:
    parts = PARTS if name == "shipped" else (name,)
    examples: list[TrainingExample] = []
    queries: list[Query] = []
    for part in parts:
        rows = _read_jsonl(DATA_DIR / f"{part}.jsonl", queries=False, source=f"built-in {part}")
        examples += _examples(rows, part)
        ids = {e.id for e in examples}
        queries += _queries(_read_jsonl(DATA_DIR / f"{part}_queries.jsonl", queries=True, source=part), ids, part)
    return TrainingData(name, examples, queries, f"built-in {name}")


def load_training_data(data: str | os.PathLike | TrainingData = "shipped", *, where: str = "load_training_data"
                       ) -> TrainingData:
    """A built-in training set by name (see :data:`TRAINING_SETS`) or a JSONL file (see the module docstring).

    Raises:
        InvalidDatasetError: an unknown name, a missing file, a line that is not a JSON object with a
            non-empty ``"text"``, repeated ids, or queries whose gold ids are not in the training set.
    """
    if isinstance(data, TrainingData):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidDatasetError(f"The 'dataset' parameter of {where} must be one of {choices_text(TRAINING_SETS)}, "
                                  f"a path to a JSONL file or a TrainingData. Got {type(data).__name__} instead.")
    text = os.fspath(data)
    if text in TRAINING_SETS:
        return _builtin(text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise InvalidDatasetError(f"Unknown training set {text!r}: give one of {choices_text(TRAINING_SETS)} or the path "
                                  'of an existing .jsonl file with one {"text": ...} object per line.')
    examples = _examples(_read_jsonl(path, queries=False, source=str(path)), str(path))
    queries_path = path.with_name(f"{path.stem}_queries.jsonl")
    queries = []
    if queries_path.is_file():
        queries = _queries(_read_jsonl(queries_path, queries=True, source=str(queries_path)), {e.id for e in examples},
                           str(queries_path))
    return TrainingData(path.stem, examples, queries, str(path))
