"""A Python learner for the Java integration tests (PythonLearnersITCase): it records every
global model it receives and every update it submits, as raw little-endian float32 files, so the
test can check the controller's aggregate against values computed independently.

    recording_learner.py --gateway H:P --record DIR --kind shift --examples 100 --shift 1.5
    recording_learner.py --gateway H:P --record DIR --kind torch --learners 3 --learner-index 2

Files in DIR: global-v<version>.f32 (the global model of that version, flat, in tensor order),
update-r<round>.f32 and update-r<round>.examples (the update of that round and its FedAvg weight).
"""

import argparse
import logging
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))

from metisfl_learner import (  # noqa: E402
    EvaluationResult,
    Learner,
    LearnerError,
    LearnerOptions,
    Model,
    NumpyModel,
    TrainResult,
)

#: The quickstart MLP's tensors (DL4J names), 101,770 values.
MLP = [("0_W", (784, 128)), ("0_b", (128,)), ("1_W", (128, 10)), ("1_b", (10,))]


class Shift(NumpyModel):
    """Deterministic "training": update = 0.5 * global + shift * sin(0.37 k + shift)."""

    def __init__(self, shapes, examples, shift):
        super().__init__(names=[n for n, _ in shapes])
        self.arrays = [np.zeros(s, dtype=np.float32) for _, s in shapes]
        self.examples = examples
        self.shift = shift

    def get_arrays(self):
        return [a.copy() for a in self.arrays]

    def set_arrays(self, arrays):
        self.arrays = [np.array(a, dtype=np.float32) for a in arrays]

    def train(self, task):
        offset = 0
        out = []
        for a in self.arrays:
            k = np.arange(offset, offset + a.size, dtype=np.float64)
            pattern = (self.shift * np.sin(0.37 * k + self.shift)).reshape(a.shape)
            out.append((0.5 * a.astype(np.float64) + pattern).astype(np.float32))
            offset += a.size
        self.arrays = out
        return TrainResult(self.examples, 1, {"loss": self.shift})

    def evaluate(self, task):
        return EvaluationResult(10, {"accuracy": 0.5})

    def num_training_examples(self):
        return self.examples


class Add(Shift):
    """Training adds ``shift`` to every weight of the model it was given, so that with FedBuff
    (buffer 1, server learning rate 1) each counted update adds ``shift`` to the global model."""

    def train(self, task):
        self.arrays = [(a + np.float32(self.shift)).astype(np.float32) for a in self.arrays]
        return TrainResult(self.examples, 1, {"loss": self.shift})


class Recording(Model):
    """Wraps a model; writes what it receives and submits to a directory."""

    def __init__(self, inner, directory, train_delay):
        self.inner = inner
        self.dir = directory
        self.train_delay = train_delay
        self.pending = None
        os.makedirs(directory, exist_ok=True)

    def _flat(self, tensors):
        return np.concatenate([np.asarray(t.array, dtype="<f4").ravel() for t in tensors])

    def _write(self, name, flat):
        tmp = os.path.join(self.dir, name + ".tmp")
        flat.astype("<f4").tofile(tmp)
        os.replace(tmp, os.path.join(self.dir, name))

    def _global(self, version):
        if self.pending is not None:
            self._write("global-v%d.f32" % version, self.pending)
            self.pending = None

    def get_weights(self):
        return self.inner.get_weights()

    def set_weights(self, tensors):
        self.inner.set_weights(tensors)
        self.pending = self._flat(tensors)

    def train(self, task):
        self._global(task.round - 1)
        if self.train_delay and task.round == 1:
            time.sleep(self.train_delay)
        result = self.inner.train(task)
        self._write("update-r%d.f32" % task.round, self._flat(self.inner.get_weights()))
        with open(os.path.join(self.dir, "update-r%d.examples" % task.round), "w") as f:
            f.write(str(result.num_training_examples))
        return result

    def evaluate(self, task):
        self._global(task.round)
        return self.inner.evaluate(task)

    def num_training_examples(self):
        return self.inner.num_training_examples()

    def num_test_examples(self):
        return self.inner.num_test_examples()


def torch_model(args):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import fashion_mnist as fm
    from metisfl_learner import TorchModel

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x, y = fm.load(fm.DATA_DIR, "train", args.train_limit)
    xt, yt = fm.load(fm.DATA_DIR, "t10k", args.test_limit)
    part = fm.iid(len(y), args.learners, args.seed)[args.learner_index]
    test_part = fm.iid(len(yt), args.learners, args.seed + 1)[args.learner_index]
    g = torch.Generator().manual_seed(args.seed)
    train = DataLoader(
        TensorDataset(torch.from_numpy(x[part]), torch.from_numpy(y[part])),
        batch_size=64,
        shuffle=True,
        generator=g,
    )
    test = DataLoader(
        TensorDataset(torch.from_numpy(xt[test_part]), torch.from_numpy(yt[test_part])),
        batch_size=500,
    )
    return TorchModel(fm.mlp(), train, test)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--name", default="python")
    p.add_argument("--kind", choices=["shift", "add", "torch"], default="shift")
    p.add_argument("--examples", type=int, default=100)
    p.add_argument("--shift", type=float, default=1.0)
    p.add_argument("--wrong-shape", action="store_true", help="a hidden layer of 64, not 128")
    p.add_argument("--train-delay", type=float, default=0.0, help="seconds, before round 1")
    p.add_argument("--learners", type=int, default=3)
    p.add_argument("--learner-index", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=3000)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.kind == "torch":
        inner = torch_model(args)
    else:
        shapes = MLP if not args.wrong_shape else [
            ("0_W", (784, 64)), ("0_b", (64,)), ("1_W", (64, 10)), ("1_b", (10,))]
        inner = (Add if args.kind == "add" else Shift)(shapes, args.examples, args.shift)
    # The ITCase's federations run with security.insecure: true.
    options = LearnerOptions(reconnect_initial_backoff=0.2, reconnect_max_backoff=2.0, insecure=True)
    try:
        summary = Learner(
            Recording(inner, args.record, args.train_delay), args.gateway, name=args.name, options=options
        ).run()
    except LearnerError as e:
        logging.error("error: %s", e)
        return 3
    logging.info("done: %s", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
