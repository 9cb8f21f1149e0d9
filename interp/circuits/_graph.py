"""The computational graph of a transformer, and one forward pass in which every node reads its own input.

Nodes. Sources (they write to the residual stream): ``input`` (everything in the stream before block 0:
token and position embeddings), every attention head ``a{l}.h{h}`` (its output ``z_h @ W_O[h]``; the
output bias ``b_O`` is a constant, not a node) and every MLP ``m{l}`` (``hook_mlp_out``). Targets (they
read it): every head, every MLP and ``logits`` (the final norm's input). An edge ``u -> v`` joins a source
to every target after it; with parallel attention and MLP (GPT-NeoX) ``m{l}`` does not read ``a{l}``.

Head inputs and grouped-query attention. Every query head is its own node, also when it shares its key
and value projections with other query heads (GQA): an edge into ``a{l}.h{h}`` enters at the input that
head's query, key and value are computed from (``ln1``'s input, as if the head had its own copy of the
residual stream). A head of a GQA group therefore computes its keys and values from its own input; the
heads of the group only share the weights.

One pass, per-head inputs. The model's attention computes all heads from one input, so the pass runs
``n_heads`` copies of the batch: copy ``h`` feeds head ``h`` of every layer (its ``ln1`` input gets head
``h``'s own additions), the heads' outputs ``z`` are gathered (head ``h`` from copy ``h``) and given to every
copy, so the copies agree everywhere else. The MLPs' and the logits' inputs get the same addition in every
copy. This gives the exact per-head inputs EAP's gradients and faithfulness's edge patching need, with the
model's own code (rotary, GQA, norms), for ``n_heads`` times the cost of one pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from interp.errors import InvalidParameterError

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["Graph", "build_graph", "source_outputs", "run_graph"]


@dataclasses.dataclass
class Graph:
    """Node names and which edges exist.

    Attributes:
        n_layers, n_heads: the model's shape.
        parallel: attention and MLP read the same residual (GPT-NeoX).
        sources: ``["input", "a0.h0", ..., "m0", "a1.h0", ...]``; index ``1 + l*(n_heads+1) + h`` for a head,
            ``1 + l*(n_heads+1) + n_heads`` for an MLP.
        targets: ``["a0.h0", ..., "m0", ..., "logits"]``; index ``l*(n_heads+1) + h``, ``... + n_heads``, last.
        valid: (n_sources, n_targets) bool, True where the edge exists.
    """

    n_layers: int
    n_heads: int
    parallel: bool
    sources: list[str]
    targets: list[str]
    valid: np.ndarray

    @property
    def n_edges(self) -> int:
        return int(self.valid.sum())

    def source_index(self, layer: int, head: int | None) -> int:
        return 1 + layer * (self.n_heads + 1) + (self.n_heads if head is None else head)

    def target_index(self, layer: int | None, head: int | None) -> int:
        if layer is None:
            return len(self.targets) - 1
        return layer * (self.n_heads + 1) + (self.n_heads if head is None else head)

    def edge_names(self, flat: np.ndarray) -> list[str]:
        n_t = len(self.targets)
        return [f"{self.sources[i // n_t]}->{self.targets[i % n_t]}" for i in np.asarray(flat).tolist()]

    def node_layer(self, name: str) -> float:
        """Where a node sits, for drawing: input -1, a{l} l, m{l} l + 0.5, logits n_layers."""
        if name == "input":
            return -1.0
        if name == "logits":
            return float(self.n_layers)
        layer = int(name[1:].split(".")[0])
        return layer + (0.5 if name.startswith("m") else 0.0)


def build_graph(model: Model) -> Graph:
    n_layers, n_heads = model.n_layers, model.n_heads
    parallel = bool(getattr(model.bridge.cfg, "parallel_attn_mlp", False))
    sources, targets = ["input"], []
    src_time, tgt_time = [-1.0], []
    for layer in range(n_layers):
        for h in range(n_heads):
            sources.append(f"a{layer}.h{h}")
            targets.append(f"a{layer}.h{h}")
            src_time.append(2 * layer)
            tgt_time.append(2 * layer)
        sources.append(f"m{layer}")
        targets.append(f"m{layer}")
        src_time.append(2 * layer + 1)
        tgt_time.append(2 * layer if parallel else 2 * layer + 1)
    targets.append("logits")
    tgt_time.append(float("inf"))
    valid = np.asarray(src_time)[:, None] < np.asarray(tgt_time)[None, :]
    return Graph(n_layers, n_heads, parallel, sources, targets, valid)


def check_supported(model: Model, where: str) -> None:
    """Raise for a model whose attention output is not the sum of its heads' ``z_h @ W_O[h]`` (a norm after the
    attention, as Gemma 2 and 3 have): its edges from single heads are not defined by this decomposition."""
    post = sorted(n for n, _ in model.bridge.blocks[0].named_children() if n.startswith("ln") and n.endswith("_post"))
    if post:
        raise InvalidParameterError(
            f"{where} needs a model whose attention output is the sum of its heads' outputs; {model.name} normalises "
            f"the attention and MLP outputs before adding them to the residual stream ({', '.join(sorted(post))}), so "
            "a single head's edge is not defined. Use a model without post-sublayer norms (the default SmolLM2, "
            "GPT-2, Llama, GPT-NeoX shapes).")


def _w_o(model: Model, layer: int) -> torch.Tensor:
    return model.bridge.blocks[layer].attn.W_O.detach().float()  # (n_heads, d_head, d_model)


def head_outputs(model: Model, layer: int, z: torch.Tensor) -> torch.Tensor:
    """(n_heads, batch, pos, d_model) each head's write to the residual stream, from z (batch, pos, n_heads, d_head)."""
    return torch.einsum("bphd,hdm->hbpm", z.float(), _w_o(model, layer).to(z.device))


