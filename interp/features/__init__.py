"""Sparse features: train sparse autoencoders on a CPU and browse what each feature means, offline.

- :func:`train_sae`: a TopK SAE with AuxK (Gao et al. 2024) or ReLU + L1, streamed from activation shards;
- :class:`SparseAutoencoder` / :func:`load_sae`: SAELens's on-disk layout (``cfg.json`` + ``sae_weights.safetensors``);
- :func:`evaluate_sae`: explained variance, L0, dead and dense fractions, cross-entropy loss recovered;
- :func:`feature_dashboard`, :func:`label_features`, :class:`FeatureStore`: what a feature means;
- :func:`feature_attribution`, :func:`steer_with_feature`, :func:`probe_feature_cosines`: using features.

Example:
    >>> import interp
    >>> from interp.features import train_sae, evaluate_sae, feature_dashboard, default_texts
    >>> model = interp.load_model()
    >>> run = train_sae(model, default_texts(max_texts=2000), layer=15, out="runs/sae")
    >>> evaluate_sae(model, run.sae, default_texts(split="heldout", max_texts=100)).summary()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "SparseAutoencoder": "interp.features.sae",
    "load_sae": "interp.features.sae",
    "ARCHITECTURES": "interp.features.sae",
    "default_texts": "interp.features.corpus",
    "read_texts": "interp.features.corpus",
    "corpus_info": "interp.features.corpus",
    "SOURCES": "interp.features.corpus",
    "train_sae": "interp.features.train",
    "SAETrainer": "interp.features.train",
    "SAETrainingResult": "interp.features.train",
    "KINDS": "interp.features.train",
    "evaluate_sae": "interp.features.evaluate",
    "SAEEvaluationResult": "interp.features.evaluate",
    "FeatureStore": "interp.features.dashboard",
    "feature_store": "interp.features.dashboard",
    "feature_dashboard": "interp.features.dashboard",
    "FeatureDashboard": "interp.features.dashboard",
    "label_features": "interp.features.labels",
    "FeatureLabelsResult": "interp.features.labels",
    "default_annotations": "interp.features.labels",
    "feature_attribution": "interp.features.use",
    "FeatureAttributionResult": "interp.features.use",
    "steer_with_feature": "interp.features.use",
    "FeatureSteeringResult": "interp.features.use",
    "probe_feature_cosines": "interp.features.use",
    "ProbeFeatureResult": "interp.features.use",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
