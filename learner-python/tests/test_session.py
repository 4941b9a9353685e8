"""The learner's protocol logic against an in-process fake gateway on real gRPC."""

import threading

import grpc
import numpy as np
import pytest

from metisfl_learner import (
    EvaluationResult,
    Learner,
    LearnerError,
    LearnerOptions,
    ModelMismatchError,
    NumpyModel,
    TrainResult,
)
from metisfl_learner._proto import pb
from fake_gateway import FakeGateway, tensors

SHAPES = [("0_W", (300, 250)), ("0_b", (250,))]  # 301,000 bytes: several chunks
FAST = LearnerOptions(
    call_timeout=5,
    transfer_timeout=10,
    reconnect_initial_backoff=0.01,
    reconnect_max_backoff=0.05,
    insecure=True,
)


class Shifter(NumpyModel):
    """Training adds the round number to every weight; records each update it produced."""

    def __init__(self, shapes=SHAPES):
        super().__init__(names=[n for n, _ in shapes])
        self.arrays = [np.zeros(s, dtype=np.float32) for _, s in shapes]
        self.loaded = []
        self.produced = []

    def get_arrays(self):
        return [a.copy() for a in self.arrays]

    def set_arrays(self, arrays):
        self.arrays = [a.copy() for a in arrays]
        self.loaded.append([a.copy() for a in arrays])

    def train(self, task):
        self.arrays = [a + task.round for a in self.arrays]
        self.produced.append([a.copy() for a in self.arrays])
        return TrainResult(120, 2, {"loss": 0.5, "ms_per_batch": 3.0, "ms_per_epoch": 6.0})

    def evaluate(self, task):
        return EvaluationResult(40, {"accuracy": 0.75, "loss": float("nan")})

    def num_training_examples(self):
        return 120

    def num_test_examples(self):
        return 40


@pytest.fixture
def gateway():
    g = FakeGateway(tensors(SHAPES, scale=0.5), max_message_bytes=200_000)
    yield g
    g.stop()


def run_learner(gateway, model, options=FAST):
    result = {}
    learner = Learner(model, gateway.address, name="py", options=options)

    def body():
        try:
            result["summary"] = learner.run()
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=body)
    t.start()
    result["learner"] = learner
    return t, result


def test_trains_uploads_in_chunks_below_the_limit_evaluates_and_leaves(gateway):
    model = Shifter()
    gateway.train(1)
    gateway.evaluate(1)
    gateway.shutdown()
    t, result = run_learner(gateway, model)
    t.join(30)
    summary = result["summary"]
    assert summary.federation_finished and summary.reason == "test over"
    assert (summary.rounds_trained, summary.evaluations, summary.reconnects) == (1, 1, 0)
    # the model received the global model, row-major, shapes intact
    for got, want in zip(model.loaded[0], gateway.model):
        np.testing.assert_array_equal(got, want.array)
    header, values = gateway.accepted[("L1", "train-1")]
    assert header.round == 1 and header.num_training_examples == 120
    assert header.HasField("base_model_version") and header.base_model_version == 0
    assert dict(header.metrics) == {"loss": 0.5, "ms_per_batch": 3.0, "ms_per_epoch": 6.0}
    for got, want in zip(values, model.produced[0]):
        np.testing.assert_array_equal(got.array, want)
    (_, sizes), = gateway.upload_attempts
    assert sum(sizes) == 301 * 1000 and max(sizes) <= 200_000 - 65_536
    # the non-finite metric is left out, the finite one reported
    (report,) = gateway.evaluations
    assert report.task_id == "eval-1" and dict(report.metrics) == {"accuracy": 0.75}
    assert gateway.joins[0].num_training_examples == 120 and gateway.leaves == []


def test_resends_an_unacknowledged_update_after_reconnecting_and_it_counts_once(gateway):
    gateway.fail_next_upload_after_receiving = 1
    gateway.train(1)
    gateway.shutdown()
    t, result = run_learner(gateway, Shifter())
    t.join(30)
    summary = result["summary"]
    assert summary.reconnects == 1 and summary.rounds_trained == 1
    assert [task for task, _ in gateway.upload_attempts] == ["train-1", "train-1"]
    assert list(gateway.accepted) == [("L1", "train-1")]


