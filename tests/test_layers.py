"""One layer convention (interp.layers): layer l is the residual stream after block l - 1; attention is per block."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from interp.errors import InvalidParameterError, LayerIndexError
from interp.layers import layer_hook_name

PROMPT = "The cat sat on the mat"


def test_layer_hook_names():
    assert [layer_hook_name(l) for l in range(3)] == ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post",
                                                      "blocks.1.hook_resid_post"]
    import interp.activations

    assert interp.activations.layer_hook_name is layer_hook_name  # one definition, re-exported


def test_final_layer_is_the_last_blocks_output(tiny_model):
    """Layer n_layers of collect is the output of the last block (what the last layer norm reads)."""
    from interp.activations import collect

    n = tiny_model.n_layers
    acts = collect(tiny_model, [PROMPT], layers=[n, -1], position="all", include_bos=True, progress=False)
    cache = tiny_model.run_with_cache([PROMPT], names=[f"blocks.{n - 1}.hook_resid_post"])
    expected = cache[f"blocks.{n - 1}.hook_resid_post"][0].float().cpu().numpy()
    assert list(acts.layers) == [n]
    np.testing.assert_allclose(acts[n], expected, rtol=1e-5, atol=1e-5)


def test_attention_maps_takes_blocks_and_the_old_name_still_works(tiny_model):
    from interp.attribution import attention_maps

    new = attention_maps(tiny_model, PROMPT, blocks=[0, -1])
    assert new.blocks == new.layers == [0, tiny_model.n_layers - 1]
    with pytest.warns(DeprecationWarning, match="renamed attention_maps\\(blocks="):
        old = attention_maps(tiny_model, PROMPT, layers=[0, -1])
    assert old == new  # same numbers, same saved fields (model_card included)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attention_maps(tiny_model, PROMPT, blocks=[1])  # the new name does not warn
    n = tiny_model.n_layers
    with pytest.raises(LayerIndexError, match=f"The 'blocks' parameter of attention_maps must be an int in \\[0, {n}\\)"):
        attention_maps(tiny_model, PROMPT, blocks=[n])  # no block n_layers: layer n_layers is the final stream
    with pytest.raises(InvalidParameterError, match="'blocks' or its deprecated name 'layers', not both"):
        attention_maps(tiny_model, PROMPT, blocks=[0], layers=[0])
