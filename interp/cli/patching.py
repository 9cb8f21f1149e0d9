"""The ``interp patch``, ``interp trace`` and ``interp atp`` commands: thin shells over :mod:`interp.patching`.

    interp patch "The capital of France is" "The capital of Italy is" --answer " Paris" --wrong " Rome"
    interp patch "Hint: Rome. The capital of Italy is" "The capital of Italy is" --answer " Rome" --align right
    interp trace "The capital of France is" --subject France --answer " Paris" --samples 10
    interp atp "The capital of France is" "The capital of Italy is" --answer " Paris" --wrong " Rome" --random 30

Each prints the result's summary and its largest cells; ``--out FOLDER`` saves it (result.json, result.html),
``--json`` prints the saved format. Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations`` here: Typer reads the command's annotations at runtime.
from typing import Annotated, Any

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, progress_bars, show

__all__ = ["app"]

app = typer.Typer()

SitesOpt = Annotated[str, typer.Option("--sites", help="Comma list of resid, attn, mlp, head.")]
AnswerOpt = Annotated[str, typer.Option("--answer", "-a", help="The clean answer, one token (mind the space: ' Paris').")]
WrongOpt = Annotated[str | None, typer.Option("--wrong", "-w", help="The corrupted answer for logit_diff; default: "
                                              "the corrupted prompt's top token.")]
MetricOpt = Annotated[str, typer.Option("--metric", help="logit_diff or prob.")]
AlignOpt = Annotated[str | None, typer.Option("--align", help="left or right, for prompts of different lengths.")]
SaveOpt = OutOpt
TopOpt = Annotated[int, typer.Option("--top", help="How many of the largest cells to list.")]


def _sites(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _finish(result: Any, frame: Any, value: str, top: int, title: str, save: Any, as_json: bool,
            more: list[tuple[str, Any]] = ()) -> None:
    frame = frame.reindex(frame[value].abs().sort_values(ascending=False).index).head(top)
    frame["token"] = [repr(t) for t in frame["token"]]
    show(result, as_json=as_json, out_dir=save, tables=[(title, frame), *more])


@app.command("patch")
@clean_errors
def patch_command(
        clean: Annotated[str, typer.Argument(help="The clean prompt (activations come from it).")],
        corrupted: Annotated[str, typer.Argument(help="The corrupted prompt (it runs with them patched in).")],
        answer: AnswerOpt, wrong: WrongOpt = None, model: ModelOpt = None,
        sites: SitesOpt = "resid,attn,mlp,head", metric: MetricOpt = "logit_diff", align: AlignOpt = None,
        top: TopOpt = 15, save: SaveOpt = None, as_json: JsonOpt = False) -> None:
    """Activation patching: each cell of CLEAN patched into CORRUPTED (clean = 1, corrupted = 0)."""
    from interp._params import check_args
    from interp.models.loading import load_model
    from interp.patching import activation_patching
    from interp.targets import Target

    check_args(activation_patching, where="interp patch", sites=_sites(sites), metric=metric)  # before the model loads
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = activation_patching(loaded, clean, corrupted, target=Target(answer, foil=wrong), sites=_sites(sites),
                                     metric=metric, align=align, progress=bars)
    _finish(result, result.to_frame(), "value", top, "Largest cells (normalised)", save, as_json)


@app.command("trace")
@clean_errors
def trace_command(
        prompt: Annotated[str, typer.Argument(help="A factual prompt, e.g. 'The capital of France is'.")],
        subject: Annotated[str, typer.Option("--subject", "-s", help="The text in PROMPT whose embeddings are noised.")],
        answer: Annotated[str | None, typer.Option("--answer", "-a", help="The answer token; default: the model's "
                                                   "top next token.")] = None,
        model: ModelOpt = None,
        samples: Annotated[int, typer.Option("--samples", help="Noise draws averaged (ROME: 10).")] = 10,
        noise: Annotated[float, typer.Option("--noise", help="Noise std in embedding stds (ROME: 3).")] = 3.0,
        window: Annotated[int, typer.Option("--window", help="MLP / attention blocks restored together.")] = 10,
        kinds: Annotated[str, typer.Option("--kinds", help="Comma list of hidden, mlp, attn.")] = "hidden,mlp,attn",
        seed: Annotated[int, typer.Option("--seed")] = 0,
        top: TopOpt = 15, save: SaveOpt = None, as_json: JsonOpt = False) -> None:
    """Causal tracing (ROME): noise the subject, restore one state at a time, measure p(answer)."""
    from interp._params import check_args
    from interp.models.loading import load_model
    from interp.patching import causal_tracing

    check_args(causal_tracing, where="interp trace", samples=samples, noise=noise, window=window, seed=seed,
               kinds=_sites(kinds))  # before the model loads
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = causal_tracing(loaded, prompt, subject, target=answer, noise=noise, samples=samples, window=window,
                                seed=seed, kinds=_sites(kinds), progress=bars)
    _finish(result, result.to_frame(), "indirect_effect", top, "Largest indirect effects", save, as_json)


@app.command("atp")
@clean_errors
def atp_command(
        clean: Annotated[str, typer.Argument(help="The clean prompt.")],
        corrupted: Annotated[str, typer.Argument(help="The corrupted prompt.")],
        answer: AnswerOpt, wrong: WrongOpt = None, model: ModelOpt = None,
        sites: SitesOpt = "resid,attn,mlp,head", metric: MetricOpt = "logit_diff", align: AlignOpt = None,
        verify: Annotated[int, typer.Option("--verify", help="Re-run this many top cells by exact patching.")] = 10,
        random_cells: Annotated[int, typer.Option("--random", help="Also re-run this many other cells, a seeded random "
                                                  "sample: what reveals cells the estimate missed.")] = 20,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the random sample.")] = 0,
        method: Annotated[str, typer.Option("--method", help="atp (one gradient) or ig (gradients along "
                                            "interpolated inputs, EAP-IG).")
                          ] = "atp",
        steps: Annotated[int, typer.Option("--steps", help="Interpolation steps of --method ig.")] = 5,
        top: TopOpt = 15, save: SaveOpt = None, as_json: JsonOpt = False) -> None:
    """Attribution patching: every cell estimated from gradients; the top ones and a random sample verified exactly."""
    from interp._params import check_args
    from interp.models.loading import load_model
    from interp.patching import attribution_patching
    from interp.targets import Target

    check_args(attribution_patching, where="interp atp", options={"verify_top_k": "--verify", "verify_random": "--random"},
               sites=_sites(sites), metric=metric, verify_top_k=verify, verify_random=random_cells, seed=seed,
               method=method, steps=steps)
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = attribution_patching(loaded, clean, corrupted, target=Target(answer, foil=wrong),
                                      sites=_sites(sites), metric=metric, align=align, verify_top_k=verify,
                                      verify_random=random_cells, seed=seed,
                                      method=method, steps=steps,
                                      progress=bars)
    more = []
    if result.verified:
        verified = result.verified_frame()
        verified["token"] = [repr(t) for t in verified["token"]]
        more = [("Verified by exact patching", verified),
                ("Agreement with exact patching (95 % intervals; NaN: not defined, see the caveats)",
                 result.agreement_frame())]
    _finish(result, result.to_frame(), "estimate", top, "Largest estimates", save, as_json, more)
