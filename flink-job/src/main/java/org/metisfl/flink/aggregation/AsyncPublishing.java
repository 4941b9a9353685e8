package org.metisfl.flink.aggregation;

import java.io.Serializable;

/**
 * The asynchronous model path's rule for which model versions carry their values to the gateways,
 * decided at every shard from what every shard sees alike (the update sequence and its stamps): a
 * version is published when the gateways' clock (event time) crosses a multiple of {@code
 * async.publish-interval} since the last published one, when it is an evaluation version (every
 * {@code async.evaluate-every}-th) and when it is the last ({@code federation.rounds}). With {@code
 * async.evaluate-interval} the evaluation versions are instead the first published version at or
 * past each multiple of that interval, again by the event time of its publication. No version past
 * the last is published.
 *
 * @param intervalMs {@code async.publish-interval}; 0 or less publishes every version
 * @param evaluateEvery {@code async.evaluate-every}
 * @param finalVersion {@code federation.rounds}
 * @param evaluateIntervalMs {@code async.evaluate-interval}; 0: every {@code evaluateEvery}-th
 */
public record AsyncPublishing(
        long intervalMs, int evaluateEvery, long finalVersion, long evaluateIntervalMs)
        implements Serializable {

    public AsyncPublishing(long intervalMs, int evaluateEvery, long finalVersion) {
        this(intervalMs, evaluateEvery, finalVersion, 0);
    }

    /**
     * False for a version past the last ({@code federation.rounds}): the federation has ended there
     * (the coordinator publishes nothing more), so its shards would wait at the gateways for a
     * PUBLISH that never comes until the job ends. Such versions come from updates in flight when
     * the last version was made.
     */
    boolean publishes(long version) {
        return version <= finalVersion;
    }

    /** True if {@code version} is published as soon as it is made. */
    boolean publishesAtOnce(long version) {
        return intervalMs <= 0
                || (evaluateIntervalMs <= 0 && evaluateEvery > 0 && version % evaluateEvery == 0)
                || version == finalVersion;
    }

    /** The first boundary of the publish grid at or after event time {@code stamp}. */
    long boundaryAtOrAfter(long stamp) {
        return Math.floorDiv(stamp + intervalMs - 1, intervalMs) * intervalMs;
    }

    /**
     * With an evaluation interval: whether a version published at event time {@code at} is an
     * evaluation version, given the next evaluation boundary {@code evaluateAt} (0 before the
     * first).
     */
    boolean evaluatesAt(long at, long evaluateAt) {
        return evaluateIntervalMs > 0 && at >= evaluateAt;
    }

    /** The evaluation boundary after one at event time {@code at}: the next multiple past it. */
    long nextEvaluationAfter(long at) {
        return (Math.floorDiv(at, evaluateIntervalMs) + 1) * evaluateIntervalMs;
    }
}
