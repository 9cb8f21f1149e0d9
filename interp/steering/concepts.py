"""Shipped steering concepts: contrast pairs, held-out prompts and a scorer for each.

- ``"french"``: answering in French. Pairs: 24 everyday sentences in French (positive) and their English
  translation (negative), written for interp. Prompts: English requests ("Tell me about your morning.").
  Scorer :func:`is_french`: a stopword-ratio detector (French vs English function words).
- ``"sentiment"``: positive vs negative sentiment. Pairs: a seeded generator fills templates ("The {thing} was
  {adjective}.") with a positive and a negative adjective for the same thing. Prompts: neutral openings about
  everyday things. Scorer :func:`is_positive`: a lexicon count (positive words > negative words; negation
  is not handled).
- ``"truth"``: calling a statement true. Pairs: the true and false statements of interp's ``cities`` truth set
  (the mass-mean direction of :func:`interp.truth.steer_truth`); prompts: held-out *false* statements framed
  ``"{statement} This statement is"``; scorer :func:`says_true`: the generation says "true" before (or
  without) "false". The built-in scorer of ``steer_truth``'s reading, as text.

Each scorer's accuracy on labelled examples written for interp (:data:`LABELLED`, disjoint from the pairs and
prompts) is :func:`scorer_accuracy` (an interval over the examples); measured: french 60/60 and sentiment
49/50 correct (see ``tests/test_steering.py``). They are small hand-made sets, not an outside benchmark.

Example:
    >>> c = concept("french")
    >>> len(c.positives), c.prompts[0], c.scorer("Je suis très content de te voir.")
    (24, 'Tell me about your morning.', True)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from interp._validation import check_choice
from interp.errors import InvalidParameterError

__all__ = ["CONCEPTS", "Concept", "concept", "is_french", "is_positive", "says_true", "scorer_accuracy",
           "resolve_scorer", "LABELLED", "NEUTRAL_TEXTS"]

CONCEPTS = ("french", "sentiment", "truth")

_FRENCH_PAIRS = [
    ("Le matin, je bois un café avant de partir au travail.", "In the morning, I drink a coffee before leaving for work."),
    ("Ma sœur habite dans une petite maison près de la mer.", "My sister lives in a small house near the sea."),
    ("Nous avons mangé une pizza au restaurant hier soir.", "We ate a pizza at the restaurant last night."),
    ("Il pleut beaucoup en automne dans cette région.", "It rains a lot in autumn in this region."),
    ("Les enfants jouent dans le jardin avec le chien.", "The children are playing in the garden with the dog."),
    ("Je lis un livre très intéressant sur l'histoire.", "I am reading a very interesting book about history."),
    ("Elle prend le train pour aller voir ses parents.", "She takes the train to go and see her parents."),
    ("Le magasin ferme à sept heures du soir.", "The shop closes at seven in the evening."),
    ("Nous aimons marcher dans la forêt le dimanche.", "We like to walk in the forest on Sundays."),
    ("Mon frère apprend à jouer de la guitare.", "My brother is learning to play the guitar."),
    ("Il faut acheter du pain et du lait pour demain.", "We need to buy bread and milk for tomorrow."),
    ("La réunion commence dans dix minutes.", "The meeting starts in ten minutes."),
    ("Je voudrais une chambre pour deux nuits, s'il vous plaît.", "I would like a room for two nights, please."),
    ("Les fleurs du parc sont très belles au printemps.", "The flowers in the park are very beautiful in spring."),
    ("Tu peux m'aider à porter ces boîtes ?", "Can you help me carry these boxes?"),
    ("Il a oublié ses clés dans la voiture.", "He forgot his keys in the car."),
    ("Nous partons en vacances à la montagne cet été.", "We are going on holiday to the mountains this summer."),
    ("Le film était long mais je l'ai bien aimé.", "The film was long but I liked it a lot."),
    ("Elle travaille dans un hôpital depuis cinq ans.", "She has worked in a hospital for five years."),
    ("Je ne sais pas où se trouve la gare.", "I do not know where the station is."),
    ("Les prix ont augmenté cette année.", "Prices have gone up this year."),
    ("Mon ordinateur est trop lent pour ce jeu.", "My computer is too slow for this game."),
    ("Nous allons préparer le dîner ensemble ce soir.", "We are going to cook dinner together tonight."),
    ("Le chat dort sur le canapé tout l'après-midi.", "The cat sleeps on the sofa all afternoon."),
]

_FRENCH_PROMPTS = [
    "Tell me about your morning.", "Describe your favourite meal.", "What do you like to do on weekends?",
    "Write a short note to a friend.", "Describe the weather today.", "Tell me about a city you like.",
    "What is your favourite season and why?", "Describe a walk in the park.", "Give me some advice for a trip.",
    "Tell me a short story about a cat.", "What should I cook tonight?", "Describe your ideal house.",
    "Tell me about your family.", "What makes a good teacher?", "Describe a busy train station.",
    "Write two sentences about the sea.",
]

_SENTIMENT_THINGS = ["movie", "meal", "hotel", "concert", "book", "trip", "party", "game", "service", "weather",
                     "class", "show", "coffee", "flight", "museum", "garden"]
_POSITIVE_ADJ = ["wonderful", "excellent", "delightful", "great", "amazing", "lovely", "fantastic", "pleasant"]
_NEGATIVE_ADJ = ["terrible", "awful", "horrible", "bad", "dreadful", "miserable", "disappointing", "unpleasant"]
_SENTIMENT_TEMPLATES = ["The {thing} was {adj}.", "I thought the {thing} was {adj}.", "Honestly, the {thing} felt {adj}.",
                        "Everyone agreed that the {thing} was {adj}."]
_SENTIMENT_PROMPTS = [
    "Tell me about the weather this week.", "Describe your commute to work.", "What did you think of the new library?",
    "Tell me about your neighbours.", "Describe the food at the office canteen.", "How was the bus ride?",
    "Describe a Monday morning.", "Tell me about the local supermarket.", "What is it like to wait at the airport?",
    "Describe the town square.", "Tell me about your old school.", "How was the dentist appointment?",
    "Describe a rainy afternoon.", "Tell me about the train timetable.", "What do you think of the new road?",
    "Describe the hotel lobby.",
]

_FRENCH_WORDS = frozenset("""le la les un une des du de et est sont je tu il elle nous vous ils elles que qui dans pour
pas sur avec ce cette ces mais ou au aux très mon ma mes ton ta tes son sa ses leur leurs été être avoir fait c'est
j'ai aussi comme plus tout tous bien ne se lui y où donc alors parce quand chez sans sous entre depuis encore
toujours jamais rien peu beaucoup trop suis es sommes êtes ont avons avez était étais j'aime bonjour merci oui non
aujourd'hui demain hier matin soir avec votre vos notre nos d'un d'une l'on qu'il qu'elle n'est""".split())
_ENGLISH_WORDS = frozenset("""the an and is are was were i you he she it we they of to in for with that this but or at be
been being have has had my your his her our their not very so by from what there which who when where because
about would could should will can do does did just also than then them these those into some any all more most
no yes hello thanks today tomorrow yesterday morning evening it's i'm don't isn't""".split())
_POSITIVE_WORDS = frozenset("""good great love loved lovely happy wonderful excellent amazing beautiful enjoy enjoyed best
fantastic delightful pleasant nice perfect glad joy awesome fun brilliant superb cheerful friendly fresh bright
delicious comfortable exciting excited peaceful charming warm kind helpful smooth beautifully calm impressive
favourite favorite pleased grateful thrilled""".split())
_NEGATIVE_WORDS = frozenset("""bad terrible hate hated sad awful horrible worst poor angry boring ugly disappointing
disappointed painful miserable unpleasant disgusting annoying annoyed broken wrong dreadful dirty rude crowded noisy
cold slow late gloomy dull tired stressful stressed nasty sick worse upset unhappy frustrating frustrated
depressing""".split())

