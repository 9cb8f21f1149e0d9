"""The linear lens fit, as a batch task (``interp run``, ``task = "lens_fit"``).

:func:`~interp.lens.fit_linear_lens` is a ridge regression solved from sufficient statistics: per layer the
sums ``sum x``, ``sum x^T x`` and ``sum x^T h_L`` over the tokens of its texts (:func:`~interp.lens.linear.lens_moments`,
shifted by the reference means of the first texts), then a closed-form solve per layer
(:func:`~interp.lens.linear.solve_lens`). Sums add up, so the texts are cut into shards (a multiple of the fit's
texts per step, so every forward pass is the library's), each shard's sums are one job in a worker, and the
assembly adds them and solves: the lens the in-process fit makes, to float rounding of the sums' order.
The result, :class:`LensFitResult`, holds the lens (``result.lens()``); with ``[probe] save = true`` (the
default) the lens is also saved where :func:`~interp.lens.linear_lens` finds it.

A part holds ``O(n_layers * d_model^2)`` float64 numbers (about 160 MB per shard on SmolLM2-135M), whatever the
number of texts: keep shards large.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/lens_fit.toml", out="runs/lens")
    >>> run.results()[0].lens().ridge_
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.analysis import Inputs, Part, ShardMapAnalysis, fingerprint
from interp.lens.linear import (
    DEFAULT_MAX_TEXTS,
    RIDGES,
    TEXTS_PER_STEP,
    LinearLens,
    _Moments,
    default_lens_path,
    lens_moments,
    lens_texts,
    solve_lens,
)
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

__all__ = ["LENS_FIT", "LensFitAnalysis", "LensFitResult"]

_SUMS = ("n", "sx", "sy", "sxx", "sxy", "syy")


@dataclasses.dataclass(eq=False)
class LensFitResult(Result):
    """A fitted :class:`~interp.lens.LinearLens` as a result (the ``lens_fit`` batch task's): ``lens()`` gives it back.

    Attributes:
        weight: (n_layers, d_model, d_model) float32; bias: (n_layers, d_model) float32 (layer l's map:
            ``h @ weight[l] + bias[l]``).
        ridge: the strength chosen per layer (None: the identity, i.e. the logit lens).
        val_error, val_error_identity: per layer, the validation texts' mean squared error per token of the chosen
            map and of the identity.
        model_name, fingerprint: the weights it was fitted for; n_texts, n_tokens, texts_sha256: what on;
        skip_first: leading positions left out; fit_seconds: time of the fit; path: where it was saved (or None).
    """

    weight: np.ndarray
    bias: np.ndarray
    ridge: list
    val_error: list[float]
    val_error_identity: list[float]
    model_name: str
    fingerprint: str
    n_texts: int
    n_tokens: int
    texts_sha256: str
    skip_first: int = 1
    fit_seconds: float = 0.0
    path: str | None = None

    title: ClassVar[str] = "Linear lens fit"

    @classmethod
    def from_lens(cls, lens: LinearLens, card: dict | None = None) -> LensFitResult:
        """The result of a fitted lens."""
        info = lens.info()
        return cls(weight=lens.weight_.numpy(), bias=lens.bias_.numpy(), ridge=info["ridge"],
                   val_error=[float(v) for v in lens.val_error_],
                   val_error_identity=[float(v) for v in lens.val_error_identity_], model_name=lens.model_name_,
                   fingerprint=lens.fingerprint_, n_texts=int(lens.n_texts_), n_tokens=int(lens.n_tokens_),
                   texts_sha256=lens.texts_sha256_, skip_first=int(lens.skip_first_),
                   fit_seconds=float(lens.fit_seconds_), path=getattr(lens, "path_", None), model_card=dict(card or {}))

    def lens(self) -> LinearLens:
        """The :class:`~interp.lens.LinearLens` (fitted state set; use it with ``linear_lens(model, prompt, lens=...)``)."""
        import torch

        lens = LinearLens(skip_first=self.skip_first)
        lens.weight_, lens.bias_ = torch.from_numpy(self.weight.copy()), torch.from_numpy(self.bias.copy())
        lens.ridge_ = [float("inf") if r is None else float(r) for r in self.ridge]
        lens.model_name_, lens.fingerprint_ = self.model_name, self.fingerprint
        lens.n_layers_, lens.d_model_ = int(self.weight.shape[0]), int(self.weight.shape[1])
        lens.n_texts_, lens.n_tokens_, lens.texts_sha256_ = self.n_texts, self.n_tokens, self.texts_sha256
        lens.skip_first_, lens.fit_seconds_ = self.skip_first, self.fit_seconds
        lens.val_error_, lens.val_error_identity_ = list(self.val_error), list(self.val_error_identity)
        if self.path is not None:
            lens.path_ = self.path
        return lens

    def to_frame(self) -> DataFrame:
        """One row per layer: the ridge chosen, the validation error of the lens and of the identity, and the
        improvement ``1 - val_error / val_error_identity`` (0: no better than the logit lens)."""
        import pandas as pd

        err, ident = np.asarray(self.val_error), np.asarray(self.val_error_identity)
        with np.errstate(divide="ignore", invalid="ignore"):
            improvement = 1.0 - err / ident
        return pd.DataFrame({"layer": np.arange(len(err)), "ridge": [np.nan if r is None else r for r in self.ridge],
                             "val_error": err, "val_error_identity": ident, "improvement": improvement})

    def summary(self) -> str:
        frame = self.to_frame()
        return (f"{self.model_name}: linear lens fitted on {self.n_texts} texts ({self.n_tokens:,} tokens); validation "
                f"error below the identity's by {frame['improvement'].mean():.1%} on average over {len(frame)} layers"
                f"{f'; saved to {self.path}' if self.path else ''}.")

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=frame["layer"], y=frame["val_error"], mode="lines+markers", name="linear lens"))
        fig.add_trace(go.Scatter(x=frame["layer"], y=frame["val_error_identity"], mode="lines+markers",
                                 name="identity (logit lens)"))
        fig.update_layout(title=f"Linear lens of {self.model_name}: validation error per token by layer",
                          xaxis_title="layer", yaxis_title="mean squared error to the final residual", yaxis_type="log")
        return fig


def _stack(moments: dict[bool, list[_Moments]]) -> dict[str, np.ndarray]:
    """The sums as arrays (fold, layer, ...): fold 0 fit, 1 validation."""
    out = {}
    for name in _SUMS:
        values = [[getattr(m, name) for m in moments[fold]] for fold in (False, True)]
        if name in ("n", "syy"):
            out[name] = np.array(values, dtype=np.int64 if name == "n" else np.float64)
        else:
            out[name] = np.stack([np.stack([v.numpy() for v in row]) for row in values])
    return out


def _unstack(arrays: dict[str, np.ndarray]) -> dict[bool, list[_Moments]]:
    import torch

    n_layers, d = arrays["sx"].shape[1], arrays["sx"].shape[2]
    out: dict[bool, list[_Moments]] = {}
    for f, fold in enumerate((False, True)):
        out[fold] = []
        for layer in range(n_layers):
            m = _Moments(d)
            m.n, m.syy = int(arrays["n"][f, layer]), float(arrays["syy"][f, layer])
            for name in ("sx", "sy", "sxx", "sxy"):
                setattr(m, name, torch.from_numpy(np.array(arrays[name][f, layer])))
            out[fold].append(m)
    return out


class LensFitAnalysis(ShardMapAnalysis):
    """:func:`~interp.lens.fit_linear_lens` as ``interp run`` runs it (``task = "lens_fit"``): shard = texts, each
    shard's sufficient statistics a part; assembled by adding them and solving (equal to the in-process fit)."""

    name = "lens_fit"
    metrics = ("improvement", "val_error", "val_error_identity", "ridge")
    headline = "improvement"
    data_keys = ("max_texts", "file")
    probe_keys = ("save", "batch_size")
    shard_size = 16 * TEXTS_PER_STEP
    shard_multiple = TEXTS_PER_STEP
    unit = "texts"

    def read_data(self, table: dict[str, Any], check: Any, base: Path) -> dict[str, Any]:
        file = table.get("file")
        if file is not None:
            path = check.path(check.str(file, "data.file"), base)
            if not path.is_file():
                raise check.fail("data.file", f"no such file {file!r} (looked for {path}).")
            file = str(path)
        return {"max_texts": check.int(table.get("max_texts", DEFAULT_MAX_TEXTS), "data.max_texts", low=10),
                "file": file}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        super().read_probe(table, check)
        return {"save": check.bool(table.get("save", True), "probe.save"),
                "batch_size": check.int(table.get("batch_size"), "probe.batch_size", low=1, optional=True)}

    def datasets(self, spec: Any) -> list[str]:
        return ["lens_texts" if spec.data["file"] is None else Path(spec.data["file"]).stem]

    def texts(self, spec: Any) -> list[str]:
        """The texts fitted on: ``lens_texts("fit", max_texts=..., seed=spec.seed)`` (fit_linear_lens's default), or
        the first ``max_texts`` of the file's."""
        data = spec.data
        if data["file"] is None:
            return lens_texts("fit", max_texts=data["max_texts"], seed=spec.seed)
        from interp.features.corpus import read_texts

        return read_texts(data["file"])[:data["max_texts"]]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        texts = self.texts(spec)
        return Inputs(dataset, texts, None, fingerprint(texts), texts)

    def _reference(self, run: Any, model: str, dataset: str) -> Any:
        """The reference means of the fit (from its first step's texts), once per process and model."""
        key = ("lens_fit.ref", model)
        if key not in run.cache:
            texts = run.inputs(dataset).payload
            run.cache[key] = lens_moments(run.model(model), texts[:TEXTS_PER_STEP], skip=1,
                                          batch_size=run.spec.probe["batch_size"])[1]
        return run.cache[key]

    def map_shard(self, run: Any, model: str, dataset: str, start: int, stop: int) -> Part:
        import time

        begin = time.perf_counter()
        ref = self._reference(run, model, dataset)
        moments, _ = lens_moments(run.model(model), run.inputs(dataset).payload[start:stop], skip=1,
                                  batch_size=run.spec.probe["batch_size"], ref=ref)
        return Part({**_stack(moments), "ref": ref.numpy()}, {"seconds": time.perf_counter() - begin})

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        import torch

        dataset = self.datasets(run.spec)[0]
        parts = run.parts(model, dataset)
        total = _unstack(parts[0].arrays)
        for part in parts[1:]:
            more = _unstack(part.arrays)
            total = {fold: [a + b for a, b in zip(total[fold], more[fold])] for fold in (False, True)}
        ref = torch.from_numpy(np.array(parts[0].arrays["ref"]))
        loaded = run.model(model)
        solved = solve_lens(total, ref, RIDGES, where="interp run (task lens_fit)")
        lens = LinearLens().set_fitted(loaded, run.inputs(dataset).payload, solved, total, skip=1,
                                       seconds=float(sum(p.meta["seconds"] for p in parts)))
        if run.spec.probe["save"]:
            lens.save(default_lens_path(loaded))
        return [(f"lens_fit_{dataset}", LensFitResult.from_lens(lens, run.model_info(model).get("card", {})))]

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        n_layers = max(run.model_info(model)["n_layers"], 1)
        dataset = self.datasets(run.spec)[0]
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": "linear_lens", "layer": int(row["layer"]),
                 "depth": row["layer"] / n_layers, **{m: row[m] for m in self.metrics}}
                for row in result.to_frame().to_dict(orient="records")]


LENS_FIT = LensFitAnalysis()
