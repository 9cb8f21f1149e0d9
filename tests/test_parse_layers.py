"""The one layer-selection reader (interp._validation.parse_layers) and every_nth_layer, used by the CLI's
--layers, batch specs' probe.layers and the explorer's "every n-th layer"."""

from __future__ import annotations

import numpy as np
import pytest

from interp._validation import every_nth_layer, parse_layers
from interp.errors import InvalidParameterError, InvalidSpecError


@pytest.mark.parametrize("value, expected", [
    ("all", "all"), (" all ", "all"),
    ("3", [3]), (3, [3]), (np.int64(3), [3]),
    ("0,3,6", [0, 3, 6]), (" 4, 8 ", [4, 8]), ("8,4,4", [4, 8]), ("-1", [-1]),
    ([3, 1], [1, 3]), ((2, 2, 0), [0, 2]), (np.array([2, 1]), [1, 2]), ([np.int64(5)], [5]), (range(0, 5, 2), [0, 2, 4]),
    ("0:31:3", list(range(0, 31, 3))), ("0:31:10", [0, 10, 20, 30]), (":4", [0, 1, 2, 3]), ("1:4:", [1, 2, 3]),
    (" 0 : 6 : 2 ", [0, 2, 4]), ("5:0:-2", [1, 3, 5]),
])
def test_accepts_what_any_of_the_three_old_readers_accepted(value, expected):
    assert parse_layers(value, where="t") == expected


@pytest.mark.parametrize("value", ["0-31", "a,b", "x:3", "0:5:0", "1:2:3:4", "", "  ", [], [1.5], ["1"], True, None, 2.0,
                                   {1: 2}])
def test_refuses_anything_else_saying_what_is_accepted(value):
    with pytest.raises(InvalidParameterError, match=r"The '--layers' parameter of interp probe pos must be 'all', an int, "
                                                    r"a list of them, a comma list such as 0,3,6 or a range") as info:
        parse_layers(value, name="--layers", where="interp probe pos")
    assert repr(value) in str(info.value)


def test_an_empty_range_says_so():
    with pytest.raises(InvalidParameterError, match="the range '5:1' holds no layer"):
        parse_layers("5:1", where="t")


def test_without_negatives_and_with_another_error():
    assert parse_layers("0:3", where="t", negative=False) == [0, 1, 2]
    for value in ("-1", [-1, 2], -3, "-2:2"):
        with pytest.raises(InvalidSpecError, match=r"'all', a non-negative int"):
            parse_layers(value, where="spec.toml", name="probe.layers", negative=False, error=InvalidSpecError)


def test_every_nth_layer():
    assert every_nth_layer(30, 10) == [0, 10, 20, 30]
    assert every_nth_layer(30, 7) == [0, 7, 14, 21, 28, 30]  # the last layer always
    assert every_nth_layer(2, 1) == [0, 1, 2] and every_nth_layer(2, 5) == [0, 2] and every_nth_layer(0, 1) == [0]
    for n_layers, step in ((30, 0), (30, 1.5), (-1, 1)):
        with pytest.raises(InvalidParameterError):
            every_nth_layer(n_layers, step)


def test_the_cli_reads_layers_with_it(tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    # a writable --out: an unwritable one fails first, before any work (OutputFolderError)
    result = CliRunner().invoke(app, ["probe", "pos", "-m", "tiny-gpt2", "--layers", "0-2", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "The '--layers' parameter of interp probe pos must be 'all'" in " ".join(result.stderr.split())


def test_batch_specs_read_layers_with_it():
    from interp.batch.spec import parse_layers as spec_layers

    assert spec_layers("0:31:10") == [0, 10, 20, 30] and spec_layers([3, 1]) == [1, 3] and spec_layers("all") == "all"
    assert spec_layers("0,3,6") == [0, 3, 6] and spec_layers(" 2 ") == [2]  # what the CLI also takes
    with pytest.raises(InvalidSpecError, match=r"\[probe\]\.layers: must be 'all', a non-negative int") as info:
        spec_layers([-1])
    assert info.value.key == "probe.layers"
    with pytest.raises(InvalidSpecError, match=r"\[probe\]\.layers: the range '5:1' holds no layer"):
        spec_layers("5:1")
