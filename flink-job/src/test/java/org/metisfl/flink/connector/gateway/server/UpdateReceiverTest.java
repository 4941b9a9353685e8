package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.LeasedMessage;

/**
 * The receiver's flow control and budget, driven message by message as gRPC would, through the
 * initial-model upload (the path that needs no round from the job).
 */
class UpdateReceiverTest {
    private static final int VALUES = 250; // 1000 bytes

    private final TokenAuthority tokens = new TokenAuthority(TokenAuthority.newSecret());
    private final StampedEventQueue queue =
            new StampedEventQueue(System::currentTimeMillis, new IngestBudget(1500, 1));
    private long nanos;
    private final GatewayState state = stateWith(Map.of());

    private GatewayState stateWith(Map<String, String> settings) {
        return new GatewayState(
                GatewayOptions.from(FederationConfig.of(settings)), 0, tokens, queue, () -> nanos);
    }

    /** What a granted upload asks for: all its messages (its whole size is reserved). */
    private static final int ALL = Integer.MAX_VALUE;

    /** One SubmitUpdate call as the service sees it: what it asked for and what it answered. */
    private static final class FakeCall extends ServerCallStreamObserver<SubmitUpdateResponse> {
        boolean autoRequest = true;
        int requested;
        Runnable onCancel;
        final List<SubmitUpdateResponse> answers = new ArrayList<>();
        Throwable error;

        @Override
        public void disableAutoRequest() {
            autoRequest = false;
        }

        @Override
        public void disableAutoInboundFlowControl() {
            autoRequest = false;
        }

        @Override
        public void request(int count) {
            requested = (int) Math.min(ALL, (long) requested + count); // gRPC saturates too
        }

