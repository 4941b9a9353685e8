"""MetisFL learners in Python: join a MetisFL-on-Flink federation with a NumPy or PyTorch model.

    from metisfl_learner import Learner, TorchModel
    Learner(TorchModel(net, train_loader, test_loader), "127.0.0.1:50051").run()

The model is anything implementing metisfl_learner.Model (get_weights, set_weights, train,
evaluate, num_training_examples); NumpyModel and TorchModel are ready-made adapters. TorchModel
is imported lazily, so the library works without PyTorch installed.
"""

from metisfl_learner.errors import LearnerError, ModelMismatchError
from metisfl_learner.learner import Learner
from metisfl_learner.model import Model
from metisfl_learner.numpy_model import NumpyModel
from metisfl_learner.options import LearnerOptions
from metisfl_learner.types import (
    EvaluateTask,
    EvaluationResult,
    LearnerSummary,
    NamedTensor,
    TrainResult,
    TrainTask,
)

__version__ = "0.1.0"

__all__ = [
    "EvaluateTask",
    "EvaluationResult",
    "Learner",
    "LearnerError",
    "LearnerOptions",
    "LearnerSummary",
    "Model",
    "ModelMismatchError",
    "NamedTensor",
    "NumpyModel",
    "TorchModel",
    "TrainResult",
    "TrainTask",
]


def __getattr__(name):
    if name == "TorchModel":
        from metisfl_learner.torch_model import TorchModel

        return TorchModel
    raise AttributeError("module 'metisfl_learner' has no attribute %r" % name)
