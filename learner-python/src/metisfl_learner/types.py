"""Plain value types of the public API; generated protocol classes never appear in it."""

from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np


@dataclass(frozen=True)
class NamedTensor:
    """One tensor of a model: a unique name and float32 values of any shape (row-major)."""

    name: str
    array: np.ndarray

    @property
    def shape(self) -> Tuple[int, ...]:
        return tuple(int(d) for d in self.array.shape)

    def __repr__(self):
        return "%s%s" % (self.name, list(self.shape))


@dataclass(frozen=True)
class TrainTask:
    """One round's local training. A value of 0 means "use your own default".

    local_steps > 0 asks for exactly that many batches instead of ``epochs`` epochs (the
    semi-synchronous protocol sizes local work that way). proximal_mu > 0 asks for FedProx's
    proximal term (mu/2)||w - w_global||^2.
    """

    round: int
    epochs: int = 0
    batch_size: int = 0
    learning_rate: float = 0.0
    local_steps: int = 0
    deadline_unix_ms: int = 0
    proximal_mu: float = 0.0


@dataclass(frozen=True)
class EvaluateTask:
    """Evaluate the current global model on the local test data."""

    round: int
    batch_size: int = 0


@dataclass(frozen=True)
class TrainResult:
    """What one training task did. num_training_examples is the update's FedAvg weight (> 0).

    metrics: finite numbers; include ``ms_per_batch`` and ``ms_per_epoch`` for semi-synchronous
    federations (the controller sizes the next round's local steps with them).
    """

    num_training_examples: int
    num_completed_batches: int = 0
    metrics: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationResult:
    """What one evaluation measured, e.g. {"accuracy": 0.86, "loss": 0.4}; finite numbers."""

    num_examples: int
    metrics: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LearnerSummary:
    """How a learner's run ended."""

    learner_id: str
    rounds_trained: int
    updates_dropped: int
    evaluations: int
    last_model_version: int
    reconnects: int
    federation_finished: bool
    reason: str
    # Updates sent and neither acknowledged nor refused when run() ended (normally 0: the
    # federation's Shutdown waits for every acknowledgement; after close() an update may still
    # have counted, or not).
    updates_unacknowledged: int = 0
    # Moves back to the home gateway (the one the learner joined through, which folds its
    # updates) after a reconnect had taken it elsewhere.
    home_returns: int = 0
