"""One reader of users' text files (interp/_textfiles.py): the sentence reader (interp.probing.read_text_file), the
SAE corpus reader (interp.features.read_texts) and the CoNLL-U reader make the same checks, each with a named error
that says what was wrong and what to give instead."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from interp._textfiles import read_text, require_text
from interp.errors import InvalidTextFileError, InvalidTreebankError
from interp.features import read_texts
from interp.probing import read_conllu, read_text_file

ROOT = Path(__file__).resolve().parents[1]

#: reader, the file name it reads, the error for a file that is not text, what its messages ask for
READERS = {
    "read_text_file": (read_text_file, "s.txt", InvalidTextFileError, "a UTF-8 text file with one sentence per line"),
    "read_texts": (read_texts, "c.txt", InvalidTextFileError, "UTF-8 text (.txt) or JSON lines"),
    "read_texts jsonl": (read_texts, "c.jsonl", InvalidTextFileError, "UTF-8 text (.txt) or JSON lines"),
    "read_conllu": (read_conllu, "t.conllu", InvalidTreebankError, "a UTF-8 CoNLL-U file"),
}


@pytest.fixture(params=list(READERS))
def reader(request):
    return READERS[request.param]


def test_a_missing_file_or_a_folder_is_file_not_found(reader, tmp_path):
    read, name, _, expect = reader
    with pytest.raises(FileNotFoundError, match=re.escape(f"at {tmp_path / name}; give {expect}")):
        read(tmp_path / name)
    (tmp_path / name).mkdir()
    with pytest.raises(FileNotFoundError, match=r"\(it is a folder\)"):
        read(tmp_path / name)


def test_a_binary_file_is_refused(reader, tmp_path):
    read, name, error, expect = reader
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04\x00\x01\x02" * 100)
    with pytest.raises(error, match=re.escape(f"looks binary (it contains NUL bytes); give {expect}")) as caught:
        read(path)
    assert type(caught.value) is error


def test_a_file_that_is_not_utf8_is_refused(reader, tmp_path):
    read, name, error, expect = reader
    path = tmp_path / name
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(error, match=re.escape(f"is not UTF-8 text (invalid continuation byte at byte 3); give {expect}")):
        read(path)


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_a_file_without_text_is_refused(content, tmp_path):
    for read, name, error, _ in [READERS["read_text_file"], READERS["read_texts"], READERS["read_texts jsonl"]]:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(error, match="holds no text"):
            read(path)
    (tmp_path / "e.conllu").write_text("", encoding="utf-8")
    with pytest.raises(InvalidTreebankError, match="holds no CoNLL-U sentence"):
        read_conllu(tmp_path / "e.conllu")


def test_a_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffThe cat sat.\nDogs bark.\n".encode("utf-8"))
    assert read_text_file(path) == ["The cat sat.", "Dogs bark."]
    assert read_texts(path) == ["The cat sat. Dogs bark."]
    assert read_text(path, expect="text") == "The cat sat.\nDogs bark.\n"


def test_require_text_passes_items_through_and_names_its_error():
    assert require_text(["a"], "f.txt", expect="x") == ["a"]
    with pytest.raises(InvalidTreebankError, match=r"^f\.txt holds no text: nothing here; give x\.$"):
        require_text([], "f.txt", expect="x", detail="nothing here", error=InvalidTreebankError)


def test_the_readers_make_their_checks_in_one_place():
    """No reader of a user's file repeats the NUL-byte sniff or the UTF-8 decode: only interp/_textfiles.py does."""
    offenders = []
    for path in sorted((ROOT / "interp").rglob("*.py")):
        if path.name == "_textfiles.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in (b"\x00", "utf-8-sig"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
