package org.metisfl.crypto.ckks;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import org.metisfl.crypto.kernel.ModArith;
import org.metisfl.crypto.kernel.NttTable;

/**
 * The residue number system of one parameter set: the primes q_0..q_(L-1) (Q = their product), one
 * NTT table per prime, and the conversions between integer coefficients and residues. A polynomial
 * is a {@code long[L * n]}: the residues modulo q_i of its n coefficients at {@code [i*n,
 * (i+1)*n)}.
 */
final class RnsBasis {

    private static final double TWO_62 = 0x1p62;

    final int n;
    final int primeCount;
    final long[] primes;
    final NttTable[] ntt;
    final BigInteger modulus;
    final double log2Modulus;

    /** Garner: {@code inv[j][i] = q_j^-1 mod q_i} for j < i, and Shoup factors. */
    private final long[][] garnerInv;

    private final long[][] garnerInvShoup;

    /** {@code pow2[i][e] = 2^e mod q_i} (and Shoup factors) for encoding large coefficients. */
    private final long[][] pow2;

    private final long[][] pow2Shoup;

    /** Mixed-radix digits of (Q - 1) / 2, most significant last. */
    private final long[] halfDigits;

    RnsBasis(int n, int[] primeBits) {
        this.n = n;
        this.primeCount = primeBits.length;
        this.primes = Primes.nttPrimes(n, primeBits);
        this.ntt = new NttTable[primeCount];
        BigInteger q = BigInteger.ONE;
        for (int i = 0; i < primeCount; i++) {
            ntt[i] = new NttTable(n, primes[i], Primes.minimalPrimitiveRoot(primes[i], n));
            q = q.multiply(BigInteger.valueOf(primes[i]));
        }
        this.modulus = q;
        this.log2Modulus =
                q.bitLength()
                        - 1
                        + Math.log(q.shiftRight(q.bitLength() - 53).doubleValue() / 0x1p52)
                                / Math.log(2);
        garnerInv = new long[primeCount][primeCount];
        garnerInvShoup = new long[primeCount][primeCount];
        for (int i = 0; i < primeCount; i++) {
            for (int j = 0; j < i; j++) {
                long inv = ModArith.invMod(primes[j] % primes[i], primes[i]);
                garnerInv[j][i] = inv;
                garnerInvShoup[j][i] = ModArith.shoupPrecompute(inv, primes[i]);
            }
        }
        int maxExp = q.bitLength() + 1;
        pow2 = new long[primeCount][maxExp];
        pow2Shoup = new long[primeCount][maxExp];
        for (int i = 0; i < primeCount; i++) {
            long p = 1;
            for (int e = 0; e < maxExp; e++) {
                pow2[i][e] = p;
                pow2Shoup[i][e] = ModArith.shoupPrecompute(p, primes[i]);
                p = ModArith.addMod(p, p, primes[i]);
            }
        }
        halfDigits = mixedRadix(q.subtract(BigInteger.ONE).shiftRight(1));
    }

    private long[] mixedRadix(BigInteger x) {
        long[] d = new long[primeCount];
        for (int i = 0; i < primeCount; i++) {
            BigInteger[] qr = x.divideAndRemainder(BigInteger.valueOf(primes[i]));
            d[i] = qr[1].longValue();
            x = qr[0];
        }
        return d;
    }

