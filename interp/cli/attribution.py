"""The ``interp attribute`` command: a thin shell over :mod:`interp.attribution`.

    interp attribute "The capital of France is" --method integrated_gradients --target " Paris"
    interp attribute "The capital of France is" --method all --json   # the saved format (interp.Result.from_json)
    interp attribute "The capital of France is" --out runs/attribution     # result.json + result.html

Nothing heavy is imported until the command runs.
"""

# No ``from __future__ import annotations`` here: Typer reads the command's annotations at runtime.
from typing import Annotated, Any

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, show

__all__ = ["app"]

app = typer.Typer()


def _scores_rows(result: Any) -> list[dict[str, Any]]:
    rows = []
    for i, (token, total) in enumerate(zip(result.tokens, result.total)):
        row: dict[str, Any] = {"#": i, "token": repr(token), "score": float(total)}
        if len(result.target_tokens) > 1:
            row.update({f"→{t!r}": float(v) for t, v in zip(result.target_tokens, result.scores[:, i])})
        rows.append(row)
    return rows


@app.command("attribute")
@clean_errors
def attribute_command(
        prompt: Annotated[str, typer.Argument(help="Text whose next-token prediction is explained.")],
        method: Annotated[str, typer.Option("--method", help="ablation, gradient, grad_x_input, "
                                            "integrated_gradients, rollout, or all (compare them).")] = "ablation",
        target: Annotated[str | None, typer.Option("--target", "-t", help="Continuation to explain; default: "
                                                   "the model's top next token.")] = None,
        model: ModelOpt = None,
        unit: Annotated[str, typer.Option("--unit", help="token or word.")] = "token",
        chat: Annotated[bool, typer.Option("--chat", help="Wrap the prompt in the chat template; report the "
                                           "user's tokens.")] = False,
        steps: Annotated[int, typer.Option("--steps", help="Integration points of integrated gradients.")] = 50,
        baseline: Annotated[str, typer.Option("--baseline", help="Integrated gradients' baseline: space, pad "
                                              "or zeros.")] = "space",
        save: OutOpt = None,
        as_json: JsonOpt = False) -> None:
    """Show which input tokens drive the model's prediction after PROMPT."""
    from interp._params import check_args
    from interp.attribution.evaluation import compare_methods
    from interp.attribution.gradient import gradient_saliency
    from interp.attribution.methods import attribute
    from interp.models.loading import load_model

    if method != "all":  # the methods of attribute's table, or all of them
        check_args(attribute, where="interp attribute", method=method)
    check_args(gradient_saliency, where="interp attribute", options={"n_steps": "--steps"}, unit=unit, n_steps=steps,
               baseline=baseline)  # from its table, before the model loads
    loaded = load_model(model)
    if method == "all":
        result = compare_methods(loaded, prompt, target, unit=unit, chat=chat, n_steps=steps)
    else:
        options: dict[str, Any] = {"unit": unit, "chat": chat}
        if method == "integrated_gradients":
            options["n_steps"] = steps
            options["baseline"] = baseline
        result = attribute(loaded, prompt, method, target, **options)
    notes: list[str] = []
    if method == "all":
        frame = result.scores_frame()
        frame["token"] = [repr(t) for t in frame["token"]]
        tables = [("Methods", result.to_frame()), ("Scores", frame)]
    else:
        tables = [(f"{result.method} ({result.metric})", _scores_rows(result))]
        if result.segment_scores:
            tables.append(("Chat segments", [{"segment": k, "score": float(sum(v))}
                                             for k, v in result.segment_scores.items()]))
        check = result.completeness()
        if check is not None:
            notes.append(check)
    show(result, as_json=as_json, out_dir=save, tables=tables, notes=notes)
