package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class FedAdagradTest {
    private static final Offset<Float> TOL = within(1e-6f);

    @Test
    void accumulatesSquaredDeltasAcrossRoundsAsComputedByHand() {
        FedAdagrad opt = FedAdagrad.of(0.1, 1e-3);
        float[] global = {0f};
        float[][] state = opt.initialState(1);

        // delta 1: v = 1
        opt.step(global, new float[] {1f}, state, 1);
        double g1 = 0.1 * 1 / (1 + 1e-3);
        assertThat(state[0][0]).isCloseTo(1f, TOL);
        assertThat(global[0]).isCloseTo((float) g1, TOL);

        // delta 2: v = 1 + 4
        opt.step(global, new float[] {global[0] + 2f}, state, 2);
        double g2 = g1 + 0.1 * 2 / (Math.sqrt(5) + 1e-3);
        assertThat(state[0][0]).isCloseTo(5f, TOL);
        assertThat(global[0]).isCloseTo((float) g2, TOL);

        // delta -1: v = 5 + 1
        opt.step(global, new float[] {global[0] - 1f}, state, 3);
        double g3 = g2 - 0.1 * 1 / (Math.sqrt(6) + 1e-3);
        assertThat(state[0][0]).isCloseTo(6f, TOL);
        assertThat(global[0]).isCloseTo((float) g3, TOL);
    }

    @Test
    void hasThePapersDefaults() {
        assertThat(FedAdagrad.of().serverLearningRate()).isEqualTo(1e-2);
        assertThat(FedAdagrad.of().tau()).isEqualTo(1e-3);
        assertThat(FedAdagrad.of().stateSlots()).isEqualTo(1);
        assertThat(FedAdagrad.of()).hasToString("FedAdagrad{serverLearningRate=0.01, tau=0.001}");
    }

    @Test
    void rejectsNonPositiveLearningRateAndTau() {
        assertThatThrownBy(() -> FedAdagrad.of(0, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("serverLearningRate must be finite and > 0");
        assertThatThrownBy(() -> FedAdagrad.of(0.1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tau must be finite and > 0");
        assertThatThrownBy(() -> FedAdagrad.of(0.1, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tau");
    }
}
