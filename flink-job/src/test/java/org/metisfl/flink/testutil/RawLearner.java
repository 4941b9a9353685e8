package org.metisfl.flink.testutil;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.EvaluationReport;
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

/**
 * A scripted learner speaking the raw gRPC contract, for tests that need exact control over what
 * reaches the gateway (including malformed input).
 */
public final class RawLearner implements AutoCloseable {
    private final ManagedChannel channel;
    private final LearnerServiceGrpc.LearnerServiceBlockingStub blocking;
    private final LearnerServiceGrpc.LearnerServiceStub async;
    private final BlockingQueue<Task> tasks = new LinkedBlockingQueue<>();
    private Credentials credentials;
    private JoinResponse joined;

    public RawLearner(String host, int port) {
        channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        blocking = LearnerServiceGrpc.newBlockingStub(channel);
        async = LearnerServiceGrpc.newStub(channel);
    }

    /** The model a learner downloaded. */
    public record Downloaded(long version, List<TensorSpec> tensors, float[] values) {}

    public static TensorSpec spec(String name, long... shape) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(name).setDtype(DType.FLOAT32);
        for (long d : shape) {
            b.addShape(d);
        }
        return b.build();
    }

    public JoinResponse join(String name, long examples) {
        joined =
                blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
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

    /** Registers another learner over this channel and forgets it (safe from many threads). */
    public JoinResponse joinAnother(String name, long examples) {
        return blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                .join(
                        JoinRequest.newBuilder()
                                .setName(name)
                                .setNumTrainingExamples(examples)
                                .build());
    }

    public String id() {
        return credentials.getLearnerId();
    }

    public Credentials credentials() {
        return credentials;
    }

    public void useCredentials(Credentials c) {
        credentials = c;
    }

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

    /** The next task, or an assertion error after {@code timeout}. */
    public Task nextTask(Duration timeout) throws InterruptedException {
        Task t = tasks.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (t == null) {
            throw new AssertionError(id() + " got no task within " + timeout);
        }
        return t;
    }

    /** Waits for the next task of the given kind, skipping others. */
    public Task nextTask(Task.KindCase kind, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = end - System.nanoTime();
            Task t = tasks.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (t == null) {
                throw new AssertionError(id() + " got no " + kind + " task within " + timeout);
            }
            if (t.getKindCase() == kind) {
                return t;
            }
        }
    }

    public Downloaded getModel() {
        Iterator<ModelChunk> it =
                blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .getModel(GetModelRequest.newBuilder().setCredentials(credentials).build());
        ModelChunk first = it.next();
        ByteBuffer bytes = ByteBuffer.allocate((int) first.getHeader().getTotalBytes());
        while (it.hasNext()) {
            bytes.put(it.next().getData().asReadOnlyByteBuffer());
        }
        bytes.flip();
        float[] values = new float[bytes.remaining() / 4];
        bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return new Downloaded(
                first.getHeader().getModelVersion(), first.getHeader().getTensorsList(), values);
    }

    public static ByteString bytes(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return ByteString.copyFrom(b.array());
    }

    /** Uploads an update as header + chunks of {@code chunkBytes}. */
    public SubmitUpdateResponse submit(
            long round,
            List<TensorSpec> tensors,
            float[] values,
            long examples,
            Map<String, Double> metrics) {
        return submit(round, tensors, values, examples, 0, metrics);
    }

    /** Uploads an update trained on {@code examples} examples in {@code batches} mini-batches. */
    public SubmitUpdateResponse submit(
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
                        .build();
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        ByteString all = bytes(values);
        int chunkBytes = 64 * 1024 + 3; // deliberately not a multiple of 4
        for (int off = 0; off < all.size(); off += chunkBytes) {
            chunks.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + chunkBytes)))
                            .build());
        }
        return submitRaw(chunks);
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
                        .build();
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        chunks.add(UpdateChunk.newBuilder().setData(bytes(values)).build());
        return submitRaw(chunks);
    }

    /** An upload whose header is sent; its bytes follow with {@link #finish}. */
    public final class PartialUpload {
        private final StreamObserver<UpdateChunk> out;
        private final CompletableFuture<SubmitUpdateResponse> result;

        private PartialUpload(
                StreamObserver<UpdateChunk> out, CompletableFuture<SubmitUpdateResponse> result) {
            this.out = out;
            this.result = result;
        }

        /** Sends the bytes and completes the upload; throws the gRPC error the gateway answers. */
        public SubmitUpdateResponse finish(float[] values) {
            out.onNext(UpdateChunk.newBuilder().setData(bytes(values)).build());
            out.onCompleted();
            return await(result);
        }
    }

    /** Starts an upload: sends its header only (the bytes follow with {@code finish}). */
    public PartialUpload beginSubmit(long round, List<TensorSpec> tensors, long examples) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(examples)
                        .addAllTensors(tensors)
                        .build();
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(120, TimeUnit.SECONDS).submitUpdate(collector(result));
        out.onNext(UpdateChunk.newBuilder().setHeader(header).build());
        return new PartialUpload(out, result);
    }

    private static StreamObserver<SubmitUpdateResponse> collector(
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

    private static SubmitUpdateResponse await(CompletableFuture<SubmitUpdateResponse> result) {
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sends exactly these chunks; throws the gRPC error the gateway answers with. */
    public SubmitUpdateResponse submitRaw(List<UpdateChunk> chunks) {
        CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                async.withDeadlineAfter(60, TimeUnit.SECONDS)
                        .submitUpdate(
                                new StreamObserver<>() {
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
                                });
        for (UpdateChunk c : chunks) {
            out.onNext(c);
        }
        out.onCompleted();
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public void evaluate(long round, long examples, Map<String, Double> metrics) {
        blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
                .submitEvaluation(
                        EvaluationReport.newBuilder()
                                .setCredentials(credentials)
                                .setTaskId("r" + round + "/evaluate")
                                .setRound(round)
                                .setNumExamples(examples)
                                .putAllMetrics(metrics)
                                .build());
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }
}
