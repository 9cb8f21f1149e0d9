"""Gradient attribution over the token embeddings: saliency, gradient × input, integrated gradients.

All three differentiate the target's metric (log-probability by default) with respect to the output
of the token embedding (the ``hook_embed`` hook point), ``x`` of shape (pos, d_model):

- ``gradient`` (saliency, Simonyan et al. 2014): ``∂f/∂x``, reduced per token by its L2 norm;
- ``grad_x_input`` (Shrikumar et al. 2016): ``x ⊙ ∂f/∂x``, summed over d_model;
- ``integrated_gradients`` (Sundararajan et al. 2017): ``(x - x') ⊙ ∫₀¹ ∂f/∂x (x' + α(x - x')) dα``
  from a baseline ``x'`` (the embedding of a single space, of the pad token, or zero vectors), summed
  over d_model. Its attributions add up to ``f(x) - f(x')`` ("completeness"); the gap left by the
  numerical integral is reported as ``metadata["completeness_error"]``. The ``n_steps`` points run
  as batched forward + backward passes. Gauss-Legendre quadrature (the default, as in Captum)
  reaches a given completeness error in about a quarter of a Riemann sum's steps on the tiny models;
  on SmolLM2 the midpoint rule is as good or better at 16-64 steps
  (``benchmarks/bench_attribution.py`` prints the table).

Only the prompt's tokens are attributed: the BOS token (or the chat template's first token) and the
teacher-forced target tokens keep their embeddings. Word units (``unit="word"``) sum (or take the
L2 norm over) their sub-tokens.

Example:
    >>> from interp.attribution import gradient_saliency
    >>> result = gradient_saliency(model, "The capital of France is", " Paris", method="integrated_gradients")
    >>> result.metadata["completeness_error"]    # |sum(scores) - (f(x) - f(baseline))|, one per target token

On SmolLM2-135M-Instruct, "The capital of France is" -> " Paris" with the default "space" baseline,
the completeness error is 2.1 / 0.5 / 0.26 / 0.001 nats at 8 / 16 / 32 / 64 steps (f(x) - f(x') =
12.0). The "pad" baseline (``<|im_end|>``, a special token) gives a rugged path: the metric jumps by
up to 7 nats between neighbouring points and the error stays at 6-38 nats up to 64 steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp import targets
from interp._validation import check_choice, check_int
from interp.attribution._core import (
    Prepared,
    build_result,
    check_common,
    metric_values,
    prepare_all,
    resolve_targets,
)
from interp.attribution.result import AttributionResult
from interp.errors import InvalidParameterError

if TYPE_CHECKING:
    from interp.models.model import Model

__all__ = ["gradient_saliency", "input_gradient", "grad_x_input", "integrated_gradients", "quadrature_rule",
           "GRADIENT_METHODS", "QUADRATURES", "BASELINES"]

GRADIENT_METHODS = ("gradient", "grad_x_input", "integrated_gradients")
QUADRATURES = ("gauss-legendre", "riemann_middle", "riemann_trapezoid")
BASELINES = ("zeros", "pad", "space")
AGGREGATES = ("l2", "sum")


def quadrature_rule(name: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights) of an ``n_steps``-point rule for ∫₀¹ g(α) dα ≈ Σ weights · g(alphas).

    "gauss-legendre" (exact for polynomials of degree 2n - 1; what Captum calls "gausslegendre"),
    "riemann_middle" (midpoints, weights 1/n; equal to Captum's) or "riemann_trapezoid" (end points
    included, weights 1/(n - 1) halved at the ends; Captum's version uses 1/n and so sums to (n-1)/n).
    """
    check_choice(name, QUADRATURES, name="quadrature", where="quadrature_rule")
    if name == "gauss-legendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (1 + nodes), 0.5 * weights
    if name == "riemann_middle":
        return (np.arange(n_steps) + 0.5) / n_steps, np.full(n_steps, 1.0 / n_steps)
    weights = np.full(n_steps, 1.0 / (n_steps - 1))
    weights[[0, -1]] /= 2
    return np.linspace(0.0, 1.0, n_steps), weights


