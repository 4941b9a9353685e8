"""Which gateway the Python learner talks to (session.Channels): reconnects go home first when away
from it and round-robin otherwise; away from home, the home is tried on its own channel after
growing waits and adopted once it connects. Channels are fakes whose connectivity the test sets;
time is a number. A session-level test moves a real learner between two fake gateways."""

import socket
import struct
import threading
import time

import grpc
import pytest

from fake_gateway import FakeGateway, tensors
from metisfl_learner import Learner, LearnerOptions
from metisfl_learner.backoff import Backoff
from metisfl_learner.session import Channels
from test_session import Shifter

A, B, C = "10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051"
READY = grpc.ChannelConnectivity.READY
FAILED = grpc.ChannelConnectivity.TRANSIENT_FAILURE
CONNECTING = grpc.ChannelConnectivity.CONNECTING


class FakeChannel:
    """Makes no calls; tells its subscriber the states the test sets, as gRPC does."""

    def __init__(self, target):
        self.target = target
        self.callbacks = []
        self.connect_requested = False
        self.closed = False

    def subscribe(self, callback, try_to_connect=False):
        self.connect_requested = self.connect_requested or try_to_connect
        self.callbacks.append(callback)

    def unsubscribe(self, callback):
        self.callbacks.remove(callback)

    def become(self, state):
        for c in list(self.callbacks):
            c(state)

    def close(self):
        self.closed = True

    # What LearnerServiceStub needs to build its methods.
    def unary_unary(self, *a, **k):
        return None

    unary_stream = stream_unary = stream_stream = unary_unary


class Setup:
    def __init__(self, *targets):
        self.opened = []
        self.wakes = 0
        # No jitter: delay(n) = 0.1 s * 2^(n-1), at most 2 s.
        backoff = Backoff(0.2, 4.0, lambda: 0.0)
        self.channels = Channels(list(targets), self._open, backoff, 1.0, self._wake)

    def _open(self, target):
        c = FakeChannel(target)
        self.opened.append(c)
        return c

    def _wake(self):
        self.wakes += 1

    def current(self):
        return self.opened[-1]


def test_before_joining_and_at_home_every_reconnect_moves_on_round_robin():
    s = Setup(A, B, C)
    ch = s.channels
    ch.stub()
    assert s.current().target == A
    assert ch.home() is None and ch.at_home()
    ch.next(1)
    assert ch.address() == B
    ch.joined()
    assert ch.home() == B
    # Home failed: the first attempt goes to the next gateway, and so does every later one.
    assert ch.next_address(1) == C
    ch.next(1)
    assert ch.address() == C and not ch.at_home()
    ch.next(2)
    assert ch.address() == A
    ch.next(3)
    assert ch.address() == B and ch.at_home()
    assert all(c.closed for c in s.opened[:-1])


def test_away_from_home_the_first_reconnect_goes_home_then_every_gateway_in_turn():
    s = Setup(A, B, C)
    ch = s.channels
    ch.stub()
    ch.joined()  # home A
    ch.next(1)  # A failed
    assert ch.address() == B
    assert ch.next_address(1) == A
    ch.next(1)
    assert ch.address() == A
    # A still dead: attempts 2, 3, 4 go round the list.
    visited = []
    for attempt in (2, 3, 4):
        ch.next(attempt)
        visited.append(ch.address())
    assert visited == [B, C, A]


def test_away_from_home_the_home_is_tried_after_the_first_wait_and_adopted_once_it_connects():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    foreign = s.current()
    assert foreign.target == B
    before = len(s.opened)

    t0 = 1000.0
    assert ch.probe_home(t0) == Channels.AWAY
    assert ch.probe_home(t0 + 0.099) == Channels.AWAY
    assert len(s.opened) == before  # no try before the first wait (0.1 s) is over
    assert ch.seconds_until_probe(t0 + 0.05) == pytest.approx(0.05)
    assert ch.probe_home(t0 + 0.1) == Channels.AWAY
    assert len(s.opened) == before + 1
    probe = s.current()
    assert probe.target == A and probe.connect_requested
    assert ch.address() == B  # still working through B
    assert ch.seconds_until_probe(t0 + 0.3) == pytest.approx(0.8)  # until the try times out

    probe.become(CONNECTING)
    probe.become(READY)
    assert s.wakes == 2  # the session's loop is woken to look again
    assert ch.seconds_until_probe(t0 + 0.31) is None
    assert ch.probe_home(t0 + 0.31) == Channels.REACHABLE
    # The channel left is handed back open: the session closes it once the stream left may go.
    assert ch.adopt_home() is foreign
    assert ch.address() == A and ch.at_home()
    assert not foreign.closed and not probe.closed
    assert probe.callbacks == []
    assert ch.probe_home(t0 + 0.4) == Channels.AT_HOME
    assert len(s.opened) == before + 1