    /**
     * Rounds {@code coeffs[k] + err[k]} to integers and returns their residues (coefficient
     * domain). {@code err} may be null.
     */
    long[] toResidues(double[] coeffs, int[] err) {
        long[] out = new long[primeCount * n];
        for (int k = 0; k < n; k++) {
            double v = coeffs[k];
            int e = err == null ? 0 : err[k];
            if (Math.abs(v) < TWO_62) {
                long c = (long) Math.rint(v) + e;
                for (int i = 0; i < primeCount; i++) {
                    long q = primes[i];
                    long r = c % q;
                    out[i * n + k] = r + ((r >> 63) & q);
                }
            } else if (Math.getExponent(v) + 2 < log2Modulus) {
                // an integer-valued double m·2^e (|m| < 2^53, e >= 10): exact, without BigDecimal
                int exp = Math.getExponent(v) - 52;
                long mant = (long) Math.scalb(v, -exp);
                for (int i = 0; i < primeCount; i++) {
                    long q = primes[i];
                    long r =
                            ModArith.mulShoup(
                                    Math.floorMod(mant, q), pow2[i][exp], pow2Shoup[i][exp], q);
                    out[i * n + k] = ModArith.addMod(r, Math.floorMod((long) e, q), q);
                }
            } else {
                BigInteger c =
                        new BigDecimal(v)
                                .setScale(0, RoundingMode.HALF_EVEN)
                                .toBigInteger()
                                .add(BigInteger.valueOf(e));
                if (c.abs().shiftLeft(1).compareTo(modulus) >= 0) {
                    throw new IllegalArgumentException(
                            "value too large to encode: the scaled coefficient "
                                    + v
                                    + " exceeds Q/2; encrypt smaller values or use a preset with"
                                    + " more primes");
                }
                for (int i = 0; i < primeCount; i++) {
                    out[i * n + k] = c.mod(BigInteger.valueOf(primes[i])).longValue();
                }
            }
        }
        return out;
    }

    /** Residues of small signed integers (ternary or Gaussian samples). */
    long[] toResidues(int[] small) {
        long[] out = new long[primeCount * n];
        for (int i = 0; i < primeCount; i++) {
            long q = primes[i];
            int base = i * n;
            for (int k = 0; k < n; k++) {
                long c = small[k];
                out[base + k] = c + ((c >> 63) & q);
            }
        }
        return out;
    }

    /**
     * Adds {@code v · 2^shift} to coefficient {@code k} of a polynomial (coefficient domain), for
     * {@code 0 <= shift} and {@code |v| · 2^shift} well below Q/2 (smudging noise).
     */
    void addShifted(long[] poly, int k, long v, int shift) {
        for (int i = 0; i < primeCount; i++) {
            long q = primes[i];
            long r = ModArith.mulShoup(Math.floorMod(v, q), pow2[i][shift], pow2Shoup[i][shift], q);
            int at = i * n + k;
            poly[at] = ModArith.addMod(poly[at], r, q);
        }
    }

    /** Residues of one integer, for each prime. */
    long[] residuesOf(long c) {
        long[] r = new long[primeCount];
        for (int i = 0; i < primeCount; i++) {
            r[i] = Math.floorMod(c, primes[i]);
        }
        return r;
    }

    /**
     * The coefficients of a polynomial (coefficient domain) as centered integers in (-Q/2, Q/2],
     * converted to double: Garner's mixed-radix form, then a Horner evaluation in double (relative
     * error a few ulps, whatever the size of Q).
     */
    double[] toCenteredDoubles(long[] poly) {
        double[] out = new double[n];
        long[] d = new long[primeCount];
        for (int k = 0; k < n; k++) {
            d[0] = poly[k];
            for (int i = 1; i < primeCount; i++) {
                long q = primes[i];
                long v = poly[i * n + k];
                for (int j = 0; j < i; j++) {
                    long dj = d[j] % q;
                    v = ModArith.subMod(v, dj, q);
                    v = ModArith.mulShoup(v, garnerInv[j][i], garnerInvShoup[j][i], q);
                }
                d[i] = v;
            }
            int cmp = 0;
            for (int i = primeCount - 1; i >= 0 && cmp == 0; i--) {
                cmp = Long.compare(d[i], halfDigits[i]);
            }
            if (cmp <= 0) {
                double v = d[primeCount - 1];
                for (int i = primeCount - 2; i >= 0; i--) {
                    v = v * primes[i] + d[i];
                }
                out[k] = v;
            } else {
                // Q - x = (Q - 1 - x) + 1, and Q - 1 has digits q_i - 1: no borrows
                double v = primes[primeCount - 1] - 1 - d[primeCount - 1];
                for (int i = primeCount - 2; i >= 0; i--) {
                    v = v * primes[i] + (primes[i] - 1 - d[i]);
                }
                out[k] = -(v + 1);
            }
        }
        return out;
    }
}
