package org.metisfl.simulator;

import java.util.Arrays;

/**
 * How long accepted updates waited for their acknowledgement: from the moment an upload had every
 * byte handed to gRPC and was half-closed to its answer (with checkpoints on, the checkpoint that
 * holds the update has completed by then). Keeps the first {@value #CAPACITY} samples.
 */
public final class AckLatencies {
    static final int CAPACITY = 4_000_000;

    private long[] samples = new long[1024];
    private int count;
    private long dropped;

    /** Records one acknowledgement that came {@code micros} after its upload was sent. */
    synchronized void record(long micros) {
        if (count == samples.length) {
            if (count >= CAPACITY) {
                dropped++;
                return;
            }
            samples = Arrays.copyOf(samples, Math.min(CAPACITY, count * 2));
        }
        samples[count++] = micros;
    }

    /** An immutable copy of what was recorded so far. */
    synchronized Snapshot snapshot() {
        long[] sorted = Arrays.copyOf(samples, count);
        Arrays.sort(sorted);
        return new Snapshot(sorted, dropped);
    }

    /**
     * Recorded acknowledgement latencies, sorted.
     *
     * @param sortedUs the samples in microseconds, ascending
     * @param dropped samples not kept (beyond the capacity)
     */
    public record Snapshot(long[] sortedUs, long dropped) {
        public static final Snapshot EMPTY = new Snapshot(new long[0], 0);

        public int count() {
            return sortedUs.length;
        }

        /** The {@code p}-th percentile (0 to 100, nearest rank) in microseconds, or NaN if none. */
        public double percentileUs(double p) {
            if (p < 0 || p > 100) {
                throw new IllegalArgumentException("a percentile is between 0 and 100, got " + p);
            }
            if (sortedUs.length == 0) {
                return Double.NaN;
            }
            int rank = (int) Math.ceil(p / 100.0 * sortedUs.length);
            return sortedUs[Math.max(0, Math.min(sortedUs.length - 1, rank - 1))];
        }
    }
}
