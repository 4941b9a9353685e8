package org.metisfl.simulator;

import com.google.protobuf.ByteString;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLSession;
import org.metisfl.proto.v1.EvaluateTask;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.Shutdown;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitEvaluationResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.TrainTask;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.LeasedMessage;
import org.metisfl.transport.TransportSecurity;
import org.metisfl.transport.WireTuning;
import org.metisfl.transport.ZeroCopyRequests;

/**
 * A trivial learner gateway that speaks the learner contract and discards every update byte: the
 * transport's ceiling for benchmarks (what gRPC alone moves over loopback), and a fake for tests.
 * It runs synchronous rounds: once {@code participants} learners hold task streams it sends each a
 * training task; when all have uploaded, the next round; after the last, a Shutdown. The global
 * model it serves is zeros.
 *
 * <pre>{@code
 * try (DiscardingGateway g = DiscardingGateway.builder().participants(10).rounds(3)
 *         .modelValues(1_000_000).build().start()) {
 *     // simulated learners against 127.0.0.1:g.port()
 * }
 * }</pre>
 */
public final class DiscardingGateway implements AutoCloseable {
    private final Builder config;
    private final long modelBytes;
    private final ByteString zeros;
    private final Map<String, ServerCallStreamObserver<Task>> streams = new ConcurrentHashMap<>();
    private final Set<String> uploadedThisRound = ConcurrentHashMap.newKeySet();
    private final AtomicInteger joins = new AtomicInteger();
    private final AtomicInteger updates = new AtomicInteger();
    private final AtomicInteger evaluations = new AtomicInteger();
    private final AtomicInteger rejected = new AtomicInteger();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final AtomicReference<String> negotiated = new AtomicReference<>("");
    private final List<Long> roundStartsUs = new ArrayList<>();
    private final List<Long> roundEndsUs = new ArrayList<>();
    private long round; // guarded by this
    private Server server;
    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private ExecutorService executor;

