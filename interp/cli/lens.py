"""The ``interp lens`` and ``interp lens-fit`` commands: a thin shell over :mod:`interp.lens`.

    interp lens "The Eiffel Tower is located in the city of" --target " Paris"                 # the logit lens
    interp lens "The Eiffel Tower is located in the city of" --target " Paris" --kind linear   # a fitted lens first
    interp lens "The Eiffel Tower is located in the city of" --out runs/lens    # result.json + result.html
    interp lens-fit     # fit and save the linear lens; headline: its KL on prose interp did not write

Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations`` here: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, out, progress_bars, show, table

__all__ = ["app", "KIND_CHOICES"]

app = typer.Typer()

KIND_CHOICES = ("logit", "linear")


@app.command("lens")
@clean_errors
def lens_command(
        prompt: Annotated[str, typer.Argument(help="Text whose next-token prediction is read at every layer.")],
        target: Annotated[str | None, typer.Option("--target", "-t", help="Continuation whose first token's rank "
                                                   "is tracked by layer, e.g. ' Paris'.")] = None,
        kind: Annotated[str, typer.Option("--kind", help="logit (the model's own head) or linear (a fitted "
                                          "affine map per layer first; see interp lens-fit).")] = "logit",
        model: ModelOpt = None,
        layers: Annotated[str, typer.Option("--layers", help="Layers to read: all, 3, 0,10,20 or 0:31:5 "
                                            "(0 = embeddings).")] = "all",
        top_k: Annotated[int, typer.Option("--top-k", "-k", help="Top tokens kept per cell.")] = 5,
        lens_file: Annotated[Path | None, typer.Option("--lens", help="A saved linear lens (default: the "
                                                       "model's, under the interp cache).")] = None,
        save: OutOpt = None,
        as_json: JsonOpt = False) -> None:
    """Read what every layer would predict after PROMPT (a layers x positions grid of top tokens)."""
    from interp._params import check_args
    from interp._validation import check_choice, parse_layers
    from interp.lens import linear_lens, logit_lens
    from interp.models.loading import load_model

    check_choice(kind, KIND_CHOICES, name="--kind", where="interp lens")
    check_args(logit_lens, where="interp lens", top_k=top_k)  # before the model loads
    layer_arg = parse_layers(layers, name="--layers", where="interp lens")
    loaded = load_model(model)
    if kind == "linear":
        result = linear_lens(loaded, prompt, lens=lens_file, target=target, layers=layer_arg, top_k=top_k)
    else:
        result = logit_lens(loaded, prompt, target=target, layers=layer_arg, top_k=top_k)
    rows = []
    for i, layer in enumerate(result.layers):
        row = {"layer": layer, "top 3 (last position)": "  ".join(
            f"{t!r} {float(p):.2f}" for t, p in zip(result.top_tokens[i][-1][:3], result.top_probs[i, -1, :3])),
               "KL to final": float(result.kl[i, -1]), "entropy": float(result.entropy[i, -1])}
        if result.target_rank is not None and result.target_prob is not None:
            row[f"rank {result.target_token!r}"] = int(result.target_rank[i, -1])
            row[f"p {result.target_token!r}"] = float(result.target_prob[i, -1])
        rows.append(row)
    show(result, as_json=as_json, out_dir=save,
         tables=[(f"{kind} lens at the last position ({result.input_tokens[-1]!r})", rows)])


@app.command("lens-fit")
@clean_errors
def lens_fit_command(
        model: ModelOpt = None,
        max_texts: Annotated[int, typer.Option("--max-texts", help="Shipped texts to fit on (their fit part; "
                                               "about 13 tokens each).")] = 1500,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the sample of texts.")] = 0,
        eval_tokens: Annotated[int, typer.Option("--eval-tokens", help="Token positions of prose interp did not write "
                                                 "(scikit-learn's dataset descriptions) the lens is measured on "
                                                 "against the logit lens; 0 skips it.")] = 300,
        path: Annotated[Path | None, typer.Option("--out", help="Where to save it (default: the interp cache, "
                                                  "where interp lens --kind linear finds it).")] = None,
        as_json: JsonOpt = False) -> None:
    """Fit the linear lens of a model (an affine map per layer, closed form; minutes on a CPU) and save it."""
    from interp.lens import fit_linear_lens
    from interp.models.loading import load_model

    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        lens = fit_linear_lens(loaded, max_texts=max_texts, seed=seed, path=path, progress=bars)
    info = lens.info()
    report = None
    if eval_tokens:
        from interp.lens import external_prose, lens_divergence

        report = lens_divergence(loaded, external_prose(), lens=lens, max_tokens=eval_tokens, seed=seed,
                                 texts_name="scikit-learn's dataset descriptions, prose interp did not write",
                                 progress=False)
    if as_json:
        from interp.cli._common import print_json

        print_json(info | {"val_error": lens.val_error_, "val_error_identity": lens.val_error_identity_,
                           "external_prose": report.comparison if report is not None else None})
        return
    if report is not None:
        out.print(report.summary(), highlight=False)
    out.print(f"fitted the linear lens of {loaded.name} on {lens.n_tokens_:,} tokens of {lens.n_texts_:,} texts in "
              f"{lens.fit_seconds_:.1f} s; saved to {info['path']}", highlight=False)
    out.print(table([{"layer": layer, "ridge": "identity" if r == float("inf") else r,
                      "val MSE": e, "identity's val MSE": i}
                     for layer, (r, e, i) in enumerate(zip(lens.ridge_, lens.val_error_, lens.val_error_identity_))],
                    "Per layer (validation texts: a fifth of the fit texts)"))
