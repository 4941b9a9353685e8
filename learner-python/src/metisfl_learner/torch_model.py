"""Adapter for PyTorch modules (CPU).

Two namings of the weights:

* ``naming="dl4j"`` (default): the tensors a DL4J MultiLayerNetwork of the same architecture
  has, so PyTorch and Java (DL4J) learners can share one federation. Layers are numbered as DL4J
  numbers them: every ``nn.Linear`` and ``nn.Conv2d`` is a layer, and so is every pooling module
  (DL4J's SubsamplingLayer, which has no parameters); activations, ``nn.Flatten`` and dropout
  are not layers (DL4J folds them into layers and preprocessors). Layer k gives:

  ===============  ====================  =======================================
  PyTorch module   DL4J layer            tensors, in this order
  ===============  ====================  =======================================
  nn.Linear        DenseLayer/OutputLayer  ``k_W`` = weight transposed, [in, out]; ``k_b`` = bias, [out]
  nn.Conv2d        ConvolutionLayer      ``k_b`` = bias, [out]; ``k_W`` = weight, [out, in, kh, kw]
  ===============  ====================  =======================================

  Pass ``dl4j_layers={"module.name": k, ...}`` to number layers yourself.
* ``naming="torch"``: the floating-point entries of ``state_dict()`` in its order, under their
  own names and shapes (integer buffers such as BatchNorm's ``num_batches_tracked`` stay local).
"""

import logging
import math
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import nn

from metisfl_learner.model import Model
from metisfl_learner.types import EvaluationResult, NamedTensor, TrainResult

LOG = logging.getLogger("metisfl_learner")

_POOLING = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)


class _Entry:
    """One wire tensor: a name and how to read and write it on the module."""

    def __init__(self, name, tensor, transpose):
        self.name = name
        self.tensor = tensor  # the live parameter or buffer
        self.transpose = transpose

    def read(self) -> np.ndarray:
        t = self.tensor.detach().to("cpu", torch.float32)
        if self.transpose:
            t = t.t()
        return t.contiguous().numpy().copy()

    def shape(self):
        s = tuple(self.tensor.shape)
        return s[::-1] if self.transpose else s

    def write(self, array: np.ndarray) -> None:
        t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if self.transpose:
            t = t.t()
        with torch.no_grad():
            self.tensor.copy_(t.to(self.tensor.dtype))


def dl4j_entries(module: nn.Module, dl4j_layers: Optional[Dict[str, int]] = None) -> List[_Entry]:
    """The module's tensors under DL4J's names, in DL4J's order (see the module docstring)."""
    entries = []
    layer = 0
    for qualified, m in module.named_modules():
        if m is module and len(list(module.children())) > 0:
            continue
        own = list(m.named_parameters(recurse=False))
        is_layer = isinstance(m, (nn.Linear, nn.Conv2d)) or isinstance(m, _POOLING)
        if not is_layer:
            if own:
                raise ValueError(
                    "module '%s' (%s) has parameters but no DL4J equivalent in this adapter (only"
                    " nn.Linear and nn.Conv2d); use TorchModel(..., naming='torch')"
                    % (qualified, type(m).__name__)
                )
            continue
        k = layer if dl4j_layers is None else dl4j_layers.get(qualified)
        layer += 1
        if not own:
            continue
        if k is None:
            raise ValueError(
                "dl4j_layers has no layer index for module '%s'; give one for every nn.Linear and"
                " nn.Conv2d" % qualified
            )
        if isinstance(m, nn.Linear):
            entries.append(_Entry("%d_W" % k, m.weight, transpose=True))
            if m.bias is not None:
                entries.append(_Entry("%d_b" % k, m.bias, transpose=False))
        else:
            if m.bias is not None:
                entries.append(_Entry("%d_b" % k, m.bias, transpose=False))
            entries.append(_Entry("%d_W" % k, m.weight, transpose=False))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError("dl4j_layers gives two modules the same layer index: %s" % names)
    if not entries:
        raise ValueError("the module has no parameters to federate")
    return entries


def torch_entries(module: nn.Module) -> List[_Entry]:
    """The floating-point entries of state_dict(), in its order, as they are."""
    state = module.state_dict(keep_vars=True)
    entries = [
        _Entry(name, t, transpose=False) for name, t in state.items() if torch.is_floating_point(t)
    ]
    if not entries:
        raise ValueError("the module has no floating-point parameters to federate")
    return entries


