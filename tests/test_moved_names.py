"""Names that moved in 0.2 stay importable from where they were (no number changes with a move)."""

from __future__ import annotations

import importlib

import pytest


def test_the_model_lies_experiment_moved_to_interp_truth_lies():
    import interp.truth
    import interp.truth.detector as detector
    import interp.truth.lies as lies

    for name in lies.__all__:
        assert getattr(interp.truth, name, getattr(lies, name)) is getattr(lies, name)
        with pytest.warns(DeprecationWarning, match=f"interp.truth.detector.{name} moved to interp.truth.lies"):
            assert getattr(detector, name) is getattr(lies, name)
    assert interp.truth.detect_model_lies is lies.detect_model_lies and interp.truth.LieDetector is detector.LieDetector
    with pytest.raises(AttributeError):
        detector.no_such_name  # noqa: B018


def test_every_name_of_the_old_activations_module_resolves():
    """interp/activations.py became a package; each name it had (public and private) is still there."""
    acts = importlib.import_module("interp.activations")
    old = ["collect", "Activations", "POSITIONS", "ShardPlan", "plan_shards", "collect_shard", "finish_shards",
           "layer_hook_name", "resolve_layers", "word_spans", "word_token_positions", "FORMAT_NAME", "FORMAT_VERSION",
           "MANIFEST", "SHARD_BYTES", "WordsArg", "_StopForward", "_Collector", "_plan", "_check_out", "_auto_shard_size",
           "_model_fingerprint", "_shard_hash", "_write_shard", "_shard_is_done", "_read_shard_meta", "_concat_meta",
           "_read_manifest", "_write_manifest"]
    assert [n for n in old if not hasattr(acts, n)] == []
    assert acts.collect.__module__ == "interp.activations._collect"
