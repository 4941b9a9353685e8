package org.metisfl.crypto.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JavaRnsKernelsTest {

    private static final RnsKernels K = JavaRnsKernels.INSTANCE;

    /** A primitive 2n-th root found by brute force, independent of the production code. */
    static long primitiveRoot(long q, int n) {
        if ((q - 1) % (2L * n) != 0) {
            throw new IllegalArgumentException(q + " is not 1 mod " + 2 * n);
        }
        BigInteger bq = BigInteger.valueOf(q);
        for (long g = 2; ; g++) {
            BigInteger psi =
                    BigInteger.valueOf(g).modPow(BigInteger.valueOf((q - 1) / (2L * n)), bq);
            if (psi.modPow(BigInteger.valueOf(n), bq).equals(bq.subtract(BigInteger.ONE))) {
                return psi.longValue();
            }
        }
    }

    static long[] random(int n, long q, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextLong(q);
        }
        return a;
    }

    /** c = a * b in Z_q[X]/(X^n + 1), O(n^2) with BigInteger. */
    static long[] naiveNegacyclic(long[] a, long[] b, long q) {
        int n = a.length;
        BigInteger bq = BigInteger.valueOf(q);
        BigInteger[] c = new BigInteger[n];
        java.util.Arrays.fill(c, BigInteger.ZERO);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                BigInteger p = BigInteger.valueOf(a[i]).multiply(BigInteger.valueOf(b[j]));
                int k = i + j;
                if (k < n) {
                    c[k] = c[k].add(p);
                } else {
                    c[k - n] = c[k - n].subtract(p);
                }
            }
        }
        long[] out = new long[n];
        for (int k = 0; k < n; k++) {
            out[k] = c[k].mod(bq).longValue();
        }
        return out;
    }

    // q: NTT primes (q = 1 mod 2n) from 14 to 60 bits, checked prime by BigInteger in the test
    @ParameterizedTest
    @CsvSource({
        "8, 17",
        "16, 12289",
        "64, 12289",
        "256, 7681",
        "1024, 12289",
        "512, 1152921504606830593",
        "1024, 1152921504606748673"
    })
    void nttProductEqualsNaiveNegacyclicConvolution(int n, long q) {
        assertThat(BigInteger.valueOf(q).isProbablePrime(100)).isTrue();
        assertThat((q - 1) % (2L * n)).isZero();
        NttTable t = new NttTable(n, q, primitiveRoot(q, n));
        long[] a = random(n, q, 1);
        long[] b = random(n, q, 2);
        long[] expected = naiveNegacyclic(a, b, q);

        long[] fa = a.clone();
        long[] fb = b.clone();
        K.forwardNtt(fa, 0, t);
        K.forwardNtt(fb, 0, t);
        long[] fbShoup = new long[n];
        for (int i = 0; i < n; i++) {
            fbShoup[i] = ModArith.shoupPrecompute(fb[i], q);
        }
        K.mulPointwiseMod(fa, 0, fb, fbShoup, 0, n, q);
        K.inverseNtt(fa, 0, t);
        assertThat(fa).containsExactly(expected);
    }

    @ParameterizedTest
    @CsvSource({"16, 12289", "256, 7681", "1024, 1152921504606748673"})
    void forwardNttEvaluatesAtOddPowersOfPsiInBitReversedOrder(int n, long q) {
        long psi = primitiveRoot(q, n);
        NttTable t = new NttTable(n, q, psi);
        long[] a = random(n, q, 3);
        long[] f = a.clone();
        K.forwardNtt(f, 0, t);
        BigInteger bq = BigInteger.valueOf(q);
        int logN = Integer.numberOfTrailingZeros(n);
        for (int i = 0; i < n; i++) {
            int brv = Integer.reverse(i) >>> (32 - logN);
            BigInteger x = BigInteger.valueOf(psi).modPow(BigInteger.valueOf(2L * brv + 1), bq);
            BigInteger v = BigInteger.ZERO;
            for (int j = n - 1; j >= 0; j--) {
                v = v.multiply(x).add(BigInteger.valueOf(a[j])).mod(bq);
            }
            assertThat(f[i]).as("evaluation %d", i).isEqualTo(v.longValue());
        }
    }

    @ParameterizedTest
    @CsvSource({"8192, 1152921504606683137", "4096, 1152921504606830593"})
    void inverseUndoesForwardAtAnOffset(int n, long q) {
        NttTable t = new NttTable(n, q, primitiveRoot(q, n));
        long[] a = new long[3 * n];
        long[] r = random(n, q, 4);
        System.arraycopy(r, 0, a, n, n);
        long[] copy = a.clone();
        K.forwardNtt(a, n, t);
        assertThat(a).isNotEqualTo(copy);
        K.inverseNtt(a, n, t);
        assertThat(a).containsExactly(copy);
    }

    @ParameterizedTest
    @CsvSource({"97", "12289", "1152921504606748673", "2305843009213693951"})
    void vectorArithmeticMatchesBigInteger(long q) {
        int n = 1000;
        long[] a = random(n, q, 5);
        long[] b = random(n, q, 6);
        BigInteger bq = BigInteger.valueOf(q);
        long w = random(1, q, 7)[0];
        long ws = ModArith.shoupPrecompute(w, q);

        long[] sum = a.clone();
        K.addMod(sum, 0, b, 0, n, q);
        long[] scaled = a.clone();
        K.mulScalarMod(scaled, 0, n, w, ws, q);
        long[] bShoup = new long[n];
        for (int i = 0; i < n; i++) {
            bShoup[i] = ModArith.shoupPrecompute(b[i], q);
        }
        long[] acc = b.clone();
        K.mulScalarAddMod(acc, 0, a, 0, n, w, ws, q);
        long[] fma = a.clone();
        K.mulPointwiseAddMod(fma, 0, b, bShoup, 0, a, 0, n, q);
        for (int i = 0; i < n; i++) {
            BigInteger x = BigInteger.valueOf(a[i]);
            BigInteger y = BigInteger.valueOf(b[i]);
            assertThat(sum[i]).isEqualTo(x.add(y).mod(bq).longValue());
            assertThat(scaled[i]).isEqualTo(x.multiply(BigInteger.valueOf(w)).mod(bq).longValue());
            assertThat(fma[i]).isEqualTo(x.multiply(y).add(x).mod(bq).longValue());
            assertThat(acc[i])
                    .isEqualTo(x.multiply(BigInteger.valueOf(w)).add(y).mod(bq).longValue());
        }
    }
}
