package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * The gRPC statuses the gateway refuses a learner's call with, each with a reason the learner can
 * act on: fix the call (INVALID_ARGUMENT), retry shortly (UNAVAILABLE), or wait for a task
 * (FAILED_PRECONDITION).
 */
final class LearnerStatus {
    private LearnerStatus() {}

    static StatusRuntimeException invalid(String reason) {
        return Status.INVALID_ARGUMENT.withDescription(reason).asRuntimeException();
    }

    /** A gateway that has not heard from the job yet (it just started): retry shortly. */
    static StatusRuntimeException starting(String reason) {
        return Status.UNAVAILABLE.withDescription(reason).asRuntimeException();
    }

    static StatusRuntimeException failedPrecondition(String reason) {
        return Status.FAILED_PRECONDITION.withDescription(reason).asRuntimeException();
    }
}
