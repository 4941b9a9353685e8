package org.metisfl.simulator;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.TransportSecurity;

/**
 * One learner scripted call by call over the raw gRPC contract, for tests that need exact control
 * over what reaches a gateway: malformed or partial uploads, a learner that dies half-way through
 * an upload, reconnecting with old credentials, reading the global model without taking part. Every
 * call is blocking and has a deadline; tasks are queued as they arrive.
 *
 * <pre>{@code
 * try (RawLearner l = RawLearner.connect("127.0.0.1:50051")) {
 *     l.join("a", 100);
 *     l.openTaskStream();
 *     Task t = l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(30));
 *     RawLearner.Model m = l.getModel();
 *     l.submit(t.getRound(), m.tensors(), m.values(), 100, Map.of());
 * }
 * }</pre>
 *
 * <p>Unlike the learner library it never reconnects, retries or deduplicates: a test sees exactly
 * what the gateway answers.
 */
public final class RawLearner implements AutoCloseable {
    /** Upload chunk size unless set: deliberately not a multiple of 4, so values span chunks. */
    public static final int DEFAULT_CHUNK_BYTES = 64 * 1024 + 3;

    private static final long CALL_SECONDS = 10;
    private static final long TRANSFER_SECONDS = 60;

    private final ManagedChannel channel;
    private final LearnerServiceGrpc.LearnerServiceBlockingStub blocking;
    private final LearnerServiceGrpc.LearnerServiceStub async;
    private final BlockingQueue<Task> tasks = new LinkedBlockingQueue<>();
    private volatile Credentials credentials;
    private int chunkBytes = DEFAULT_CHUNK_BYTES;

    /** A plaintext connection to the gateway at {@code host}:{@code port}. */
    public RawLearner(String host, int port) {
        this(host, port, TransportSecurity.insecure());
    }

    /**
     * A connection to the gateway at {@code host}:{@code port} protected as {@code transport} says
     * (TLS, mutual TLS or plaintext); its files are read and checked now.
     */
    public RawLearner(String host, int port, TransportSecurity transport) {
        channel =
                NettyChannelBuilder.forAddress(host, port, transport.channelCredentials()).build();
        blocking = LearnerServiceGrpc.newBlockingStub(channel);
        async = LearnerServiceGrpc.newStub(channel);
    }

    /**
     * A connection with {@code credentials} (e.g. TLS) to the gateway at {@code host}:{@code port}.
     */
    public RawLearner(String host, int port, io.grpc.ChannelCredentials credentials) {
        channel = NettyChannelBuilder.forAddress(host, port, credentials).build();
        blocking = LearnerServiceGrpc.newBlockingStub(channel);
        async = LearnerServiceGrpc.newStub(channel);
    }

    /** A plaintext connection to the gateway at {@code host:port}. */
    public static RawLearner connect(String hostPort) {
        return connect(hostPort, TransportSecurity.insecure());
    }

