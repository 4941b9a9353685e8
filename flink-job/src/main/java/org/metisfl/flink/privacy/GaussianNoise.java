package org.metisfl.flink.privacy;

import java.security.SecureRandom;
import java.util.Random;

/**
 * Gaussian noise for the aggregate: {@code N(0, stddev^2)} added to every value of a sum.
 *
 * <p>By default the draws come from a {@link SecureRandom} seeded by the operating system, so no
 * one who reads the configuration, the code or the checkpoints can predict (and subtract) the
 * noise. A fixed seed is for tests only: it makes the noise reproducible and therefore worthless as
 * protection.
 */
public final class GaussianNoise {

    private GaussianNoise() {}

    /** A generator seeded by the operating system's entropy. */
    public static Random secure() {
        return new SecureRandom();
    }

    /**
     * A reproducible generator for tests, distinct for every (round, stream) so that shards and
     * rounds never share draws.
     */
    public static Random seeded(long seed, long round, long stream) {
        long mixed = seed;
        mixed = mix(mixed ^ round * 0x9E3779B97F4A7C15L);
        mixed = mix(mixed ^ stream * 0xC2B2AE3D27D4EB4FL);
        return new Random(mixed);
    }

    /** {@code sum[i] += N(0, stddev^2)} for every i; nothing is drawn when stddev is 0. */
    public static void addTo(double[] sum, double stddev, Random rng) {
        if (!(stddev >= 0) || Double.isInfinite(stddev)) {
            throw new IllegalArgumentException(
                    "noise stddev must be finite and >= 0, was " + stddev);
        }
        if (stddev == 0) {
            return;
        }
        for (int i = 0; i < sum.length; i++) {
            sum[i] += stddev * rng.nextGaussian();
        }
    }

    /** SplitMix64's finaliser: spreads nearby seeds over the whole 64-bit space. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
