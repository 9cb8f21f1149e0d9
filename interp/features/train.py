"""Training sparse autoencoders on a CPU: TopK with AuxK (Gao et al. 2024), or ReLU + L1.

Gao et al. 2024, "Scaling and evaluating sparse autoencoders": the encoder keeps the k largest
pre-activations (``z = ReLU(TopK((x - b_dec) W_enc + b_enc))``), the decoder's rows are kept at unit norm
(and the gradient's component along them removed), the encoder starts as the decoder's transpose and
``b_dec`` at the data mean, and an auxiliary loss (AuxK) makes latents that have not fired in
``dead_after`` tokens reconstruct the residual error with their top ``aux_k`` pre-activations, so few
latents die. The loss is the fraction of variance unexplained, plus ``aux_coefficient`` times AuxK's.
The second kind, ``"standard"``, is the ReLU SAE with an L1 penalty on the activations (Bricken et al. 2023).

Inputs are standardised as SAELens does: the first position (BOS, or the first token where a model has
none) is never a row (its norm dwarfs the rest), and activations are multiplied by one scalar so that
``E||x||^2 = d_in``; that scalar is folded into the saved weights at the end (the SAE then reads raw
activations) and kept in the config.

:func:`train_sae` streams one layer's activations from :func:`interp.activations.collect_shard` shards
into :class:`SAETrainer`, one shard at a time (harvest a shard, train on it, next): with ``out=DIR`` the
shards, the trainer state (``trainer/state.safetensors`` + ``state.json``, no pickle) and the SAE
(``sae/``, SAELens layout) are kept, and a re-run with the same inputs resumes after the last shard
trained.

Example:
    >>> from interp.features import train_sae, default_texts
    >>> run = train_sae(model, default_texts(max_texts=500), layer=15, k=32, out="runs/sae-l15")
    >>> run.summary(); sae = run.sae
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Interval, Layer, Options, validate_params
from interp._validation import check_choice, check_int, check_texts
from interp.errors import InvalidParameterError, InvalidResultFileError
from interp.features.sae import SparseAutoencoder
from interp.progress import ProgressArg, resolve_progress
from interp.results import Result, atomic_write_bytes

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["train_sae", "SAETrainer", "SAETrainingResult", "KINDS"]

KINDS = ("topk", "standard")
STATE_FILE, STATE_JSON = "state.safetensors", "state.json"


def default_lr(d_sae: int) -> float:
    """Gao et al.'s learning-rate scaling: 2e-4 at 16,384 latents, times 1 / sqrt(d_sae / 16384)."""
    return 2e-4 / math.sqrt(d_sae / 2 ** 14)


