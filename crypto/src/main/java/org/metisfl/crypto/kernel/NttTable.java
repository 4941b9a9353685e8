package org.metisfl.crypto.kernel;

/**
 * The precomputed twiddle factors of the negacyclic number-theoretic transform of length {@code n}
 * modulo one NTT-friendly prime {@code q} (q ≡ 1 mod 2n), for a given primitive 2n-th root of unity
 * ψ.
 *
 * <p>The forward transform maps the coefficients of {@code a(X)} in Z_q[X]/(X^n + 1) to its values
 * {@code a(ψ^(2·brv(i)+1))} in bit-reversed order (brv: bit reversal over log2 n bits), so that a
 * product of polynomials is a pointwise product of transforms. The arrays are read by every kernel
 * implementation (Java and native) and must not be modified.
 */
public final class NttTable {

    public final int n;
    public final int logN;
    public final long q;
    public final long psi;

    /** {@code psiRev[k] = ψ^brv(k)}, and its Shoup factors. */
    public final long[] psiRev;

    public final long[] psiRevShoup;

    /** {@code psiInvRev[k] = ψ^-brv(k)}, and its Shoup factors. */
    public final long[] psiInvRev;

    public final long[] psiInvRevShoup;

    /** {@code n^-1 mod q} and its Shoup factor. */
    public final long nInv;

    public final long nInvShoup;

    /**
     * @param n a power of two, at least 2
     * @param q a prime below 2^61 with q ≡ 1 mod 2n
     * @param psi a primitive 2n-th root of unity modulo q (ψ^n ≡ -1)
     */
    public NttTable(int n, long q, long psi) {
        if (n < 2 || Integer.bitCount(n) != 1) {
            throw new IllegalArgumentException("n must be a power of two >= 2, got " + n);
        }
        if (q <= 2 || 64 - Long.numberOfLeadingZeros(q) > ModArith.MAX_MODULUS_BITS) {
            throw new IllegalArgumentException(
                    "q must be in (2, 2^" + ModArith.MAX_MODULUS_BITS + "), got " + q);
        }
        if ((q - 1) % (2L * n) != 0) {
            throw new IllegalArgumentException(
                    "q=" + q + " is not NTT-friendly for n=" + n + ": q must be 1 mod " + 2 * n);
        }
        if (ModArith.powMod(psi, n, q) != q - 1) {
            throw new IllegalArgumentException(
                    "psi=" + psi + " is not a primitive 2n-th root of unity mod " + q);
        }
        this.n = n;
        this.logN = Integer.numberOfTrailingZeros(n);
        this.q = q;
        this.psi = psi;
        long psiInv = ModArith.invMod(psi, q);
        long[] pow = powers(psi, n, q);
        long[] powInv = powers(psiInv, n, q);
        psiRev = new long[n];
        psiInvRev = new long[n];
        psiRevShoup = new long[n];
        psiInvRevShoup = new long[n];
        for (int k = 0; k < n; k++) {
            int r = ModArith.bitReverse(k, logN);
            psiRev[k] = pow[r];
            psiInvRev[k] = powInv[r];
            psiRevShoup[k] = ModArith.shoupPrecompute(psiRev[k], q);
            psiInvRevShoup[k] = ModArith.shoupPrecompute(psiInvRev[k], q);
        }
        nInv = ModArith.invMod(n, q);
        nInvShoup = ModArith.shoupPrecompute(nInv, q);
    }

    private static long[] powers(long base, int count, long q) {
        long[] p = new long[count];
        long shoup = ModArith.shoupPrecompute(base, q);
        p[0] = 1;
        for (int i = 1; i < count; i++) {
            p[i] = ModArith.mulShoup(p[i - 1], base, shoup, q);
        }
        return p;
    }
}
