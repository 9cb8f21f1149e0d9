"""``interp explore``: serve the Streamlit explorer.

    interp explore --port 8501          # on 127.0.0.1 unless --host says otherwise
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from typing import Annotated

import typer
from rich.markup import escape

from interp.cli._common import clean_errors, err

__all__ = ["app"]

app = typer.Typer()

_NO_HANDLER = object()


@app.command()
@clean_errors
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