        @Override
        public void setOnCancelHandler(Runnable handler) {
            onCancel = handler;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void setCompression(String compression) {}

        @Override
        public boolean isReady() {
            return true;
        }

        @Override
        public void setOnReadyHandler(Runnable handler) {}

        @Override
        public void setMessageCompression(boolean enable) {}

        @Override
        public void onNext(SubmitUpdateResponse value) {
            answers.add(value);
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onCompleted() {}

        /** gRPC's cancel: the handler, then onError for a call not half-closed. */
        void cancel(StreamObserver<UpdateChunk> receiver) {
            onCancel.run();
            receiver.onError(Status.CANCELLED.asRuntimeException());
        }
    }

    /** An upload whose chunks the receiver takes as owned messages (no transport buffers). */
    private record Upload(FakeCall call, StreamObserver<UpdateChunk> receiver) {}

    private Upload start() {
        return start(state);
    }

    private Upload start(GatewayState state) {
        FakeCall call = new FakeCall();
        StreamObserver<UpdateChunk> receiver =
                LeasedMessage.owning(
                        UpdateReceiver.start(state, call), UpdateChunk.DATA_FIELD_NUMBER);
        assertThat(call.autoRequest).isFalse();
        assertThat(call.requested).isEqualTo(1); // the header only
        return new Upload(call, receiver);
    }

    @Test
    void refusesAnUpdateBeyondTheModelSizeLimitBeforeReservingAnything() {
        GatewayState limited =
                new GatewayState(
                        GatewayOptions.from(
                                FederationConfig.of(Map.of("gateway.max-model-size", "2047 mb"))),
                        0,
                        tokens,
                        queue);
        FakeCall call = new FakeCall();
        StreamObserver<UpdateChunk> receiver =
                LeasedMessage.owning(
                        UpdateReceiver.start(limited, call), UpdateChunk.DATA_FIELD_NUMBER);
        int overLimit = (int) (FederationConfig.MAX_MODEL_BYTES / Float.BYTES) + 1;
        receiver.onNext(header(overLimit));
        assertThat(call.error)
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode())
                                    .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                            assertThat(e.getStatus().getDescription())
                                    .contains("2146435076 bytes")
                                    .contains("gateway.max-model-size (2146435072)");
                        });
        assertThat(call.requested).as("no byte of it is read").isEqualTo(1);
    }

    /**
     * The header of {@link #values}{@code (n)} (a huge one's CRC is not computed: refused first).
     */
    private UpdateChunk header(int n) {
        if (n > 1 << 20) {
            UpdateChunk h = header(new float[0], tokens.newLearnerId());
            return h.toBuilder()
                    .setHeader(
                            h.getHeader().toBuilder()
                                    .setTensors(
                                            0,
                                            h.getHeader().getTensors(0).toBuilder().setShape(0, n)))
                    .build();
        }
        return header(values(n));
    }

    /** The header of an initial-model upload of {@code v}, with its CRC-32C, by a new learner. */
    private UpdateChunk header(float[] v) {
        return header(v, tokens.newLearnerId());
    }

    private UpdateChunk header(float[] v, String id) {
        return UpdateChunk.newBuilder()
                .setHeader(
                        UpdateHeader.newBuilder()
                                .setCredentials(
                                        Credentials.newBuilder()
                                                .setLearnerId(id)
                                                .setToken(tokens.tokenFor(id)))
                                .setRound(0)
                                .setCrc32C(crc32c(v))
                                .addTensors(
                                        TensorSpec.newBuilder()
                                                .setName("w")
                                                .setDtype(DType.FLOAT32)
                                                .addShape(v.length)))
                .build();
    }

    /** CRC-32C of the values' bytes, computed by hand (bitwise, reflected 0x82F63B78). */
    private static int crc32c(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        int crc = 0xFFFFFFFF;
        for (byte x : b.array()) {
            crc ^= x & 0xFF;
            for (int k = 0; k < 8; k++) {
                crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
            }
        }
        return ~crc;
    }

    private static float[] values(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i / 8f;
        }
        return v;
    }

    private static List<UpdateChunk> data(float[] values, int chunkBytes) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        ByteString all = ByteString.copyFrom(b.array());
        List<UpdateChunk> out = new ArrayList<>();
        for (int off = 0; off < all.size(); off += chunkBytes) {
            out.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + chunkBytes)))
                            .setOffset(off)
                            .build());
        }
        return out;
    }

    /** Delivers chunks as gRPC does with manual flow control: only what was asked for. */
    private static void deliver(Upload u, List<UpdateChunk> chunks) {
        for (UpdateChunk c : chunks) {
            assertThat(u.call.requested).as("granted: reads the whole update").isEqualTo(ALL);
            u.receiver.onNext(c);
        }
    }

    private static String errorOf(Upload u) {
        assertThat(u.call.error).isInstanceOf(StatusRuntimeException.class);
        return ((StatusRuntimeException) u.call.error).getStatus().getDescription();
    }

    @Test
    void decodesTheInitialModelAndAnswersOnceDurable() {
        Upload u = start();
        u.receiver.onNext(header(VALUES));
        assertThat(u.call.requested).isEqualTo(ALL);
        float[] v = values(VALUES);
        deliver(u, data(v, 7));
        u.receiver.onCompleted();

        StampedEventQueue.Batch batch = queue.poll();
        assertThat(batch.events()).hasSize(1);
        GatewayEvent e = batch.events().get(0);
        assertThat(e.kind).isEqualTo(GatewayEvent.Kind.INITIAL_MODEL);
        assertThat(e.values().values()).containsExactly(v);
        assertThat(u.call.answers).isEmpty();
        batch.onDurable().run();
        assertThat(u.call.answers)
                .extracting(SubmitUpdateResponse::getStatus)
                .containsExactly(SubmitUpdateResponse.Status.ACCEPTED);
        assertThat(queue.budget().reservedBytes()).isZero();
    }

    @Test
    void uploadOverBudgetWaitsForItsBytesUntilTheReaderEmitsAnAcceptedOne() {
        Upload a = start();
        a.receiver.onNext(header(VALUES));
        Upload b = start();
        b.receiver.onNext(header(VALUES));
        assertThat(a.call.requested).isEqualTo(ALL);
        assertThat(b.call.requested).as("paused: 2000 bytes > 1500").isEqualTo(1);

        deliver(a, data(values(VALUES), 300));
        a.receiver.onCompleted();
        assertThat(b.call.requested).as("a is accepted, but still in the gateway").isEqualTo(1);
        assertThat(queue.budget().reservedBytes()).isEqualTo(1000);

        queue.poll(); // the reader emits a's batch into the job
        assertThat(b.call.requested).isEqualTo(ALL);
        assertThat(queue.budget().reservedBytes()).isEqualTo(1000);
    }

    @Test
    void cancelledUploadsReleaseTheirRoomWhetherReceivingOrWaiting() {
        Upload a = start();
        a.receiver.onNext(header(VALUES));
        deliver(a, data(values(VALUES), 300).subList(0, 2));
        Upload b = start();
        b.receiver.onNext(header(VALUES));
        Upload c = start();
        c.receiver.onNext(header(VALUES));
        assertThat(queue.budget().waiting()).isEqualTo(2);

        c.call.cancel(c.receiver); // its learner went away while it waited
        assertThat(queue.budget().waiting()).isEqualTo(1);
        a.call.cancel(a.receiver); // its learner went away mid-upload
        assertThat(b.call.requested).isEqualTo(ALL);
        assertThat(c.call.requested).isEqualTo(1);
        assertThat(queue.budget().reservedBytes()).isEqualTo(1000);
        assertThat(queue.isEmpty()).isTrue();
    }

    @Test
    void refusedUploadsReleaseTheirRoomWithTheSameReasonsAsBefore() {
        Upload tooMany = start();
        tooMany.receiver.onNext(header(VALUES));
        deliver(tooMany, data(values(VALUES), 1000));
        tooMany.receiver.onNext(data(values(1), 4).get(0).toBuilder().setOffset(1000).build());
        assertThat(errorOf(tooMany))
                .isEqualTo("the upload has more bytes than its header's tensors hold (1000)");
        assertThat(queue.budget().reservedBytes()).isZero();

        Upload truncated = start();
        truncated.receiver.onNext(header(VALUES));
        deliver(truncated, data(values(VALUES), 333).subList(0, 2));
        truncated.receiver.onCompleted();
        assertThat(errorOf(truncated))
                .isEqualTo(
                        "truncated upload: received 666 of 1000 bytes; send the whole update"
                                + " again");
        assertThat(queue.budget().reservedBytes()).isZero();

        Upload nan = start();
        float[] v = values(VALUES);
        v[101] = Float.NaN;
        nan.receiver.onNext(header(v));
        deliver(nan, data(v, 6));
        nan.receiver.onCompleted();
        assertThat(errorOf(nan))
                .isEqualTo("tensor 'w' holds NaN at index 101; updates must be finite");
        assertThat(queue.budget().reservedBytes()).isZero();

        Upload headless = start();
        headless.receiver.onNext(data(values(1), 4).get(0));
        assertThat(errorOf(headless)).contains("must be its header");
        assertThat(headless.call.requested).isEqualTo(1);
        assertThat(queue.isEmpty()).isTrue();
    }

    @Test
    void swappedChunksAreRefusedNamingTheOffsets() {
        Upload u = start();
        float[] v = values(VALUES);
        u.receiver.onNext(header(v));
        List<UpdateChunk> chunks = new ArrayList<>(data(v, 100));
        UpdateChunk third = chunks.get(2);
        chunks.set(2, chunks.get(3));
        chunks.set(3, third);
        deliver(u, chunks.subList(0, 3));
        assertThat(codeOf(u)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(errorOf(u))
                .startsWith(
                        "a chunk at offset 300 arrived after 200 bytes: chunks are missing,"
                                + " repeated or out of order");
        assertThat(queue.budget().reservedBytes()).isZero();
        assertThat(queue.isEmpty()).isTrue();
    }

    @Test
    void missingChunkIsRefusedAtTheNextOffset() {
        Upload u = start();
        float[] v = values(VALUES);
        u.receiver.onNext(header(v));
        List<UpdateChunk> chunks = data(v, 100);
        deliver(u, List.of(chunks.get(0), chunks.get(2)));
        assertThat(errorOf(u)).startsWith("a chunk at offset 200 arrived after 100 bytes");
    }

    @Test
    void corruptedByteIsRefusedByTheChecksumBeforeAnythingIsAccepted() {
        Upload u = start();
        float[] v = values(VALUES);
        u.receiver.onNext(header(v));
        List<UpdateChunk> chunks = new ArrayList<>(data(v, 100));
        byte[] bytes = chunks.get(4).getData().toByteArray();
        bytes[17] ^= 0x10; // one flipped bit: still a finite float
        chunks.set(4, chunks.get(4).toBuilder().setData(ByteString.copyFrom(bytes)).build());
        deliver(u, chunks);
        u.receiver.onCompleted();
        assertThat(codeOf(u)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(errorOf(u))
                .contains("CRC-32C")
                .contains(String.format("its header says %08x", crc32c(v)));
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.budget().reservedBytes()).isZero();
    }

    @Test
    void uploadWithoutIntegrityFieldsIsRefusedUnlessTheGatewayMakesThemOptional() {
        float[] v = values(VALUES);
        UpdateChunk bare =
                UpdateChunk.newBuilder()
                        .setHeader(header(v).getHeader().toBuilder().clearCrc32C())
                        .build();
        List<UpdateChunk> noOffsets =
                data(v, 300).stream().map(c -> c.toBuilder().clearOffset().build()).toList();

        Upload required = start();
        required.receiver.onNext(bare);
        assertThat(errorOf(required))
                .startsWith("the header has no crc32c")
                .contains("gateway.upload-integrity: required");

        GatewayState lenient = stateWith(Map.of("gateway.upload-integrity", "optional"));
        Upload optional = start(lenient);
        optional.receiver.onNext(bare);
        deliver(optional, noOffsets);
        optional.receiver.onCompleted();
        assertThat(optional.call.error).isNull();
        assertThat(queue.poll().events().get(0).values().values()).containsExactly(v);
    }

    @Test
    void uploadThatSendsNothingEndsAtItsIdleTimeoutAndGivesItsRoomToTheNext() {
        GatewayState state = stateWith(Map.of("gateway.limits.upload-min-rate", "0"));
        Upload silent = start(state);
        silent.receiver.onNext(header(VALUES)); // granted: the budget holds one update
        Upload waiting = start(state);
        waiting.receiver.onNext(header(VALUES));
        assertThat(waiting.call.requested).isEqualTo(1);

        nanos += 29_000_000_000L;
        state.checkUploadTimeouts();
        assertThat(silent.call.error).isNull();
        nanos += 1_000_000_000L; // 30 s: gateway.limits.upload-idle-timeout
        state.checkUploadTimeouts();
        assertThat(codeOf(silent)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(errorOf(silent)).contains("gateway.limits.upload-idle-timeout");
        assertThat(waiting.call.requested).as("the waiting upload got the room").isEqualTo(ALL);
        assertThat(waiting.call.error).as("waiting for the budget is not idling").isNull();
        assertThat(state.uploads().inFlight()).isEqualTo(1);
    }

    @Test
    void uploadBelowTheMinimumRateEndsAfterItsGrace() {
        GatewayState s =
                stateWith(
                        Map.of(
                                "gateway.limits.upload-min-rate", "100 b",
                                "gateway.limits.upload-rate-grace", "2 s"));
        Upload slow = start(s);
        float[] v = values(VALUES);
        slow.receiver.onNext(header(v));
        List<UpdateChunk> bytes = data(v, 50); // 20 chunks of 50 bytes
        int sent = 0;
        for (int second = 1; second <= 12 && slow.call.error == null; second++) {
            slow.receiver.onNext(bytes.get(sent++)); // 50 bytes/s, half the minimum
            nanos += 1_000_000_000L;
            s.checkUploadTimeouts();
        }
        // Due after t s: 100 x (t - 2) bytes; received: 50 x t. Below from t = 5 on.
        assertThat(sent).isEqualTo(5);
        assertThat(codeOf(slow)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(errorOf(slow)).contains("gateway.limits.upload-min-rate (100 bytes/s");
        assertThat(queue.budget().reservedBytes()).isZero();
    }

    @Test
    void newerUploadOfTheSameRoundReplacesTheOlderOne() {
        String id = tokens.newLearnerId();
        float[] v = values(VALUES);
        Upload older = start();
        older.receiver.onNext(header(v, id));
        deliver(older, data(v, 300).subList(0, 1));
        Upload newer = start();
        newer.receiver.onNext(header(v, id));
        assertThat(codeOf(older)).isEqualTo(Status.Code.ABORTED);
        assertThat(errorOf(older)).contains("replaced by a newer upload");
        deliver(newer, data(v, 300));
        newer.receiver.onCompleted();
        assertThat(newer.call.error).isNull();
        assertThat(state.uploads().inFlight()).isZero();
    }

    @Test
    void gatewayRefusesUploadsPastItsLimitWithResourceExhausted() {
        GatewayState s = stateWith(Map.of("gateway.limits.uploads-in-flight", "2"));
        Upload a = start(s);
        Upload b = start(s);
        FakeCall call = new FakeCall();
        UpdateReceiver.start(s, call);
        assertThat(((StatusRuntimeException) call.error).getStatus().getCode())
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(((StatusRuntimeException) call.error).getStatus().getDescription())
                .contains("gateway.limits.uploads-in-flight");
        assertThat(call.requested).as("not even its header is read").isZero();
        b.call.cancel(b.receiver);
        Upload c = start(s);
        assertThat(c.call.error).isNull();
        assertThat(a.call.error).isNull();
    }

    /**
     * After a restart an asynchronous gateway refuses an update whose task was handed out before it
     * and whose model is newer than the first one this run served: that version was made before the
     * failure after the checkpoint the job restarted from, and is made again from other updates
     * (PipelinedUploadsITCase saw such an update take another learner's update out of the model).
     * Older versions were in that checkpoint; this run's tasks are on this run's versions.
     */
    @Test
    void afterARestartAnUpdateOfAnEarlierRunsTaskOnAVersionTheCheckpointDidNotHoldIsRefused() {
        GatewayState s =
                stateWith(
                        Map.of(
                                "protocol.type", "asynchronous",
                                "async.max-staleness", "5",
                                "aggregation.shard-size", "1024"));
        // The first directive of this run: the model of the checkpoint the job restarted from.
        s.apply(modelDirective(5), modelBytes(4));
        s.apply(modelDirective(7), modelBytes(4));
        queue.poll(); // the first model's shards for the aggregators
        queue.poll(); // MODEL_SERVED 7
        String learner = tokens.newLearnerId();
        FakeTaskStream stream = new FakeTaskStream();
        s.connect(learner, stream);
        queue.poll(); // CONNECTED
        String ourTask = stream.tasks.get(0).getTaskId();
        assertThat(stream.tasks.get(0).getModelVersion()).isEqualTo(7);
        String earlierRun = "a-0123abcd-0011223344556677";
        assertThat(ourTask).doesNotStartWith("a-0123abcd-");

        Upload lost = asyncUpload(s, learner, earlierRun, 6);
        assertThat(codeOf(lost)).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(errorOf(lost))
                .contains("trained on model version 6 of task " + earlierRun)
                .contains("handed out before the job restarted")
                .contains("holds versions up to 5 only")
                .contains("the update was not counted, train on your next task");
        assertThat(queue.isEmpty()).as("nothing of it enters the job").isTrue();

        Upload held = asyncUpload(s, learner, "a-0123abcd-8899aabbccddeeff", 5);
        assertThat(held.call.error).as("version 5 was in the checkpoint").isNull();
        Upload ours = asyncUpload(s, learner, ourTask, 7);
        assertThat(ours.call.error).as("a task of this run").isNull();
        List<String> queued = new ArrayList<>();
        for (StampedEventQueue.Batch b = queue.poll(); b != null; b = queue.poll()) {
            for (GatewayEvent e : b.events()) {
                if (e.kind == GatewayEvent.Kind.UPDATE_SHARD) {
                    queued.add(e.taskId + "@" + e.baseVersion);
                }
            }
        }
        assertThat(queued).containsExactly("a-0123abcd-8899aabbccddeeff@5", ourTask + "@7");
    }

    /**
     * An asynchronous update whose header came before the end of the federation and whose last byte
     * after it is refused, not accepted: the Shutdown, which waits for every accepted update to be
     * answered, may already be on its way, and the update would be in no model.
     */
    @Test
    void anAsynchronousUpdateWhoseLastByteComesAfterTheEndIsRefused() {
        GatewayState s =
                stateWith(
                        Map.of(
                                "protocol.type", "asynchronous",
                                "aggregation.shard-size", "1024"));
        s.apply(modelDirective(3), modelBytes(4));
        String learner = tokens.newLearnerId();
        FakeTaskStream stream = new FakeTaskStream();
        s.connect(learner, stream);
        String task = stream.tasks.get(0).getTaskId();
        float[] v = values(4);
        UpdateChunk h = header(v, learner);
        Upload u = start(s);
        u.receiver.onNext(
                h.toBuilder()
                        .setHeader(
                                h.getHeader().toBuilder()
                                        .setRound(3)
                                        .setBaseModelVersion(3)
                                        .setTaskId(task)
                                        .setNumTrainingExamples(10))
                        .build());
        assertThat(u.call.error).isNull();
        s.apply(
                modelDirective(4).toBuilder()
                        .setFinished(true)
                        .setFinishReason("completed 4 model versions")
                        .build(),
                modelBytes(4));
        deliver(u, data(v, 16));
        u.receiver.onCompleted();
        assertThat(codeOf(u)).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(errorOf(u)).startsWith("the federation is over").contains("not counted");
        assertThat(stream.taskIds()).as("the Shutdown waited for nothing").endsWith("shutdown");
        for (StampedEventQueue.Batch b = queue.poll(); b != null; b = queue.poll()) {
            assertThat(b.events()).noneMatch(e -> e.kind == GatewayEvent.Kind.UPDATE_SHARD);
        }
    }

    private static org.metisfl.proto.v1.DirectiveHeader modelDirective(long version) {
        return org.metisfl.proto.v1.DirectiveHeader.newBuilder()
                .setModelVersion(version)
                .setNumShards(1)
                .setShardSize(1024)
                .addTensors(
                        TensorSpec.newBuilder().setName("w").setDtype(DType.FLOAT32).addShape(4))
                .build();
    }

    private static List<ByteString> modelBytes(int n) {
        ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values(n));
        return List.of(ByteString.copyFrom(b.array()));
    }

    /** A whole asynchronous update of {@code task}, trained on {@code base}. */
    private Upload asyncUpload(GatewayState s, String learner, String task, long base) {
        float[] v = values(4);
        UpdateChunk h = header(v, learner);
        Upload u = start(s);
        u.receiver.onNext(
                h.toBuilder()
                        .setHeader(
                                h.getHeader().toBuilder()
                                        .setRound(base)
                                        .setBaseModelVersion(base)
                                        .setTaskId(task)
                                        .setNumTrainingExamples(10))
                        .build());
        if (u.call.error == null) {
            deliver(u, data(v, 16));
            u.receiver.onCompleted();
        }
        return u;
    }

    private static Status.Code codeOf(Upload u) {
        assertThat(u.call.error).isInstanceOf(StatusRuntimeException.class);
        return ((StatusRuntimeException) u.call.error).getStatus().getCode();
    }
}
