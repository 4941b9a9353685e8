package org.metisfl.simulator;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc.LearnerServiceStub;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitEvaluationResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * One simulated learner: a small state machine driven entirely by gRPC callbacks (no thread of its
 * own), so a JVM holds thousands. It trains nothing: each training task becomes an optional model
 * download followed by the upload of a shared synthetic update.
 */
final class SimulatedLearner {
    /** Join attempts before a refusal by the gateway's join rate counts as a failure. */
    static final int JOIN_ATTEMPTS = 30;

    private final SimulatedFederation sim;
    private final int index;
    private final LearnerServiceStub stub;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile Credentials credentials;
    private long lastTrainRound = Long.MIN_VALUE;
    private final AtomicInteger uploadsUnanswered = new AtomicInteger();
    private volatile boolean streamDone;
    private String lastTrainTaskId = "";

    /** The last upload started (its transfer slot is given back at the latest by the next task). */
    private volatile Upload lastUpload;

    private long lastEvalRound = Long.MIN_VALUE;
    private volatile ClientCallStreamObserver<StreamTasksRequest> taskCall;

    SimulatedLearner(SimulatedFederation sim, int index, LearnerServiceStub stub) {
        this.sim = sim;
        this.index = index;
        this.stub = stub;
    }

    /** 100 ms doubling to 3.2 s, each with up to 50% added at random. */
    static long joinBackoffMs(int attempt) {
        long base = 100L << Math.min(attempt - 1, 5);
        return base + ThreadLocalRandom.current().nextLong(base / 2 + 1);
    }

