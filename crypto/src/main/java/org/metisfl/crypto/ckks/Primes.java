package org.metisfl.crypto.ckks;

import java.util.Arrays;
import org.metisfl.crypto.kernel.ModArith;

/** NTT-friendly primes (q ≡ 1 mod 2n) and their primitive 2n-th roots of unity. */
final class Primes {

    /** Bases for which Miller-Rabin is deterministic for every n < 3.3 · 10^24. */
    private static final long[] MR_BASES = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};

    private Primes() {}

    /** Deterministic primality for 0 ≤ n < 2^62 (Miller-Rabin with the first 12 prime bases). */
    static boolean isPrime(long n) {
        if (n < 2) {
            return false;
        }
        for (long p : MR_BASES) {
            if (n % p == 0) {
                return n == p;
            }
        }
        long d = n - 1;
        int r = Long.numberOfTrailingZeros(d);
        d >>= r;
        for (long a : MR_BASES) {
            long x = ModArith.powMod(a, d, n);
            if (x == 1 || x == n - 1) {
                continue;
            }
            boolean composite = true;
            for (int i = 1; i < r; i++) {
                x = ModArith.mulModSlow(x, x, n);
                if (x == n - 1) {
                    composite = false;
                    break;
                }
            }
            if (composite) {
                return false;
            }
        }
        return true;
    }

    /**
     * For each requested size, the largest prime below 2^bits with q ≡ 1 mod 2n not already chosen;
     * deterministic, so every party derives the same primes from the same parameters.
     */
    static long[] nttPrimes(int n, int[] bits) {
        long[] out = new long[bits.length];
        long step = 2L * n;
        for (int i = 0; i < bits.length; i++) {
            long candidate = ((1L << bits[i]) - 1) / step * step + 1;
            while (true) {
                if (candidate < (1L << (bits[i] - 1))) {
                    throw new IllegalArgumentException(
                            "no " + bits[i] + "-bit NTT prime left for n=" + n);
                }
                final long c = candidate;
                if (isPrime(c) && Arrays.stream(out, 0, i).noneMatch(p -> p == c)) {
                    break;
                }
                candidate -= step;
            }
            out[i] = candidate;
        }
        return out;
    }

    /**
     * The smallest primitive 2n-th root of unity modulo q (a canonical choice: the NTT domain, and
     * so every serialized ciphertext, depends on it).
     */
    static long minimalPrimitiveRoot(long q, int n) {
        long exp = (q - 1) / (2L * n);
        for (long g = 2; ; g++) {
            long psi = ModArith.powMod(g, exp, q);
            if (ModArith.powMod(psi, n, q) == q - 1) {
                // the primitive 2n-th roots are psi^k for odd k
                long psi2 = ModArith.mulModSlow(psi, psi, q);
                long psi2s = ModArith.shoupPrecompute(psi2, q);
                long min = psi;
                long cur = psi;
                for (int k = 1; k < n; k++) {
                    cur = ModArith.mulShoup(cur, psi2, psi2s, q);
                    min = Math.min(min, cur);
                }
                return min;
            }
        }
    }
}
