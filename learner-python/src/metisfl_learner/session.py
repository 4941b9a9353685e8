"""The learner's engine: joins, keeps one task stream open, and works through the tasks one at a
time on the thread that called run(), while a reader thread only enqueues what the stream brings.
Every failed call goes through failures.classify and one retry loop (_call). It mirrors the Java
learner's LearnerSession, so both behave alike against the same gateway."""

import logging
import math
import queue
import random as _random
import threading
import time
from collections import deque
from typing import Callable, List, Optional, Sequence

import grpc

from metisfl_learner import codec
from metisfl_learner._proto import LearnerServiceStub, pb
from metisfl_learner.backoff import Backoff
from metisfl_learner.crc32c import crc32c
from metisfl_learner.errors import LearnerError, ModelMismatchError
from metisfl_learner.failures import Kind, classify, classify_error, code_of, describe
from metisfl_learner.model import Model
from metisfl_learner.options import LearnerOptions
from metisfl_learner.outstanding import OutstandingUpdates
from metisfl_learner.types import EvaluateTask, LearnerSummary, TrainTask

LOG = logging.getLogger("metisfl_learner")

#: Task id of the learner's initial-model upload (round 0), as the Java learner's.
INITIAL_TASK_ID = "init"
#: Joins in a row that end in UNAUTHENTICATED again before the learner gives up.
MAX_CONSECUTIVE_REJOINS = 5
#: A task stream that stayed open this long proves the connection worked (seconds).
STABLE_STREAM_SECONDS = 10.0
#: How long the task stream left by a move home stays open once the home's stream is established
#: (seconds): a task the gateway left sent before the home registered the new stream may still be
#: on its way, and the gateway left stamps the closing well after the home stamped the opening.
LINGER_SECONDS = 1.0
#: How long a task stream must go on after its headers to count as established (seconds).
ESTABLISHED_AFTER_SECONDS = 0.05
#: The longest wait after a reconnect for the new task stream to be established before the
#: outstanding updates are sent again, so that the gateway registers the stream first (seconds).
RESEND_WAIT_SECONDS = 1.0
#: Failed attempts in a row, with no answer ever, before the learner says nothing listens there.
NEVER_ANSWERED_AFTER = 5
#: Largest message the learner accepts from the gateway (model headers may exceed 4 MiB).
MAX_INBOUND_MESSAGE_BYTES = 64 << 20
#: Completed task ids remembered for deduplication.
RECENT_IDS = 4096


def channel_options(keepalive_time: float):
    """gRPC channel settings of every learner connection: keepalive pings also without calls (a
    dead gateway is noticed on an idle task stream), a large inbound limit, no built-in retries
    (retrying is the learner's job: it knows which calls are idempotent)."""
    return [
        ("grpc.keepalive_time_ms", int(keepalive_time * 1000)),
        ("grpc.keepalive_timeout_ms", 20000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Older gRPC cores space pings on a connection without data by 5 min unless told.
        ("grpc.http2.min_sent_ping_interval_without_data_ms", int(keepalive_time * 1000)),
        ("grpc.http2.min_time_between_pings_ms", int(keepalive_time * 1000)),
        ("grpc.max_receive_message_length", MAX_INBOUND_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_INBOUND_MESSAGE_BYTES),
        ("grpc.enable_retries", 0),
    ]


class BearerPlugin(grpc.AuthMetadataPlugin):
    """Call credentials: `authorization: Bearer <token>` with the session's current token (the
    enrollment token before Join), nothing when there is none."""

    def __init__(self, token: Callable[[], Optional[str]]):
        self._token = token

    def __call__(self, context, callback):
        callback(bearer_metadata(self._token()) or (), None)


def bearer_metadata(token: Optional[str]):
    """The gRPC metadata that carries ``token``; None without a token."""
    return (("authorization", "Bearer " + token),) if token else None


def renewal_due(issued_at_ms: int, expires_at_ms: int, now_ms: int) -> bool:
    """True when less than a third of the token's lifetime is left (as the Java learner)."""
    if expires_at_ms <= 0:
        return False
    lifetime = max(expires_at_ms - issued_at_ms, 0)
    return expires_at_ms - now_ms < lifetime / 3.0


def parse_gateways(gateways) -> List[str]:
    """'host:port' strings, validated."""
    if isinstance(gateways, str):
        gateways = [g for g in gateways.split(",") if g.strip()]
    out = []
    for g in gateways:
        g = g.strip()
        host, sep, port = g.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                "gateway address '%s' is not host:port (e.g. 127.0.0.1:50051)" % g
            )
        out.append(g)
    if not out:
        raise ValueError("at least one gateway address (host:port) is required")
    return out


