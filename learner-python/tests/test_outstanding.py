"""The outstanding-update bookkeeping on its own."""

import pytest

from metisfl_learner.outstanding import MAX_PIPELINED, OutstandingUpdates


def test_pipelined_updates_let_training_go_on_until_two_await_their_answer():
    o = OutstandingUpdates()
    assert o.may_start_training(True) and o.may_start_training(False)
    o.add("a-1", 3, True, "u1", 0.0, 0)
    assert o.may_start_training(True)
    assert not o.may_start_training(False)  # a synchronous task waits
    assert o.may_start_other()  # an evaluation does not
    o.add("a-2", 4, True, "u2", 1.0, 0)
    assert len(o) == MAX_PIPELINED == 2 and not o.may_start_training(True)
    with pytest.raises(ValueError, match="task a-1 of round 3, 2.0 s; task a-2 of round 4, 1.0 s"):
        o.add("a-3", 5, True, "u3", 2.0, 0)
    assert o.remove("a-1").payload == "u1"
    o.add("a-3", 5, True, "u3", 2.0, 0)
    assert [e.task_id for e in o.in_order()] == ["a-2", "a-3"] and o.peak == 2


def test_an_update_that_is_not_pipelined_is_answered_before_anything_else_starts():
    o = OutstandingUpdates()
    o.add("r1/train", 1, False, "u", 0.0, 0)
    assert not o.may_start_training(True) and not o.may_start_training(False)
    assert not o.may_start_other()
    with pytest.raises(ValueError):
        o.add("a-1", 1, True, "v", 0.0, 0)
    o.remove("r1/train")
    assert len(o) == 0 and o.may_start_other() and o.describe(0.0) == "none"


def test_a_second_update_of_one_task_is_refused_and_resends_count_attempts():
    o = OutstandingUpdates()
    e = o.add("a-1", 1, True, "u", 0.0, 7)
    with pytest.raises(ValueError, match="already awaiting its answer"):
        o.add("a-1", 1, True, "u", 0.0, 7)
    assert (e.attempt, e.sent_on) == (1, 7)
    assert o.resend(e, 8) == 2 and e.sent_on == 8
    o.remove("a-1")
    assert o.get("a-1") is None and o.remove("a-1") is None
    with pytest.raises(ValueError):
        o.resend(e, 9)
