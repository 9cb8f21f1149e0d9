"""Command options whose choices come from a library function's validation table (:mod:`interp._params`): a
command accepts exactly what the function accepts and refuses anything else while parsing, before a model loads.
The table is read (and the function's module imported) only when the option is parsed, never when ``interp``
starts or lists its commands.

    probe: Annotated[str, typer.Option("--probe", parser=table_choice("interp.probing.pos:pos_probe", "probe"))]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

__all__ = ["table_choice", "table_choices"]


def table_choices(target: str, param: str, *, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The choices of ``param`` in the table of ``target`` (``"module:function"``), plus ``extra`` (``"all"``)."""
    from interp._params import options_of

    module, name = target.split(":")
    return tuple(str(c) for c in options_of(getattr(importlib.import_module(module), name), param)) + tuple(extra)


def table_choice(target: str, param: str, *, extra: Sequence[str] = ()) -> Callable[[str], str]:
    """A Typer ``parser`` that accepts one of :func:`table_choices` and otherwise fails the command while parsing,
    listing the choices (and the closest one)."""

    def parse(value: str) -> str:
        import difflib

        import typer

        from interp.errors import choices_text

        choices = table_choices(target, param, extra=extra)
        if value in choices:
            return value
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise typer.BadParameter(f"must be one of {choices_text(choices)}. Got {value!r} instead.{hint}")

    parse.__name__ = f"{param}_choice"
    return parse
