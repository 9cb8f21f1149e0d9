"""The ``interp`` command line: a thin shell over the library.

Every command calls library functions and prints their results (a rich table, or JSON with
``--json``). Errors print one line, ``error: ...``, and exit with status 1, never a traceback.

    interp models
    interp info tiny-gpt2 --json
    interp predict "The capital of France is" -k 5
    interp explore --port 8501          # the Streamlit explorer, on 127.0.0.1 unless --host says otherwise
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="interp: see what a transformer language model is thinking.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn interp's named errors and file-system errors (a missing file, a folder that cannot be written)
    into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from interp.errors import InterpError

        try:
            return fn(*args, **kwargs)
        except (InterpError, OSError) as exc:
            err.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def write_result(result: Any, out_dir: Any, stem: str) -> tuple[Any, Any]:
    """Save ``result`` as ``out_dir/stem.json`` and the self-contained ``out_dir/stem.html``; return both paths."""
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = result.save(out_dir / f"{stem}.json")
    html_path = out_dir / f"{stem}.html"
    result.to_html(html_path)
    return json_path, html_path


def _table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in rows[0] if rows else []:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    return table


@app.command()
@_clean_errors
def models(as_json: JsonOpt = False) -> None:
    """List the models that can be loaded here (offline)."""
    from interp.models.loading import list_models

    rows = list_models()
    if as_json:
        _print_json(rows)
    else:
        out.print(_table(rows, "Models"))


@app.command()
@_clean_errors
def info(model: Annotated[str | None, typer.Argument(help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")] = None,
         as_json: JsonOpt = False) -> None:
    """Show a model's card: architecture, shape, parameters, context length."""
    from interp.models.loading import load_model

    card = load_model(model).info()
    if as_json:
        _print_json(card)
    else:
        out.print(_table([{"field": k, "value": v} for k, v in card.items()], card["name"]))


@app.command()
@_clean_errors
def predict(prompt: Annotated[str, typer.Argument(help="Text the model continues.")],
            k: Annotated[int, typer.Option("-k", "--top-k", help="How many tokens to show.")] = 5,
            model: ModelOpt = None,
            chat: Annotated[bool, typer.Option("--chat", help="Wrap the prompt in the chat template.")] = False,
            save: Annotated[str | None, typer.Option("--out", help="Also save the result (.json or .html).")] = None,
            as_json: JsonOpt = False) -> None:
    """Print the most likely next tokens after PROMPT with their probabilities."""
    from interp.models.loading import load_model

    result = load_model(model).top_next_tokens(prompt, k=k, chat=chat)
    if save:
        result.save(save)
    if as_json:
        _print_json({"model": result.model_name, "prompt": result.prompt,
                     "top": result.to_frame().to_dict(orient="records")})
        return
    out.print(result.summary(), highlight=False)
    out.print(_table([{"rank": r["rank"], "token": repr(r["token"]), "prob": float(r["prob"]), "logit": float(r["logit"])}
                      for r in result.to_frame().to_dict(orient="records")]))


_NO_HANDLER = object()


@app.command()
@_clean_errors
def explore(port: Annotated[int, typer.Option("--port", "-p", help="TCP port to serve on.")] = 8501,
            host: Annotated[str, typer.Option("--host", help="Address to bind. 127.0.0.1 serves this machine only; "
                                              "0.0.0.0 serves every network interface, to anyone (there is no login).")
                            ] = "127.0.0.1",
            model: Annotated[str | None, typer.Option("--model", "-m", help="Starting model (name or folder); default "
                                                      "$INTERP_MODEL, else SmolLM2-135M-Instruct.")] = None) -> None:
    """Serve the Streamlit explorer at http://HOST:PORT (open it in a browser); Ctrl-C stops it."""
    import os
    import signal
    import subprocess

    from interp.explorer import explorer_command, exposure_warning

    argv, extra_env = explorer_command(port=port, host=host, model=model)
    warning = exposure_warning(host, port)
    if warning:
        err.print(f"[bold yellow]{escape(warning)}[/]", highlight=False, soft_wrap=True)
    child = subprocess.Popen(argv, env={**os.environ, **extra_env})  # only the child's environment changes
    try:  # a SIGTERM to this process stops the server too (not possible outside the main thread)
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    except ValueError:
        previous = _NO_HANDLER
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to the server too: let it shut down
        try:
            code = child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.terminate()
            code = child.wait()
    finally:
        if previous is not _NO_HANDLER:
            signal.signal(signal.SIGTERM, previous)
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise typer.Exit(code if code > 0 else 1)


def _register_analyses() -> None:
    """Add each analysis package's commands (each package imports its heavy modules lazily)."""
    from interp.attribution.cli import register as register_attribution
    from interp.batch.cli import register as register_batch
    from interp.probing.cli import register as register_probing
    from interp.projection.cli import register as register_projection
    from interp.truth.cli import register as register_truth

    register_attribution(app)
    register_probing(app)  # makes the ``probe`` group that register_truth adds ``probe truth`` to
    register_projection(app)
    register_truth(app)
    register_batch(app)


_register_analyses()


def main() -> None:
    """Entry point of the ``interp`` console script."""
    app()


if __name__ == "__main__":
    main()
