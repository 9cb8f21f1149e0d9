"""The deprecated names interp still accepts: one table (interp._deprecations), each row warns with its own message
(an InterpDeprecationWarning, which the test configuration turns into an error unless a test expects it), and no
row outlives the release that removes it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

import interp
from interp._deprecations import DEPRECATIONS
from interp.errors import InterpDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_the_one_the_docs_and_the_package_give():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == interp.__version__
    assert Version(interp.__version__) >= Version("0.2")  # the docs speak of "interp < 0.2" as the past


def test_no_deprecated_name_outlives_its_release():
    """Once interp's version reaches a row's removed_in, this fails: remove the shim and its row."""
    for old, row in DEPRECATIONS.items():
        assert Version(row.since) <= Version(interp.__version__) < Version(row.removed_in), old
        assert row.kind in ("module", "parameter", "value")


def test_the_table_is_listed_in_contributing():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for old, row in DEPRECATIONS.items():
        assert f"`{old}`" in text and f"`{row.new}`" in text, old


def test_the_deprecated_module_is_not_in_interp_all():
    assert "probes" not in interp.__all__


def test_every_row_warns_with_its_message(tiny_models):
    from interp.attribution import attention_maps
    from interp.data_attribution.attribute import renamed_method
    from interp.projection.world import probe_kind
    from interp.truth.probes import make_truth_probe

    triggers = {
        "attention_maps(layers=...)": lambda: attention_maps(tiny_models["tiny-gpt2"], "one two three", layers=[0]),
        "attribute_training(method='tracin')": lambda: renamed_method("tracin"),
        "probe kind 'lr'": lambda: make_truth_probe("lr", where="t"),
        "probe kind 'ridge'": lambda: probe_kind("ridge"),
    }
    for old, trigger in triggers.items():
        with pytest.warns(InterpDeprecationWarning) as caught:
            trigger()
        assert [str(w.message) for w in caught] == [DEPRECATIONS[old].message()]
        assert caught[0].filename == __file__  # attributed to the caller's line, not to interp's inside
    # a module warns once, on its first import: a fresh process
    code = ("import warnings\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n    import interp.probes\n"
            "print([(type(w.message).__name__, str(w.message)) for w in caught])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == str([("InterpDeprecationWarning", DEPRECATIONS["interp.probes"].message())])
    assert set(triggers) | {"interp.probes"} == set(DEPRECATIONS)  # every row is triggered here


def test_the_test_configuration_turns_interps_deprecations_into_errors():
    """A test that uses a deprecated interp name without pytest.warns fails (third-party ones stay hidden)."""
    import warnings

    from interp._deprecations import warn

    with pytest.raises(InterpDeprecationWarning):
        warn("attention_maps(layers=...)")
    warnings.warn("a third-party deprecation", DeprecationWarning, stacklevel=1)  # hidden, not an error
