"""The extension point: what a learner needs from a model."""

import abc
from typing import List

from metisfl_learner.types import EvaluateTask, EvaluationResult, NamedTensor, TrainResult, TrainTask


class Model(abc.ABC):
    """A local model with its data. The learner calls it from one thread.

    get_weights returns the tensors in a stable order with stable names (the federation's model
    has exactly these); set_weights receives the global model in that same order.
    """

    @abc.abstractmethod
    def get_weights(self) -> List[NamedTensor]:
        """The current weights, copied (the learner may hold them while training goes on)."""

    @abc.abstractmethod
    def set_weights(self, tensors: List[NamedTensor]) -> None:
        """Loads the global model (same names, order and shapes as get_weights returns)."""

    @abc.abstractmethod
    def train(self, task: TrainTask) -> TrainResult:
        """Trains on the local data as the task asks (0 in a field means: your own default)."""

    @abc.abstractmethod
    def evaluate(self, task: EvaluateTask) -> EvaluationResult:
        """Evaluates the current weights on the local test data."""

    @abc.abstractmethod
    def num_training_examples(self) -> int:
        """Size of the local training set (announced when joining; the default FedAvg weight)."""

    def num_test_examples(self) -> int:
        """Size of the local test set."""
        return 0
