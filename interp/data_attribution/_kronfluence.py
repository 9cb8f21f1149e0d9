"""EK-FAC influence (Grosse et al. 2023) through kronfluence, on the run's trained layers and cached residuals.

kronfluence is optional and not a dependency: its requirements would replace the pinned torch, so it is
installed with ``pip install --no-deps kronfluence==1.0.1 einconv opt_einsum``. The model kronfluence sees
is the run's trained top stack fed the cached residual stream (the same per-example losses as every
other method here), its tracked modules exactly the trained linear layers.

Two choices matter for the numbers:

- Sequences are right-padded in a batch; the task's ``get_attention_mask`` gives kronfluence the
  padding mask, so padded positions do not enter the activation and gradient covariances (without it
  every batch's zero rows would shrink the factors, and how much would depend on the batch's lengths).
- The damping of the inverse-Hessian product is kronfluence's heuristic, 0.1 x the mean eigenvalue
  (``damping_factor=None``), as in Grosse et al. 2023, not kronfluence's fixed default of 1e-8, which
  on these small eigenvalues inverts noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from interp.data_attribution import _stack
from interp.errors import MissingExtraError

if TYPE_CHECKING:
    from interp.data_attribution.datasets import Query
    from interp.data_attribution.finetune import FineTuneRun


def kronfluence_scores(run: FineTuneRun, queries: list[Query], *, strategy: str = "ekfac", batch_size: int = 8,
                       float64: bool = False) -> np.ndarray:
    """(n_queries, n_train) kronfluence pairwise scores (``strategy``: "ekfac", "kfac", "diagonal" or "identity");
    ``float64``: kronfluence's per-sample gradients, preconditioning and scores in float64 (float32 by default)."""
    try:
        from kronfluence.analyzer import Analyzer, prepare_model
        from kronfluence.arguments import FactorArguments, ScoreArguments
        from kronfluence.task import Task
        from kronfluence.utils.dataset import DataLoaderKwargs
    except ImportError:
        raise MissingExtraError("The 'ekfac' method needs kronfluence, which is not installed. Install it without its "
                                "requirements (they would replace torch): pip install --no-deps kronfluence==1.0.1 "
                                "einconv opt_einsum") from None
    import copy

    top = copy.deepcopy(run.top)
    layers = _stack.trainable_layers(top, run.config.part)
    names = [f"top.{n}" for n, _ in layers]
    enc_q = _stack.encode_pairs(run.base, [(q.prompt, q.target) for q in queries], where="attribute_training")
    resid_q = _stack.residuals(run.base, enc_q, run.first_block)
    train_items = list(zip(run.residuals, run.encoded.ids, run.encoded.n_prompt))
    query_items = list(zip(resid_q, enc_q.ids, enc_q.n_prompt))

    class Stack(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.top = inner

        def forward(self, resid, ids, n_prompt):
            return _stack.sequence_losses(self.top, resid, ids, n_prompt)

    class LossTask(Task):
        def compute_train_loss(self, batch, model, sample=False):  # empirical Fisher only (use_empirical_fisher)
            return model(*batch).sum()

        def compute_measurement(self, batch, model):
            return model(*batch).sum()

        def get_influence_tracked_modules(self):
            return names

        def get_attention_mask(self, batch):  # (batch, pos): 1 on real tokens, 0 on right padding
            return _stack.pad_residuals(batch[0])[1].to(torch.float32)

    def collate(items):
        return [i[0] for i in items], [i[1] for i in items], [i[2] for i in items]

    for _, module in layers:
        for p in module.parameters(recurse=False):
            p.requires_grad_(True)
    task = LossTask()
    model = prepare_model(Stack(top), task)
    analyzer = Analyzer(analysis_name="interp", model=model, task=task, cpu=True,
                        output_dir=str(run.path / "kronfluence"), disable_tqdm=True, disable_model_save=True)
    analyzer.set_dataloader_kwargs(DataLoaderKwargs(collate_fn=collate))
    factor_args = FactorArguments(strategy=strategy, use_empirical_fisher=True)
    analyzer.fit_all_factors(factors_name=strategy, dataset=train_items, per_device_batch_size=batch_size,
                             factor_args=factor_args, overwrite_output_dir=True)
    wide = {"per_sample_gradient_dtype": torch.float64, "precondition_dtype": torch.float64,
            "score_dtype": torch.float64} if float64 else {}
    score_args = ScoreArguments(**wide, **{damping_field(ScoreArguments): None})  # 0.1 x mean eigenvalue
    analyzer.compute_pairwise_scores(scores_name=strategy, factors_name=strategy, query_dataset=query_items,
                                     train_dataset=train_items, per_device_query_batch_size=batch_size,
                                     per_device_train_batch_size=batch_size, score_args=score_args,
                                     overwrite_output_dir=True)
    return analyzer.load_pairwise_scores(strategy)["all_modules"].double().numpy()


def damping_field(score_arguments: type) -> str:
    """The name kronfluence's ScoreArguments gives the damping (``damping_factor`` in 1.0, ``damping`` before)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(score_arguments)}
    return "damping_factor" if "damping_factor" in names else "damping"
