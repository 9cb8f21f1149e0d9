"""The curated public surface: every exported name resolves, and importing is cheap."""

import subprocess
import sys

import interp


def test_every_name_in_all_resolves():
    for name in interp.__all__:
        assert getattr(interp, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        interp.nope  # noqa: B018


def test_import_interp_does_not_import_torch_or_transformers():
    code = ("import sys, interp, interp.errors, interp.cli; "
            "print(sorted(m for m in ('torch', 'transformers', 'transformer_lens') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_errors_module_exports_named_errors():
    from interp import errors

    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, errors.InterpError), name
