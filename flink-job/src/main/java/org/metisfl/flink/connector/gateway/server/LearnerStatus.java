package org.metisfl.flink.connector.gateway.server;

import io.grpc.Metadata;
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

    /**
     * The trailer that marks a RESOURCE_EXHAUSTED as a limit of the gateway that passes: the
     * learner retries the call after this many milliseconds (with backoff) instead of dropping it.
     */
    static final Metadata.Key<String> RETRY_AFTER_MS =
            Metadata.Key.of("metisfl-retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);

    /** A limit of the gateway was reached ({@code reason} names its key): retry after a while. */
    static StatusRuntimeException busy(String reason, long retryAfterMs) {
        Metadata trailers = new Metadata();
        trailers.put(RETRY_AFTER_MS, Long.toString(retryAfterMs));
        return Status.RESOURCE_EXHAUSTED.withDescription(reason).asRuntimeException(trailers);
    }
}
