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

    /** 32 bytes from the operating system's entropy: the secret seed of one release. */
    public static byte[] secretSeed() {
        byte[] seed = new byte[32];
        new SecureRandom().nextBytes(seed);
        return seed;
    }

    /**
     * A cryptographically strong generator that draws the same stream for the same secret seed
     * (SHA1PRNG seeded before its first use): a release drawn again after a failover gets the same
     * noise, so the job never publishes two different noisy versions of one round.
     */
    public static Random fromSecret(byte[] seed) {
        try {
            SecureRandom r = SecureRandom.getInstance("SHA1PRNG");
            r.setSeed(seed);
            return r;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA1PRNG", e);
        }
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

    /**
     * DP-FedAvg's release of one shard: {@code (sum + N(0, stddev^2)) / expected}, as float32 (the
     * sum is left unchanged).
     */
    public static float[] noisedMean(double[] sum, double stddev, double expected, Random rng) {
        if (!(expected > 0)) {
            throw new IllegalArgumentException(
                    "expected contributions must be > 0, was " + expected);
        }
        double[] noised = sum.clone();
        addTo(noised, stddev, rng);
        float[] out = new float[noised.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (noised[i] / expected);
        }
        return out;
    }

    /** SplitMix64's finaliser: spreads nearby seeds over the whole 64-bit space. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
