package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.server.ModelBoard.ModelSnapshot;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.LeaveResponse;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.RenewTokenRequest;
import org.metisfl.proto.v1.RenewTokenResponse;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.SubmitEvaluationResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.LeasedMessage;
import org.metisfl.transport.PeerIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learner-facing gRPC service of one gateway. Every call is validated; a bad one gets a gRPC
 * status whose description tells the learner what to do, and never disturbs the federation.
 */
public final class LearnerServiceImpl extends LearnerServiceGrpc.LearnerServiceImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(LearnerServiceImpl.class);
    private static final int MAX_NAME_LENGTH = 256;

    private final GatewayState state;
    private final Admission admission;

    public LearnerServiceImpl(GatewayState state, Admission admission) {
        this.state = state;
        this.admission = admission;
    }

    @Override
    public void join(JoinRequest request, StreamObserver<JoinResponse> response) {
        if (state.isFinished()) {
            response.onError(LearnerStatus.failedPrecondition("the federation is over"));
            return;
        }
        if (request.getName().length() > MAX_NAME_LENGTH) {
            response.onError(
                    LearnerStatus.invalid(
                            "name is longer than " + MAX_NAME_LENGTH + " characters; shorten it"));
            return;
        }
        if (request.getNumTrainingExamples() < 0 || request.getNumTestExamples() < 0) {
            response.onError(LearnerStatus.invalid("example counts must not be negative"));
            return;
        }
        String address = ClientAddress.current();
        admission
                .admit(BearerToken.current(), PeerIdentity.current(), state.tokens().now())
                .whenComplete(
                        (refused, failed) -> admitted(request, address, refused, failed, response));
    }

    /**
     * Goes on with a join once its admission is decided: at once, or on the reader's thread once
     * the federation counted a limited enrollment token's use, so nothing may escape from here.
     */
    private void admitted(
            JoinRequest request,
            String address,
            String refused,
            Throwable failed,
            StreamObserver<JoinResponse> response) {
        try {
            if (failed != null) {
                response.onError(
                        LearnerStatus.starting(
                                "the gateway could not count the enrollment token's use ("
                                        + failed.getMessage()
                                        + "); join again"));
            } else if (refused != null) {
                LOG.debug("Refused a join: {}", refused);
                response.onError(
                        Status.UNAUTHENTICATED.withDescription(refused).asRuntimeException());
            } else {
                register(request, address, response);
            }
        } catch (RuntimeException e) {
            LOG.warn("A join failed after its admission", e);
            response.onError(
                    Status.INTERNAL
                            .withDescription("the join failed; join again")
                            .asRuntimeException());
        }
    }

    /** The rest of a join its admission allowed: the join limits, then the registration. */
    private void register(
            JoinRequest request, String address, StreamObserver<JoinResponse> response) {
        StatusRuntimeException full =
                state.joins().admit(state.tokens().now().toEpochMilli(), address);
        if (full != null) {
            state.metrics().countRefused(full.getStatus().getCode());
            response.onError(full);
            return;
        }
        // An id whose home is this gateway: the gateway that folds its updates (pre-aggregation).
        String id =
                PartialSums.homedLearnerId(
                        state.tokens()::newLearnerId,
                        state.gatewayIndex(),
                        state.config().gatewayParallelism());
        state.declareExamples(id, request.getNumTrainingExamples());
        GatewayEvent e =
                GatewayEvent.joined(
                        state.gatewayIndex(),
                        id,
                        request.getName().isEmpty() ? id : request.getName(),
                        request.getNumTrainingExamples());
        e.committeeEligible = request.getCommitteeEligible();
        JoinResponse.Builder answer =
                JoinResponse.newBuilder()
                        .setLearnerId(id)
                        .setToken(state.tokens().tokenFor(id))
                        .setTokenExpiresAtMs(state.tokens().expiresAtMs())
                        .setInitialModelRequested(state.board().initialModelWanted())
                        .setMaxMessageBytes(state.config().maxMessageBytes());
        if (state.encryption() != null) {
            answer.setEncryption(state.encryption());
        }
        JoinResponse joined = answer.build();
        state.joins().registered(id, joined.getTokenExpiresAtMs());
        state.directory()
                .joined(
                        id,
                        request.getName(),
                        state.tokens().now().toEpochMilli(),
                        joined.getTokenExpiresAtMs());
        // Answer once the registration is in a completed checkpoint: a learner never holds
        // credentials of a registration the job could lose in a failover.
        state.queue()
                .offer(
                        List.of(e),
                        Long.MAX_VALUE,
                        () -> {
                            try {
                                response.onNext(joined);
                                response.onCompleted();
                            } catch (RuntimeException gone) {
                                LOG.debug("Joined learner went away: {}", gone.toString());
                            }
                        });
    }

    @Override
    public void streamTasks(StreamTasksRequest request, StreamObserver<Task> response) {
        StatusRuntimeException denied = authenticate(request.getCredentials());
        if (denied != null) {
            response.onError(denied);
            return;
        }
        state.connect(
                request.getCredentials().getLearnerId(), (ServerCallStreamObserver<Task>) response);
    }

    /**
     * Uploads parsed by gRPC's own marshaller (a copy of each chunk). The gateway's server binds
     * this method to {@link UpdateReceiver} on views of the receive buffers instead ({@link
     * GatewayServer#learnerService}).
     */
    @Override
    public StreamObserver<UpdateChunk> submitUpdate(StreamObserver<SubmitUpdateResponse> response) {
        return LeasedMessage.owning(
                UpdateReceiver.start(
                        state, (ServerCallStreamObserver<SubmitUpdateResponse>) response),
                UpdateChunk.DATA_FIELD_NUMBER);
    }

    @Override
    public void submitEvaluation(
            EvaluationReport request, StreamObserver<SubmitEvaluationResponse> response) {
        StatusRuntimeException denied = authenticate(request.getCredentials());
        if (denied != null) {
            response.onError(denied);
            return;
        }
        String learner = request.getCredentials().getLearnerId();
        if (request.getRound() > state.dispatch().evalVersion()) {
            response.onError(
                    LearnerStatus.starting(
                            "the gateway does not know the evaluation of round "
                                    + request.getRound()
                                    + " yet (it is starting); retry shortly"));
            return;
        }
        if (!state.dispatch().isEvaluator(learner, request.getRound())) {
            response.onError(
                    LearnerStatus.failedPrecondition(
                            "no evaluation of round "
                                    + request.getRound()
                                    + " is expected from this learner (current: round "
                                    + state.dispatch().evalVersion()
                                    + "; reports are taken for the last "
                                    + TaskDispatch.EVALUATIONS_REMEMBERED
                                    + " evaluated rounds)"));
            return;
        }
        if (request.getNumExamples() < 0) {
            response.onError(LearnerStatus.invalid("num_examples must not be negative"));
            return;
        }
        for (Map.Entry<String, Double> m : request.getMetricsMap().entrySet()) {
            if (!Double.isFinite(m.getValue())) {
                response.onError(
                        LearnerStatus.invalid("metric '" + m.getKey() + "' is not finite"));
                return;
            }
        }
        Runnable answer =
                () -> {
                    try {
                        response.onNext(SubmitEvaluationResponse.getDefaultInstance());
                        response.onCompleted();
                    } catch (RuntimeException gone) {
                        LOG.debug("Evaluating learner went away: {}", gone.toString());
                    }
                };
        if (!state.ledger().markEvaluated(learner, request.getRound())) {
            // Each evaluation task is reported once: the first report's values stand.
            response.onError(
                    LearnerStatus.failedPrecondition(
                            "the evaluation of round "
                                    + request.getRound()
                                    + " was already reported by this learner; its first report"
                                    + " stands"));
            return;
        }
        GatewayEvent e =
                GatewayEvent.metrics(
                        GatewayEvent.Kind.EVALUATION,
                        state.gatewayIndex(),
                        learner,
                        request.getRound(),
                        request.getNumExamples(),
                        Map.copyOf(request.getMetricsMap()));
        // Answered once durable, like updates. A resent report (its answer was lost) is refused
        // above: the first one is in the job.
        state.queue().offer(List.of(e), Long.MAX_VALUE, answer);
    }

    @Override
    public void getModel(GetModelRequest request, StreamObserver<ModelChunk> response) {
        StatusRuntimeException denied = authenticate(request.getCredentials());
        if (denied != null) {
            response.onError(denied);
            return;
        }
        ModelSnapshot m = state.model();
        if (m == null) {
            response.onError(
                    LearnerStatus.failedPrecondition(
                            "there is no global model yet: wait for a task"));
            return;
        }
        state.metrics().addBytesOut(m.totalBytes());
        new ModelStreamer(m, (ServerCallStreamObserver<ModelChunk>) response).start();
    }

    @Override
    public void leave(LeaveRequest request, StreamObserver<LeaveResponse> response) {
        StatusRuntimeException denied = authenticate(request.getCredentials());
        if (denied != null) {
            response.onError(denied);
            return;
        }
        String learner = request.getCredentials().getLearnerId();
        state.directory().left(learner);
        state.revoke(learner, true);
        state.queue()
                .offer(
                        List.of(
                                GatewayEvent.learnerEvent(
                                        GatewayEvent.Kind.LEFT, state.gatewayIndex(), learner)),
                        Long.MAX_VALUE,
                        null);
        state.disconnect(learner);
        response.onNext(LeaveResponse.getDefaultInstance());
        response.onCompleted();
    }

    @Override
    public void renewToken(RenewTokenRequest request, StreamObserver<RenewTokenResponse> response) {
        StatusRuntimeException denied =
                authenticate(Credentials.newBuilder().setLearnerId(request.getLearnerId()).build());
        if (denied != null) {
            response.onError(denied);
            return;
        }
        RenewTokenResponse renewed =
                RenewTokenResponse.newBuilder()
                        .setToken(state.tokens().tokenFor(request.getLearnerId()))
                        .setTokenExpiresAtMs(state.tokens().expiresAtMs())
                        .build();
        state.joins().renewed(request.getLearnerId(), renewed.getTokenExpiresAtMs());
        state.directory().renewed(request.getLearnerId(), renewed.getTokenExpiresAtMs());
        response.onNext(renewed);
        response.onCompleted();
    }

    // ---- Threshold mode (see ThresholdGate for the checks).

    /** The threshold part of the gateway, or a refusal for a federation not in that mode. */
    /**
     * The threshold gate for a committee call from an authenticated learner; null after refusing
     * the call on {@code response} (bad credentials, or not a threshold federation).
     */
    private ThresholdGate threshold(Credentials credentials, StreamObserver<?> response) {
        StatusRuntimeException denied = authenticate(credentials);
        if (denied != null) {
            response.onError(denied);
            return null;
        }
        ThresholdGate t = state.threshold();
        if (t == null) {
            response.onError(
                    LearnerStatus.invalid(
                            "not a threshold federation: this federation has no committee"
                                    + " (secure-aggregation is not ckks-threshold)"));
        }
        return t;
    }

    @Override
    public void getCommittee(
            org.metisfl.proto.v1.GetCommitteeRequest request,
            StreamObserver<org.metisfl.proto.v1.CommitteeInfo> response) {
        ThresholdGate t = threshold(request.getCredentials(), response);
        if (t == null) {
            return;
        }
        try {
            response.onNext(t.committee(request.getIncludeShares()));
            response.onCompleted();
        } catch (StatusRuntimeException e) {
            response.onError(e);
        }
    }

    @Override
    public void submitKeyShare(
            org.metisfl.proto.v1.KeyShareSubmission request,
            StreamObserver<org.metisfl.proto.v1.SubmitKeyShareResponse> response) {
        ThresholdGate t = threshold(request.getCredentials(), response);
        if (t == null) {
            return;
        }
        String learner = request.getCredentials().getLearnerId();
        org.metisfl.proto.v1.SubmitKeyShareResponse.Status status =
                offerCommitteePiece(
                        learner,
                        t.checkKeyShare(learner, request),
                        GatewayEvent.Kind.KEY_SHARE,
                        request.getEpoch(),
                        request.toBuilder().clearCredentials().build().toByteArray(),
                        "a key share",
                        response);
        if (status != null) {
            response.onNext(
                    org.metisfl.proto.v1.SubmitKeyShareResponse.newBuilder()
                            .setStatus(status)
                            .build());
            response.onCompleted();
        }
    }

    /**
     * A committee member's checked piece (key share, dealings) into the job, unless it is a resend
     * of one already in; null after refusing it on {@code response}, else the answer.
     */
    private org.metisfl.proto.v1.SubmitKeyShareResponse.Status offerCommitteePiece(
            String learner,
            ThresholdGate.Check c,
            GatewayEvent.Kind kind,
            long epoch,
            byte[] piece,
            String what,
            StreamObserver<?> response) {
        if (c.refusal() != null) {
            LOG.info("Refused {} of {}: {}", what, learner, c.refusal().getMessage());
            response.onError(c.refusal());
            return null;
        }
        if (!c.duplicate()) {
            state.offerThreshold(
                    GatewayEvent.threshold(kind, state.gatewayIndex(), learner, epoch, 0, piece));
        }
        return status(c);
    }

    private static org.metisfl.proto.v1.SubmitKeyShareResponse.Status status(
            ThresholdGate.Check c) {
        return c.duplicate()
                ? org.metisfl.proto.v1.SubmitKeyShareResponse.Status.DUPLICATE
                : org.metisfl.proto.v1.SubmitKeyShareResponse.Status.ACCEPTED;
    }

    @Override
    public void submitDealings(
            org.metisfl.proto.v1.DealingsSubmission request,
            StreamObserver<org.metisfl.proto.v1.SubmitDealingsResponse> response) {
        ThresholdGate t = threshold(request.getCredentials(), response);
        if (t == null) {
            return;
        }
        String learner = request.getCredentials().getLearnerId();
        org.metisfl.proto.v1.SubmitKeyShareResponse.Status status =
                offerCommitteePiece(
                        learner,
                        t.checkDealings(learner, request),
                        GatewayEvent.Kind.DEALINGS,
                        request.getEpoch(),
                        request.toBuilder().clearCredentials().build().toByteArray(),
                        "dealings",
                        response);
        if (status != null) {
            response.onNext(
                    org.metisfl.proto.v1.SubmitDealingsResponse.newBuilder()
                            .setStatus(status)
                            .build());
            response.onCompleted();
        }
    }

    @Override
    public void getAggregate(
            org.metisfl.proto.v1.GetAggregateRequest request, StreamObserver<ModelChunk> response) {
        ThresholdGate t = threshold(request.getCredentials(), response);
        if (t == null) {
            return;
        }
        ModelSnapshot model = state.model();
        ModelSnapshot aggregate;
        try {
            aggregate =
                    t.aggregate(
                            request.getCredentials().getLearnerId(),
                            request.getRound(),
                            model == null ? List.of() : model.tensors(),
                            state.board().chunkBytes(),
                            state.encryption());
        } catch (StatusRuntimeException e) {
            response.onError(e);
            return;
        }
        state.metrics().addBytesOut(aggregate.totalBytes());
        new ModelStreamer(aggregate, (ServerCallStreamObserver<ModelChunk>) response).start();
    }

    @Override
    public StreamObserver<org.metisfl.proto.v1.PartialDecryptionChunk> submitPartialDecryption(
            StreamObserver<org.metisfl.proto.v1.SubmitPartialDecryptionResponse> response) {
        return new StreamObserver<>() {
            private org.metisfl.proto.v1.PartialDecryptionHeader header;
            private String learner;
            private ThresholdGate gate;
            private java.io.ByteArrayOutputStream data;
            private long expected;
            private boolean done;

            @Override
            public void onNext(org.metisfl.proto.v1.PartialDecryptionChunk chunk) {
                if (done) {
                    return;
                }
                if (header == null) {
                    if (!chunk.hasHeader()) {
                        fail(
                                LearnerStatus.invalid(
                                        "the first message must be a PartialDecryptionHeader"));
                        return;
                    }
                    header = chunk.getHeader();
                    StatusRuntimeException denied = authenticate(header.getCredentials());
                    if (denied != null) {
                        fail(denied);
                        return;
                    }
                    gate = state.threshold();
                    if (gate == null) {
                        fail(
                                LearnerStatus.invalid(
                                        "not a threshold federation: this federation has no"
                                                + " committee (secure-aggregation is not"
                                                + " ckks-threshold)"));
                        return;
                    }
                    learner = header.getCredentials().getLearnerId();
                    ThresholdGate.Check c = gate.checkPartialHeader(learner, header);
                    if (c.refusal() != null) {
                        fail(c.refusal());
                        return;
                    }
                    for (long n : header.getShardBytesList()) {
                        expected += n;
                    }
                    data = new java.io.ByteArrayOutputStream((int) Math.min(expected, 1 << 24));
                    return;
                }
                if (!chunk.hasData()) {
                    fail(LearnerStatus.invalid("a second header in one upload"));
                    return;
                }
                if (data.size() + (long) chunk.getData().size() > expected) {
                    fail(
                            LearnerStatus.invalid(
                                    "wrong byte count: more than the "
                                            + expected
                                            + " bytes the header's shard_bytes announce"));
                    return;
                }
                byte[] b = chunk.getData().toByteArray();
                data.write(b, 0, b.length);
            }

            @Override
            public void onError(Throwable t) {
                done = true;
            }

            @Override
            public void onCompleted() {
                if (done) {
                    return;
                }
                if (header == null) {
                    fail(LearnerStatus.invalid("an empty upload: send a header and the bytes"));
                    return;
                }
                if (data.size() != expected) {
                    fail(
                            LearnerStatus.invalid(
                                    "wrong byte count: received "
                                            + data.size()
                                            + " of the "
                                            + expected
                                            + " bytes the header's shard_bytes announce"));
                    return;
                }
                byte[] all = data.toByteArray();
                data = null;
                List<byte[]> shards = new java.util.ArrayList<>();
                int at = 0;
                for (long n : header.getShardBytesList()) {
                    shards.add(java.util.Arrays.copyOfRange(all, at, at + (int) n));
                    at += (int) n;
                }
                ThresholdGate.Check c = gate.checkPartials(learner, header, shards);
                if (c.refusal() != null) {
                    LOG.info(
                            "Refused partial decryptions of {}: {}",
                            learner,
                            c.refusal().getMessage());
                    fail(c.refusal());
                    return;
                }
                if (!c.duplicate()) {
                    state.offerThreshold(
                            GatewayEvent.threshold(
                                    GatewayEvent.Kind.PARTIAL_DECRYPTION,
                                    state.gatewayIndex(),
                                    learner,
                                    header.getRound(),
                                    header.getAttempt(),
                                    org.metisfl.flink.model.ThresholdRecords.pack(shards)));
                }
                done = true;
                response.onNext(
                        org.metisfl.proto.v1.SubmitPartialDecryptionResponse.newBuilder()
                                .setStatus(status(c))
                                .build());
                response.onCompleted();
            }

            private void fail(StatusRuntimeException e) {
                done = true;
                data = null;
                try {
                    response.onError(e);
                } catch (RuntimeException gone) {
                    LOG.debug("Member went away: {}", gone.toString());
                }
            }
        };
    }

    private StatusRuntimeException authenticate(Credentials c) {
        return state.authentication().check(c);
    }

    /** Streams a model in chunks as fast as the learner reads them (gRPC flow control). */
    private static final class ModelStreamer implements Runnable {
        private final ModelSnapshot model;
        private final ServerCallStreamObserver<ModelChunk> out;
        private int next = -1; // -1 = header
        private boolean done;

        ModelStreamer(ModelSnapshot model, ServerCallStreamObserver<ModelChunk> out) {
            this.model = model;
            this.out = out;
        }

        void start() {
            out.setOnReadyHandler(this);
            run();
        }

        @Override
        public synchronized void run() {
            if (done) {
                return;
            }
            try {
                while (out.isReady() && !out.isCancelled()) {
                    if (next < 0) {
                        ModelHeader.Builder h =
                                ModelHeader.newBuilder()
                                        .setModelVersion(model.version())
                                        .addAllTensors(model.tensors())
                                        .setTotalBytes(model.totalBytes());
                        if (model.encrypted()) {
                            h.setEncryption(model.encryption());
                        }
                        out.onNext(ModelChunk.newBuilder().setHeader(h).build());
                    } else if (next < model.chunks().size()) {
                        out.onNext(
                                ModelChunk.newBuilder().setData(model.chunks().get(next)).build());
                    } else {
                        done = true;
                        out.onCompleted();
                        return;
                    }
                    next++;
                }
            } catch (RuntimeException e) {
                done = true;
                LOG.debug("Model download aborted: {}", e.toString());
            }
        }
    }
}
