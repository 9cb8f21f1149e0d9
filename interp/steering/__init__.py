"""Steering: move any behaviour along a direction in the residual stream, measure what it buys and costs.

- :func:`steering_vector`: a :class:`SteeringVector` from contrast pairs (``"mean_diff"``: Rimsky et al.'s CAA;
  ``"pca"``: repeng's PCA of pair differences; ``"probe"``: a probe's or :class:`~interp.truth.LieDetector`'s
  direction), per layer, saved as JSON + safetensors;
- :func:`steer`: generations with ``strength * direction`` added at every position, beside the unsteered ones
  (:func:`steering_hooks` are the hooks, for your own calls under ``model.hooks``; :func:`parse_strengths` reads
  ``"1, 2, 4"`` typed in a command or a box);
- :func:`steering_sweep`: behaviour rate (Wilson intervals) against KL and neutral perplexity (bootstrap) over
  strengths; the rate at the largest strength whose perplexity rises at most 1.5x;
- shipped concepts (:func:`concept`: ``"french"``, ``"sentiment"``, ``"truth"``) with pairs, held-out prompts and
  scorers (:func:`scorer_accuracy`);
- :func:`export_control_vector` / :func:`load_control_vector`: llama.cpp control-vector GGUF files
  (interp layer ``l`` is llama.cpp's ``direction.{l-1}``).

Names load on first use.

Example:
    >>> import interp
    >>> from interp.steering import concept, steering_vector, steer
    >>> model = interp.load_model()
    >>> c = concept("french")
    >>> v = steering_vector(model, c.positives, c.negatives, layers=[12], concept="french")
    >>> steer(model, "Tell me about your morning.", v, 6).side_by_side()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "SteeringVector": "interp.steering.vectors",
    "steering_vector": "interp.steering.vectors",
    "directions_from_activations": "interp.steering.vectors",
    "METHODS": "interp.steering.vectors",
    "load_vector": "interp.steering.control",
    "middle_layer": "interp.steering.vectors",
    "SteeredGenerations": "interp.steering.apply",
    "steer": "interp.steering.apply",
    "steering_hooks": "interp.steering.apply",
    "parse_strengths": "interp.steering.apply",
    "SteeringSweepResult": "interp.steering.sweep",
    "steering_sweep": "interp.steering.sweep",
    "CONCEPTS": "interp.steering.concepts",
    "Concept": "interp.steering.concepts",
    "concept": "interp.steering.concepts",
    "is_french": "interp.steering.concepts",
    "is_positive": "interp.steering.concepts",
    "says_true": "interp.steering.concepts",
    "scorer_accuracy": "interp.steering.concepts",
    "NEUTRAL_TEXTS": "interp.steering.concepts",
    "export_control_vector": "interp.steering.control",
    "load_control_vector": "interp.steering.control",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
