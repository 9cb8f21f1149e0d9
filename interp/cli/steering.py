"""``interp steer ...``: steering vectors from the command line (a thin shell over interp.steering).

    interp steer vector --concept french --layers 15 --out /tmp/french         # result.json + result.html
    interp steer vector --positives pos.txt --negatives neg.txt --method pca --out /tmp/mine
    interp steer apply "Tell me about your morning." --vector /tmp/french --strength 6
    interp steer sweep --vector /tmp/french --concept french --strengths 2,4,8,12 --out /tmp/french-sweep
    interp steer export /tmp/french french.gguf      # llama-cli -m model.gguf --control-vector-scaled french.gguf 6

``--vector`` takes a folder written by ``steer vector --out``, its ``result.json``, or a llama.cpp ``.gguf``
control vector. Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, out, progress_bars, show

__all__ = ["app"]

app = typer.Typer(help="Steer a behaviour along a direction (contrast-pair vectors, llama.cpp control vectors).",
                  no_args_is_help=True)

ConceptOpt = Annotated[str | None, typer.Option("--concept", "-c", help="A shipped concept: french, sentiment or "
                                                "truth (its pairs, held-out prompts and scorer).")]
VectorOpt = Annotated[Path | None, typer.Option("--vector", "-v", help="A saved vector: the folder of `interp steer "
                                                "vector --out`, its result.json, or a llama.cpp .gguf.")]


def _vector(model, vector: Path | None, concept_name: str | None, layers: str | None, method: str):
    """The vector a command uses: the file given, else one built from the concept's pairs."""
    from interp.errors import InvalidParameterError
    from interp.steering import concept, load_vector, middle_layer, steering_vector

    if vector is not None:
        return load_vector(vector)
    if concept_name is None:
        raise InvalidParameterError("Give --vector (a saved steering vector) or --concept (french, sentiment or truth).")
    c = concept(concept_name)
    return steering_vector(model, c.positives, c.negatives, layers=layers or [middle_layer(model)], method=method,
                           concept=c.name)


@app.command("vector")
@clean_errors
def vector_cmd(concept_name: ConceptOpt = None,
               positives: Annotated[Path | None, typer.Option("--positives", help="Texts with the behaviour, one per "
                                                              "line (paired with --negatives line by line).")] = None,
               negatives: Annotated[Path | None, typer.Option("--negatives", help="Matched texts without it.")] = None,
               layers: Annotated[str | None, typer.Option("--layers", "-l", help="0,3,6, 10:20 or 'all' (default: the "
                                                          "middle layer).")] = None,
               method: Annotated[str, typer.Option("--method", help="mean_diff (CAA) or pca (repeng); a probe's "
                                                   "direction: the library's method='probe'.")] = "mean_diff",
               name: Annotated[str, typer.Option("--name", help="A name stored with your vector.")] = "",
               model: ModelOpt = None, out_dir: OutOpt = None, json_out: JsonOpt = False) -> None:
    """Build a steering vector from contrast pairs (a shipped concept's, or your two files)."""
    from interp._params import check_args, options_of
    from interp._validation import check_choice
    from interp.errors import InvalidParameterError
    from interp.models.loading import load_model
    from interp.probing.pos import read_text_file
    from interp.steering import concept, middle_layer, steering_vector

    where = "interp steer vector"  # method='probe' needs a fitted probe: the library's, not the command's
    check_choice(method, tuple(m for m in options_of(steering_vector, "method") if m != "probe"), name="--method",
                 where=where)
    if layers is not None:
        check_args(steering_vector, where=where, layers=layers)  # its form, before the model loads
    if (positives is None) != (negatives is None) or (positives is None) == (concept_name is None):
        raise InvalidParameterError("Give either --concept, or both --positives and --negatives.")
    if concept_name is not None:
        c = concept(concept_name)
        pos, neg, name = c.positives, c.negatives, name or c.name
    else:
        pos, neg = read_text_file(positives), read_text_file(negatives)
    m = load_model(model)
    result = steering_vector(m, pos, neg, layers=layers or [middle_layer(m)], method=method, concept=name)
    show(result, as_json=json_out, out_dir=out_dir, tables=[("Steering vector", result.to_frame())])


