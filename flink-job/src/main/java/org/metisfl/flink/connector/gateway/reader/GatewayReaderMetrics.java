package org.metisfl.flink.connector.gateway.reader;

import io.grpc.Status;
import java.util.Locale;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.connector.gateway.server.GatewayMetrics;
import org.metisfl.flink.connector.gateway.server.GatewayState;

/**
 * A gateway's metrics in the group {@code federation.<name>} of the source operator: learners
 * connected, updates accepted, duplicate and refused (the latter under {@code reason.<code>}),
 * update bytes in and model bytes out, the calls a fault of the gateway ended, the accepted-update
 * rate, the ledger and ingest budget, and how long the last update waited for the checkpoint that
 * acknowledged it; with local pre-aggregation, the partials emitted, the updates folded and the
 * foreign updates sent on.
 */
final class GatewayReaderMetrics {
    private volatile long lastAckLatencyMs = -1;

    private GatewayReaderMetrics() {}

    static GatewayReaderMetrics register(
            MetricGroup readerGroup,
            String federation,
            GatewayState s,
            String controlEndpoint,
            String controlFingerprint,
            PartialSums partials) {
        GatewayReaderMetrics m = new GatewayReaderMetrics();
        MetricGroup g = readerGroup.addGroup("federation", federation);
        // Where the operator's commands reach this gateway (`metisfl learners list|revoke`), and
        // the certificate they pin: public facts, no credential.
        g.gauge("gatewayIndex", (Gauge<Integer>) s::gatewayIndex);
        g.gauge("controlEndpoint", (Gauge<String>) () -> controlEndpoint);
        g.gauge("controlFingerprint", (Gauge<String>) () -> controlFingerprint);
        GatewayMetrics c = s.metrics();
        g.gauge("connectedLearners", (Gauge<Integer>) s::connectedLearners);
        g.gauge("updatesAccepted", (Gauge<Long>) c::accepted);
        g.gauge("updatesDuplicate", (Gauge<Long>) c::duplicates);
        for (Status.Code code : GatewayMetrics.REFUSAL_CODES) {
            g.addGroup("reason", code.name().toLowerCase(Locale.ROOT))
                    .gauge("updatesRefused", (Gauge<Long>) () -> c.refused(code));
        }
        g.addGroup("reason", "other").gauge("updatesRefused", (Gauge<Long>) c::refusedOther);
        g.gauge("bytesIn", (Gauge<Long>) c::bytesIn);
        g.gauge("bytesOut", (Gauge<Long>) c::bytesOut);
        g.gauge("callFaults", (Gauge<Long>) c::callFaults);
        g.meter("updatesAcceptedPerSecond", new MeterView(new AcceptedCount(c)));
        g.gauge("ledgerSize", (Gauge<Integer>) () -> s.ledger().size());
        g.gauge("ingestReservedBytes", (Gauge<Long>) s::ingestReservedBytes);
        g.gauge("ingestWaiting", (Gauge<Integer>) s::ingestWaiting);
        g.gauge("checkpointAckLatencyMs", (Gauge<Long>) () -> m.lastAckLatencyMs);
        if (partials != null) {
            // Local pre-aggregation: how much this gateway folds, and how many updates reached it
            // whose learner's home is another gateway (held aside at the aggregators).
            g.gauge("partialsEmitted", (Gauge<Long>) partials::partialsEmitted);
            g.gauge("updatesFolded", (Gauge<Long>) partials::updatesFolded);
            g.gauge("updatesForeign", (Gauge<Long>) partials::foreignSent);
        }
        return m;
    }

    /** A batch of updates emitted at {@code emittedAtMs} was acknowledged at {@code ackedAtMs}. */
    void acknowledged(long emittedAtMs, long ackedAtMs) {
        lastAckLatencyMs = ackedAtMs - emittedAtMs;
    }

    /** The accepted-update count as a read-only counter, for a {@link MeterView}. */
    private record AcceptedCount(GatewayMetrics c) implements Counter {
        @Override
        public void inc() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void inc(long n) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void dec() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void dec(long n) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long getCount() {
            return c.accepted();
        }
    }
}
