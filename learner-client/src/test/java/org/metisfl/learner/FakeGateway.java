package org.metisfl.learner;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.metisfl.flink.connector.gateway.server.TaskStreamHeaders;
import org.metisfl.learner.internal.TensorCodec;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetAggregateRequest;
import org.metisfl.proto.v1.GetCommitteeRequest;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.LeaveResponse;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.PartialDecryptionChunk;
import org.metisfl.proto.v1.PartialDecryptionHeader;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitDealingsResponse;
import org.metisfl.proto.v1.SubmitEvaluationResponse;
import org.metisfl.proto.v1.SubmitKeyShareResponse;
import org.metisfl.proto.v1.SubmitPartialDecryptionResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.BearerToken;

/**
 * An in-test learner gateway on 127.0.0.1 (one or more Netty servers sharing one state): joins,
 * streams scripted tasks (re-sending outstanding ones to every new stream, as the real gateway
 * does), serves one model, records what learners upload, and injects failures on request. As the
 * real gateway, it answers a task stream with its headers once it has registered it (the job's
 * {@link TaskStreamHeaders}), unless started without them (a gateway built before they existed).
 */
final class FakeGateway extends LearnerServiceGrpc.LearnerServiceImplBase implements AutoCloseable {

    /** One complete update as the gateway received it. */
    record ReceivedUpdate(
            UpdateHeader header, List<Integer> chunkSizes, ByteString data, String bearer) {
        List<NamedTensor> tensors() {
            return TensorCodec.decode(header.getTensorsList(), data);
        }
    }

    private final List<Server> servers = new ArrayList<>();

    volatile boolean initialModelRequested;
    volatile int maxMessageBytes;
    volatile long modelVersion;
    volatile List<NamedTensor> model = FakeAdapter.model(10f);

    /** Secure aggregation: announced at join when set (null: a plaintext federation). */
    volatile Encryption encryption;

    /** When set, served in place of {@link #model}: an encrypted model's header and data. */
    volatile ModelHeader encryptedModelHeader;

    volatile ByteString encryptedModelData;

    /** Decides an upload from its header: null accepts, a status fails the call. */
    volatile Function<UpdateHeader, Status> submitVerdict = header -> null;

    /**
     * When true, an upload is taken (recorded in {@link #updates}) at once but its answer waits in
     * a queue until {@link #releaseAnswers} (as a real gateway answers after the checkpoint).
     */
    volatile boolean holdAnswers;

    private final java.util.concurrent.LinkedBlockingDeque<Runnable> heldAnswers =
            new java.util.concurrent.LinkedBlockingDeque<>();

    /** Sends up to {@code n} held answers, oldest first; returns how many were sent. */
    int releaseAnswers(int n) {
        int sent = 0;
        Runnable r;
        while (sent < n && (r = heldAnswers.poll()) != null) {
            try {
                r.run();
            } catch (RuntimeException e) {
                // the call is gone (its server was killed)
            }
            sent++;
        }
        return sent;
    }

    /** Answers waiting for {@link #releaseAnswers}. */
    int heldAnswerCount() {
        return heldAnswers.size();
    }

    /** Called with (upload call number from 1, data chunk number from 1) as chunks arrive. */
    volatile BiConsumer<Integer, Integer> onDataChunk = (call, chunk) -> {};

    final List<JoinRequest> joins = new CopyOnWriteArrayList<>();
    final List<UpdateHeader> submitAttempts = new CopyOnWriteArrayList<>();
    final List<ReceivedUpdate> updates = new CopyOnWriteArrayList<>();
    final List<EvaluationReport> reports = new CopyOnWriteArrayList<>();
    final List<LeaveRequest> leaves = new CopyOnWriteArrayList<>();
    final AtomicInteger getModelCalls = new AtomicInteger();
    final AtomicInteger streamCalls = new AtomicInteger();

    /** One clock for every fake gateway of the JVM: orders streams opened and closed at two. */
    private static final AtomicLong SEQUENCE = new AtomicLong();

