"""The part-of-speech probe as ``interp run`` runs it: :data:`POS`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from interp.analysis import Analysis, Inputs, fingerprint
from interp.errors import InterpError, choices_text
from interp.probing.pos.analysis import pos_result
from interp.probing.pos.data import ALIGNMENTS, CORPORA, MIN_SENTENCES, pos_inputs, pos_split
from interp.probing.sweep import ProbeSweepResult


# ----------------------------------------------------------------------------- as a batch task
class POSAnalysis(Analysis):
    """:func:`pos_probe` as ``interp run`` runs it (``task = "pos"``): one job per layer x probe kind on the same
    split, assembled with :meth:`ProbeSweepResult.concat` and :func:`pos_result` into the :class:`POSProbeResult`
    of :func:`pos_probe` with ``random_baseline=False``."""

    name = "pos"
    metrics = ("accuracy", "train_accuracy", "control_accuracy", "selectivity")
    headline = "accuracy"
    kinds = ("linear", "mlp")
    data_keys = ("corpus", "max_sentences")
    probe_keys = ("kinds", "alignment", "test_size", "control_seed")
    add_embeddings = True  # layer 0 is a baseline

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        from interp.probing.conllu import CONLLU_SUFFIXES

        corpus = check.str(table.get("corpus", "natural"), "data.corpus")
        corpus = "natural" if corpus == "builtin" else corpus  # the name of the built-in corpus before the natural one
        if corpus not in CORPORA:
            path = check.path(corpus, base)
            if path.suffix.lower() not in (".jsonl", ".txt", *CONLLU_SUFFIXES):
                raise check.fail("data.corpus", f"must be {choices_text(CORPORA)} (the built-in corpora), a tagged "
                                                f".jsonl corpus, a .txt file (one sentence per line) or a .conllu "
                                                f"treebank. Got {corpus!r}.")
            if not path.is_file():
                raise check.fail("data.corpus", f"no such file {corpus!r} (looked for {path}).")
            corpus = str(path)
        return {"corpus": corpus, "max_sentences": check.int(table.get("max_sentences"), "data.max_sentences",
                                                             low=MIN_SENTENCES, optional=True)}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        return {"kinds": check.choices(table.get("kinds", ["linear"]), self.kinds, "probe.kinds"),
                "alignment": check.choice(table.get("alignment", "last"), tuple(ALIGNMENTS), "probe.alignment"),
                "test_size": check.fraction(table.get("test_size", 0.2), "probe.test_size"),
                "control_seed": check.int(table.get("control_seed", 0), "probe.control_seed", low=0)}

    def datasets(self, spec: Any) -> list[str]:
        corpus = spec.data["corpus"]
        return [corpus if corpus in CORPORA else Path(corpus).stem]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        from interp.analysis import spec_error

        corpus = spec.data["corpus"]
        try:
            builtin = corpus in CORPORA
            inputs = pos_inputs(None if builtin else corpus, corpus=corpus if builtin else "natural",
                                max_sentences=spec.data["max_sentences"], where="interp run")
        except (InterpError, FileNotFoundError) as exc:
            raise spec_error(spec, "data.corpus", str(exc)) from None
        return Inputs(dataset, inputs.sentences, inputs.words,
                      fingerprint(inputs.sentences, inputs.words, inputs.labels.tolist(), inputs.tag_source), inputs)

    def position(self, spec: Any) -> str:
        return ALIGNMENTS[spec.probe["alignment"]]

    def _split(self, run: Any, model: str, dataset: str) -> tuple[Any, np.ndarray, np.ndarray]:
        """(activations, control labels, held-out mask), once per model and dataset in a process."""
        key = ("pos-split", model, dataset)
        if key not in run.cache:
            acts = run.activations(model, dataset)
            control, test = pos_split(acts.words, acts.text_index, run.inputs(dataset).payload.labels,
                                      test_size=run.spec.probe["test_size"], seed=run.spec.seed,
                                      control_seed=run.spec.probe["control_seed"], where="interp run")
            run.cache[key] = (acts, control, test)
        return run.cache[key]

    def fit(self, run: Any, job: Any) -> ProbeSweepResult:
        from interp.probing.sweep import probe_layers

        acts, control, test = self._split(run, job.model, job.dataset)
        features = {job.layer: run.features(job.model, job.dataset, job.layer)}
        sweep = probe_layers(features, run.inputs(job.dataset).payload.labels, groups=acts.text_index,
                             probe=job.probe, control=control, layers=[job.layer], test_size=run.spec.probe["test_size"],
                             seed=run.spec.seed, test_mask=test, progress=False)
        sweep.model_name = acts.model_name
        return sweep

    def assemble(self, run: Any, model: str) -> list[tuple[str, Any]]:
        spec, info = run.spec, run.model_info(model)
        (dataset,) = self.datasets(spec)
        acts, _, test = self._split(run, model, dataset)
        inputs = run.inputs(dataset).payload
        out = []
        for kind in spec.probe["kinds"]:
            sweep = ProbeSweepResult.concat([run.part(model, dataset, layer, kind) for layer in info["layers"]])
            best = sweep.best_layer
            predicted = sweep.probe_at(best).predict(run.features(model, dataset, best)[test])
            result = pos_result(sweep, inputs.labels, acts.words, predicted, model_name=info["name"],
                                model_card=info.get("card", {}), alignment=spec.probe["alignment"],
                                control_seed=spec.probe["control_seed"], corpus=inputs.corpus,
                                n_sentences=inputs.n_sentences, tag_source=inputs.tag_source,
                                spacy_labels=inputs.spacy_labels)
            out.append((f"pos.{kind}", result))
        return out

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        n_layers = run.model_info(model)["n_layers"]
        kind = "linear" if result.probe == "LinearProbe" else "mlp"
        (dataset,) = self.datasets(run.spec)
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": kind, "layer": r["layer"],
                 "depth": r["layer"] / n_layers, **{m: r.get(m) for m in self.metrics}}
                for r in result.to_frame().to_dict(orient="records")]


POS = POSAnalysis()
