package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class SamplersTest {

    private static final int COUNT = 1 << 20;

    private static Prg prg(long seed) {
        byte[] s = new byte[32];
        s[0] = (byte) seed;
        return new Prg(s, 9);
    }

    @Test
    void ternaryIsUniformOverMinusOneZeroOne() {
        int[] v = new int[COUNT];
        Samplers.ternary(RandomSource.secure(), v);
        long[] counts = new long[3];
        for (int x : v) {
            counts[x + 1]++;
        }
        // each count ~ Binomial(n, 1/3): std = sqrt(n * 2/9) ~ 483; allow 6 std
        double std = Math.sqrt(COUNT * 2.0 / 9);
        for (long c : counts) {
            assertThat((double) c).isCloseTo(COUNT / 3.0, within(6 * std));
        }
        // chi-square with 2 degrees of freedom; P(chi2 > 20) ~ 4.5e-5
        double chi2 = 0;
        for (long c : counts) {
            chi2 += Math.pow(c - COUNT / 3.0, 2) / (COUNT / 3.0);
        }
        assertThat(chi2).isLessThan(20);
    }

    @Test
    void gaussianHasMeanZeroVarianceSigmaSquaredAndTheRightShape() {
        int[] v = new int[COUNT];
        Samplers.gaussian(prg(1), v);
        double sum = 0;
        double sq = 0;
        int max = 0;
        long[] hist = new long[64];
        for (int x : v) {
            sum += x;
            sq += (double) x * x;
            max = Math.max(max, Math.abs(x));
            hist[Math.abs(x)]++;
        }
        double sigma = Samplers.SIGMA;
        double mean = sum / COUNT;
        double var = sq / COUNT - mean * mean;
        // mean: std sigma/sqrt(n) ~ 0.0031; variance: relative std sqrt(2/n) ~ 0.14%
        assertThat(mean).isCloseTo(0, within(6 * sigma / Math.sqrt(COUNT)));
        assertThat(var)
                .isCloseTo(sigma * sigma, within(6 * sigma * sigma * Math.sqrt(2.0 / COUNT)));
        // P(|x| > 6 sigma) ~ 2e-9: none expected in 2^20 samples
        assertThat(max).isLessThanOrEqualTo(19).isGreaterThanOrEqualTo(10);
        // frequencies of |x| = 0..6 against exp(-x^2 / 2 sigma^2) / norm
        double norm = 0;
        for (int k = -60; k <= 60; k++) {
            norm += Math.exp(-k * k / (2 * sigma * sigma));
        }
        for (int k = 0; k <= 6; k++) {
            double p = (k == 0 ? 1 : 2) * Math.exp(-k * k / (2 * sigma * sigma)) / norm;
            double expected = p * COUNT;
            assertThat((double) hist[k])
                    .as("|x| = %d", k)
                    .isCloseTo(expected, within(6 * Math.sqrt(expected)));
        }
        // symmetric
        long neg = 0;
        long pos = 0;
        for (int x : v) {
            neg += x < 0 ? 1 : 0;
            pos += x > 0 ? 1 : 0;
        }
        assertThat((double) neg).isCloseTo(pos, within(6 * Math.sqrt(neg + pos)));
    }

    @Test
    void gaussianTableEndsWhereTheTailFallsBelowTwoToMinus64() {
        long[] t = Samplers.CDT;
        assertThat(t.length).isBetween(25, 40);
        for (int i = 1; i < t.length; i++) {
            assertThat(t[i]).isGreaterThan(t[i - 1]);
        }
        // P(x = 0) = 1 / norm
        double norm = 0;
        for (int k = -60; k <= 60; k++) {
            norm += Math.exp(-k * k / (2 * Samplers.SIGMA * Samplers.SIGMA));
        }
        assertThat(t[0] / 0x1p63).isCloseTo(1 / norm, within(1e-15));
    }

    @Test
    void uniformResiduesCoverTheRangeEvenly() {
        long q = 1152921504606830593L;
        long[] a = new long[COUNT];
        Samplers.uniform(prg(2), a, 0, COUNT, q);
        double mean = 0;
        for (long x : a) {
            assertThat(x).isBetween(0L, q - 1);
            mean += (double) x / COUNT;
        }
        // uniform on [0, q): mean q/2, std of the mean q / sqrt(12 n)
        assertThat(mean).isCloseTo(q / 2.0, within(6 * q / Math.sqrt(12.0 * COUNT)));
    }

    @Test
    void prgIsDeterministicPerSeedAndDomain() {
        byte[] seed = new byte[32];
        seed[5] = 42;
        Prg a = new Prg(seed, 1);
        Prg b = new Prg(seed, 1);
        Prg c = new Prg(seed, 2);
        long x = a.nextLong();
        assertThat(b.nextLong()).isEqualTo(x);
        assertThat(c.nextLong()).isNotEqualTo(x);
    }
}