    /** The sequence numbers at which a task stream was registered here, in order. */
    final List<Long> streamsOpenedAt = new CopyOnWriteArrayList<>();

    /** The sequence numbers at which a learner cancelled a task stream here, in order. */
    final List<Long> streamsClosedAt = new CopyOnWriteArrayList<>();

    /**
     * Run with the learner id once a task stream is registered, before its handler returns (so
     * before the stream's headers go out).
     */
    volatile java.util.function.Consumer<String> onStreamRegistered = id -> {};

    /** Task streams still to refuse with UNAVAILABLE, and those refused so far. */
    volatile int refuseStreams;

    final AtomicInteger refusedStreams = new AtomicInteger();
    private final AtomicInteger submitCalls = new AtomicInteger();
    final Set<String> validTokens = ConcurrentHashMap.newKeySet();
    private final Set<String> acceptedTasks = ConcurrentHashMap.newKeySet();

    private final List<Task> outstanding = new ArrayList<>();
    private final List<StreamObserver<Task>> streams = new ArrayList<>();

    // Threshold mode: the test plays the coordinator with the crypto module's own API.

    /** Served by GetCommittee (its shares and transport keys only with include_shares). */
    volatile CommitteeInfo committee;

    /** Served by GetAggregate: the encrypted aggregate's header and shard bytes. */
    volatile ModelHeader aggregateHeader;

    volatile ByteString aggregateData;

    /** A member's partial decryptions as received. */
    record ReceivedPartial(PartialDecryptionHeader header, ByteString data) {}

    final List<KeyShareSubmission> keyShares = new CopyOnWriteArrayList<>();
    final List<DealingsSubmission> dealings = new CopyOnWriteArrayList<>();
    final List<ReceivedPartial> partials = new CopyOnWriteArrayList<>();
    final AtomicInteger getAggregateCalls = new AtomicInteger();

    /** Tasks for one learner only (its id), sent to its streams now and when it opens one. */
    private final java.util.Map<String, List<Task>> targeted = new java.util.HashMap<>();

    private final java.util.Map<String, List<StreamObserver<Task>>> streamsOf =
            new java.util.HashMap<>();

    private FakeGateway() {}

    /** Starts {@code count} servers on free loopback ports, all backed by one gateway state. */
    static FakeGateway start(int count) throws IOException {
        return start(count, true);
    }

    /**
     * As {@link #start(int)}; with {@code headersAtRegistration} false a task stream's headers go
     * out with its first task only.
     */
    static FakeGateway start(int count, boolean headersAtRegistration) throws IOException {
        FakeGateway gateway = new FakeGateway();
        for (int i = 0; i < count; i++) {
            io.grpc.ServerServiceDefinition service =
                    headersAtRegistration
                            ? io.grpc.ServerInterceptors.intercept(gateway, new TaskStreamHeaders())
                            : gateway.bindService();
            gateway.servers.add(
                    NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                            .addService(
                                    io.grpc.ServerInterceptors.intercept(
                                            service, BearerToken.interceptor()))
                            .permitKeepAliveTime(1, TimeUnit.SECONDS)
                            .permitKeepAliveWithoutCalls(true)
                            .build()
                            .start());
        }
        return gateway;
    }

    List<String> addresses() {
        List<String> addresses = new ArrayList<>();
        for (Server s : servers) {
            addresses.add("127.0.0.1:" + s.getPort());
        }
        return addresses;
    }

