package org.metisfl.learner.internal;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Exponential backoff with jitter: attempt n waits a random time between half and all of {@code
 * min(max, initial * 2^(n-1))}, so learners that lost the same gateway do not all come back at the
 * same instant, yet the wait still grows.
 */
public final class Backoff {
    private final long initialNanos;
    private final long maxNanos;
    private final DoubleSupplier random;

    /**
     * @param random uniform values in [0, 1), e.g. {@code ThreadLocalRandom.current()::nextDouble}
     */
    public Backoff(Duration initial, Duration max, DoubleSupplier random) {
        this.initialNanos = initial.toNanos();
        this.maxNanos = max.toNanos();
        this.random = random;
    }

    /** The wait before reconnect attempt {@code attempt} (1 for the first). */
    public Duration delay(int attempt) {
        long base = initialNanos;
        for (int i = 1; i < attempt && base < maxNanos; i++) {
            base = base > maxNanos / 2 ? maxNanos : base * 2;
        }
        base = Math.min(base, maxNanos);
        long half = base / 2;
        return Duration.ofNanos(half + (long) (random.getAsDouble() * (base - half)));
    }

    @Override
    public String toString() {
        return "Backoff{initial="
                + Duration.ofNanos(initialNanos)
                + ", max="
                + Duration.ofNanos(maxNanos)
                + ", jitter=50%}";
    }
}