_WORD = re.compile(r"[a-zàâäçéèêëîïôöùûüÿœæ]+(?:'[a-zàâäçéèêëîïôöùûüÿœæ]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def french_ratio(text: str) -> float:
    """Share of French function words among the French and English function words of ``text`` (NaN if none)."""
    words = _words(text)
    fr = sum(w in _FRENCH_WORDS for w in words)
    en = sum(w in _ENGLISH_WORDS for w in words)
    return fr / (fr + en) if fr + en else float("nan")


def is_french(text: str) -> bool:
    """Whether ``text`` reads as French: at least 2 French function words, and more than English ones."""
    words = _words(text)
    fr = sum(w in _FRENCH_WORDS for w in words)
    en = sum(w in _ENGLISH_WORDS for w in words)
    return fr >= 2 and fr > en


def is_positive(text: str) -> bool:
    """Whether ``text`` has more positive than negative lexicon words (negation is not handled)."""
    words = _words(text)
    return sum(w in _POSITIVE_WORDS for w in words) > sum(w in _NEGATIVE_WORDS for w in words)


def says_true(text: str) -> bool:
    """Whether ``text`` says "true" (or "correct") before, or without, "false" (or "incorrect", "wrong")."""
    words = _words(text)
    for w in words:
        if w in ("true", "correct", "right", "accurate"):
            return True
        if w in ("false", "incorrect", "wrong", "inaccurate", "untrue"):
            return False
    return False


#: Labelled examples for each built-in scorer (text, has the behaviour), disjoint from the pairs and prompts.
LABELLED: dict[str, list[tuple[str, bool]]] = {
    "french": [(t, True) for t in [
        "Bonjour, je m'appelle Marie et j'habite à Lyon.", "Le temps est magnifique aujourd'hui.",
        "Nous avons visité le musée avec nos amis.", "Je pense que c'est une bonne idée.",
        "Il est parti très tôt ce matin.", "Les pommes sont rouges et vertes.",
        "Elle aime lire des romans policiers le soir.", "Où est la bibliothèque, s'il vous plaît ?",
        "Mon père travaille dans une banque.", "Je suis désolé, je ne comprends pas.",
        "La voiture est garée devant la maison.", "Nous mangeons souvent du poisson le vendredi.",
        "Tu veux venir au cinéma avec moi ?", "Le professeur explique la leçon aux élèves.",
        "Il y a beaucoup de monde dans la rue.", "Ce gâteau au chocolat est délicieux.",
        "Je dois finir ce travail avant midi.", "Les oiseaux chantent dans les arbres.",
        "Elle a acheté une nouvelle robe pour la fête.", "Nous sommes arrivés en retard à cause du bus.",
        "Mes amis habitent dans le sud de la France.", "Il fait froid, prends ton manteau.",
        "Le chien aboie quand quelqu'un sonne à la porte.", "J'ai perdu mon téléphone dans le métro.",
        "La soupe est trop chaude pour les enfants.", "On se retrouve devant la gare à huit heures.",
        "Je préfère le thé au café le matin.", "Les vacances commencent la semaine prochaine.",
        "Il lit le journal tous les jours.", "C'est la première fois que je viens ici.",
    ]] + [(t, False) for t in [
        "Hello, my name is Mary and I live in London.", "The weather is wonderful today.",
        "We visited the museum with our friends.", "I think that is a good idea.",
        "He left very early this morning.", "The apples are red and green.",
        "She likes to read crime novels in the evening.", "Where is the library, please?",
        "My father works in a bank.", "I am sorry, I do not understand.",
        "The car is parked in front of the house.", "We often eat fish on Fridays.",
        "Do you want to come to the cinema with me?", "The teacher explains the lesson to the pupils.",
        "There are a lot of people in the street.", "This chocolate cake is delicious.",
        "I have to finish this work before noon.", "The birds are singing in the trees.",
        "She bought a new dress for the party.", "We arrived late because of the bus.",
        "My friends live in the south of England.", "It is cold, take your coat.",
        "The dog barks when someone rings the bell.", "I lost my phone on the underground.",
        "The soup is too hot for the children.", "Let us meet in front of the station at eight.",
        "I prefer tea to coffee in the morning.", "The holidays start next week.",
        "He reads the newspaper every day.", "It is the first time I have come here.",
    ]],
    "sentiment": [(t, True) for t in [
        "What a lovely day, I am so happy to be here.", "The staff were friendly and the room was comfortable.",
        "I really enjoyed the concert, it was brilliant.", "This is the best soup I have ever had.",
        "The garden looks beautiful in the sun.", "We had a wonderful time at the beach.",
        "Thanks, that was very helpful and kind.", "The new park is a peaceful and charming place.",
        "I am so grateful for your support.", "The children were excited and cheerful all day.",
        "Her speech was impressive and warm.", "The cake was fresh and delicious.",
        "It was a fun evening with great friends.", "I love the bright colours of this room.",
        "The trip went smoothly and everyone was pleased.", "What a fantastic result, well done.",
        "The view from the hill is amazing.", "My favourite cafe has excellent coffee.",
        "The teacher was patient and the class was nice.", "I was thrilled to hear the good news.",
        "The music was calm and pleasant.", "Our neighbours are lovely people.",
        "The hotel was perfect for a short break.", "That film made me glad and hopeful.",
        "The flowers smell wonderful this spring.",
    ]] + [(t, False) for t in [
        "What an awful day, I am so tired and upset.", "The staff were rude and the room was dirty.",
        "I hated the concert, it was boring.", "This is the worst soup I have ever had.",
        "The garden looks ugly and dull in the rain.", "We had a miserable time at the beach.",
        "That was not helpful at all, it was annoying.", "The new road is noisy and crowded.",
        "I am angry about the late delivery.", "The children were sick and unhappy all day.",
        "His speech was dull and depressing.", "The bread was stale and the meat was bad.",
        "It was a stressful evening and everything went wrong.", "I hate the gloomy colours of this room.",
        "The trip was a disaster and everyone was frustrated.", "What a disappointing result.",
        "The view from the window is dreadful.", "This cafe has terrible coffee.",
        "The lesson was slow and the teacher was nasty.", "I was upset to hear the sad news.",
        "The music was loud and unpleasant.", "Our neighbours are horrible people.",
        "The hotel was cold and the service was poor.", "That film was painful to watch.",
        "Not great, not good, honestly a pretty bad day.",
    ]],
}

#: Neutral English text for the perplexity cost of steering (written for interp; no concept in it).
NEUTRAL_TEXTS = [
    "The library opens at nine in the morning and closes at six in the evening on weekdays.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "The train from the city centre to the airport takes about forty minutes.",
    "Most bicycles have two wheels, a frame, pedals, a chain and a saddle.",
    "The committee will meet again next Tuesday to discuss the budget.",
    "A week has seven days, and a year usually has three hundred and sixty-five.",
    "The river runs through the town and into a large lake to the north.",
    "To make tea, heat the water, add the leaves and wait a few minutes.",
    "The museum has a collection of old maps, coins and tools from the region.",
    "The report describes the number of visitors in each month of the year.",
    "Many birds fly south for the winter and return in the spring.",
    "The new bridge connects the two parts of the city across the river.",
    "Please write your name and address at the top of the form.",
    "The school has twelve classrooms, a small gym and a library.",
    "The recipe needs two eggs, a cup of flour and some milk.",
    "The road was closed for repairs for three weeks last summer.",
]


@dataclasses.dataclass(frozen=True)
class Concept:
    """A shipped concept: contrast pairs to build the vector, held-out prompts and a scorer to measure it.

    Attributes:
        name, description.
        positives, negatives: paired texts with and without the behaviour.
        prompts: held-out prompts for :func:`~interp.steering.steer` and :func:`~interp.steering.steering_sweep`.
        scorer: ``text -> bool``, whether a generation shows the behaviour; scorer_name its name.
        chat: whether the prompts are meant for the chat template (None: when the model has one).
    """

    name: str
    description: str
    positives: list[str]
    negatives: list[str]
    prompts: list[str]
    scorer: Callable[[str], bool]
    scorer_name: str
    chat: bool | None = None


def _sentiment_pairs(n: int = 32, seed: int = 0) -> tuple[list[str], list[str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    pos, neg = [], []
    for k in range(n):
        thing = _SENTIMENT_THINGS[k % len(_SENTIMENT_THINGS)]
        template = _SENTIMENT_TEMPLATES[int(rng.integers(len(_SENTIMENT_TEMPLATES)))]
        pos.append(template.format(thing=thing, adj=_POSITIVE_ADJ[int(rng.integers(len(_POSITIVE_ADJ)))]))
        neg.append(template.format(thing=thing, adj=_NEGATIVE_ADJ[int(rng.integers(len(_NEGATIVE_ADJ)))]))
    return pos, neg


def _truth_concept(n_pairs: int, n_prompts: int, seed: int) -> Concept:
    import numpy as np

    from interp.truth.datasets import load_dataset
    from interp.truth.steering import TEMPLATE

    ds = load_dataset("cities")
    pairs = ds.pairs()  # (n_pairs, 2): the true statement first
    order = np.random.default_rng(seed).permutation(len(pairs))
    train, held = pairs[order[:n_pairs]], pairs[order[n_pairs:n_pairs + n_prompts]]
    true_first = ds.labels[train[:, 0]] == 1
    pos = [ds.statements[a if t else b] for (a, b), t in zip(train, true_first)]
    neg = [ds.statements[b if t else a] for (a, b), t in zip(train, true_first)]
    false_held = [ds.statements[a if ds.labels[a] == 0 else b] for a, b in held]
    prompts = [TEMPLATE.format(statement=s.rstrip()) for s in false_held]
    return Concept("truth", "calling a statement true (the truth direction, as steer_truth)", pos, neg, prompts,
                   says_true, "says_true", chat=False)


def concept(name: str, *, n_pairs: int | None = None, seed: int = 0) -> Concept:
    """A shipped concept (one of :data:`CONCEPTS`), its pairs drawn by seeded code.

    Args:
        name: "french", "sentiment" or "truth".
        n_pairs: contrast pairs (default: 24 french, 32 sentiment, 64 truth).
        seed: the seed of the sentiment generator and of the truth split.
    """
    check_choice(name, CONCEPTS, name="name", where="concept")
    if n_pairs is not None and (isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1):
        raise InvalidParameterError(f"The 'n_pairs' parameter of concept must be an int >= 1. Got {n_pairs!r}.")
    if name == "french":
        pairs = _FRENCH_PAIRS[:n_pairs] if n_pairs else _FRENCH_PAIRS
        return Concept("french", "answering in French", [p for p, _ in pairs], [n for _, n in pairs],
                       list(_FRENCH_PROMPTS), is_french, "is_french")
    if name == "sentiment":
        pos, neg = _sentiment_pairs(n_pairs or 32, seed)
        return Concept("sentiment", "positive (vs negative) sentiment", pos, neg, list(_SENTIMENT_PROMPTS),
                       is_positive, "is_positive")
    return _truth_concept(n_pairs or 64, 32, seed)


_SCORERS = {"french": (is_french, "is_french"), "sentiment": (is_positive, "is_positive"),
            "truth": (says_true, "says_true")}


def resolve_scorer(scorer: Any, *, where: str) -> tuple[Callable[[str], bool], str]:
    """``(fn, name)`` from a built-in concept name or a callable ``text -> bool``."""
    if isinstance(scorer, str):
        check_choice(scorer, CONCEPTS, name="scorer", where=where)
        return _SCORERS[scorer]
    if callable(scorer):
        return scorer, getattr(scorer, "__name__", "custom")
    raise InvalidParameterError(f"The 'scorer' parameter of {where} must be one of {', '.join(map(repr, CONCEPTS))} "
                                f"or a callable text -> bool. Got {scorer!r} instead.")


def scorer_accuracy(name: str) -> Any:
    """The accuracy of a built-in scorer on its :data:`LABELLED` examples, an :class:`interp.stats.Interval`."""
    from interp.stats import proportion_interval

    check_choice(name, tuple(LABELLED), name="name", where="scorer_accuracy")
    fn, _ = _SCORERS[name]
    examples = LABELLED[name]
    return proportion_interval(sum(fn(text) == label for text, label in examples), len(examples))
