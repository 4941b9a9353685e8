package org.metisfl.flink.security;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.DevSecurity;

/**
 * One learner scripted call by call over TLS, with an enrollment token at join and its session
 * token as call credentials, as a learner outside the operator's network would connect. Every call
 * has a deadline; it never retries, so a test sees what the gateway answers.
 */
final class TlsLearner implements AutoCloseable {
    static final Duration CALL = Duration.ofSeconds(20);

    /** Deliberately not a multiple of 4, so values span chunks. */
    private static final int CHUNK_BYTES = 4 * 1024 + 3;

    private final ManagedChannel channel;
    private final BlockingQueue<Task> tasks = new LinkedBlockingQueue<>();
    private volatile String bearer;
    private volatile String id;

    TlsLearner(DevSecurity security, int port) {
        channel =
                NettyChannelBuilder.forAddress(
                                "127.0.0.1", port, security.learnerTransport().channelCredentials())
                        .build();
    }

    ManagedChannel channel() {
        return channel;
    }

    String id() {
        return id;
    }

    String token() {
        return bearer;
    }

    Credentials credentials() {
        return Credentials.newBuilder().setLearnerId(id).build();
    }

    private LearnerServiceGrpc.LearnerServiceBlockingStub blocking() {
        return LearnerServiceGrpc.newBlockingStub(channel)
                .withCallCredentials(BearerToken.credentials(() -> bearer, false))
                .withDeadlineAfter(CALL.toMillis(), TimeUnit.MILLISECONDS);
    }

    LearnerServiceGrpc.LearnerServiceStub async(Duration deadline) {
        return LearnerServiceGrpc.newStub(channel)
                .withCallCredentials(BearerToken.credentials(() -> bearer, false))
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Joins with {@code enrollmentToken}; later calls carry the session token it returns. */
    JoinResponse join(String name, long examples, String enrollmentToken) {
        bearer = enrollmentToken;
        JoinResponse joined =
                blocking()
                        .join(
                                JoinRequest.newBuilder()
                                        .setName(name)
                                        .setNumTrainingExamples(examples)
                                        .build());
        id = joined.getLearnerId();
        bearer = joined.getToken();
        return joined;
    }

    void openTaskStream() {
        LearnerServiceGrpc.newStub(channel)
                .withCallCredentials(BearerToken.credentials(() -> bearer, false))
                .streamTasks(
                        StreamTasksRequest.newBuilder().setCredentials(credentials()).build(),
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

    Task nextTask(Task.KindCase kind, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            Task t = tasks.poll(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (t == null) {
                throw new AssertionError(id + " got no " + kind + " task within " + timeout);
            }
            if (t.getKindCase() == kind) {
                return t;
            }
        }
    }

    /** The global model's version and values. */
    record Model(long version, float[] values) {}

    Model getModel() {
        Iterator<ModelChunk> it =
                blocking()
                        .getModel(
                                GetModelRequest.newBuilder().setCredentials(credentials()).build());
        ModelChunk first = it.next();
        ByteBuffer bytes = ByteBuffer.allocate((int) first.getHeader().getTotalBytes());
        while (it.hasNext()) {
            bytes.put(it.next().getData().asReadOnlyByteBuffer());
        }
        float[] values = new float[bytes.capacity() / Float.BYTES];
        bytes.flip();
        bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return new Model(first.getHeader().getModelVersion(), values);
    }

    static ByteString bytes(float[] values) {
        ByteBuffer b =
                ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return ByteString.copyFrom(b.array());
    }

    static int crc32c(ByteString bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes.asReadOnlyByteBuffer());
        return (int) crc.getValue();
    }

    UpdateHeader header(long round, List<TensorSpec> specs, float[] values, long examples) {
        return UpdateHeader.newBuilder()
                .setCredentials(credentials())
                .setTaskId("r" + round + "/train")
                .setRound(round)
                .setNumTrainingExamples(examples)
                .addAllTensors(specs)
                .setCrc32C(crc32c(bytes(values)))
                .build();
    }

    /** A well-formed upload: the header, then the values in chunks with their offsets. */
    List<UpdateChunk> chunks(long round, List<TensorSpec> specs, float[] values, long examples) {
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(
                UpdateChunk.newBuilder().setHeader(header(round, specs, values, examples)).build());
        ByteString all = bytes(values);
        for (int off = 0; off < all.size(); off += CHUNK_BYTES) {
            chunks.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + CHUNK_BYTES)))
                            .setOffset(off)
                            .build());
        }
        return chunks;
    }

    /** What became of an upload: the gateway's answer, or the status it ended with. */
    record Outcome(SubmitUpdateResponse.Status answer, Status status) {
        boolean accepted() {
            return answer == SubmitUpdateResponse.Status.ACCEPTED;
        }
    }

    /** Sends exactly these chunks and waits for the end of the call. */
    Outcome submit(List<UpdateChunk> chunks) throws Exception {
        CompletableFuture<Outcome> end = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out = async(CALL).submitUpdate(observer(end));
        for (UpdateChunk c : chunks) {
            out.onNext(c);
        }
        out.onCompleted();
        return end.get(CALL.toSeconds() + 10, TimeUnit.SECONDS);
    }

    static StreamObserver<SubmitUpdateResponse> observer(CompletableFuture<Outcome> end) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SubmitUpdateResponse r) {
                end.complete(new Outcome(r.getStatus(), Status.OK));
            }

            @Override
            public void onError(Throwable t) {
                end.complete(new Outcome(null, Status.fromThrowable(t)));
            }

            @Override
            public void onCompleted() {
                end.complete(new Outcome(null, Status.OK));
            }
        };
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }
}
