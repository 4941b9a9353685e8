package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class FedAsyncMixTest {

    @Test
    void mixesTheUpdateIntoTheGlobalModelAsComputedDirectly() {
        Random random = new Random(23);
        float[] global = KernelTestData.gaussian(random, 100);
        float[] update = KernelTestData.gaussian(random, 100);
        float[] before = global.clone();
        FedAsyncMix.mix(global, update, 0.3);
        for (int i = 0; i < global.length; i++) {
            assertThat(global[i]).isCloseTo(0.7f * before[i] + 0.3f * update[i], within(1e-6f));
        }
        assertThat(update).isNotSameAs(global);
    }

    @Test
    void alphaOneReplacesTheGlobalModelByTheUpdate() {
        Random random = new Random(29);
        float[] global = KernelTestData.gaussian(random, 100);
        float[] update = KernelTestData.gaussian(random, 100);
        FedAsyncMix.mix(global, update, 1);
        assertThat(global).containsExactly(update);
    }

    @Test
    void scalesAlphaByTheStalenessWeight() {
        assertThat(FedAsyncMix.stalenessAdjustedAlpha(0.6, Staleness.polynomial(0.5), 3))
                .isCloseTo(0.3, within(1e-12));
        assertThat(FedAsyncMix.stalenessAdjustedAlpha(0.6, Staleness.constant(), 3)).isEqualTo(0.6);
    }

    @Test
    void rejectsAlphaOutsideZeroToOneAndMismatchedLengths() {
        for (double alpha : new double[] {0, -0.1, 1.01, Double.NaN}) {
            assertThatThrownBy(() -> FedAsyncMix.mix(new float[2], new float[2], alpha))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("alpha must be in (0, 1]");
        }
        assertThatThrownBy(() -> FedAsyncMix.mix(new float[2], new float[3], 0.5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("update has 3 values, expected 2");
    }
}