class SAETrainer:
    """One SAE being trained on (n, d_in) float32 batches of raw activations.

    Args:
        d_in, d_sae: widths. kind: "topk" or "standard". k: active latents (topk).
        l1_coefficient: the L1 weight (standard). lr: Adam's learning rate (default :func:`default_lr`).
        dead_after: a latent that has not fired in this many tokens is dead (AuxK trains it).
        aux_k: latents AuxK uses (default d_in // 2); aux_coefficient: its weight (1/32, Gao et al.).
        batch_size: tokens per step. input_scale: the standardising scalar (None: set from the first data).
        seed: initialisation and shuffling.
    """

    def __init__(self, d_in: int, d_sae: int, *, kind: str = "topk", k: int = 32, l1_coefficient: float = 5.0,
                 lr: float | None = None, dead_after: int = 200_000, aux_k: int | None = None,
                 aux_coefficient: float = 1 / 32, batch_size: int = 4096, input_scale: float | None = None,
                 seed: int = 0):
        import torch

        where = "SAETrainer"
        check_choice(kind, KINDS, name="kind", where=where)
        check_int(d_in, name="d_in", where=where, low=1)
        check_int(d_sae, name="d_sae", where=where, low=1)
        check_int(batch_size, name="batch_size", where=where, low=1)
        check_int(dead_after, name="dead_after", where=where, low=1)
        if kind == "topk":
            check_int(k, name="k", where=where, low=1, high=d_sae + 1)
        self.kind, self.d_in, self.d_sae, self.k = kind, int(d_in), int(d_sae), int(k)
        self.l1_coefficient, self.lr = float(l1_coefficient), float(lr if lr is not None else default_lr(d_sae))
        self.dead_after, self.aux_coefficient = int(dead_after), float(aux_coefficient)
        self.aux_k = int(aux_k if aux_k is not None else max(1, d_in // 2))
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.input_scale = input_scale
        gen = torch.Generator().manual_seed(self.seed)
        W_dec = torch.randn(d_sae, d_in, generator=gen)
        W_dec /= W_dec.norm(dim=-1, keepdim=True)
        self.params = {"W_enc": W_dec.T.clone().contiguous(), "b_enc": torch.zeros(d_sae), "W_dec": W_dec,
                       "b_dec": torch.zeros(d_in)}
        self.adam = {f"{name}.{m}": torch.zeros_like(p) for name, p in self.params.items() for m in ("m", "v")}
        self.since_fired = torch.zeros(d_sae, dtype=torch.float64)
        self.step, self.tokens, self.initialised = 0, 0, False
        self.history: dict[str, list[float]] = {"step": [], "tokens": [], "fvu": [], "l0": [], "dead": []}

    # ------------------------------------------------------------------ training
    def _start(self, x):  # x: (n, d_in) raw
        if self.input_scale is None:
            self.input_scale = float(math.sqrt(self.d_in / max(float((x.double() ** 2).sum(-1).mean()), 1e-12)))
        if not self.initialised:
            self.params["b_dec"] = (x * self.input_scale).mean(0).clone()
            self.initialised = True

    def partial_fit(self, x: Any, *, shuffle_seed: int | None = None) -> SAETrainer:
        """Train on the rows of ``x`` (n, d_in) raw activations, shuffled, ``batch_size`` at a time; returns self."""
        import torch

        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if x.dim() != 2 or x.shape[1] != self.d_in:
            raise InvalidParameterError(f"SAETrainer.partial_fit takes (n, {self.d_in}) activations. "
                                        f"Got {tuple(x.shape)} instead.")
        if not len(x):
            return self
        x = x.float()
        self._start(x)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + (shuffle_seed if shuffle_seed is not None else
                                                                    self.step))
        order = torch.randperm(len(x), generator=gen)
        for a in range(0, len(x), self.batch_size):
            self._step(x[order[a:a + self.batch_size]] * self.input_scale)
        return self

    def _forward(self, x, params):
        import torch

        pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]  # (batch, d_sae)
        if self.kind == "topk":
            values, index = pre.topk(self.k, dim=-1)
            values = torch.relu(values)
            z = torch.zeros_like(pre).scatter(-1, index, values)  # dense: one BLAS product beats a sparse gather here
            x_hat = z @ params["W_dec"] + params["b_dec"]
            return pre, index, values, x_hat
        z = torch.relu(pre)
        return pre, None, z, z @ params["W_dec"] + params["b_dec"]

    def _step(self, x) -> None:
        import torch

        params = {name: p.detach().requires_grad_(True) for name, p in self.params.items()}
        pre, index, values, x_hat = self._forward(x, params)
        total = ((x - x.mean(0)) ** 2).sum().clamp_min(1e-12)
        fvu = ((x_hat - x) ** 2).sum() / total
        if self.kind == "topk":
            fired = index[values > 0].unique()
            l0 = float((values > 0).sum(-1).float().mean())
        else:
            fired = (values > 0).any(0).nonzero().flatten()
            l0 = float((values > 0).sum(-1).float().mean())
        self.since_fired += len(x)
        self.since_fired[fired] = 0
        dead = self.since_fired > self.dead_after
        loss = fvu
        if self.kind == "topk" and bool(dead.any()):
            k_aux = min(self.aux_k, int(dead.sum()))
            masked = pre.masked_fill(~dead, float("-inf"))
            aux_values, aux_index = masked.topk(k_aux, dim=-1)
            aux_values = torch.relu(aux_values)
            error = (x - x_hat).detach()
            e_hat = torch.zeros_like(pre).scatter(-1, aux_index, aux_values) @ params["W_dec"]
            aux = ((e_hat - error) ** 2).sum() / ((error - error.mean(0)) ** 2).sum().clamp_min(1e-12)
            loss = loss + self.aux_coefficient * torch.nan_to_num(aux)
        if self.kind == "standard":
            loss = ((x_hat - x) ** 2).sum(-1).mean() + self.l1_coefficient * values.sum(-1).mean()
        loss.backward()
        self.step += 1
        self.tokens += len(x)
        with torch.no_grad():
            W = params["W_dec"]
            grad = params["W_dec"].grad
            grad -= (grad * W).sum(-1, keepdim=True) * W  # keep the unit-norm rows on their sphere
            b1, b2, eps = 0.9, 0.999, 1e-8
            for name, p in params.items():
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                m, v = self.adam[f"{name}.m"], self.adam[f"{name}.v"]
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                update = (m / (1 - b1 ** self.step)) / ((v / (1 - b2 ** self.step)).sqrt() + eps)
                self.params[name] = (p.detach() - self.lr * update).contiguous()
            self.params["W_dec"] /= self.params["W_dec"].norm(dim=-1, keepdim=True).clamp_min(1e-12)
        for key, value in (("step", self.step), ("tokens", self.tokens), ("fvu", float(fvu.detach())), ("l0", l0),
                           ("dead", float(dead.float().mean()))):
            self.history[key].append(float(value))

    # ------------------------------------------------------------------ the SAE
    def sae(self, *, hook_name: str = "", layer: int | None = None, metadata: dict[str, Any] | None = None
            ) -> SparseAutoencoder:
        """The SAE for raw activations: the input scale folded into the weights (see the module docstring)."""
        s = float(self.input_scale or 1.0)
        p = self.params
        meta = dict(metadata or {})
        meta["interp"] = {**meta.get("interp", {}), "input_scale": s, "kind": self.kind}
        return SparseAutoencoder(p["W_enc"] * s, p["b_enc"], p["W_dec"] / s, p["b_dec"] / s,
                                 architecture="topk" if self.kind == "topk" else "standard",
                                 k=self.k if self.kind == "topk" else None, hook_name=hook_name, layer=layer,
                                 metadata=meta)

    # ------------------------------------------------------------------ state
    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "d_in": self.d_in, "d_sae": self.d_sae, "k": self.k,
                "l1_coefficient": self.l1_coefficient, "lr": self.lr, "dead_after": self.dead_after,
                "aux_k": self.aux_k, "aux_coefficient": self.aux_coefficient, "batch_size": self.batch_size,
                "seed": self.seed}

    def save_state(self, folder: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
        """Write ``state.safetensors`` (weights, Adam moments, tokens since each latent fired) and ``state.json``."""
        from safetensors.torch import save as save_tensors

        folder = Path(folder)
        tensors = {**{f"param.{k}": v for k, v in self.params.items()},
                   **{f"adam.{k}": v for k, v in self.adam.items()}, "since_fired": self.since_fired}
        atomic_write_bytes(folder / STATE_FILE, save_tensors({k: v.contiguous() for k, v in tensors.items()}))
        document = {"format": "interp.sae_trainer", "settings": self.settings(), "step": self.step,
                    "tokens": self.tokens, "input_scale": self.input_scale, "initialised": self.initialised,
                    "history": self.history, "extra": extra or {}}
        atomic_write_bytes(folder / STATE_JSON, json.dumps(document).encode("utf-8"))

    @classmethod
    def load_state(cls, folder: str | os.PathLike) -> tuple[SAETrainer, dict[str, Any]]:
        """A trainer saved by :meth:`save_state`, and the ``extra`` dict saved with it."""
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            document = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
            tensors = load_file(str(folder / STATE_FILE))
            trainer = cls(**{k: v for k, v in document["settings"].items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidResultFileError(f"{folder} holds no valid SAE trainer state ({exc}).") from None
        trainer.params = {k[len("param."):]: v for k, v in tensors.items() if k.startswith("param.")}
        trainer.adam = {k[len("adam."):]: v for k, v in tensors.items() if k.startswith("adam.")}
        trainer.since_fired = tensors["since_fired"]
        trainer.step, trainer.tokens = int(document["step"]), int(document["tokens"])
        trainer.input_scale, trainer.initialised = document["input_scale"], bool(document["initialised"])
        trainer.history = document["history"]
        return trainer, document.get("extra", {})


@dataclasses.dataclass(eq=False)
class SAETrainingResult(Result):
    """A trained SAE's run: the training curve and where the time went.

    Attributes:
        model_name, layer, hook_name, sae_kind ("topk" / "standard"), k, d_in, d_sae: what was trained.
        n_texts, n_tokens: the training data (tokens: rows trained on, first positions excluded).
        steps, tokens, fvu, l0, dead: (n_steps,) the curve: fraction of variance unexplained (train batch),
            mean active latents, fraction of latents dead.
        harvest_seconds, train_seconds: time in the forward passes (harvesting shards) and in SAE steps.
        explained_variance, explained_variance_low/_high: 1 - FVU over the last 10 % of steps, with the
            interval of its mean (training batches; :func:`~interp.features.evaluate_sae` measures held-out text).
        input_scale: the standardising scalar (folded into the saved weights).
        settings: the trainer's settings; sae_dir: the SAE folder (SAELens layout) or "" when not saved.
    """

    title: ClassVar[str] = "SAE training"
    model_name: str
    layer: int
    hook_name: str
    sae_kind: str
    k: int | None
    d_in: int
    d_sae: int
    n_texts: int
    n_tokens: int
    steps: np.ndarray
    tokens: np.ndarray
    fvu: np.ndarray
    l0: np.ndarray
    dead: np.ndarray
    harvest_seconds: float
    train_seconds: float
    explained_variance: float
    explained_variance_low: float
    explained_variance_high: float
    input_scale: float
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    sae_dir: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sae: SparseAutoencoder | None = None

    @property
    def sae(self) -> SparseAutoencoder:
        """The trained SAE (read from ``sae_dir`` when this result was loaded from a file)."""
        if getattr(self, "_sae", None) is None:
            if not self.sae_dir:
                raise InvalidResultFileError("This training result holds no SAE: it was trained without out= and "
                                             "saved; train again with out=DIR.")
            from interp.features.sae import load_sae

            self._sae = load_sae(self.sae_dir)
        return self._sae

    def tokens_per_second(self) -> float:
        return self.n_tokens / max(self.harvest_seconds + self.train_seconds, 1e-9)

    def summary(self) -> str:
        what = f"TopK (k={self.k})" if self.sae_kind == "topk" else "ReLU + L1"
        dead = float(self.dead[-1]) if len(self.dead) else float("nan")
        return (f"{what} SAE, {self.d_sae} latents, on layer {self.layer} of {self.model_name}: {self.n_tokens:,} tokens "
                f"of {self.n_texts} texts; train explained variance {self.explained_variance:.3f} "
                f"[{self.explained_variance_low:.3f}, {self.explained_variance_high:.3f}] (last 10% of steps), "
                f"L0 {float(self.l0[-1]) if len(self.l0) else float('nan'):.1f}, dead {dead:.1%}; "
                f"{self.tokens_per_second():,.0f} tokens/s (forward {self.harvest_seconds:.0f} s, SAE "
                f"{self.train_seconds:.0f} s).")

    def caveats(self) -> list[str]:
        out = []
        if self.n_tokens < 100 * self.d_sae:
            out.append(f"Trained on {self.n_tokens:,} tokens, fewer than 100 per latent ({self.d_sae} latents): "
                       "expect dead or noisy features; train on more text.")
        out.append("Explained variance here is on training batches; evaluate_sae measures it on held-out text.")
        return out

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"step": self.steps.astype(int), "tokens": self.tokens.astype(int), "fvu": self.fvu,
                             "explained_variance": 1 - self.fvu, "l0": self.l0, "dead_fraction": self.dead})

    def plot(self) -> Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=3, subplot_titles=("explained variance", "L0", "dead fraction"))
        for col, (name, y) in enumerate((("explained variance", 1 - self.fvu), ("L0", self.l0),
                                         ("dead", self.dead)), start=1):
            fig.add_trace(go.Scatter(x=self.tokens, y=y, name=name, mode="lines"), row=1, col=col)
        fig.update_xaxes(title_text="tokens")
        fig.update_layout(title=self.title, showlegend=False)
        return fig