@app.command("apply")
@clean_errors
def apply_cmd(prompt: Annotated[str, typer.Argument(help="The prompt to continue.")],
              vector: VectorOpt = None, concept_name: ConceptOpt = None,
              strength: Annotated[str, typer.Option("--strength", "-s", help="A strength or a comma list (0, the "
                                                    "unsteered model, is always added).")] = "4",
              layers: Annotated[str | None, typer.Option("--layers", "-l", help="With --concept: where to build the "
                                                         "vector (default: the middle layer).")] = None,
              max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n")] = 32,
              chat: Annotated[bool | None, typer.Option("--chat/--no-chat", help="Wrap the prompt in the chat "
                                                        "template (default: when the model has one).")] = None,
              model: ModelOpt = None, out_dir: OutOpt = None, json_out: JsonOpt = False) -> None:
    """Generate with the vector added (and without), side by side."""
    from interp._params import check_args
    from interp.models.loading import load_model
    from interp.steering import parse_strengths, steer, steering_vector

    where = "interp steer apply"
    values = list(parse_strengths(strength, name="--strength", where=where))
    check_args(steer, where=where, prompt=prompt, strength=values, max_new_tokens=max_new_tokens)  # before the model
    if layers is not None:
        check_args(steering_vector, where=where, layers=layers)
    m = load_model(model)
    v = _vector(m, vector, concept_name, layers, "mean_diff")
    result = steer(m, prompt, v, values, max_new_tokens=max_new_tokens, chat=chat, scorer=concept_name)
    frame = result.to_frame().drop(columns=[] if concept_name else ["score"])
    show(result, as_json=json_out, out_dir=out_dir, tables=[("Generations", frame)])


@app.command("sweep")
@clean_errors
def sweep_cmd(vector: VectorOpt = None, concept_name: ConceptOpt = None,
              strengths: Annotated[str, typer.Option("--strengths", help="Comma list (0 is always added).")] = "0.5,1,2,4,8",
              prompts: Annotated[Path | None, typer.Option("--prompts", help="Held-out prompts, one per line (default: "
                                                           "the concept's).")] = None,
              scorer: Annotated[str | None, typer.Option("--scorer", help="french, sentiment or truth (default: the "
                                                         "concept's).")] = None,
              neutral: Annotated[Path | None, typer.Option("--neutral", help="Neutral text for the perplexity cost, one "
                                                           "per line (default: interp's).")] = None,
              layers: Annotated[str | None, typer.Option("--layers", "-l", help="With --concept and no --vector: where "
                                                         "to build it (default: the middle layer).")] = None,
              max_prompts: Annotated[int, typer.Option("--max-prompts", help="Use at most this many prompts.")] = 16,
              max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n")] = 24,
              max_ppl_ratio: Annotated[float, typer.Option("--max-ppl-ratio", help="Perplexity rise allowed for the "
                                                           "headline strength.")] = 1.5,
              chat: Annotated[bool | None, typer.Option("--chat/--no-chat")] = None,
              model: ModelOpt = None, out_dir: OutOpt = None, json_out: JsonOpt = False) -> None:
    """Behaviour rate against KL and neutral perplexity over strengths, with intervals."""
    from interp._params import check_args
    from interp._validation import check_int
    from interp.errors import InvalidParameterError
    from interp.models.loading import load_model
    from interp.probing.pos import read_text_file
    from interp.steering import concept, parse_strengths, steering_sweep, steering_vector

    where = "interp steer sweep"
    values = list(parse_strengths(strengths, name="--strengths", where=where))
    check_args(steering_sweep, where=where, strengths=values, max_new_tokens=max_new_tokens,
               max_ppl_ratio=max_ppl_ratio, **({"scorer": scorer} if scorer is not None else {}))  # before the model
    check_int(max_prompts, name="--max-prompts", where=where, low=1)
    if layers is not None:
        check_args(steering_vector, where=where, layers=layers)
    c = concept(concept_name) if concept_name else None
    if prompts is None and c is None:
        raise InvalidParameterError("Give --prompts (one per line) or --concept for its held-out prompts.")
    if scorer is None and c is None:
        raise InvalidParameterError("Give --scorer (french, sentiment or truth) or --concept.")
    m = load_model(model)
    v = _vector(m, vector, concept_name, layers, "mean_diff")
    items = read_text_file(prompts) if prompts is not None else c.prompts
    with progress_bars(quiet=json_out) as bars:
        result = steering_sweep(m, v, items[:max_prompts], values, scorer=scorer or c.name,
                                neutral_texts=read_text_file(neutral) if neutral else None,
                                max_new_tokens=max_new_tokens, max_ppl_ratio=max_ppl_ratio,
                                chat=c.chat if chat is None and c is not None else chat, progress=bars)
    show(result, as_json=json_out, out_dir=out_dir, tables=[("Steering sweep", result.to_frame())])


@app.command("export")
@clean_errors
def export_cmd(vector: Annotated[Path, typer.Argument(help="A saved vector (folder or result.json).")],
               gguf_path: Annotated[Path, typer.Argument(help="The .gguf file to write.")],
               model_hint: Annotated[str | None, typer.Option("--model-hint", help="controlvector.model_hint (default: "
                                                              "the model's architecture, e.g. llama).")] = None) -> None:
    """Write a llama.cpp control-vector GGUF (interp layer l is llama.cpp's direction.{l-1})."""
    from interp.steering import export_control_vector, load_vector

    v = load_vector(vector)
    path = export_control_vector(v, gguf_path, model_hint=model_hint)
    out.print(f"wrote {path}: layers {v.layers} as llama.cpp direction."
              f"{', direction.'.join(str(layer - 1) for layer in v.layers)}", highlight=False)
