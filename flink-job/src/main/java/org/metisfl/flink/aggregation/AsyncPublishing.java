package org.metisfl.flink.aggregation;

import java.io.Serializable;

/**
 * The asynchronous model path's rule for which model versions carry their values to the gateways,
 * decided at every shard from what every shard sees alike (the update sequence and its stamps): a
 * version is published when the gateways' clock (event time) crosses a multiple of {@code
 * async.publish-interval} since the last published one, when it is an evaluation version (every
 * {@code async.evaluate-every}-th) and when it is the last ({@code federation.rounds}).
 *
 * @param intervalMs {@code async.publish-interval}; 0 or less publishes every version
 * @param evaluateEvery {@code async.evaluate-every}
 * @param finalVersion {@code federation.rounds}
 */
public record AsyncPublishing(long intervalMs, int evaluateEvery, long finalVersion)
        implements Serializable {

    /** True if {@code version} is published as soon as it is made. */
    boolean publishesAtOnce(long version) {
        return intervalMs <= 0
                || (evaluateEvery > 0 && version % evaluateEvery == 0)
                || version == finalVersion;
    }

    /** The first boundary of the publish grid at or after event time {@code stamp}. */
    long boundaryAtOrAfter(long stamp) {
        return Math.floorDiv(stamp + intervalMs - 1, intervalMs) * intervalMs;
    }
}
