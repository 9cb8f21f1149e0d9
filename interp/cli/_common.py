"""What every ``interp`` command shares: options, error handling, JSON and tables, the consoles.

A leaf module: it imports none of the command modules (they import it), and nothing heavy.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.table import Table

__all__ = ["JsonOpt", "ModelOpt", "OutOpt", "RichProgress", "check_out_folder", "clean_errors", "err",
           "long_run_notice", "out", "print_json", "print_result", "progress_bars", "save_result", "show", "table",
           "write_result"]

out = Console(soft_wrap=True)  # text lines are never broken by hard newlines (the terminal wraps them); tables fit
err = Console(stderr=True)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name or path; default SmolLM2-135M-Instruct-Q4_1.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (a result: its saved format).")]
_OUT_OPTION = typer.Option("--out", "-o", help="Folder to save the result in: result.json and result.html (the "
                                               "explorer's Runs page opens it).")
OutOpt = Annotated[Path | None, _OUT_OPTION]
_FILE_SUFFIXES = (".json", ".html", ".htm")


def clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn interp's named errors and file-system errors (a missing file, a folder that cannot be written)
    into one line on stderr and exit code 1. The value of an ``--out`` option is checked first
    (:func:`check_out_folder`), so a folder that cannot be written fails before the command's work."""
    out_parameters = _out_parameters(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from interp.errors import InterpError

        try:
            for name, folder_only in out_parameters:  # an --out that cannot be written fails before any work
                if kwargs.get(name) is not None:
                    check_out_folder(kwargs[name], folder_only=folder_only)
            return fn(*args, **kwargs)
        except (InterpError, OSError) as exc:
            err.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def _out_parameters(fn: Callable[..., Any]) -> list[tuple[str, bool]]:
    """``(parameter name, folder only)`` of ``fn``'s ``--out`` options (folder only: declared with :data:`OutOpt`)."""
    found = []
    for name, parameter in inspect.signature(fn).parameters.items():
        for info in getattr(parameter.annotation, "__metadata__", ()):
            # in Annotated, typer.Option("--out", ...) keeps its first name as the OptionInfo's default
            if "--out" in (getattr(info, "default", None), *(getattr(info, "param_decls", None) or ())):
                found.append((name, info is _OUT_OPTION))
    return found


def check_out_folder(path: str | Path, *, folder_only: bool = True) -> Path:
    """Check, before any work, that the ``--out`` folder ``path`` can be created and written; return it.

    Nothing is created. ``folder_only`` (an :data:`OutOpt`): ``path`` is the folder itself, and a file name
    (``x.json``, ``x.html``) is refused; otherwise a path ending in a file suffix is a file whose folder is checked.

    Raises:
        OutputFolderError: a file stands where a folder must be, a folder that is not writable, or (folder
            only) a file name; the message names the path.
    """
    from interp.errors import OutputFolderError

    path = Path(path)
    if folder_only and path.suffix.lower() in _FILE_SUFFIXES:
        raise OutputFolderError(f"--out is a folder (it gets result.json and result.html, which the explorer's Runs "
                                f"page opens). Got {str(path)!r}, a file name; use --out {str(path.with_suffix(''))!r}.")
    folder = path if folder_only or not path.suffix else path.parent
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"Cannot write the --out folder {str(folder)!r}: a file of that name is in the way.")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError(f"Cannot create the --out folder {str(folder)!r}: {str(existing)!r} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"Cannot write the --out folder {str(folder)!r}: {str(existing)!r} is not writable.")
    return path


def save_result(result: Any, folder: str | Path) -> tuple[Path, Path]:
    """Save ``result`` for ``--out FOLDER``: ``FOLDER/result.json`` and ``FOLDER/result.html``; return both paths."""
    return write_result(result, folder, "result")


def show(result: Any, *, as_json: bool = False, out_dir: str | Path | None = None,
         tables: Sequence[tuple[str | None, Any]] = (), notes: Sequence[str] = ()) -> None:
    """The one way a command prints its result (and saves it for ``--out``).

    ``out_dir`` (an :data:`OutOpt`): the result is saved there first (:func:`save_result`: ``result.json`` and
    ``result.html``). ``as_json``: the saved format on stdout (:func:`print_result`) and nothing else. Otherwise
    ``result.summary()`` (it leads with the result's caveats), then each of ``tables`` (``(title, rows)``: a
    DataFrame or a list of dicts), then each line of ``notes``, then where the result was saved.
    """
    saved = save_result(result, out_dir) if out_dir is not None else None
    if as_json:
        print_result(result)
        return
    out.print(result.summary(), highlight=False, markup=False, soft_wrap=True)
    for title, rows in tables:
        if hasattr(rows, "to_dict"):
            rows = rows.to_dict(orient="records")
        out.print(table(list(rows), title))
    for note in notes:
        out.print(note, highlight=False, markup=False, soft_wrap=True)
    if saved is not None:
        out.print(f"wrote {saved[0]} and {saved[1]}", highlight=False, markup=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write ``data`` to stdout as indented JSON (``default=str`` for paths and the like)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_result(result: Any) -> None:
    """Write ``result`` to stdout in the saved result format (``result.to_json()``: what ``--out x.json`` writes and
    :meth:`interp.Result.from_json` / :func:`interp.load_result` read back)."""
    sys.stdout.write(result.to_json() + "\n")


def write_result(result: Any, out_dir: Any, stem: str) -> tuple[Any, Any]:
    """Save ``result`` as ``out_dir/stem.json`` and the self-contained ``out_dir/stem.html``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = result.save(out_dir / f"{stem}.json")
    html_path = out_dir / f"{stem}.html"
    result.to_html(html_path)
    return json_path, html_path


def table(rows: list[dict[str, Any]], title: str | None = None) -> FittedTable:
    """A table of ``rows`` (dicts with the same keys) that fits the console's width; floats print with 4
    significant digits. Nothing is cut to "...": text wraps, and a table wider than the console is printed
    in parts, each repeating the first column (as pandas prints a wide frame)."""
    columns = [str(c) for c in (rows[0] if rows else [])]
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    return FittedTable(columns, cells, title)


class FittedTable:
    """A rich renderable: one rich table per part of the columns that fits the width it is printed in."""

    def __init__(self, columns: list[str], cells: list[list[str]], title: str | None = None):
        self.columns, self.cells, self.title = columns, cells, title

    def _width(self, index: int) -> int:
        """The width column ``index`` needs unwrapped (its widest cell or heading, plus padding and border)."""
        return max([len(self.columns[index]), *(max(map(len, row[index].splitlines() or [""])) for row in self.cells)]) + 3

    def parts(self, max_width: int) -> list[list[int]]:
        """The column indices of each part, in order; the first column starts every part."""
        if len(self.columns) <= 1:
            return [list(range(len(self.columns)))]
        widths = [self._width(i) for i in range(len(self.columns))]
        parts, current = [], [0]
        used = widths[0] + 1
        for index in range(1, len(self.columns)):
            if len(current) > 1 and used + widths[index] > max_width:
                parts.append(current)
                current, used = [0], widths[0] + 1
            current.append(index)
            used += widths[index]
        parts.append(current)
        return parts

    def rich_table(self, indices: list[int], title: str | None) -> Table:
        grid = Table(title=title, title_justify="left")
        for i in indices:
            # the first column (a name to copy) and numbers never wrap; other text folds rather than being cut
            numeric = all(_is_number(row[i]) for row in self.cells)
            grid.add_column(self.columns[i], overflow="fold", no_wrap=i == 0 or numeric,
                            min_width=min(self._width(i) - 3, 60) if (i == 0 or numeric) else None)
        for row in self.cells:
            grid.add_row(*(row[i] for i in indices))
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts = self.parts(options.max_width)
        for number, indices in enumerate(parts):
            title = self.title if len(parts) == 1 else f"{self.title or 'Table'} ({number + 1}/{len(parts)})"
            yield self.rich_table(indices, title)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    """What a command passes as ``progress=`` to the library call it runs: a :class:`RichProgress` while the block
    runs when stderr is a terminal; else None (the library's default: no bars off a terminal). ``quiet`` gives
    False (never bars). Every long library call takes a callable (:mod:`interp.progress`), so the value is passed
    as it is, whatever the function."""
    if quiet:
        yield False
        return
    if not err.is_terminal:
        yield None
        return
    with RichProgress() as bars:
        yield bars


# How long each command's defaults take on the default model on a 2-core CPU (measured on a partly shared machine,
# interp 0.2), and a quick setting; printed before the work starts when the defaults are in force.
LONG_DEFAULTS = {
    "interp probe pos": ("every layer over the whole built-in corpus", "about 11 minutes",
                         "--layers 0:31:3 --max-sentences 300"),
    "interp probe truth": ("every layer of three statement sets", "about 8 minutes", "--layers 0:31:3 --max-pairs 150"),
    "interp map world": ("every layer over 3,000 places", "about 4 minutes", "--layers 0:31:5 --n-places 500"),
}


def long_run_notice(command: str) -> None:
    """Say up front (on stderr) that ``command``'s defaults take minutes, and how to take a quick look instead."""
    what, how_long, quick = LONG_DEFAULTS[command]
    err.print(f"{command} with its defaults runs {what}: {how_long} for SmolLM2-135M on a 2-core CPU (a bar shows the "
              f"time left as it goes). For a quick look: {quick}.", highlight=False, markup=False, soft_wrap=True)

