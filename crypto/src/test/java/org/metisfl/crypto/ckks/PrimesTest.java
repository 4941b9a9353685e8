package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.kernel.ModArith;

class PrimesTest {

    @Test
    void millerRabinAgreesWithBigIntegerAndRejectsPseudoprimes() {
        for (long n = 0; n < 20_000; n++) {
            assertThat(Primes.isPrime(n))
                    .as("%d", n)
                    .isEqualTo(BigInteger.valueOf(n).isProbablePrime(60));
        }
        assertThat(Primes.isPrime(561)).isFalse(); // Carmichael
        assertThat(Primes.isPrime(3_215_031_751L)).isFalse(); // strong pseudoprime to 2, 3, 5, 7
        assertThat(Primes.isPrime(3_825_123_056_546_413_051L)).isFalse(); // to bases 2..23
        assertThat(Primes.isPrime((1L << 61) - 1)).isTrue(); // Mersenne prime
        assertThat(Primes.isPrime((1L << 59) - 1)).isFalse(); // 179951 * 3203431780337
    }

    @Test
    void knownAnswers() {
        // the largest prime below 2^14 that is 1 mod 2048 is 12289 (14337 = 3 * 4779)
        assertThat(Primes.nttPrimes(1024, new int[] {14})).containsExactly(12289L);
        // the two largest 60-bit primes that are 1 mod 2^14 (computed independently)
        assertThat(Primes.nttPrimes(8192, new int[] {60, 60}))
                .containsExactly(1152921504606830593L, 1152921504606748673L);
    }

    @Test
    void presetPrimesAreNttFriendlyVerifiedAndTheLargestOfTheirSize() {
        int n = 16384;
        long[] primes = Primes.nttPrimes(n, new int[] {60, 60, 60});
        assertThat(primes).doesNotHaveDuplicates();
        long below = 1L << 60;
        for (long q : primes) {
            assertThat(BigInteger.valueOf(q).isProbablePrime(100)).isTrue();
            assertThat((q - 1) % (2L * n)).isZero();
            assertThat(64 - Long.numberOfLeadingZeros(q)).isEqualTo(60);
            // no prime of the right form between it and the previous one (or 2^60)
            for (long c = q + 2L * n; c < below; c += 2L * n) {
                assertThat(BigInteger.valueOf(c).isProbablePrime(60)).as("%d", c).isFalse();
            }
            below = q;
        }
    }

    @Test
    void minimalPrimitiveRootIsPrimitiveAndMinimal() {
        long q = 12289;
        int n = 1024;
        long psi = Primes.minimalPrimitiveRoot(q, n);
        assertThat(ModArith.powMod(psi, n, q)).isEqualTo(q - 1);
        for (long x = 2; x < psi; x++) {
            assertThat(ModArith.powMod(x, n, q)).as("%d", x).isNotEqualTo(q - 1);
        }
    }
}
