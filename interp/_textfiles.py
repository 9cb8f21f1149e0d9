"""Reading a user's text file: the checks every reader makes, written once.

A file meant to hold text is refused with a message that says what was wrong and what to give instead when it
is missing (or a folder), binary (NUL bytes in its first 8 KiB), not UTF-8, or holds no text. A UTF-8 byte-order
mark is dropped. :func:`interp.probing.read_text_file` (one sentence per line), :func:`interp.features.read_texts`
(paragraphs or JSON lines) and the CoNLL-U reader (:func:`interp.probing.read_conllu`) read through here and
parse the text their own way.

Example:
    >>> text = read_text("notes.txt", expect="a UTF-8 text file with one sentence per line")
    >>> lines = require_text([l.strip() for l in text.splitlines() if l.strip()], "notes.txt",
    ...                      expect="a UTF-8 text file with one sentence per line", detail="every line is empty")
"""

from __future__ import annotations

import os
from typing import Any

from interp.errors import InvalidTextFileError

__all__ = ["read_text", "require_text", "SNIFF_BYTES"]

#: how much of the file's start is searched for NUL bytes (a binary file has them early).
SNIFF_BYTES = 8192


def read_text(path: Any, *, expect: str, what: str = "text file",
              error: type[InvalidTextFileError] = InvalidTextFileError) -> str:
    """The decoded text of the file at ``path``.

    Args:
        path: a path (str or os.PathLike) or a Traversable of a package's data.
        expect: what the file should be, for the messages ("a UTF-8 text file with one sentence per line").
        what: the kind of file, for the missing-file message ("text file", "CoNLL-U file").
        error: the named error for a file that is not text (InvalidTextFileError or a subclass).

    Returns:
        The text, decoded as UTF-8 (a byte-order mark dropped).

    Raises:
        FileNotFoundError: no such file (or a folder).
        InvalidTextFileError (``error``): binary, or not UTF-8.
    """
    from pathlib import Path

    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if not path.is_file():
        folder = isinstance(path, Path) and path.is_dir()
        raise FileNotFoundError(f"No {what} at {path}{' (it is a folder)' if folder else ''}; give {expect}.")
    data = path.read_bytes()
    if b"\x00" in data[:SNIFF_BYTES]:
        raise error(f"{path} looks binary (it contains NUL bytes); give {expect}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); give {expect}.") from None


def require_text(items: list, path: Any, *, expect: str, detail: str = "",
                 error: type[InvalidTextFileError] = InvalidTextFileError) -> list:
    """``items`` (what a reader parsed from the file at ``path``), or the named error when there are none.

    Args:
        items: the texts (or records) read.
        path: the file, for the message.
        expect: what the file should be, for the message.
        detail: why there is nothing, for the message ("every line is empty").
        error: the named error (InvalidTextFileError or a subclass).
    """
    if not items:
        raise error(f"{path} holds no text{': ' + detail if detail else ''}; give {expect}.")
    return items
