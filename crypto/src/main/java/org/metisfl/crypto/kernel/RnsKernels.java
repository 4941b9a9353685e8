package org.metisfl.crypto.kernel;

/**
 * The hot loops of RNS-CKKS over one residue polynomial (n coefficients modulo one prime): forward
 * and inverse negacyclic NTT and coefficient-wise modular arithmetic.
 *
 * <p>Every implementation must give bit-identical results (all outputs fully reduced into [0, q));
 * {@link JavaRnsKernels} is the reference, a native one ({@code metisfl-native}) is found through
 * {@link RnsKernelProvider}. Arrays hold residues in [0, q); {@code off} is the index of a
 * polynomial's first coefficient, so one array can hold a polynomial per prime.
 */
public interface RnsKernels {

    /** A short name for logs and benchmarks ("java", "native"). */
    String name();

    /** In place: coefficients to evaluations (bit-reversed order). */
    void forwardNtt(long[] a, int off, NttTable t);

    /** In place: evaluations (bit-reversed order) to coefficients, including the 1/n factor. */
    void inverseNtt(long[] a, int off, NttTable t);

    /** {@code a[aOff+i] = (a[aOff+i] + b[bOff+i]) mod q} for i in [0, len). */
    void addMod(long[] a, int aOff, long[] b, int bOff, int len, long q);

    /**
     * {@code a[off+i] = a[off+i] * w mod q} for i in [0, len); {@code wShoup} is w's Shoup factor.
     */
    void mulScalarMod(long[] a, int off, int len, long w, long wShoup, long q);

    /**
     * {@code a[aOff+i] = a[aOff+i] * w[wOff+i] mod q} for i in [0, len), where w is a fixed operand
     * with precomputed Shoup factors {@code wShoup} (a key or a public-key polynomial).
     */
    void mulPointwiseMod(long[] a, int aOff, long[] w, long[] wShoup, int wOff, int len, long q);

    /**
     * {@code a[aOff+i] = (a[aOff+i] * w[wOff+i] + b[bOff+i]) mod q}: the fused multiply-add of
     * encryption and decryption.
     */
    void mulPointwiseAddMod(
            long[] a,
            int aOff,
            long[] w,
            long[] wShoup,
            int wOff,
            long[] b,
            int bOff,
            int len,
            long q);

    /**
     * {@code acc[accOff+i] = (acc[accOff+i] + b[bOff+i] * w) mod q}: one term of a weighted sum, in
     * place.
     */
    void mulScalarAddMod(
            long[] acc, int accOff, long[] b, int bOff, int len, long w, long wShoup, long q);
}
