package org.metisfl.crypto;

/**
 * The 128-bit classical security limits of the HomomorphicEncryption.org standard for ring-LWE with
 * a uniform ternary secret and error of standard deviation 3.19: the largest log2 of the ciphertext
 * modulus Q for each ring dimension.
 *
 * <p>Source: M. Albrecht et al., "Homomorphic Encryption Security Standard",
 * HomomorphicEncryption.org, Toronto, Canada, November 2018 (v1.1), the security table for ternary
 * secrets, 128-bit classical column: n = 1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438,
 * 32768: 881. (Microsoft SEAL enforces the same numbers.)
 */
public final class HeStandard {

    /** Standard deviation of the error distribution assumed by the standard's tables. */
    public static final double ERROR_STDDEV = 3.19;

    private static final int[] RING_DIMENSIONS = {1024, 2048, 4096, 8192, 16384, 32768};
    private static final int[] MAX_LOG_Q_128_CLASSICAL = {27, 54, 109, 218, 438, 881};

    private HeStandard() {}

    /**
     * The largest log2 Q allowed for ring dimension {@code n} at 128-bit classical security, or -1
     * when the standard has no row for {@code n}.
     */
    public static int maxLogQ(int n) {
        for (int i = 0; i < RING_DIMENSIONS.length; i++) {
            if (RING_DIMENSIONS[i] == n) {
                return MAX_LOG_Q_128_CLASSICAL[i];
            }
        }
        return -1;
    }

    /** The smallest ring dimension of the table whose limit admits {@code logQ} bits, or -1. */
    public static int smallestRingDimensionFor(int logQ) {
        for (int i = 0; i < RING_DIMENSIONS.length; i++) {
            if (MAX_LOG_Q_128_CLASSICAL[i] >= logQ) {
                return RING_DIMENSIONS[i];
            }
        }
        return -1;
    }
}
