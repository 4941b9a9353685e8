package org.metisfl.simulator;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.transport.TransportSecurity;
import org.metisfl.transport.WireTuning;

/**
 * Thousands of lightweight learners in one JVM, for benchmarks and load tests: no training, a
 * synthetic update of a chosen size, and every learner multiplexed over a handful of shared HTTP/2
 * channels. Each learner joins, holds a task stream, and for each training task optionally
 * downloads the global model (GetModel) and uploads its update in chunks (SubmitUpdate), answering
 * evaluation tasks with fixed metrics (SubmitEvaluation). It records, per round, when tasks arrived
 * and uploads were sent and acknowledged ({@link SimulationReport}).
 *
 * <pre>{@code
 * try (SimulatedFederation sim = SimulatedFederation.builder()
 *         .gateway("127.0.0.1", 50051)
 *         .learners(1_000)
 *         .channels(8)
 *         .modelValues(100_000) // must match the global model: one tensor "w" of 100,000 floats
 *         .timeout(Duration.ofMinutes(5))
 *         .build()) {
 *     SimulationReport report = sim.run(); // until the federation shuts the learners down
 * }
 * }</pre>
 *
 * <p>Bounded in count ({@value #MAX_LEARNERS} learners) and in time ({@link Builder#timeout}): past
 * the time bound every call is cancelled and the report says it timed out. Simulated learners do
 * not reconnect: a broken task stream ends that learner and counts as a failure.
 */
public final class SimulatedFederation implements AutoCloseable {

    /** The most learners one simulation holds. */
    public static final int MAX_LEARNERS = 200_000;

    /** The most channels one simulation opens. */
    public static final int MAX_CHANNELS = 1_024;

    private static final int MAX_FAILURE_SAMPLES = 10;
    private static final int MAX_INBOUND_MESSAGE_BYTES = 64 << 20;

    private final Builder config;
    private final List<TensorSpec> specs;
    private final SyntheticUpdates updates;
    private final EventLoopGroup eventLoop;
    private final ExecutorService executor;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<SimulatedLearner> learners = new ArrayList<>();
    private final UploadGate transfers;
    private final boolean transferEndsAtAck;
    private final UploadGate joins;
    private final AckLatencies ackLatencies = new AckLatencies();
    private final AtomicLong acknowledged = new AtomicLong();
    private final Map<Long, RoundRecorder> rounds = new ConcurrentHashMap<>();
    private final AtomicInteger joined = new AtomicInteger();
    private final AtomicInteger joinAnswers = new AtomicInteger();
    private final AtomicInteger streamsOpened = new AtomicInteger();
    private final AtomicInteger shutdowns = new AtomicInteger();
    private final AtomicInteger ended = new AtomicInteger();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong joinRetries = new AtomicLong();
    private final ConcurrentLinkedQueue<String> failureSamples = new ConcurrentLinkedQueue<>();
    private final AtomicReference<String> shutdownReason = new AtomicReference<>("");
    private final CountDownLatch allEnded;
    private final CountDownLatch allJoinAnswers;
    private volatile long startedAt;
    private volatile long allJoinedAt;
    private volatile long allStreamsOpenedAt;
    private volatile long endedAt;
    private volatile boolean started;
    private volatile boolean closing;
    private volatile boolean timedOut;

