"""Names that moved in 0.2 stay importable from where they were (no number changes with a move)."""

from __future__ import annotations

import importlib


def test_the_model_lies_experiment_moved_to_interp_truth_lies():
    """interp.truth re-exports it as before; interp.truth.detector no longer holds it (the detector does not import
    the experiment built on it)."""
    import interp.truth
    import interp.truth.detector as detector
    import interp.truth.lies as lies

    for name in ("LieDetectionResult", "detect_model_lies", "load_questions"):
        assert getattr(interp.truth, name) is getattr(lies, name)
        assert not hasattr(detector, name)
    assert interp.truth.LieDetector is detector.LieDetector is lies.LieDetector


def test_every_name_of_the_old_activations_module_resolves():
    """interp/activations.py became a package; each name it had (public and private) is still there."""
    acts = importlib.import_module("interp.activations")
    old = ["collect", "Activations", "POSITIONS", "ShardPlan", "plan_shards", "collect_shard", "finish_shards",
           "layer_hook_name", "resolve_layers", "word_spans", "word_token_positions", "FORMAT_NAME", "FORMAT_VERSION",
           "MANIFEST", "SHARD_BYTES", "WordsArg", "_Collector", "_plan", "_check_out", "_auto_shard_size",
           "_model_fingerprint", "_shard_hash", "_write_shard", "_shard_is_done", "_read_shard_meta", "_concat_meta",
           "_read_manifest", "_write_manifest"]
    # (_StopForward, the exception that ended a pass early, went when collect moved onto model.run(stop_at_layer=))
    assert [n for n in old if not hasattr(acts, n)] == []
    assert acts.collect.__module__ == "interp.activations._collect"
