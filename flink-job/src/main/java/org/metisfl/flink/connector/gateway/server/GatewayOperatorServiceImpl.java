package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.proto.v1.AdmittedLearner;
import org.metisfl.proto.v1.GatewayOperatorServiceGrpc;
import org.metisfl.proto.v1.ListLearnersRequest;
import org.metisfl.proto.v1.ListLearnersResponse;
import org.metisfl.proto.v1.RevokeLearnerRequest;
import org.metisfl.proto.v1.RevokeLearnerResponse;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.OperatorTokens;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's commands at a gateway's control endpoint: list the learners admitted here, and
 * revoke a learner federation-wide. Every call must carry an operator token ({@link
 * OperatorTokens}, under {@code security.operator-key}); nothing here is served on the learner
 * port.
 *
 * <p>A revocation is applied here at once (every later RPC of the learner, and an upload of it in
 * flight at its last byte, is refused), then told to the source's enumerator, which keeps it in its
 * checkpointed state and sends it to every gateway, also to those that restart later. The learner's
 * {@code LEFT} record takes it out of the coordinator's rounds. The call is answered once that
 * record, so the revocation in this gateway's checkpointed split, is in a completed checkpoint.
 */
final class GatewayOperatorServiceImpl
        extends GatewayOperatorServiceGrpc.GatewayOperatorServiceImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayOperatorServiceImpl.class);
    static final int DEFAULT_LIMIT = 1_000;

    private final GatewayState state;
    private final OperatorTokens operators;

    /** {@code operators} null: no operator key is configured, every command is refused. */
    GatewayOperatorServiceImpl(GatewayState state, OperatorTokens operators) {
        this.state = state;
        this.operators = operators;
    }

    private boolean authorized(StreamObserver<?> response) {
        if (operators == null) {
            response.onError(
                    Status.FAILED_PRECONDITION
                            .withDescription(
                                    "this job has no operator key: set security.operator-key (or"
                                            + " security.enrollment-key) to a key file made by"
                                            + " `metisfl enroll init` and resubmit")
                            .asRuntimeException());
            return false;
        }
        String problem = operators.check(BearerToken.current(), state.tokens().now());
        if (problem != null) {
            LOG.debug("Refused an operator command: {}", problem);
            response.onError(Status.UNAUTHENTICATED.withDescription(problem).asRuntimeException());
            return false;
        }
        return true;
    }

    @Override
    public void listLearners(
            ListLearnersRequest request, StreamObserver<ListLearnersResponse> response) {
        if (!authorized(response)) {
            return;
        }
        if (request.getLimit() < 0) {
            response.onError(LearnerStatus.invalid("limit must be 0 (the default, 1,000) or more"));
            return;
        }
        int limit = request.getLimit() == 0 ? DEFAULT_LIMIT : request.getLimit();
        long now = state.tokens().now().toEpochMilli();
        List<LearnerDirectory.Entry> entries = state.directory().entries();
        ListLearnersResponse.Builder out =
                ListLearnersResponse.newBuilder()
                        .setGateway(state.gatewayIndex())
                        .setTotal(entries.size())
                        .setRevoked(state.tokens().revoked().size());
        for (LearnerDirectory.Entry e : entries) {
            if (out.getLearnersCount() >= limit) {
                break;
            }
            out.addLearners(
                    AdmittedLearner.newBuilder()
                            .setLearnerId(e.learnerId())
                            .setName(e.name())
                            .setGateway(state.gatewayIndex())
                            .setJoinedAtMs(e.joinedAtMs())
                            .setTokenExpiresAtMs(e.expiresAtMs())
                            .setState(stateOf(e, now)));
        }
        response.onNext(out.build());
        response.onCompleted();
    }

    private String stateOf(LearnerDirectory.Entry e, long nowMs) {
        String id = e.learnerId();
        if (state.tokens().isRevoked(id)) {
            return state.directory().hasLeft(id) ? "left" : "revoked";
        }
        if (e.expiresAtMs() <= nowMs) {
            return "expired";
        }
        return state.isConnected(id) ? "connected" : "joined";
    }

    @Override
    public void revokeLearner(
            RevokeLearnerRequest request, StreamObserver<RevokeLearnerResponse> response) {
        if (!authorized(response)) {
            return;
        }
        String learner = request.getLearnerId();
        if (!TokenAuthority.isLearnerId(learner)) {
            response.onError(
                    LearnerStatus.invalid(
                            "'"
                                    + org.metisfl.flink.model.LogSafe.of(learner)
                                    + "' is not a learner id (learner- and 16 hex digits, as"
                                    + " `metisfl learners list` shows)"));
            return;
        }
        boolean fresh = state.revoke(learner, true);
        LOG.info(
                "Gateway {}: the operator revoked learner {}{}",
                state.gatewayIndex(),
                learner,
                fresh ? "" : " (already revoked)");
        boolean checkpoints = state.config().checkpointsEnabled();
        // The LEFT record takes the learner out of the coordinator's rounds; its durability
        // callback answers once the checkpoint after it (which holds the revocation) completes.
        state.queue()
                .offer(
                        List.of(
                                GatewayEvent.learnerEvent(
                                        GatewayEvent.Kind.LEFT, state.gatewayIndex(), learner)),
                        Long.MAX_VALUE,
                        () -> {
                            try {
                                response.onNext(
                                        RevokeLearnerResponse.newBuilder()
                                                .setAlreadyRevoked(!fresh)
                                                .setDurable(checkpoints)
                                                .build());
                                response.onCompleted();
                            } catch (RuntimeException gone) {
                                // the operator's call was cancelled meanwhile
                            }
                        });
        state.disconnect(learner);
    }
}
