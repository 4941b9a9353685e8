"""Pipelined uploads against a fake gateway that answers only when the test releases an answer
(as a real one answers after the checkpoint): asynchronous tasks go on with at most two updates
unacknowledged; synchronous rounds still wait for each answer."""

import logging
import time

import grpc

from fake_gateway import FakeGateway, tensors
from metisfl_learner._proto import pb
from test_session import FAST, SHAPES, Shifter, run_learner

import pytest


@pytest.fixture
def gateway():
    g = FakeGateway(tensors(SHAPES, scale=0.5))
    g.hold_answers = True
    yield g
    g.stop()


def wait_until(condition, timeout=20):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in %s s" % timeout
        time.sleep(0.01)


def uploads(gateway):
    with gateway.lock:
        return [task for task, _ in gateway.upload_attempts]


def test_trains_the_next_asynchronous_task_while_two_updates_await_their_acknowledgement(
    gateway, caplog
):
    caplog.set_level(logging.INFO)
    model = Shifter()
    for i in (1, 2, 3):
        gateway.train(0, task_id="a-%d" % i)
    t, result = run_learner(gateway, model)
    wait_until(lambda: gateway.held == 2)
    time.sleep(0.3)
    assert uploads(gateway) == ["a-1", "a-2"]
    assert len(model.produced) == 2  # the third waits for an answer
    assert result["learner"].unacknowledged_updates == 2
    gateway.release(1)
    wait_until(lambda: uploads(gateway) == ["a-1", "a-2", "a-3"])
    gateway.shutdown()
    wait_until(lambda: gateway.held == 2)
    time.sleep(0.2)
    assert t.is_alive()  # the Shutdown waits for the acknowledgements
    gateway.release(2)
    t.join(30)
    summary = result["summary"]
    assert (summary.rounds_trained, summary.updates_dropped, summary.updates_unacknowledged) == (
        3,
        0,
        0,
    )
    assert summary.federation_finished
    text = caplog.text
    assert "update sent, awaiting its acknowledgement; unacknowledged: 2 (task a-1 of round 0" in text
    assert "update of task a-1 accepted, acknowledged" in text


def test_synchronous_rounds_still_wait_for_each_answer(gateway):
    model = Shifter()
    gateway.train(1)
    gateway.train(2)
    t, result = run_learner(gateway, model)
    wait_until(lambda: gateway.held == 1)
    time.sleep(0.3)
    assert len(model.produced) == 1 and result["learner"].unacknowledged_updates == 1
    gateway.release(1)
    wait_until(lambda: gateway.held == 1 and len(uploads(gateway)) == 2)
    gateway.shutdown()
    gateway.release(1)
    t.join(30)
    assert result["summary"].rounds_trained == 2


def test_a_too_stale_outstanding_update_is_dropped_and_logged_while_the_next_counts(
    gateway, caplog
):
    reason = (
        "the update was trained on model version 2, 3 versions behind the current version 5"
        " (async.max-staleness is 2); train on your next task instead"
    )
    gateway.refuse["a-1"] = (grpc.StatusCode.FAILED_PRECONDITION, reason)
    gateway.train(2, task_id="a-1")
    gateway.train(5, task_id="a-2")
    t, result = run_learner(gateway, Shifter())
    wait_until(lambda: gateway.held == 1)
    gateway.shutdown()
    gateway.release(1)
    t.join(30)
    summary = result["summary"]
    assert (summary.rounds_trained, summary.updates_dropped, summary.updates_unacknowledged) == (
        1,
        1,
        0,
    )
    assert uploads(gateway) == ["a-1", "a-2"]  # the refused update is not sent again
    assert any(
        r.levelno == logging.WARNING
        and "update dropped, refused (FAILED_PRECONDITION: %s)" % reason in r.getMessage()
        and "task a-1" in r.getMessage()
        for r in caplog.records
    )


def test_a_lost_connection_sends_both_outstanding_updates_again_and_each_counts_once(gateway):
    gateway.train(0, task_id="a-1")
    gateway.train(0, task_id="a-2")
    t, result = run_learner(gateway, Shifter())
    wait_until(lambda: gateway.held == 2)
    gateway.release(2, fail=True)  # both acknowledgements lost with the connection
    wait_until(lambda: gateway.held == 2 and len(uploads(gateway)) == 4)
    sent = uploads(gateway)
    # Sent again in order; gRPC Python streams each request iterator on its own thread, so they
    # may reach the gateway in either order.
    assert sent[:2] == ["a-1", "a-2"] and sorted(sent[2:]) == ["a-1", "a-2"]
    # The replaced task stream's handler polls the shared task queue until it sees the cancel.
    time.sleep(0.5)
    gateway.shutdown()
    gateway.release(2)
    t.join(30)
    summary = result["summary"]
    assert summary.rounds_trained == 2  # DUPLICATE counts as done
    assert summary.reconnects >= 1 and summary.updates_unacknowledged == 0
    assert sorted(gateway.accepted) == [("L1", "a-1"), ("L1", "a-2")]