def _run_hash(model: Any, plan_hash: str, settings: dict[str, Any], layer: int, max_tokens: int | None) -> str:
    text = json.dumps([model.name, plan_hash, settings, layer, max_tokens], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@validate_params({
    "model": ["model"], "texts": ["texts", None], "layer": [Layer(allow_embed=True), None], "kind": [Options(KINDS)],
    "k": [Interval(int, 1, None)], "width": [Interval(int, 1, None), None], "l1_coefficient": [Interval(float, 0, None)],
    "lr": [Interval(float, 0, None, closed="neither"), None], "batch_size": [Interval(int, 1, None)],
    "dead_after": [Interval(int, 1, None)], "aux_k": [Interval(int, 1, None), None],
    "max_tokens": [Interval(int, 1, None), None], "shard_size": [Interval(int, 1, None)], "out": ["path", None],
    "seed": [Interval(int, 0, None)], "progress": ["progress"],
})
def train_sae(model: Model, texts: str | Sequence[str] | None = None, layer: int | None = None, *,
              kind: str = "topk", k: int = 32, width: int | None = None, l1_coefficient: float = 5.0,
              lr: float | None = None, batch_size: int = 4096, dead_after: int = 200_000, aux_k: int | None = None,
              max_tokens: int | None = None, shard_size: int = 256, out: str | os.PathLike | None = None,
              seed: int = 0, progress: ProgressArg = None) -> SAETrainingResult:
    """Train an SAE on ``layer``'s residual stream over ``texts``, streaming activations shard by shard.

    Args:
        model: an :class:`interp.Model`.
        texts: the training texts; None = :func:`~interp.features.default_texts` (split "train").
        layer: interp's layer (0 = embeddings, l = after block l - 1); default the middle (n_layers // 2).
        kind: "topk" (Gao et al. 2024, with AuxK) or "standard" (ReLU + L1).
        k: active latents per token (topk). width: latents, default 8 * d_model.
        l1_coefficient: the L1 weight (standard). lr: Adam's rate (default 2e-4 / sqrt(width / 16384)).
        batch_size: tokens per step. dead_after: tokens without firing before a latent counts as dead.
        aux_k: latents AuxK uses (default d_model // 2). max_tokens: stop after this many training tokens.
        shard_size: texts per activation shard (harvested, then trained on, in turn).
        out: a folder for the shards (``activations/``), the trainer state (``trainer/``) and the SAE (``sae/``,
            SAELens layout); a re-run with the same inputs resumes after the last shard trained. None: in memory.
        seed: initialisation and shuffling.
        progress: stages ``"activations"`` (texts harvested) and ``"train"`` (shards trained).

    Returns:
        :class:`SAETrainingResult`; ``result.sae`` is the :class:`~interp.features.SparseAutoencoder`.

    Raises:
        LayerIndexError: a layer outside [0, n_layers]. EmptyPromptError: no texts.
        InvalidParameterError: a bad kind, k, width or batch size.
    """
    import tempfile

    import torch

    from interp.activations import collect_shard, plan_shards
    from interp.activations._shards import _read_shard_meta
    from interp.features.corpus import default_texts
    from interp.layers import layer_hook_name
    from interp.models.card import model_card

    where = "train_sae"
    layer = model.n_layers // 2 if layer is None else layer % (model.n_layers + 1)  # the table checked its range
    width = 8 * model.d_model if width is None else width
    if kind == "topk":
        check_int(k, name="k", where=where, low=1, high=width + 1)  # at most the width (known once the model is)
    items = default_texts() if texts is None else check_texts(texts, where=where, name="texts")[0]
    bar = resolve_progress(progress, where=where)
    plan = plan_shards(model, items, layers=[layer], position="all", shard_size=shard_size)
    trainer = SAETrainer(model.d_model, width, kind=kind, k=k, l1_coefficient=l1_coefficient, lr=lr,
                         dead_after=dead_after, aux_k=aux_k, batch_size=batch_size, seed=seed)
    run_id = _run_hash(model, plan.input_hash, trainer.settings(), layer, max_tokens)
    temporary = tempfile.TemporaryDirectory(prefix="interp-sae-") if out is None else None
    root = Path(temporary.name if temporary is not None else out)
    shards_dir, state_dir = root / "activations", root / "trainer"
    done_shards, harvest_s, train_s, n_tokens = 0, 0.0, 0.0, 0
    if out is not None and (state_dir / STATE_JSON).is_file():
        saved, extra = SAETrainer.load_state(state_dir)
        if extra.get("run_id") == run_id:
            trainer, done_shards = saved, int(extra["shards_done"])
            harvest_s, train_s, n_tokens = extra["harvest_seconds"], extra["train_seconds"], extra["n_tokens"]
    try:
        bar("activations", plan.bounds[done_shards][0] if done_shards < len(plan) else len(items), len(items))
        bar("train", done_shards, len(plan))
        for shard in range(done_shards, len(plan)):
            if max_tokens is not None and n_tokens >= max_tokens:
                break
            a, b = plan.bounds[shard]
            start = time.perf_counter()
            shards_dir.mkdir(parents=True, exist_ok=True)
            collect_shard(model, items, plan, shard, out=shards_dir)
            harvest_s += time.perf_counter() - start
            bar("activations", b, len(items))
            start = time.perf_counter()
            from safetensors import safe_open

            path = shards_dir / plan.file(shard)
            with safe_open(str(path), framework="pt") as handle:
                rows = handle.get_tensor(f"layer.{layer}")
            if not model.prepend_bos:  # collect already drops BOS; without one, drop the first token
                rows = rows[torch.from_numpy(_read_shard_meta(path)["token_position"] > 0)]
            if max_tokens is not None:
                rows = rows[:max_tokens - n_tokens]
            trainer.partial_fit(rows, shuffle_seed=shard)
            n_tokens += len(rows)
            train_s += time.perf_counter() - start
            done_shards = shard + 1
            bar("train", done_shards, len(plan))
            if out is not None:
                trainer.save_state(state_dir, {"run_id": run_id, "shards_done": done_shards, "harvest_seconds":
                                               harvest_s, "train_seconds": train_s, "n_tokens": n_tokens})
    finally:
        if temporary is not None:
            temporary.cleanup()
    hook = layer_hook_name(layer)
    sae = trainer.sae(hook_name=hook, layer=layer, metadata={"model_name": model.name, "interp": {
        "training": {**trainer.settings(), "n_tokens": n_tokens, "n_texts": len(items)}}})
    sae_dir = ""
    if out is not None:
        sae_dir = str(sae.save(root / "sae"))
    h = trainer.history
    fvu = np.asarray(h["fvu"], dtype=np.float64)
    tail = fvu[-max(1, len(fvu) // 10):] if len(fvu) else np.asarray([np.nan])
    from interp.stats import mean_interval

    ev = mean_interval(1 - tail) if len(tail) > 1 else None
    result = SAETrainingResult(
        model_name=model.name, layer=layer, hook_name=hook, sae_kind=kind, k=k if kind == "topk" else None,
        d_in=model.d_model, d_sae=width, n_texts=len(items), n_tokens=int(n_tokens),
        steps=np.asarray(h["step"], dtype=np.int64), tokens=np.asarray(h["tokens"], dtype=np.int64), fvu=fvu,
        l0=np.asarray(h["l0"], dtype=np.float64), dead=np.asarray(h["dead"], dtype=np.float64),
        harvest_seconds=float(harvest_s), train_seconds=float(train_s),
        explained_variance=float(1 - tail.mean()) if ev is None else ev.estimate,
        explained_variance_low=float("nan") if ev is None else ev.low,
        explained_variance_high=float("nan") if ev is None else ev.high,
        input_scale=float(trainer.input_scale or 1.0), settings=trainer.settings(), sae_dir=sae_dir,
        model_card=model_card(model))
    result._sae = sae
    if out is not None:
        result.save(root / "result.json")
    return result


# ----------------------------------------------------------------------------- as a batch task (interp run)
@dataclasses.dataclass(eq=False)
class SAELayerResult(Result):
    """One layer's SAE trained by ``interp run`` (``task = "sae"``): its weights (raw-activation map, the input
    scale folded in) and its training figures. ``result.sae()`` is the :class:`SparseAutoencoder`;
    ``result.sae().save(folder)`` writes SAELens's layout.

    Attributes:
        layer, hook_name, sae_kind, k, model_name: what was trained. n_tokens: rows trained on.
        W_enc, b_enc, W_dec, b_dec: the weights. explained_variance (+ _low/_high), l0, dead_fraction: as
        :class:`SAETrainingResult` (training batches).
    """

    title: ClassVar[str] = "SAE (batch run)"
    layer: int
    hook_name: str
    sae_kind: str
    k: int | None
    model_name: str
    n_tokens: int
    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_dec: np.ndarray
    explained_variance: float
    explained_variance_low: float
    explained_variance_high: float
    l0: float
    dead_fraction: float

    def sae(self) -> SparseAutoencoder:
        return SparseAutoencoder(self.W_enc, self.b_enc, self.W_dec, self.b_dec,
                                 architecture="topk" if self.sae_kind == "topk" else "standard", k=self.k,
                                 hook_name=self.hook_name, layer=self.layer, metadata={"model_name": self.model_name})

    def summary(self) -> str:
        return (f"{self.sae_kind} SAE of layer {self.layer} ({self.W_enc.shape[1]} latents) on {self.n_tokens:,} tokens: "
                f"train explained variance {self.explained_variance:.3f} [{self.explained_variance_low:.3f}, "
                f"{self.explained_variance_high:.3f}], L0 {self.l0:.1f}, dead {self.dead_fraction:.1%}.")

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        ev = self.explained_variance
        fig = go.Figure(go.Bar(x=["explained variance", "dead fraction"], y=[ev, self.dead_fraction],
                               error_y={"type": "data", "symmetric": False,
                                        "array": [float(np.nan_to_num(self.explained_variance_high - ev)), 0],
                                        "arrayminus": [float(np.nan_to_num(ev - self.explained_variance_low)), 0]}))
        fig.update_layout(title=f"SAE of layer {self.layer}: training figures (L0 {self.l0:.1f})")
        return fig

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame([{"layer": self.layer, "kind": self.sae_kind, "n_tokens": self.n_tokens,
                              "explained_variance": self.explained_variance,
                              "explained_variance_low": self.explained_variance_low,
                              "explained_variance_high": self.explained_variance_high, "l0": self.l0,
                              "dead_fraction": self.dead_fraction}])


def _tail_interval(fvu: list[float]) -> tuple[float, float, float]:
    from interp.stats import mean_interval

    values = 1 - np.asarray(fvu[-max(1, len(fvu) // 10):], dtype=np.float64)
    if len(values) < 2:
        return (float(values.mean()) if len(values) else float("nan"), float("nan"), float("nan"))
    interval = mean_interval(values)
    return interval.estimate, interval.low, interval.high


def fit_sae_layer(x: np.ndarray, *, kind: str = "topk", k: int = 32, width: int, batch_size: int = 4096,
                  seed: int = 0, **settings: Any) -> SAETrainer:
    """One layer's work: an :class:`SAETrainer` fitted on the rows ``x`` (n_rows, d_model), shuffled with seed 0 --
    what :func:`train_sae` does with a single shard (``shard_size`` >= the number of texts)."""
    trainer = SAETrainer(x.shape[1], width, kind=kind, k=k, batch_size=batch_size, seed=seed, **settings)
    return trainer.partial_fit(x, shuffle_seed=0)


from interp.analysis import Analysis, Inputs, fingerprint  # noqa: E402 - the batch contract, below the library


class SAEAnalysis(Analysis):
    """:func:`train_sae` as ``interp run`` runs it (``task = "sae"``): the runner harvests the activations (the local
    or Ray executor, resumable shards), then one SAE per layer and kind (:func:`fit_sae_layer`). Equal to
    ``train_sae(model, texts, layer, shard_size=len(texts), ...)``'s SAE."""

    name = "sae"
    metrics = ("explained_variance", "l0", "dead_fraction")
    headline = "explained_variance"
    kinds = KINDS
    data_keys = ("max_texts", "file")
    probe_keys = ("kinds", "k", "width", "batch_size")

    def read_data(self, table: dict[str, Any], check: Any, base: Any) -> dict[str, Any]:
        file = table.get("file")
        return {"max_texts": check.int(table.get("max_texts", 2000), "data.max_texts", low=1),
                "file": None if file is None else str(check.path(check.str(file, "data.file"), base))}

    def read_probe(self, table: dict[str, Any], check: Any) -> dict[str, Any]:
        return {"kinds": check.choices(table.get("kinds", ["topk"]), self.kinds, "probe.kinds"),
                "k": check.int(table.get("k", 32), "probe.k", low=1),
                "width": check.int(table.get("width", 0), "probe.width", low=0),
                "batch_size": check.int(table.get("batch_size", 4096), "probe.batch_size", low=1)}

    def datasets(self, spec: Any) -> list[str]:
        return ["corpus"]

    def inputs(self, spec: Any, dataset: str) -> Inputs:
        from interp.features.corpus import default_texts, read_texts

        data = spec.data
        texts = (read_texts(data["file"]) if data["file"] else default_texts())[:data["max_texts"]]
        return Inputs(dataset, texts, None, fingerprint(texts), None)

    def position(self, spec: Any) -> str:
        return "all"

    def fit(self, run: Any, job: Any) -> SAELayerResult:
        from interp.layers import layer_hook_name

        info = run.model_info(job.model)
        x = run.features(job.model, job.dataset, job.layer)
        # collect never makes a row of BOS, so a row at position 0 is a first token without one: dropped, as in train_sae
        x = x[run.activations(job.model, job.dataset).token_position > 0]
        probe = run.spec.probe
        width = probe["width"] or 8 * x.shape[1]
        trainer = fit_sae_layer(x, kind=job.probe, k=probe["k"], width=width, batch_size=probe["batch_size"],
                                seed=run.spec.seed)
        sae = trainer.sae(hook_name=layer_hook_name(job.layer), layer=job.layer)
        ev = _tail_interval(trainer.history["fvu"])
        return SAELayerResult(layer=job.layer, hook_name=sae.hook_name, sae_kind=job.probe,
                              k=probe["k"] if job.probe == "topk" else None, model_name=info["name"],
                              n_tokens=int(len(x)), W_enc=sae.W_enc.numpy(), b_enc=sae.b_enc.numpy(),
                              W_dec=sae.W_dec.numpy(), b_dec=sae.b_dec.numpy(), explained_variance=ev[0],
                              explained_variance_low=ev[1], explained_variance_high=ev[2],
                              l0=float(trainer.history["l0"][-1]) if trainer.history["l0"] else float("nan"),
                              dead_fraction=float(trainer.history["dead"][-1]) if trainer.history["dead"] else
                              float("nan"), model_card=info.get("card", {}))

    def assemble(self, run: Any, model: str) -> list[tuple[str, Result]]:
        info = run.model_info(model)
        return [(f"sae_layer{layer}_{kind}", run.part(model, "corpus", layer, kind))
                for layer in info["layers"] for kind in run.spec.probe["kinds"]]

    def rows(self, run: Any, model: str, result: Any) -> list[dict[str, Any]]:
        info = run.model_info(model)
        return [{"task": self.name, "model": model, "dataset": "corpus", "probe": result.sae_kind,
                 "layer": result.layer, "depth": result.layer / max(info["n_layers"], 1),
                 "explained_variance": result.explained_variance, "l0": result.l0,
                 "dead_fraction": result.dead_fraction}]


SAE_TRAINING = SAEAnalysis()