    private SimulatedFederation(Builder b) {
        this.config = b;
        this.specs = List.copyOf(b.specs);
        long values = 0;
        for (TensorSpec s : specs) {
            long n = 1;
            for (long d : s.getShapeList()) {
                n *= d;
            }
            values += n;
        }
        this.updates =
                new SyntheticUpdates(
                        b.seed, Math.min(b.distinctUpdates, b.learners), values, b.chunkBytes);
        AtomicInteger n = new AtomicInteger();
        ThreadFactory threads =
                r -> {
                    Thread t = new Thread(r, "metisfl-sim-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                };
        this.eventLoop = b.wire.newEventLoopGroup(b.eventLoopThreads, threads);
        this.executor = Executors.newFixedThreadPool(2, threads);
        this.transfers = new UploadGate(b.maxConcurrentTransfers, executor);
        this.transferEndsAtAck = b.transferEndsAtAck;
        this.joins = new UploadGate(b.joinConcurrency, executor);
        this.allEnded = new CountDownLatch(b.learners);
        this.allJoinAnswers = new CountDownLatch(b.learners);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Opens the channels and starts every learner (Join, then its task stream) without waiting. */
    public synchronized SimulatedFederation start() {
        if (started) {
            throw new IllegalStateException("a simulation starts once; build a new one");
        }
        started = true;
        startedAt = Micros.now();
        // Read and checked once: every channel of the simulation shares the credentials.
        ChannelCredentials credentials = config.transport.channelCredentials();
        int perGateway = Math.max(1, config.channels / config.gateways.size());
        for (int g = 0; g < config.gateways.size(); g++) {
            String[] hostPort = config.gateways.get(g);
            int count = g < config.channels % config.gateways.size() ? perGateway + 1 : perGateway;
            for (int c = 0; c < count; c++) {
                NettyChannelBuilder cb =
                        NettyChannelBuilder.forAddress(
                                        hostPort[0], Integer.parseInt(hostPort[1]), credentials)
                                .eventLoopGroup(eventLoop)
                                .directExecutor()
                                .maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)
                                .keepAliveTime(30, TimeUnit.SECONDS)
                                .keepAliveWithoutCalls(true)
                                .disableRetry();
                // The learners' transport settings (WireTuning), as the learner library's.
                config.wire.applyTo(cb, true);
                if (config.flowControlWindow > 0) {
                    cb.flowControlWindow(config.flowControlWindow);
                }
                channels.add(cb.build());
            }
        }
        for (int i = 0; i < config.learners; i++) {
            ManagedChannel ch = channels.get(i % channels.size());
            learners.add(new SimulatedLearner(this, i, LearnerServiceGrpc.newStub(ch)));
        }
        for (SimulatedLearner l : learners) {
            joins.submit(
                    () ->
                            l.join(
                                    () -> {
                                        if (joinAnswers.incrementAndGet() == config.learners
                                                && joined.get() == config.learners) {
                                            allJoinedAt = Micros.now();
                                        }
                                        allJoinAnswers.countDown();
                                        joins.release();
                                    }));
        }
        return this;
    }

    /**
     * Waits until every Join has an answer (each joined learner then has its task stream call
     * started; that the gateway holds it shows only when a task arrives on it).
     *
     * @return true if all learners joined in time
     */
    public boolean awaitJoined(Duration timeout) throws InterruptedException {
        if (!allJoinAnswers.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return false;
        }
        return joined.get() == config.learners;
    }

    /** Starts the simulation and waits for its end (the federation's Shutdown or the timeout). */
    public SimulationReport run() throws InterruptedException {
        start();
        return awaitCompletion(config.timeout);
    }

    /**
     * Waits until every learner has ended, at most {@code timeout} (and never past the simulation's
     * own time bound); then returns the report. Learners still running are left running unless the
     * simulation's time bound has passed.
     */
    public SimulationReport awaitCompletion(Duration timeout) throws InterruptedException {
        long boundLeft = config.timeout.toNanos() - (Micros.now() - startedAt) * 1000L;
        long wait = Math.min(timeout.toNanos(), Math.max(0, boundLeft));
        if (!allEnded.await(wait, TimeUnit.NANOSECONDS) && wait == Math.max(0, boundLeft)) {
            timedOut = true;
            closing = true;
            learners.forEach(SimulatedLearner::cancel);
        }
        return report();
    }

    /** A snapshot of what the learners have seen so far. */
    public SimulationReport report() {
        List<RoundTimeline> timelines = new ArrayList<>();
        for (RoundRecorder r : rounds.values()) {
            timelines.add(r.snapshot());
        }
        timelines.sort(Comparator.comparingLong(RoundTimeline::round));
        long end = endedAt == 0 ? Micros.now() : endedAt;
        return new SimulationReport(
                config.learners,
                joined.get(),
                streamsOpened.get(),
                shutdowns.get(),
                ended.get(),
                timedOut,
                failures.get(),
                new ArrayList<>(failureSamples),
                shutdownReason.get(),
                startedAt,
                allJoinedAt,
                allStreamsOpenedAt,
                end,
                timelines,
                ackLatencies.snapshot());
    }

    /** Learners whose Join succeeded so far. */
    public int joinedLearners() {
        return joined.get();
    }

    /** Learners that have ended so far (cheap, unlike {@link #report()}). */
    public int endedLearners() {
        return ended.get();
    }

    /** Updates acknowledged so far over every round (cheap, unlike {@link #report()}). */
    public long acknowledged() {
        return acknowledged.get();
    }

    /** Joins refused with RESOURCE_EXHAUSTED (the gateway's join rate) and tried again. */
    public long joinRetries() {
        return joinRetries.get();
    }

    /** Updates acknowledged so far in {@code round}. */
    public int acks(long round) {
        RoundRecorder r = rounds.get(round);
        return r == null ? 0 : r.acks.get();
    }

    /** Cancels every call still running and releases the channels and threads. */
    @Override
    public void close() {
        closing = true;
        learners.forEach(SimulatedLearner::cancel);
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels) {
            try {
                c.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        executor.shutdownNow();
        eventLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    // ---- called by the learners (package-private) ----

    RoundRecorder round(long round) {
        return rounds.computeIfAbsent(round, RoundRecorder::new);
    }

    void joined() {
        joined.incrementAndGet();
    }

    /**
     * Runs {@code retry} after {@code delayMs} on the simulation's event loop, counted as a join
     * retry; false (nothing scheduled) once the simulation is closing.
     */
    boolean retryJoinLater(Runnable retry, long delayMs) {
        if (closing || shutdowns.get() > 0) {
            return false;
        }
        joinRetries.incrementAndGet();
        eventLoop.schedule(retry, delayMs, TimeUnit.MILLISECONDS);
        return true;
    }

    void streamOpened() {
        if (streamsOpened.incrementAndGet() == config.learners) {
            allStreamsOpenedAt = Micros.now();
        }
    }

    void shutdown(String reason) {
        shutdowns.incrementAndGet();
        shutdownReason.compareAndSet("", reason);
    }

    void ended() {
        if (ended.incrementAndGet() == config.learners) {
            endedAt = Micros.now();
        }
        allEnded.countDown();
    }

    void failed(RoundRecorder r, String call, Throwable t) {
        if (closing || shutdowns.get() > 0 || federationOver(t)) {
            return; // calls cut by the end of the federation or of the simulation are no failures
        }
        failures.incrementAndGet();
        if (r != null) {
            r.failures.incrementAndGet();
        }
        if (failureSamples.size() < MAX_FAILURE_SAMPLES) {
            Status s = Status.fromThrowable(t);
            failureSamples.add(
                    call
                            + (r == null ? "" : " (round " + r.round + ")")
                            + ": "
                            + s.getCode()
                            + " "
                            + (s.getDescription() == null ? t.toString() : s.getDescription()));
        }
    }

    /** The gateway's answer to a call made after the federation ended (its Shutdown follows). */
    private static boolean federationOver(Throwable t) {
        Status s = Status.fromThrowable(t);
        return s.getCode() == Status.Code.FAILED_PRECONDITION
                && s.getDescription() != null
                && s.getDescription().startsWith("the federation is over");
    }

    boolean isClosing() {
        return closing;
    }

    boolean transferEndsAtAck() {
        return transferEndsAtAck;
    }

    boolean fetchModel() {
        return config.fetchModel;
    }

    ModelListener modelListener(int learnerIndex) {
        return learnerIndex == 0 ? config.modelListener : null;
    }

    boolean trains(int learnerIndex) {
        return learnerIndex < config.trainingLearners;
    }

    boolean evaluate() {
        return config.evaluate;
    }

    long examples() {
        return config.examples;
    }

    String namePrefix() {
        return config.namePrefix;
    }

    long callTimeoutNanos() {
        return config.callTimeout.toNanos();
    }

    long timeoutNanos() {
        return config.timeout.toNanos();
    }

    List<TensorSpec> specs() {
        return specs;
    }

    SyntheticUpdates updates() {
        return updates;
    }

    UploadGate transfers() {
        return transfers;
    }

    void acknowledgedOne() {
        acknowledged.incrementAndGet();
    }

    AckLatencies ackLatencies() {
        return ackLatencies;
    }

    /**
     * The synthetic update values of variant {@code variant} (learner i sends variant i mod {@link
     * Builder#distinctUpdates}), e.g. to check an aggregate in a test.
     */
    public static float[] syntheticUpdate(long seed, int variant, int values) {
        return SyntheticUpdates.values(seed, variant, values);
    }

    /** Receives a downloaded global model. */
    @FunctionalInterface
    public interface ModelListener {
        /**
         * @param version the model version (the round that produced it; 0 = initial model)
         * @param values the model's values, all tensors concatenated in order
         */
        void onModel(long version, float[] values);
    }

    /** Settings of a simulation; {@link #build()} validates them. */
    public static final class Builder {
        private final List<String[]> gateways = new ArrayList<>();
        private final List<TensorSpec> specs = new ArrayList<>();
        private int learners = 10;
        private int trainingLearners = -1;
        private int channels = -1;
        private int chunkBytes = 1 << 20;
        private boolean fetchModel = true;
        private boolean evaluate = true;
        private long examples = 100;
        private int distinctUpdates = 2;
        private int maxConcurrentTransfers = 0;
        private boolean transferEndsAtAck;
        private int joinConcurrency = 512;
        private int eventLoopThreads = 2;
        private int flowControlWindow = 0;
        private Duration timeout = Duration.ofMinutes(10);
        private Duration callTimeout = Duration.ofMinutes(2);
        private String namePrefix = "sim";
        private long seed = 42;
        private ModelListener modelListener;
        private TransportSecurity transport = TransportSecurity.insecure();
        private WireTuning wire = WireTuning.defaults();

        Builder() {}

        /**
         * Transport settings of the learners' channels (default: {@link WireTuning#defaults()}, as
         * the learner library's).
         */
        public Builder wire(WireTuning wire) {
            this.wire = java.util.Objects.requireNonNull(wire, "wire");
            return this;
        }

        /**
         * How the learners' channels are protected (the same seam the learner library uses): TLS
         * trusting the gateway's CA, mutual TLS with a learner certificate (all simulated learners
         * then share that one identity), or plaintext. Default: plaintext, for a gateway run with
         * {@code security.insecure: true}.
         */
        public Builder transport(TransportSecurity transport) {
            this.transport = java.util.Objects.requireNonNull(transport, "transport");
            return this;
        }

        /**
         * Receives every global model learner 0 downloads (decoded), e.g. to check the aggregate in
         * a test. Costs one model copy per round; leave unset in benchmarks.
         */
        public Builder modelListener(ModelListener listener) {
            this.modelListener = listener;
            return this;
        }

        /** A gateway to connect to; learners and channels spread round-robin over all given. */
        public Builder gateway(String host, int port) {
            gateways.add(new String[] {host, Integer.toString(port)});
            return this;
        }

        /** Number of learners, 1 to {@value #MAX_LEARNERS}. Default 10. */
        public Builder learners(int n) {
            this.learners = n;
            return this;
        }

        /**
         * Only the first {@code n} learners answer training tasks; the others join, hold their task
         * streams and record their tasks, but never download or upload (registered learners a round
         * does not hear from). Default: all learners.
         */
        public Builder trainingLearners(int n) {
            this.trainingLearners = n;
            return this;
        }

        /** Number of HTTP/2 channels all learners share. Default min(learners, 4). */
        public Builder channels(int k) {
            this.channels = k;
            return this;
        }

        /** The update is one float32 tensor named "w" with {@code values} values. */
        public Builder modelValues(long values) {
            specs.clear();
            return tensor("w", values);
        }

        /** Adds a float32 tensor to the update's layout (must match the global model's). */
        public Builder tensor(String name, long... shape) {
            TensorSpec.Builder s = TensorSpec.newBuilder().setName(name).setDtype(DType.FLOAT32);
            for (long d : shape) {
                s.addShape(d);
            }
            specs.add(s.build());
            return this;
        }

        /** Bytes of tensor data per upload message. Default 1 MiB. */
        public Builder chunkBytes(int bytes) {
            this.chunkBytes = bytes;
            return this;
        }

        /** Whether each training task first downloads the global model. Default true. */
        public Builder fetchModel(boolean fetch) {
            this.fetchModel = fetch;
            return this;
        }

        /** Whether evaluation tasks are answered (with fixed metrics). Default true. */
        public Builder evaluate(boolean evaluate) {
            this.evaluate = evaluate;
            return this;
        }

        /** Training (and test) examples each learner reports: its FedAvg weight. Default 100. */
        public Builder examples(long examples) {
            this.examples = examples;
            return this;
        }

        /** Distinct synthetic updates held in memory and shared by the learners. Default 2. */
        public Builder distinctUpdates(int n) {
            this.distinctUpdates = n;
            return this;
        }

        /**
         * Learners transferring (model download plus update upload) at once, at most; the others
         * wait their turn. 0 (default): no bound, every learner transfers at once, which needs
         * memory for all their bytes in flight in this JVM and in the gateway.
         */
        public Builder maxConcurrentTransfers(int n) {
            this.maxConcurrentTransfers = n;
            return this;
        }

        /**
         * Whether a learner's transfer slot ({@link #maxConcurrentTransfers}) is held until its
         * update is acknowledged, as by a learner that waits for its acknowledgement before its
         * next upload. Default false: the slot is given back when the learner's next task comes
         * (the gateway sends it once the update is accepted), or at the acknowledgement if that
         * comes first.
         */
        public Builder transferEndsAtAck(boolean atAck) {
            this.transferEndsAtAck = atAck;
            return this;
        }

        /** Joins in flight at most. Default 512. */
        public Builder joinConcurrency(int n) {
            this.joinConcurrency = n;
            return this;
        }

        /** Netty event-loop threads that run every channel and callback. Default 2. */
        public Builder eventLoopThreads(int n) {
            this.eventLoopThreads = n;
            return this;
        }

        /** HTTP/2 flow-control window of each channel in bytes (0: gRPC's default). */
        public Builder flowControlWindow(int bytes) {
            this.flowControlWindow = bytes;
            return this;
        }

        /** Bound on the whole simulation's time. Default 10 minutes. */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Deadline of each Join, GetModel, SubmitUpdate and SubmitEvaluation. Default 2 min. */
        public Builder callTimeout(Duration timeout) {
            this.callTimeout = timeout;
            return this;
        }

        /** Learner names are {@code prefix-index}. Default "sim". */
        public Builder namePrefix(String prefix) {
            this.namePrefix = prefix;
            return this;
        }

        /** Seed of the synthetic update values. Default 42. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public SimulatedFederation build() {
            if (gateways.isEmpty()) {
                throw new IllegalArgumentException(
                        "no gateway: call gateway(host, port) at least once");
            }
            if (learners < 1 || learners > MAX_LEARNERS) {
                throw new IllegalArgumentException(
                        "learners is "
                                + learners
                                + "; it must be between 1 and "
                                + MAX_LEARNERS
                                + " (run several simulations for more)");
            }
            if (trainingLearners == -1) {
                trainingLearners = learners;
            }
            if (trainingLearners < 0 || trainingLearners > learners) {
                throw new IllegalArgumentException(
                        "trainingLearners is "
                                + trainingLearners
                                + "; it must be between 0 and learners ("
                                + learners
                                + ")");
            }
            if (channels == -1) {
                channels = Math.min(learners, 4);
            }
            if (channels < gateways.size() || channels > MAX_CHANNELS || channels > learners) {
                throw new IllegalArgumentException(
                        "channels is "
                                + channels
                                + "; it must be at least the number of gateways ("
                                + gateways.size()
                                + ") and at most min(learners, "
                                + MAX_CHANNELS
                                + ")");
            }
            if (specs.isEmpty()) {
                throw new IllegalArgumentException(
                        "the update has no tensor: call modelValues(n) or tensor(name, shape)");
            }
            long values = 0;
            for (TensorSpec s : specs) {
                long n = 1;
                for (long d : s.getShapeList()) {
                    if (d < 0) {
                        throw new IllegalArgumentException(
                                "tensor '" + s.getName() + "' has a negative dimension");
                    }
                    n *= d;
                }
                values += n;
            }
            if (values < 1 || values > (Integer.MAX_VALUE - 8) / Float.BYTES) {
                throw new IllegalArgumentException(
                        "the update holds "
                                + values
                                + " values; it must hold 1 to "
                                + (Integer.MAX_VALUE - 8) / Float.BYTES);
            }
            if (chunkBytes < 1024 || chunkBytes > 16 << 20) {
                throw new IllegalArgumentException(
                        "chunkBytes is "
                                + chunkBytes
                                + "; use 1 KiB to 16 MiB, below the gateway's max message size");
            }
            if (examples < 1) {
                throw new IllegalArgumentException(
                        "examples is " + examples + "; it weighs updates and must be >= 1");
            }
            if (distinctUpdates < 1 || maxConcurrentTransfers < 0 || joinConcurrency < 1) {
                throw new IllegalArgumentException(
                        "distinctUpdates and joinConcurrency must be >= 1 and"
                                + " maxConcurrentTransfers >= 0");
            }
            if (eventLoopThreads < 1 || flowControlWindow < 0) {
                throw new IllegalArgumentException(
                        "eventLoopThreads must be >= 1 and flowControlWindow >= 0");
            }
            if (timeout.isNegative() || timeout.isZero() || callTimeout.isNegative()) {
                throw new IllegalArgumentException("timeout and callTimeout must be positive");
            }
            return new SimulatedFederation(this);
        }
    }
}
