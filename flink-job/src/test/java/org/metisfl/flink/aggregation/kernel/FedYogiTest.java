package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class FedYogiTest {
    private static final Offset<Float> TOL = within(1e-6f);

    @Test
    void movesTheSecondMomentAdditivelyAsComputedByHand() {
        FedYogi opt = FedYogi.of(0.1, 0.9, 0.99, 1e-3);
        float[] global = {0f};
        float[][] state = opt.initialState(1);

        // delta 1: v = 0 - 0.01 * 1 * sign(0 - 1) = 0.01 (same as Adam from zero)
        opt.step(global, new float[] {1f}, state, 1);
        double g1 = 0.1 * 0.1 / (0.1 + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.1f, TOL);
        assertThat(state[1][0]).isCloseTo(0.01f, TOL);
        assertThat(global[0]).isCloseTo((float) g1, TOL);

        // delta 2: v < 4 so v grows by 0.01 * 4 (Adam would decay it first)
        opt.step(global, new float[] {global[0] + 2f}, state, 2);
        double g2 = g1 + 0.1 * 0.29 / (Math.sqrt(0.05) + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.29f, TOL);
        assertThat(state[1][0]).isCloseTo(0.05f, TOL);
        assertThat(global[0]).isCloseTo((float) g2, TOL);

        // delta -0.1: v > 0.01 so v shrinks by only 0.01 * 0.01
        opt.step(global, new float[] {global[0] - 0.1f}, state, 3);
        double g3 = g2 + 0.1 * 0.251 / (Math.sqrt(0.0499) + 1e-3);
        assertThat(state[0][0]).isCloseTo(0.251f, TOL);
        assertThat(state[1][0]).isCloseTo(0.0499f, TOL);
        assertThat(global[0]).isCloseTo((float) g3, TOL);
    }

    @Test
    void hasThePapersDefaults() {
        assertThat(FedYogi.of())
                .hasToString("FedYogi{serverLearningRate=0.01, beta1=0.9, beta2=0.99, tau=0.001}");
        assertThat(FedYogi.of().stateSlots()).isEqualTo(2);
    }

    @Test
    void rejectsEachParameterOutsideItsRange() {
        assertThatThrownBy(() -> FedYogi.of(0, 0.9, 0.99, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("serverLearningRate");
        assertThatThrownBy(() -> FedYogi.of(0.1, Double.NaN, 0.99, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("beta1 must be in [0, 1)");
        assertThatThrownBy(() -> FedYogi.of(0.1, 0.9, 1, 1e-3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("beta2 must be in [0, 1)");
        assertThatThrownBy(() -> FedYogi.of(0.1, 0.9, 0.99, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tau must be finite and > 0");
    }
}
