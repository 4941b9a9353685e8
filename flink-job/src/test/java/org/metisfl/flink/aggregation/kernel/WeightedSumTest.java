package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class WeightedSumTest {
    @Test
    void meanOfWeightedUpdatesMatchesDirectComputation() {
        float[] a = {1f, 2f, -3f};
        float[] b = {3f, -2f, 5f};
        double[] acc = new double[3];
        WeightedSum.addScaled(acc, a, 1);
        WeightedSum.addScaled(acc, b, 3);
        assertThat(WeightedSum.mean(acc, 4)).containsExactly(2.5f, -1f, 3f);
    }

    @Test
    void accumulatesInDoublePrecision() {
        double[] acc = new double[1];
        for (int i = 0; i < 1_000_000; i++) {
            WeightedSum.addScaled(acc, new float[] {0.1f}, 1);
        }
        assertThat(WeightedSum.mean(acc, 1_000_000)[0]).isEqualTo(0.1f);
    }

    @Test
    void refusesMismatchedLengthsAndZeroWeight() {
        assertThatThrownBy(() -> WeightedSum.addScaled(new double[2], new float[3], 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> WeightedSum.mean(new double[2], 0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
