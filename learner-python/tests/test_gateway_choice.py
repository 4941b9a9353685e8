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
    ch.adopt_home()
    assert ch.address() == A and ch.at_home()
    assert foreign.closed and not probe.closed
    assert probe.callbacks == []
    assert ch.probe_home(t0 + 0.4) == Channels.AT_HOME
    assert len(s.opened) == before + 1


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
