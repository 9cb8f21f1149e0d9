"""``interp probe pos``: the part-of-speech probing command (a thin shell over interp.probing).

    interp probe pos --out results/pos                         # default model, built-in natural corpus, all layers
    interp probe pos -m tiny-gpt2 --layers 0,1,2 --text my_sentences.txt --out /tmp/pos
    interp probe pos --layers 0:31:3 --probe mlp --out results/pos-mlp
    interp probe pos --text en_ewt-ud-train.conllu --out results/pos-ewt      # a treebank: its gold tags
    interp probe pos --eval en_ewt-ud-test.conllu --out results/pos-reach     # trained on the built-in corpus,
                                                                              # scored on a treebank against gold

Each run prints the per-layer table and the baselines (``--json``: the saved result format instead) and,
with ``--out FOLDER``, writes ``result.json`` (load it with ``interp.load_result``) and ``result.html`` there.
``app`` holds the command; :mod:`interp.cli` adds it to the ``probe`` group, next to ``probe truth``.
Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, long_run_notice, progress_bars, show

__all__ = ["app"]

app = typer.Typer()


@app.command("pos")
@clean_errors
def pos(out_dir: OutOpt = None,
        model: ModelOpt = None,
        layers: Annotated[str, typer.Option("--layers", "-l", help="'all', 0,3,6 or 0:31:3 (layer 0 is always "
                                            "added).")] = "all",
        text: Annotated[Path | None, typer.Option("--text", "-t", help="UTF-8 file, one sentence per line "
                                                  "(tagged by spaCy), a tagged .jsonl corpus or a .conllu treebank "
                                                  "(its own words and gold tags). Default: the built-in corpus.")
                        ] = None,
        corpus: Annotated[str, typer.Option("--corpus", help="The built-in corpus without --text: 'natural' "
                                            "(hand-written varied English) or 'grammar' (grammar-made).")] = "natural",
        eval_text: Annotated[Path | None, typer.Option("--eval", help="Also score every layer's probe on these "
                                                       "sentences, never trained on (same formats as --text; a "
                                                       ".conllu treebank scores against gold).")] = None,
        probe: Annotated[str, typer.Option("--probe", help="'linear' or 'mlp'.")] = "linear",
        alignment: Annotated[str, typer.Option("--alignment", help="'last' sub-token of each word, or 'mean' of "
                                               "its sub-tokens.")] = "last",
        max_sentences: Annotated[int | None, typer.Option("--max-sentences", "-n", help="Use only the first N "
                                                          "sentences.")] = None,
        random_baseline: Annotated[bool, typer.Option("--random-baseline/--no-random-baseline", help="Also probe "
                                                      "the same architecture with random weights.")] = True,
        cache: Annotated[Path | None, typer.Option("--cache", help="Keep the activations here; a re-run reuses "
                                                   "them.")] = None,
        as_json: JsonOpt = False) -> None:
    """Part-of-speech probes per layer, with control task, selectivity and baselines (against gold for a treebank,
    with spaCy's accuracy on the same words as the reference)."""
    from interp._params import check_args
    from interp._validation import parse_layers
    from interp.models.loading import load_model
    from interp.probing.conllu import is_conllu_path, read_conllu
    from interp.probing.pos import pos_probe, read_text_file

    # cheap checks first (from pos_probe's table), so a typo fails before the model loads
    check_args(pos_probe, where="interp probe pos", probe=probe, alignment=alignment, corpus=corpus,
               max_sentences=max_sentences)
    layer_arg = parse_layers(layers, name="--layers", where="interp probe pos")
    for path in (text, eval_text):  # a missing, binary or malformed file fails before the model loads
        if path is not None:
            read_conllu(path) if is_conllu_path(path) else read_text_file(path)
    if layers == "all" and max_sentences is None and text is None:
        long_run_notice("interp probe pos")
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = pos_probe(loaded, text, corpus=corpus, eval_texts=eval_text, layers=layer_arg, probe=probe,
                           alignment=alignment,
                           max_sentences=max_sentences, random_baseline=random_baseline, cache_dir=cache,
                           progress=bars)
    baselines = [{"baseline": k, "accuracy": "-" if v is None else v} for k, v in result.baselines.items()]
    if result.spacy_accuracy is not None:
        baselines.append({"baseline": "spaCy vs gold (reference)", "accuracy": result.spacy_accuracy})
    if result.eval_spacy_accuracy is not None:
        baselines.append({"baseline": "spaCy vs gold on --eval (reference)", "accuracy": result.eval_spacy_accuracy})
    show(result, as_json=as_json, out_dir=out_dir,
         tables=[("Held-out accuracy by layer", result.to_frame()), ("Baselines", baselines)])