def _embed(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """(batch, pos, d_model) output of the token embedding (what ``hook_embed`` sees)."""
    with model.lock:  # a submodule call: another thread's hook_embed hook must not act on it
        return model.bridge.embed(ids.to(model.device))


def _metric_with_embeddings(model: Any, prep: Prepared, embeds: Callable[[list[int]], torch.Tensor], n_rows: int,
                            metric: Any, *, grad: bool = False, batch_size: int | None = None,
                            each: Callable[[list[int], torch.Tensor], Any] | None = None) -> Any:
    """The metric (rows, n_targets) of ``n_rows`` copies of the prompt's sequence whose token embeddings are
    replaced by ``embeds(rows)`` (rows, pos, d_model), through the model's engine (``Model.run``).

    Without ``each`` it returns the metric of every row (inference); with ``each(rows, values)`` (called inside
    each micro-batch's pass, autograd on when ``grad``) it returns ``[(rows, each(...)), ...]``.
    """
    n_targets = len(prep.target_ids)
    seq = prep.sequence()
    current: dict[str, torch.Tensor] = {}

    def hooks(rows: list[int], batch: Any) -> list:
        current["x"] = embeds(rows)

        def replace(x: torch.Tensor, hook: Any) -> torch.Tensor:
            return current["x"]

        return [("hook_embed", replace)]

    def values_of(p: Any) -> torch.Tensor:
        targets_t = torch.tensor([prep.target_ids], device=p.logits.device).expand(len(p.rows), -1)
        foil = None if prep.foil_id is None else torch.full((len(p.rows),), prep.foil_id, device=p.logits.device)
        return metric_values(p.logits, targets_t, metric, foil)

    if each is None:
        parts = model.run([seq] * n_rows, keep=n_targets, hooks=hooks, batch_size=batch_size,
                          each=lambda p: values_of(p).detach())
        out = torch.empty((n_rows, n_targets), dtype=torch.float32)
        for rows, values in parts:
            out[rows] = values.float().cpu()
        return out
    return model.run([seq] * n_rows, keep=n_targets, hooks=hooks, grad=grad, batch_size=batch_size,
                     each=lambda p: each(p.rows, values_of(p)))


def _per_unit(vectors: torch.Tensor, units: list[list[int]], aggregate: str) -> np.ndarray:
    """(n_targets, pos, d_model) -> (n_targets, n_units) by sum or L2 norm over each unit's tokens."""
    vectors = vectors.double()
    out = np.zeros((vectors.shape[0], len(units)))
    for j, positions in enumerate(units):
        chunk = vectors[:, positions]
        out[:, j] = (chunk.sum((1, 2)) if aggregate == "sum" else chunk.pow(2).sum((1, 2)).sqrt()).cpu().numpy()
    return out


def gradient_saliency(model: Model, prompt: str | Sequence[str], target: Any = None, *,
                      method: str = "grad_x_input", n_steps: int = 50, baseline: str = "space",
                      aggregate: str | None = None, quadrature: str = "gauss-legendre", metric: Any = "logprob",
                      contrast: str | None = None, unit: str = "token", chat: bool = False, system: str | None = None,
                      batch_size: int | None = None) -> AttributionResult | list[AttributionResult]:
    """Attribute the target's metric to the input tokens with gradients of the token embeddings.

    Args:
        model: an :class:`interp.Model`.
        prompt: a prompt or a list of prompts (each is attributed on its own).
        target: None (the model's top next token), a continuation string (one row of scores per
            target token), or one string per prompt.
        method: "gradient", "grad_x_input" (default) or "integrated_gradients".
        n_steps: integration points of integrated gradients.
        baseline: integrated gradients' starting point for the prompt's tokens: "space" (default;
            the embedding of the token for " " at every prompt position), "pad" (the pad token's
            embedding: Captum's usual choice, but often a special token such as an end-of-turn
            marker, off the manifold of text, whose path is rugged and needs many more steps) or
            "zeros" (zero vectors). Zero vectors
            are a degenerate input for pre-norm models without additive position embeddings (Llama,
            GPT-NeoX): the first norm maps ``αx`` to the same output for every α > 0, so the path
            has a cliff near α = 0 and the integral converges slowly (large completeness error).
        aggregate: how a token's d_model attributions become one score: "l2" (norm; the default for
            "gradient") or "sum" (the default otherwise; the one for which completeness holds).
        quadrature: integrated gradients' rule: "gauss-legendre" (default), "riemann_middle" or
            "riemann_trapezoid" (see :func:`quadrature_rule`).
        metric, unit, chat, system: as in :func:`~interp.attribution.token_ablation`; ``target`` may be an
            :class:`interp.Target` ``(answer, foil)``.
        contrast: deprecated (interp < 0.3): the foil, now ``target=Target(answer, foil=...)``; warns.
        batch_size: integration points per forward + backward pass; by default as many as the model's
            engine fits in its byte budget (``Model.run`` with ``grad=True``). A pass that runs out of
            memory is retried in halves.

    Returns:
        :class:`AttributionResult` (a list for a list of prompts) with ``scores`` (n_targets, n_units).
        Integrated gradients adds ``metadata["completeness_error"]`` (per target token,
        ``|sum(attributions) - (f(x) - f(baseline))|``), ``completeness_relative``, ``f_input`` and
        ``f_baseline``.

    Example:
        >>> r = gradient_saliency(model, "The capital of France is", " Paris", method="integrated_gradients",
        ...                       n_steps=16)
        >>> r.metadata["completeness_relative"]
    """
    where = "gradient_saliency"
    contrast = targets.renamed_parameter(where, "contrast", "target=Target(answer, foil)", contrast)
    check_choice(method, GRADIENT_METHODS, name="method", where=where)
    check_choice(baseline, BASELINES, name="baseline", where=where)
    check_choice(quadrature, QUADRATURES, name="quadrature", where=where)
    aggregate = aggregate if aggregate is not None else ("l2" if method == "gradient" else "sum")
    check_choice(aggregate, AGGREGATES, name="aggregate", where=where)
    check_int(n_steps, name="n_steps", where=where, low=2 if quadrature == "riemann_trapezoid" else 1, high=10_001)
    check_common(metric=metric, unit=unit, chat=chat, where=where)
    if batch_size is not None:
        check_int(batch_size, name="batch_size", where=where, low=1)
    preps, single = prepare_all(model, prompt, unit=unit, chat=chat, system=system, where=where)
    resolve_targets(model, preps, target, contrast, where=where, batch_size=batch_size)
    results = []
    for prep in preps:
        if method == "integrated_gradients":
            vectors, values, meta = _integrated(model, prep, metric, n_steps=n_steps, baseline=baseline,
                                                quadrature=quadrature, aggregate=aggregate, batch_size=batch_size,
                                                where=where)
        else:
            vectors, values = _gradient(model, prep, metric, times_input=method == "grad_x_input")
            meta = {}
        scores = _per_unit(vectors, prep.units, aggregate)
        results.append(build_result(model, prep, scores, method=method, metric=metric, target_values=values,
                                    metadata={"unit": unit, "aggregate": aggregate, **meta}))
    return results[0] if single else results


def _gradient(model: Any, prep: Prepared, metric: Any, *, times_input: bool) -> tuple[torch.Tensor, np.ndarray]:
    """(n_targets, pos, d_model) gradient (or gradient × input) at the prompt, and f at the prompt."""
    n_targets = len(prep.target_ids)
    with model.lock, torch.inference_mode(False), torch.enable_grad():  # forward and backward in one turn
        x = _embed(model, torch.tensor([prep.sequence()])).detach()
        x.requires_grad_(True)

        def backward(rows: list[int], values: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
            grads = []
            for t in range(n_targets):
                (g,) = torch.autograd.grad(values[0, t], x, retain_graph=t < n_targets - 1)
                grads.append(g[0])
            return grads, values.detach()

        ((_, (grads, values)),) = _metric_with_embeddings(model, prep, lambda rows: x, 1, metric, grad=True,
                                                          each=backward)
    vectors = torch.stack(grads).detach()  # (n_targets, pos, d_model)
    if times_input:
        vectors = vectors * x.detach()[0]
    return vectors, values[0].double().cpu().numpy()


def _integrated(model: Any, prep: Prepared, metric: Any, *, n_steps: int, baseline: str, quadrature: str,
                aggregate: str, batch_size: int | None, where: str) -> tuple[torch.Tensor, np.ndarray, dict]:
    """(n_targets, pos, d_model) integrated gradients, f(x), and the completeness diagnostics."""
    n_targets = len(prep.target_ids)
    seq = torch.tensor([prep.sequence()])
    positions = [p for u in prep.units for p in u]
    with torch.inference_mode():
        x = _embed(model, seq)[0].clone()  # (pos, d_model)
        x0 = x.clone()
        if baseline == "zeros":
            x0[positions] = 0
        else:
            token = model.pad_token_id if baseline == "pad" else _space_token(model, where)
            x0[positions] = _embed(model, torch.full((1, len(positions)), token))[0]
        both = torch.stack([x, x0])
        ends = _metric_with_embeddings(model, prep, lambda rows: both[rows], 2, metric).double()  # (2, n_targets)
    x, x0 = x.clone(), x0.clone()  # plain tensors (not inference tensors) for autograd
    delta = x - x0
    alphas, weights = quadrature_rule(quadrature, n_steps)
    alphas_t = torch.tensor(alphas, dtype=x.dtype, device=x.device)
    weights_t = torch.tensor(weights, dtype=x.dtype, device=x.device)
    inputs: dict[str, torch.Tensor] = {}

    def path(steps: list[int]) -> torch.Tensor:  # (chunk, pos, d_model) points on the path, leaves for autograd
        a = alphas_t[steps].view(-1, 1, 1)
        inputs["x"] = (x0 + a * delta).requires_grad_(True)
        return inputs["x"]

    def backward(steps: list[int], values: torch.Tensor) -> torch.Tensor:
        total = []
        for t in range(n_targets):
            (g,) = torch.autograd.grad(values[:, t].sum(), inputs["x"], retain_graph=t < n_targets - 1)
            total.append(torch.einsum("s,spd->pd", weights_t[steps], g))
        return torch.stack(total).detach()  # (n_targets, pos, d_model)

    integral = torch.zeros((n_targets, *x.shape), dtype=x.dtype, device=x.device)
    for _, part in _metric_with_embeddings(model, prep, path, n_steps, metric, grad=True, batch_size=batch_size,
                                           each=backward):
        integral += part
    vectors = delta * integral
    total = vectors.double().sum((1, 2)).cpu().numpy()
    expected = (ends[0] - ends[1]).numpy()
    error = np.abs(total - expected)
    meta = {"n_steps": n_steps, "quadrature": quadrature, "baseline": baseline,
            "completeness_error": [float(e) for e in error],
            "completeness_relative": [float(e / max(abs(d), 1e-12)) for e, d in zip(error, expected)],
            "f_input": [float(v) for v in ends[0]], "f_baseline": [float(v) for v in ends[1]],
            "attribution_sum": [float(v) for v in total]}
    return vectors, ends[0].numpy(), meta


def _space_token(model: Any, where: str) -> int:
    """The id of the token for a single space (integrated gradients' ``baseline="space"``)."""
    ids = model.tokenizer(" ", add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise InvalidParameterError(f"The 'baseline' parameter of {where} is 'space', but {model.name}'s tokenizer "
                                    f"has no single token for ' ' (it gives {len(ids)}). Use 'pad' or 'zeros'.")
    return int(ids[0])


# ----------------------------------------------------------------------------------------- thin wrappers
def input_gradient(model: Model, prompt: str | Sequence[str], target: Any = None,
                   **kwargs: Any) -> AttributionResult | list[AttributionResult]:
    """Saliency: :func:`gradient_saliency` with ``method="gradient"`` (L2 norm of ∂f/∂x per token)."""
    return gradient_saliency(model, prompt, target, method="gradient", **kwargs)


def grad_x_input(model: Model, prompt: str | Sequence[str], target: Any = None,
                 **kwargs: Any) -> AttributionResult | list[AttributionResult]:
    """:func:`gradient_saliency` with ``method="grad_x_input"`` (x ⊙ ∂f/∂x, summed per token)."""
    return gradient_saliency(model, prompt, target, method="grad_x_input", **kwargs)


def integrated_gradients(model: Model, prompt: str | Sequence[str], target: Any = None,
                         **kwargs: Any) -> AttributionResult | list[AttributionResult]:
    """:func:`gradient_saliency` with ``method="integrated_gradients"``."""
    return gradient_saliency(model, prompt, target, method="integrated_gradients", **kwargs)
