package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class FedAvgMTest {

    @Test
    void carriesMomentumAcrossRoundsAsComputedByHand() {
        FedAvgM opt = FedAvgM.of(0.5, 0.5);
        float[] global = {0f, 4f};
        float[][] state = opt.initialState(2);

        // delta = (1, -2): m = (1, -2), global += 0.5 m
        opt.step(global, new float[] {1f, 2f}, state, 1);
        assertThat(state[0]).containsExactly(1f, -2f);
        assertThat(global).containsExactly(0.5f, 3f);

        // delta = (1, 0): m = 0.5 (1, -2) + (1, 0) = (1.5, -1)
        opt.step(global, new float[] {1.5f, 3f}, state, 2);
        assertThat(state[0]).containsExactly(1.5f, -1f);
        assertThat(global).containsExactly(1.25f, 2.5f);

        // delta = (0, 0.5): m = (0.75, 0)
        opt.step(global, new float[] {1.25f, 3f}, state, 3);
        assertThat(state[0]).containsExactly(0.75f, 0f);
        assertThat(global).containsExactly(1.625f, 2.5f);
    }

    @Test
    void withLearningRateOneAndNoMomentumEqualsFedAvg() {
        Random random = new Random(7);
        ServerOptimizer fedAvgM = FedAvgM.of(1, 0);
        ServerOptimizer fedAvg = FedAvgOptimizer.of();
        float[] a = KernelTestData.gaussian(random, 1000);
        float[] b = a.clone();
        float[][] stateA = fedAvgM.initialState(a.length);
        float[][] stateB = fedAvg.initialState(b.length);
        for (long round = 1; round <= 5; round++) {
            float[] average = KernelTestData.gaussian(random, a.length);
            fedAvgM.step(a, average, stateA, round);
            fedAvg.step(b, average, stateB, round);
            assertThat(a).containsExactly(b);
        }
    }

    @Test
    void defaultsToLearningRateOneAndMomentumPointNine() {
        assertThat(FedAvgM.of().serverLearningRate()).isEqualTo(1.0);
        assertThat(FedAvgM.of().momentum()).isEqualTo(0.9);
        assertThat(FedAvgM.of()).hasToString("FedAvgM{serverLearningRate=1.0, momentum=0.9}");
    }

    @Test
    void rejectsLearningRateOutsideItsRangeNamingIt() {
        for (double eta : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> FedAvgM.of(eta, 0.9))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("serverLearningRate must be finite and > 0");
        }
    }

    @Test
    void rejectsMomentumOutsideZeroToOne() {
        for (double beta : new double[] {-0.1, 1, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> FedAvgM.of(1, beta))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("momentum must be in [0, 1)");
        }
    }
}
