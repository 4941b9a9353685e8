import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from metisfl_learner import NamedTensor, NumpyModel, TorchModel, TrainTask, EvaluateTask


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def test_mlp_has_the_tensors_of_the_dl4j_quickstart_model():
    # DL4J 1.0.0-M2.1, Models.mlp(): paramTable() is 0_W[784,128], 0_b[128], 1_W[128,10], 1_b[10]
    model = TorchModel(mlp(), [])
    assert [(t.name, t.shape) for t in model.get_weights()] == [
        ("0_W", (784, 128)),
        ("0_b", (128,)),
        ("1_W", (128, 10)),
        ("1_b", (10,)),
    ]


def test_dl4j_kernels_are_the_transposed_linear_weights():
    net = mlp()
    w = {t.name: t.array for t in TorchModel(net, []).get_weights()}
    np.testing.assert_array_equal(w["0_W"], net[0].weight.detach().numpy().T)
    assert w["0_W"].flags["C_CONTIGUOUS"] and w["0_W"].dtype == np.float32


def test_cnn_has_the_tensors_of_the_dl4j_example_cnn():
    # DL4J Models.cnn(): 0_b[8], 0_W[8,1,5,5], 2_b[16], 2_W[16,8,5,5], 4_W[256,10], 4_b[10]
    cnn = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 10),
    )
    assert [(t.name, t.shape) for t in TorchModel(cnn, []).get_weights()] == [
        ("0_b", (8,)), ("0_W", (8, 1, 5, 5)), ("2_b", (16,)), ("2_W", (16, 8, 5, 5)),
        ("4_W", (256, 10)), ("4_b", (10,)),
    ]


def test_set_weights_round_trips_and_checks_names_and_shapes():
    a, b = TorchModel(mlp(), []), TorchModel(nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), [])
    b.set_weights(a.get_weights())
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x.array, y.array)
    wrong = a.get_weights()
    wrong[2] = NamedTensor("1_W", np.zeros((10, 128), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected tensor 1_W\[128, 10\] but got 1_W\[10, 128\]"):
        b.set_weights(wrong)


def test_torch_naming_uses_the_state_dict_and_keeps_integer_buffers_local():
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    names = [t.name for t in TorchModel(net, [], naming="torch").get_weights()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    with pytest.raises(ValueError, match="BatchNorm1d.*naming='torch'"):
        TorchModel(net, [])


def toy_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 784, generator=g)
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)


def test_training_lowers_the_loss_and_reports_the_semi_sync_timings():
    data = toy_data()
    model = TorchModel(mlp(), data, toy_data(seed=1))
    before = model.evaluate(EvaluateTask(round=1)).metrics["loss"]
    result = model.train(TrainTask(round=1, epochs=3))
    assert result.num_training_examples == 3 * 256 and result.num_completed_batches == 24
    assert set(result.metrics) == {"loss", "ms_per_batch", "ms_per_epoch"}
    assert result.metrics["ms_per_epoch"] == pytest.approx(8 * result.metrics["ms_per_batch"])
    after = model.evaluate(EvaluateTask(round=1))
    assert after.num_examples == 256 and after.metrics["loss"] < before


def test_local_steps_cycle_over_the_data_and_learning_rate_applies():
    model = TorchModel(mlp(), toy_data(64))
    result = model.train(TrainTask(round=1, local_steps=5, learning_rate=0.01))
    assert result.num_completed_batches == 5 and result.num_training_examples == 5 * 32
    assert model.optimizer.param_groups[0]["lr"] == 0.01


def test_proximal_term_keeps_weights_closer_to_the_global_model():
    start = mlp()
    free = TorchModel(mlp(), toy_data(), optimizer=None)
    prox = TorchModel(mlp(), toy_data(), optimizer=None)
    for m in (free, prox):
        m.set_weights(TorchModel(start, []).get_weights())
    g = np.concatenate([t.array.ravel() for t in free.get_weights()])
    free.train(TrainTask(round=1, epochs=1))
    prox.train(TrainTask(round=1, epochs=1, proximal_mu=10.0))
    dist = lambda m: np.linalg.norm(np.concatenate([t.array.ravel() for t in m.get_weights()]) - g)  # noqa: E731
    assert dist(prox) < dist(free)


class Pair(NumpyModel):
    def __init__(self, arrays, names=None):
        super().__init__(names)
        self.arrays = arrays

    def get_arrays(self):
        return self.arrays

    def set_arrays(self, arrays):
        self.arrays = arrays

    def train(self, task):
        raise NotImplementedError

    def evaluate(self, task):
        raise NotImplementedError

    def num_training_examples(self):
        return 1


def test_numpy_model_names_its_arrays_and_refuses_integers():
    m = Pair([np.ones((2, 2)), np.zeros(3, dtype=np.float32)])
    assert [(t.name, t.shape, t.array.dtype) for t in m.get_weights()] == [
        ("0", (2, 2), np.float32), ("1", (3,), np.float32)]
    assert [t.name for t in Pair([np.ones(1)], names=["0_b"]).get_weights()] == ["0_b"]
    with pytest.raises(ValueError, match="has 1 arrays but 2 names"):
        Pair([np.ones(1)], names=["a", "b"]).get_weights()
    with pytest.raises(ValueError, match="array '0' has dtype int64"):
        Pair([np.ones(1, dtype=np.int64)]).get_weights()