    /**
     * Kills one server abruptly. Called inside a call handler, it holds that call until the server
     * is down, so the call cannot complete first.
     */
    void kill(int server) {
        Thread killer =
                new Thread(
                        () -> {
                            Server s = servers.get(server);
                            s.shutdownNow();
                            try {
                                s.awaitTermination(5, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        },
                        "kill-gateway-" + server);
        killer.start();
        try {
            killer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Adds tasks: sent to every open stream now, and to every new stream until completed. */
    synchronized void enqueue(Task... tasks) {
        for (Task t : tasks) {
            outstanding.add(t);
            for (StreamObserver<Task> s : streams) {
                s.onNext(t);
            }
        }
    }

    /** Adds a task for one learner only. */
    synchronized void enqueueFor(String learnerId, Task task) {
        targeted.computeIfAbsent(learnerId, k -> new ArrayList<>()).add(task);
        for (StreamObserver<Task> s : streamsOf.getOrDefault(learnerId, List.of())) {
            s.onNext(task);
        }
    }

    private synchronized void complete(String taskId) {
        outstanding.removeIf(t -> t.getTaskId().equals(taskId));
    }

    /** The call's token: as call credentials (the learner's way), else in the message. */
    private static String tokenOf(Credentials credentials) {
        String bearer = BearerToken.current();
        return bearer != null ? bearer : credentials.getToken();
    }

    private boolean authenticated(Credentials credentials, StreamObserver<?> observer) {
        if (validTokens.contains(tokenOf(credentials))) {
            return true;
        }
        observer.onError(
                Status.UNAUTHENTICATED
                        .withDescription("unknown token " + tokenOf(credentials))
                        .asRuntimeException());
        return false;
    }

    @Override
    public void join(JoinRequest request, StreamObserver<JoinResponse> observer) {
        joins.add(request);
        int n = joins.size();
        validTokens.add("token-" + n);
        JoinResponse.Builder response =
                JoinResponse.newBuilder()
                        .setLearnerId("learner-" + n)
                        .setToken("token-" + n)
                        .setInitialModelRequested(initialModelRequested)
                        .setMaxMessageBytes(maxMessageBytes);
        if (encryption != null) {
            response.setEncryption(encryption);
        }
        observer.onNext(response.build());
        observer.onCompleted();
    }

    @Override
    public void streamTasks(StreamTasksRequest request, StreamObserver<Task> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        streamCalls.incrementAndGet();
        if (refuseStreams > 0) {
            refuseStreams--;
            refusedStreams.incrementAndGet();
            observer.onError(
                    Status.UNAVAILABLE
                            .withDescription("task stream refused by the test")
                            .asRuntimeException());
            return;
        }
        ServerCallStreamObserver<Task> stream = (ServerCallStreamObserver<Task>) observer;
        String learnerId = request.getCredentials().getLearnerId();
        synchronized (this) {
            stream.setOnCancelHandler(
                    () -> {
                        streamsClosedAt.add(SEQUENCE.incrementAndGet());
                        synchronized (FakeGateway.this) {
                            streams.remove(stream);
                            streamsOf.getOrDefault(learnerId, new ArrayList<>()).remove(stream);
                        }
                    });
            for (Task t : outstanding) {
                stream.onNext(t);
            }
            for (Task t : targeted.getOrDefault(learnerId, List.of())) {
                stream.onNext(t);
            }
            streams.add(stream);
            streamsOf.computeIfAbsent(learnerId, k -> new ArrayList<>()).add(stream);
            streamsOpenedAt.add(SEQUENCE.incrementAndGet());
        }
        onStreamRegistered.accept(learnerId);
    }

    @Override
    public void getModel(GetModelRequest request, StreamObserver<ModelChunk> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        getModelCalls.incrementAndGet();
        if (encryptedModelHeader != null) {
            observer.onNext(ModelChunk.newBuilder().setHeader(encryptedModelHeader).build());
            ByteString data = encryptedModelData;
            // Chunks that cut through shards and ciphertexts.
            for (ByteString chunk : TensorCodec.chunks(data, 10_007)) {
                observer.onNext(ModelChunk.newBuilder().setData(chunk).build());
            }
            observer.onCompleted();
            return;
        }
        TensorCodec.EncodedModel encoded = TensorCodec.encode(model);
        observer.onNext(
                ModelChunk.newBuilder()
                        .setHeader(
                                ModelHeader.newBuilder()
                                        .setModelVersion(modelVersion)
                                        .addAllTensors(encoded.specs())
                                        .setTotalBytes(encoded.data().size()))
                        .build());
        // Small models arrive in 16-byte chunks that split floats; large ones in 50 chunks.
        for (ByteString chunk : encoded.chunks(Math.max(16, encoded.data().size() / 50))) {
            observer.onNext(ModelChunk.newBuilder().setData(chunk).build());
        }
        observer.onCompleted();
    }

    @Override
    public StreamObserver<UpdateChunk> submitUpdate(StreamObserver<SubmitUpdateResponse> observer) {
        int call = submitCalls.incrementAndGet();
        String bearer = BearerToken.current();
        return new StreamObserver<>() {
            UpdateHeader header;
            final List<Integer> sizes = new ArrayList<>();
            ByteString data = ByteString.EMPTY;
            boolean failed;

            @Override
            public void onNext(UpdateChunk chunk) {
                if (failed) {
                    return;
                }
                if (chunk.hasHeader()) {
                    header = chunk.getHeader();
                    submitAttempts.add(header);
                    Status verdict = submitVerdict.apply(header);
                    if (verdict == null
                            && !validTokens.contains(tokenOf(header.getCredentials()))) {
                        verdict = Status.UNAUTHENTICATED.withDescription("unknown token");
                    }
                    if (verdict != null) {
                        failed = true;
                        observer.onError(verdict.asRuntimeException());
                    }
                    return;
                }
                if (!chunk.hasOffset() || chunk.getOffset() != data.size()) {
                    // As the real gateway: each chunk names where its bytes belong.
                    failed = true;
                    observer.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription("chunk offset missing or wrong")
                                    .asRuntimeException());
                    return;
                }
                sizes.add(chunk.getData().size());
                data = data.concat(chunk.getData());
                onDataChunk.accept(call, sizes.size());
            }

            @Override
            public void onError(Throwable t) {
                // The learner or its connection went away mid-upload: nothing is kept.
            }

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                long expected =
                        header.hasEncryption()
                                ? header.getEncryption().getShardBytesList().stream()
                                        .mapToLong(Long::longValue)
                                        .sum()
                                : TensorCodec.totalBytes(header.getTensorsList());
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(data.toByteArray());
                if (!header.hasCrc32C() || header.getCrc32C() != (int) crc.getValue()) {
                    observer.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription("CRC-32C missing or wrong")
                                    .asRuntimeException());
                    return;
                }
                if (data.size() != expected) {
                    observer.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription(data.size() + " bytes, expected " + expected)
                                    .asRuntimeException());
                    return;
                }
                updates.add(new ReceivedUpdate(header, List.copyOf(sizes), data, bearer));
                boolean first =
                        acceptedTasks.add(
                                header.getCredentials().getLearnerId() + "/" + header.getTaskId());
                complete(header.getTaskId());
                Runnable answer =
                        () -> {
                            observer.onNext(
                                    SubmitUpdateResponse.newBuilder()
                                            .setStatus(
                                                    first
                                                            ? SubmitUpdateResponse.Status.ACCEPTED
                                                            : SubmitUpdateResponse.Status.DUPLICATE)
                                            .build());
                            observer.onCompleted();
                        };
                if (holdAnswers) {
                    heldAnswers.add(answer);
                } else {
                    answer.run();
                }
            }
        };
    }

