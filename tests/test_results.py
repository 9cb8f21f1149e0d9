"""The shared results format: JSON + safetensors, atomic, never pickle."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from interp.errors import InvalidResultFileError
from interp.models.model import TopTokensResult
from interp.results import Result, atomic_write_bytes


@pytest.fixture
def result():
    return TopTokensResult(prompt="The capital of France is", tokens=[" Paris", " Lyon"], token_ids=np.array([7042, 99]),
                           probs=np.array([0.75, 0.01], dtype=np.float32), logits=np.array([15.4, 11.0], dtype=np.float32),
                           model_name="test")


def test_round_trip_is_equal(result, tmp_path):
    path = result.save(tmp_path / "r.json")
    loaded = Result.load(path)
    assert type(loaded) is TopTokensResult and loaded == result
    assert loaded.probs.dtype == np.float32 and loaded.token_ids.dtype == result.token_ids.dtype
    assert TopTokensResult.load(path) == result


def test_equality_sees_array_changes(result):
    other = TopTokensResult(**{**result.__dict__, "probs": result.probs + 1e-3})
    assert other != result


def test_saved_file_is_plain_json_with_schema(result, tmp_path):
    document = json.loads(result.save(tmp_path / "r.json").read_text())
    assert document["format"] == "interp.result" and document["schema_version"] == 1
    assert document["kind"] == "interp.models.model.TopTokensResult"
    assert document["fields"]["tokens"] == [" Paris", " Lyon"]
    assert document["arrays"]["names"] == ["logits", "probs", "token_ids"]


def test_torch_tensors_become_numpy():
    import torch

    r = TopTokensResult(prompt="p", tokens=["a"], token_ids=torch.tensor([1]), probs=torch.tensor([0.5]),
                        logits=torch.tensor([1.0]))
    assert isinstance(r.probs, np.ndarray)


@pytest.mark.parametrize("content, match", [
    (b"\x80\x81 not json", "not valid JSON"),
    (b'{"hello": 1}', "format"),
    (b'[1, 2]', "format"),
    (json.dumps({"format": "interp.result", "schema_version": 99, "kind": "x"}).encode(), "schema_version 99"),
    (json.dumps({"format": "interp.result", "schema_version": 1, "kind": "os.system", "fields": {}}).encode(),
     "not an interp result type"),
    (json.dumps({"format": "interp.result", "schema_version": 1, "kind": "interp.nowhere.Thing", "fields": {}}).encode(),
     "does not know"),
])
def test_invalid_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InvalidResultFileError, match=match):
        Result.load(path)


def test_tampered_arrays_and_fields_are_refused(result, tmp_path):
    document = json.loads(result.to_json())
    broken = dict(document, arrays={**document["arrays"], "data": base64.b64encode(b"garbage" * 10).decode()})
    (tmp_path / "a.json").write_text(json.dumps(broken))
    with pytest.raises(InvalidResultFileError, match="corrupt"):
        Result.load(tmp_path / "a.json")
    extra = dict(document, fields={**document["fields"], "evil": 1})
    (tmp_path / "b.json").write_text(json.dumps(extra))
    with pytest.raises(InvalidResultFileError, match="unknown fields"):
        Result.load(tmp_path / "b.json")
    with pytest.raises(InvalidResultFileError, match="no such file"):
        Result.load(tmp_path / "missing.json")


def test_loading_as_the_wrong_kind_is_refused(result, tmp_path):
    class Other(Result):
        pass

    path = result.save(tmp_path / "r.json")
    with pytest.raises(InvalidResultFileError, match="not a Other"):
        Other.load(path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("old")
    import os

    def explode(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temp file left


def test_html_is_self_contained(result, tmp_path):
    page = result.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == page
    assert "plotly" in page.lower() and len(page) > 1_000_000  # plotly.js is embedded
    import re

    # No tag loads anything remote. (plotly.js itself mentions cdn.plot.ly as the default topojsonURL,
    # fetched only for geo plots, which interp never draws.)
    assert not re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']?https?://", page)
    assert result.save(tmp_path / "r2.html").read_text().startswith("<!DOCTYPE html>")


def test_every_repr_html_draws_on_its_own(result):
    """Each notebook output carries plotly.js: clearing or re-running an earlier cell must not blank it."""
    first, second = result._repr_html_(), result._repr_html_()
    for output in (first, second):
        assert len(output) > 1_000_000 and "Plotly.newPlot" in output and "Paris" in output
