package org.metisfl.flink.connector.model;

import java.io.Serializable;
import java.time.Duration;

/**
 * How the model sink delivers directives to one gateway: each attempt has a deadline, failed
 * attempts are retried after an exponential backoff, and a gateway that has not taken a directive
 * within {@code timeout} of the first attempt fails the job.
 *
 * @param timeout the longest a directive may stay undelivered to one gateway before the job fails
 * @param attemptTimeout the deadline of one attempt (one Publish call)
 * @param initialBackoff the wait after the first failed attempt; it doubles after each further one
 * @param maxBackoff the longest wait between two attempts
 * @param maxPending the most directives queued for one gateway before the sink waits for it
 *     (back-pressure: each may hold a whole model)
 */
record DeliveryPolicy(
        Duration timeout,
        Duration attemptTimeout,
        Duration initialBackoff,
        Duration maxBackoff,
        int maxPending)
        implements Serializable {

    static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);
    static final Duration DEFAULT_ATTEMPT_TIMEOUT = Duration.ofSeconds(60);
    static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);
    static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);
    static final int DEFAULT_MAX_PENDING = 16;

    DeliveryPolicy {
        positive(timeout, "delivery timeout");
        positive(attemptTimeout, "attempt timeout");
        positive(initialBackoff, "initial backoff");
        positive(maxBackoff, "max backoff");
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException(
                    "max backoff "
                            + maxBackoff
                            + " is shorter than the initial backoff "
                            + initialBackoff
                            + ": make it at least as long");
        }
        if (maxPending < 1) {
            throw new IllegalArgumentException(
                    "max pending directives must be at least 1, got " + maxPending);
        }
    }

    static DeliveryPolicy defaults() {
        return new DeliveryPolicy(
                DEFAULT_TIMEOUT,
                DEFAULT_ATTEMPT_TIMEOUT,
                DEFAULT_INITIAL_BACKOFF,
                DEFAULT_MAX_BACKOFF,
                DEFAULT_MAX_PENDING);
    }

    /** The wait before the next attempt after {@code failures} failed attempts (at least 1). */
    long backoffNanos(int failures) {
        long initial = initialBackoff.toNanos();
        long max = maxBackoff.toNanos();
        int doublings = Math.min(Math.max(failures - 1, 0), 62);
        long backoff = initial << doublings;
        return backoff <= 0 || (backoff >> doublings) != initial ? max : Math.min(backoff, max);
    }

    private static void positive(Duration d, String what) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
    }
}
