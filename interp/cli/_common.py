"""What every ``interp`` command shares: options, error handling, JSON and tables, the consoles.

A leaf module: it imports none of the command modules (they import it), and nothing heavy.
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

__all__ = ["JsonOpt", "ModelOpt", "err", "out", "print_json", "table", "write_result", "clean_errors"]

out = Console()
err = Console(stderr=True)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def print_json(data: Any) -> None:
    """Write ``data`` to stdout as indented JSON (``default=str`` for paths and the like)."""
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


def table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """A rich table of ``rows`` (dicts with the same keys); floats print with 4 significant digits."""
    grid = Table(title=title, title_justify="left")
    for column in rows[0] if rows else []:
        grid.add_column(str(column))
    for row in rows:
        grid.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    return grid