    /** A connection to the gateway at {@code host:port}, protected as {@code transport} says. */
    public static RawLearner connect(String hostPort, TransportSecurity transport) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0 || colon == hostPort.length() - 1) {
            throw new IllegalArgumentException(
                    "gateway address '" + hostPort + "' is not host:port");
        }
        return new RawLearner(
                hostPort.substring(0, colon),
                Integer.parseInt(hostPort.substring(colon + 1)),
                transport);
    }

    /**
     * The global model as served.
     *
     * @param version the model version
     * @param tensors the tensor layout of the model
     * @param values the model's values, in order
     * @param sha256 the SHA-256 of the model's bytes as served, in hex
     */
    public record Model(long version, List<TensorSpec> tensors, float[] values, String sha256) {}

    /** A float32 tensor spec. */
    public static TensorSpec spec(String name, long... shape) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(name).setDtype(DType.FLOAT32);
        for (long d : shape) {
            b.addShape(d);
        }
        return b.build();
    }

    /** The values as little-endian float32 bytes, as the contract ships tensors. */
    public static ByteString bytes(float[] values) {
        ByteBuffer b =
                ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return ByteString.copyFrom(b.array());
    }

    /**
     * Sets the size of the data chunks of later uploads ({@link #DEFAULT_CHUNK_BYTES} if unset).
     */
    public RawLearner chunkBytes(int bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive, got " + bytes);
        }
        this.chunkBytes = bytes;
        return this;
    }

    /** Joins; later calls use the credentials it returns. */
    public JoinResponse join(String name, long examples) {
        JoinResponse joined =
                blocking.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
                        .join(
                                JoinRequest.newBuilder()
                                        .setName(name)
                                        .setNumTrainingExamples(examples)
                                        .setNumTestExamples(examples)
                                        .build());
        credentials =
                Credentials.newBuilder()
                        .setLearnerId(joined.getLearnerId())
                        .setToken(joined.getToken())
                        .build();
        return joined;
    }

    /**
     * Registers another learner over this channel and forgets it (safe from many threads): load for
     * the gateway's registry, without a learner object per join.
     */
    public JoinResponse joinAnother(String name, long examples) {
        return blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                .join(
                        JoinRequest.newBuilder()
                                .setName(name)
                                .setNumTrainingExamples(examples)
                                .build());
    }

    /** The learner id the gateway gave at join. */
    public String id() {
        return credentials.getLearnerId();
    }

    public Credentials credentials() {
        return credentials;
    }

    /** Uses credentials obtained on another connection (a learner that reconnects). */
    public RawLearner useCredentials(Credentials c) {
        credentials = c;
        return this;
    }

    /** Leaves the federation. */
    public void leave() {
        blocking.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
                .leave(LeaveRequest.newBuilder().setCredentials(credentials).build());
    }

    /** Opens the task stream; its tasks queue up for {@link #nextTask}. */
    public void openTaskStream() {
        async.streamTasks(
                StreamTasksRequest.newBuilder().setCredentials(credentials).build(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(Task t) {
                        tasks.add(t);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                });
    }

    /**
     * The next task.
     *
     * @throws AssertionError if none arrives within {@code timeout}
     */
    public Task nextTask(Duration timeout) throws InterruptedException {
        Task t = tasks.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (t == null) {
            throw new AssertionError(id() + " got no task within " + timeout);
        }
        return t;
    }

    /**
     * The next task of this kind, skipping others.
     *
     * @throws AssertionError if none arrives within {@code timeout}
     */
    public Task nextTask(Task.KindCase kind, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            Task t = tasks.poll(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (t == null) {
                throw new AssertionError(id() + " got no " + kind + " task within " + timeout);
            }
            if (t.getKindCase() == kind) {
                return t;
            }
        }
    }

    /** Downloads the global model. */
    public Model getModel() {
        Iterator<ModelChunk> it =
                blocking.withDeadlineAfter(TRANSFER_SECONDS, TimeUnit.SECONDS)
                        .getModel(GetModelRequest.newBuilder().setCredentials(credentials).build());
        ModelChunk first = it.next();
        ByteBuffer bytes = ByteBuffer.allocate((int) first.getHeader().getTotalBytes());
        while (it.hasNext()) {
            bytes.put(it.next().getData().asReadOnlyByteBuffer());
        }
        if (bytes.hasRemaining()) {
            throw new IllegalStateException(
                    "the model announced "
                            + bytes.capacity()
                            + " bytes but "
                            + bytes.position()
                            + " arrived");
        }
        byte[] raw = bytes.array();
        float[] values = new float[raw.length / Float.BYTES];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return new Model(
                first.getHeader().getModelVersion(),
                first.getHeader().getTensorsList(),
                values,
                sha256(raw));
    }

    private static String sha256(byte[] raw) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /**
     * The chunks of a training update for round {@code round} (task id {@code r<round>/train}): the
     * header, then the values in chunks of the {@linkplain #chunkBytes chunk size}.
     */
    public List<UpdateChunk> updateChunks(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            Map<String, Double> metrics) {
        return updateChunks(round, tensors, values, examples, 0, metrics);
    }

    private List<UpdateChunk> updateChunks(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            long batches,
            Map<String, Double> metrics) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(examples)
                        .setNumCompletedBatches(batches)
                        .addAllTensors(tensors)
                        .putAllMetrics(metrics)
                        .setCrc32C(crc32c(bytes(values)))
                        .build();
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        ByteString all = bytes(values);
        for (int off = 0; off < all.size(); off += chunkBytes) {
            chunks.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + chunkBytes)))
                            .setOffset(off)
                            .build());
        }
        return chunks;
    }

    /**
     * Uploads a training update for round {@code round}; returns the gateway's answer (once the
     * update is durable in the job).
     *
     * @throws StatusRuntimeException the gateway's refusal
     */
    public SubmitUpdateResponse submit(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            Map<String, Double> metrics) {
        return submit(round, tensors, values, examples, 0, metrics);
    }

    /**
     * Uploads a training update trained on {@code examples} examples in {@code batches}
     * mini-batches.
     *
     * @throws StatusRuntimeException the gateway's refusal
     */
    public SubmitUpdateResponse submit(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            long batches,
            Map<String, Double> metrics) {
        return submitRaw(updateChunks(round, tensors, values, examples, batches, metrics));
    }

    /** An upload whose header is sent; its bytes follow with {@link #finish}. */
    public final class PartialUpload {
        private final StreamObserver<UpdateChunk> out;
        private final CompletableFuture<SubmitUpdateResponse> result;
        private final float[] values;

        private PartialUpload(
                StreamObserver<UpdateChunk> out,
                CompletableFuture<SubmitUpdateResponse> result,
                float[] values) {
            this.out = out;
            this.result = result;
            this.values = values;
        }

        /**
         * Sends the bytes and completes the upload.
         *
         * @throws StatusRuntimeException the gateway's refusal
         */
        public SubmitUpdateResponse finish() {
            out.onNext(UpdateChunk.newBuilder().setData(bytes(values)).setOffset(0).build());
            out.onCompleted();
            return await(result);
        }

        /** Cancels the upload without sending its bytes. */
        public void cancel() {
            out.onError(new IllegalStateException("cancelled by the test"));
        }

        /** The gateway's answer, once it came (e.g. a refusal while the bytes were held back). */
        public CompletableFuture<SubmitUpdateResponse> result() {
            return result;
        }
    }

    /**
     * Starts an upload of {@code values}: sends its header only (with the values' CRC-32C); the
     * bytes follow with {@code finish}.
     */
    public PartialUpload beginSubmit(
            long round, List<TensorSpec> tensors, long examples, float[] values) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(examples)
                        .addAllTensors(tensors)
                        .setCrc32C(crc32c(bytes(values)))
                        .build();
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(2 * TRANSFER_SECONDS, TimeUnit.SECONDS)
                        .submitUpdate(observer(result));
        out.onNext(UpdateChunk.newBuilder().setHeader(header).build());
        return new PartialUpload(out, result, values);
    }

    /** The CRC-32C of an update's bytes, as {@code UpdateHeader.crc32c} carries it. */
    public static int crc32c(ByteString bytes) {
        CRC32C crc = new CRC32C();
        for (ByteBuffer part : bytes.asReadOnlyByteBufferList()) {
            crc.update(part);
        }
        return (int) crc.getValue();
    }

    /**
     * Starts the answer to an asynchronous training task, trained from {@code baseVersion}, of
     * {@code values}: sends its header only (the bytes follow with {@code finish}).
     */
    public PartialUpload beginSubmitAsync(
            Task task, List<TensorSpec> tensors, long examples, long baseVersion, float[] values) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId(task.getTaskId())
                        .setRound(task.getRound())
                        .setBaseModelVersion(baseVersion)
                        .setNumTrainingExamples(examples)
                        .addAllTensors(tensors)
                        .setCrc32C(crc32c(bytes(values)))
                        .build();
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(2 * TRANSFER_SECONDS, TimeUnit.SECONDS)
                        .submitUpdate(observer(result));
        out.onNext(UpdateChunk.newBuilder().setHeader(header).build());
        return new PartialUpload(out, result, values);
    }

    /** Answers an asynchronous training task, trained from the task's model version. */
    public SubmitUpdateResponse submitAsync(
            Task task, List<TensorSpec> tensors, float[] values, long examples) {
        return submitAsync(task, tensors, values, examples, task.getModelVersion());
    }

    /** Answers an asynchronous training task, trained from {@code baseVersion}. */
    public SubmitUpdateResponse submitAsync(
            Task task, List<TensorSpec> tensors, float[] values, long examples, long baseVersion) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId(task.getTaskId())
                        .setRound(task.getRound())
                        .setBaseModelVersion(baseVersion)
                        .setNumTrainingExamples(examples)
                        .addAllTensors(tensors)
                        .setCrc32C(crc32c(bytes(values)))
                        .build();
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        chunks.add(UpdateChunk.newBuilder().setData(bytes(values)).setOffset(0).build());
        return submitRaw(chunks);
    }

    /**
     * Sends exactly these chunks.
     *
     * @throws StatusRuntimeException the gateway's refusal
     */
    public SubmitUpdateResponse submitRaw(List<UpdateChunk> chunks) {
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(TRANSFER_SECONDS, TimeUnit.SECONDS)
                        .submitUpdate(observer(result));
        for (UpdateChunk c : chunks) {
            out.onNext(c);
        }
        out.onCompleted();
        return await(result);
    }

    private static SubmitUpdateResponse await(CompletableFuture<SubmitUpdateResponse> result) {
        try {
            return result.get(TRANSFER_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while uploading", e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("no answer to the upload", e);
        }
    }

    /**
     * Sends the header and the first half of an update's data chunks, then dies: the connection is
     * torn down without completing or cancelling the call, as when a learner process is killed.
     * This learner is unusable afterwards.
     */
    public void submitHalfAndDie(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            Map<String, Double> metrics)
            throws InterruptedException {
        StreamObserver<UpdateChunk> out =
                async.submitUpdate(observer(new CompletableFuture<SubmitUpdateResponse>()));
        List<UpdateChunk> chunks = updateChunks(round, tensors, values, examples, metrics);
        for (UpdateChunk c : chunks.subList(0, chunks.size() / 2)) {
            out.onNext(c);
        }
        Thread.sleep(300); // let the gateway receive the first half
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }

    /** Answers an evaluation task of round {@code round} (task id {@code r<round>/evaluate}). */
    public void evaluate(long round, long examples, Map<String, Double> metrics) {
        blocking.withDeadlineAfter(CALL_SECONDS, TimeUnit.SECONDS)
                .submitEvaluation(
                        EvaluationReport.newBuilder()
                                .setCredentials(credentials)
                                .setTaskId("r" + round + "/evaluate")
                                .setRound(round)
                                .setNumExamples(examples)
                                .putAllMetrics(metrics)
                                .build());
    }

    private static StreamObserver<SubmitUpdateResponse> observer(
            CompletableFuture<SubmitUpdateResponse> result) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SubmitUpdateResponse r) {
                result.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {}
        };
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }
}
