"""POS probe: the grammar-made corpus against the natural corpus, measured on text neither was made from.

For each built-in corpus the linear probe is trained on the corpus (held-out split by sentence, the
best layer chosen on that split: it is the validation split of what follows) and then scored, at that
layer, on sentences it never saw:

- **gold**: a CoNLL-U treebank given with ``--treebank`` (e.g. UD English-EWT test sentences), against
  its gold UPOS tags, with spaCy's own accuracy on the same words as the reference line;
- **silver**: English sentences nobody here wrote, taken from the package descriptions installed in
  this environment (``*.dist-info/METADATA``), against spaCy's tags (silver, not gold: a probe that
  learns spaCy can at best match spaCy there).

Printed side by side per corpus: held-out accuracy on the corpus itself, its selectivity (Hewitt &
Liang control task), each with its 95% interval (cluster bootstrap over held-out sentences), the accuracy on
gold and silver, and spaCy on gold. No timings.

    .venv/bin/python benchmarks/bench_pos.py --treebank en_ewt-ud-test.conllu
    .venv/bin/python benchmarks/bench_pos.py --layers 0:31:3 --max-sentences 1000 --no-silver
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from importlib import metadata
from pathlib import Path


def silver_sentences(n: int = 400, seed: int = 0) -> list[str]:
    """Up to ``n`` prose sentences from the installed packages' descriptions (real English, not written here)."""
    import spacy

    texts = []
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata.get("Name", "") or ""):
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""
        if isinstance(body, str) and body.strip():
            texts.append(body)
    sentencizer = spacy.blank("en")
    sentencizer.add_pipe("sentencizer")
    seen, out = set(), []
    for text in texts:
        prose = "\n".join(line for line in text.splitlines()
                          if line.strip() and not re.match(r"\s*([#>|*\-=`~:.]|\d+\.|\[|<|\s{4})", line))
        for sent in sentencizer(prose[:100_000]).sents:
            s = " ".join(sent.text.split())
            words = s.split()
            if (6 <= len(words) <= 40 and s[0].isupper() and s[-1] in ".!?" and s not in seen
                    and not re.search(r"[`{}<>|=_\\/@#\[\]]|https?:|\.py\b|\(\)|::", s)
                    and sum(c.isalpha() or c.isspace() for c in s) > 0.9 * len(s)):
                seen.add(s)
                out.append(s)
    random.Random(seed).shuffle(out)
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--treebank", type=Path, action="append", default=[], help="a CoNLL-U file scored against gold")
    parser.add_argument("--layers", default="0:31:3")
    parser.add_argument("--max-sentences", type=int, default=None, help="sentences of each corpus (default: all)")
    parser.add_argument("--no-silver", action="store_true")
    parser.add_argument("--corpora", default="grammar,natural", help="which built-in corpora, comma-separated")
    parser.add_argument("--model", default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/interp-bench-pos"), help="activations, reused")
    args = parser.parse_args()

    import interp
    from interp._validation import parse_layers
    from interp.activations import collect
    from interp.probing import pos_probe
    from interp.probing.pos import pos_eval, pos_inputs

    model = interp.load_model(args.model)
    layers = parse_layers(args.layers, name="--layers", where="bench_pos")
    silver = None if args.no_silver else pos_inputs(silver_sentences(), min_sentences=1)
    if silver is not None:
        print(f"silver set: {silver.n_sentences} sentences, {len(silver.labels)} words from installed package "
              "descriptions (spaCy's tags)", flush=True)
    gold = args.treebank[0] if args.treebank else None
    rows = []
    for corpus in args.corpora.split(","):
        r = pos_probe(model, corpus=corpus, eval_texts=gold, layers=layers, max_sentences=args.max_sentences,
                      random_baseline=False, cache_dir=args.cache / corpus, progress=False)
        i = r.layers.index(r.best_layer)
        row = {"corpus": corpus, "sentences": r.n_sentences, "best layer": r.best_layer,
               "own held-out": r.interval("accuracy").format(), "selectivity": r.interval("selectivity").format(),
               "word-type baseline": r.baselines["word_type"]}
        if gold is not None:
            row.update({"gold words": r.eval_n_words, "probe vs gold": r.eval_at_best,
                        "spaCy vs gold": r.eval_spacy_accuracy,
                        "gap to spaCy": r.eval_spacy_accuracy - r.eval_at_best,
                        "(best gold layer, not used)": int(r.layers[int(r.eval_accuracy.argmax())])})
        if silver is not None:
            acts = collect(model, silver.sentences, layers=r.layers, position="word_last", words=silver.words,
                           progress=False)
            scored = pos_eval(r, {layer: acts[layer] for layer in r.layers}, silver)
            row["probe vs silver (spaCy)"] = float(scored["eval_accuracy"][i])
        rows.append(row)
        print(row, flush=True)
    import pandas as pd

    frame = pd.DataFrame(rows)
    print(f"\n{model.name}, linear probe, layers {r.layers}; best layer chosen on each corpus's held-out split\n")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
