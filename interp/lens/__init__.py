"""Lenses: what each layer of a language model would predict if it were the last.

- :func:`logit_lens` (nostalgebraist 2020): every layer's residual stream through the model's own
  final norm and unembedding;
- :func:`linear_lens`: first an affine translator per layer, fitted in closed form by ridge least
  squares to the final residual stream on text interp ships (Din et al. 2023, "Jump to
  conclusions"; not Belrose et al.'s trained tuned lens), then the same readout. Fit one with
  :func:`fit_linear_lens` (minutes on a CPU; saved as safetensors per model).

:func:`lens_divergence` measures either against the model's output over many texts
(:class:`LensDivergenceResult`: mean KL to the final distribution by layer, with intervals over texts and
the two lenses compared on the same texts); :func:`external_prose` is text interp did not write to do it on.

Both lenses return a :class:`LensResult`: a layers x positions grid of top tokens, KL to the final
distribution, entropy, and a target's rank and probability; ``plot()`` draws the tuned-lens paper's grid.

Example:
    >>> import interp
    >>> from interp.lens import logit_lens
    >>> model = interp.load_model()
    >>> logit_lens(model, "The Eiffel Tower is located in the city of", target=" Paris").plot()

The example's fact is in none of the linear lens's fit texts (they hold "The capital of France is Paris.").
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "logit_lens": "interp.lens.logit",
    "read_lens": "interp.lens.logit",
    "lens_logits": "interp.lens.logit",
    "LensResult": "interp.lens.result",
    "LinearLens": "interp.lens.linear",
    "LensStatus": "interp.lens.linear",
    "fit_linear_lens": "interp.lens.linear",
    "linear_lens": "interp.lens.linear",
    "load_linear_lens": "interp.lens.linear",
    "lens_texts": "interp.lens.linear",
    "default_lens_path": "interp.lens.linear",
    "lens_status": "interp.lens.linear",
    "lens_divergence": "interp.lens.evaluate",
    "LensDivergenceResult": "interp.lens.evaluate",
    "external_prose": "interp.lens.evaluate",
    "lens_corpus": "interp.lens.linear",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
