package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class BufferedAsyncTest {

    @Test
    void aSumOfUpdatesOnOneBaseBuffersWhatItsUpdatesBufferOneByOne() {
        Random random = new Random(7);
        int length = 40;
        float[] base = KernelTestData.gaussian(random, length);
        float[][] updates = new float[3][];
        double[] sum = new double[length];
        for (int c = 0; c < 3; c++) {
            updates[c] = KernelTestData.gaussian(random, length);
            for (int i = 0; i < length; i++) {
                sum[i] += updates[c][i];
            }
        }
        double[] folded = new double[length];
        BufferedAsync.addDeltaSum(folded, sum, base, 3, 0.25);
        for (int i = 0; i < length; i++) {
            double expected = 0;
            for (int c = 0; c < 3; c++) {
                expected += 0.25 * ((double) updates[c][i] - base[i]);
            }
            assertThat(folded[i]).isCloseTo(expected, within(1e-12));
        }
        assertThatThrownBy(() -> BufferedAsync.addDeltaSum(folded, sum, base, 0, 1.0))
                .hasMessageContaining("count");
    }

    @Test
    void appliesTheMeanOfStalenessWeightedDeltasAsComputedDirectly() {
        Random random = new Random(41);
        int length = 50;
        int k = 5;
        double eta = 0.7;
        Staleness staleness = Staleness.polynomial(0.5);
        float[] global = KernelTestData.gaussian(random, length);
        float[] before = global.clone();
        double[] acc = new double[length];
        float[][] updates = new float[k][];
        float[][] bases = new float[k][];
        double[] weights = new double[k];
        for (int c = 0; c < k; c++) {
            updates[c] = KernelTestData.gaussian(random, length);
            bases[c] = KernelTestData.gaussian(random, length);
            weights[c] = staleness.weight(c);
            BufferedAsync.addDelta(acc, updates[c], bases[c], weights[c]);
        }
        BufferedAsync.apply(global, acc, k, eta);
        for (int i = 0; i < length; i++) {
            double sum = 0;
            for (int c = 0; c < k; c++) {
                sum += weights[c] * (updates[c][i] - bases[c][i]);
            }
            assertThat(global[i]).isCloseTo((float) (before[i] + eta * sum / k), within(1e-6f));
        }
    }

    @Test
    void deltasAgainstTheirOwnBaseLeaveTheGlobalModelUnchanged() {
        float[] global = {1f, -2f, 3f};
        double[] acc = new double[3];
        BufferedAsync.addDelta(acc, new float[] {5f, 5f, 5f}, new float[] {5f, 5f, 5f}, 1);
        BufferedAsync.addDelta(acc, new float[] {0f, 1f, 2f}, new float[] {0f, 1f, 2f}, 0.5);
        BufferedAsync.apply(global, acc, 2, 1);
        assertThat(global).containsExactly(1f, -2f, 3f);
    }

    @Test
    void oneDeltaFromTheCurrentModelAtRateOneGivesThatUpdate() {
        // the client trained from base = global, so global + (update - base) = update
        float[] global = {0.5f, 2f};
        double[] acc = new double[2];
        BufferedAsync.addDelta(acc, new float[] {1.5f, -1f}, global.clone(), 1);
        BufferedAsync.apply(global, acc, 1, 1);
        assertThat(global).containsExactly(1.5f, -1f);
    }

    @Test
    void rejectsBadCountRateWeightAndLengths() {
        assertThatThrownBy(() -> BufferedAsync.apply(new float[2], new double[2], 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("count must be >= 1");
        assertThatThrownBy(() -> BufferedAsync.apply(new float[2], new double[2], 1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("serverLearningRate must be finite and > 0");
        assertThatThrownBy(() -> BufferedAsync.apply(new float[2], new double[3], 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acc has 3 values, expected 2");
        assertThatThrownBy(
                        () -> BufferedAsync.addDelta(new double[2], new float[2], new float[3], 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("baseGlobal has 3 values, expected 2");
        assertThatThrownBy(
                        () -> BufferedAsync.addDelta(new double[2], new float[2], new float[2], -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight must be finite and >= 0");
    }
}
