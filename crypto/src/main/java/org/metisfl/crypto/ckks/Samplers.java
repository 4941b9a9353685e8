package org.metisfl.crypto.ckks;

/**
 * The distributions of RNS-CKKS: uniform ternary (secrets and the encryption randomness v),
 * discrete Gaussian with σ = 3.19 (errors, as the HomomorphicEncryption.org standard assumes) and
 * uniform residues (the public polynomial a).
 */
final class Samplers {

    /** Standard deviation of the error distribution. */
    static final double SIGMA = 3.19;

    /**
     * The Gaussian as a cumulative distribution table over |x|: {@code CDT[k] = 2^63 · P(|x| ≤ k)}
     * (rounded). A magnitude is the number of entries a uniform 63-bit value reaches; the table
     * stops where the remaining tail is below 2^-64, so the sampler is within a statistical
     * distance of about 2^-58 of the true discrete Gaussian (table rounding included).
     */
    static final long[] CDT = gaussianTable(SIGMA);

    private Samplers() {}

    static long[] gaussianTable(double sigma) {
        int max = (int) Math.ceil(sigma * 20);
        double[] w = new double[max + 1];
        double total = 0;
        for (int k = 0; k <= max; k++) {
            w[k] = (k == 0 ? 1 : 2) * Math.exp(-(double) k * k / (2 * sigma * sigma));
        }
        // sum the small terms first for accuracy
        for (int k = max; k >= 0; k--) {
            total += w[k];
        }
        double two63 = 0x1p63;
        int len = 0;
        long[] t = new long[max + 1];
        double tail = 0; // P(|x| > k), built from the far end
        double[] tails = new double[max + 1];
        for (int k = max; k >= 0; k--) {
            tails[k] = tail;
            tail += w[k] / total;
        }
        for (int k = 0; k <= max; k++) {
            long rest = Math.round(tails[k] * two63);
            if (rest == 0) {
                break;
            }
            // 2^63 - rest without overflow
            t[len++] = Long.MAX_VALUE - rest + 1;
        }
        long[] out = new long[len];
        System.arraycopy(t, 0, out, 0, len);
        return out;
    }

    /** Fills {@code out} with uniform values in {-1, 0, 1} (bytes 0..254 mod 3; 255 rejected). */
    static void ternary(RandomSource src, int[] out) {
        byte[] b = new byte[out.length + out.length / 64 + 16];
        int i = 0;
        while (i < out.length) {
            src.nextBytes(b);
            for (int k = 0; k < b.length && i < out.length; k++) {
                int v = b[k] & 0xff;
                if (v != 255) {
                    out[i++] = v % 3 - 1;
                }
            }
        }
    }

    /** As {@link #ternary(RandomSource, int[])}, from a PRG stream. */
    static void ternary(Prg prg, int[] out) {
        for (int i = 0; i < out.length; ) {
            int v = prg.nextByte();
            if (v != 255) {
                out[i++] = v % 3 - 1;
            }
        }
    }

    /**
     * Fills {@code out} with discrete Gaussian values of σ = 3.19. The table is scanned whole for
     * every sample (no early exit), so the time does not depend on the value.
     */
    static void gaussian(Prg prg, int[] out) {
        final long[] cdt = CDT;
        for (int i = 0; i < out.length; i++) {
            long r = prg.nextLong();
            long u = r >>> 1;
            int mag = 0;
            for (long t : cdt) {
                mag += (int) ((t - 1 - u) >>> 63);
            }
            int sign = (int) (r & 1); // 1: negative
            out[i] = (mag ^ -sign) + sign;
        }
    }

    /** Fills {@code out[off, off+len)} with uniform residues mod q (rejection sampling). */
    static void uniform(Prg prg, long[] out, int off, int len, long q) {
        int shift = Long.numberOfLeadingZeros(q);
        for (int i = off, end = off + len; i < end; ) {
            long v = prg.nextLong() >>> shift;
            if (v < q) {
                out[i++] = v;
            }
        }
    }
}