    @Override
    public void submitEvaluation(
            EvaluationReport request, StreamObserver<SubmitEvaluationResponse> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        reports.add(request);
        complete(request.getTaskId());
        observer.onNext(SubmitEvaluationResponse.getDefaultInstance());
        observer.onCompleted();
    }

    @Override
    public void leave(LeaveRequest request, StreamObserver<LeaveResponse> observer) {
        leaves.add(request);
        validTokens.remove(tokenOf(request.getCredentials()));
        observer.onNext(LeaveResponse.getDefaultInstance());
        observer.onCompleted();
    }

    @Override
    public void getCommittee(GetCommitteeRequest request, StreamObserver<CommitteeInfo> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        CommitteeInfo c = committee;
        if (c == null) {
            observer.onError(
                    Status.FAILED_PRECONDITION
                            .withDescription("no joint key yet")
                            .asRuntimeException());
            return;
        }
        if (!request.getIncludeShares()) {
            CommitteeInfo.Builder b = c.toBuilder().clearMembers();
            for (var m : c.getMembersList()) {
                b.addMembers(m.toBuilder().clearPublicShare().clearTransportPublicKey());
            }
            c = b.build();
        }
        observer.onNext(c);
        observer.onCompleted();
    }

    @Override
    public void submitKeyShare(
            KeyShareSubmission request, StreamObserver<SubmitKeyShareResponse> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        boolean again =
                keyShares.stream()
                        .anyMatch(
                                k ->
                                        k.getCredentials()
                                                        .getLearnerId()
                                                        .equals(
                                                                request.getCredentials()
                                                                        .getLearnerId())
                                                && k.getPublicShare()
                                                        .equals(request.getPublicShare()));
        keyShares.add(request);
        observer.onNext(
                SubmitKeyShareResponse.newBuilder()
                        .setStatus(
                                again
                                        ? SubmitKeyShareResponse.Status.DUPLICATE
                                        : SubmitKeyShareResponse.Status.ACCEPTED)
                        .build());
        observer.onCompleted();
    }

