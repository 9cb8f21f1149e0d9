"""Fine-tune a model's top blocks on a training set, keeping what attribution needs: checkpoints and Adam's moments.

SmolLM2's pre-training data is not available, so interp makes the training run it attributes:
``finetune`` trains only the top ``blocks`` blocks (all their linear layers, or only their MLPs) with
AdamW, loss on each example's continuation tokens (``text``, not ``prompt``), the examples of a step
shuffled by a local ``torch.Generator`` (the same seed, the same run, bit for bit). The residual
stream entering the trained blocks cannot change, so it is computed once; the blocks below never run
again. ``checkpoints`` snapshots are saved, evenly spaced, as safetensors (atomically), each with the
trained weights, AdamW's first and second moments and the learning rate: a run that is stopped
resumes from its last checkpoint, and TracIn / TrackStar read them. The norms of the trained blocks
stay frozen (so each trained tensor is a linear layer's weight or bias, see :mod:`.gradients`).

Example:
    >>> from interp.data_attribution import finetune
    >>> run = finetune(model, "planted_facts", blocks=2, epochs=4, out="runs/facts")
    >>> run.model.name
    'SmolLM2-135M-Instruct-Q4_1+ft(planted_facts,blocks 28-29)'
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp._validation import check_choice, check_int
from interp.data_attribution import _stack
from interp.data_attribution.datasets import TrainingData, load_training_data
from interp.errors import InvalidParameterError, RunFolderError
from interp.progress import ProgressArg, ProgressCallback, resolve_progress
from interp.results import atomic_path, atomic_write_bytes

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["FineTuneRun", "finetune", "load_run", "run_base_name", "run_fingerprint", "train_top_stack"]

RUN_FORMAT = "interp.finetune_run"
PARTS = ("all", "mlp")


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    blocks: int
    part: str
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    checkpoints: int
    seed: int

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil(n / self.batch_size)


def _schedule(n: int, config: FineTuneConfig) -> list[list[int]]:
    """The examples of every step, all epochs: a fresh permutation per epoch from a local generator."""
    gen = torch.Generator().manual_seed(int(config.seed))
    steps = []
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=gen).tolist()
        steps += [order[i:i + config.batch_size] for i in range(0, n, config.batch_size)]
    return steps


def _checkpoint_steps(n_steps: int, k: int) -> list[int]:
    return sorted({max(1, round(n_steps * (c + 1) / k)) for c in range(k)})


def train_top_stack(top: torch.nn.Module, layers: list[tuple[str, torch.nn.Module]], resid: list[torch.Tensor],
                    ids: list[list[int]], n_prompt: list[int], config: FineTuneConfig, *,
                    on_checkpoint=None, start: dict | None = None, progress: ProgressCallback | None = None,
                    stage: str = "finetune",
                    subset: np.ndarray | None = None, losses: list[float] | None = None) -> list[float]:
    """Train the ``layers`` of ``top`` in place with AdamW (see the module docstring); return the loss of every step.

    ``subset``: train only on these example indices (LDS retrains); the schedule is then drawn over them.
    ``start``: a checkpoint to resume from (its params, moments and step). ``on_checkpoint(c, step, lr, params, opt)``
    is called at each checkpoint step. ``losses``: a list the step losses are appended to (returned).
    """
    index = np.arange(len(ids)) if subset is None else np.asarray(subset)
    params = [p for _, m in layers for p in m.parameters(recurse=False)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.999), eps=1e-8)
    steps = _schedule(len(index), config)
    marks = _checkpoint_steps(len(steps), config.checkpoints)
    done = 0
    if start is not None:
        done = int(start["step"])
        with torch.no_grad():
            for p, value in zip(params, start["params"]):
                p.copy_(value)
        for p, m, v in zip(params, start["exp_avg"], start["exp_avg_sq"]):
            opt.state[p] = {"step": torch.tensor(float(done)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    losses = [] if losses is None else losses
    if progress is not None:
        progress(stage, done, len(steps))
    try:
        for step in range(done, len(steps)):
            batch = [int(index[i]) for i in steps[step]]
            opt.zero_grad(set_to_none=True)
            loss = _stack.sequence_losses(top, [resid[i] for i in batch], [ids[i] for i in batch],
                                          [n_prompt[i] for i in batch]).mean()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if on_checkpoint is not None and step + 1 in marks:
                on_checkpoint(marks.index(step + 1), step + 1, config.lr, params, opt)
            if progress is not None:
                progress(stage, step + 1, len(steps))
    finally:
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    return losses


class FineTuneRun:
    """A finished fine-tuning run in its folder: the fine-tuned model, its checkpoints, data and settings.

    Attributes:
        path: the run folder.
        base: the model it started from.
        model: the fine-tuned :class:`interp.Model` (its name and model card say fine-tuned, from which
            base, on which data, which blocks).
        data: the :class:`TrainingData` it was trained on.
        config: blocks, part, epochs, lr, batch size, weight decay, number of checkpoints, seed.
        first_block: the lowest trained block (blocks ``first_block..n_layers-1`` are trained).
        checkpoints: per checkpoint, ``{"file", "step", "lr"}``.
        losses: the training loss of every step.
        seconds: the wall time of training (0 when loaded from a finished folder).
    """

    def __init__(self, path: Path, base: Model, data: TrainingData, config: FineTuneConfig, meta: dict, top: torch.nn.Module):
        self.path = Path(path)
        self.base = base
        self.data = data
        self.config = config
        self.first_block = base.n_layers - config.blocks
        self.checkpoints: list[dict] = meta["checkpoints"]
        self.losses: list[float] = meta["losses"]
        self.seconds: float = float(meta.get("seconds", 0.0))
        self.meta = meta
        self._top = top
        self._model: Model | None = None
        self._resid: list[torch.Tensor] | None = None
        self._encoded: _stack.Encoded | None = None

    def __repr__(self) -> str:
        return (f"FineTuneRun({str(self.path)!r}, base={self.base.name!r}, data={self.data.name!r}, "
                f"blocks={self.first_block}-{self.base.n_layers - 1}, checkpoints={len(self.checkpoints)})")

    # -------------------------------------------------------------- what attribution reads
    @property
    def top(self) -> torch.nn.Module:
        """The trained top stack (final weights) as a plain HF model (see :mod:`._stack`)."""
        return self._top

    def layers(self, top: torch.nn.Module | None = None) -> list[tuple[str, torch.nn.Module]]:
        return _stack.trainable_layers(self._top if top is None else top, self.config.part)

    @property
    def encoded(self) -> _stack.Encoded:
        if self._encoded is None:
            self._encoded = _stack.encode_pairs(self.base, [(e.prompt, e.text) for e in self.data.examples],
                                                where="FineTuneRun")
        return self._encoded

    @property
    def residuals(self) -> list[torch.Tensor]:
        """(len_i, d_model) residual stream entering the trained blocks, per training example (cached in the folder)."""
        if self._resid is None:
            self._resid = _load_or_make_residuals(self.path, self.base, self.encoded, self.first_block)
        return self._resid

    def checkpoint_stack(self, c: int) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
        """A copy of the top stack with checkpoint ``c``'s weights, and that checkpoint's tensors (moments too)."""
        from safetensors.torch import load_file

        tensors = load_file(self.path / self.checkpoints[c]["file"])
        top = deepcopy_module(self._top)
        _load_params(top, self.config.part, tensors)
        return top, tensors

    def second_moments(self, c: int = -1) -> dict[str, torch.Tensor]:
        """AdamW's ``exp_avg_sq`` at checkpoint ``c`` by parameter name (bias-corrected: ``v / (1 - beta2^step)``)."""
        from safetensors.torch import load_file

        entry = self.checkpoints[c]
        tensors = load_file(self.path / entry["file"])
        scale = 1.0 - 0.999 ** int(entry["step"])
        return {k[len("exp_avg_sq."):]: v / scale for k, v in tensors.items() if k.startswith("exp_avg_sq.")}

    @property
    def model(self) -> Model:
        """The fine-tuned :class:`interp.Model` (built on first use: a copy of the base with the trained weights)."""
        if self._model is None:
            self._model = _finetuned_model(self)
        return self._model

    # -------------------------------------------------------------- views
    def to_frame(self) -> DataFrame:
        import pandas as pd

        steps_per_epoch = self.config.steps_per_epoch(len(self.data))
        return pd.DataFrame({"step": np.arange(1, len(self.losses) + 1), "loss": self.losses,
                             "epoch": np.arange(len(self.losses)) // steps_per_epoch + 1})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure(go.Scatter(x=frame["step"].tolist(), y=frame["loss"].tolist(), mode="lines", name="training loss"))
        for entry in self.checkpoints:
            fig.add_vline(x=entry["step"], line_dash="dot", line_color="gray")
        fig.update_layout(title=f"Fine-tuning {self.base.name} on {self.data.name} (dotted: checkpoints)",
                          xaxis_title="step", yaxis_title="loss on continuation tokens")
        return fig

    def summary(self) -> str:
        return (f"{self.model_name()}: {len(self.data)} examples, {self.config.epochs} epochs, "
                f"loss {self.losses[0]:.3f} -> {self.losses[-1]:.3f}, {len(self.checkpoints)} checkpoints in {self.path}")

    def model_name(self) -> str:
        return f"{self.base.name}+ft({self.data.name},{self.config.part} blocks {self.first_block}-{self.base.n_layers - 1})"


def _param_names(top: torch.nn.Module, part: str) -> list[tuple[str, torch.nn.Parameter]]:
    return [(f"{name}.{pname}", p) for name, m in _stack.trainable_layers(top, part)
            for pname, p in m.named_parameters(recurse=False)]


def _load_params(top: torch.nn.Module, part: str, tensors: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in _param_names(top, part):
            p.copy_(tensors[f"param.{name}"])


def _settings(model: Model, dataset: Any, *, blocks: int, part: str, epochs: int, lr: float, batch_size: int,
              weight_decay: float, checkpoints: int, seed: int, where: str) -> tuple[TrainingData, FineTuneConfig]:
    """The training data and settings of a fine-tuning run, checked (the checks of :func:`finetune`)."""
    data = load_training_data(dataset, where=where)
    check_int(blocks, name="blocks", where=where, low=1, high=model.n_layers)
    check_choice(part, PARTS, name="part", where=where)
    check_int(epochs, name="epochs", where=where, low=1)
    check_int(batch_size, name="batch_size", where=where, low=1)
    check_int(checkpoints, name="checkpoints", where=where, low=1, high=10_001)
    check_int(seed, name="seed", where=where, low=0)
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
                or (name == "lr" and value == 0):
            raise InvalidParameterError(f"The {name!r} parameter of {where} must be a finite float "
                                        f"{'> 0' if name == 'lr' else '>= 0'}. Got {value!r} instead.")
    return data, FineTuneConfig(blocks, part, epochs, float(lr), batch_size, float(weight_decay), checkpoints, seed)


def run_fingerprint(model: Model, dataset: str | os.PathLike | TrainingData = "shipped", *, blocks: int = 2,
                    part: str = "all", epochs: int = 4, lr: float = 1e-3, batch_size: int = 8, weight_decay: float = 0.0,
                    checkpoints: int = 3, seed: int = 0) -> str:
    """The fingerprint :func:`finetune` gives a run of these weights, data and settings (16 hex digits).

    It names the default run folder (``<interp cache>/finetune/<fingerprint>``) and is checked against a folder's
    ``run.json`` before a run there is resumed or reused; a shell that keeps runs in a folder of its own (the
    explorer) names them by it too, so a run is found again exactly when :func:`finetune` would reuse it.

    Args:
        model, dataset, blocks, part, epochs, lr, batch_size, weight_decay, checkpoints, seed: as :func:`finetune`
            (checked the same way).

    Returns:
        ``str``: a hash of the model's weights (:func:`interp.models.card.weights_fingerprint`), the training
        data and the settings.

    Example:
        >>> key = run_fingerprint(model, "planted_facts", blocks=1)
        >>> finetune(model, "planted_facts", blocks=1, out=my_runs / key).meta["fingerprint"] == key
        True
    """
    data, config = _settings(model, dataset, blocks=blocks, part=part, epochs=epochs, lr=lr, batch_size=batch_size,
                             weight_decay=weight_decay, checkpoints=checkpoints, seed=seed, where="run_fingerprint")
    return _fingerprint(model, data, config)


def _fingerprint(base: Model, data: TrainingData, config: FineTuneConfig) -> str:
    from interp.models.card import weights_fingerprint

    text = json.dumps({"base": weights_fingerprint(base), "data": data.fingerprint(), "config": dataclasses.asdict(config)},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _load_or_make_residuals(path: Path, base: Model, encoded: _stack.Encoded, first_block: int) -> list[torch.Tensor]:
    from safetensors.torch import load_file, save_file

    file = path / "residuals.safetensors"
    lengths = [len(x) for x in encoded.ids]
    if file.is_file():
        tensors = load_file(file)
        flat = tensors["resid"]
        if tensors["lengths"].tolist() == lengths:
            return list(torch.split(flat, lengths))
    resid = _stack.residuals(base, encoded, first_block)
    with atomic_path(file) as tmp:
        save_file({"resid": torch.cat(resid).contiguous(), "lengths": torch.tensor(lengths)}, str(tmp))
    return resid


def _default_out(fingerprint: str) -> Path:
    from interp.models._cache import cache_root

    return cache_root() / "finetune" / fingerprint


def finetune(model: Model, dataset: str | os.PathLike | TrainingData = "shipped", *, blocks: int = 2, part: str = "all",
             epochs: int = 4, lr: float = 1e-3, batch_size: int = 8, weight_decay: float = 0.0, checkpoints: int = 3,
             seed: int = 0, out: str | os.PathLike | None = None, progress: ProgressArg = None) -> FineTuneRun:
    """Fine-tune the top ``blocks`` blocks of ``model`` on ``dataset``; resume or reuse a run already in ``out``.

    Args:
        model: the base model (not modified: the trained weights live in a copy).
        dataset: a built-in set (see :data:`~interp.data_attribution.datasets.TRAINING_SETS`), a JSONL
            path or a :class:`TrainingData`.
        blocks: how many top blocks are trained, in [1, n_layers).
        part: "all" (every linear layer of those blocks) or "mlp" (only their MLPs).
        epochs, lr, batch_size, weight_decay: AdamW (betas 0.9/0.999) with a constant learning rate.
        checkpoints: how many evenly spaced checkpoints are saved (the last is the final model).
        seed: the shuffling seed (a local generator; nothing global is seeded).
        out: the run folder; by default ``<interp cache>/finetune/<fingerprint of model, data and settings>``.
        progress: see :mod:`interp.progress` (stages "residuals" and "finetune", one unit a step).

    Returns:
        :class:`FineTuneRun`; ``run.model`` is the ready fine-tuned :class:`interp.Model`.

    Raises:
        InvalidParameterError: a bad setting. InvalidDatasetError: a bad dataset.
        RunFolderError: ``out`` holds a run of other data or settings.
    """
    where = "finetune"
    data, config = _settings(model, dataset, blocks=blocks, part=part, epochs=epochs, lr=lr, batch_size=batch_size,
                             weight_decay=weight_decay, checkpoints=checkpoints, seed=seed, where=where)
    report = resolve_progress(progress, where=where)
    fingerprint = _fingerprint(model, data, config)
    path = Path(out).expanduser() if out is not None else _default_out(fingerprint)
    meta_file = path / "run.json"
    meta: dict[str, Any] = {}
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != RUN_FORMAT or meta.get("fingerprint") != fingerprint:
            raise RunFolderError(f"{path} holds another fine-tuning run (of other weights, data or settings: fingerprint "
                                 f"{meta.get('fingerprint')!r}, this call's is {fingerprint!r}). Give another 'out' folder.")
    path.mkdir(parents=True, exist_ok=True)
    first_block = model.n_layers - blocks
    top = _stack.top_stack(model, first_block)
    if meta.get("complete"):
        from safetensors.torch import load_file

        _load_params(top, part, load_file(path / meta["checkpoints"][-1]["file"]))
        run = FineTuneRun(path, model, data, config, {**meta, "seconds": 0.0}, top)
        return run
    t0 = time.perf_counter()
    encoded = _stack.encode_pairs(model, [(e.prompt, e.text) for e in data.examples], where=where)
    report("residuals", 0, 1)
    resid = _load_or_make_residuals(path, model, encoded, first_block)
    report("residuals", 1, 1)
    layers = _stack.trainable_layers(top, part)
    names = [n for n, _ in _param_names(top, part)]
    saved: list[dict] = list(meta.get("checkpoints", []))
    losses: list[float] = list(meta.get("losses", []))
    start = None
    if saved:  # resume from the last checkpoint written
        from safetensors.torch import load_file

        tensors = load_file(path / saved[-1]["file"])
        start = {"step": saved[-1]["step"], "params": [tensors[f"param.{n}"] for n in names],
                 "exp_avg": [tensors[f"exp_avg.{n}"] for n in names],
                 "exp_avg_sq": [tensors[f"exp_avg_sq.{n}"] for n in names]}
        losses = losses[:saved[-1]["step"]]

    def write_meta(complete: bool) -> None:
        document = {"format": RUN_FORMAT, "fingerprint": fingerprint, "complete": complete,
                    "base": model.name, "base_card": _base_card(model), "data": data.name, "data_source": data.source,
                    "data_fingerprint": data.fingerprint(), "config": dataclasses.asdict(config),
                    "first_block": first_block, "checkpoints": saved, "losses": losses,
                    "seconds": time.perf_counter() - t0}
        atomic_write_bytes(meta_file, json.dumps(document, indent=1).encode())

    def on_checkpoint(c: int, step: int, lr_now: float, params: list, opt: torch.optim.Optimizer) -> None:
        from safetensors.torch import save_file

        tensors = {}
        for n, p in zip(names, params):
            state = opt.state[p]
            tensors[f"param.{n}"] = p.detach().clone()
            tensors[f"exp_avg.{n}"] = state["exp_avg"].clone()
            tensors[f"exp_avg_sq.{n}"] = state["exp_avg_sq"].clone()
        file = f"checkpoints/ckpt-{c:03d}.safetensors"
        with atomic_path(path / file) as tmp:
            save_file(tensors, str(tmp))
        saved.append({"file": file, "step": step, "lr": lr_now})
        write_meta(False)

    train_top_stack(top, layers, resid, encoded.ids, encoded.n_prompt, config, on_checkpoint=on_checkpoint,
                    start=start, progress=report, losses=losses)
    write_meta(True)
    run = FineTuneRun(path, model, data, config, json.loads(meta_file.read_text()), top)
    run.seconds = time.perf_counter() - t0
    run._resid, run._encoded = resid, encoded
    return run


def deepcopy_module(module: torch.nn.Module) -> torch.nn.Module:
    """``copy.deepcopy(module)``, also after a gradient pass. TransformerLens's bridge keeps the last attention
    pattern on each attention module (``_pattern``); after a forward with gradients (integrated gradients,
    attribution patching) that tensor is part of the autograd graph, and torch refuses to deep-copy non-leaf
    tensors. Such cached tensors are copied detached (their values, without the graph)."""
    memo: dict[int, Any] = {}
    for sub in module.modules():
        for value in vars(sub).values():
            if isinstance(value, torch.Tensor) and value.grad_fn is not None:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(module, memo)


def _base_card(model: Model) -> dict:
    from interp.models.card import model_card

    return model_card(model)


def _finetuned_model(run: FineTuneRun) -> Model:
    """A copy of the base model with the trained weights, named and carded as fine-tuned."""
    from interp.models.model import Model as ModelClass

    base = run.base
    with base.lock:
        bridge = deepcopy_module(base.bridge)
    target = _stack._original_params(bridge)
    with torch.no_grad():
        for name, p in _param_names(run.top, run.config.part):
            dest = target[_stack.layer_key(name, run.first_block)]
            dest.copy_(p.detach().to(dest.dtype))
    tuned = ModelClass(bridge, base.tokenizer, name=run.model_name(), source=base.source)
    provenance = dict(getattr(base, "provenance", None) or {})
    provenance["weights"] = (f"fine-tuned by interp.data_attribution.finetune from {base.name} "
                             f"({provenance.get('weights', 'unknown')}; base fingerprint {run.meta['base_card']['fingerprint']}) "
                             f"on {run.data.name} ({len(run.data)} examples, {run.data.fingerprint()}), "
                             f"{run.config.part} linear layers of blocks {run.first_block}-{base.n_layers - 1}, "
                             f"{run.config.epochs} epochs, AdamW lr {run.config.lr}, seed {run.config.seed}")
    tuned.provenance = provenance
    tuned.finetune_run = str(run.path)
    return tuned


def run_base_name(path: str | os.PathLike) -> str | None:
    """The base model name a run folder records (None if the folder holds no run)."""
    meta_file = Path(path).expanduser() / "run.json"
    if not meta_file.is_file():
        return None
    try:
        return json.loads(meta_file.read_text()).get("base")
    except (OSError, json.JSONDecodeError):
        return None


def load_run(path: str | os.PathLike, model: Model, dataset: str | os.PathLike | TrainingData | None = None) -> FineTuneRun:
    """Open a finished run folder written by :func:`finetune` (``model``: the same base model it was trained from).

    ``dataset`` defaults to the built-in set the run names; give the JSONL path for a user file.

    Raises:
        RunFolderError: no finished run there, or ``model`` / the data are not the ones it was trained on.
    """
    path = Path(path).expanduser()
    meta_file = path / "run.json"
    if not meta_file.is_file():
        raise RunFolderError(f"{path} holds no fine-tuning run (no run.json); make one with finetune(model, data, out=...).")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != RUN_FORMAT or not meta.get("complete"):
        raise RunFolderError(f"{path} holds an unfinished or foreign run; call finetune(...) with "
                             f"out={str(path)!r} to resume it.")
    data = load_training_data(dataset if dataset is not None else meta["data_source"].removeprefix("built-in "),
                              where="load_run")
    config = FineTuneConfig(**meta["config"])
    if _fingerprint(model, data, config) != meta["fingerprint"]:
        raise RunFolderError(f"{path} was fine-tuned from {meta['base']} on {meta['data']} ({meta['data_fingerprint']}); "
                             f"the model {model.name} or the data {data.name} ({data.fingerprint()}) given is not that.")
    from safetensors.torch import load_file

    top = _stack.top_stack(model, model.n_layers - config.blocks)
    _load_params(top, config.part, load_file(path / meta["checkpoints"][-1]["file"]))
    return FineTuneRun(path, model, data, config, {**meta, "seconds": 0.0}, top)
