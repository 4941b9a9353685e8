"""Adapter for models whose weights are a list of float32 NumPy arrays."""

import abc
from typing import List, Optional, Sequence

import numpy as np

from metisfl_learner.model import Model
from metisfl_learner.types import NamedTensor


class NumpyModel(Model):
    """Base class for a model held as a list of NumPy arrays (float32 on the wire).

    Implement get_arrays, set_arrays, train, evaluate and num_training_examples. Tensor names are
    ``names`` if given (e.g. the DL4J names ["0_W", "0_b", "1_W", "1_b"] of a 2-layer perceptron,
    to share a federation with Java learners), else "0", "1", ... in list order.
    """

    def __init__(self, names: Optional[Sequence[str]] = None):
        self._names = list(names) if names is not None else None

    @abc.abstractmethod
    def get_arrays(self) -> List[np.ndarray]:
        """The current weights, in a fixed order."""

    @abc.abstractmethod
    def set_arrays(self, arrays: List[np.ndarray]) -> None:
        """Loads weights given in the order of get_arrays (float32, the same shapes)."""

    def _names_for(self, n):
        if self._names is None:
            return [str(i) for i in range(n)]
        if len(self._names) != n:
            raise ValueError(
                "the model has %d arrays but %d names were given (%s)" % (n, len(self._names), self._names)
            )
        return self._names

    def get_weights(self) -> List[NamedTensor]:
        arrays = self.get_arrays()
        names = self._names_for(len(arrays))
        out = []
        for name, a in zip(names, arrays):
            a = np.asarray(a)
            if not np.issubdtype(a.dtype, np.floating):
                raise ValueError(
                    "array '%s' has dtype %s; NumpyModel carries float arrays only" % (name, a.dtype)
                )
            out.append(NamedTensor(name, np.array(a, dtype=np.float32, order="C", copy=True)))
        return out

    def set_weights(self, tensors: List[NamedTensor]) -> None:
        names = self._names_for(len(tensors))
        for name, t in zip(names, tensors):
            if t.name != name:
                raise ValueError("expected tensor '%s' but got '%s'" % (name, t.name))
        self.set_arrays([t.array for t in tensors])
