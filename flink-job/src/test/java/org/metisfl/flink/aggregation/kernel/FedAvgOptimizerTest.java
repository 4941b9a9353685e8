package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FedAvgOptimizerTest {

    @Test
    void globalModelBecomesTheRoundsAverage() {
        FedAvgOptimizer opt = FedAvgOptimizer.of();
        float[] global = {1f, -2f, 3f};
        float[][] state = opt.initialState(3);
        opt.step(global, new float[] {0.5f, 4f, -1f}, state, 1);
        assertThat(global).containsExactly(0.5f, 4f, -1f);
        opt.step(global, new float[] {2f, 2f, 2f}, state, 2);
        assertThat(global).containsExactly(2f, 2f, 2f);
    }

    @Test
    void keepsNoStateAndSaysWhatItIs() {
        assertThat(FedAvgOptimizer.of().stateSlots()).isZero();
        assertThat(FedAvgOptimizer.of().initialState(5)).isEmpty();
        assertThat(FedAvgOptimizer.of().name()).isEqualTo("FedAvg");
        assertThat(FedAvgOptimizer.of()).hasToString("FedAvg{}");
    }
}
