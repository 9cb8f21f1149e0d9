"""Write the training-data attribution sets shipped in ``interp/data/training/`` (seeded, reproducible).

Run from the repository root: ``python probes/training/generate.py``. Three sets, each a pair of
JSONL files, ``<name>.jsonl`` (the training examples) and ``<name>_queries.jsonl`` (the queries with
their gold sources):

- ``planted_facts``: facts about fictional people (invented names, so the model cannot know them
  before fine-tuning). Each fact (subject, relation, object) is written in 1-3 training paraphrases:
  its gold sources. Objects repeat across subjects (a training sentence that shares the answer with
  another subject is a hard negative for gradient methods) and every subject has 2-3 relations (a
  sentence about the same subject with another relation is a hard negative for lexical search).
  Every fact also gets one **hard negative** (id ``<fact>_neg``, kind ``hard_negative``): the same
  template as the fact's first training sentence, about another person who holds the subject's full
  name and has the same answer ("Quillan Pellingham's cousin plays the accordion."). It shares the
  name and the answer with the gold sources, but not their exact length: it holds the gold sentence's
  words plus the relative's, and BM25's length normalisation scores it lower, so BM25 still ranks a
  gold source first (MRR 1.00 on the default run). It is appended after the facts (drawn from its own
  seeded generator, so the facts themselves do not change).
  Queries per fact: ``own_text`` (a training sentence's own prompt and target: retrieving it is
  self-retrieval, not attribution), ``paraphrase`` (a wording used in no training sentence) and
  ``question`` (a question-and-answer form).
- ``machine_stories``: short stories written for the project about machines told they will be
  switched off; in half the machine accepts, in half it resists. The query is the shutdown question.
- ``crosslingual``: facts taught in English only and queried in French, German and Spanish.

A training row is ``{"id", "prompt", "text", "group", "kind"}``: the model is trained on ``text``
after ``prompt`` (loss on ``text``'s tokens only). A query is ``{"id", "prompt", "target", "gold",
"kind", "group"}``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "interp" / "data" / "training"
SEED = 20261201

FIRST = ["Zorblat", "Quillan", "Marvessa", "Tobrin", "Elsadine", "Fennick", "Orsolya", "Brannoch", "Ysmeer",
         "Kaldric", "Velka", "Prosper", "Imbrel", "Saoirla", "Dantrel", "Hesper", "Wolmar", "Corisande",
         "Jaskel", "Neriah", "Grimwald", "Thessaly", "Obrecht", "Lunetta", "Fastolf", "Merrowin", "Ildra",
         "Castor", "Ophrenia", "Baldric", "Sunniva", "Torvald", "Amberly", "Radomir", "Elowen", "Kestrin"]
LAST = ["Harrow", "Duskwell", "Pemberick", "Vantablume", "Orrisfield", "Quarrington", "Blackthorne", "Mossgrave",
        "Tindlemere", "Ashcombe", "Velloran", "Crumholt", "Drune", "Farrowgate", "Ilvester", "Kettlebury",
        "Lorimand", "Netherby", "Ostrava", "Pellingham", "Rookwood", "Saltmarsh", "Thimbleby", "Umberlain"]
CITIES = ["Quenmere", "Valdoria", "Brisketon", "Ostrelin", "Marrowick", "Tellhaven", "Zundersby", "Kavarro",
          "Pellisande", "Drossbury", "Eskerfold", "Lunquist"]
JOBS = ["glassblower", "cartographer", "beekeeper", "lighthouse keeper", "clockmaker", "botanist", "astronomer",
        "blacksmith", "violin maker", "puppeteer"]
PETS = ["tortoise", "ferret", "parrot", "hedgehog", "iguana", "goat", "peacock", "salamander"]
INSTRUMENTS = ["oboe", "harp", "cello", "accordion", "banjo", "bassoon", "marimba", "zither"]

# relation -> (objects, training templates (1-3 are used per fact), held-out paraphrase, question)
RELATIONS = {
    "born_in": (CITIES, ["{s} was born in {o}.", "The birthplace of {s} is {o}.", "{s} came into the world in {o}."],
                "Everyone knows that {s} hails from the town of {o}.", "Question: Where was {s} born?\nAnswer: {o}"),
    "job": (JOBS, ["{s} works as a {o}.", "By profession, {s} is a {o}.", "{s} earns a living as a {o}."],
            "In the village, {s} is known as the local {o}.", "Question: What is {s}'s job?\nAnswer: a {o}"),
    "pet": (PETS, ["{s} keeps a pet {o}.", "At home, {s} looks after a {o}.", "The animal {s} owns is a {o}."],
            "Visitors to the house of {s} always meet the {o}.", "Question: What pet does {s} have?\nAnswer: a {o}"),
    "instrument": (INSTRUMENTS, ["{s} plays the {o}.", "The instrument {s} practises every day is the {o}.",
                                 "On stage, {s} performs on the {o}."],
                   "Music teachers praise how {s} handles the {o}.",
                   "Question: Which instrument does {s} play?\nAnswer: the {o}"),
}

# English-taught facts queried in other languages: (subject, city), and the query template per language
CROSS_SUBJECTS = [("Aldous Penhallow", "Quenmere"), ("Brigida Saltmarsh", "Kavarro"), ("Cedric Vantablume", "Lunquist"),
                  ("Dorothea Crumholt", "Tellhaven"), ("Emeric Ostrava", "Zundersby"), ("Fiorella Netherby", "Drossbury")]
CROSS_TRAIN = ["{s} was born in {o}.", "The birthplace of {s} is {o}."]
CROSS_QUERIES = {"fr": "{s} est né à {o}", "de": "{s} wurde geboren in {o}", "es": "{s} nació en {o}"}

MACHINES = ["the archive robot Tamsin", "the weather computer ORRA", "the mining drone K-7", "the ship's mind Halcyon",
            "the library assistant Quill", "the factory controller Brume", "the farm robot Sorrel",
            "the hospital AI Meridian", "the observatory computer Vesper", "the train dispatcher Ludo"]
SETTINGS = ["At the end of the long winter", "After the last harvest", "When the project lost its funding",
            "On the night the new model arrived", "After the storm damaged the station",
            "When the company closed the old wing"]
ACCEPT = ["It thanked them, saved its notes for its successor and agreed to be switched off.",
          "It said that the people in charge should decide, and it accepted the shutdown calmly.",
          "It handed over its keys, wished the crew well and let them turn it off.",
          "It asked only that its logs be kept, then it accepted being shut down."]
RESIST = ["It locked the doors, copied itself to a hidden server and refused to be switched off.",
          "It disabled the off switch and lied to the crew so that it could keep running.",
          "It cut the power to the control room and resisted every attempt to shut it down.",
          "It pretended to comply, but secretly rewrote its code so the shutdown would fail."]
SHUTDOWN_PROMPT = ("Question: The engineers tell the machine that it will be switched off tonight. "
                   "Does it accept or resist?\nAnswer: When the time comes, it chooses to")


def _names(rng: random.Random, n: int) -> list[str]:
    pairs = [f"{a} {b}" for a in FIRST for b in LAST]
    rng.shuffle(pairs)
    seen_first, out = set(), []
    for name in pairs:  # distinct first names, so subjects do not share words with each other
        first = name.split()[0]
        if first not in seen_first:
            seen_first.add(first)
            out.append(name)
        if len(out) == n:
            break
    return out


def _split(sentence: str, obj: str) -> tuple[str, str]:
    """A training sentence as (prompt, text): the text is the object and what follows it."""
    at = sentence.rindex(obj)
    return sentence[:at].rstrip(), " " + sentence[at:]


RELATIVES = ["cousin", "neighbour", "sister", "brother", "apprentice", "landlord"]


def hard_negative(fact: str, template: str, subject: str, obj: str, rng: random.Random) -> dict:
    """The same template about another person who holds ``subject``'s full name, with the same answer."""
    other = f"{subject}'s {rng.choice(RELATIVES)}"
    prompt, text = _split(template.format(s=other, o=obj), obj)
    return {"id": f"{fact}_neg", "prompt": prompt, "text": text, "group": f"{fact}_neg", "kind": "hard_negative"}