def source_outputs(model: Model, tokens: torch.Tensor, mask: torch.Tensor, last: torch.Tensor | None = None,
                   answers: torch.Tensor | None = None, foils: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every source node's output on a plain run of ``tokens`` (batch, pos): (n_sources, batch, pos, d_model)
    float32, and the run's (batch,) logit differences when ``last``, ``answers`` and ``foils`` are given."""
    names = ["blocks.0.hook_resid_pre"]
    for layer in range(model.n_layers):
        names += [f"blocks.{layer}.attn.hook_z", f"blocks.{layer}.hook_mlp_out"]
    out: list[torch.Tensor] = []
    with model.lock, torch.inference_mode():
        captured: dict[str, torch.Tensor] = {}

        def keeper(name: str) -> Callable:
            def keep(x: torch.Tensor, hook) -> None:
                captured[name] = x.detach().float().cpu().clone()
            return keep

        with model.hooks([(name, keeper(name)) for name in names]):
            logits = model.bridge(tokens.to(model.device), attention_mask=mask.to(model.device))
        metric = None if answers is None else _metric(logits.cpu(), last, answers, foils).clone()
    out.append(captured["blocks.0.hook_resid_pre"][None])
    for layer in range(model.n_layers):
        out.append(head_outputs(model, layer, captured[f"blocks.{layer}.attn.hook_z"]))
        out.append(captured[f"blocks.{layer}.hook_mlp_out"][None])
    return torch.cat(out).clone(), metric


def _metric(logits: torch.Tensor, last: torch.Tensor, answers: torch.Tensor, foils: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(logits.shape[0])
    final = logits[rows, last].float()  # (batch, d_vocab)
    return final[rows, answers] - final[rows, foils]


@dataclasses.dataclass
class GraphRun:
    """What :func:`run_graph` returns: ``metric`` (batch,) logit differences, ``grads`` (n_targets, batch, pos,
    d_model) the metric's mean's gradient at each target's input (when asked) and ``outputs`` (n_sources, batch,
    pos, d_model) each source's output in this run (when asked)."""

    metric: torch.Tensor
    grads: torch.Tensor | None = None
    outputs: torch.Tensor | None = None


def run_graph(model: Model, graph: Graph, tokens: torch.Tensor, mask: torch.Tensor, last: torch.Tensor,
              answers: torch.Tensor, foils: torch.Tensor, *, corrupted: torch.Tensor | None = None,
              keep: np.ndarray | None = None, gradients: bool = False, embed: torch.Tensor | None = None,
              record: bool = False) -> GraphRun:
    """One pass of ``tokens`` (batch, pos) in which every node reads its own input.

    Args:
        corrupted, keep: patch edges: (n_sources, batch, pos, d_model) the sources' outputs on the corrupted
            prompts and (n_sources, n_targets) bool, True for edges kept clean. Each target's input becomes the sum
            of its kept sources' outputs in this run and its other sources' corrupted outputs (plus the model's
            constant terms). ``keep`` all True is the clean run; all False the corrupted run.
        gradients: return the gradient of the mean metric with respect to each target's input.
        embed: (batch, pos, d_model) replaces the residual stream before block 0 (EAP-IG's interpolated inputs).
        record: return every source's output in this run.
    """
    n_heads, n_layers = graph.n_heads, graph.n_layers
    batch = tokens.shape[0]
    device = model.device
    patch = keep is not None
    if patch:
        if corrupted is None:
            raise InvalidParameterError("run_graph: 'keep' needs the corrupted source outputs too.")
        drop = torch.as_tensor(~keep & graph.valid, dtype=torch.float32)  # (n_sources, n_targets)
    n_src = len(graph.sources)
    current: list[torch.Tensor | None] = [None] * n_src  # (batch, pos, d_model) each, this run's outputs
    probes: dict[int, torch.Tensor] = {}  # target index -> zero leaf whose gradient is the input's

    def addition(targets: list[int]) -> torch.Tensor | None:
        """(len(targets), batch, pos, d_model) sum over dropped edges of corrupted - current source output."""
        if not patch:
            return None
        cols = drop[:, targets]  # (n_sources, k)
        rows = [s for s in range(n_src) if cols[s].any()]
        if not rows:
            return None
        diffs = torch.stack([corrupted[s] - current[s] for s in rows])  # (r, batch, pos, d)
        return torch.einsum("rk,rbpd->kbpd", cols[rows], diffs)

    def probe(targets: list[int], like: torch.Tensor) -> torch.Tensor:
        """A zero leaf per target, of ``like``'s shape (batch, pos, d_model), recorded for its gradient."""
        leaf = torch.zeros((len(targets), *like.shape), dtype=like.dtype, device=like.device, requires_grad=True)
        for i, t in enumerate(targets):
            probes[t] = (leaf, i)
        return leaf

    def on_resid_pre(x: torch.Tensor, hook) -> torch.Tensor:
        if embed is not None:
            x = embed.to(device=x.device, dtype=x.dtype).repeat(n_heads, 1, 1)
        current[0] = x[:batch].detach().float().cpu()
        return x

    def on_ln1(layer: int) -> Callable:
        targets = [graph.target_index(layer, h) for h in range(n_heads)]

        def hook(x: torch.Tensor, hook) -> torch.Tensor:
            shaped = x.view(n_heads, batch, *x.shape[1:])  # (copy = head, batch, pos, d)
            extra = addition(targets)
            if extra is not None:
                shaped = shaped + extra.to(device=x.device, dtype=x.dtype)
            if gradients:
                shaped = shaped + probe(targets, x[:batch])
            return shaped.reshape(x.shape)
        return hook

    def on_z(layer: int) -> Callable:
        def hook(z: torch.Tensor, hook) -> torch.Tensor:
            shaped = z.view(n_heads, batch, *z.shape[1:])  # (copy, batch, pos, head, d_head)
            idx = torch.arange(n_heads, device=z.device)
            own = shaped[idx, :, :, idx]  # (head, batch, pos, d_head): head h from copy h
            gathered = own.permute(1, 2, 0, 3)  # (batch, pos, head, d_head)
            outs = head_outputs(model, layer, gathered.detach().cpu())
            for h in range(n_heads):
                current[graph.source_index(layer, h)] = outs[h]
            return gathered.unsqueeze(0).expand(n_heads, *gathered.shape).reshape(z.shape)
        return hook

    def on_ln2(layer: int) -> Callable:
        targets = [graph.target_index(layer, None)]

        def hook(x: torch.Tensor, hook) -> torch.Tensor:
            extra = addition(targets)
            if extra is not None:
                x = x + extra[0].to(device=x.device, dtype=x.dtype).repeat(n_heads, 1, 1)
            if gradients:
                x = x + probe(targets, x[:batch])[0].repeat(n_heads, 1, 1)
            return x
        return hook

    def on_mlp_out(layer: int) -> Callable:
        def hook(x: torch.Tensor, hook) -> None:
            current[graph.source_index(layer, None)] = x[:batch].detach().float().cpu()
        return hook

    def on_final(x: torch.Tensor, hook) -> torch.Tensor:
        x = x[:batch]  # only copy 0 goes on to the logits (every copy holds the same stream)
        extra = addition([len(graph.targets) - 1])
        if extra is not None:
            x = x + extra[0].to(device=x.device, dtype=x.dtype)
        if gradients:
            x = x + probe([len(graph.targets) - 1], x)[0]
        return x

    hooks: list[tuple[str, Callable]] = [("blocks.0.hook_resid_pre", on_resid_pre)]
    for layer in range(n_layers):
        hooks += [(f"blocks.{layer}.ln1.hook_in", on_ln1(layer)), (f"blocks.{layer}.attn.hook_z", on_z(layer)),
                  (f"blocks.{layer}.ln2.hook_in", on_ln2(layer)), (f"blocks.{layer}.hook_mlp_out", on_mlp_out(layer))]
    hooks.append(("ln_final.hook_in", on_final))
    if patch:
        corrupted = corrupted.to(dtype=torch.float32)
    with model.hooks(hooks), torch.enable_grad() if gradients else torch.no_grad():
        logits = model.bridge(tokens.repeat(n_heads, 1).to(device),
                              attention_mask=mask.repeat(n_heads, 1).to(device))
        metric = _metric(logits[:batch].cpu(), last, answers, foils)
        grads = None
        if gradients:
            leaves = {id(leaf): leaf for leaf, _ in probes.values()}
            metric.mean().backward(inputs=list(leaves.values()))
            grads = torch.zeros((len(graph.targets), batch, tokens.shape[1], model.d_model))
            for t, (leaf, i) in probes.items():
                grad = leaf.grad[i] if leaf.grad is not None else torch.zeros_like(leaf[i])
                grads[t] = grad.detach().float().cpu()[:batch]
    return GraphRun(metric.detach(), grads, torch.stack(current) if record else None)
