"""Per-example gradients of the trained layers, batched with hooks, and their LoGra random projection.

For a linear layer ``y = W a + b`` run on a sequence, the gradient of one example's loss is
``dL/dW = sum_t g_t a_t^T`` (``g_t = dL/dy_t``, ``a_t`` the layer's input at position ``t``). With the
batch loss a *sum* of per-example losses, a forward hook that keeps ``a`` and a tensor hook that keeps
``g`` give every example's gradient from one backward pass: ``einsum("bto,bti->boi", g, a)`` (the bias
is an extra input column of ones). This is exactly ``torch.autograd.grad`` of each example's loss
(``tests/test_data_attribution.py`` checks it against a loop).

LoGra (Choe et al. 2024, "What is your data worth to GPT?") projects each layer's gradient with a
Kronecker-structured Gaussian map, ``P_out G P_in^T`` (``P_out``: (k, d_out), ``P_in``: (k, d_in + 1),
entries N(0, 1/k)), which is a Johnson-Lindenstrauss projection of ``vec(G)`` with a (k*k, d_out*(d_in+1))
matrix that is never formed. ``P_out G P_in^T = sum_t (P_out g_t)(P_in a_t)^T``, so for plain gradients
``G`` is never formed either. TrackStar's optimizer correction (Chang et al. 2024) divides ``G``
element-wise by ``sqrt(v) + eps`` (Adam's second moment) before projecting, so there ``G`` is formed.
The projection is drawn from a local ``torch.Generator`` seeded per layer: the same seed, the same map.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence

import torch

__all__ = ["Projection", "per_example_gradients", "ProjectedGradients"]


@dataclasses.dataclass
class Projection:
    """The per-layer Kronecker projections (``None`` matrices: no projection, the exact gradient).

    Attributes:
        p_out: per layer, (k, d_out) or None.
        p_in: per layer, (k, d_in + bias) or None.
    """

    p_out: list[torch.Tensor | None]
    p_in: list[torch.Tensor | None]

    @classmethod
    def draw(cls, shapes: Sequence[tuple[int, int]], dim: int | None, seed: int) -> Projection:
        """Gaussian N(0, 1/dim) factors for layers of gradient shape (d_out, d_in) each; ``dim=None``: identity."""
        outs, ins = [], []
        for i, (d_out, d_in) in enumerate(shapes):
            if dim is None:
                outs.append(None)
                ins.append(None)
                continue
            gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + i)
            outs.append(torch.randn(dim, d_out, generator=gen) / dim ** 0.5)
            ins.append(torch.randn(dim, d_in, generator=gen) / dim ** 0.5)
        return cls(outs, ins)

    def apply(self, i: int, grad: torch.Tensor) -> torch.Tensor:
        """(batch, d_out, d_in) gradients of layer ``i`` -> (batch, k*k) (or flattened, without projection)."""
        if self.p_out[i] is None:
            return grad.flatten(1)
        return (self.p_out[i] @ grad @ self.p_in[i].T).flatten(1)

    def apply_factored(self, i: int, g: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``apply`` of ``sum_t g_t a_t^T`` from (batch, pos, d_out) ``g`` and (batch, pos, d_in) ``a``, without forming it."""
        if self.p_out[i] is None:
            return torch.einsum("bto,bti->boi", g, a).flatten(1)
        return torch.einsum("btk,btl->bkl", g @ self.p_out[i].T, a @ self.p_in[i].T).flatten(1)


@dataclasses.dataclass
class ProjectedGradients:
    """One micro-batch's per-example gradients: ``raw`` (batch, D) and, if asked, ``corrected`` (batch, D)."""

    raw: torch.Tensor
    corrected: torch.Tensor | None


def layer_shape(module: torch.nn.Module) -> tuple[int, int]:
    """(d_out, d_in + bias) of a Linear or transformers Conv1D layer's gradient, in Linear orientation."""
    weight = module.weight
    d_out, d_in = (weight.shape[1], weight.shape[0]) if type(module).__name__ == "Conv1D" else tuple(weight.shape)
    return int(d_out), int(d_in) + (module.bias is not None)


def grad_to_param(module: torch.nn.Module, grad: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a (d_out, d_in + bias) gradient back into the module's weight (its own orientation) and bias."""
    has_bias = module.bias is not None
    weight = grad[:, :-1] if has_bias else grad
    out = {"weight": weight.T if type(module).__name__ == "Conv1D" else weight}
    if has_bias:
        out["bias"] = grad[:, -1]
    return out


def param_to_grad(module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """The inverse of :func:`grad_to_param` (used to lay Adam's second moments out like the gradient)."""
    weight = tensors["weight"].T if type(module).__name__ == "Conv1D" else tensors["weight"]
    return torch.cat([weight, tensors["bias"][:, None]], 1) if module.bias is not None else weight


@contextlib.contextmanager
def _capture(layers: Sequence[torch.nn.Module]) -> Iterator[tuple[list, list]]:
    """Keep each layer's input (batch, pos, d_in [+1]) and, after backward, its output gradient (batch, pos, d_out)."""
    inputs: list = [None] * len(layers)
    grads: list = [None] * len(layers)
    handles = []

    def forward_hook(i: int):
        def hook(module, args, output):
            a = args[0].detach()
            if module.bias is not None:
                a = torch.cat([a, torch.ones(*a.shape[:-1], 1, dtype=a.dtype)], -1)
            inputs[i] = a

            def keep(grad, i=i):
                grads[i] = grad.detach()
            output.register_hook(keep)
        return hook

    try:
        for i, module in enumerate(layers):
            handles.append(module.register_forward_hook(forward_hook(i)))
        yield inputs, grads
    finally:
        for handle in handles:
            handle.remove()


def per_example_gradients(loss_fn, layers: Sequence[torch.nn.Module], projection: Projection, *,
                          correction: Sequence[torch.Tensor] | None = None, full: bool = False
                          ) -> ProjectedGradients | list[torch.Tensor]:
    """Every example's gradient of the trained ``layers`` from one backward pass of ``loss_fn()``.

    Args:
        loss_fn: a function that runs the forward pass and returns the (batch,) per-example losses.
        layers: the Linear / Conv1D layers whose weights (and biases) are differentiated; their
            weights must require grad.
        projection: the per-layer projection (see :class:`Projection`).
        correction: per layer, a (d_out, d_in + bias) tensor that divides the gradient element-wise
            before projecting (TrackStar's ``sqrt(v) + eps``); also returns ``corrected``.
        full: return the unprojected per-layer gradients instead, a list of (batch, d_out, d_in + bias).

    Returns:
        :class:`ProjectedGradients` with (batch, D) tensors, D = sum over layers of k*k; or, with
        ``full``, the per-layer gradients.
    """
    with _capture(layers) as (inputs, grads):
        losses = loss_fn()
        losses.sum().backward()
    if full:
        return [torch.einsum("bto,bti->boi", g, a) for g, a in zip(grads, inputs)]
    raw = torch.cat([projection.apply_factored(i, g, a) for i, (g, a) in enumerate(zip(grads, inputs))], 1)
    corrected = None
    if correction is not None:
        parts = []
        for i, (g, a) in enumerate(zip(grads, inputs)):
            grad = torch.einsum("bto,bti->boi", g, a) / correction[i]
            parts.append(projection.apply(i, grad))
        corrected = torch.cat(parts, 1)
    return ProjectedGradients(raw, corrected)
