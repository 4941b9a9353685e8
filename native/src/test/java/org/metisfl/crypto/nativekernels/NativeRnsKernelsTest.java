package org.metisfl.crypto.nativekernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.metisfl.crypto.kernel.JavaRnsKernels;
import org.metisfl.crypto.kernel.ModArith;
import org.metisfl.crypto.kernel.NttTable;
import org.metisfl.crypto.kernel.RnsKernels;
import org.metisfl.crypto.kernel.RnsKernelsLoader;

class NativeRnsKernelsTest {

    private static final RnsKernels JAVA = JavaRnsKernels.INSTANCE;

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

    @Test
    void loadsOnThisMachineAndIsChosenByDefault() {
        NativeRnsKernelProvider p = new NativeRnsKernelProvider();
        assertThat(p.unavailabilityCause()).isNull();
        assertThat(p.isAvailable()).isTrue();
        assertThat(RnsKernelsLoader.providers()).anyMatch(x -> x.name().equals("native"));
        assertThat(RnsKernelsLoader.choose("auto").name()).isEqualTo("native");
        assertThat(RnsKernelsLoader.choose("java").name()).isEqualTo("java");
        assertThat(RnsKernelsLoader.choose("native").name()).isEqualTo("native");
        assertThatThrownBy(() -> RnsKernelsLoader.choose("gpu"))
                .hasMessageContaining("names no kernels");
    }

    @ParameterizedTest
    @CsvSource({
        "8, 17",
        "1024, 12289",
        "4096, 1152921504606830593",
        "8192, 1152921504606748673",
        "16384, 1152921504606748673",
        "2048, 2305843009213616129"
    })
    void nttIsBitIdenticalToJava(int n, long q) {
        NttTable t = new NttTable(n, q, primitiveRoot(q, n));
        long[] a = new long[2 * n];
        System.arraycopy(random(n, q, n), 0, a, n, n);
        long[] j = a.clone();
        NativeRnsKernels.get().forwardNtt(a, n, t);
        JAVA.forwardNtt(j, n, t);
        assertThat(a).containsExactly(j);
        NativeRnsKernels.get().inverseNtt(a, n, t);
        JAVA.inverseNtt(j, n, t);
        assertThat(a).containsExactly(j);
        // and the inverse really undoes the forward
        long[] orig = new long[2 * n];
        System.arraycopy(random(n, q, n), 0, orig, n, n);
        assertThat(a).containsExactly(orig);
    }

    @ParameterizedTest
    @CsvSource({"97", "1152921504606830593", "2305843009213693951"})
    void vectorArithmeticIsBitIdenticalToJava(long q) {
        int n = 4099;
        RnsKernels nat = NativeRnsKernels.get();
        long[] a = random(n, q, 1);
        long[] b = random(n, q, 2);
        long[] bs = new long[n];
        for (int i = 0; i < n; i++) {
            bs[i] = ModArith.shoupPrecompute(b[i], q);
        }
        long w = random(1, q, 3)[0];
        long ws = ModArith.shoupPrecompute(w, q);

        long[] x = a.clone();
        long[] y = a.clone();
        nat.addMod(x, 1, b, 2, n - 2, q);
        JAVA.addMod(y, 1, b, 2, n - 2, q);
        assertThat(x).containsExactly(y);

        nat.mulScalarMod(x, 3, n - 3, w, ws, q);
        JAVA.mulScalarMod(y, 3, n - 3, w, ws, q);
        assertThat(x).containsExactly(y);

        nat.mulPointwiseMod(x, 0, b, bs, 0, n, q);
        JAVA.mulPointwiseMod(y, 0, b, bs, 0, n, q);
        assertThat(x).containsExactly(y);

        nat.mulPointwiseAddMod(x, 0, b, bs, 0, a, 0, n, q);
        JAVA.mulPointwiseAddMod(y, 0, b, bs, 0, a, 0, n, q);
        assertThat(x).containsExactly(y);

        nat.mulScalarAddMod(x, 1, b, 0, n - 1, w, ws, q);
        JAVA.mulScalarAddMod(y, 1, b, 0, n - 1, w, ws, q);
        assertThat(x).containsExactly(y);
        for (int i = 0; i < n; i++) {
            assertThat(x[i]).isBetween(0L, q - 1);
        }
    }

    @Test
    void refusesRangesOutsideTheArraysInsteadOfCorruptingMemory() {
        RnsKernels nat = NativeRnsKernels.get();
        assertThatThrownBy(() -> nat.addMod(new long[10], 5, new long[10], 0, 6, 97))
                .isInstanceOf(IndexOutOfBoundsException.class);
        NttTable t = new NttTable(16, 97, primitiveRoot(97, 16));
        assertThatThrownBy(() -> nat.forwardNtt(new long[20], 8, t))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
