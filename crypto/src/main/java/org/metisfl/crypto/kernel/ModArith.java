package org.metisfl.crypto.kernel;

import java.math.BigInteger;

/**
 * Word-sized modular arithmetic for primes below 2^61, with Shoup's multiplication by a fixed
 * operand: {@code x * w mod q} costs two multiplications and one conditional subtraction once
 * {@code w' = floor(w * 2^64 / q)} is precomputed.
 *
 * <p>All values are held in Java {@code long}s; residues are in {@code [0, q)}. Keeping {@code q <
 * 2^61} leaves room for the lazy sums ({@code < 4q}) without overflowing a signed word.
 */
public final class ModArith {

    /** The largest prime size the kernels accept, in bits. */
    public static final int MAX_MODULUS_BITS = 61;

    private ModArith() {}

    /** {@code floor(w * 2^64 / q)} as an unsigned 64-bit value held in a long. */
    public static long shoupPrecompute(long w, long q) {
        if (w < 0 || w >= q) {
            throw new IllegalArgumentException("w must be in [0, q): w=" + w + ", q=" + q);
        }
        return BigInteger.valueOf(w)
                .shiftLeft(64)
                .divide(BigInteger.valueOf(q))
                .longValue(); // the low 64 bits: the unsigned quotient (it is < 2^64)
    }

    /** {@code x * w mod q} for {@code 0 <= x < 2^63}, {@code w < q}, {@code wp = shoup(w)}. */
    public static long mulShoup(long x, long w, long wp, long q) {
        // unsigned high word of x * wp (x >= 0, wp read as unsigned)
        long hi = Math.multiplyHigh(x, wp) + ((wp >> 63) & x);
        long r = x * w - hi * q; // in [0, 2q)
        r -= q;
        return r + ((r >> 63) & q);
    }

    /** {@code (a + b) mod q} for a, b in [0, q). */
    public static long addMod(long a, long b, long q) {
        long s = a + b - q;
        return s + ((s >> 63) & q);
    }

    /** {@code (a - b) mod q} for a, b in [0, q). */
    public static long subMod(long a, long b, long q) {
        long d = a - b;
        return d + ((d >> 63) & q);
    }

    /** {@code a * b mod q} for any residues (setup paths only: it uses BigInteger). */
    public static long mulModSlow(long a, long b, long q) {
        return BigInteger.valueOf(a)
                .multiply(BigInteger.valueOf(b))
                .mod(BigInteger.valueOf(q))
                .longValue();
    }

    /** {@code a^e mod q}. */
    public static long powMod(long a, long e, long q) {
        return BigInteger.valueOf(a)
                .modPow(BigInteger.valueOf(e), BigInteger.valueOf(q))
                .longValue();
    }

    /** {@code a^-1 mod q} for prime q and a not divisible by q. */
    public static long invMod(long a, long q) {
        return BigInteger.valueOf(Math.floorMod(a, q))
                .modInverse(BigInteger.valueOf(q))
                .longValue();
    }

    /** Reverses the low {@code bits} bits of {@code i}. */
    public static int bitReverse(int i, int bits) {
        return bits == 0 ? 0 : Integer.reverse(i) >>> (32 - bits);
    }
}
