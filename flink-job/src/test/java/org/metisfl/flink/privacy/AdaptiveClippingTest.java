package org.metisfl.flink.privacy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class AdaptiveClippingTest {

    @Test
    void stepsGeometricallyTowardsTheTargetQuantile() {
        AdaptiveClipping a = AdaptiveClipping.of(0.5, 0.2);
        // every update unclipped: the norm is too large, shrink by exp(-0.2 * 0.5)
        assertThat(a.next(1.0, 1.0)).isCloseTo(Math.exp(-0.1), within(1e-15));
        // none unclipped: grow by exp(0.2 * 0.5)
        assertThat(a.next(1.0, 0.0)).isCloseTo(Math.exp(0.1), within(1e-15));
        assertThat(a.next(2.0, 0.5)).isEqualTo(2.0);
    }

    /**
     * Without noise the clip norm converges to the target quantile of a fixed norm distribution:
     * norms 1..100, target 0.8, so the clip norm settles between the 80th and 81st norm.
     */
    @Test
    void convergesToTheQuantileOfTheNorms() {
        AdaptiveClipping a = AdaptiveClipping.of(0.8, 0.2);
        double clip = 0.1;
        for (int round = 0; round < 400; round++) {
            int unclipped = 0;
            for (int norm = 1; norm <= 100; norm++) {
                if (norm <= clip) {
                    unclipped++;
                }
            }
            double b = AdaptiveClipping.noisedUnclippedFraction(unclipped, 100, 100, 0, null);
            clip = a.next(clip, b);
        }
        assertThat(clip).isBetween(79.0, 82.0);
    }

    @Test
    void theCountNoiseIsCentredAndScaledByTheExpectedCount() {
        // no noise: (7 - 5) / 10 + 1/2
        assertThat(AdaptiveClipping.noisedUnclippedFraction(7, 10, 10, 0, null))
                .isCloseTo(0.7, within(1e-15));
        // with noise: the fraction's spread is sigma_b / m
        Random r = new Random(3);
        int n = 100_000;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            double f = AdaptiveClipping.noisedUnclippedFraction(5, 10, 10, 0.5, r) - 0.5;
            sq += f * f;
        }
        assertThat(Math.sqrt(sq / n)).isCloseTo(0.05, within(5 * 0.05 / Math.sqrt(2.0 * n)));
    }

    /** Andrew et al. 2021, Section 3.1: z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2). */
    @Test
    void splitsTheNoiseBudgetBetweenTheCountAndTheSum() {
        // z = 1, sigma_b = 5 (m = 100 with their default sigma_b = m / 20): 1 / sqrt(1 - 0.01)
        assertThat(AdaptiveClipping.updateNoiseMultiplier(1.0, 5.0))
                .isCloseTo(1 / Math.sqrt(0.99), within(1e-15));
        // the two parts compose back to z in RDP: z_delta^-2 + (2 sigma_b)^-2 = z^-2
        double zd = AdaptiveClipping.updateNoiseMultiplier(0.8, 2.0);
        assertThat(1 / (zd * zd) + 1 / 16.0).isCloseTo(1 / 0.64, within(1e-12));
        assertThatThrownBy(() -> AdaptiveClipping.updateNoiseMultiplier(1.0, 0.5))
                .hasMessageContaining("it must exceed noise-multiplier / 2 = 0.5");
    }

    @Test
    void refusesQuantilesOutsideTheOpenUnitInterval() {
        assertThatThrownBy(() -> AdaptiveClipping.of(1.0, 0.2))
                .hasMessageContaining("target quantile must be in (0, 1)");
        assertThatThrownBy(() -> AdaptiveClipping.of(0.5, 0))
                .hasMessageContaining("clip learning rate must be finite and > 0");
        assertThatThrownBy(() -> AdaptiveClipping.noisedUnclippedFraction(3, 2, 2, 0, null))
                .hasMessageContaining("unclipped must be in [0, 2]");
    }
}
