package org.metisfl.flink.connector.gateway.server;

import io.grpc.StatusRuntimeException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;
import org.metisfl.flink.config.GatewayLimits;

/**
 * Bounds joins at one gateway: a rate ({@code gateway.limits.join-rate} per second, a token bucket
 * that holds one second's worth), a rate per client address ({@code
 * gateway.limits.join-rate-per-address}, one such bucket per address, when set) and the learners
 * admitted at once ({@code gateway.limits.max-learners}: joined here, not left, with a token that
 * has not expired). Expired registrations are swept when the gateway is full, at most once a
 * second; an address's bucket is forgotten once it is full again (one second without a join from
 * it), so the buckets kept are those of the addresses that joined in the last second. Thread-safe.
 */
final class JoinLimiter {
    private static final long SECOND = 1_000_000_000L;

    private final GatewayLimits limits;
    private final LongSupplier nanoClock;
    private final Map<String, Long> expiresAtMs = new HashMap<>();
    private final Map<String, Bucket> perAddress = new HashMap<>();
    private long addressesSweptAt;
    private double tokens;
    private long refilledAt;
    private long sweptAt;

    JoinLimiter(GatewayLimits limits, LongSupplier nanoClock) {
        this.limits = limits;
        this.nanoClock = nanoClock;
        this.tokens = limits.joinRate();
        this.refilledAt = nanoClock.getAsLong();
        this.sweptAt = refilledAt - SECOND;
        this.addressesSweptAt = refilledAt;
    }

    /** A join without a known client address (only the gateway-wide limits apply). */
    synchronized StatusRuntimeException admit(long nowMs) {
        return admit(nowMs, null);
    }

    /**
     * Takes a place for a joining learner, or returns why not (RESOURCE_EXHAUSTED). {@code nowMs}
     * is the token authority's clock, for expiries.
     */
    synchronized StatusRuntimeException admit(long nowMs, String address) {
        long now = nanoClock.getAsLong();
        int perAddressRate = limits.joinRatePerAddress();
        Bucket bucket = null;
        if (perAddressRate > 0 && address != null) {
            sweepAddresses(now);
            bucket = perAddress.get(address);
            if (bucket == null) {
                bucket = new Bucket(perAddressRate, now);
            }
            bucket.refill(perAddressRate, now);
            if (bucket.tokens < 1) {
                long waitMs =
                        Math.max(
                                1, (long) Math.ceil((1 - bucket.tokens) * 1000.0 / perAddressRate));
                return LearnerStatus.busy(
                        "the gateway admits "
                                + perAddressRate
                                + " joins per second from one address"
                                + " (gateway.limits.join-rate-per-address); retry in "
                                + waitMs
                                + " ms",
                        waitMs);
            }
        }
        int rate = limits.joinRate();
        tokens = Math.min(rate, tokens + (now - refilledAt) * (double) rate / SECOND);
        refilledAt = now;
        if (tokens < 1) {
            return LearnerStatus.busy(
                    "the gateway admits "
                            + rate
                            + " joins per second (gateway.limits.join-rate); retry"
                            + " with backoff",
                    1000);
        }
        if (expiresAtMs.size() >= limits.maxLearners() && now - sweptAt >= SECOND) {
            sweptAt = now;
            Iterator<Long> it = expiresAtMs.values().iterator();
            while (it.hasNext()) {
                if (it.next() <= nowMs) {
                    it.remove();
                }
            }
        }
        if (expiresAtMs.size() >= limits.maxLearners()) {
            return LearnerStatus.busy(
                    "the gateway has "
                            + limits.maxLearners()
                            + " learners (gateway.limits.max-learners); try another"
                            + " gateway or later",
                    30_000);
        }
        tokens -= 1;
        if (bucket != null) {
            bucket.tokens -= 1;
            perAddress.put(address, bucket);
        }
        return null;
    }

    /** Forgets the buckets that are full again, at most once a second. */
    private void sweepAddresses(long now) {
        if (now - addressesSweptAt < SECOND) {
            return;
        }
        addressesSweptAt = now;
        perAddress.values().removeIf(b -> now - b.refilledAt >= SECOND);
    }

    /** Client addresses with a join in about the last second (their buckets). */
    synchronized int addressesTracked() {
        return perAddress.size();
    }

    /** One address's token bucket. */
    private static final class Bucket {
        double tokens;
        long refilledAt;

        Bucket(int rate, long now) {
            this.tokens = rate;
            this.refilledAt = now;
        }

        void refill(int rate, long now) {
            tokens = Math.min(rate, tokens + (now - refilledAt) * (double) rate / SECOND);
            refilledAt = now;
        }
    }

    /** A learner joined or renewed its token here. */
    synchronized void registered(String learnerId, long tokenExpiresAtMs) {
        expiresAtMs.put(learnerId, tokenExpiresAtMs);
    }

    /** Renews the registration of a learner counted here (not one that joined elsewhere). */
    synchronized void renewed(String learnerId, long tokenExpiresAtMs) {
        expiresAtMs.replace(learnerId, tokenExpiresAtMs);
    }

    /** The learner left or was revoked. */
    synchronized void removed(String learnerId) {
        expiresAtMs.remove(learnerId);
    }

    /** Learners counted against {@code gateway.limits.max-learners}. */
    synchronized int learners() {
        return expiresAtMs.size();
    }
}
