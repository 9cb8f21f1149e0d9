"""Direct logit attribution (DLA): how much each head, MLP and neuron writes onto the answer's logit.

The residual stream at the last position is a sum of what every component wrote: the embeddings, each
head's ``z_h @ W_O[h]``, each layer's attention output bias, each MLP's output. The logit difference
``logit(answer) - logit(foil)`` is the final norm and the unembedding applied to that sum. With the final
norm's scale **frozen** at its value on the clean run (``ln_final.hook_scale``, as is customary: Elhage
et al. 2021; TransformerLens's ``logit_attrs``), the map from the stream to the logit difference is
affine, so it splits exactly into one term per component plus a constant (the final norm's bias and the
unembedding bias), and the rows sum to the logit difference (checked to 1e-4 in the tests). A neuron's
term is its activation times its output weights' projection on the same direction (the neurons of one
MLP sum to the MLP's term minus its output bias). Frozen, the scale hides what a component does through
the norm (a component that grows the stream shrinks every other term); DLA is a direct effect only.

Example:
    >>> from interp.circuits import direct_logit_attribution
    >>> dla = direct_logit_attribution(model, ["The capital of France is"], answer=" Paris", foil=" Rome")
    >>> dla.to_frame().head()     # components by mean contribution
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import Attr, InstanceOf, Interval, validate_params
from interp._validation import check_texts
from interp.circuits._graph import check_supported, head_outputs
from interp.circuits.tasks import CircuitTask
from interp.errors import InvalidParameterError
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["direct_logit_attribution", "DLAResult"]


def _per_prompt(value: Any, n: int, name: str, where: str) -> list[Any]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value] * n
    if isinstance(value, Sequence) and len(value) == n:
        return list(value)
    raise InvalidParameterError(f"The {name!r} parameter of {where} must be one token (e.g. ' Paris') or one per "
                                f"prompt ({n}). Got {value!r} instead.")


#: One token: a string (" Paris") or a token id; or one per prompt (a list).
_TOKENS = [str, Interval(int, 0, Attr("d_vocab")), InstanceOf(list, tuple, name="a list (one token per prompt)")]


@validate_params({
    "model": ["model"],
    "prompts": ["texts", InstanceOf(CircuitTask, name="a CircuitTask (see interp.circuits.make_task)")],
    "answer": [*_TOKENS, None], "foil": [*_TOKENS, None],
    "top_neurons": [Interval(int, 0, 10**7)],
})
def direct_logit_attribution(model: Model, prompts: str | Sequence[str] | CircuitTask, answer: Any = None,
                             foil: Any = None, *, top_neurons: int = 20) -> DLAResult:
    """Each component's direct contribution to ``logit(answer) - logit(foil)`` at each prompt's last token.

    Args:
        prompts: a prompt, a list, or a :class:`~interp.circuits.CircuitTask` (its clean prompts, answers and foils).
        answer, foil: one token each (" Paris") or one per prompt; taken from the task when ``prompts`` is one.
            Without a foil the attribution is of the answer's logit alone.
        top_neurons: how many neurons (largest mean |contribution| over all layers) to report.

    Returns:
        :class:`DLAResult`; its component rows sum to the logit difference of each prompt.
    """
    where = "direct_logit_attribution"
    from interp.targets import one_token

    check_supported(model, where)
    if isinstance(prompts, CircuitTask):
        task = prompts
        texts = list(task.clean)
        answer = task.answers if answer is None else answer
        foil = task.foils if foil is None else foil
    else:
        texts, _ = check_texts(prompts, where=where, name="prompts")
    if answer is None:
        raise InvalidParameterError(f"{where} needs an 'answer' token (e.g. ' Paris'), or a CircuitTask as prompts.")
    answers = torch.tensor([one_token(model, a, name="answer", where=where)
                            for a in _per_prompt(answer, len(texts), "answer", where)])
    foils = (None if foil is None else
             torch.tensor([one_token(model, f, name="foil", where=where)
                           for f in _per_prompt(foil, len(texts), "foil", where)]))
    batch = model.tokenize(texts)
    last = batch.last_positions()
    n, n_layers = len(texts), model.n_layers
    rows = torch.arange(n)
    names = ["blocks.0.hook_resid_pre", "ln_final.hook_in"]
    has_pos = "hook_pos_embed" in model.hook_names
    if has_pos:
        names.append("hook_pos_embed")
    for layer in range(n_layers):
        names += [f"blocks.{layer}.attn.hook_z", f"blocks.{layer}.hook_attn_out", f"blocks.{layer}.hook_mlp_out",
                  f"blocks.{layer}.mlp.hook_post"]
    captured: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def keep(x: torch.Tensor, hook) -> None:
            captured[name] = x.detach().float().cpu()[rows, last]  # (n, ...) at the last position
        return keep

    def freeze(x: torch.Tensor, hook) -> torch.Tensor:
        return x.detach()  # the final norm's scale as a constant

    probe: dict[str, torch.Tensor] = {}

    def add_probe(x: torch.Tensor, hook) -> torch.Tensor:
        probe["leaf"] = torch.zeros_like(x, requires_grad=True)
        return x + probe["leaf"]

    hooks = [(name, keeper(name)) for name in names] + [("ln_final.hook_scale", freeze), ("ln_final.hook_in", add_probe)]
    with model.hooks(hooks), torch.enable_grad():
        logits = model.bridge(batch.tokens.to(model.device), attention_mask=batch.attention_mask.to(model.device))
        final = logits[rows, last.to(logits.device)].float()
        diff = final[rows, answers] - (final[rows, foils] if foils is not None else 0.0)
        diff.sum().backward(inputs=[probe["leaf"]])
    direction = probe["leaf"].grad.detach().float().cpu()[rows, last]  # (n, d_model): d diff / d stream, scale frozen
    total = diff.detach().float().cpu()  # (n,)
    stream = captured["ln_final.hook_in"]
    labels: list[str] = []
    parts: list[torch.Tensor] = []  # (n,) each

    def add(label: str, vector: torch.Tensor) -> None:
        labels.append(label)
        parts.append((vector * direction).sum(-1))

    embed = captured["blocks.0.hook_resid_pre"]
    if has_pos and "hook_pos_embed" in captured and captured["hook_pos_embed"].shape == embed.shape:
        add("embed", embed - captured["hook_pos_embed"])
        add("pos_embed", captured["hook_pos_embed"])
    else:
        add("embed", embed)
    neuron_parts: list[torch.Tensor] = []  # (n, d_mlp) per layer
    for layer in range(n_layers):
        heads = head_outputs(model, layer, captured[f"blocks.{layer}.attn.hook_z"][:, None])[:, :, 0]  # (h, n, d)
        for h in range(model.n_heads):
            add(f"L{layer}H{h}", heads[h])
        add(f"L{layer} attn bias", captured[f"blocks.{layer}.hook_attn_out"] - heads.sum(0))
        add(f"L{layer} MLP", captured[f"blocks.{layer}.hook_mlp_out"])
        w_out = model.bridge.blocks[layer].mlp.W_out.detach().float().cpu()  # (d_mlp, d_model)
        neuron_parts.append(captured[f"blocks.{layer}.mlp.hook_post"] * (direction @ w_out.T))
    constant = total - (stream * direction).sum(-1)  # the final norm's bias and the unembedding bias
    labels.append("final norm and unembedding biases")
    parts.append(constant)
    values = torch.stack(parts, dim=1).numpy().astype(np.float64)  # (n, n_rows)
    neurons = torch.stack(neuron_parts, dim=1).numpy()  # (n, n_layers, d_mlp)
    mean = np.abs(neurons.mean(0)).ravel()
    top = np.argsort(-mean, kind="stable")[:top_neurons]
    d_mlp = neurons.shape[2]
    from interp.models.card import model_card

    return DLAResult(
        prompts=texts, answers=[model.tokenizer.decode([int(a)]) for a in answers],
        foils=None if foils is None else [model.tokenizer.decode([int(f)]) for f in foils],
        components=labels, contributions=values, logit_diff=total.numpy().astype(np.float64),
        neuron_layers=[int(i // d_mlp) for i in top], neuron_indices=[int(i % d_mlp) for i in top],
        neuron_contributions=neurons.reshape(len(texts), -1)[:, top].astype(np.float64),
        scale_frozen="ln_final.hook_scale (the clean run's)", model_name=model.name, model_card=model_card(model))


@dataclasses.dataclass(eq=False)
class DLAResult(Result):
    """Direct logit attribution at the last position of each prompt.

    Attributes:
        prompts, answers, foils: what was attributed (foils None: the answer's logit alone).
        components: row names: "embed", "pos_embed" (models with learned positions), "L{l}H{h}", "L{l} attn bias",
            "L{l} MLP", "final norm and unembedding biases".
        contributions: (n_prompts, n_components) each component's term; rows sum to ``logit_diff``.
        logit_diff: (n_prompts,) the model's logit difference (answer - foil).
        neuron_layers, neuron_indices: the top neurons by mean |contribution|.
        neuron_contributions: (n_prompts, n_top) their terms.
        scale_frozen: which norm scale was frozen.
    """

    prompts: list[str]
    answers: list[str]
    foils: list[str] | None
    components: list[str]
    contributions: np.ndarray
    logit_diff: np.ndarray
    neuron_layers: list[int]
    neuron_indices: list[int]
    neuron_contributions: np.ndarray
    scale_frozen: str = ""
    model_name: str = ""

    title: ClassVar[str] = "Direct logit attribution"

    def to_frame(self) -> DataFrame:
        """One row per component, largest mean |contribution| first: component, kind, layer, head, mean, interval
        over prompts (bootstrap), share of the mean logit difference."""
        import pandas as pd

        from interp.stats import mean_interval

        rows = []
        total = float(self.logit_diff.mean())
        for j, name in enumerate(self.components):
            values = self.contributions[:, j]
            interval = mean_interval(values, n_resamples=300) if len(values) > 1 else None
            kind, layer, head = "other", -1, -1
            if name.startswith("L") and "H" in name:
                kind, (layer, head) = "head", map(int, name[1:].split("H"))
            elif name.endswith("MLP"):
                kind, layer = "mlp", int(name[1:].split()[0])
            elif name.endswith("attn bias"):
                kind, layer = "bias", int(name[1:].split()[0])
            elif name in ("embed", "pos_embed"):
                kind = "embed"
            else:
                kind = "bias"
            rows.append({"component": name, "kind": kind, "layer": layer, "head": head, "mean": float(values.mean()),
                         "mean_low": interval.low if interval else float("nan"),
                         "mean_high": interval.high if interval else float("nan"),
                         "share": float(values.mean()) / total if total else float("nan")})
        frame = pd.DataFrame(rows)
        frame = frame.reindex(frame["mean"].abs().sort_values(ascending=False, kind="stable").index)
        return frame.reset_index(drop=True)

    def neuron_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"layer": self.neuron_layers, "neuron": self.neuron_indices,
                             "mean": self.neuron_contributions.mean(0) if len(self.neuron_layers) else []})

    def tables(self) -> list[tuple[str, Any]]:
        return [("Components", self.to_frame()), ("Top neurons", self.neuron_frame())]

    def residual_error(self) -> float:
        """max over prompts of |sum of the rows - the model's logit difference| (0 up to float error)."""
        return float(np.abs(self.contributions.sum(1) - self.logit_diff).max())

    def summary(self) -> str:
        frame = self.to_frame()
        top = frame[frame["kind"].isin(["head", "mlp"])].head(3)
        lead = ", ".join(f"{r.component} {r.mean:+.3f}" for r in top.itertuples())
        what = "logit(answer) - logit(foil)" if self.foils is not None else "logit(answer)"
        return (f"{self.model_name}: direct logit attribution of {what} over {len(self.prompts)} prompt(s), mean "
                f"{float(self.logit_diff.mean()):.3f}, final norm scale frozen; largest heads/MLPs: {lead}; "
                f"rows sum to it within {self.residual_error():.1e}")

    def caveats(self) -> list[str]:
        notes = ["Direct effects only, with the final norm's scale frozen at the clean run's: a component that acts "
                 "through later layers or through the norm's scale shows nothing here (use edge attribution or "
                 "patching for total effects)."]
        if self.foils is not None and len(self.logit_diff) > 1:
            from interp.stats import proportion_interval

            solved = proportion_interval(int((self.logit_diff > 0).sum()), len(self.logit_diff))
            if not solved.above(0.5):
                notes.append(f"The model puts the answer above the foil on {solved.format(2)} of prompts (the "
                             "interval reaches 0.5): it is not shown to solve this task above chance.")
        return notes

    def plot(self) -> Figure:
        """Mean contribution of the 25 largest heads and MLPs (bars with intervals over prompts)."""
        import plotly.graph_objects as go

        frame = self.to_frame().head(25).iloc[::-1]
        fig = go.Figure(go.Bar(x=frame["mean"].tolist(), y=frame["component"].tolist(), orientation="h",
                               error_x={"type": "data", "symmetric": False,
                                        "array": (frame["mean_high"] - frame["mean"]).fillna(0).tolist(),
                                        "arrayminus": (frame["mean"] - frame["mean_low"]).fillna(0).tolist()},
                               marker_color=["#c0392b" if v < 0 else "#2471a3" for v in frame["mean"]]))
        fig.update_layout(title="Direct logit attribution (final norm scale frozen)", xaxis_title="contribution",
                          yaxis_title="component", height=max(300, 22 * len(frame) + 120), margin={"l": 10})
        return fig