def _reachable_home(s):
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    foreign = s.current()
    ch.probe_home(0.0)
    ch.probe_home(0.1)
    probe = s.current()
    probe.become(READY)
    assert ch.probe_home(0.11) == Channels.REACHABLE
    return foreign, probe


def test_a_move_opens_on_the_homes_channel_while_the_one_left_stays_open_until_adopted():
    s = Setup(A, B)
    ch = s.channels
    foreign, probe = _reachable_home(s)
    ch.home_stub()
    assert ch.moving
    # Still working through B until the session adopts the home.
    assert ch.address() == B and not ch.at_home() and not foreign.closed
    # Under way, the try is the session's: neither timed out nor failed when its connection
    # flickers, and no other try starts.
    probe.become(CONNECTING)
    assert ch.probe_home(5.0) == Channels.AWAY
    assert ch.seconds_until_probe(5.0) is None
    assert not probe.closed and len(s.opened) == 3
    assert ch.adopt_home() is foreign
    assert ch.address() == A and ch.at_home() and not ch.moving
    assert not probe.closed


def test_an_abandoned_move_stays_on_the_open_channel_and_tries_the_home_again_later():
    s = Setup(A, B)
    ch = s.channels
    foreign, probe = _reachable_home(s)
    ch.home_stub()
    ch.abandon_home(0.15)  # the stream on it failed
    assert probe.closed and not ch.moving
    assert ch.address() == B and not foreign.closed
    with pytest.raises(RuntimeError):
        ch.adopt_home()
    # One failed try: the next after delay(2) = 0.2 s.
    assert ch.seconds_until_probe(0.15) == pytest.approx(0.2)
    assert ch.probe_home(0.349) == Channels.AWAY and len(s.opened) == 3
    ch.probe_home(0.35)
    assert len(s.opened) == 4 and s.current().target == A


def test_a_home_stub_is_given_only_once_the_try_connected():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    ch.probe_home(0.0)
    ch.probe_home(0.1)
    with pytest.raises(RuntimeError):
        ch.home_stub()
    assert not ch.moving


def test_a_home_that_stays_unreachable_is_tried_after_growing_waits_one_channel_at_a_time():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    before = len(s.opened)
    ch.probe_home(0.0)  # schedules the first try at +0.1 s
    tried_at = []
    # Called every 10 ms for 10 s, as a busy learner's task boundaries would.
    for step in range(0, 1001):
        t = step * 0.01
        n = len(s.opened)
        assert ch.probe_home(t) == Channels.AWAY
        if len(s.opened) > n:
            tried_at.append(step * 10)
            assert all(c.closed for c in s.opened[before:-1])
            s.current().become(FAILED)  # refused
    # Tries at 100 ms, then each failure (seen 10 ms later) waits delay(n + 1): 200, 400, 800,
    # 1600 ms, then 2 s (the most).
    assert tried_at == [100, 310, 720, 1530, 3140, 5150, 7160, 9170]


def test_a_try_that_does_not_connect_within_the_probe_timeout_counts_as_failed():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    ch.probe_home(0.0)
    ch.probe_home(0.1)
    probe = s.current()
    probe.become(CONNECTING)  # a host that never answers
    assert ch.probe_home(1.099) == Channels.AWAY and not probe.closed
    assert ch.probe_home(1.1) == Channels.AWAY and probe.closed
    with pytest.raises(RuntimeError, match="not up"):
        ch.adopt_home()


def test_a_reconnect_that_reaches_home_ends_the_tries_and_a_join_elsewhere_moves_the_home():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)  # to B
    ch.probe_home(0.0)
    ch.probe_home(0.1)
    probe = s.current()
    ch.next(1)  # B failed: home first
    assert ch.address() == A and probe.closed
    assert ch.probe_home(0.2) == Channels.AT_HOME
    # A re-join (new credentials) through B: the new id is homed at B.
    ch.next(1)
    ch.joined()
    assert ch.home() == B and ch.at_home()
    assert ch.next_address(1) == A


def test_close_ends_a_try_in_progress():
    s = Setup(A, B)
    ch = s.channels
    ch.stub()
    ch.joined()
    ch.next(1)
    ch.probe_home(0.0)
    ch.probe_home(0.1)
    probe = s.current()
    ch.close()
    assert probe.closed


# ---------------------------------------------------------------------------------------------
# A real learner between two fake gateways (real gRPC on 127.0.0.1)


