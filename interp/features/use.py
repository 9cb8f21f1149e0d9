"""Using features: which drive an output, steering with one, and which carry a probe's direction.

- :func:`feature_attribution`: activation x gradient per feature (Marks et al. 2024, "Sparse feature
  circuits"): the SAE is spliced in at its layer with its error term held fixed (``x = x_hat + (x - x_hat)``,
  so the forward pass is the model's own), and each feature's score is ``sum_pos z * d metric / d z``, the
  metric being the target token's log-probability after the prompt. It is a first-order estimate, so it is
  checked: each of the top features is ablated (its activation set to 0 at every position) and the real
  change of the metric is reported beside the predicted one, with their correlation.
- :func:`steer_with_feature`: add ``strength`` times the feature's decoder row to the residual stream at its
  layer, at every position, while the model generates (Templeton et al. 2024's feature steering).
- :func:`probe_feature_cosines`: the cosine of each probe direction (e.g. the truth probe's, the world
  map's latitude) with every decoder direction; the top features, against the largest cosine random
  directions would reach (``sqrt(2 ln(d_sae) / d_in)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from interp._params import Attr, InstanceOf, Interval, ListOf, validate_params
from interp._validation import check_int
from interp.errors import InvalidParameterError
from interp.features.evaluate import SAE_PARAM, check_sae
from interp.features.sae import SparseAutoencoder
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.models.model import Model

__all__ = ["feature_attribution", "FeatureAttributionResult", "steer_with_feature", "FeatureSteeringResult",
           "probe_feature_cosines", "ProbeFeatureResult"]


@dataclasses.dataclass(eq=False)
class FeatureAttributionResult(Result):
    """Which features drive the target's log-probability after a prompt.

    Attributes:
        prompt, target, hook_name, model_name: what was attributed. metric: the target's log-probability.
        features: (top_k,) the features of largest |attribution|; attribution: (top_k,) activation x gradient,
        summed over positions; ablation_effect: (top_k,) the real change of the metric when each is ablated alone
        (NaN beyond ``verify``); joint_predicted, joint_effect: the predicted and real change when the top
        ``verify`` are ablated together. agreement, agreement_low, agreement_high: the Pearson correlation of
        predicted (``-attribution``) and real changes over the verified features, with its interval.
        top_tokens: each feature's strongest position's token.
    """

    title: ClassVar[str] = "Feature attribution"
    prompt: str
    target: str
    hook_name: str
    model_name: str
    metric: float
    features: np.ndarray
    attribution: np.ndarray
    ablation_effect: np.ndarray
    joint_predicted: float
    joint_effect: float
    agreement: float
    agreement_low: float
    agreement_high: float
    top_tokens: list[str]

    def summary(self) -> str:
        lead = ", ".join(f"{int(f)} ({a:+.3f})" for f, a in zip(self.features[:5], self.attribution[:5]))
        return (f"log p({self.target!r}) = {self.metric:.3f} after {self.prompt!r}; top features by activation x "
                f"gradient at {self.hook_name}: {lead}. Ablating the top {int(np.isfinite(self.ablation_effect).sum())} "
                f"together changes it by {self.joint_effect:+.3f} (predicted {self.joint_predicted:+.3f}); "
                f"per-feature agreement r = {self.agreement:.2f} [{self.agreement_low:.2f}, {self.agreement_high:.2f}].")

    def caveats(self) -> list[str]:
        if np.isfinite(self.agreement_low) and self.agreement_low <= 0:
            return ["The ablations do not confirm the attribution ranking (the agreement's interval holds 0): "
                    "activation x gradient is a linear estimate that fails here."]
        return []

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"feature": self.features.astype(int), "attribution": self.attribution,
                             "predicted_change": -self.attribution, "ablation_effect": self.ablation_effect,
                             "top_token": self.top_tokens})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        names = [str(int(f)) for f in self.features]
        fig = go.Figure([go.Bar(x=names, y=-self.attribution, name="predicted change"),
                         go.Bar(x=names, y=self.ablation_effect, name="ablation effect")])
        fig.update_layout(title=f"Features driving log p({self.target!r})", xaxis_title="feature",
                          yaxis_title="change of log p when ablated", barmode="group")
        return fig


def _spliced_hook(sae: SparseAutoencoder, state: dict[str, Any], *, grad: bool, ablate: Sequence[int] = ()):
    def hook(x, hook):  # x: (1, pos, d_model)
        rows = x[0, 1:].float()
        z = sae.encode(rows.detach())
        error = (rows - sae.decode(z)).detach()
        if ablate:
            z = z.clone()
            z[:, list(ablate)] = 0
        if grad:
            z = z.detach().requires_grad_(True)
            state["z"] = z
        out = x.clone()
        out[0, 1:] = (sae.decode(z) + error).to(x.dtype)
        return out
    return hook


@validate_params({
    "model": ["model"], "sae": SAE_PARAM, "prompt": ["text"],
    "target": [str, Interval(int, 0, Attr("d_vocab"))],
    "top_k": [Interval(int, 1, Attr("d_sae", of="sae", plus=1))], "verify": [Interval(int, 0, None)],
})
def feature_attribution(model: Model, sae: SparseAutoencoder, prompt: str, target: str | int, *, top_k: int = 10,
                        verify: int = 5) -> FeatureAttributionResult:
    """Activation x gradient of each feature on the target's log-probability after ``prompt``, checked by ablation.

    Args:
        model: the SAE's model. sae: a :class:`SparseAutoencoder`. prompt: one text (at least 2 tokens after BOS).
        target: the next token (a string: its first token; or an id). top_k: features reported.
        verify: how many of the top features are ablated to check the estimate (0: none).

    Returns:
        :class:`FeatureAttributionResult`.

    Raises:
        EmptyPromptError: an empty prompt or target. InvalidParameterError: an SAE that does not fit.
    """
    import torch

    from interp.lens.logit import resolve_target
    from interp.models.card import model_card
    from interp.stats import correlation_interval

    where = "feature_attribution"
    check_sae(model, sae, where)
    target_id, target_str = resolve_target(model, target, where=where)
    check_int(verify, name="verify", where=where, low=0, high=top_k + 1)  # at most top_k
    ids = model.encode(prompt, where=where)
    if len(ids) < 2:
        raise InvalidParameterError(f"The prompt given to {where} needs at least 2 tokens (the first position is "
                                    f"never replaced by the SAE). Got {len(ids)}.")
    tokens = torch.tensor([ids], device=model.device)

    def metric_of(logits) -> Any:
        return torch.log_softmax(logits[0, -1].float(), dim=-1)[target_id]

    state: dict[str, Any] = {}
    with model.hooks([(sae.hook_name, _spliced_hook(sae, state, grad=True))]), torch.enable_grad():
        metric = metric_of(model.bridge(tokens))
        (grad,) = torch.autograd.grad(metric, state["z"])
    z = state["z"].detach()
    per_pos = z * grad  # (pos - 1, d_sae)
    attribution = per_pos.sum(0).numpy().astype(np.float64)
    features = np.argsort(-np.abs(attribution), kind="stable")[:top_k]
    strings = model.ids_to_str(ids[1:])
    top_tokens = [strings[int(per_pos[:, f].abs().argmax())] for f in features]

    def ablated(feats: Sequence[int]) -> float:
        with model.hooks([(sae.hook_name, _spliced_hook(sae, {}, grad=False, ablate=feats))]), torch.inference_mode():
            return float(metric_of(model.bridge(tokens)))

    base = float(metric.detach())
    effects = np.full(len(features), np.nan)
    for i, f in enumerate(features[:verify]):
        effects[i] = ablated([int(f)]) - base
    joint = ablated([int(f) for f in features[:verify]]) - base if verify else float("nan")
    predicted = -attribution[features]
    ok = np.isfinite(effects)
    if ok.sum() >= 3 and np.std(effects[ok]) > 0 and np.std(predicted[ok]) > 0:
        r = float(np.corrcoef(predicted[ok], effects[ok])[0, 1])
        interval = correlation_interval(r, int(ok.sum()))
        agreement = (interval.estimate, interval.low, interval.high)
    else:
        agreement = (float("nan"),) * 3
    return FeatureAttributionResult(
        prompt=prompt, target=target_str or "", hook_name=sae.hook_name, model_name=model.name, metric=base,
        features=features.astype(np.int64), attribution=attribution[features], ablation_effect=effects,
        joint_predicted=float(predicted[:verify].sum()) if verify else float("nan"), joint_effect=float(joint),
        agreement=agreement[0], agreement_low=agreement[1], agreement_high=agreement[2], top_tokens=top_tokens,
        model_card=model_card(model))


@dataclasses.dataclass(eq=False)
class FeatureSteeringResult(Result):
    """Generations with a feature's decoder direction added at its layer.

    Attributes:
        prompt, feature, hook_name, model_name: what was steered. strengths: (n,) the strengths tried (0 = none);
        completions: one generation per strength. target_logprob: (n,) the log-probability of the feature's most
        promoted token as the prompt's next token, per strength; promoted_token: that token.
    """

    title: ClassVar[str] = "Feature steering"
    prompt: str
    feature: int
    hook_name: str
    model_name: str
    strengths: np.ndarray
    completions: list[str]
    promoted_token: str
    target_logprob: np.ndarray

    def summary(self) -> str:
        pairs = "; ".join(f"{s:g}: {c!r}" for s, c in zip(self.strengths, self.completions))
        return f"Steering with feature {self.feature} at {self.hook_name} after {self.prompt!r}: {pairs}"

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"strength": self.strengths, "completion": self.completions,
                             f"logprob_{self.promoted_token}": self.target_logprob})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        fig = go.Figure(go.Scatter(x=self.strengths, y=self.target_logprob, mode="lines+markers"))
        fig.update_layout(title=f"log p({self.promoted_token!r}) next, steering with feature {self.feature}",
                          xaxis_title="strength", yaxis_title="log-probability")
        return fig


@validate_params({
    "model": ["model"], "sae": SAE_PARAM, "feature": [Interval(int, 0, Attr("d_sae", of="sae"))], "prompt": ["text"],
    "strengths": [ListOf(Interval(float, -math.inf, math.inf, closed="neither"))],
    "max_new_tokens": [Interval(int, 1, None)],
})
def steer_with_feature(model: Model, sae: SparseAutoencoder, feature: int, prompt: str, *,
                       strengths: Sequence[float] = (0.0, 10.0), max_new_tokens: int = 20) -> FeatureSteeringResult:
    """Generate after ``prompt`` with ``strength * W_dec[feature]`` added at every position of the SAE's hook point.

    ``strength`` is in units of the feature's activation (the decoder row as saved: the SAE's reconstruction
    moves by exactly this when the feature's activation grows by ``strength``). Greedy decoding.

    Raises:
        InvalidParameterError: a bad feature, no strengths. EmptyPromptError: an empty prompt.
    """
    import torch

    from interp.models.card import model_card

    where = "steer_with_feature"
    check_sae(model, sae, where)
    feature = int(feature)
    values = [float(s) for s in strengths]
    direction = sae.W_dec[feature]
    with model.lock, torch.inference_mode():
        promoted = int(torch.argmax(direction.to(model.bridge.W_U.dtype) @ model.bridge.W_U))
    completions, logprobs = [], []
    for strength in values:
        def add(x, hook, strength=strength):
            return x + (strength * direction).to(x.dtype).to(x.device)

        with model.hooks([(sae.hook_name, add)]):
            completions.append(model.generate(prompt, max_new_tokens=max_new_tokens))
            logits = model.logits(prompt, last_only=True).float()
        logprobs.append(float(torch.log_softmax(logits, dim=-1)[promoted]))
    return FeatureSteeringResult(prompt=prompt, feature=feature, hook_name=sae.hook_name, model_name=model.name,
                                 strengths=np.asarray(values, dtype=np.float64), completions=completions,
                                 promoted_token=model.ids_to_str([promoted])[0],
                                 target_logprob=np.asarray(logprobs, dtype=np.float64), model_card=model_card(model))


@dataclasses.dataclass(eq=False)
class ProbeFeatureResult(Result):
    """Each probe direction's most aligned decoder directions.

    Attributes:
        hook_name: the SAE's. probes: probe names. chance: the largest |cosine| random unit directions would reach
        (``sqrt(2 ln(d_sae) / d_in)``). rows: per probe, ``top_k`` of ``{"probe", "rank", "feature", "cosine"}``.
    """

    title: ClassVar[str] = "Probe directions and features"
    hook_name: str
    probes: list[str]
    chance: float
    rows: list[dict[str, Any]]

    def summary(self) -> str:
        best = [r for r in self.rows if r["rank"] == 1]
        parts = ", ".join(f"{r['probe']}: feature {r['feature']} (cos {r['cosine']:+.2f})" for r in best)
        return f"Most aligned features at {self.hook_name}: {parts} (random directions reach |cos| ~ {self.chance:.2f})."

    def caveats(self) -> list[str]:
        weak = [r["probe"] for r in self.rows if r["rank"] == 1 and abs(r["cosine"]) <= self.chance]
        return ([f"No feature is closer to {', '.join(weak)} than random directions would be."] if weak else [])

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["probe", "rank", "feature", "cosine"])

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        frame = self.to_frame()
        fig = go.Figure([go.Bar(x=[str(f) for f in part["feature"]], y=part["cosine"], name=probe)
                         for probe, part in frame.groupby("probe", sort=False)])
        fig.add_hline(y=self.chance, line_dash="dash")
        fig.add_hline(y=-self.chance, line_dash="dash")
        fig.update_layout(title="Cosine of probe directions with decoder directions", xaxis_title="feature",
                          yaxis_title="cosine")
        return fig


@validate_params({
    "sae": SAE_PARAM, "probes": [InstanceOf(Mapping, name="a non-empty dict name -> direction")],
    "top_k": [Interval(int, 1, Attr("d_sae", of="sae", plus=1))],
})
def probe_feature_cosines(sae: SparseAutoencoder, probes: Mapping[str, Any], *, top_k: int = 10) -> ProbeFeatureResult:
    """The ``top_k`` decoder directions of largest |cosine| with each probe direction.

    Args:
        sae: a :class:`SparseAutoencoder`.
        probes: name -> a (d_in,) direction, or a fitted interp probe (its ``direction_``, else ``coef_``).
        top_k: features per probe.

    Raises:
        InvalidParameterError: no probes, or a direction that is not (d_in,).
    """
    where = "probe_feature_cosines"
    if not probes:
        raise InvalidParameterError(f"The 'probes' parameter of {where} must be a non-empty dict name -> direction. "
                                    "Got an empty one.")
    W = sae.W_dec.numpy().astype(np.float64)
    W = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
    rows = []
    for name, probe in probes.items():
        vector = getattr(probe, "direction_", None)
        vector = getattr(probe, "coef_", None) if vector is None else vector
        vector = np.asarray(probe if vector is None else vector, dtype=np.float64).reshape(-1)
        if vector.shape != (sae.d_in,) or not np.linalg.norm(vector) > 0:
            raise InvalidParameterError(f"Probe {name!r} given to {where} must be a non-zero ({sae.d_in},) direction. "
                                        f"Got shape {vector.shape}.")
        cos = W @ (vector / np.linalg.norm(vector))
        for rank, f in enumerate(np.argsort(-np.abs(cos), kind="stable")[:top_k], start=1):
            rows.append({"probe": str(name), "rank": rank, "feature": int(f), "cosine": float(cos[f])})
    return ProbeFeatureResult(hook_name=sae.hook_name, probes=[str(p) for p in probes],
                              chance=float(np.sqrt(2 * np.log(sae.d_sae) / sae.d_in)), rows=rows)
