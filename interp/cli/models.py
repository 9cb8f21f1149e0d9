"""``interp models``, ``interp info`` and ``interp predict``: the model commands.

    interp models
    interp info tiny-gpt2 --json
    interp predict "The capital of France is" -k 5
    interp predict "The capital of France is" --out runs/paris     # runs/paris/result.json and result.html
"""

# No ``from __future__ import annotations``: Typer reads the commands' annotations at runtime.
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, out, print_json, show, table

__all__ = ["app"]

app = typer.Typer()


@app.command()
@clean_errors
def models(as_json: JsonOpt = False) -> None:
    """List the models that can be loaded here (offline)."""
    from interp.models.loading import list_models

    rows = list_models()
    if as_json:
        print_json(rows)
    else:
        out.print(table(rows, "Models"))


@app.command()
@clean_errors
def info(model: Annotated[str | None, typer.Argument(help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")] = None,
         as_json: JsonOpt = False) -> None:
    """Show a model's card: architecture, shape, parameters, context length."""
    from interp.models.loading import load_model

    card = load_model(model).info()
    if as_json:
        print_json(card)
    else:
        out.print(table([{"field": k, "value": v} for k, v in card.items()], card["name"]))


@app.command()
@clean_errors
def predict(prompt: Annotated[str, typer.Argument(help="Text the model continues.")],
            k: Annotated[int, typer.Option("-k", "--top-k", help="How many tokens to show.")] = 5,
            model: ModelOpt = None,
            chat: Annotated[bool, typer.Option("--chat", help="Wrap the prompt in the chat template.")] = False,
            save: OutOpt = None,
            as_json: JsonOpt = False) -> None:
    """Print the most likely next tokens after PROMPT with their probabilities."""
    from interp.models.loading import load_model

    result = load_model(model).top_next_tokens(prompt, k=k, chat=chat)
    rows = [{"rank": r["rank"], "token": repr(r["token"]), "prob": float(r["prob"]), "logit": float(r["logit"])}
            for r in result.to_frame().to_dict(orient="records")]
    show(result, as_json=as_json, out_dir=save, tables=[(None, rows)])