class Channels:
    """The learner's one open channel, to one gateway of the list at a time, and the choice of that
    gateway, as the Java learner's GatewayChannels. The learner's home is the gateway it joined
    through: gateways issue ids homed at themselves, and only the home folds the learner's updates
    into partial sums (anywhere else an update is foreign, held unfolded until its round closes).
    So a reconnect goes home first when the learner is elsewhere (the first attempt after a working
    call), and otherwise on round-robin through the list; away from home, probe_home() tries the
    home's connection now and then (a channel of its own, never a call; the waits between failed
    tries grow as the backoff says). Once it connects, the session opens its task stream there
    (home_stub()) while still on the open channel, and adopt_home() moves there once that stream
    is established, or abandon_home() stays where it is (make before break). It closes only
    channels it created. Time comes from the caller (the session's clock)."""

    AT_HOME = "at-home"
    AWAY = "away"
    REACHABLE = "reachable"

    def __init__(
        self,
        targets: Sequence[str],
        factory: Callable[[str], grpc.Channel],
        home_backoff: Optional[Backoff] = None,
        probe_timeout: float = 30.0,
        on_probe_change: Optional[Callable[[], None]] = None,
    ):
        self.targets = list(targets)
        self._factory = factory
        self._home_backoff = home_backoff or Backoff(0.5, 30.0, _random.random)
        self._probe_timeout = probe_timeout
        self._on_probe_change = on_probe_change
        self._index = -1
        self._current = None
        self._stub = None
        self._home = -1
        self._probe = None
        self._next_probe_at = None
        self._failed_probes = 0
        # The session opened its task stream on the try's channel and awaits its outcome.
        self._moving = False
        self._lock = threading.Lock()

    def stub(self) -> LearnerServiceStub:
        with self._lock:
            if self._current is None:
                self._open(max(self._index, 0))
            return self._stub

    def address(self) -> str:
        return self.targets[max(self._index, 0)]

    def joined(self) -> None:
        """The learner joined through the open channel's gateway: its home from now on."""
        with self._lock:
            self._home = max(self._index, 0)
            self._forget_probe()

    def home(self) -> Optional[str]:
        """The gateway the learner joined through, or None before it joined."""
        return None if self._home < 0 else self.targets[self._home]

    def at_home(self) -> bool:
        """Whether the open channel goes to the learner's home (True before it joined)."""
        return self._home < 0 or max(self._index, 0) == self._home

    def next_address(self, attempt: int = 1) -> str:
        """The gateway reconnect attempt `attempt` (1 for the first after a working call) goes to:
        the home on a first attempt away from it, else the next of the list after the open one."""
        return self.targets[self._next_index(attempt)]

    def _next_index(self, attempt):
        if attempt <= 1 and self._home >= 0 and self._index != self._home:
            return self._home
        return (self._index + 1) % len(self.targets)

    def next(self, attempt: int = 1) -> None:
        """Drops the open channel (its calls fail) and opens one to next_address(attempt)."""
        with self._lock:
            if self._moving:
                self._forget_probe()
            self._open(self._next_index(attempt))

    def _open(self, index):
        if self._current is not None:
            self._current.close()
        self._index = index
        self._current = self._factory(self.targets[index])
        self._stub = LearnerServiceStub(self._current)
        if index == self._home:
            self._forget_probe()

    def probe_home(self, now: float) -> str:
        """Away from home, tries the home's connection without making a call: starts a try once the
        wait since the last one is over, and says REACHABLE once it is up. A try that fails to
        connect, or takes longer than the probe timeout, is closed and the next one waits
        longer. Cheap: call it at every task boundary."""
        with self._lock:
            if self.at_home():
                self._forget_probe()
                return Channels.AT_HOME
            if self._moving:
                # The session's stream on it decides: adopt_home() or abandon_home().
                return Channels.AWAY
            if self._probe is None:
                if self._next_probe_at is None:
                    # Just left home (it failed): give it a moment before the first try.
                    self._next_probe_at = now + self._home_backoff.delay(self._failed_probes + 1)
                if now < self._next_probe_at:
                    return Channels.AWAY
                self._probe = _Probe(
                    self._factory(self.targets[self._home]), now, self._on_probe_change
                )
                LOG.debug("trying home gateway %s again", self.targets[self._home])
            state = self._probe.state
            if state == grpc.ChannelConnectivity.READY:
                return Channels.REACHABLE
            if (
                state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
                or now - self._probe.started_at >= self._probe_timeout
            ):
                self._probe.close()
                self._probe = None
                self._failed_probes += 1
                self._next_probe_at = now + self._home_backoff.delay(self._failed_probes + 1)
                LOG.debug(
                    "home gateway %s still unreachable (%s); next try in %d ms",
                    self.targets[self._home],
                    state,
                    int((self._next_probe_at - now) * 1000),
                )
            return Channels.AWAY

    def seconds_until_probe(self, now: float) -> Optional[float]:
        """How long the caller may wait before probe_home() has something new to do (start a try,
        or time one out); None when there is nothing to wait for."""
        with self._lock:
            if self.at_home() or self._moving:
                return None
            if self._probe is None:
                # Not scheduled: the next probe_home() schedules it.
                return None if self._next_probe_at is None else max(0.0, self._next_probe_at - now)
            if self._probe.state == grpc.ChannelConnectivity.READY:
                return None
            return max(0.0, self._probe.started_at + self._probe_timeout - now)

    def home_stub(self) -> LearnerServiceStub:
        """A stub on the home's channel that probe_home() found up, for the session to open its
        task stream on before it leaves the open channel; the move is then under way until
        adopt_home() or abandon_home() (the try is neither timed out nor retried meanwhile)."""
        with self._lock:
            probe = self._probe
            if probe is None or probe.state != grpc.ChannelConnectivity.READY:
                raise RuntimeError("the home gateway's connection is not up")
            self._moving = True
            return LearnerServiceStub(probe.channel)

    @property
    def moving(self) -> bool:
        """Whether a move home is under way (home_stub() was called)."""
        return self._moving

    def abandon_home(self, now: float) -> None:
        """The move home failed (its task stream did not open): closes the home's channel and
        stays on the open one; the next try waits longer, as after a try that did not connect."""
        with self._lock:
            if not self._moving:
                return
            self._moving = False
            if self._probe is not None:
                self._probe.close()
                self._probe = None
            self._failed_probes += 1
            self._next_probe_at = now + self._home_backoff.delay(self._failed_probes + 1)

    def adopt_home(self):
        """Moves to the home over the connection probe_home() found up, or the one a move under
        way (home_stub()) opened its stream on. Returns the channel left, not closed: closing it
        would cut the task stream left at once, which the session keeps a moment longer (it moves
        only with no update outstanding); None if there was none."""
        with self._lock:
            probe = self._probe
            if probe is None or (
                not self._moving and probe.state != grpc.ChannelConnectivity.READY
            ):
                raise RuntimeError("the home gateway's connection is not up")
            self._probe = None
            probe.unsubscribe()
            left = self._current
            self._current = probe.channel
            self._stub = LearnerServiceStub(self._current)
            self._index = self._home
            self._forget_probe()
            return left

    def _forget_probe(self):
        self._moving = False
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self._failed_probes = 0
        self._next_probe_at = None

    def close(self) -> None:
        """Closes the open channel (its calls fail with CANCELLED); the next stub() reopens the
        same gateway."""
        with self._lock:
            self._forget_probe()
            if self._current is not None:
                self._current.close()
            self._current = None
            self._stub = None


class _Probe:
    """A try of the home gateway's connection: a channel of its own, asked to connect, whose
    latest connectivity state gRPC reports through subscribe()."""

    def __init__(self, channel, started_at, on_change):
        self.channel = channel
        self.started_at = started_at
        self.state = None
        self._on_change = on_change
        channel.subscribe(self._seen, try_to_connect=True)

    def _seen(self, state):
        self.state = state
        if self._on_change is not None:
            self._on_change()

    def unsubscribe(self):
        try:
            self.channel.unsubscribe(self._seen)
        except ValueError:
            pass

    def close(self):
        self.unsubscribe()
        self.channel.close()


def is_asynchronous(task) -> bool:
    """Whether a training task belongs to an asynchronous federation, whose gateway hands the next
    task as soon as an update is accepted (before its checkpoint): its task ids are ``a-<id>``
    (learner-protocol.md), a round's are ``r<round>/train``. Any other id is taken as
    synchronous: the learner then waits for each answer, which is always safe."""
    return task.WhichOneof("kind") == "train" and task.task_id.startswith("a-")


class _Pending:
    """An update kept until it is answered: what its header carries besides the credentials,
    its encoded tensors, and the start of its log line."""

    __slots__ = (
        "round", "base_version", "examples", "batches", "metrics", "encoded", "initial",
        "trained", "checksum",
    )

    def __init__(self, rnd, base_version, examples, batches, metrics, encoded, initial, trained):
        self.round = rnd
        self.base_version = base_version
        self.examples = examples
        self.batches = batches
        self.metrics = metrics
        self.encoded = encoded
        self.initial = initial
        self.trained = trained
        self.checksum = crc32c(encoded.data)


