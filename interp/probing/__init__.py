"""Probing: what can be read off a model's hidden states, layer by layer.

- :mod:`interp.probing.estimators`: the probes themselves, scikit-learn estimators
  (:class:`LinearProbe`, :class:`MLPProbe`, :func:`load_probe`; ``interp.probes`` until 0.3);
- :mod:`interp.probing.kinds`: the one vocabulary of probe kinds (:data:`PROBE_KINDS`: "linear", "mlp" and the
  truth kinds), for labels and for continuous values (:class:`RidgeProbe`, :class:`MLPRegressorProbe`);
- :func:`sweep_layers` (:mod:`interp.probing.layer_sweep`): the layer loop the POS probe, the truth sweep and
  the world map share;
- :func:`probe_layers` fits one probe (:class:`~interp.probing.estimators.LinearProbe` or
  :class:`~interp.probing.estimators.MLPProbe`) per layer on a split by sentence and returns a
  :class:`ProbeSweepResult` (accuracy, control accuracy and selectivity by layer);
- :func:`control_task` makes Hewitt & Liang's control labels; :func:`majority_baseline` and
  :func:`word_type_baseline` are the lookup baselines;
- :func:`pos_probe` ties it together for part of speech and returns a :class:`POSProbeResult`; it reads
  the built-in natural or grammar corpus, your sentences, or a CoNLL-U treebank (:func:`read_conllu`,
  gold tags).

Activations come from :func:`interp.activations.collect`. Names load on first use (this package
imports no heavy dependency by itself).

Example:
    >>> import interp
    >>> from interp.probing import pos_probe
    >>> pos_probe(interp.load_model("tiny-gpt2"), max_sentences=200).summary()
"""

from __future__ import annotations

from interp._lazy import lazy_exports

_LAZY = {
    "LinearProbe": "interp.probing.estimators",
    "MLPProbe": "interp.probing.estimators",
    "load_probe": "interp.probing.estimators",
    "make_probe": "interp.probing.estimators",
    "PROBES": "interp.probing.estimators",
    "RidgeProbe": "interp.probing.estimators",
    "MLPRegressorProbe": "interp.probing.estimators",
    "PROBE_KINDS": "interp.probing.kinds",
    "kind_names": "interp.probing.kinds",
    "sweep_layers": "interp.probing.layer_sweep",
    "probe_layers": "interp.probing.sweep",
    "ProbeSweepResult": "interp.probing.sweep",
    "split_by_group": "interp.probing.sweep",
    "control_task": "interp.probing.control",
    "majority_baseline": "interp.probing.control",
    "word_type_baseline": "interp.probing.control",
    "pos_probe": "interp.probing.pos",
    "POSProbeResult": "interp.probing.pos",
    "load_corpus": "interp.probing.pos",
    "read_text_file": "interp.probing.pos",
    "tag_sentences": "interp.probing.pos",
    "read_conllu": "interp.probing.conllu",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
