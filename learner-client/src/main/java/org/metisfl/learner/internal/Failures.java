package org.metisfl.learner.internal;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;

/**
 * The one place that decides what a learner does about a failed gateway call. Every call site asks
 * {@link #classify} and acts on the {@link Kind}; no other code inspects status codes.
 */
public final class Failures {

    /** What to do about a failed call. */
    public enum Kind {
        /**
         * The connection or the gateway is (transiently) gone: reconnect with backoff, to the next
         * gateway, and try again. UNAVAILABLE, DEADLINE_EXCEEDED, and the codes a broken stream
         * surfaces as (CANCELLED, ABORTED, INTERNAL, UNKNOWN).
         */
        RETRY,
        /** The credentials are no longer valid (UNAUTHENTICATED): join again, then retry. */
        REJOIN,
        /**
         * The gateway refused this piece of work for a reason of the federation's state
         * (FAILED_PRECONDITION: round closed, deadline passed): drop it, log why, go on.
         */
        REJECTED,
        /**
         * The gateway refused the request itself (INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
         * OUT_OF_RANGE, NOT_FOUND, ALREADY_EXISTS): drop it, log the reason as an error, go on.
         */
        INVALID,
        /**
         * Retrying cannot help and the learner cannot act (PERMISSION_DENIED, UNIMPLEMENTED,
         * DATA_LOSS): stop the learner with the gateway's reason.
         */
        FATAL
    }

    private Failures() {}

    /**
     * The trailer a gateway adds to RESOURCE_EXHAUSTED when one of its limits was reached (join
     * rate, learners, uploads in flight): the call is retried with backoff, not dropped.
     */
    static final Metadata.Key<String> RETRY_AFTER_MS =
            Metadata.Key.of("metisfl-retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);

    /** As {@link #classify(Status)}, and a gateway's passing limit is {@link Kind#RETRY}. */
    public static Kind classify(StatusRuntimeException e) {
        Metadata trailers = e.getTrailers();
        if (e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED
                && trailers != null
                && trailers.containsKey(RETRY_AFTER_MS)) {
            return Kind.RETRY;
        }
        return classify(e.getStatus());
    }

    public static Kind classify(Status status) {
        switch (status.getCode()) {
            case UNAVAILABLE:
            case DEADLINE_EXCEEDED:
            case CANCELLED:
            case ABORTED:
            case INTERNAL:
            case UNKNOWN:
                return Kind.RETRY;
            case UNAUTHENTICATED:
                return Kind.REJOIN;
            case FAILED_PRECONDITION:
                return Kind.REJECTED;
            case INVALID_ARGUMENT:
            case RESOURCE_EXHAUSTED:
            case OUT_OF_RANGE:
            case NOT_FOUND:
            case ALREADY_EXISTS:
                return Kind.INVALID;
            case OK:
            case PERMISSION_DENIED:
            case UNIMPLEMENTED:
            case DATA_LOSS:
            default:
                return Kind.FATAL;
        }
    }

    /** The gRPC status of a failure, UNKNOWN for anything that is not a gRPC failure. */
    public static Status statusOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof StatusRuntimeException e) {
                return e.getStatus();
            }
            if (c instanceof StatusException e) {
                return e.getStatus();
            }
        }
        return Status.fromThrowable(t);
    }

    /** A status as one log-friendly phrase: {@code FAILED_PRECONDITION: round 3 is closed}. */
    public static String describe(Status status) {
        return status.getDescription() == null
                ? status.getCode().name()
                : status.getCode() + ": " + status.getDescription();
    }
}