    private DiscardingGateway(Builder b) {
        this.config = b;
        this.modelBytes = b.modelValues * Float.BYTES;
        this.zeros = ByteString.copyFrom(new byte[(int) Math.min(modelBytes, b.chunkBytes)]);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Starts listening on 127.0.0.1 (the configured port, or a free one). */
    public DiscardingGateway start() throws IOException {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory threads =
                r -> {
                    Thread t = new Thread(r, "metisfl-discarding-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                };
        boss = config.wire.newEventLoopGroup(1, threads);
        workers = config.wire.newEventLoopGroup(config.workerThreads, threads);
        NettyServerBuilder sb =
                NettyServerBuilder.forAddress(
                                new InetSocketAddress("127.0.0.1", config.port),
                                config.transport.serverCredentials())
                        .bossEventLoopGroup(boss)
                        .workerEventLoopGroup(workers)
                        .maxInboundMessageSize(config.maxMessageBytes)
                        .permitKeepAliveTime(10, TimeUnit.SECONDS)
                        .permitKeepAliveWithoutCalls(true)
                        .addService(
                                ServerInterceptors.intercept(
                                        // Upload chunks parsed like the real gateway's: views of
                                        // the receive buffers, no copy (ZeroCopyRequests).
                                        ZeroCopyRequests.bind(
                                                new Service().bindService(),
                                                LearnerServiceGrpc.getSubmitUpdateMethod(),
                                                UpdateChunk.DATA_FIELD_NUMBER,
                                                this::receiveUpdate),
                                        new SessionRecorder()));
        // The gateway's transport settings (WireTuning): channel type, windows, socket reads.
        config.wire.applyTo(sb);
        if (config.directExecutor) {
            sb.directExecutor();
        } else {
            executor = Executors.newFixedThreadPool(config.callThreads, threads);
            sb.executor(executor);
        }
        server = sb.build().start();
        return this;
    }

    public int port() {
        return server.getPort();
    }

    /**
     * The TLS a learner's connection negotiated, as the server saw it on its first call: protocol,
     * cipher suite and the TLS engine ("BoringSSL" when gRPC's bundled netty-tcnative serves it,
     * "JDK" for the JDK's own); empty for plaintext or before the first call.
     */
    public String negotiatedTls() {
        return negotiated.get();
    }

    /** Learners that joined. */
    public int joins() {
        return joins.get();
    }

    /** Task streams open now. */
    public int openStreams() {
        return streams.size();
    }

    /** Complete updates received (and discarded). */
    public int updates() {
        return updates.get();
    }

    /** Evaluation reports received. */
    public int evaluations() {
        return evaluations.get();
    }

    /** Uploads refused (wrong size or round, no header). */
    public int rejected() {
        return rejected.get();
    }

    /** Update bytes received. */
    public long bytesReceived() {
        return bytesReceived.get();
    }

    /** Durations of the completed rounds, first task sent to last update received. */
    public synchronized List<Duration> roundDurations() {
        List<Duration> out = new ArrayList<>();
        for (int i = 0; i < roundEndsUs.size(); i++) {
            out.add(Duration.ofNanos((roundEndsUs.get(i) - roundStartsUs.get(i)) * 1000L));
        }
        return out;
    }

    /** Waits until the last round is done and Shutdown was sent. */
    public boolean awaitFinished(Duration timeout) throws InterruptedException {
        return finished.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (server == null) {
            return;
        }
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        if (executor != null) {
            executor.shutdownNow();
        }
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private List<TensorSpec> specs() {
        return List.of(
                TensorSpec.newBuilder()
                        .setName("w")
                        .setDtype(org.metisfl.proto.v1.DType.FLOAT32)
                        .addShape(config.modelValues)
                        .build());
    }

    /** Records the first call's TLS session (protocol, cipher suite, engine). */
    private final class SessionRecorder implements ServerInterceptor {
        @Override
        public <Q, A> ServerCall.Listener<Q> interceptCall(
                ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            if (negotiated.get().isEmpty()) {
                SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                if (ssl != null) {
                    negotiated.compareAndSet("", describe(ssl));
                }
            }
            return next.startCall(call, headers);
        }
    }

    static String describe(SSLSession ssl) {
        String impl = ssl.getClass().getName();
        String engine =
                impl.contains("OpenSsl")
                        ? "BoringSSL (gRPC's bundled netty-tcnative)"
                        : impl.startsWith("sun.security.ssl") ? "JDK JSSE" : impl;
        return ssl.getProtocol() + " " + ssl.getCipherSuite() + ", " + engine;
    }

    private void maybeStartFirstRound() {
        synchronized (this) {
            if (round != 0 || streams.size() < config.participants) {
                return;
            }
        }
        nextRound();
    }

    private void nextRound() {
        Task task;
        Task evaluate = null;
        synchronized (this) {
            if (round > 0) {
                roundEndsUs.add(Micros.now());
            }
            if (round >= config.rounds) {
                round = Long.MAX_VALUE;
                task =
                        Task.newBuilder()
                                .setTaskId("shutdown")
                                .setShutdown(Shutdown.newBuilder().setReason("done"))
                                .build();
            } else {
                round++;
                uploadedThisRound.clear();
                roundStartsUs.add(Micros.now());
                task =
                        Task.newBuilder()
                                .setTaskId("r" + round + "/train")
                                .setRound(round)
                                .setModelVersion(round - 1)
                                .setTrain(TrainTask.newBuilder().setEpochs(1))
                                .build();
                if (config.evaluate && round > 1) {
                    evaluate =
                            Task.newBuilder()
                                    .setTaskId("r" + (round - 1) + "/evaluate")
                                    .setRound(round - 1)
                                    .setModelVersion(round - 1)
                                    .setEvaluate(EvaluateTask.newBuilder())
                                    .build();
                }
            }
        }
        for (ServerCallStreamObserver<Task> s : streams.values()) {
            synchronized (s) {
                try {
                    if (evaluate != null) {
                        s.onNext(evaluate);
                    }
                    s.onNext(task);
                    if (task.hasShutdown()) {
                        s.onCompleted();
                    }
                } catch (RuntimeException e) {
                    // the learner went away
                }
            }
        }
        if (task.hasShutdown()) {
            finished.countDown();
        }
    }

    private void uploaded(String learner, long r) {
        boolean roundDone;
        synchronized (this) {
            if (r != round || !uploadedThisRound.add(learner)) {
                return;
            }
            roundDone = uploadedThisRound.size() >= config.uploadsPerRound();
        }
        if (roundDone) {
            nextRound();
        }
    }

    /** Counts an upload's bytes and discards them. */
    private StreamObserver<LeasedMessage<UpdateChunk>> receiveUpdate(
            StreamObserver<SubmitUpdateResponse> response) {
        return new StreamObserver<>() {
            private UpdateHeader header;
            private long bytes;

            @Override
            public void onNext(LeasedMessage<UpdateChunk> c) {
                if (c.message().hasHeader()) {
                    header = c.message().getHeader();
                } else {
                    bytes += c.bytesSize();
                }
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
                bytesReceived.addAndGet(bytes);
                if (header == null || bytes != modelBytes) {
                    rejected.incrementAndGet();
                    response.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription(
                                            "expected a header and "
                                                    + modelBytes
                                                    + " bytes, got "
                                                    + bytes)
                                    .asRuntimeException());
                    return;
                }
                updates.incrementAndGet();
                response.onNext(
                        SubmitUpdateResponse.newBuilder()
                                .setStatus(SubmitUpdateResponse.Status.ACCEPTED)
                                .build());
                response.onCompleted();
                uploaded(header.getCredentials().getLearnerId(), header.getRound());
            }
        };
    }

    private final class Service extends LearnerServiceGrpc.LearnerServiceImplBase {
        @Override
        public void join(JoinRequest request, StreamObserver<JoinResponse> response) {
            int id = joins.incrementAndGet();
            response.onNext(
                    JoinResponse.newBuilder()
                            .setLearnerId("learner-" + id)
                            .setToken("token-" + id)
                            .setMaxMessageBytes(config.maxMessageBytes)
                            .build());
            response.onCompleted();
        }

        @Override
        public void streamTasks(StreamTasksRequest request, StreamObserver<Task> response) {
            String id = request.getCredentials().getLearnerId();
            ServerCallStreamObserver<Task> s = (ServerCallStreamObserver<Task>) response;
            s.setOnCancelHandler(() -> streams.remove(id, s));
            streams.put(id, s);
            maybeStartFirstRound();
        }

        @Override
        public void submitEvaluation(
                EvaluationReport request, StreamObserver<SubmitEvaluationResponse> response) {
            evaluations.incrementAndGet();
            response.onNext(SubmitEvaluationResponse.getDefaultInstance());
            response.onCompleted();
        }

        @Override
        public void getModel(GetModelRequest request, StreamObserver<ModelChunk> response) {
            ServerCallStreamObserver<ModelChunk> out =
                    (ServerCallStreamObserver<ModelChunk>) response;
            long version;
            synchronized (DiscardingGateway.this) {
                version = Math.max(0, round - 1);
            }
            ModelChunk header =
                    ModelChunk.newBuilder()
                            .setHeader(
                                    ModelHeader.newBuilder()
                                            .setModelVersion(version)
                                            .addAllTensors(specs())
                                            .setTotalBytes(modelBytes))
                            .build();
            Runnable pump =
                    new Runnable() {
                        private long sent = -1;
                        private boolean done;

                        @Override
                        public synchronized void run() {
                            while (sent < modelBytes && out.isReady() && !out.isCancelled()) {
                                if (sent < 0) {
                                    out.onNext(header);
                                    sent = 0;
                                } else {
                                    int n = (int) Math.min(zeros.size(), modelBytes - sent);
                                    out.onNext(
                                            ModelChunk.newBuilder()
                                                    .setData(zeros.substring(0, n))
                                                    .build());
                                    sent += n;
                                }
                            }
                            if (sent >= modelBytes && !done) {
                                done = true;
                                out.onCompleted();
                            }
                        }
                    };
            out.setOnReadyHandler(pump);
            pump.run();
        }
    }

    /** Settings of a discarding gateway. */
    public static final class Builder {
        private int port;
        private int participants = 1;
        private int uploadsPerRound = -1;
        private int rounds = 1;
        private long modelValues = 1;
        private int chunkBytes = 1 << 20;
        private int maxMessageBytes = 4 << 20;
        private int workerThreads = 2;
        private int callThreads = 4;
        private boolean directExecutor;
        private boolean evaluate;
        private TransportSecurity transport = TransportSecurity.insecure();
        private WireTuning wire = WireTuning.defaults();

        Builder() {}

        /**
         * Transport settings of the port (default: {@link WireTuning#defaults()}, as the real
         * gateway's learner port).
         */
        public Builder wire(WireTuning wire) {
            this.wire = java.util.Objects.requireNonNull(wire, "wire");
            return this;
        }

        /**
         * How the port is protected: TLS (or mutual TLS) with a certificate and key, like the real
         * gateway's learner port, or plaintext (default).
         */
        public Builder transport(TransportSecurity transport) {
            this.transport = java.util.Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** Port on 127.0.0.1; 0 (default) picks a free one. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Learners with open task streams needed before round 1 (all get every task). */
        public Builder participants(int n) {
            this.participants = n;
            return this;
        }

        /** Uploads that complete a round. Default: participants. */
        public Builder uploadsPerRound(int n) {
            this.uploadsPerRound = n;
            return this;
        }

        int uploadsPerRound() {
            return uploadsPerRound < 0 ? participants : uploadsPerRound;
        }

        public Builder rounds(int n) {
            this.rounds = n;
            return this;
        }

        /** Values of the one float32 tensor "w" of the model and of every update. */
        public Builder modelValues(long n) {
            this.modelValues = n;
            return this;
        }

        /** Bytes per model chunk served by GetModel. Default 1 MiB. */
        public Builder chunkBytes(int bytes) {
            this.chunkBytes = bytes;
            return this;
        }

        /** Largest inbound message. Default 4 MiB (the real gateway's default). */
        public Builder maxMessageBytes(int bytes) {
            this.maxMessageBytes = bytes;
            return this;
        }

        /** Netty worker threads (the real gateway uses 2). */
        public Builder workerThreads(int n) {
            this.workerThreads = n;
            return this;
        }

        /** Threads of the call executor (the real gateway uses 4). */
        public Builder callThreads(int n) {
            this.callThreads = n;
            return this;
        }

        /** Runs calls on the Netty threads instead of an executor. Default false. */
        public Builder directExecutor(boolean direct) {
            this.directExecutor = direct;
            return this;
        }

        /** Also sends an evaluation task for the previous round with each new round. */
        public Builder evaluate(boolean evaluate) {
            this.evaluate = evaluate;
            return this;
        }

        public DiscardingGateway build() {
            if (participants < 1 || rounds < 1 || uploadsPerRound() < 1) {
                throw new IllegalArgumentException(
                        "participants, uploadsPerRound and rounds must be >= 1");
            }
            if (modelValues < 1 || modelValues * Float.BYTES > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(
                        "modelValues is " + modelValues + "; use 1 to 536,870,909");
            }
            if (chunkBytes < 1 || workerThreads < 1 || callThreads < 1) {
                throw new IllegalArgumentException(
                        "chunkBytes, workerThreads and callThreads must be >= 1");
            }
            return new DiscardingGateway(this);
        }
    }
}
