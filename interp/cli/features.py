"""``interp sae train|eval|show``: sparse autoencoders from the command line (a thin shell over interp.features).

    interp sae train --out runs/sae-l15 --layer 15                 # default model, built-in corpus, TopK k=32
    interp sae train -m tiny-gpt2 --layer 1 --texts my.txt --width 256 --max-texts 200 --out /tmp/sae
    interp sae eval runs/sae-l15/sae --out runs/sae-l15/eval        # held-out built-in text (or --texts FILE)
    interp sae show runs/sae-l15/sae 123 --out runs/sae-l15/f123    # a feature's dashboard

``train`` writes the activation shards, the trainer state, the SAE (``sae/``: SAELens's ``cfg.json`` +
``sae_weights.safetensors``) and ``result.json`` into ``--out`` (a re-run resumes); ``eval`` and ``show`` take
any SAE folder in SAELens's layout. Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import (
    JsonOpt,
    ModelOpt,
    OutOpt,
    clean_errors,
    progress_bars,
    show,
)

__all__ = ["app"]

app = typer.Typer(help="Sparse autoencoders: train one on a layer, evaluate it, open a feature's dashboard.",
                  no_args_is_help=True)

TextsOpt = Annotated[Path | None, typer.Option("--texts", "-t", help="UTF-8 .txt (paragraphs) or .jsonl (a 'text' "
                                               "field per line). Default: the built-in corpus.")]
MaxTextsOpt = Annotated[int | None, typer.Option("--max-texts", "-n", help="Use only the first N texts.")]


def _texts(path, max_texts, split):
    from interp.features import default_texts, read_texts

    items = read_texts(path) if path is not None else default_texts(split=split)
    return items[:max_texts] if max_texts is not None else items


def _check_max_texts(max_texts, where):
    from interp._validation import check_int

    if max_texts is not None:
        check_int(max_texts, name="--max-texts", where=where, low=1)


@app.command("train")
@clean_errors
def train(out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the shards, trainer state, the SAE "
                                                "(sae/) and result.json; a re-run resumes.")],
          model: ModelOpt = None,
          layer: Annotated[int | None, typer.Option("--layer", "-l", help="Layer (0 = embeddings); default the "
                                                    "middle.")] = None,
          texts: TextsOpt = None, max_texts: MaxTextsOpt = None,
          kind: Annotated[str, typer.Option("--kind", help="'topk' (with AuxK) or 'standard' (ReLU + L1).")] = "topk",
          k: Annotated[int, typer.Option("--k", help="Active latents per token (topk).")] = 32,
          width: Annotated[int | None, typer.Option("--width", help="Latents; default 8 x d_model.")] = None,
          l1: Annotated[float, typer.Option("--l1", help="L1 coefficient (standard).")] = 5.0,
          batch_size: Annotated[int, typer.Option("--batch-size", help="Tokens per step.")] = 4096,
          max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Stop after N tokens.")] = None,
          seed: Annotated[int, typer.Option("--seed")] = 0,
          as_json: JsonOpt = False) -> None:
    """Train an SAE on one layer's residual stream (activations streamed shard by shard)."""
    from interp._params import check_args
    from interp.features import train_sae
    from interp.models.loading import load_model

    where = "interp sae train"
    check_args(train_sae, where=where, options={"l1_coefficient": "--l1"}, layer=layer, kind=kind, k=k, width=width,
               l1_coefficient=l1, batch_size=batch_size, max_tokens=max_tokens, seed=seed)  # before the model loads
    _check_max_texts(max_texts, where)
    items = _texts(texts, max_texts, "train")
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = train_sae(loaded, items, layer, kind=kind, k=k, width=width, l1_coefficient=l1,
                           batch_size=batch_size, max_tokens=max_tokens, out=out_dir, seed=seed,
                           progress=bars)
    show(result, as_json=as_json, notes=[f"wrote {out_dir / 'sae'} (SAELens layout) and {out_dir / 'result.json'}"])


@app.command("eval")
@clean_errors
def evaluate(sae_dir: Annotated[Path, typer.Argument(help="SAE folder: cfg.json + sae_weights.safetensors.")],
             model: ModelOpt = None, texts: TextsOpt = None,
             max_texts: Annotated[int, typer.Option("--max-texts", "-n", help="Held-out texts used.")] = 100,
             out_path: OutOpt = None, as_json: JsonOpt = False) -> None:
    """Explained variance, L0, dead / dense latents and CE loss recovered on held-out text, with intervals."""
    from interp._params import check_args
    from interp.features import evaluate_sae, load_sae
    from interp.models.loading import load_model

    check_args(evaluate_sae, where="interp sae eval", max_texts=max_texts)  # before the SAE and the model load
    sae = load_sae(sae_dir)
    items = _texts(texts, max_texts, "heldout")
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = evaluate_sae(loaded, sae, items, max_texts=max_texts, progress=bars)
    show(result, as_json=as_json, out_dir=out_path, tables=[("SAE on held-out text", result.to_frame())])


@app.command("show")
@clean_errors
def show_command(sae_dir: Annotated[Path, typer.Argument(help="SAE folder: cfg.json + sae_weights.safetensors.")],
         feature: Annotated[int, typer.Argument(help="The feature (latent) index.")],
         model: ModelOpt = None, texts: TextsOpt = None,
         max_texts: Annotated[int, typer.Option("--max-texts", "-n", help="Texts searched.")] = 200,
         top_n: Annotated[int, typer.Option("--top", help="Contexts shown.")] = 10,
         out_path: OutOpt = None, as_json: JsonOpt = False) -> None:
    """A feature's dashboard: top-activating contexts, activation histogram, promoted / suppressed tokens."""
    from interp._params import check_args, check_param, constraints_of
    from interp.features import feature_dashboard, load_sae
    from interp.models.loading import load_model

    where = "interp sae show"
    check_args(feature_dashboard, where=where, options={"feature": "FEATURE", "top_n": "--top"}, feature=feature,
               top_n=top_n)
    _check_max_texts(max_texts, where)
    sae = load_sae(sae_dir)
    check_param(feature, constraints_of(feature_dashboard)["feature"], name="FEATURE", where=where,
                context={"sae": sae})  # in [0, d_sae), known once the SAE is (and still before the model loads)
    items = _texts(texts, max_texts, "heldout")
    result = feature_dashboard(load_model(model), sae, feature, items, top_n=top_n)
    show(result, as_json=as_json, out_dir=out_path, tables=[(f"Feature {feature}: top contexts", result.to_frame()),
                                                           ("Logit effect", result.logit_frame())])
