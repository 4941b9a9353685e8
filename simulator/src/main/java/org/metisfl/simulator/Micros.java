package org.metisfl.simulator;

/**
 * Wall-clock time in microseconds since the epoch, read from the monotonic clock: comparable with
 * the controller's millisecond timestamps, yet never running backwards within one process.
 */
final class Micros {
    private static final long BASE_EPOCH_MICROS = System.currentTimeMillis() * 1000L;
    private static final long BASE_NANOS = System.nanoTime();

    private Micros() {}

    static long now() {
        return BASE_EPOCH_MICROS + (System.nanoTime() - BASE_NANOS) / 1000L;
    }
}
