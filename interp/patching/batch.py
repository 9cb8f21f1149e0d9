"""Activation patching over a file of clean/corrupted prompt pairs, as a batch task (``interp run``, ``task = "patching"``).

The library function is :func:`interp.patching.activation_patching` given lists of prompts (one
:class:`~interp.patching.PatchingResult` per pair, every cell of every pair batched). Here the pairs come
from a file (:func:`read_pairs`: a CSV with the header ``clean,corrupted,answer,foil``, as
:func:`interp.circuits.read_task_csv` reads, or a JSONL with those keys, ``foil`` optional), are cut into
shards of pairs, and each shard runs that same function on its pairs in a worker. The assembled
result, :class:`PatchingPairsResult`, holds every pair's maps; ``result.pairs()`` gives back the library's
list of :class:`~interp.patching.PatchingResult`, and its table and figure show, per site and layer, the
best restoration over positions averaged over the pairs, with its bootstrap interval over pairs.

Example:
    >>> import interp
    >>> run = interp.run_spec("probes/patching.toml", out="runs/patching")
    >>> result = run.results()[0]
    >>> result.pairs()[0].plot()          # one pair's layer x position map
    >>> result.to_frame().head()          # mean restoration by site and layer, with intervals
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp.analysis import Inputs, Part, ShardMapAnalysis, fingerprint
from interp.errors import InterpError, InvalidDatasetError
from interp.patching._core import METRICS, SITES
from interp.patching.activation import PatchingResult, activation_patching
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.circuits.tasks import CircuitTask

__all__ = ["PATCHING", "PatchingAnalysis", "PatchingPairsResult", "pair_targets", "read_pairs"]

ALIGNS = ("none", "right", "left")
_KEYS = ("clean", "corrupted", "answer", "foil")


def read_pairs(path: str | Path) -> CircuitTask:
    """Clean/corrupted pairs with answer and foil from a ``.csv`` (:func:`interp.circuits.read_task_csv`: the columns
    ``clean,corrupted,answer,foil``) or a ``.jsonl`` file (one ``{"clean", "corrupted", "answer", "foil"}`` object a
    line; ``foil`` may be left out: with ``metric="logit_diff"`` it is then the corrupted prompt's top token).

    Raises:
        InvalidDatasetError: no such file, another suffix, a missing column / key, an empty value, no pairs.
    """
    from interp.circuits.tasks import CircuitTask, read_task_csv

    path = Path(path)
    if path.suffix.lower() == ".csv":
        return read_task_csv(path)
    if path.suffix.lower() != ".jsonl":
        raise InvalidDatasetError(f"The pairs file {str(path)!r} must be a .csv or a .jsonl file.")
    if not path.is_file():
        raise InvalidDatasetError(f"The pairs file {str(path)!r} does not exist.")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidDatasetError(f"Line {number} of {str(path)!r} is not JSON ({exc}).") from None
        if not isinstance(item, dict) or any(not isinstance(item.get(k), str) or not item[k].strip()
                                             for k in _KEYS[:3]):
            raise InvalidDatasetError(f"Line {number} of {str(path)!r} needs non-empty strings 'clean', 'corrupted' "
                                      f"and 'answer' (and optionally 'foil'). Got {line[:120]!r}.")
        rows.append((item["clean"], item["corrupted"], item["answer"], item.get("foil") or ""))
    if not rows:
        raise InvalidDatasetError(f"The pairs file {str(path)!r} holds no pairs.")
    clean, corrupted, answers, foils = (list(x) for x in zip(*rows))
    return CircuitTask(path.stem, clean, corrupted, answers, foils, None)


def pair_targets(task: CircuitTask) -> list[Any]:
    """Each pair's :class:`interp.Target` (answer, foil; an empty foil: none given), as
    :func:`~interp.patching.activation_patching` takes them: ``activation_patching(model, task.clean, task.corrupted,
    target=pair_targets(task), ...)`` is what each shard of the batch task runs."""
    from interp.targets import Target

    return [Target(a, foil=f or None) for a, f in zip(task.answers, task.foils)]


# ----------------------------------------------------------------------------- the assembled result
def _pad(maps: list[np.ndarray], width: int) -> np.ndarray:
    """(layers, n_pos_i, ...) maps -> (n_pairs, layers, width, ...) float64, NaN past each pair's positions."""
    first = maps[0]
    out = np.full((len(maps), first.shape[0], width, *first.shape[2:]), np.nan)
    for i, m in enumerate(maps):
        out[i, :, :m.shape[1]] = m
    return out


@dataclasses.dataclass(eq=False)
class PatchingPairsResult(Result):
    """Activation patching of many clean/corrupted pairs (the ``patching`` batch task's result).

    Attributes:
        clean, corrupted: the prompts, one per pair; clean_tokens, corrupted_tokens: their tokens.
        answers, wrong_answers: each pair's metric tokens (a wrong answer is None for metric "prob").
        metric, sites, align, model_name: as :class:`~interp.patching.PatchingResult`.
        positions, clean_positions: per pair, the corrupted positions patched and the clean ones patched in.
        n_positions: (n_pairs,) int64, how many positions each pair's maps have.
        resid: (n_pairs, n_layers + 1, max_positions) float64 normalised maps, NaN past a pair's positions
            (0 layers when the site was not computed); attn, mlp: (n_pairs, n_layers, max_positions);
            head: (n_pairs, n_layers, max_positions, n_heads).
        clean_metric, corrupted_metric: (n_pairs,) float64, the unpatched runs' metric.
    """

    clean: list[str]
    corrupted: list[str]
    clean_tokens: list[list[str]]
    corrupted_tokens: list[list[str]]
    answers: list[str]
    wrong_answers: list[str | None]
    metric: str
    sites: list[str]
    positions: list[list[int]]
    clean_positions: list[list[int]]
    n_positions: np.ndarray
    resid: np.ndarray
    attn: np.ndarray
    mlp: np.ndarray
    head: np.ndarray
    clean_metric: np.ndarray
    corrupted_metric: np.ndarray
    align: str = "same"
    model_name: str = ""

    title: ClassVar[str] = "Activation patching over pairs"

    @classmethod
    def from_pairs(cls, results: Sequence[PatchingResult]) -> PatchingPairsResult:
        """The results of :func:`~interp.patching.activation_patching` of lists of prompts, as one."""
        if not results:
            raise InvalidDatasetError("PatchingPairsResult.from_pairs needs at least one pair's result.")
        first = results[0]
        width = max(len(r.positions) for r in results)
        arrays = {s: _pad([getattr(r, s) for r in results], width) for s in SITES}
        return cls(clean=[r.clean for r in results], corrupted=[r.corrupted for r in results],
                   clean_tokens=[list(r.clean_tokens) for r in results],
                   corrupted_tokens=[list(r.corrupted_tokens) for r in results], answers=[r.answer for r in results],
                   wrong_answers=[r.wrong_answer for r in results], metric=first.metric, sites=list(first.sites),
                   positions=[list(r.positions) for r in results],
                   clean_positions=[list(r.clean_positions) for r in results],
                   n_positions=np.array([len(r.positions) for r in results], dtype=np.int64), **arrays,
                   clean_metric=np.array([r.clean_metric for r in results], dtype=np.float64),
                   corrupted_metric=np.array([r.corrupted_metric for r in results], dtype=np.float64),
                   align=first.align, model_name=first.model_name, model_card=dict(first.model_card))

    def __len__(self) -> int:
        return len(self.clean)

    def pair(self, i: int) -> PatchingResult:
        """Pair ``i``'s :class:`~interp.patching.PatchingResult` (what activation_patching returns for it)."""
        n = int(self.n_positions[i])
        arrays = {s: np.ascontiguousarray(getattr(self, s)[i, :, :n]) for s in SITES}
        return PatchingResult(
            clean=self.clean[i], corrupted=self.corrupted[i], clean_tokens=list(self.clean_tokens[i]),
            corrupted_tokens=list(self.corrupted_tokens[i]), answer=self.answers[i], wrong_answer=self.wrong_answers[i],
            metric=self.metric, sites=list(self.sites), positions=list(self.positions[i]),
            clean_positions=list(self.clean_positions[i]), **arrays, clean_metric=float(self.clean_metric[i]),
            corrupted_metric=float(self.corrupted_metric[i]), align=self.align, model_name=self.model_name,
            model_card=dict(self.model_card))

    def pairs(self) -> list[PatchingResult]:
        """Every pair's :class:`~interp.patching.PatchingResult`, in order."""
        return [self.pair(i) for i in range(len(self))]

    def restoration(self, site: str) -> np.ndarray:
        """(n_pairs, layers) each pair's best normalised score over positions (and heads) at each layer of ``site``."""
        arr = getattr(self, site)
        flat = arr.reshape(arr.shape[0], arr.shape[1], -1)
        with np.errstate(all="ignore"):
            return np.nanmax(flat, axis=2) if flat.shape[2] else np.full(flat.shape[:2], np.nan)

    def to_frame(self) -> DataFrame:
        """One row per site and layer: the mean over pairs of the best restoration over positions, with its
        bootstrap interval over pairs (``restored_low`` / ``restored_high``)."""
        import pandas as pd

        from interp.stats import mean_interval

        rows = []
        for site in self.sites:
            best = self.restoration(site)
            for layer in range(best.shape[1]):
                ci = mean_interval(best[:, layer])
                rows.append({"site": site, "layer": layer, "restored": ci.estimate, "restored_low": ci.low,
                             "restored_high": ci.high, "n_pairs": len(self)})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        frame = self.to_frame()
        parts = []
        for site, group in frame.groupby("site", sort=False):
            top = group.loc[group["restored"].idxmax()]
            parts.append(f"{site}: best at layer {int(top['layer'])}, {top['restored']:.3f} "
                         f"[{top['restored_low']:.3f}, {top['restored_high']:.3f}]")
        return (f"{self.model_name}: activation patching of {len(self)} pairs ({self.metric}, clean = 1, corrupted = 0), "
                "mean over pairs of each layer's best position; " + "; ".join(parts))

    def caveats(self) -> list[str]:
        if len(self) < 5:
            return [f"Only {len(self)} pair(s): the mean restoration and its interval say little about the task."]
        return []

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure()
        for site, group in frame.groupby("site", sort=False):
            fig.add_trace(go.Scatter(
                x=group["layer"], y=group["restored"], mode="lines+markers", name=site,
                error_y={"type": "data", "symmetric": False, "array": (group["restored_high"] - group["restored"]),
                         "arrayminus": (group["restored"] - group["restored_low"])}))
        fig.update_layout(title=f"Activation patching over {len(self)} pairs: best restoration by layer ({self.metric})",
                          xaxis_title="layer (resid: 0 = embeddings; attn / mlp / head: block)",
                          yaxis_title="restored (clean = 1, corrupted = 0)")
        return fig


# ----------------------------------------------------------------------------- as a batch task (interp run)
class PatchingAnalysis(ShardMapAnalysis):
    """:func:`~interp.patching.activation_patching` over a file of pairs as ``interp run`` runs it
    (``task = "patching"``): shard = pairs, each shard one activation_patching call in a worker, assembled into a
    :class:`PatchingPairsResult` whose ``pairs()`` equal the library function's results."""

    name = "patching"
    metrics = ("restored", "restored_low", "restored_high", "n_pairs")
    headline = "restored"
    data_keys = ("pairs", "max_pairs")
    probe_keys = ("sites", "metric", "align", "batch_size")
    shard_size = 16
    unit = "pairs"

    def read_data(self, table: dict[str, Any], check: Any, base: Path) -> dict[str, Any]:
        if "pairs" not in table:
            raise check.fail("data.pairs", "missing: a .csv (clean,corrupted,answer,foil) or .jsonl file of pairs.")
        path = check.path(check.str(table["pairs"], "data.pairs"), base)
        if not path.is_file():
            raise check.fail("data.pairs", f"no such file {table['pairs']!r} (looked for {path}).")
        try:
            read_pairs(path)
        except InterpError as exc:
            raise check.fail("data.pairs", str(exc)) from None
        return {"pairs": str(path), "max_pairs": check.int(table.get("max_pairs"), "data.max_pairs", low=1,
                                                           optional=True)}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        super().read_probe(table, check)
        sites = check.choices(table.get("sites", ["resid"]), SITES, "probe.sites")
        return {"sites": [s for s in SITES if s in sites],
                "metric": check.choice(table.get("metric", "logit_diff"), METRICS, "probe.metric"),
                "align": check.choice(table.get("align", "none"), ALIGNS, "probe.align"),
                "batch_size": check.int(table.get("batch_size"), "probe.batch_size", low=1, optional=True)}

    def datasets(self, spec: Any) -> list[str]:
        return [Path(spec.data["pairs"]).stem]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        task = read_pairs(spec.data["pairs"])
        if spec.data["max_pairs"] is not None:
            task = task.subset(range(min(len(task), spec.data["max_pairs"])))
        return Inputs(dataset, [], None, fingerprint(task.to_dict()), task)

    def map_shard(self, run: Any, model: str, dataset: str, start: int, stop: int) -> Part:
        options = run.spec.probe
        task = run.inputs(dataset).payload.subset(range(start, stop))
        results = activation_patching(run.model(model), list(task.clean), list(task.corrupted),
                                      target=pair_targets(task), sites=tuple(options["sites"]), metric=options["metric"],
                                      align=None if options["align"] == "none" else options["align"],
                                      batch_size=options["batch_size"], progress=False)
        results = results if isinstance(results, list) else [results]
        return Part(meta={"results": [r.to_json() for r in results]})

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        out = []
        for dataset in self.datasets(run.spec):
            results = [PatchingResult.from_json(text) for part in run.parts(model, dataset)
                       for text in part.meta["results"]]
            out.append((f"patching_{dataset}", PatchingPairsResult.from_pairs(results)))
        return out

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        n_layers = max(run.model_info(model)["n_layers"], 1)
        dataset = self.datasets(run.spec)[0]
        return [{"task": self.name, "model": model, "dataset": dataset, "probe": row["site"], "layer": int(row["layer"]),
                 "depth": row["layer"] / n_layers, **{m: row[m] for m in self.metrics}}
                for row in result.to_frame().to_dict(orient="records")]


PATCHING = PatchingAnalysis()