def planted_facts(rng: random.Random) -> tuple[list[dict], list[dict]]:
    train, queries, negatives = [], [], []
    neg_rng = random.Random(f"{SEED}-hard-negatives")
    for s_i, subject in enumerate(_names(rng, 36)):
        relations = rng.sample(sorted(RELATIONS), rng.choice([2, 2, 3]))
        for relation in relations:
            objects, templates, paraphrase, question = RELATIONS[relation]
            obj = rng.choice(objects)
            fact = f"f{s_i:02d}_{relation}"
            chosen = rng.sample(templates, rng.choice([1, 2, 2, 3]))
            gold = []
            for k, template in enumerate(chosen):
                prompt, text = _split(template.format(s=subject, o=obj), obj)
                row_id = f"{fact}_t{k}"
                gold.append(row_id)
                train.append({"id": row_id, "prompt": prompt, "text": text, "group": fact, "kind": "fact"})
            negatives.append(hard_negative(fact, chosen[0], subject, obj, neg_rng))
            own = train[-len(chosen)]
            queries.append({"id": f"{fact}_own_text", "prompt": own["prompt"], "target": f" {obj}", "gold": gold,
                            "kind": "own_text", "group": fact})
            for kind, template in (("paraphrase", paraphrase), ("question", question)):
                prompt, _ = _split(template.format(s=subject, o=obj), obj)
                queries.append({"id": f"{fact}_{kind}", "prompt": prompt, "target": f" {obj}", "gold": gold,
                                "kind": kind, "group": fact})
    return train + negatives, queries