    @Override
    public void submitDealings(
            DealingsSubmission request, StreamObserver<SubmitDealingsResponse> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        dealings.add(request);
        observer.onNext(
                SubmitDealingsResponse.newBuilder()
                        .setStatus(SubmitKeyShareResponse.Status.ACCEPTED)
                        .build());
        observer.onCompleted();
    }

    @Override
    public void getAggregate(GetAggregateRequest request, StreamObserver<ModelChunk> observer) {
        if (!authenticated(request.getCredentials(), observer)) {
            return;
        }
        getAggregateCalls.incrementAndGet();
        ModelHeader header = aggregateHeader;
        if (header == null || header.getModelVersion() != request.getRound()) {
            observer.onError(
                    Status.FAILED_PRECONDITION
                            .withDescription("no aggregate to decrypt")
                            .asRuntimeException());
            return;
        }
        observer.onNext(ModelChunk.newBuilder().setHeader(header).build());
        // Chunks that cut through shards and ciphertexts.
        for (ByteString chunk : TensorCodec.chunks(aggregateData, 100_003)) {
            observer.onNext(ModelChunk.newBuilder().setData(chunk).build());
        }
        observer.onCompleted();
    }

    @Override
    public StreamObserver<PartialDecryptionChunk> submitPartialDecryption(
            StreamObserver<SubmitPartialDecryptionResponse> observer) {
        return new StreamObserver<>() {
            PartialDecryptionHeader header;
            ByteString data = ByteString.EMPTY;
            boolean failed;

            @Override
            public void onNext(PartialDecryptionChunk chunk) {
                if (failed) {
                    return;
                }
                if (chunk.hasHeader()) {
                    header = chunk.getHeader();
                    if (!validTokens.contains(tokenOf(header.getCredentials()))) {
                        failed = true;
                        observer.onError(
                                Status.UNAUTHENTICATED
                                        .withDescription("unknown token")
                                        .asRuntimeException());
                    }
                    return;
                }
                data = data.concat(chunk.getData());
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                long expected =
                        header.getShardBytesList().stream().mapToLong(Long::longValue).sum();
                if (expected != data.size()) {
                    observer.onError(
                            Status.INVALID_ARGUMENT
                                    .withDescription("wrong byte count")
                                    .asRuntimeException());
                    return;
                }
                partials.add(new ReceivedPartial(header, data));
                observer.onNext(
                        SubmitPartialDecryptionResponse.newBuilder()
                                .setStatus(SubmitKeyShareResponse.Status.ACCEPTED)
                                .build());
                observer.onCompleted();
            }
        };
    }

    @Override
    public void close() throws InterruptedException {
        for (Server s : servers) {
            s.shutdownNow();
        }
        for (Server s : servers) {
            s.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
