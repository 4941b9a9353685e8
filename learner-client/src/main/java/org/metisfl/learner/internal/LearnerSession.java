package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.metisfl.learner.LearnerException;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.internal.Failures.Kind;
import org.metisfl.learner.internal.TaskStreamObserver.Event;
import org.metisfl.learner.internal.TaskStreamObserver.StreamEnded;
import org.metisfl.learner.internal.TaskStreamObserver.StreamEstablished;
import org.metisfl.learner.internal.TaskStreamObserver.TaskArrived;
import org.metisfl.learner.internal.TaskStreamObserver.UploadAnswered;
import org.metisfl.learner.internal.TaskStreamObserver.Wake;
import org.metisfl.learner.internal.TensorCodec.EncodedModel;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.proto.v1.CombineDealingsTask;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DealTask;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetAggregateRequest;
import org.metisfl.proto.v1.GetCommitteeRequest;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LearnerServiceGrpc.LearnerServiceBlockingStub;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.PartialDecryptTask;
import org.metisfl.proto.v1.PartialDecryptionChunk;
import org.metisfl.proto.v1.PartialDecryptionHeader;
import org.metisfl.proto.v1.RenewTokenRequest;
import org.metisfl.proto.v1.RenewTokenResponse;
import org.metisfl.proto.v1.SealedDealing;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitKeyShareResponse;
import org.metisfl.proto.v1.SubmitPartialDecryptionResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.BearerToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learner's engine: joins, keeps one task stream open, and works through the tasks one at a
 * time on the thread that called {@link #run()}, while gRPC's threads only enqueue what arrives
 * (tasks, and the answers to uploads). Every failed call goes through {@link Failures#classify} and
 * one retry loop ({@link #call}); an update's upload is kept in {@link OutstandingUpdates} until it
 * is answered and sent again after every reconnect. An asynchronous task's update is pipelined: the
 * learner takes its next task while the upload awaits its acknowledgement (at most {@link
 * OutstandingUpdates#MAX_PIPELINED} of them); any other update is answered before the next task
 * starts.
 */
public final class LearnerSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LearnerSession.class);

    /** Task id of the learner's initial-model upload. */
    public static final String INITIAL_TASK_ID = "init";

    /** Room left below the gateway's message limit for the chunk's framing. */
    static final int MESSAGE_HEADROOM_BYTES = 64 * 1024;

    /** Joins in a row that end in UNAUTHENTICATED again before the learner gives up. */
    static final int MAX_CONSECUTIVE_REJOINS = 5;

    /** Failed attempts in a row, with no answer ever, before the learner says nothing listens. */
    public static final int NEVER_ANSWERED_AFTER = 5;

    private static final long NOT_PENDING = Long.MIN_VALUE;

    /** How long after a return to the home gateway its task stream is opened once more. */
    static final long REASSERT_NANOS = TimeUnit.SECONDS.toNanos(2);

    /**
     * How long the task stream left by a move home stays open once the home's stream is
     * established: a task the gateway left sent before the home registered the new stream may still
     * be on its way, and the gateway left stamps the closing well after the home stamped the
     * opening.
     */
    static final long LINGER_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * The longest wait after a reconnect for the new task stream to be established before the
     * outstanding updates are sent again (so that the gateway registers the stream first).
     */
    static final long RESEND_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Shortest wait for an event when a try of the home gateway is due. */
    private static final long MIN_WAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /** A task stream that stayed open this long proves the connection worked. */
    static final long STABLE_STREAM_NANOS = TimeUnit.SECONDS.toNanos(10);

    private enum State {
        NEW,
        RUNNING,
        ENDED,
        CLOSED
    }

    private final String name;
    private final ModelAdapter adapter;
    private final LearnerOptions options;
    private final GatewayChannels channels;
    private final LongSupplier nanoTime;
    private final Backoff backoff;

    private final Object lock = new Object();
    private State state = State.NEW;
    private volatile boolean closing;
    private final CountDownLatch runExited = new CountDownLatch(1);
    private final CountDownLatch closeRequested = new CountDownLatch(1);
    private volatile Thread runThread;
    private final Context.CancellableContext runContext = Context.ROOT.withCancellation();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();

    // Everything below is touched by the run() thread only.
    private Credentials credentials;
    private int maxMessageBytes;

    /** The session token (call credentials); null until joined. */
    private volatile String token;

    private volatile long tokenExpiresAtMs;
    private final CallCredentials callCredentials =
            BearerToken.credentials(this::currentCredential, true);
    private boolean streamWanted;
    private TaskStreamObserver stream;
    private long streamGeneration;
    private long streamOpenedAt;

    /** Whether the gateway answered {@link #stream} (headers or a task): it registered it. */
    private boolean streamEstablished;

    /**
     * A task stream opened to replace {@link #stream} (make before break: at home for a move there,
     * or at the same gateway to say again that the learner is there), not established yet; null if
     * none. Tasks are held back while it is pending.
     */
    private TaskStreamObserver pending;

    private boolean pendingMovesHome;
    private long pendingOpenedAt;

    /** Whether {@link #stream} ended while {@link #pending} was pending, and how. */
    private boolean endedWhilePending;

    private Status endedWhilePendingStatus;

    /** The stream a move home left, open until {@link #lingerUntil}; null if none. */
    private TaskStreamObserver lingering;

    private long lingerUntil;

    /** Events put back for later by {@link #awaitEstablished}, taken before new ones. */
    private final Deque<Event> deferred = new ArrayDeque<>();

    private int failedAttempts;
    private int consecutiveRejoins;
    private boolean gatewayUnreachable;
    private boolean everAnswered;
    private final RecentIds completed = new RecentIds(4096);

    /** Updates sent and not yet answered (acknowledged or refused). */
    private final OutstandingUpdates<PendingUpdate> outstanding = new OutstandingUpdates<>();

    /** Tasks that arrived and wait for their turn (in order), e.g. behind unanswered updates. */
    private final Deque<Task> waiting = new ArrayDeque<>();

    /** Counts reconnects and joins: an update sent on an older connection is sent again. */
    private long connection;

    /** {@link #outstanding}'s size, for other threads ({@code Learner.unacknowledgedUpdates}). */
    private volatile int unacknowledged;

    /** Whether the learner goes back to its home gateway (always, but for comparisons). */
    private volatile boolean returnHomeEnabled = true;

    /** Whether asynchronous updates are pipelined (always, but for comparisons). */
    private volatile boolean pipelining = true;

    private long loadedModelVersion = -1;

    /** Set at join when the federation aggregates with CKKS; null for plaintext. */
    private SecureAggregation secure;

    /** Set at join when the federation runs threshold mode (then {@link #secure} stays null). */
    private ThresholdSession threshold;

    private int roundsTrained;
    private int updatesDropped;
    private int evaluationsDone;
    private long lastModelVersion = -1;
    private int reconnects;
    private int homeReturns;

    /** When to open the task stream at home once more after a return; NOT_PENDING if not. */
    private long reassertAt = NOT_PENDING;

    public LearnerSession(
            List<GatewayAddress> gateways,
            String name,
            ModelAdapter adapter,
            LearnerOptions options,
            Function<GatewayAddress, ManagedChannel> channelFactory,
            LongSupplier nanoTime,
            DoubleSupplier random) {
        this.name = name;
        this.adapter = adapter;
        this.options = options;
        this.nanoTime = nanoTime;
        this.backoff =
                new Backoff(
                        options.reconnectInitialBackoff(), options.reconnectMaxBackoff(), random);
        this.channels =
                new GatewayChannels(
                        gateways,
                        channelFactory,
                        backoff,
                        options.callTimeout(),
                        () -> events.add(Wake.INSTANCE));
    }

    /** A session on real Netty channels and the system's monotonic clock. */
    public static LearnerSession create(
            List<GatewayAddress> gateways,
            String name,
            ModelAdapter adapter,
            LearnerOptions options) {
        return new LearnerSession(
                gateways,
                name,
                adapter,
                options,
                GatewayChannels.nettyFactory(options.keepAliveTime(), options.transportSecurity()),
                System::nanoTime,
                () -> ThreadLocalRandom.current().nextDouble());
    }

    // ---------------------------------------------------------------------------------------
    // Lifecycle

    /** Joins and works through tasks until the federation's Shutdown or {@link #close()}. */
    public LearnerSummary run() {
        synchronized (lock) {
            if (state == State.CLOSED) {
                throw new IllegalStateException(
                        "the learner is closed; build a new Learner to run again");
            }
            if (state != State.NEW) {
                throw new IllegalStateException(
                        "run() was already called; a Learner runs once, build a new one");
            }
            state = State.RUNNING;
            runThread = Thread.currentThread();
        }
        Context previous = runContext.attach();
        try {
            return runLoop();
        } finally {
            runContext.detach(previous);
            runContext.cancel(null);
            channels.close();
            synchronized (lock) {
                if (state == State.RUNNING) {
                    state = State.ENDED;
                }
            }
            runExited.countDown();
        }
    }

    /**
     * Leaves the federation if {@link #run()} is still working, and releases the connection. If a
     * task is running, waits up to the call timeout for it; the learner leaves when it ends.
     */
    @Override
    public void close() {
        State previous;
        synchronized (lock) {
            previous = state;
            state = State.CLOSED;
        }
        if (previous != State.RUNNING) {
            channels.close();
            return;
        }
        closing = true;
        closeRequested.countDown();
        events.add(Wake.INSTANCE);
        // Fails in-flight calls at once; the run() thread then leaves with a fresh context.
        runContext.cancel(null);
        if (Thread.currentThread() == runThread) {
            return;
        }
        try {
            Duration wait = options.callTimeout().plusSeconds(5);
            if (!runExited.await(wait.toNanos(), TimeUnit.NANOSECONDS)) {
                LOG.warn(
                        "the learner is still busy with a task after {} s; it leaves the"
                                + " federation when the task ends",
                        wait.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private LearnerSummary runLoop() {
        try {
            join();
            streamWanted = true;
            openStream();
            while (true) {
                boolean holding = maybeReturnHome();
                Task next = waiting.peekFirst();
                if (!holding && next != null && mayStart(next)) {
                    waiting.pollFirst();
                    String reason = handle(next);
                    if (reason != null) {
                        return summary(true, reason);
                    }
                } else {
                    dispatch(nextEvent(homeWait()));
                }
            }
        } catch (Stop stop) {
            boolean interrupted = Thread.interrupted();
            LOG.info("stopping: {}", stop.getMessage());
            leave();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return summary(false, stop.getMessage());
        } catch (LearnerException e) {
            if (!gatewayUnreachable) {
                leave();
            }
            throw e;
        } catch (RuntimeException e) {
            leave();
            throw new LearnerException("the learner failed unexpectedly: " + e, e);
        }
    }

    /**
     * Takes in one event: a task joins the waiting line, an upload's answer settles its update, a
     * lost task stream reconnects.
     */
    private void dispatch(Event event) {
        if (event instanceof TaskArrived arrived) {
            // A task arrived: the connection works again, and the stream it came on is
            // established (its headers came first).
            failedAttempts = 0;
            established(arrived.generation());
            enqueue(arrived.task());
        } else if (event instanceof StreamEstablished e) {
            established(e.generation());
        } else if (event instanceof UploadAnswered answered) {
            onUploadAnswered(answered);
        } else if (event instanceof StreamEnded ended) {
            if (pending != null && ended.generation() == pending.generation()) {
                abandonReplacement(ended.status());
            } else if (stream != null && ended.generation() == stream.generation()) {
                if (pending != null) {
                    // The replacement decides: established, it takes over; failed, this end is
                    // handled then.
                    endedWhilePending = true;
                    endedWhilePendingStatus = ended.status();
                    return;
                }
                onCurrentStreamEnded(ended.status());
            }
            // Else the end of a stream replaced or left: nothing to do.
        }
    }

    private void onCurrentStreamEnded(Status status) {
        if (status == null && shutdownAnnounced != null) {
            // The stream ended after its Shutdown task, which waits for the answers of the
            // updates still outstanding: nothing more to receive.
            streamWanted = false;
            return;
        }
        onStreamEnded(status);
    }

    /**
     * Queues a task unless the same task already waits: while a move overlaps two task streams,
     * both gateways send the open round's task (the same id), and a task sent on the stream left
     * comes once, whichever stream brings it first.
     */
    private void enqueue(Task task) {
        for (Task t : waiting) {
            if (t.getTaskId().equals(task.getTaskId()) && t.getKindCase() == task.getKindCase()) {
                LOG.debug(
                        "round {}: task {} already waits (sent on two task streams)",
                        task.getRound(),
                        task.getTaskId());
                return;
            }
        }
        waiting.addLast(task);
    }

    /** The gateway answered the stream of this generation: it registered it. */
    private void established(long generation) {
        if (pending != null && generation == pending.generation()) {
            completeReplacement();
        } else if (stream != null && generation == stream.generation()) {
            streamEstablished = true;
        }
    }

    /**
     * Whether a task may start now: a training task of an asynchronous federation while fewer than
     * {@link OutstandingUpdates#MAX_PIPELINED} updates await their answer, other asynchronous work
     * (an evaluation) next to them; everything else (synchronous rounds, the Shutdown) only once
     * every update is answered, as before pipelining.
     */
    private boolean mayStart(Task task) {
        if (outstanding.isEmpty()) {
            return true;
        }
        if (task.hasShutdown()) {
            return false;
        }
        if (task.hasTrain()) {
            return outstanding.mayStartTraining(pipelining && isAsynchronous(task));
        }
        return outstanding.mayStartOther();
    }

    /**
     * Whether a training task belongs to an asynchronous federation, whose gateway hands the next
     * task as soon as an update is accepted (before its checkpoint): its task ids are {@code
     * a-<id>} (learner-protocol.md), a round's are {@code r<round>/train}. An id of any other form
     * is taken as synchronous: the learner then waits for each answer, which is always safe.
     */
    static boolean isAsynchronous(Task task) {
        return task.hasTrain() && task.getTaskId().startsWith("a-");
    }

    private Event nextEvent() {
        return nextEvent(-1);
    }

    /** The next event, or {@link Wake} after {@code wait} ns (at least 1 ms; < 0: no limit). */
    private Event nextEvent(long wait) {
        checkNotClosing();
        Event event = deferred.pollFirst();
        if (event != null) {
            return event;
        }
        try {
            if (wait < 0) {
                event = events.take();
            } else {
                event = events.poll(Math.max(wait, MIN_WAKE_NANOS), TimeUnit.NANOSECONDS);
                if (event == null) {
                    event = Wake.INSTANCE;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Stop("interrupted");
        }
        checkNotClosing();
        return event;
    }

    /** Set from the task stream as soon as a Shutdown task arrives, even behind other tasks. */
    private volatile String shutdownAnnounced;

    private void checkNotClosing() {
        if (closing) {
            throw new Stop("closed by the user");
        }
        if (shutdownAnnounced != null && failedAttempts >= 3) {
            // The federation announced its end and its gateway is gone: what still waits to be
            // sent has no one to go to.
            throw new Stop("the federation shut down (" + shutdownAnnounced + ")");
        }
        if (Thread.currentThread().isInterrupted()) {
            throw new Stop("interrupted");
        }
    }

    private LearnerSummary summary(boolean federationFinished, String reason) {
        return new LearnerSummary(
                credentials == null ? "" : credentials.getLearnerId(),
                roundsTrained,
                updatesDropped,
                evaluationsDone,
                lastModelVersion,
                reconnects,
                federationFinished,
                reason,
                outstanding.size(),
                homeReturns);
    }

    /**
     * Turns pipelining off (every update awaits its answer before the next task, as before
     * pipelining existed) or on (the default). Not API: for comparisons in tests and benchmarks.
     * Call before {@link #run()}.
     */
    public LearnerSession pipelining(boolean enabled) {
        this.pipelining = enabled;
        return this;
    }

    /**
     * Turns the return to the home gateway off (reconnects go round-robin and the learner stays
     * where they took it, as before it existed) or on (the default). Not API: for comparisons in
     * tests and benchmarks. Call before {@link #run()}.
     */
    public LearnerSession returnHome(boolean enabled) {
        this.returnHomeEnabled = enabled;
        return this;
    }

    /** Updates sent and not yet acknowledged or refused; safe to read from any thread. */
    public int unacknowledgedUpdates() {
        return unacknowledged;
    }

    // ---------------------------------------------------------------------------------------
    // Membership

    private void join() {
        JoinRequest request =
                JoinRequest.newBuilder()
                        .setName(name)
                        .setNumTrainingExamples(adapter.numTrainingExamples())
                        .setNumTestExamples(adapter.numTestExamples())
                        .setCommitteeEligible(options.committeeEligible())
                        .build();
        JoinResponse response;
        try {
            response = call("join", false, () -> blockingStub(options.callTimeout()).join(request));
        } catch (Refused r) {
            throw new LearnerException(
                    "gateway "
                            + channels.address()
                            + " refused to let learner '"
                            + name
                            + "' join: "
                            + Failures.describe(r.status)
                            + "; check the federation's configuration");
        }
        credentials = Credentials.newBuilder().setLearnerId(response.getLearnerId()).build();
        // The gateway issued an id homed at itself: its partial sums fold this learner's updates.
        if (returnHomeEnabled) {
            channels.joined();
        }
        token = response.getToken();
        tokenExpiresAtMs = response.getTokenExpiresAtMs();
        tokenLifetimeMs =
                tokenExpiresAtMs > 0
                        ? Math.max(1, tokenExpiresAtMs - System.currentTimeMillis())
                        : Long.MAX_VALUE;
        maxMessageBytes = response.getMaxMessageBytes();
        Encryption federation = response.hasEncryption() ? response.getEncryption() : null;
        String gateway = String.valueOf(channels.address());
        try {
            String mismatch =
                    ThresholdSession.shareDirMismatch(
                            options.thresholdShareDir().orElse(null), federation, gateway);
            if (mismatch != null) {
                throw new IllegalStateException(mismatch);
            }
            if (ThresholdSession.isThreshold(federation)) {
                secure = null;
                if (threshold == null) {
                    threshold =
                            ThresholdSession.atJoin(
                                    options.keyBundle().orElse(null),
                                    options.thresholdShareDir().orElse(null),
                                    federation,
                                    gateway);
                }
            } else {
                threshold = null;
                secure =
                        SecureAggregation.atJoin(
                                options.keyBundle().orElse(null), federation, gateway);
            }
        } catch (IllegalStateException e) {
            // Joined, so run() leaves again before it throws.
            throw new LearnerException(e.getMessage());
        }
        String mode = "";
        if (secure != null) {
            mode =
                    "; secure aggregation: "
                            + secure.keys().backendId()
                            + " "
                            + secure.keys().preset()
                            + ", key "
                            + secure.keys().keyId();
        } else if (threshold != null) {
            mode =
                    "; threshold secure aggregation: "
                            + threshold.preset()
                            + ", committee of "
                            + threshold.info().getCommitteeSize()
                            + (threshold.shamir()
                                    ? " (any " + threshold.info().getThreshold() + " decrypt)"
                                    : "")
                            + (threshold.member() == null
                                    ? ", no share directory (not committee-eligible)"
                                    : ", shares in "
                                            + threshold.member().directory()
                                            + (options.committeeEligible()
                                                    ? " (committee-eligible)"
                                                    : ""));
        }
        LOG.info(
                "joined the federation at {} as learner {} ('{}', {} training and {} test"
                        + " examples{})",
                channels.address(),
                response.getLearnerId(),
                name,
                request.getNumTrainingExamples(),
                request.getNumTestExamples(),
                mode);
        if (response.getInitialModelRequested()) {
            uploadInitialModel();
        }
    }

    private void rejoin(String what, Status status) {
        consecutiveRejoins++;
        if (consecutiveRejoins > MAX_CONSECUTIVE_REJOINS) {
            throw new LearnerException(
                    what
                            + " keeps failing with "
                            + Failures.describe(status)
                            + " even with fresh credentials ("
                            + MAX_CONSECUTIVE_REJOINS
                            + " joins in a row); check the gateway's authentication setup");
        }
        LOG.warn("{} failed ({}): joining the federation again", what, Failures.describe(status));
        if (consecutiveRejoins > 1) {
            sleep(backoff.delay(consecutiveRejoins - 1));
        }
        connection++;
        join();
        if (streamWanted) {
            openStream();
            awaitEstablished();
        }
        resendOutstanding();
    }

    private void leave() {
        if (credentials == null) {
            return;
        }
        LeaveRequest request = LeaveRequest.newBuilder().setCredentials(credentials).build();
        // The run context may be cancelled by close(); Leave must still go out.
        Context previous = Context.ROOT.attach();
        try {
            blockingStub(options.callTimeout()).leave(request);
            LOG.info("left the federation (learner {})", credentials.getLearnerId());
        } catch (StatusRuntimeException e) {
            LOG.warn(
                    "could not leave the federation cleanly ({}); the gateway drops the learner"
                            + " when it notices the lost connection",
                    Failures.describe(e.getStatus()));
        } finally {
            Context.ROOT.detach(previous);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Connection and retries

    /** A remote call that may be interrupted. */
    @FunctionalInterface
    private interface RemoteCall<T> {
        T call() throws InterruptedException;
    }

    /**
     * Runs one remote call until it succeeds: reconnects on retryable failures, re-joins on
     * UNAUTHENTICATED, and throws {@link Refused} for failures that drop this piece of work.
     */
    private <T> T call(String what, boolean mayRejoin, RemoteCall<T> remote) {
        while (true) {
            checkNotClosing();
            try {
                T result = remote.call();
                failedAttempts = 0;
                everAnswered = true;
                if (mayRejoin) {
                    consecutiveRejoins = 0;
                }
                return result;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Stop("interrupted");
            } catch (StatusRuntimeException e) {
                checkNotClosing();
                Status status = e.getStatus();
                Kind kind = Failures.classify(e);
                if (kind == Kind.REJOIN && !mayRejoin) {
                    kind = Kind.FATAL;
                }
                switch (kind) {
                    case RETRY -> reconnect(what, status);
                    case REJOIN -> rejoin(what, status);
                    case REJECTED, INVALID -> throw new Refused(kind, what, status);
                    default ->
                            throw new LearnerException(
                                    what
                                            + " failed at gateway "
                                            + channels.address()
                                            + ": "
                                            + Failures.describe(status)
                                            + "; retrying cannot fix this, so the learner stops");
                }
            }
        }
    }

    /**
     * At a task boundary away from the home gateway: moves back home once {@link
     * GatewayChannels#probeHome} finds it reachable, with no update outstanding (so nothing is sent
     * twice and nothing is left on the gateway left). While updates are outstanding it holds new
     * tasks back (returns true) until their answers are in; a pipelining learner pauses for one
     * acknowledgement, once.
     *
     * <p>The move makes before it breaks: the task stream opens at home first, on the home's own
     * channel, while the learner stays on the gateway it leaves; only once the home has registered
     * it (its headers, or a task, arrived) does the learner switch channels, and the stream left
     * stays open {@link #LINGER_NANOS} more. Tasks are held back meanwhile and taken from either
     * stream, once each. The learner thus always has a task stream the job knows of, and a round
     * that opens during the move draws it. Should the home's stream fail, or not be answered within
     * the call timeout, the learner stays where it is and tries again after the next wait.
     */
    private boolean maybeReturnHome() {
        long now = nanoTime.getAsLong();
        endLingerIfDue(now);
        if (pending != null) {
            if (now - pendingOpenedAt >= options.callTimeout().toNanos()) {
                abandonReplacement(
                        Status.DEADLINE_EXCEEDED.withDescription(
                                "the gateway did not answer the new task stream within the call"
                                        + " timeout"));
                return false;
            }
            return true;
        }
        if (!mayReturnHome()) {
            return false;
        }
        if (reassertAt != NOT_PENDING && now - reassertAt >= 0) {
            reassertAt = NOT_PENDING;
            if (channels.atHome()) {
                LOG.debug("opening the task stream at home gateway {} again", channels.address());
                startReplacement(false);
                return true;
            }
        }
        if (channels.probeHome(now) != GatewayChannels.HomeProbe.REACHABLE) {
            return false;
        }
        if (!outstanding.isEmpty()) {
            return true;
        }
        LOG.debug("home gateway {} reachable: opening the task stream there", channels.home());
        startReplacement(true);
        return true;
    }

    /**
     * Opens a task stream to replace the current one, at home ({@code home}) or at the gateway of
     * the open channel, keeping the current one until it is established ({@link
     * #completeReplacement}) or has failed ({@link #abandonReplacement}).
     */
    private void startReplacement(boolean home) {
        ManagedChannel target = home ? channels.homeChannel() : channels.channel();
        pendingMovesHome = home;
        pendingOpenedAt = nanoTime.getAsLong();
        endedWhilePending = false;
        endedWhilePendingStatus = null;
        pending = startStream(target);
    }

    /** The replacement stream is established: it takes over, and the one it replaces ends. */
    private void completeReplacement() {
        TaskStreamObserver left = stream;
        boolean leftEnded = endedWhilePending;
        stream = pending;
        pending = null;
        endedWhilePending = false;
        endedWhilePendingStatus = null;
        streamOpenedAt = pendingOpenedAt;
        streamEstablished = true;
        long now = nanoTime.getAsLong();
        if (!pendingMovesHome) {
            // Same gateway: it replaced the stream left itself.
            if (left != null) {
                left.cancel();
            }
            return;
        }
        GatewayAddress away = channels.address();
        // The channel left is shut down in order: the stream left goes on until it is cancelled.
        channels.adoptHome();
        endLinger();
        if (left != null && !leftEnded) {
            lingering = left;
            lingerUntil = now + LINGER_NANOS;
        }
        connection++;
        homeReturns++;
        LOG.info(
                "home gateway {} reachable again: moved back from gateway {} (its partial sums"
                        + " fold this learner's updates); the task stream there is established",
                channels.address(),
                away);
        // Should the job still take the end of the stream left for the latest news (news from
        // two gateways may reach it out of order), opening it again later says it is here.
        reassertAt = now + REASSERT_NANOS;
    }

    /**
     * The replacement stream failed (or was not answered in time): the learner stays on the current
     * stream, or, if that ended meanwhile, reconnects as for any lost stream.
     */
    private void abandonReplacement(Status status) {
        TaskStreamObserver failed = pending;
        pending = null;
        failed.cancel();
        String why = status == null ? "ended at once" : Failures.describe(status);
        if (pendingMovesHome) {
            channels.abandonHome(nanoTime.getAsLong());
            LOG.warn(
                    "could not open the task stream at home gateway {} ({}); staying on gateway {}"
                            + " and trying again later",
                    channels.home(),
                    why,
                    channels.address());
        } else {
            LOG.debug("could not open the task stream again at {} ({})", channels.address(), why);
        }
        if (endedWhilePending) {
            Status ended = endedWhilePendingStatus;
            endedWhilePending = false;
            endedWhilePendingStatus = null;
            onCurrentStreamEnded(ended);
        }
    }

    /** Drops a replacement under way (a reconnect replaces every stream). */
    private void dropReplacement() {
        if (pending == null) {
            return;
        }
        pending.cancel();
        pending = null;
        endedWhilePending = false;
        endedWhilePendingStatus = null;
        if (pendingMovesHome) {
            channels.abandonHome(nanoTime.getAsLong());
        }
    }

    private void endLingerIfDue(long now) {
        if (lingering != null && now - lingerUntil >= 0) {
            endLinger();
        }
    }

    private void endLinger() {
        if (lingering != null) {
            lingering.cancel();
            lingering = null;
        }
    }

    /**
     * Away from home, moves the try of the home on (starts it when due, notices it connected or
     * failed) and says how long to wait for events before looking again; -1 for no limit. The move
     * itself waits for a task boundary ({@link #maybeReturnHome}).
     */
    private long homeWait() {
        long now = nanoTime.getAsLong();
        endLingerIfDue(now);
        long wait = -1;
        if (pending != null) {
            wait = Math.max(0, pendingOpenedAt + options.callTimeout().toNanos() - now);
        } else if (mayReturnHome()) {
            channels.probeHome(now);
            wait = channels.nanosUntilProbe(now);
            if (reassertAt != NOT_PENDING) {
                wait = earliest(wait, Math.max(0, reassertAt - now));
            }
        }
        if (lingering != null) {
            wait = earliest(wait, Math.max(0, lingerUntil - now));
        }
        return wait;
    }

    /** The shorter of two waits, where -1 is no limit. */
    private static long earliest(long a, long b) {
        return a < 0 ? b : b < 0 ? a : Math.min(a, b);
    }

    private boolean mayReturnHome() {
        return returnHomeEnabled
                && streamWanted
                && shutdownAnnounced == null
                && credentials != null;
    }

    private void reconnect(String what, Status status) {
        failedAttempts++;
        if (failedAttempts > options.maxReconnectAttempts()) {
            gatewayUnreachable = true;
            throw new LearnerException(
                    "gave up after "
                            + options.maxReconnectAttempts()
                            + " reconnect attempts to gateways "
                            + channels.addresses()
                            + ": "
                            + what
                            + " failed with "
                            + Failures.describe(status)
                            + (everAnswered ? "" : " (nothing ever answered there)")
                            + "; check that the federation is running and reachable, or raise"
                            + " LearnerOptions.maxReconnectAttempts");
        }
        if (!everAnswered && failedAttempts == NEVER_ANSWERED_AFTER) {
            LOG.error(neverAnswered(status));
        }
        Duration delay = backoff.delay(failedAttempts);
        LOG.warn(
                "{} failed ({}); reconnecting to gateway {} in {} ms (attempt {}{})",
                what,
                Failures.describe(status),
                channels.nextAddress(failedAttempts),
                delay.toMillis(),
                failedAttempts,
                options.maxReconnectAttempts() == Integer.MAX_VALUE
                        ? ""
                        : " of " + options.maxReconnectAttempts());
        sleep(delay);
        dropReplacement();
        channels.next(failedAttempts);
        connection++;
        reconnects++;
        if (streamWanted) {
            openStream();
            awaitEstablished();
        }
        resendOutstanding();
    }

    /** Said once when no gateway has ever answered: most likely a wrong address or port. */
    private String neverAnswered(Status status) {
        return "nothing has answered at "
                + String.join(", ", channels.addresses().stream().map(String::valueOf).toList())
                + " in "
                + failedAttempts
                + " attempts ("
                + Failures.describe(status)
                + "): no federation gateway listens there. Check that the federation job runs"
                + " (bin/metisfl status), that host and port are its learner gateway's (its"
                + " gateway.port; bin/metisfl submit prints the address) and reachable from"
                + " here; "
                + (options.maxReconnectAttempts() == Integer.MAX_VALUE
                        ? "still retrying until stopped"
                        : "still retrying, up to "
                                + options.maxReconnectAttempts()
                                + " attempts in all");
    }

    /** Waits out a backoff; close() cuts it short. */
    private void sleep(Duration delay) {
        try {
            closeRequested.await(delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Stop("interrupted");
        }
        checkNotClosing();
    }

    /**
     * Opens the task stream on the open channel in place of the current one, which is cancelled
     * first: it is lost (a reconnect), or belongs to credentials replaced by a join.
     */
    private void openStream() {
        dropReplacement();
        endLinger();
        if (stream != null) {
            stream.cancel();
        }
        streamOpenedAt = nanoTime.getAsLong();
        streamEstablished = false;
        stream = startStream(channels.channel());
    }

    /** Starts one StreamTasks call on {@code channel}; its events go to the task loop. */
    private TaskStreamObserver startStream(ManagedChannel channel) {
        long generation = ++streamGeneration;
        TaskStreamObserver observer =
                new TaskStreamObserver(
                        generation,
                        event -> {
                            if (event instanceof TaskArrived arrived
                                    && arrived.task().hasShutdown()) {
                                shutdownAnnounced = arrived.task().getShutdown().getReason();
                            }
                            events.add(event);
                        });
        renewTokenIfDue();
        LearnerServiceGrpc.newStub(channel)
                .withCallCredentials(callCredentials)
                .withInterceptors(observer.headersWatch())
                .streamTasks(
                        StreamTasksRequest.newBuilder().setCredentials(credentials).build(),
                        observer);
        return observer;
    }

    /**
     * After a reconnect or a join, takes in the new stream's first events until the gateway has
     * established it (at most {@link #RESEND_WAIT_NANOS}), before the outstanding updates go out
     * again: the gateway then registers the stream before it takes an update that may close a
     * round, and the next round draws the learner. Tasks and the stream's answer are taken in;
     * other events (answers, ends) are put back for the task loop, in order.
     */
    private void awaitEstablished() {
        long end = nanoTime.getAsLong() + RESEND_WAIT_NANOS;
        List<Event> later = new java.util.ArrayList<>();
        try {
            while (!streamEstablished) {
                long left = end - nanoTime.getAsLong();
                if (left <= 0) {
                    LOG.debug(
                            "the task stream at {} is not established yet; sending on",
                            channels.address());
                    return;
                }
                checkNotClosing();
                Event event;
                try {
                    event = events.poll(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Stop("interrupted");
                }
                if (event == null) {
                    return;
                }
                if (event instanceof TaskArrived
                        || event instanceof StreamEstablished
                        || event instanceof Wake) {
                    dispatch(event);
                } else {
                    later.add(event);
                }
            }
        } finally {
            deferred.addAll(later);
        }
    }

    private void onStreamEnded(Status status) {
        Status s =
                status != null
                        ? status
                        : Status.UNAVAILABLE.withDescription(
                                "the gateway ended the task stream without a Shutdown task");
        if (nanoTime.getAsLong() - streamOpenedAt >= STABLE_STREAM_NANOS) {
            failedAttempts = 0;
        }
        switch (Failures.classify(s)) {
            case RETRY -> reconnect("task stream", s);
            case REJOIN -> rejoin("task stream", s);
            default ->
                    throw new LearnerException(
                            "gateway "
                                    + channels.address()
                                    + " closed the task stream: "
                                    + Failures.describe(s)
                                    + "; the learner cannot receive tasks");
        }
    }

    private LearnerServiceBlockingStub blockingStub(Duration deadline) {
        renewTokenIfDue();
        return LearnerServiceGrpc.newBlockingStub(channels.channel())
                .withCallCredentials(callCredentials)
                .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * What the calls carry as {@code authorization}: the session token once joined, the operator's
     * enrollment token (if any) for the Join itself.
     */
    private String currentCredential() {
        String t = token;
        return t != null ? t : options.enrollmentToken().orElse(null);
    }

    /**
     * Renews the session token when less than a third of its lifetime is left, so a long federation
     * never meets an expired token; a failed renewal is retried at the next call (an expired token
     * later makes the learner join again).
     */
    private void renewTokenIfDue() {
        String t = token;
        long expires = tokenExpiresAtMs;
        if (t == null || expires <= 0) {
            return;
        }
        long now = System.currentTimeMillis();
        long left = expires - now;
        if (left > tokenLifetimeMs / 3) {
            return;
        }
        try {
            RenewTokenResponse r =
                    LearnerServiceGrpc.newBlockingStub(channels.channel())
                            .withCallCredentials(callCredentials)
                            .withDeadlineAfter(
                                    options.callTimeout().toNanos(), TimeUnit.NANOSECONDS)
                            .renewToken(
                                    RenewTokenRequest.newBuilder()
                                            .setLearnerId(credentials.getLearnerId())
                                            .build());
            token = r.getToken();
            tokenExpiresAtMs = r.getTokenExpiresAtMs();
            LOG.debug("renewed the session token until {}", r.getTokenExpiresAtMs());
        } catch (StatusRuntimeException e) {
            LOG.warn(
                    "could not renew the session token ({}); will retry",
                    Failures.describe(e.getStatus()));
        }
    }

    private long tokenLifetimeMs = Long.MAX_VALUE;

    // ---------------------------------------------------------------------------------------
    // Tasks

    /** Handles one task; returns the shutdown reason if the federation is over, else null. */
    private String handle(Task task) {
        String id = task.getTaskId();
        if (completed.contains(id)) {
            LOG.debug("round {}: ignoring task {}, already completed", task.getRound(), id);
            return null;
        }
        if (outstanding.contains(id)) {
            LOG.debug(
                    "round {}: ignoring task {}, its update awaits its acknowledgement",
                    task.getRound(),
                    id);
            return null;
        }
        try {
            switch (task.getKindCase()) {
                case TRAIN -> {
                    // Completed once its update is acknowledged; a refused one is not, so that
                    // the task is trained again if the gateway sends it again.
                    train(task);
                    return null;
                }
                case EVALUATE -> evaluate(task);
                case KEY_SHARE -> keyShare(task);
                case DEAL -> deal(task);
                case COMBINE_DEALINGS -> combineDealings(task);
                case PARTIAL_DECRYPT -> partialDecrypt(task);
                case SHUTDOWN -> {
                    String reason = task.getShutdown().getReason();
                    LOG.info(
                            "the federation shut down ({}): {} rounds trained, {} updates"
                                    + " dropped, {} evaluations",
                            reason.isEmpty() ? "no reason given" : reason,
                            roundsTrained,
                            updatesDropped,
                            evaluationsDone);
                    return reason;
                }
                default ->
                        LOG.warn(
                                "round {}: ignoring task {} of a kind this learner does not know"
                                        + " (a newer gateway?)",
                                task.getRound(),
                                id);
            }
        } catch (Refused r) {
            if (r.kind == Kind.REJECTED) {
                LOG.warn(
                        "round {}: {} refused by the gateway ({}); skipping task {}",
                        task.getRound(),
                        r.what,
                        Failures.describe(r.status),
                        id);
            } else {
                LOG.error(
                        "round {}: {} rejected as invalid by the gateway ({}); skipping task {}",
                        task.getRound(),
                        r.what,
                        Failures.describe(r.status),
                        id);
            }
        }
        completed.add(id);
        return null;
    }

    // ---------------------------------------------------------------------------------------
    // Threshold mode: the committee's tasks (members only) and the joint key

    /** The encryption under the joint key {@code keyId} names, fetching the committee if needed. */
    private SecureAggregation jointKeyEncryption(String keyId) {
        if (threshold.needsKey(keyId)) {
            CommitteeInfo c = committeeInfo(false);
            try {
                JointKey k = threshold.useKey(c, keyId);
                LOG.info(
                        "committee epoch {}: encrypting updates under the joint key {}",
                        k.epoch(),
                        k.keyId());
            } catch (IllegalArgumentException e) {
                throw protocolError(
                        "described the committee's joint key wrongly: " + e.getMessage());
            }
        }
        return threshold.encryption();
    }

    private CommitteeInfo committeeInfo(boolean includeShares) {
        GetCommitteeRequest request =
                GetCommitteeRequest.newBuilder()
                        .setCredentials(credentials)
                        .setIncludeShares(includeShares)
                        .build();
        return call(
                "committee description",
                true,
                () ->
                        blockingStub(options.callTimeout())
                                .getCommittee(
                                        request.toBuilder().setCredentials(credentials).build()));
    }

    /** The learner's committee side; stops the learner if the federation needs it and has none. */
    private ThresholdMember member(Task task) {
        if (threshold == null) {
            throw protocolError(
                    "sent a committee task ("
                            + task.getKindCase()
                            + ") in a federation that is not in threshold mode");
        }
        if (threshold.member() == null) {
            throw new LearnerException(
                    "the federation drew learner '"
                            + name
                            + "' for its decryption committee ("
                            + task.getKindCase()
                            + ", task "
                            + task.getTaskId()
                            + "), but it has no share directory to keep its key share in across"
                            + " restarts: give every learner of a threshold federation one"
                            + " (--threshold-shares DIR / LearnerOptions.thresholdShareDir), or"
                            + " make at least secure-aggregation.committee.size learners"
                            + " committee-eligible");
        }
        return threshold.member();
    }

    private <T> T shares(Supplier<T> body) {
        try {
            return body.get();
        } catch (ThresholdMember.ShareFileException e) {
            throw new LearnerException(e.getMessage(), e);
        }
    }

    private void keyShare(Task task) {
        ThresholdMember member = member(task);
        KeyShareTask k = task.getKeyShare();
        boolean transport = k.getThreshold() > 0 && k.getThreshold() < k.getMembersCount();
        long start = nanoTime.getAsLong();
        ThresholdMember.PublicPart part =
                shares(
                        () ->
                                member.keyShare(
                                        k.getEpoch(), k.getCommonSeed().toByteArray(), transport));
        KeyShareSubmission.Builder submission =
                KeyShareSubmission.newBuilder()
                        .setEpoch(k.getEpoch())
                        .setPublicShare(ByteString.copyFrom(part.bytes()));
        if (part.transportPublicKey() != null) {
            submission.setTransportPublicKey(ByteString.copyFrom(part.transportPublicKey()));
        }
        SubmitKeyShareResponse r =
                call(
                        "key share of committee epoch " + k.getEpoch(),
                        true,
                        () ->
                                blockingStub(options.callTimeout())
                                        .submitKeyShare(
                                                submission.setCredentials(credentials).build()));
        LOG.info(
                "committee epoch {}: key share {} made (committee of {}{}) in {} ms, secret part"
                        + " kept in {}; public part {}",
                k.getEpoch(),
                part.memberId(),
                k.getMembersCount(),
                transport ? ", any " + k.getThreshold() + " decrypt" : "",
                (nanoTime.getAsLong() - start) / 1_000_000,
                member.secretFile(k.getEpoch()),
                r.getStatus() == SubmitKeyShareResponse.Status.DUPLICATE
                        ? "already there (duplicate)"
                        : "accepted");
    }

    private void deal(Task task) {
        ThresholdMember member = member(task);
        DealTask d = task.getDeal();
        ThresholdSession.CommitteeView c = committeeView();
        List<ThresholdMember.Sealed> sealed =
                shares(
                        () ->
                                member.deal(
                                        d.getEpoch(),
                                        c.committee(),
                                        d.getThreshold(),
                                        credentials.getLearnerId(),
                                        c.members()));
        DealingsSubmission.Builder submission =
                DealingsSubmission.newBuilder().setEpoch(d.getEpoch());
        for (ThresholdMember.Sealed s : sealed) {
            submission.addDealings(
                    SealedDealing.newBuilder()
                            .setFromLearnerId(s.from())
                            .setToLearnerId(s.to())
                            .setSealed(ByteString.copyFrom(s.sealed())));
        }
        var r =
                call(
                        "Shamir dealings of committee epoch " + d.getEpoch(),
                        true,
                        () ->
                                blockingStub(options.callTimeout())
                                        .submitDealings(
                                                submission.setCredentials(credentials).build()));
        LOG.info(
                "committee epoch {}: dealt {} sealed Shamir dealings (any {} decrypt): {}",
                d.getEpoch(),
                sealed.size(),
                d.getThreshold(),
                r.getStatus());
    }

    private void combineDealings(Task task) {
        ThresholdMember member = member(task);
        CombineDealingsTask d = task.getCombineDealings();
        ThresholdSession.CommitteeView c = committeeView();
        List<ThresholdMember.Sealed> received = new java.util.ArrayList<>();
        for (SealedDealing s : d.getDealingsList()) {
            received.add(
                    new ThresholdMember.Sealed(
                            s.getFromLearnerId(), s.getToLearnerId(), s.getSealed().toByteArray()));
        }
        try {
            shares(
                    () -> {
                        member.combineDealings(
                                d.getEpoch(),
                                c.committee(),
                                d.getThreshold(),
                                received,
                                c.members());
                        return null;
                    });
        } catch (IllegalArgumentException e) {
            throw protocolError(
                    "sent Shamir dealings that do not combine ("
                            + e.getMessage()
                            + ") for committee epoch "
                            + d.getEpoch());
        }
        LOG.info(
                "committee epoch {}: Shamir share made from {} dealings, kept in {}",
                d.getEpoch(),
                received.size() + 1,
                member.shamirFile(d.getEpoch()));
    }

    private ThresholdSession.CommitteeView committeeView() {
        CommitteeInfo info = committeeInfo(true);
        try {
            return threshold.committee(info);
        } catch (IllegalArgumentException e) {
            throw protocolError("described the committee wrongly: " + e.getMessage());
        }
    }

    /**
     * Downloads the round's encrypted aggregate, turns each shard into this member's partial
     * decryptions as soon as its bytes are in, and uploads them.
     */
    private void partialDecrypt(Task task) {
        ThresholdMember member = member(task);
        PartialDecryptTask pd = task.getPartialDecrypt();
        ThresholdSession.CommitteeView c = threshold.shamir() ? committeeView() : null;
        long start = nanoTime.getAsLong();
        List<byte[]> parts =
                call(
                        "encrypted aggregate of round " + pd.getRound(),
                        true,
                        () -> partialDecryptAggregate(member, pd, c));
        long computed = nanoTime.getAsLong();
        PartialDecryptionHeader.Builder header =
                PartialDecryptionHeader.newBuilder()
                        .setEpoch(pd.getEpoch())
                        .setRound(pd.getRound())
                        .setAttempt(pd.getAttempt());
        ByteString data = ByteString.EMPTY;
        for (byte[] p : parts) {
            header.addShardBytes(p.length);
            data = data.concat(ByteString.copyFrom(p));
        }
        List<ByteString> chunks = TensorCodec.chunks(data, chunkBytes());
        var r =
                call(
                        "partial decryptions of round " + pd.getRound(),
                        true,
                        () -> {
                            List<PartialDecryptionChunk> messages =
                                    new java.util.ArrayList<>(chunks.size() + 1);
                            messages.add(
                                    PartialDecryptionChunk.newBuilder()
                                            .setHeader(header.setCredentials(credentials))
                                            .build());
                            for (ByteString chunk : chunks) {
                                messages.add(
                                        PartialDecryptionChunk.newBuilder().setData(chunk).build());
                            }
                            renewTokenIfDue();
                            return StreamingUpload
                                    .<PartialDecryptionChunk, SubmitPartialDecryptionResponse>run(
                                            o ->
                                                    LearnerServiceGrpc.newStub(channels.channel())
                                                            .withCallCredentials(callCredentials)
                                                            .withDeadlineAfter(
                                                                    options.transferTimeout()
                                                                            .toNanos(),
                                                                    TimeUnit.NANOSECONDS)
                                                            .submitPartialDecryption(o),
                                            messages);
                        });
        LOG.info(
                "round {}: partial decryptions of the aggregate ({} shards, {} bytes, attempt {},"
                        + " {} answering) computed in {} ms; {}",
                pd.getRound(),
                parts.size(),
                data.size(),
                pd.getAttempt(),
                pd.getAnsweringCount(),
                (computed - start) / 1_000_000,
                r.getStatus() == SubmitKeyShareResponse.Status.DUPLICATE
                        ? "already there (duplicate)"
                        : "accepted");
    }

    private List<byte[]> partialDecryptAggregate(
            ThresholdMember member, PartialDecryptTask pd, ThresholdSession.CommitteeView c) {
        GetAggregateRequest request =
                GetAggregateRequest.newBuilder()
                        .setCredentials(credentials)
                        .setRound(pd.getRound())
                        .build();
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            Iterator<ModelChunk> chunks =
                    blockingStub(options.transferTimeout()).getAggregate(request);
            if (!chunks.hasNext()) {
                throw protocolError("ended the aggregate download without sending a header");
            }
            ModelChunk first = chunks.next();
            if (!first.hasHeader() || !first.getHeader().hasEncryption()) {
                throw protocolError("sent an aggregate without its encrypted shards' header");
            }
            List<Long> sizes = first.getHeader().getEncryption().getShardBytesList();
            List<byte[]> parts = new java.util.ArrayList<>(sizes.size());
            byte[] pending = sizes.isEmpty() ? null : new byte[Math.toIntExact(sizes.get(0))];
            int filled = 0;
            while (chunks.hasNext()) {
                ModelChunk chunk = chunks.next();
                if (!chunk.hasData()) {
                    throw protocolError("sent a second header in one aggregate download");
                }
                ByteString bytes = chunk.getData();
                int at = 0;
                while (at < bytes.size()) {
                    if (pending == null) {
                        throw protocolError("sent more aggregate bytes than its shards announce");
                    }
                    int n = Math.min(bytes.size() - at, pending.length - filled);
                    bytes.copyTo(pending, at, filled, n);
                    at += n;
                    filled += n;
                    if (filled == pending.length) {
                        parts.add(partialShard(member, pd, c, pending));
                        pending =
                                parts.size() < sizes.size()
                                        ? new byte[Math.toIntExact(sizes.get(parts.size()))]
                                        : null;
                        filled = 0;
                    }
                }
            }
            if (parts.size() != sizes.size()) {
                throw protocolError(
                        "sent "
                                + parts.size()
                                + " of the aggregate's "
                                + sizes.size()
                                + " encrypted shards");
            }
            return parts;
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    private byte[] partialShard(
            ThresholdMember member,
            PartialDecryptTask pd,
            ThresholdSession.CommitteeView c,
            byte[] shard) {
        try {
            return shares(
                    () ->
                            c == null
                                    ? member.partialDecryptShard(
                                            pd.getEpoch(), pd.getAnsweringList(), shard)
                                    : member.partialDecryptShard(
                                            pd.getEpoch(),
                                            c.committee(),
                                            pd.getAnsweringList(),
                                            shard));
        } catch (ThresholdMember.ShareFileException | LearnerException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw protocolError(
                    "sent an aggregate shard this member cannot partially decrypt ("
                            + e.getMessage()
                            + ") for round "
                            + pd.getRound());
        }
    }

    /**
     * Trains and sends the update: an asynchronous task's update is left to its answer (the loop
     * goes on to the next task), any other one is awaited here.
     */
    private void train(Task task) {
        long round = task.getRound();
        ensureModel(task.getModelVersion());
        long baseVersion = loadedModelVersion;
        TrainTask trainTask = Protos.trainTask(task);
        double clipNorm = task.getTrain().getClipNorm();
        // Central DP, clipping on the learner: the task's model, to clip the delta against.
        // FedBuff over ciphertexts: the model trained on, to send the encrypted delta from it.
        boolean delta = secure != null && secure.deltas();
        // Threshold mode: the update goes under the committee's joint key the task names.
        SecureAggregation encryption = secure;
        if (threshold != null) {
            encryption = jointKeyEncryption(task.getTrain().getKeyId());
        }
        List<NamedTensor> global =
                clipNorm > 0 || delta
                        ? adapterCall("getWeights", round, adapter::getWeights)
                        : null;
        long start = nanoTime.getAsLong();
        TrainResult result = adapterCall("train", round, () -> adapter.train(trainTask));
        double seconds = (nanoTime.getAsLong() - start) / 1e9;
        if (result.numTrainingExamples() <= 0) {
            throw new LearnerException(
                    "the model adapter trained round "
                            + round
                            + " on "
                            + result.numTrainingExamples()
                            + " examples; an update needs at least one, check the local training"
                            + " data");
        }
        List<NamedTensor> weights = adapterCall("getWeights", round, adapter::getWeights);
        Boolean unclipped = null;
        if (clipNorm > 0) {
            UpdateClipping.Result clipped = UpdateClipping.clip(global, weights, clipNorm);
            weights = clipped.weights();
            unclipped = clipped.unclipped();
        }
        // The adapter now holds local weights, no longer any global model.
        loadedModelVersion = -1;
        Upload model = delta ? deltaUpload(weights, global) : upload(weights, encryption);
        String work =
                trainTask.localSteps() > 0
                        ? result.numCompletedBatches() + " local steps"
                        : trainTask.epochs() + (trainTask.epochs() == 1 ? " epoch" : " epochs");
        String trained =
                String.format(
                        "round %d: trained %s on %d examples in %.1f s%s",
                        round,
                        work,
                        result.numTrainingExamples(),
                        seconds,
                        Protos.formatMetrics(result.metrics()));
        PendingUpdate update =
                new PendingUpdate(
                        round,
                        baseVersion,
                        result.numTrainingExamples(),
                        result.numCompletedBatches(),
                        result.metrics(),
                        unclipped,
                        model,
                        false,
                        trained);
        boolean pipelined = pipelining && isAsynchronous(task);
        OutstandingUpdates.Entry<PendingUpdate> sent = submit(task.getTaskId(), update, pipelined);
        if (pipelined) {
            LOG.info(
                    "{}; update sent, awaiting its acknowledgement; unacknowledged: {}",
                    trained,
                    outstanding.describe(nanoTime.getAsLong()));
        } else {
            awaitAnswer(sent);
        }
    }

    private void evaluate(Task task) {
        long round = task.getRound();
        ensureModel(task.getModelVersion());
        EvaluateTask evaluateTask = Protos.evaluateTask(task);
        long start = nanoTime.getAsLong();
        EvaluationResult result =
                adapterCall("evaluate", round, () -> adapter.evaluate(evaluateTask));
        double seconds = (nanoTime.getAsLong() - start) / 1e9;
        call(
                "evaluation report",
                true,
                () ->
                        blockingStub(options.callTimeout())
                                .submitEvaluation(
                                        EvaluationReport.newBuilder()
                                                .setCredentials(credentials)
                                                .setTaskId(task.getTaskId())
                                                .setRound(round)
                                                .setNumExamples(result.numExamples())
                                                .putAllMetrics(result.metrics())
                                                .build()));
        evaluationsDone++;
        LOG.info(
                String.format(
                        "round %d: evaluated model version %d on %d examples in %.1f s%s;"
                                + " reported",
                        round,
                        task.getModelVersion(),
                        result.numExamples(),
                        seconds,
                        Protos.formatMetrics(result.metrics())));
    }

    private void uploadInitialModel() {
        if (!outstanding.isEmpty()) {
            // Only a federation without a model asks for one, and then no update is outstanding.
            LOG.warn(
                    "the gateway asks for an initial model while updates await their"
                            + " acknowledgement ({}); not sending one",
                    outstanding.describe(nanoTime.getAsLong()));
            return;
        }
        List<NamedTensor> weights = adapterCall("getWeights", 0, adapter::getWeights);
        // Threshold mode: the initial weights go in plaintext (they hold no training data, and
        // the committee's key does not exist yet).
        Upload model = upload(weights, secure);
        PendingUpdate update =
                new PendingUpdate(
                        0,
                        0,
                        adapter.numTrainingExamples(),
                        0,
                        Map.of(),
                        null,
                        model,
                        true,
                        "initial model");
        awaitAnswer(submit(INITIAL_TASK_ID, update, false));
    }

    /**
     * An update kept until it is answered: what its header carries besides the credentials, its
     * wire form, and the start of its log line.
     */
    private record PendingUpdate(
            long round,
            long baseVersion,
            long numTrainingExamples,
            long numCompletedBatches,
            Map<String, Double> metrics,
            Boolean unclipped,
            Upload model,
            boolean initial,
            String trained) {}

    /** Records an update as outstanding and sends it; its answer comes as an event. */
    private OutstandingUpdates.Entry<PendingUpdate> submit(
            String taskId, PendingUpdate update, boolean pipelined) {
        OutstandingUpdates.Entry<PendingUpdate> e =
                outstanding.add(
                        taskId,
                        update.round(),
                        pipelined,
                        update,
                        nanoTime.getAsLong(),
                        connection);
        unacknowledged = outstanding.size();
        send(e, e.attempt());
        return e;
    }

    /** Sends every outstanding update not yet sent on the current connection, oldest first. */
    private void resendOutstanding() {
        for (OutstandingUpdates.Entry<PendingUpdate> e : outstanding.inOrder()) {
            if (e.sentOn() != connection && outstanding.get(e.taskId()) == e) {
                LOG.info(
                        "round {}: sending the update of task {} again (not acknowledged yet)",
                        e.round(),
                        e.taskId());
                send(e, outstanding.resend(e, connection));
            }
        }
    }

    /** One upload call of an outstanding update; the answer or failure is queued as an event. */
    private void send(OutstandingUpdates.Entry<PendingUpdate> e, int attempt) {
        checkNotClosing();
        PendingUpdate p = e.payload();
        String taskId = e.taskId();
        // Built per attempt: a re-join changes the credentials.
        UpdateHeader.Builder header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId(taskId)
                        .setRound(p.round())
                        .setBaseModelVersion(p.baseVersion())
                        .setNumTrainingExamples(p.numTrainingExamples())
                        .setNumCompletedBatches(p.numCompletedBatches())
                        .addAllTensors(p.model().specs())
                        .putAllMetrics(p.metrics());
        if (p.unclipped() != null) {
            header.setUnclipped(p.unclipped());
        }
        if (p.model().encryption() != null) {
            header.setEncryption(p.model().encryption());
        }
        renewTokenIfDue();
        try {
            UpdateUpload.send(
                    channels.channel(),
                    callCredentials,
                    header.build(),
                    TensorCodec.chunks(p.model().data(), chunkBytes()),
                    options.transferTimeout(),
                    a -> events.add(new UploadAnswered(taskId, attempt, a.response(), a.error())));
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new Stop("interrupted");
        }
    }

    /** Takes in events (queuing tasks that arrive) until this update is answered. */
    private void awaitAnswer(OutstandingUpdates.Entry<PendingUpdate> e) {
        while (outstanding.get(e.taskId()) == e) {
            dispatch(nextEvent(homeWait()));
        }
    }

    /** Settles an outstanding update: acknowledged, refused (dropped), or sent again. */
    private void onUploadAnswered(UploadAnswered a) {
        OutstandingUpdates.Entry<PendingUpdate> e = outstanding.get(a.taskId());
        if (e == null) {
            // Answered already: an earlier attempt's answer came after the resend's.
            return;
        }
        if (a.error() == null) {
            acknowledged(e, a.response());
            return;
        }
        if (a.attempt() != e.attempt()) {
            // The failure of a call already replaced by a resend.
            return;
        }
        checkNotClosing();
        Status status = a.error().getStatus();
        String what =
                e.payload().initial()
                        ? "upload of the initial model"
                        : "upload of the update for round " + e.round();
        switch (Failures.classify(a.error())) {
            case RETRY -> {
                if (e.sentOn() == connection) {
                    reconnect(what, status); // sends every outstanding update again
                } else {
                    send(e, outstanding.resend(e, connection));
                }
            }
            case REJOIN -> {
                if (e.sentOn() == connection) {
                    rejoin(what, status); // sends every outstanding update again
                } else {
                    send(e, outstanding.resend(e, connection));
                }
            }
            case REJECTED -> dropped(e, Kind.REJECTED, status);
            case INVALID -> dropped(e, Kind.INVALID, status);
            default ->
                    throw new LearnerException(
                            what
                                    + " failed at gateway "
                                    + channels.address()
                                    + ": "
                                    + Failures.describe(status)
                                    + "; retrying cannot fix this, so the learner stops");
        }
    }

    private void acknowledged(OutstandingUpdates.Entry<PendingUpdate> e, SubmitUpdateResponse r) {
        outstanding.remove(e.taskId());
        unacknowledged = outstanding.size();
        failedAttempts = 0;
        everAnswered = true;
        consecutiveRejoins = 0;
        String outcome =
                r.getStatus() == SubmitUpdateResponse.Status.DUPLICATE
                        ? "duplicate (already accepted)"
                        : "accepted";
        PendingUpdate p = e.payload();
        if (p.initial()) {
            LOG.info(
                    "uploaded this learner's weights as the initial model ({} tensors, {} bytes):"
                            + " {}",
                    p.model().specs().size(),
                    p.model().data().size(),
                    outcome);
            return;
        }
        roundsTrained++;
        completed.add(e.taskId());
        if (e.pipelined()) {
            long now = nanoTime.getAsLong();
            LOG.info(
                    String.format(
                            "round %d: update of task %s %s, acknowledged %.1f s after it was"
                                    + " sent; unacknowledged: %s",
                            e.round(),
                            e.taskId(),
                            outcome,
                            (now - e.firstSentNanos()) / 1e9,
                            outstanding.describe(now)));
        } else {
            LOG.info(p.trained() + "; update " + outcome);
        }
    }

    private void dropped(OutstandingUpdates.Entry<PendingUpdate> e, Kind kind, Status status) {
        outstanding.remove(e.taskId());
        unacknowledged = outstanding.size();
        PendingUpdate p = e.payload();
        if (p.initial()) {
            if (kind == Kind.REJECTED) {
                LOG.info(
                        "the gateway took another learner's initial model ({})",
                        Failures.describe(status));
            } else {
                LOG.error(
                        "the gateway rejected this learner's initial model ({})",
                        Failures.describe(status));
            }
            return;
        }
        updatesDropped++;
        String line =
                String.format(
                        "%s; update dropped, %s (%s)%s",
                        p.trained(),
                        kind == Kind.REJECTED ? "refused" : "rejected as invalid",
                        Failures.describe(status),
                        e.pipelined()
                                ? "; task "
                                        + e.taskId()
                                        + ", unacknowledged: "
                                        + outstanding.describe(nanoTime.getAsLong())
                                : "");
        if (kind == Kind.REJECTED) {
            LOG.warn(line);
        } else {
            LOG.error(line);
        }
    }

    /** An update's wire form: plaintext specs, data bytes, and their encryption (or null). */
    private record Upload(List<TensorSpec> specs, ByteString data, Encryption encryption) {}

    /** Encrypts {@code weights - base} shard by shard (FedBuff over ciphertexts). */
    private Upload deltaUpload(List<NamedTensor> weights, List<NamedTensor> base) {
        SecureAggregation.EncryptedModel model = secure.encryptDelta(weights, base);
        return new Upload(model.specs(), model.data(), model.encryption());
    }

    /** Encodes an update, encrypting it shard by shard with {@code secure} unless it is null. */
    private Upload upload(List<NamedTensor> weights, SecureAggregation secure) {
        if (secure == null) {
            EncodedModel model = TensorCodec.encode(weights);
            return new Upload(model.specs(), model.data(), null);
        }
        long start = nanoTime.getAsLong();
        SecureAggregation.EncryptedModel model = secure.encrypt(weights);
        LOG.debug(
                "encrypted the update into {} shards, {} bytes, in {} ms",
                model.encryption().getShardBytesCount(),
                model.data().size(),
                (nanoTime.getAsLong() - start) / 1_000_000);
        return new Upload(model.specs(), model.data(), model.encryption());
    }

    /** Chunk size: the configured bound, and 64 KiB below the gateway's message limit. */
    int chunkBytes() {
        return chunkBytes(options.maxChunkBytes(), maxMessageBytes);
    }

    static int chunkBytes(int configured, int gatewayMaxMessageBytes) {
        if (gatewayMaxMessageBytes <= 0) {
            return configured;
        }
        int limit = gatewayMaxMessageBytes - MESSAGE_HEADROOM_BYTES;
        if (limit <= 0) {
            limit = Math.max(1, gatewayMaxMessageBytes / 2);
        }
        return Math.min(configured, limit);
    }

    /** Loads the global model of this version into the adapter unless it already holds it. */
    private void ensureModel(long version) {
        if (version >= 0 && version == loadedModelVersion) {
            return;
        }
        DownloadedModel model = call("model download", true, this::downloadModel);
        if (model.version() < version) {
            LOG.warn(
                    "the task asks for model version {} but the gateway served version {}; using"
                            + " that",
                    version,
                    model.version());
        }
        try {
            adapter.setWeights(model.tensors());
        } catch (RuntimeException e) {
            throw new LearnerException(
                    "the global model (version "
                            + model.version()
                            + ", tensors "
                            + model.tensors()
                            + ") does not fit the local model: "
                            + e.getMessage()
                            + "; every learner of a federation must build the same model",
                    e);
        }
        loadedModelVersion = model.version();
        lastModelVersion = model.version();
    }

    private record DownloadedModel(long version, List<NamedTensor> tensors) {}

    private DownloadedModel downloadModel() {
        GetModelRequest request = GetModelRequest.newBuilder().setCredentials(credentials).build();
        // A child context, so that a download abandoned half-way is cancelled at once.
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            Iterator<ModelChunk> chunks = blockingStub(options.transferTimeout()).getModel(request);
            if (!chunks.hasNext()) {
                throw protocolError("ended the model download without sending a header");
            }
            ModelChunk first = chunks.next();
            if (!first.hasHeader()) {
                throw protocolError("sent model data before the model header");
            }
            ModelHeader header = first.getHeader();
            if (header.hasEncryption() && threshold != null) {
                throw protocolError(
                        "sent an encrypted model (version "
                                + header.getModelVersion()
                                + ") in a threshold federation, whose models are plaintext");
            }
            if (header.hasEncryption() && secure == null) {
                throw protocolError(
                        "sent an encrypted model (version "
                                + header.getModelVersion()
                                + ") to a learner that joined a plaintext federation");
            }
            if (!header.hasEncryption() && secure != null && header.getModelVersion() > 0) {
                throw protocolError(
                        "sent a plaintext model (version "
                                + header.getModelVersion()
                                + ") in a federation with secure aggregation");
            }
            try {
                if (header.hasEncryption()) {
                    SecureAggregation.Decryptor decryptor =
                            secure.decryptor(
                                    header.getTensorsList(),
                                    header.getTotalBytes(),
                                    header.getEncryption());
                    while (chunks.hasNext()) {
                        ModelChunk chunk = chunks.next();
                        if (!chunk.hasData()) {
                            throw protocolError("sent a second model header in one download");
                        }
                        decryptor.append(chunk.getData());
                    }
                    return new DownloadedModel(header.getModelVersion(), decryptor.finish());
                }
                TensorCodec.Assembler assembler =
                        TensorCodec.assembler(header.getTensorsList(), header.getTotalBytes());
                while (chunks.hasNext()) {
                    ModelChunk chunk = chunks.next();
                    if (!chunk.hasData()) {
                        throw protocolError("sent a second model header in one download");
                    }
                    assembler.append(chunk.getData());
                }
                return new DownloadedModel(header.getModelVersion(), assembler.finish());
            } catch (SecureAggregation.DecryptionFailed e) {
                throw new LearnerException(
                        "could not decrypt the global model (version "
                                + header.getModelVersion()
                                + ") from gateway "
                                + channels.address()
                                + ": "
                                + e.getMessage()
                                + "; every learner of the federation needs the same key bundle"
                                + " (the ckks-secret.key that 'metisfl keys generate' wrote for"
                                + " it)",
                        e);
            } catch (IllegalArgumentException e) {
                throw protocolError(
                        "sent a malformed model (version "
                                + header.getModelVersion()
                                + "): "
                                + e.getMessage());
            }
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    private LearnerException protocolError(String what) {
        return new LearnerException(
                "gateway "
                        + channels.address()
                        + " "
                        + what
                        + "; the gateway and this learner disagree on the protocol");
    }

    private <T> T adapterCall(String method, long round, Supplier<T> body) {
        try {
            return body.get();
        } catch (RuntimeException e) {
            throw new LearnerException(
                    "the model adapter's "
                            + method
                            + "() failed in round "
                            + round
                            + ": "
                            + e.getMessage(),
                    e);
        }
    }

    /** Ends run() without an error: the user closed the learner or interrupted its thread. */
    private static final class Stop extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Stop(String reason) {
            super(reason, null, false, false);
        }
    }

    /** The gateway refused one piece of work (an update, a report, a download): skip it. */
    private static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Kind kind;
        final String what;
        final transient Status status;

        Refused(Kind kind, String what, Status status) {
            super(what + ": " + Failures.describe(status), null, false, false);
            this.kind = kind;
            this.what = what;
            this.status = status;
        }
    }
}
