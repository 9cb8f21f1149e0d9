"""Part-of-speech probes: where in the network is a word's part of speech readable?

Each word of a corpus is tagged with its Universal POS tag by spaCy (``token.pos_``: NOUN, VERB,
ADJ, ...), aligned to its model tokens (its last sub-token by default, or the mean of its
sub-tokens), and a probe per layer learns tag-from-activation on training sentences and is scored
on held-out sentences (never split by token). Beside each layer's accuracy stand the control task
and selectivity of Hewitt & Liang (2019, "Designing and Interpreting Probes with Control Tasks";
:mod:`interp.probing.control`) and four baselines: the majority tag, each word type's most frequent
training tag, layer 0 (the token embeddings) and the same architecture with random weights.

Three kinds of sentences can be probed:

- the built-in **natural** corpus (the default, ``interp/data/pos/natural.jsonl``): 3,000+ varied
  English sentences written for this project across registers (news, conversation, instructions,
  questions, reviews, fiction, technical, email, ...; ``probes/pos/generate_natural.py``), tagged once
  by spaCy, so using it needs no tagger run;
- the built-in **grammar** corpus (``corpus="grammar"``, ``interp/data/pos/corpus.jsonl``): 2,400
  sentences written by a seeded grammar (``probes/pos/generate_corpus.py``). A probe can learn the
  grammar's few patterns instead of English, so its held-out figure overstates what transfers;
- your own text: a list of strings or a file of one sentence per line (tagged by spaCy on the fly),
  a tagged ``.jsonl`` corpus, or a **CoNLL-U treebank** (``.conllu``; :mod:`interp.probing.conllu`),
  whose own tokenisation and gold UPOS tags are then used. Against gold tags the result also holds
  spaCy's accuracy on the same held-out words (``spacy_accuracy``): the reference line a probe that
  learns spaCy's tags cannot be expected to beat.

``eval_texts`` scores the probes on sentences they were not trained on (e.g. a treebank while
training on the built-in corpus): ``eval_accuracy`` per layer, against gold for a treebank, with
spaCy's accuracy on those words beside it. The layer to read it at is ``best_layer``, chosen on the
training corpus's held-out split, never on the evaluation set.

Example:
    >>> import interp
    >>> from interp.probing import pos_probe
    >>> result = pos_probe(interp.load_model(), layers=range(0, 31, 3), eval_texts="en_ewt-ud-test.conllu")
    >>> result.best_layer, result.baselines, result.eval_at_best, result.eval_spacy_accuracy
    >>> result.predict("Time flies like an arrow.")   # each word's predicted tag at the best layer
"""

from __future__ import annotations

from interp.probing.pos.analysis import (  # noqa: F401  (every name of the old module, private ones too)
    _random_model,
    pos_eval,
    pos_probe,
    pos_result,
)
from interp.probing.pos.batch import (  # noqa: F401  (every name of the old module, private ones too)
    POS,
    POSAnalysis,
)
from interp.probing.pos.data import (  # noqa: F401  (every name of the old module, private ones too)
    ALIGNMENTS,
    CORPORA,
    CORPUS_PATH,
    GENERATORS,
    GRAMMAR_CORPUS_PATH,
    MIN_SENTENCES,
    SPACY_MODEL,
    UPOS_TAGS,
    POSInputs,
    _corpus_path,
    _nlp,
    _records,
    load_corpus,
    pos_inputs,
    pos_split,
    read_text_file,
    tag_sentences,
    tag_words,
)
from interp.probing.pos.result import (  # noqa: F401  (every name of the old module, private ones too)
    POSProbeResult,
)

__all__ = ["pos_probe", "pos_inputs", "pos_split", "pos_result", "pos_eval", "POSInputs", "POSProbeResult", "POS", "POSAnalysis",
           "load_corpus", "read_text_file", "tag_sentences", "tag_words", "CORPUS_PATH", "GRAMMAR_CORPUS_PATH",
           "CORPORA", "SPACY_MODEL", "UPOS_TAGS"]