    private LearnerServiceStub callStub() {
        return stub.withDeadlineAfter(sim.callTimeoutNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * Joins, then opens the task stream; {@code done} runs once the Join has an answer. A join
     * refused by the gateway's join rate (RESOURCE_EXHAUSTED) is tried again after a jittered,
     * growing backoff, as the learner library does, up to {@value #JOIN_ATTEMPTS} attempts.
     */
    void join(Runnable done) {
        join(done, 1);
    }

    private void join(Runnable done, int attempt) {
        callStub()
                .join(
                        JoinRequest.newBuilder()
                                .setName(sim.namePrefix() + "-" + index)
                                .setNumTrainingExamples(sim.examples())
                                .setNumTestExamples(sim.examples())
                                .build(),
                        new StreamObserver<>() {
                            @Override
                            public void onNext(JoinResponse r) {
                                credentials =
                                        Credentials.newBuilder()
                                                .setLearnerId(r.getLearnerId())
                                                .setToken(r.getToken())
                                                .build();
                            }

                            @Override
                            public void onError(Throwable t) {
                                if (Status.fromThrowable(t).getCode()
                                                == Status.Code.RESOURCE_EXHAUSTED
                                        && attempt < JOIN_ATTEMPTS
                                        && sim.retryJoinLater(
                                                () -> join(done, attempt + 1),
                                                joinBackoffMs(attempt))) {
                                    return;
                                }
                                sim.failed(null, "join", t);
                                end();
                                done.run();
                            }

                            @Override
                            public void onCompleted() {
                                sim.joined();
                                openTaskStream();
                                done.run();
                            }
                        });
    }

    private void openTaskStream() {
        sim.streamOpened();
        stub.withDeadlineAfter(sim.timeoutNanos(), TimeUnit.NANOSECONDS)
                .streamTasks(
                        StreamTasksRequest.newBuilder().setCredentials(credentials).build(),
                        new ClientResponseObserver<StreamTasksRequest, Task>() {
                            @Override
                            public void beforeStart(
                                    ClientCallStreamObserver<StreamTasksRequest> call) {
                                taskCall = call;
                            }

                            @Override
                            public void onNext(Task task) {
                                onTask(task);
                            }

                            @Override
                            public void onError(Throwable t) {
                                if (!ended.get() && !sim.isClosing()) {
                                    sim.failed(null, "task stream", t);
                                }
                                end();
                            }

                            @Override
                            public void onCompleted() {
                                streamDone = true;
                                endOnceAnswered();
                            }
                        });
    }

    /**
     * After the gateway's Shutdown, a learner still waits for the answer to an update it sent (a
     * learner keeps an update until it is acknowledged).
     */
    private void endOnceAnswered() {
        if (streamDone && uploadsUnanswered.get() == 0) {
            end();
        }
    }

    private void end() {
        if (ended.compareAndSet(false, true)) {
            sim.ended();
        }
    }

    void cancel() {
        ClientCallStreamObserver<StreamTasksRequest> c = taskCall;
        if (c != null) {
            c.cancel("the simulation is closing", null);
        }
    }

    private void onTask(Task task) {
        long at = Micros.now();
        switch (task.getKindCase()) {
            case TRAIN -> {
                synchronized (this) {
                    // A task already done, re-sent after a reconnect. Asynchronous tasks can share
                    // a model version (the round): their ids tell them apart.
                    if (task.getRound() < lastTrainRound
                            || task.getTaskId().equals(lastTrainTaskId)) {
                        return;
                    }
                    lastTrainRound = task.getRound();
                    lastTrainTaskId = task.getTaskId();
                }
                // A new task means the previous upload was accepted: its transfer is over, even
                // if its acknowledgement still waits for the checkpoint that holds it.
                Upload previous = lastUpload;
                if (previous != null) {
                    previous.transferOver();
                }
                RoundRecorder r = sim.round(task.getRound());
                r.trainTasks.incrementAndGet();
                r.firstTask.accumulate(at);
                r.lastTask.accumulate(at);
                if (!sim.trains(index)) {
                    return;
                }
                sim.transfers()
                        .submit(
                                () -> {
                                    if (sim.fetchModel()) {
                                        download(task, r, at);
                                    } else {
                                        upload(task, r, at, 0);
                                    }
                                });
            }
            case EVALUATE -> {
                if (!sim.evaluate()) {
                    return;
                }
                synchronized (this) {
                    if (task.getRound() <= lastEvalRound) {
                        return;
                    }
                    lastEvalRound = task.getRound();
                }
                evaluate(task);
            }
            case SHUTDOWN -> sim.shutdown(task.getShutdown().getReason());
            default -> {
                // a task kind this simulator does not know: ignore it, as a learner would
            }
        }
    }

    private void download(Task task, RoundRecorder r, long taskAt) {
        long start = Micros.now();
        callStub()
                .getModel(
                        GetModelRequest.newBuilder().setCredentials(credentials).build(),
                        new StreamObserver<>() {
                            private final SimulatedFederation.ModelListener listener =
                                    sim.modelListener(index);
                            private long expected = -1;
                            private long version;
                            private long bytes;
                            private ByteString copy = ByteString.EMPTY;

                            @Override
                            public void onNext(ModelChunk c) {
                                if (c.hasHeader()) {
                                    expected = c.getHeader().getTotalBytes();
                                    version = c.getHeader().getModelVersion();
                                } else {
                                    bytes += c.getData().size();
                                    if (listener != null) {
                                        copy = copy.concat(c.getData());
                                    }
                                }
                            }

                            @Override
                            public void onError(Throwable t) {
                                sim.failed(r, "GetModel", t);
                                sim.transfers().release();
                            }

                            @Override
                            public void onCompleted() {
                                if (bytes != expected) {
                                    sim.failed(
                                            r,
                                            "GetModel",
                                            new IllegalStateException(
                                                    "received "
                                                            + bytes
                                                            + " of "
                                                            + expected
                                                            + " model bytes"));
                                    sim.transfers().release();
                                    return;
                                }
                                long took = Micros.now() - start;
                                if (listener != null) {
                                    float[] values = new float[copy.size() / Float.BYTES];
                                    copy.asReadOnlyByteBuffer()
                                            .order(ByteOrder.LITTLE_ENDIAN)
                                            .asFloatBuffer()
                                            .get(values);
                                    listener.onModel(version, values);
                                }
                                r.downloads.incrementAndGet();
                                r.maxDownload.accumulate(took);
                                r.bytesDownloaded.addAndGet(bytes);
                                upload(task, r, taskAt, took);
                            }
                        });
    }

    private void upload(Task task, RoundRecorder r, long taskAt, long downloadUs) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(credentials)
                        .setTaskId(task.getTaskId())
                        .setRound(task.getRound())
                        .setNumTrainingExamples(sim.examples())
                        .setNumCompletedBatches(1)
                        .addAllTensors(sim.specs())
                        .putMetrics("loss", 1.0 / (1 + task.getRound()))
                        .setCrc32C(sim.updates().crc32cFor(index))
                        .build();
        Upload u = new Upload(r, header, sim.updates().chunksFor(index), taskAt, downloadUs);
        lastUpload = u;
        uploadsUnanswered.incrementAndGet();
        callStub().submitUpdate(u);
        u.pump();
    }

    private void evaluate(Task task) {
        RoundRecorder r = sim.round(task.getRound());
        callStub()
                .submitEvaluation(
                        EvaluationReport.newBuilder()
                                .setCredentials(credentials)
                                .setTaskId(task.getTaskId())
                                .setRound(task.getRound())
                                .setNumExamples(sim.examples())
                                .putMetrics("accuracy", 0.5)
                                .putMetrics("loss", 1.0)
                                .build(),
                        new StreamObserver<SubmitEvaluationResponse>() {
                            @Override
                            public void onNext(SubmitEvaluationResponse value) {}

                            @Override
                            public void onError(Throwable t) {
                                sim.failed(r, "SubmitEvaluation", t);
                            }

                            @Override
                            public void onCompleted() {
                                r.evaluations.incrementAndGet();
                            }
                        });
    }

    /** One SubmitUpdate: header, then the shared chunks, sent only while the transport is ready. */
    private final class Upload
            implements ClientResponseObserver<UpdateChunk, SubmitUpdateResponse> {
        private final RoundRecorder r;
        private final UpdateChunk header;
        private final List<UpdateChunk> chunks;
        private final long taskAt;
        private final long downloadUs;
        private ClientCallStreamObserver<UpdateChunk> call;
        private int next = -1;
        private boolean halfClosed;
        private long startedAt;
        private volatile long sentAt;
        private volatile boolean answered;
        private final AtomicBoolean slotHeld = new AtomicBoolean(true);

        Upload(
                RoundRecorder r,
                UpdateHeader header,
                List<UpdateChunk> chunks,
                long taskAt,
                long downloadUs) {
            this.r = r;
            this.header = UpdateChunk.newBuilder().setHeader(header).build();
            this.chunks = chunks;
            this.taskAt = taskAt;
            this.downloadUs = downloadUs;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdateChunk> call) {
            this.call = call;
            this.startedAt = Micros.now();
            r.uploadsStarted.incrementAndGet();
            r.firstUploadStart.accumulate(startedAt);
            call.setOnReadyHandler(this::pump);
        }

        synchronized void pump() {
            if (halfClosed || answered) {
                return;
            }
            while (call.isReady()) {
                if (next < 0) {
                    call.onNext(header);
                } else if (next < chunks.size()) {
                    call.onNext(chunks.get(next));
                } else {
                    call.onCompleted();
                    halfClosed = true;
                    long sent = Micros.now();
                    sentAt = sent;
                    r.lastUploadSent.accumulate(sent);
                    r.maxTransfer.accumulate(downloadUs + (sent - startedAt));
                    return;
                }
                next++;
            }
        }

        /**
         * Gives the transfer slot back once every byte was sent and the update was accepted (the
         * learner's next task came), or answered; once.
         */
        void transferOver() {
            if (sim.transferEndsAtAck()) {
                return;
            }
            if (sentAt > 0 && slotHeld.compareAndSet(true, false)) {
                sim.transfers().release();
            }
        }

        private void releaseSlot() {
            if (slotHeld.compareAndSet(true, false)) {
                sim.transfers().release();
            }
        }

        @Override
        public void onNext(SubmitUpdateResponse value) {}

        @Override
        public void onError(Throwable t) {
            answered = true;
            sim.failed(r, "SubmitUpdate", t);
            releaseSlot();
            uploadsUnanswered.decrementAndGet();
            endOnceAnswered();
        }

        @Override
        public void onCompleted() {
            answered = true;
            long at = Micros.now();
            r.acks.incrementAndGet();
            sim.acknowledgedOne();
            r.firstAck.accumulate(at);
            r.lastAck.accumulate(at);
            r.maxTaskToAck.accumulate(at - taskAt);
            r.bytesUploaded.addAndGet(sim.updates().bytesPerUpdate());
            if (sentAt > 0) {
                sim.ackLatencies().record(at - sentAt);
            }
            releaseSlot();
            uploadsUnanswered.decrementAndGet();
            endOnceAnswered();
        }
    }
}
