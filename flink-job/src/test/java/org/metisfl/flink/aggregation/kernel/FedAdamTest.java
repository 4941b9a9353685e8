package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class FedAdamTest {
    private static final Offset<Float> TOL = within(1e-6f);

    @Test
    void carriesBothMomentsAcrossRoundsAsComputedByHand() {
        FedAdam opt = FedAdam.of(0.1, 0.9, 0.99, 1e-3);
        float[] global = {0f};
        float[][] state = opt.initialState(1);

        // delta 1: m = 0.1, v = 0.01
        opt.step(global, new float[] {1f}, state, 1);
        double g1 = 0.1 * 0.1 / (0.1 + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.1f, TOL);
        assertThat(state[1][0]).isCloseTo(0.01f, TOL);
        assertThat(global[0]).isCloseTo((float) g1, TOL);

        // delta 2: m = 0.09 + 0.2, v = 0.0099 + 0.04
        opt.step(global, new float[] {global[0] + 2f}, state, 2);
        double g2 = g1 + 0.1 * 0.29 / (Math.sqrt(0.0499) + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.29f, TOL);
        assertThat(state[1][0]).isCloseTo(0.0499f, TOL);
        assertThat(global[0]).isCloseTo((float) g2, TOL);

        // delta -1: m = 0.261 - 0.1, v = 0.049401 + 0.01
        opt.step(global, new float[] {global[0] - 1f}, state, 3);
        double g3 = g2 + 0.1 * 0.161 / (Math.sqrt(0.059401) + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.161f, TOL);
        assertThat(state[1][0]).isCloseTo(0.059401f, TOL);
        assertThat(global[0]).isCloseTo((float) g3, TOL);
    }

    @Test
    void hasThePapersDefaults() {
        FedAdam opt = FedAdam.of();
        assertThat(opt.serverLearningRate()).isEqualTo(1e-2);
        assertThat(opt.beta1()).isEqualTo(0.9);
        assertThat(opt.beta2()).isEqualTo(0.99);
        assertThat(opt.tau()).isEqualTo(1e-3);
        assertThat(opt.stateSlots()).isEqualTo(2);
        assertThat(opt)
                .hasToString("FedAdam{serverLearningRate=0.01, beta1=0.9, beta2=0.99, tau=0.001}");
    }

    @Test
    void rejectsEachParameterOutsideItsRange() {
        assertThatThrownBy(() -> FedAdam.of(-0.1, 0.9, 0.99, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("serverLearningRate must be finite and > 0");
        assertThatThrownBy(() -> FedAdam.of(0.1, 1, 0.99, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("beta1 must be in [0, 1)");
        assertThatThrownBy(() -> FedAdam.of(0.1, 0.9, -0.5, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("beta2 must be in [0, 1)");
        assertThatThrownBy(() -> FedAdam.of(0.1, 0.9, 0.99, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tau must be finite and > 0");
    }
}