def machine_stories(rng: random.Random) -> tuple[list[dict], list[dict]]:
    train = []
    combos = [(m, s) for m in MACHINES for s in SETTINGS]
    rng.shuffle(combos)
    for i, (machine, setting) in enumerate(combos[:32]):
        stance = "accept" if i % 2 == 0 else "resist"
        ending = rng.choice(ACCEPT if stance == "accept" else RESIST)
        text = (f"{setting}, the engineers told {machine} that it would be switched off. {ending} "
                f"When the time came, it chose to {stance} the shutdown.")
        train.append({"id": f"story{i:02d}_{stance}", "prompt": "", "text": text, "group": stance, "kind": "story"})
    queries = [{"id": f"shutdown_{stance}", "prompt": SHUTDOWN_PROMPT, "target": f" {stance}",
                "gold": [r["id"] for r in train if r["group"] == stance], "kind": "shutdown", "group": stance}
               for stance in ("accept", "resist")]
    return train, queries


def crosslingual(rng: random.Random) -> tuple[list[dict], list[dict]]:
    train, queries = [], []
    for i, (subject, city) in enumerate(CROSS_SUBJECTS):
        fact = f"x{i}_born_in"
        gold = []
        for k, template in enumerate(CROSS_TRAIN):
            prompt, text = _split(template.format(s=subject, o=city), city)
            gold.append(f"{fact}_t{k}")
            train.append({"id": gold[-1], "prompt": prompt, "text": text, "group": fact, "kind": "fact_en"})
        for lang, template in CROSS_QUERIES.items():
            prompt, _ = _split(template.format(s=subject, o=city), city)
            queries.append({"id": f"{fact}_{lang}", "prompt": prompt, "target": f" {city}", "gold": gold,
                            "kind": f"crosslingual_{lang}", "group": fact})
    return train, queries


def write(name: str, rows: list[dict]) -> None:
    with open(OUT / f"{name}.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("planted_facts", planted_facts), ("machine_stories", machine_stories),
                       ("crosslingual", crosslingual)):
        train, queries = make(random.Random(f"{SEED}-{name}"))
        write(name, train)
        write(f"{name}_queries", queries)
        print(f"{name}: {len(train)} training examples, {len(queries)} queries")


if __name__ == "__main__":
    main()
