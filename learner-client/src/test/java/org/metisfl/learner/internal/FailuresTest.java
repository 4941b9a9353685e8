package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.metisfl.learner.internal.Failures.Kind;

class FailuresTest {

    @ParameterizedTest
    @EnumSource(
            value = Status.Code.class,
            names = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED", "INTERNAL"})
    void lostConnectionsAndTimeoutsAreRetried(Status.Code code) {
        assertThat(Failures.classify(Status.fromCode(code))).isEqualTo(Kind.RETRY);
    }

    @Test
    void expiredCredentialsLeadToANewJoin() {
        assertThat(Failures.classify(Status.UNAUTHENTICATED)).isEqualTo(Kind.REJOIN);
    }

    @Test
    void aClosedRoundDropsTheWorkAsRefused() {
        assertThat(Failures.classify(Status.FAILED_PRECONDITION)).isEqualTo(Kind.REJECTED);
    }

    @ParameterizedTest
    @EnumSource(
            value = Status.Code.class,
            names = {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"})
    void malformedOrOversizedRequestsAreDroppedAsInvalid(Status.Code code) {
        assertThat(Failures.classify(Status.fromCode(code))).isEqualTo(Kind.INVALID);
    }

    @ParameterizedTest
    @EnumSource(
            value = Status.Code.class,
            names = {"PERMISSION_DENIED", "UNIMPLEMENTED"})
    void failuresNoRetryCanFixStopTheLearner(Status.Code code) {
        assertThat(Failures.classify(Status.fromCode(code))).isEqualTo(Kind.FATAL);
    }

    @Test
    void describesAStatusWithTheGatewaysReason() {
        assertThat(Failures.describe(Status.FAILED_PRECONDITION.withDescription("round 3 closed")))
                .isEqualTo("FAILED_PRECONDITION: round 3 closed");
        assertThat(Failures.describe(Status.UNAVAILABLE)).isEqualTo("UNAVAILABLE");
    }

    @Test
    void gatewayLimitWithRetryTrailerIsRetriedOtherExhaustionDropped() {
        io.grpc.Metadata trailers = new io.grpc.Metadata();
        trailers.put(Failures.RETRY_AFTER_MS, "1000");
        assertThat(
                        Failures.classify(
                                io.grpc.Status.RESOURCE_EXHAUSTED
                                        .withDescription("gateway.limits.join-rate")
                                        .asRuntimeException(trailers)))
                .isEqualTo(Failures.Kind.RETRY);
        assertThat(
                        Failures.classify(
                                io.grpc.Status.RESOURCE_EXHAUSTED
                                        .withDescription("more than gateway.max-model-size")
                                        .asRuntimeException()))
                .isEqualTo(Failures.Kind.INVALID);
    }
}