class SwitchableProxy:
    """A TCP proxy on 127.0.0.1 in front of one gateway that can make it unreachable: cut() resets
    every open connection and closes each new one at once, restore() passes connections again."""

    def __init__(self, upstream_port):
        self._upstream = upstream_port
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._sockets = []
        self._lock = threading.Lock()
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def cut(self):
        self.cut_off = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            _reset(s)

    def restore(self):
        self.cut_off = False

    def close(self):
        self.cut()
        self._server.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.cut_off:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream))
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while not self.cut_off:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _reset(src)
            _reset(dst)


def _reset(s):
    # shutdown() first: a bare close() does not end another thread's recv() on the socket, and
    # the connection would stay up until something arrived.
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


def _await(condition, what, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


def _streams(gateway):
    with gateway.lock:
        return sum(1 for method, _ in gateway.bearers if method == "StreamTasks")


def _uploaded(gateway, task_id):
    with gateway.lock:
        return any(t == task_id for (_, t) in gateway.accepted)


@pytest.mark.parametrize("return_home", [True, False])
def test_a_learner_goes_back_to_its_home_gateway_once_it_is_reachable_again(return_home):
    shapes = [("0_W", (30, 20)), ("0_b", (20,))]
    home = FakeGateway(tensors(shapes, scale=0.5))
    other = FakeGateway(tensors(shapes, scale=0.5))
    proxy = SwitchableProxy(home.port)
    options = LearnerOptions(
        call_timeout=5,
        transfer_timeout=10,
        reconnect_initial_backoff=0.01,
        reconnect_max_backoff=0.05,
        insecure=True,
    )
    learner = Learner(Shifter(shapes), [proxy.address, other.address], name="py", options=options)
    learner._session.return_home = return_home
    result = {}

    def body():
        try:
            result["summary"] = learner.run()
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    try:
        # Joined through the proxy: the home gateway. Round 1 is uploaded there.
        _await(lambda: _streams(home) == 1, "the task stream at home")
        home.train(1)
        # Answered (not only received): a cut before the answer would make it resend round 1.
        _await(lambda: learner._session.rounds_trained == 1, "round 1's answer from home")
        assert _uploaded(home, "train-1")

        # Home unreachable: the learner reconnects to the other gateway and works there.
        proxy.cut()
        _await(lambda: _streams(other) == 1, "the task stream at the other gateway")
        other.train(2)
        _await(lambda: learner._session.rounds_trained == 2, "round 2's answer")
        assert _uploaded(other, "train-2")

        # Home reachable again: with the return, the learner's stream and next upload go home.
        proxy.restore()
        if return_home:
            _await(lambda: _streams(home) == 2, "the task stream back at home")
            home.train(3)
            _await(lambda: _uploaded(home, "train-3"), "round 3's upload at home")
            home.shutdown()
        else:
            time.sleep(0.5)  # many tries' worth of waits: it stays where it is
            assert _streams(home) == 1
            other.train(3)
            _await(lambda: _uploaded(other, "train-3"), "round 3's upload at the other gateway")
            other.shutdown()
        t.join(20)
        assert not t.is_alive() and "error" not in result, result
        summary = result["summary"]
        assert summary.federation_finished and summary.rounds_trained == 3
        assert summary.home_returns == (1 if return_home else 0)
        # Each update was sent to one gateway only, once.
        with home.lock, other.lock:
            at_home = sorted(t for (_, t) in home.accepted)
            elsewhere = sorted(t for (_, t) in other.accepted)
            attempts = [t for (t, _) in home.upload_attempts + other.upload_attempts]
        assert at_home == (["train-1", "train-3"] if return_home else ["train-1"])
        assert elsewhere == (["train-2"] if return_home else ["train-2", "train-3"])
        assert sorted(attempts) == ["train-1", "train-2", "train-3"]
    finally:
        learner.close()
        t.join(10)
        proxy.close()
        home.stop()
        other.stop()


class _Away:
    """A learner joined at home (behind a proxy), moved to the other gateway by a cut after round
    1, round 2 answered there, and the proxy restored: the learner is about to try home again."""

    def __init__(self, home_headers=True):
        shapes = [("0_W", (30, 20)), ("0_b", (20,))]
        self.home = FakeGateway(tensors(shapes, scale=0.5), headers_at_registration=home_headers)
        self.other = FakeGateway(tensors(shapes, scale=0.5))
        self.proxy = SwitchableProxy(self.home.port)
        options = LearnerOptions(
            call_timeout=5,
            transfer_timeout=10,
            reconnect_initial_backoff=0.01,
            reconnect_max_backoff=0.05,
            insecure=True,
        )
        self.model = Shifter(shapes)
        self.learner = Learner(
            self.model, [self.proxy.address, self.other.address], name="py", options=options
        )
        self.result = {}
        self.thread = threading.Thread(target=self._body, daemon=True)
        self.thread.start()
        session = self.learner._session
        _await(lambda: _streams(self.home) == 1, "the task stream at home")
        self.home.train(1)
        _await(lambda: session.rounds_trained == 1, "round 1's answer from home")
        self.proxy.cut()
        _await(lambda: len(self.other.streams_opened) == 1, "the task stream at the other gateway")
        self.other.train(2)
        _await(lambda: session.rounds_trained == 2, "round 2's answer")

    def _body(self):
        try:
            self.result["summary"] = self.learner.run()
        except Exception as e:  # noqa: BLE001
            self.result["error"] = e

    def finish(self):
        # The learner closes the stream left itself, a moment after the move.
        _await(lambda: len(self.other.streams_closed) == 1, "the stream left closed")
        self.home.shutdown()
        self.thread.join(20)
        assert not self.thread.is_alive() and "error" not in self.result, self.result
        return self.result["summary"]

    def close(self):
        self.learner.close()
        self.thread.join(10)
        self.proxy.close()
        self.home.stop()
        self.other.stop()


def _ids(gateway):
    with gateway.lock:
        return sorted(t for (_, t) in gateway.accepted)


def test_the_stream_at_home_is_registered_before_the_one_left_is_closed_and_a_task_on_it_runs_once():
    away = _Away()
    try:
        # The gateway left sends the next round's task just as the home registers the new
        # stream; the home's headers go out only 0.3 s later.
        def on_registered():
            away.other.train(3)
            time.sleep(0.3)

        away.home.on_stream_registered = on_registered
        away.proxy.restore()
        _await(lambda: _uploaded(away.home, "train-3"), "round 3's upload at home")
        summary = away.finish()
        assert summary.home_returns == 1 and summary.rounds_trained == 3
        # train-3 came on the stream left only, during the overlap: taken, trained once, sent home.
        assert len(away.model.produced) == 3
        assert _ids(away.home) == ["train-1", "train-3"]
        assert _ids(away.other) == ["train-2"]
        # Make before break: the stream left ended after the one at home was registered.
        assert len(away.home.streams_opened) == 2
        assert len(away.other.streams_closed) == 1
        assert away.other.streams_closed[0] > away.home.streams_opened[1]
    finally:
        away.close()


def test_a_stream_that_fails_to_open_at_home_leaves_the_learner_on_the_other_gateway():
    away = _Away()
    try:
        away.home.refuse_streams = 1_000_000
        away.proxy.restore()
        _await(lambda: away.home.refused_streams >= 2, "two refused tries at home")
        assert away.other.streams_closed == []
        # Still at work where it is.
        away.other.train(3)
        _await(lambda: _uploaded(away.other, "train-3"), "round 3's upload at the other gateway")
        assert away.other.streams_closed == [] and len(away.other.streams_opened) == 1
        # The home takes streams again: a later try moves the learner there.
        with away.home.lock:
            away.home.refuse_streams = 0
        _await(lambda: len(away.home.streams_opened) == 2, "the task stream back at home")
        away.home.train(4)
        _await(lambda: _uploaded(away.home, "train-4"), "round 4's upload at home")
        summary = away.finish()
        assert summary.home_returns == 1 and summary.reconnects == 1
        assert _ids(away.home) == ["train-1", "train-4"]
        assert _ids(away.other) == ["train-2", "train-3"]
        assert away.other.streams_closed[0] > away.home.streams_opened[1]
    finally:
        away.close()


def test_a_home_that_sends_no_headers_before_its_first_task_is_moved_to_with_that_task():
    away = _Away(home_headers=False)
    try:
        away.proxy.restore()
        _await(lambda: len(away.home.streams_opened) == 2, "the task stream at home")
        time.sleep(0.3)
        assert away.other.streams_closed == []  # not established yet: still at the other
        # As the job does: the open round's task goes to both gateways.
        away.other.train(3)
        away.home.train(3)
        _await(lambda: _uploaded(away.home, "train-3"), "round 3's upload at home")
        time.sleep(0.5)
        summary = away.finish()
        assert summary.home_returns == 1
        assert len(away.model.produced) == 3
        assert _ids(away.home) == ["train-1", "train-3"]
        assert _ids(away.other) == ["train-2"]
        assert away.other.streams_closed[0] > away.home.streams_opened[1]
    finally:
        away.close()
