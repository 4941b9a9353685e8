package org.metisfl.flink.privacy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GaussianNoiseTest {

    /**
     * Over n = 400,000 draws with noise multiplier z = 1.1 and clip norm C = 0.7 the sample
     * standard deviation estimates z C = 0.77 with a standard error of z C / sqrt(2n) ~ 0.11% (the
     * sample mean's is z C / sqrt(n) ~ 0.16%). The tolerances are 5 standard errors: a correct
     * generator fails them with probability below 1e-6, a multiplier off by 1% fails them for sure.
     * The seed only makes the run repeatable.
     */
    @Test
    void theNoiseHasTheConfiguredStandardDeviation() {
        int n = 400_000;
        double z = 1.1;
        double clip = 0.7;
        double stddev = z * clip;
        double[] sum = new double[n];
        GaussianNoise.addTo(sum, stddev, GaussianNoise.seeded(2026, 3, 1));
        double mean = 0;
        for (double v : sum) {
            mean += v;
        }
        mean /= n;
        double var = 0;
        for (double v : sum) {
            var += (v - mean) * (v - mean);
        }
        double sampleStd = Math.sqrt(var / (n - 1));
        assertThat(sampleStd).isCloseTo(stddev, within(5 * stddev / Math.sqrt(2.0 * n)));
        assertThat(mean).isCloseTo(0, within(5 * stddev / Math.sqrt(n)));
        // Gaussian tails, not just the right second moment: P(|x| > 2 sigma) = 4.55%
        long beyond = 0;
        for (double v : sum) {
            if (Math.abs(v) > 2 * stddev) {
                beyond++;
            }
        }
        double p = 0.0455;
        assertThat((double) beyond / n).isCloseTo(p, within(5 * Math.sqrt(p * (1 - p) / n)));
    }

    @Test
    void theSecureGeneratorHasTheConfiguredStandardDeviationToo() {
        int n = 100_000;
        double[] sum = new double[n];
        GaussianNoise.addTo(sum, 2.0, GaussianNoise.secure());
        double sq = 0;
        for (double v : sum) {
            sq += v * v;
        }
        assertThat(Math.sqrt(sq / n)).isCloseTo(2.0, within(5 * 2.0 / Math.sqrt(2.0 * n)));
    }

    @Test
    void seededStreamsAreRepeatableAndDistinctPerRoundAndShard() {
        double a = GaussianNoise.seeded(1, 5, 0).nextGaussian();
        assertThat(GaussianNoise.seeded(1, 5, 0).nextGaussian()).isEqualTo(a);
        assertThat(GaussianNoise.seeded(1, 6, 0).nextGaussian()).isNotEqualTo(a);
        assertThat(GaussianNoise.seeded(1, 5, 1).nextGaussian()).isNotEqualTo(a);
        assertThat(GaussianNoise.seeded(2, 5, 0).nextGaussian()).isNotEqualTo(a);
    }

    @Test
    void addsNothingAtZeroAndRefusesANegativeStddev() {
        double[] sum = {1, 2};
        GaussianNoise.addTo(sum, 0, new Random(1));
        assertThat(sum).containsExactly(1, 2);
        assertThatThrownBy(() -> GaussianNoise.addTo(sum, -1, new Random(1)))
                .hasMessageContaining("noise stddev must be finite and >= 0");
    }
}
