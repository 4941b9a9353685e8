package org.metisfl.cli.e2e;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DType;
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

/**
 * A learner scripted over the raw gRPC contract, for what the learner library never does on
 * purpose: dying half-way through an upload, or reading the global model without taking part.
 */
final class RawGrpcLearner implements AutoCloseable {
    private final ManagedChannel channel;
    private final LearnerServiceGrpc.LearnerServiceBlockingStub blocking;
    private final LearnerServiceGrpc.LearnerServiceStub async;
    private final BlockingQueue<Task> tasks = new LinkedBlockingQueue<>();
    private Credentials credentials;

    RawGrpcLearner(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        channel =
                NettyChannelBuilder.forAddress(
                                hostPort.substring(0, colon),
                                Integer.parseInt(hostPort.substring(colon + 1)))
                        .usePlaintext()
                        .build();
        blocking = LearnerServiceGrpc.newBlockingStub(channel);
        async = LearnerServiceGrpc.newStub(channel);
    }

    /** The global model as served: its version and the SHA-256 of its bytes. */
    record Model(long version, float[] values, String sha256) {}

    RawGrpcLearner join(String name, long examples) {
        JoinResponse r =
                blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
                        .join(
                                JoinRequest.newBuilder()
                                        .setName(name)
                                        .setNumTrainingExamples(examples)
                                        .setNumTestExamples(examples)
                                        .build());
        credentials =
                Credentials.newBuilder()
                        .setLearnerId(r.getLearnerId())
                        .setToken(r.getToken())
                        .build();
        return this;
    }

    /** Uses credentials obtained on another connection (a learner that reconnects). */
    RawGrpcLearner useCredentials(Credentials c) {
        credentials = c;
        return this;
    }

    Credentials credentials() {
        return credentials;
    }

    String id() {
        return credentials.getLearnerId();
    }

    void leave() {
        blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
                .leave(LeaveRequest.newBuilder().setCredentials(credentials).build());
    }

    void openTaskStream() {
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

    /** The next task of this kind, skipping others; fails after {@code timeout}. */
    Task nextTask(Task.KindCase kind, Duration timeout) throws InterruptedException {
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

    Model getModel() throws Exception {
        Iterator<ModelChunk> it =
                blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .getModel(GetModelRequest.newBuilder().setCredentials(credentials).build());
        ModelChunk first = it.next();
        ByteBuffer bytes = ByteBuffer.allocate((int) first.getHeader().getTotalBytes());
        while (it.hasNext()) {
            bytes.put(it.next().getData().asReadOnlyByteBuffer());
        }
        byte[] raw = bytes.array();
        float[] values = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        return new Model(first.getHeader().getModelVersion(), values, sha);
    }

    static TensorSpec spec(int size) {
        return TensorSpec.newBuilder()
                .setName(DeterministicModel.TENSOR)
                .setDtype(DType.FLOAT32)
                .addShape(size)
                .build();
    }

    private List<UpdateChunk> chunks(long round, float[] values, long examples) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(examples)
                        .addTensors(spec(values.length))
                        .putAllMetrics(round > 0 ? Map.of("loss", 1.0 / round) : Map.of())
                        .build();
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        ByteString all = ByteString.copyFrom(b.array());
        int chunk = 4096;
        for (int off = 0; off < all.size(); off += chunk) {
            chunks.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + chunk)))
                            .build());
        }
        return chunks;
    }

    /** Uploads a whole update; returns the gateway's answer once it is durable. */
    SubmitUpdateResponse.Status submit(long round, float[] values, long examples) throws Exception {
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(60, TimeUnit.SECONDS).submitUpdate(observer(result));
        for (UpdateChunk c : chunks(round, values, examples)) {
            out.onNext(c);
        }
        out.onCompleted();
        return result.get(60, TimeUnit.SECONDS).getStatus();
    }

    /**
     * Sends the header and the first part of an update, then dies: the connection is torn down
     * without completing or cancelling the call, as when a learner process is killed.
     */
    void submitHalfAndDie(long round, float[] values, long examples) throws Exception {
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out = async.submitUpdate(observer(result));
        List<UpdateChunk> chunks = chunks(round, values, examples);
        for (UpdateChunk c : chunks.subList(0, chunks.size() / 2)) {
            out.onNext(c);
        }
        Thread.sleep(300); // let the gateway receive the first half
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
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
