package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a gateway counts for the metric system, without Flink: updates answered (accepted,
 * duplicate) or refused (by gRPC status code, the reason class a learner sees), and bytes received
 * in updates and sent in models, and the calls a fault of the gateway ended. Updated from gRPC
 * threads; the reader exposes it as Flink metrics.
 */
public final class GatewayMetrics {
    /** The status codes the gateway refuses uploads with (see {@link LearnerStatus}). */
    public static final Status.Code[] REFUSAL_CODES = {
        Status.Code.INVALID_ARGUMENT,
        Status.Code.FAILED_PRECONDITION,
        Status.Code.UNAVAILABLE,
        Status.Code.RESOURCE_EXHAUSTED,
        Status.Code.UNAUTHENTICATED,
        Status.Code.PERMISSION_DENIED
    };

    private final LongAdder accepted = new LongAdder();
    private final LongAdder duplicates = new LongAdder();
    private final LongAdder refusedOther = new LongAdder();
    private final Map<Status.Code, LongAdder> refused = new EnumMap<>(Status.Code.class);
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder callFaults = new LongAdder();

    public GatewayMetrics() {
        for (Status.Code c : REFUSAL_CODES) {
            refused.put(c, new LongAdder());
        }
    }

    void countAccepted() {
        accepted.increment();
    }

    void countDuplicate() {
        duplicates.increment();
    }

    void countRefused(Status.Code code) {
        refused.getOrDefault(code, refusedOther).increment();
    }

    void addBytesIn(long n) {
        bytesIn.add(n);
    }

    void addBytesOut(long n) {
        bytesOut.add(n);
    }

    void countCallFault() {
        callFaults.increment();
    }

    public long accepted() {
        return accepted.sum();
    }

    public long duplicates() {
        return duplicates.sum();
    }

    /**
     * Uploads refused with {@code code}; any code not in {@link #REFUSAL_CODES} counts as OTHER.
     */
    public long refused(Status.Code code) {
        return refused.getOrDefault(code, refusedOther).sum();
    }

    public long refusedOther() {
        return refusedOther.sum();
    }

    public long bytesIn() {
        return bytesIn.sum();
    }

    public long bytesOut() {
        return bytesOut.sum();
    }

    /**
     * Calls a fault of the gateway ended (a handler that threw, a call closed with UNKNOWN; see
     * {@link CallFaults}): zero unless the gateway has a bug.
     */
    public long callFaults() {
        return callFaults.sum();
    }
}