class _Stop(Exception):
    """Ends run() without an error: the user closed the learner or interrupted it."""


class _Refused(Exception):
    """The gateway refused one piece of work (an update, a report, a download): skip it."""

    def __init__(self, kind: Kind, what: str, error):
        super().__init__("%s: %s" % (what, describe(error)))
        self.kind = kind
        self.what = what
        self.error = error


class _Status:
    """A failure of our own making, shaped like grpc.RpcError (code(), details())."""

    def __init__(self, code, details):
        self._code = code
        self._details = details

    def code(self):
        return self._code

    def details(self):
        return self._details


class LearnerSession:
    def __init__(
        self,
        gateways,
        name: str,
        model: Model,
        options: Optional[LearnerOptions] = None,
        channel_factory: Optional[Callable[[str], grpc.Channel]] = None,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.options = options or LearnerOptions()
        self.name = name
        self.model = model
        # The bearer token calls carry: the enrollment token until Join answers, then the
        # session token (read by BearerPlugin on gRPC's threads: one reference assignment).
        self._bearer = self.options.enrollment_token
        self._wall_clock = wall_clock
        self._token_issued_at_ms = 0
        self._token_expires_at_ms = 0
        if channel_factory is None:
            opts = channel_options(self.options.keepalive_time)
            if self.options.insecure:

                def channel_factory(target):
                    return grpc.insecure_channel(target, options=opts)

            else:
                credentials = grpc.composite_channel_credentials(
                    self.options.channel_credentials(),
                    grpc.metadata_call_credentials(BearerPlugin(lambda: self._bearer)),
                )

                def channel_factory(target):
                    return grpc.secure_channel(target, credentials, options=opts)

        self._clock = clock
        self._backoff = Backoff(
            self.options.reconnect_initial_backoff, self.options.reconnect_max_backoff, random
        )
        self._events = queue.Queue()
        self._channels = Channels(
            parse_gateways(gateways),
            channel_factory,
            self._backoff,
            self.options.call_timeout,
            lambda: self._events.put(("wake", 0, None)),
        )
        # The learner goes back to its home gateway (always, but for comparisons in tests).
        self.return_home = True
        self.home_returns = 0
        self._lock = threading.Lock()
        self._state = "new"
        self._closing = False
        self._close_requested = threading.Event()
        self._run_exited = threading.Event()
        self._run_thread = None
        self._shutdown_announced = None

        # Touched by the run() thread only.
        self._credentials = None
        self._max_message_bytes = 0
        self._stream_wanted = False
        self._stream = None
        self._stream_gen = 0  # the generation of _stream
        self._stream_generation = 0  # the last generation handed out
        self._stream_opened_at = 0.0
        # Whether the gateway answered _stream (headers or a task): it registered it.
        self._stream_established = False
        # A task stream opened at home to replace _stream (make before break), not established
        # yet: (call, generation); None if none. Tasks are held back while it is pending.
        self._pending = None
        self._pending_opened_at = 0.0
        # Whether _stream ended while _pending was pending, and how.
        self._ended_while_pending = False
        self._ended_while_pending_error = None
        # The stream a move home left and its channel, open until _linger_until; None if none.
        self._lingering = None
        self._linger_until = 0.0
        # Events put back for later by _await_established, taken before new ones.
        self._deferred = deque()
        self._failed_attempts = 0
        self._consecutive_rejoins = 0
        self._gateway_unreachable = False
        self._ever_answered = False
        self._completed = {}
        # Updates sent and not yet answered; tasks waiting for their turn (e.g. behind them).
        self._outstanding = OutstandingUpdates()
        self._waiting = deque()
        # Counts reconnects and joins: an update sent on an older connection is sent again.
        self._connection = 0
        # Asynchronous updates are pipelined (always, but for comparisons in tests).
        self.pipelining = True
        self._loaded_version = -1
        self._local_specs = None

        self.rounds_trained = 0
        self.updates_dropped = 0
        self.evaluations = 0
        self.last_model_version = -1
        self.reconnects = 0

    # ---------------------------------------------------------------------------------------
    # Lifecycle

    def run(self) -> LearnerSummary:
        with self._lock:
            if self._state == "closed":
                raise RuntimeError("the learner is closed; create a new Learner to run again")
            if self._state != "new":
                raise RuntimeError("run() was already called; a Learner runs once, create a new one")
            self._state = "running"
            self._run_thread = threading.current_thread()
        try:
            return self._run_loop()
        finally:
            self._cancel_stream()
            self._drop_move()
            self._end_linger()
            self._channels.close()
            with self._lock:
                if self._state == "running":
                    self._state = "ended"
            self._run_exited.set()

    def close(self) -> None:
        """Leaves the federation if run() is still working and releases the connection. If a task
        is running, waits up to the call timeout for it; the learner leaves when it ends."""
        with self._lock:
            previous = self._state
            self._state = "closed"
        if previous != "running":
            self._channels.close()
            return
        self._closing = True
        self._close_requested.set()
        self._events.put(("wake", 0, None))
        # Fails in-flight calls at once; run() then leaves on a fresh channel.
        self._cancel_stream()
        pending, lingering = self._pending, self._lingering
        if pending is not None:
            pending[0].cancel()
        if lingering is not None:
            lingering[0].cancel()
        self._channels.close()
        if threading.current_thread() is self._run_thread:
            return
        wait = self.options.call_timeout + 5
        if not self._run_exited.wait(wait):
            LOG.warning(
                "the learner is still busy with a task after %.0f s; it leaves the federation"
                " when the task ends",
                wait,
            )

    def _run_loop(self) -> LearnerSummary:
        try:
            self._local_specs = self._encode(
                self._adapter_call("get_weights", 0, self.model.get_weights), 0
            ).specs
            self._join()
            self._stream_wanted = True
            self._open_stream()
            while True:
                holding = self._maybe_return_home()
                if not holding and self._waiting and self._may_start(self._waiting[0]):
                    reason = self._handle(self._waiting.popleft())
                    if reason is not None:
                        return self._summary(True, reason)
                else:
                    self._dispatch(self._next_event(self._home_wait()))
        except _Stop as stop:
            LOG.info("stopping: %s", stop)
            self._leave()
            return self._summary(False, str(stop))
        except KeyboardInterrupt:
            LOG.info("stopping: interrupted")
            self._leave()
            raise
        except LearnerError:
            if not self._gateway_unreachable:
                self._leave()
            raise
        except Exception as e:  # noqa: BLE001 - reported as a LearnerError with its cause
            self._leave()
            raise LearnerError("the learner failed unexpectedly: %r" % (e,)) from e

    def _dispatch(self, event):
        """Takes in one event: a task joins the waiting line, an upload's answer settles its
        update, a lost task stream reconnects."""
        kind, generation, payload = event
        if kind == "task":
            # A task arrived: the connection works again, and the stream it came on is
            # established (its headers came first).
            self._failed_attempts = 0
            self._established(generation)
            self._enqueue(payload)
        elif kind == "established":
            self._established(generation)
        elif kind == "answer":
            self._on_upload_answered(generation, *payload)
        elif kind == "ended":
            if self._pending is not None and generation == self._pending[1]:
                self._abandon_move(payload)
            elif generation == self._stream_gen:
                if self._pending is not None:
                    # The stream at home decides: established, it takes over; failed, this end
                    # is handled then.
                    self._ended_while_pending = True
                    self._ended_while_pending_error = payload
                    return
                self._on_current_stream_ended(payload)
            # Else the end of a stream replaced or left: nothing to do.

    def _on_current_stream_ended(self, error):
        if error is None and self._shutdown_announced is not None:
            # The stream ended after its Shutdown task, which waits for the answers of the
            # updates still outstanding: nothing more to receive.
            self._stream_wanted = False
            return
        self._on_stream_ended(error)

    def _enqueue(self, task):
        """Queues a task unless the same task already waits: while a move overlaps two task
        streams, both gateways send the open round's task (the same id), and a task sent on the
        stream left comes once, whichever stream brings it first."""
        kind = task.WhichOneof("kind")
        for t in self._waiting:
            if t.task_id == task.task_id and t.WhichOneof("kind") == kind:
                LOG.debug("task %s already waits (sent on two task streams)", task.task_id)
                return
        self._waiting.append(task)

    def _established(self, generation):
        """The gateway answered the stream of this generation: it registered it."""
        if self._pending is not None and generation == self._pending[1]:
            self._complete_move()
        elif generation == self._stream_gen:
            self._stream_established = True

    def _may_start(self, task) -> bool:
        """A training task of an asynchronous federation may start while fewer than two updates
        await their answer, other work (an evaluation) next to them; everything else
        (synchronous rounds, the Shutdown) only once every update is answered."""
        if len(self._outstanding) == 0:
            return True
        kind = task.WhichOneof("kind")
        if kind == "shutdown":
            return False
        if kind == "train":
            return self._outstanding.may_start_training(self.pipelining and is_asynchronous(task))
        return self._outstanding.may_start_other()

    @property
    def unacknowledged_updates(self) -> int:
        """Updates sent and not yet acknowledged or refused."""
        return len(self._outstanding)

    def _next_event(self, wait: Optional[float] = None):
        """The next event; ("wake", 0, None) after `wait` seconds (None: no limit)."""
        self._check_not_closing()
        if self._deferred:
            return self._deferred.popleft()
        deadline = None if wait is None else self._clock() + max(wait, 0.001)
        while True:
            timeout = 1.0 if deadline is None else min(1.0, max(deadline - self._clock(), 0.001))
            try:
                event = self._events.get(timeout=timeout)
                break
            except queue.Empty:
                self._check_not_closing()
                self._renew_if_due()
                if deadline is not None and self._clock() >= deadline:
                    event = ("wake", 0, None)
                    break
        self._check_not_closing()
        return event

    def _check_not_closing(self):
        if self._closing:
            raise _Stop("closed by the user")
        if self._shutdown_announced is not None and self._failed_attempts >= 3:
            # The federation announced its end and its gateway is gone: what still waits to be
            # sent has no one to go to.
            raise _Stop("the federation shut down (%s)" % self._shutdown_announced)

    def _summary(self, finished: bool, reason: str) -> LearnerSummary:
        return LearnerSummary(
            learner_id=self._credentials.learner_id if self._credentials else "",
            rounds_trained=self.rounds_trained,
            updates_dropped=self.updates_dropped,
            evaluations=self.evaluations,
            last_model_version=self.last_model_version,
            reconnects=self.reconnects,
            federation_finished=finished,
            reason=reason,
            updates_unacknowledged=len(self._outstanding),
            home_returns=self.home_returns,
        )

    # ---------------------------------------------------------------------------------------
    # Membership

    def _join(self):
        request = pb.JoinRequest(
            name=self.name,
            num_training_examples=int(self.model.num_training_examples()),
            num_test_examples=int(self.model.num_test_examples()),
        )
        try:
            # Join answers once the registration is in a completed checkpoint of the job.
            self._bearer = self.options.enrollment_token
            self._token_expires_at_ms = 0
            response = self._call(
                "join",
                False,
                lambda: self._channels.stub().join(
                    request, timeout=self.options.call_timeout, metadata=self._metadata()
                ),
            )
        except _Refused as r:
            raise LearnerError(
                "gateway %s refused to let learner '%s' join: %s; check the federation's"
                " configuration" % (self._channels.address(), self.name, describe(r.error))
            ) from None
        self._credentials = pb.Credentials(learner_id=response.learner_id)
        if self.return_home:
            # The gateway issued an id homed at itself: its partial sums fold this learner's
            # updates.
            self._channels.joined()
        self._set_token(response.token, getattr(response, "token_expires_at_ms", 0))
        self._max_message_bytes = response.max_message_bytes
        if response.HasField("encryption"):
            # Joined, so run() leaves again before it raises.
            enc = response.encryption
            raise LearnerError(
                "the federation at %s aggregates with secure aggregation (backend %s, preset %s):"
                " the Python learner cannot encrypt updates or decrypt the global model yet"
                " (CKKS is in the Java learner only); join it with the Java learner"
                " (--ckks-key DIR) or use a federation without secure-aggregation"
                % (self._channels.address(), enc.backend_id, enc.preset)
            )
        LOG.info(
            "joined the federation at %s as learner %s ('%s', %d training and %d test examples)",
            self._channels.address(),
            response.learner_id,
            self.name,
            request.num_training_examples,
            request.num_test_examples,
        )
        if response.initial_model_requested:
            self._upload_initial_model()

    def _set_token(self, token, expires_at_ms):
        self._bearer = token or None
        self._token_issued_at_ms = int(self._wall_clock() * 1000)
        self._token_expires_at_ms = int(expires_at_ms)

    def _metadata(self):
        """Per-call metadata: the bearer token on a plaintext channel, where gRPC refuses call
        credentials; None with TLS (the channel's call credentials carry it)."""
        return bearer_metadata(self._bearer) if self.options.insecure else None

    def _renew_if_due(self):
        """Exchanges the session token for a fresh one once less than a third of its lifetime is
        left. A failure is logged: the token may still be valid, and an expired one is answered
        with UNAUTHENTICATED, which makes the learner join again."""
        if self._credentials is None or not renewal_due(
            self._token_issued_at_ms, self._token_expires_at_ms, int(self._wall_clock() * 1000)
        ):
            return
        try:
            response = self._channels.stub().renew_token(
                pb.RenewTokenRequest(learner_id=self._credentials.learner_id),
                timeout=self.options.call_timeout,
                metadata=self._metadata(),
            )
        except grpc.RpcError as e:
            LOG.warning("could not renew the session token: %s", describe(e))
            # Try again at the next call, but not in a tight loop.
            self._token_issued_at_ms = int(self._wall_clock() * 1000) - 1
            return
        self._set_token(response.token, response.token_expires_at_ms)
        LOG.info("renewed the session token of learner %s", self._credentials.learner_id)

    def _rejoin(self, what, error):
        self._consecutive_rejoins += 1
        if self._consecutive_rejoins > MAX_CONSECUTIVE_REJOINS:
            raise LearnerError(
                "%s keeps failing with %s even with fresh credentials (%d joins in a row); check"
                " the gateway's authentication setup"
                % (what, describe(error), MAX_CONSECUTIVE_REJOINS)
            )
        LOG.warning("%s failed (%s): joining the federation again", what, describe(error))
        if self._consecutive_rejoins > 1:
            self._sleep(self._backoff.delay(self._consecutive_rejoins - 1))
        self._connection += 1
        self._join()
        if self._stream_wanted:
            self._open_stream()
            self._await_established()
        self._resend_outstanding()

    def _leave(self):
        if self._credentials is None:
            return
        try:
            self._channels.stub().leave(
                pb.LeaveRequest(credentials=self._credentials),
                timeout=self.options.call_timeout,
                metadata=self._metadata(),
            )
            LOG.info("left the federation (learner %s)", self._credentials.learner_id)
        except grpc.RpcError as e:
            LOG.warning("could not leave the federation cleanly: %s", describe(e))

    # ---------------------------------------------------------------------------------------
    # Connection and retries

    def _call(self, what: str, may_rejoin: bool, remote: Callable):
        """Runs one remote call until it succeeds: reconnects on retryable failures, re-joins on
        UNAUTHENTICATED, and raises _Refused for failures that drop this piece of work."""
        while True:
            self._check_not_closing()
            if what != "join":
                self._renew_if_due()
            try:
                result = remote()
                self._failed_attempts = 0
                self._ever_answered = True
                if may_rejoin:
                    self._consecutive_rejoins = 0
                return result
            except grpc.RpcError as e:
                self._check_not_closing()
                kind = classify_error(e)
                if kind is Kind.REJOIN and not may_rejoin:
                    kind = Kind.FATAL
                if kind is Kind.RETRY:
                    self._reconnect(what, e)
                elif kind is Kind.REJOIN:
                    self._rejoin(what, e)
                elif kind in (Kind.REJECTED, Kind.INVALID):
                    raise _Refused(kind, what, e) from None
                else:
                    raise LearnerError(
                        "%s failed at gateway %s: %s; retrying cannot fix this, so the learner"
                        " stops" % (what, self._channels.address(), describe(e))
                    ) from None

    def _reconnect(self, what, error):
        self._failed_attempts += 1
        limit = self.options.max_reconnect_attempts
        if limit is not None and self._failed_attempts > limit:
            self._gateway_unreachable = True
            raise LearnerError(
                "gave up after %d reconnect attempts to gateways %s: %s failed with %s%s; check"
                " that the federation is running and reachable, or raise"
                " LearnerOptions.max_reconnect_attempts"
                % (
                    limit,
                    self._channels.targets,
                    what,
                    describe(error),
                    "" if self._ever_answered else " (nothing ever answered there)",
                )
            )
        if not self._ever_answered and self._failed_attempts == NEVER_ANSWERED_AFTER:
            LOG.error(
                "nothing has answered at %s in %d attempts (%s): no federation gateway listens"
                " there. Check that the federation job runs, that host and port are its learner"
                " gateway's (its gateway.port) and reachable from here; still retrying%s",
                ", ".join(self._channels.targets),
                self._failed_attempts,
                describe(error),
                " until stopped" if limit is None else ", up to %d attempts in all" % limit,
            )
        delay = self._backoff.delay(self._failed_attempts)
        LOG.warning(
            "%s failed (%s); reconnecting to gateway %s in %d ms (attempt %d%s)",
            what,
            describe(error),
            self._channels.next_address(self._failed_attempts),
            int(delay * 1000),
            self._failed_attempts,
            "" if limit is None else " of %d" % limit,
        )
        self._sleep(delay)
        self._drop_move()
        self._channels.next(self._failed_attempts)
        self._connection += 1
        self.reconnects += 1
        if self._stream_wanted:
            self._open_stream()
            self._await_established()
        self._resend_outstanding()

    def _may_return_home(self) -> bool:
        return (
            self.return_home
            and self._stream_wanted
            and self._shutdown_announced is None
            and self._credentials is not None
        )

    def _home_wait(self) -> Optional[float]:
        """Away from home, moves the try of the home on (starts it when due, notices it connected
        or failed) and says how long to wait for events before looking again; None for no limit.
        The move itself waits for a task boundary (_maybe_return_home)."""
        now = self._clock()
        self._end_linger_if_due(now)
        wait = None
        if self._pending is not None:
            wait = max(0.0, self._pending_opened_at + self.options.call_timeout - now)
        elif self._may_return_home():
            self._channels.probe_home(now)
            wait = self._channels.seconds_until_probe(now)
        if self._lingering is not None:
            until = max(0.0, self._linger_until - now)
            wait = until if wait is None else min(wait, until)
        return wait

    def _maybe_return_home(self) -> bool:
        """At a task boundary away from the home gateway: moves back home once probe_home() finds
        it reachable, with no update outstanding (so nothing is sent twice and nothing is left on
        the gateway left). While updates are outstanding it holds new tasks back (returns True)
        until their answers are in.

        The move makes before it breaks: the task stream opens at home first, on the home's own
        channel, while the learner stays on the gateway it leaves; only once the home has
        registered it (its headers, or a task, arrived) does the learner switch channels, and the
        stream left stays open LINGER_SECONDS more. Tasks are held back meanwhile and taken from
        either stream, once each. The learner thus always has a task stream the job knows of, and
        a round that opens during the move draws it. Should the home's stream fail, or not be
        answered within the call timeout, the learner stays where it is and tries again after the
        next wait."""
        now = self._clock()
        self._end_linger_if_due(now)
        if self._pending is not None:
            if now - self._pending_opened_at >= self.options.call_timeout:
                self._abandon_move(
                    _Status(
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        "the gateway did not answer the new task stream within the call timeout",
                    )
                )
                return False
            return True
        if not self._may_return_home():
            return False
        if self._channels.probe_home(now) != Channels.REACHABLE:
            return False
        if len(self._outstanding) > 0:
            return True
        LOG.debug("home gateway %s reachable: opening the task stream there", self._channels.home())
        self._pending_opened_at = now
        self._ended_while_pending = False
        self._ended_while_pending_error = None
        self._pending = self._start_stream(self._channels.home_stub())
        return True

    def _complete_move(self):
        """The stream at home is established: it takes over, and the one left lingers."""
        left_stream = self._stream
        left_ended = self._ended_while_pending
        self._stream, self._stream_gen = self._pending
        self._pending = None
        self._ended_while_pending = False
        self._ended_while_pending_error = None
        self._stream_opened_at = self._pending_opened_at
        self._stream_established = True
        away = self._channels.address()
        left_channel = self._channels.adopt_home()
        self._end_linger()
        if left_stream is not None and not left_ended:
            self._lingering = (left_stream, left_channel)
            self._linger_until = self._clock() + LINGER_SECONDS
        elif left_channel is not None:
            left_channel.close()
        self._connection += 1
        self.home_returns += 1
        LOG.info(
            "home gateway %s reachable again: moved back from gateway %s (its partial sums fold"
            " this learner's updates); the task stream there is established",
            self._channels.address(),
            away,
        )

    def _abandon_move(self, error):
        """The stream at home failed (or was not answered in time): the learner stays on the
        current stream, or, if that ended meanwhile, reconnects as for any lost stream."""
        failed, _ = self._pending
        self._pending = None
        failed.cancel()
        self._channels.abandon_home(self._clock())
        LOG.warning(
            "could not open the task stream at home gateway %s (%s); staying on gateway %s and"
            " trying again later",
            self._channels.home(),
            "ended at once" if error is None else describe(error),
            self._channels.address(),
        )
        if self._ended_while_pending:
            ended = self._ended_while_pending_error
            self._ended_while_pending = False
            self._ended_while_pending_error = None
            self._on_current_stream_ended(ended)

    def _drop_move(self):
        """Drops a move under way (a reconnect replaces every stream)."""
        if self._pending is None:
            return
        self._pending[0].cancel()
        self._pending = None
        self._ended_while_pending = False
        self._ended_while_pending_error = None
        self._channels.abandon_home(self._clock())

    def _end_linger_if_due(self, now):
        if self._lingering is not None and now >= self._linger_until:
            self._end_linger()

    def _end_linger(self):
        if self._lingering is not None:
            stream, channel = self._lingering
            self._lingering = None
            stream.cancel()
            if channel is not None:
                channel.close()

    def _sleep(self, seconds):
        """Waits out a backoff; close() cuts it short."""
        self._close_requested.wait(seconds)
        self._check_not_closing()

    def _cancel_stream(self):
        stream = self._stream
        if stream is not None:
            stream.cancel()

    def _open_stream(self):
        """Opens the task stream on the open channel in place of the current one, which is
        cancelled first: it is lost (a reconnect), belongs to credentials replaced by a join, or
        reached its deadline."""
        self._drop_move()
        self._end_linger()
        self._cancel_stream()
        self._stream_opened_at = self._clock()
        self._stream_established = False
        self._stream, self._stream_gen = self._start_stream(self._channels.stub())

    def _start_stream(self, stub):
        """Starts one StreamTasks call; a reader thread queues its events. Returns (call,
        generation)."""
        self._stream_generation += 1
        generation = self._stream_generation
        self._renew_if_due()
        request = pb.StreamTasksRequest(credentials=self._credentials)
        call = stub.stream_tasks(
            request, timeout=self.options.stream_timeout, metadata=self._metadata()
        )
        threading.Thread(
            target=self._read_stream,
            args=(call, generation),
            name="metisfl-task-stream-%d" % generation,
            daemon=True,
        ).start()
        return call, generation

    def _await_established(self):
        """After a reconnect or a join, takes in the new stream's first events until the gateway
        has established it (at most RESEND_WAIT_SECONDS), before the outstanding updates go out
        again: the gateway then registers the stream before it takes an update that may close a
        round, and the next round draws the learner. Tasks and the stream's answer are taken in;
        other events (answers, ends) are put back for the task loop, in order."""
        end = self._clock() + RESEND_WAIT_SECONDS
        later = []
        try:
            while not self._stream_established:
                left = end - self._clock()
                if left <= 0:
                    LOG.debug(
                        "the task stream at %s is not established yet; sending on",
                        self._channels.address(),
                    )
                    return
                self._check_not_closing()
                try:
                    event = self._events.get(timeout=left)
                except queue.Empty:
                    return
                if event[0] in ("task", "established", "wake"):
                    self._dispatch(event)
                else:
                    later.append(event)
        finally:
            self._deferred.extend(later)

    def _read_stream(self, stream, generation):
        try:
            # The gateway sends the stream's headers once it has registered it. A refusal comes
            # as trailers only, which gRPC Python hands out as initial metadata just before the
            # call ends: only a call still running a moment later is established.
            stream.initial_metadata()
            try:
                stream.exception(timeout=ESTABLISHED_AFTER_SECONDS)
            except grpc.FutureTimeoutError:
                self._events.put(("established", generation, None))
            for task in stream:
                if task.WhichOneof("kind") == "shutdown":
                    self._shutdown_announced = task.shutdown.reason or "no reason given"
                self._events.put(("task", generation, task))
            self._events.put(("ended", generation, None))
        except grpc.RpcError as e:
            self._events.put(("ended", generation, e))
        except Exception as e:  # noqa: BLE001 - a broken stream is a retryable failure
            self._events.put(
                ("ended", generation, _Status(grpc.StatusCode.UNKNOWN, "task stream failed: %r" % e))
            )

    def _on_stream_ended(self, error):
        if error is None:
            error = _Status(
                grpc.StatusCode.UNAVAILABLE,
                "the gateway ended the task stream without a Shutdown task",
            )
        lived = self._clock() - self._stream_opened_at
        if lived >= STABLE_STREAM_SECONDS:
            self._failed_attempts = 0
        if (
            code_of(error) == grpc.StatusCode.DEADLINE_EXCEEDED
            and lived >= 0.9 * self.options.stream_timeout
        ):
            # The stream's own deadline, not a failure: open the next one at once.
            self._open_stream()
            return
        kind = classify(code_of(error))
        if kind is Kind.RETRY:
            self._reconnect("task stream", error)
        elif kind is Kind.REJOIN:
            self._rejoin("task stream", error)
        else:
            raise LearnerError(
                "gateway %s closed the task stream: %s; the learner cannot receive tasks"
                % (self._channels.address(), describe(error))
            )

    # ---------------------------------------------------------------------------------------
    # Tasks

    def _remember(self, task_id):
        self._completed[task_id] = True
        if len(self._completed) > RECENT_IDS:
            del self._completed[next(iter(self._completed))]

    def _handle(self, task) -> Optional[str]:
        """Handles one task; returns the shutdown reason if the federation is over, else None."""
        task_id = task.task_id
        if task_id in self._completed:
            LOG.debug("round %d: ignoring task %s, already completed", task.round, task_id)
            return None
        if task_id in self._outstanding:
            LOG.debug(
                "round %d: ignoring task %s, its update awaits its acknowledgement",
                task.round,
                task_id,
            )
            return None
        kind = task.WhichOneof("kind")
        try:
            if kind == "train":
                # Completed once its update is acknowledged; a refused one is not, so that the
                # task is trained again if the gateway sends it again.
                self._train(task)
                return None
            elif kind == "evaluate":
                self._evaluate(task)
            elif kind == "shutdown":
                reason = task.shutdown.reason or "no reason given"
                LOG.info(
                    "the federation shut down (%s): %d rounds trained, %d updates dropped, %d"
                    " evaluations",
                    reason,
                    self.rounds_trained,
                    self.updates_dropped,
                    self.evaluations,
                )
                return reason
            else:
                LOG.warning(
                    "round %d: ignoring task %s of a kind this learner does not know (a newer"
                    " gateway?)",
                    task.round,
                    task_id,
                )
        except _Refused as r:
            log = LOG.warning if r.kind is Kind.REJECTED else LOG.error
            log(
                "round %d: %s %s by the gateway (%s); skipping task %s",
                task.round,
                r.what,
                "refused" if r.kind is Kind.REJECTED else "rejected as invalid",
                describe(r.error),
                task_id,
            )
        self._remember(task_id)
        return None

    def _train(self, task) -> bool:
        rnd = task.round
        self._ensure_model(task.model_version)
        base_version = self._loaded_version
        t = task.train
        train_task = TrainTask(
            round=rnd,
            epochs=t.epochs,
            batch_size=t.batch_size,
            learning_rate=t.learning_rate,
            local_steps=t.local_steps,
            deadline_unix_ms=t.deadline_unix_ms,
            proximal_mu=t.proximal_mu,
        )
        start = self._clock()
        result = self._adapter_call("train", rnd, lambda: self.model.train(train_task))
        seconds = self._clock() - start
        if result.num_training_examples <= 0:
            raise LearnerError(
                "the model's train() trained round %d on %d examples; an update needs at least"
                " one, check the local training data" % (rnd, result.num_training_examples)
            )
        weights = self._adapter_call("get_weights", rnd, self.model.get_weights)
        # The model now holds local weights, no longer any global model.
        self._loaded_version = -1
        encoded = self._encode(weights, rnd)
        metrics = self._finite(result.metrics, "train", rnd)
        work = (
            "%d local steps" % result.num_completed_batches
            if train_task.local_steps > 0
            else "%d epoch%s" % (t.epochs, "" if t.epochs == 1 else "s")
        )
        trained = "round %d: trained %s on %d examples in %.1f s%s" % (
            rnd,
            work,
            result.num_training_examples,
            seconds,
            format_metrics(metrics),
        )
        update = _Pending(
            rnd, base_version, result.num_training_examples, result.num_completed_batches,
            metrics, encoded, False, trained,
        )
        pipelined = self.pipelining and is_asynchronous(task)
        entry = self._submit(task.task_id, update, pipelined)
        if pipelined:
            LOG.info(
                "%s; update sent, awaiting its acknowledgement; unacknowledged: %s",
                trained,
                self._outstanding.describe(self._clock()),
            )
        else:
            self._await_answer(entry)

    def _evaluate(self, task):
        rnd = task.round
        self._ensure_model(task.model_version)
        evaluate_task = EvaluateTask(round=rnd, batch_size=task.evaluate.batch_size)
        start = self._clock()
        result = self._adapter_call("evaluate", rnd, lambda: self.model.evaluate(evaluate_task))
        seconds = self._clock() - start
        metrics = self._finite(result.metrics, "evaluate", rnd)

        def report():
            return self._channels.stub().submit_evaluation(
                pb.EvaluationReport(
                    credentials=self._credentials,
                    task_id=task.task_id,
                    round=rnd,
                    num_examples=int(result.num_examples),
                    metrics=metrics,
                ),
                timeout=self.options.call_timeout,
                metadata=self._metadata(),
            )

        self._call("evaluation report", True, report)
        self.evaluations += 1
        LOG.info(
            "round %d: evaluated model version %d on %d examples in %.1f s%s; reported",
            rnd,
            task.model_version,
            result.num_examples,
            seconds,
            format_metrics(metrics),
        )

    def _upload_initial_model(self):
        if len(self._outstanding):
            # Only a federation without a model asks for one, and then no update is outstanding.
            LOG.warning(
                "the gateway asks for an initial model while updates await their acknowledgement"
                " (%s); not sending one",
                self._outstanding.describe(self._clock()),
            )
            return
        encoded = self._encode(self._adapter_call("get_weights", 0, self.model.get_weights), 0)
        update = _Pending(0, 0, int(self.model.num_training_examples()), 0, {}, encoded, True, "")
        self._await_answer(self._submit(INITIAL_TASK_ID, update, False))

    def _submit(self, task_id, update, pipelined):
        """Records an update as outstanding and sends it; its answer comes as an event."""
        entry = self._outstanding.add(
            task_id, update.round, pipelined, update, self._clock(), self._connection
        )
        self._send(entry, entry.attempt)
        return entry

    def _resend_outstanding(self):
        """Sends every outstanding update not yet sent on the current connection, oldest first."""
        for e in self._outstanding.in_order():
            if e.sent_on != self._connection and self._outstanding.get(e.task_id) is e:
                LOG.info(
                    "round %d: sending the update of task %s again (not acknowledged yet)",
                    e.round,
                    e.task_id,
                )
                self._send(e, self._outstanding.resend(e, self._connection))

    def _send(self, entry, attempt):
        """One upload call of an outstanding update; its answer or failure is queued as an
        event. The gateway answers once the update is in a completed checkpoint."""
        self._check_not_closing()
        self._renew_if_due()
        p = entry.payload
        size = codec.chunk_bytes(self.options.max_chunk_bytes, self._max_message_bytes)
        # Built per attempt: a re-join changes the credentials.
        header = pb.UpdateHeader(
            credentials=self._credentials,
            task_id=entry.task_id,
            round=p.round,
            base_model_version=p.base_version,
            num_training_examples=int(p.examples),
            num_completed_batches=int(p.batches),
            tensors=p.encoded.specs,
            metrics=p.metrics,
            # The gateway refuses reordered, missing or corrupted bytes by these.
            crc32c=p.checksum,
        )

        def requests():
            yield pb.UpdateChunk(header=header)
            offset = 0
            for chunk in p.encoded.chunks(size):
                yield pb.UpdateChunk(data=chunk, offset=offset)
                offset += len(chunk)

        future = self._channels.stub().submit_update.future(
            requests(), timeout=self.options.transfer_timeout, metadata=self._metadata()
        )
        task_id = entry.task_id
        future.add_done_callback(
            lambda f: self._events.put(("answer", attempt, (task_id, f)))
        )

    def _await_answer(self, entry):
        """Takes in events (queuing the tasks that arrive) until this update is answered."""
        while self._outstanding.get(entry.task_id) is entry:
            self._dispatch(self._next_event(self._home_wait()))

    def _on_upload_answered(self, attempt, task_id, future):
        """Settles an outstanding update: acknowledged, refused (dropped), or sent again."""
        entry = self._outstanding.get(task_id)
        if entry is None:
            return  # answered already: an earlier attempt's answer came after the resend's
        try:
            response = future.result()
            error = None
        except grpc.RpcError as e:
            response, error = None, e
        except grpc.FutureCancelledError:
            response, error = None, _Status(grpc.StatusCode.CANCELLED, "the upload was cancelled")
        if error is None:
            self._acknowledged(entry, response)
            return
        if attempt != entry.attempt:
            return  # the failure of a call already replaced by a resend
        self._check_not_closing()
        what = (
            "upload of the initial model"
            if entry.payload.initial
            else "upload of the update for round %d" % entry.round
        )
        kind = classify_error(error)
        if kind is Kind.RETRY or kind is Kind.REJOIN:
            if entry.sent_on == self._connection:
                # Sends every outstanding update again.
                (self._reconnect if kind is Kind.RETRY else self._rejoin)(what, error)
            else:
                self._send(entry, self._outstanding.resend(entry, self._connection))
        elif kind in (Kind.REJECTED, Kind.INVALID):
            self._dropped(entry, kind, error)
        else:
            raise LearnerError(
                "%s failed at gateway %s: %s; retrying cannot fix this, so the learner stops"
                % (what, self._channels.address(), describe(error))
            )

    def _acknowledged(self, entry, response):
        self._outstanding.remove(entry.task_id)
        self._failed_attempts = 0
        self._ever_answered = True
        self._consecutive_rejoins = 0
        outcome = (
            "duplicate (already accepted)"
            if response.status == pb.SubmitUpdateResponse.DUPLICATE
            else "accepted"
        )
        p = entry.payload
        if p.initial:
            LOG.info(
                "uploaded this learner's weights as the initial model (%d tensors, %d bytes): %s",
                len(p.encoded.specs),
                len(p.encoded.data),
                outcome,
            )
            return
        self.rounds_trained += 1
        self._remember(entry.task_id)
        if entry.pipelined:
            now = self._clock()
            LOG.info(
                "round %d: update of task %s %s, acknowledged %.1f s after it was sent;"
                " unacknowledged: %s",
                entry.round,
                entry.task_id,
                outcome,
                now - entry.first_sent,
                self._outstanding.describe(now),
            )
        else:
            LOG.info("%s; update %s", p.trained, outcome)

    def _dropped(self, entry, kind, error):
        self._outstanding.remove(entry.task_id)
        p = entry.payload
        if p.initial:
            if kind is Kind.REJECTED:
                LOG.info("the gateway took another learner's initial model (%s)", describe(error))
            else:
                LOG.error("the gateway rejected this learner's initial model (%s)", describe(error))
            return
        self.updates_dropped += 1
        log = LOG.warning if kind is Kind.REJECTED else LOG.error
        log(
            "%s; update dropped, %s (%s)%s",
            p.trained,
            "refused" if kind is Kind.REJECTED else "rejected as invalid",
            describe(error),
            "; task %s, unacknowledged: %s"
            % (entry.task_id, self._outstanding.describe(self._clock()))
            if entry.pipelined
            else "",
        )

    def _ensure_model(self, version):
        """Loads the global model of this version into the model unless it already holds it."""
        if version >= 0 and version == self._loaded_version:
            return
        model_version, specs, tensors = self._call("model download", True, self._download)
        if model_version < version:
            LOG.warning(
                "the task asks for model version %d but the gateway served version %d; using that",
                version,
                model_version,
            )
        codec.check_specs_match(self._local_specs, specs, model_version)
        try:
            self.model.set_weights(tensors)
        except Exception as e:  # noqa: BLE001
            raise ModelMismatchError(
                "the global model (version %d, tensors %s) does not fit the local model: %s; every"
                " learner of a federation must build the same model"
                % (model_version, codec.describe_specs(specs), e)
            ) from e
        self._loaded_version = model_version
        self.last_model_version = model_version

    def _download(self):
        stream = self._channels.stub().get_model(
            pb.GetModelRequest(credentials=self._credentials),
            timeout=self.options.transfer_timeout,
            metadata=self._metadata(),
        )
        try:
            first = next(stream, None)
            if first is None:
                raise self._protocol_error("ended the model download without sending a header")
            if first.WhichOneof("part") != "header":
                raise self._protocol_error("sent model data before the model header")
            header = first.header
            try:
                assembler = codec.Assembler(header.tensors, header.total_bytes)
                for chunk in stream:
                    if chunk.WhichOneof("part") != "data":
                        raise self._protocol_error("sent a second model header in one download")
                    assembler.append(chunk.data)
                return header.model_version, list(header.tensors), assembler.finish()
            except ValueError as e:
                raise self._protocol_error(
                    "sent a malformed model (version %d): %s" % (header.model_version, e)
                ) from None
        finally:
            stream.cancel()

    def _protocol_error(self, what):
        return LearnerError(
            "gateway %s %s; the gateway and this learner disagree on the protocol"
            % (self._channels.address(), what)
        )

    def _encode(self, weights, rnd):
        try:
            return codec.encode(weights)
        except (ValueError, TypeError, AttributeError) as e:
            raise LearnerError(
                "the model's get_weights() returned tensors the protocol cannot carry in round %d:"
                " %s" % (rnd, e)
            ) from e

    @staticmethod
    def _finite(metrics, method, rnd):
        out = {}
        for k, v in (metrics or {}).items():
            v = float(v)
            if math.isfinite(v):
                out[str(k)] = v
            else:
                LOG.warning(
                    "round %d: the model's %s() reported metric '%s' = %s; the gateway accepts"
                    " finite metrics only, so it is left out",
                    rnd,
                    method,
                    k,
                    v,
                )
        return out

    def _adapter_call(self, method, rnd, body):
        try:
            return body()
        except (LearnerError, _Stop, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001
            raise LearnerError(
                "the model's %s() failed in round %d: %r" % (method, rnd, e)
            ) from e


def format_metrics(metrics) -> str:
    """Metrics for a log line, sorted, 4 significant digits: ', accuracy 0.87, loss 0.43'."""
    return "".join(", %s %s" % (k, "%.4g" % v) for k, v in sorted(metrics.items()))
