"""Training-data attribution: which training examples made the model say this?

interp makes the training run it attributes (SmolLM2's pre-training data is not available):
:func:`finetune` trains a model's top blocks on a shipped or user dataset, saving checkpoints and
AdamW's moments; :func:`attribute_training` scores every training example for a query's output
(BM25, gradient dot/cosine, TracIn for SGD and for Adam, TrackStar, a projected influence function); and
:func:`evaluate_attribution` judges the scores three ways, each with its interval: retrieval of the
planted facts' known sources (MRR, Recall@10; BM25's strength, and self-retrieval on ``own_text``
queries, which headlines leave out), influence (the tail-patch score: does one training step on a
method's top examples raise the target?) and retraining on random halves (the linear datamodeling score).

Example:
    >>> import interp
    >>> from interp.data_attribution import finetune, attribute_training, evaluate_attribution
    >>> run = finetune(interp.load_model(), "shipped", blocks=2, epochs=4)
    >>> attribute_training(run, "shutdown_resist", method="trackstar").to_frame().head()
    >>> evaluate_attribution(run, ["bm25", "trackstar"], lds_subsets=32).to_frame()
"""

from interp.data_attribution.attribute import METHODS, TrainingAttributionResult, attribute_training
from interp.data_attribution.datasets import (
           SHUTDOWN_QUERY,
           TRAINING_SETS,
           Query,
           TrainingData,
           TrainingExample,
           load_training_data,
)
from interp.data_attribution.evaluate import AttributionEvaluationResult, evaluate_attribution
from interp.data_attribution.finetune import FineTuneRun, finetune, load_run, run_fingerprint

__all__ = ["METHODS", "SHUTDOWN_QUERY", "TRAINING_SETS", "Query", "TrainingData", "TrainingExample", "load_training_data",
           "FineTuneRun", "finetune", "load_run", "run_fingerprint", "attribute_training", "TrainingAttributionResult",
           "evaluate_attribution", "AttributionEvaluationResult"]
