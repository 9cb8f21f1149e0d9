"""What every ``interp`` command shares: options, error handling, JSON and tables, the consoles.

A leaf module: it imports none of the command modules (they import it), and nothing heavy.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["JsonOpt", "ModelOpt", "RichProgress", "clean_errors", "err", "out", "print_json", "print_result", "progress_arg",
           "progress_bars", "table", "takes_progress_callback", "write_result"]

out = Console()
err = Console(stderr=True)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (a result: its saved format).")]


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


def print_result(result: Any) -> None:
    """Write ``result`` to stdout in the saved result format (``result.to_json()``: what ``--out x.json`` writes and
    :meth:`interp.Result.from_json` / :func:`interp.load_result` read back)."""
    sys.stdout.write(result.to_json() + "\n")


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



class RichProgress:
    """A progress callback (:mod:`interp.progress`: ``progress(stage, done, total)``) drawing one rich bar per
    stage on stderr, with the stage's name, done / total and the time elapsed. Use it as a context manager
    (the bars are live between enter and exit, and cleared at exit)."""

    def __init__(self, console: Console | None = None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=console or err, transient=True)
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bars.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._bars.add_task(stage, total=total)
        self._bars.update(task, completed=done, total=total)


@contextlib.contextmanager
def progress_bars(*, quiet: bool = False) -> Iterator[RichProgress | bool | None]:
    """A :class:`RichProgress` while the block runs when stderr is a terminal; else None (the library's
    default: no bars off a terminal). ``quiet`` gives False (never bars)."""
    if quiet:
        yield False
        return
    if not err.is_terminal:
        yield None
        return
    with RichProgress() as bars:
        yield bars


def takes_progress_callback(fn: Callable[..., Any]) -> bool:
    """Whether ``fn``'s ``progress`` parameter takes a callable (its annotation names one), not only bools."""
    try:
        parameter = inspect.signature(fn).parameters["progress"]
    except (KeyError, TypeError, ValueError):
        return False
    return any(word in str(parameter.annotation) for word in ("Callable", "ProgressArg", "ProgressCallback"))


def progress_arg(fn: Callable[..., Any], bars: Any) -> Any:
    """What to pass as ``fn(progress=...)``: ``bars`` (a callback from :func:`progress_bars`) where ``fn`` takes
    callables, else the library's default (None: tqdm on a terminal)."""
    if bars is None or isinstance(bars, bool):
        return bars
    return bars if takes_progress_callback(fn) else None