class TorchModel(Model):
    """A PyTorch classifier with its local data, trained on the CPU.

    ``train_data`` and ``test_data`` are re-iterable sources of (inputs, labels) batches, e.g.
    ``torch.utils.data.DataLoader``s; their batch size is used (a task's batch_size is not
    applied, as in the Java DL4J adapter). ``optimizer`` defaults to Adam(lr=1e-3) and is kept
    across rounds. ``loss_fn`` defaults to cross-entropy on logits. Each epoch logs one progress
    line; train() reports loss, ms_per_batch and ms_per_epoch; evaluate() accuracy and loss.
    """

    def __init__(
        self,
        module: nn.Module,
        train_data,
        test_data=None,
        *,
        loss_fn=None,
        optimizer: Optional[torch.optim.Optimizer] = None,
        naming: str = "dl4j",
        dl4j_layers: Optional[Dict[str, int]] = None,
        default_epochs: int = 1,
        num_training_examples: Optional[int] = None,
        num_test_examples: Optional[int] = None,
    ):
        if naming not in ("dl4j", "torch"):
            raise ValueError("naming is '%s' but must be 'dl4j' or 'torch'" % naming)
        self.module = module.to("cpu")
        self.train_data = train_data
        self.test_data = test_data
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.optimizer = optimizer or torch.optim.Adam(self.module.parameters(), lr=1e-3)
        self.default_epochs = default_epochs
        self._entries = (
            dl4j_entries(self.module, dl4j_layers) if naming == "dl4j" else torch_entries(self.module)
        )
        self._num_train = num_training_examples
        self._num_test = num_test_examples

    # -- weights -------------------------------------------------------------------------------

    def get_weights(self) -> List[NamedTensor]:
        return [NamedTensor(e.name, e.read()) for e in self._entries]

    def set_weights(self, tensors: List[NamedTensor]) -> None:
        if len(tensors) != len(self._entries):
            raise ValueError(
                "expected %d tensors %s but got %d %s"
                % (len(self._entries), self._describe(), len(tensors), list(tensors))
            )
        for e, t in zip(self._entries, tensors):
            if e.name != t.name or tuple(e.shape()) != tuple(t.shape):
                raise ValueError(
                    "expected tensor %s%s but got %s%s; the module's tensors are %s"
                    % (e.name, list(e.shape()), t.name, list(t.shape), self._describe())
                )
        for e, t in zip(self._entries, tensors):
            e.write(t.array)

    def _describe(self):
        return "[" + ", ".join("%s%s" % (e.name, list(e.shape())) for e in self._entries) + "]"

    # -- data sizes ----------------------------------------------------------------------------

    def num_training_examples(self) -> int:
        if self._num_train is None:
            self._num_train = _count(self.train_data)
        return self._num_train

    def num_test_examples(self) -> int:
        if self.test_data is None:
            return 0
        if self._num_test is None:
            self._num_test = _count(self.test_data)
        return self._num_test

    # -- training ------------------------------------------------------------------------------

    def train(self, task) -> TrainResult:
        if task.learning_rate > 0:
            for group in self.optimizer.param_groups:
                group["lr"] = task.learning_rate
        proximal = None
        if task.proximal_mu > 0:
            proximal = [p.detach().clone() for p in self.module.parameters()]
        self.module.train()
        start = time.perf_counter()
        if task.local_steps > 0:
            examples, batches, loss_sum = self._steps(task, proximal)
            LOG.info(
                "round %d: %d local steps, mean loss %.4f, %.1f s",
                task.round,
                task.local_steps,
                loss_sum / max(1, examples),
                time.perf_counter() - start,
            )
        else:
            epochs = task.epochs if task.epochs > 0 else self.default_epochs
            examples = batches = 0
            loss_sum = 0.0
            for epoch in range(1, epochs + 1):
                epoch_start = time.perf_counter()
                n = 0
                epoch_loss = 0.0
                for x, y in self.train_data:
                    epoch_loss += self._step(x, y, task.proximal_mu, proximal) * len(y)
                    n += len(y)
                    batches += 1
                examples += n
                loss_sum += epoch_loss
                LOG.info(
                    "round %d: epoch %d/%d, mean loss %.4f, %.1f s",
                    task.round,
                    epoch,
                    epochs,
                    epoch_loss / n if n else float("nan"),
                    time.perf_counter() - epoch_start,
                )
        if examples == 0:
            raise ValueError("the training data yielded no examples; check the local training data")
        ms_per_batch = (time.perf_counter() - start) * 1000 / max(1, batches)
        batch_size = getattr(self.train_data, "batch_size", None) or max(1, examples // max(1, batches))
        batches_per_epoch = math.ceil(self.num_training_examples() / batch_size)
        return TrainResult(
            num_training_examples=examples,
            num_completed_batches=batches,
            metrics={
                "loss": loss_sum / examples,
                "ms_per_batch": ms_per_batch,
                "ms_per_epoch": ms_per_batch * batches_per_epoch,
            },
        )

    def _steps(self, task, proximal):
        examples = steps = 0
        loss_sum = 0.0
        while steps < task.local_steps:
            before = steps
            for x, y in self.train_data:
                loss_sum += self._step(x, y, task.proximal_mu, proximal) * len(y)
                examples += len(y)
                steps += 1
                if steps >= task.local_steps:
                    break
            if steps == before:
                raise ValueError("the training data yielded no examples; check the local training data")
        return examples, steps, loss_sum

    def _step(self, x, y, mu, proximal) -> float:
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.module(x), y)
        total = loss
        if proximal is not None:
            term = sum(((p - g) ** 2).sum() for p, g in zip(self.module.parameters(), proximal))
            total = loss + (mu / 2) * term
        total.backward()
        self.optimizer.step()
        return float(loss.item())

    def evaluate(self, task) -> EvaluationResult:
        if self.test_data is None:
            raise ValueError("this model has no test data; pass test_data to TorchModel")
        self.module.eval()
        n = correct = 0
        loss_sum = 0.0
        with torch.no_grad():
            for x, y in self.test_data:
                out = self.module(x)
                loss_sum += float(self.loss_fn(out, y).item()) * len(y)
                correct += int((out.argmax(dim=1) == y).sum().item())
                n += len(y)
        if n == 0:
            raise ValueError("the test data yielded no examples; check the local test data")
        return EvaluationResult(num_examples=n, metrics={"accuracy": correct / n, "loss": loss_sum / n})


def _count(data) -> int:
    dataset = getattr(data, "dataset", None)
    if dataset is not None:
        try:
            return len(dataset)
        except TypeError:
            pass
    return sum(len(y) for _, y in data)