def test_a_task_id_seen_again_is_not_trained_twice(gateway):
    model = Shifter()
    gateway.train(1, task_id="t")
    gateway.train(1, task_id="t")
    gateway.shutdown()
    t, result = run_learner(gateway, model)
    t.join(30)
    assert result["summary"].rounds_trained == 1 and len(model.produced) == 1


def test_refuses_a_global_model_with_other_tensor_shapes_and_leaves(gateway):
    gateway.model = tensors([("0_W", (300, 200)), ("0_b", (200,))])
    gateway.train(1)
    t, result = run_learner(gateway, Shifter())
    t.join(30)
    error = result["error"]
    assert isinstance(error, ModelMismatchError)
    assert "tensor '0_W' has shape [300, 200] in the global model but [300, 250] here" in str(error)
    assert gateway.leaves == ["L1"]


def test_refuses_a_ckks_federation_at_join_with_a_clear_message_and_leaves(gateway):
    gateway.encryption = pb.Encryption(
        backend_id="metisfl-ckks", parameter_hash="ab" * 32, preset="n13-q120", shard_size=65536
    )
    gateway.train(1)
    t, result = run_learner(gateway, Shifter())
    t.join(30)
    error = result["error"]
    assert isinstance(error, LearnerError)
    assert "aggregates with secure aggregation (backend metisfl-ckks, preset n13-q120)" in str(
        error
    )
    assert "the Python learner cannot encrypt updates" in str(error)
    assert gateway.leaves == ["L1"]
    assert not gateway.accepted


def test_uploads_its_weights_when_the_federation_asks_for_an_initial_model(gateway):
    gateway.initial_model_requested = True
    gateway.shutdown()
    t, result = run_learner(gateway, Shifter())
    t.join(30)
    assert result["summary"].federation_finished
    header, values = gateway.accepted[("L1", "init")]
    assert header.round == 0 and header.num_training_examples == 120
    assert all(not v.array.any() for v in values)


def test_joins_again_when_the_gateway_no_longer_knows_its_token(gateway):
    gateway.unauthenticated_streams = 1
    gateway.train(1)
    gateway.shutdown()
    t, result = run_learner(gateway, Shifter())
    t.join(30)
    assert result["summary"].rounds_trained == 1
    assert len(gateway.joins) == 2
    assert ("L2", "train-1") in gateway.accepted


def test_gives_up_with_a_clear_error_when_no_gateway_answers():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    options = LearnerOptions(
        call_timeout=1, reconnect_initial_backoff=0.01, reconnect_max_backoff=0.02, max_reconnect_attempts=2,
        insecure=True,
    )
    with pytest.raises(
        LearnerError,
        match=r"gave up after 2 reconnect attempts .*join failed with UNAVAILABLE.*nothing ever answered",
    ):
        Learner(Shifter(), "127.0.0.1:%d" % port, options=options).run()


def test_close_from_another_thread_stops_run_and_leaves(gateway):
    import time

    t, result = run_learner(gateway, Shifter())
    deadline = time.time() + 10
    while not gateway.joins and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    result["learner"].close()
    t.join(10)
    assert not t.is_alive()
    summary = result["summary"]
    assert not summary.federation_finished and summary.reason == "closed by the user"
    assert gateway.leaves == ["L1"]


def test_model_must_be_a_model():
    with pytest.raises(TypeError, match="model must be a metisfl_learner.Model"):
        Learner(object(), "127.0.0.1:1", options=LearnerOptions(insecure=True))


def test_says_once_that_nothing_listens_when_no_gateway_ever_answered(caplog):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    options = LearnerOptions(
        call_timeout=1, reconnect_initial_backoff=0.01, reconnect_max_backoff=0.02, max_reconnect_attempts=7,
        insecure=True,
    )
    with pytest.raises(LearnerError):
        Learner(Shifter(), "127.0.0.1:%d" % port, options=options).run()
    said = [r.getMessage() for r in caplog.records if "nothing has answered" in r.getMessage()]
    assert len(said) == 1
    assert "127.0.0.1:%d in 5 attempts" % port in said[0] and "up to 7 attempts in all" in said[0]
