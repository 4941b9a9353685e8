package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The contract every {@link ServerOptimizer} keeps. */
class ServerOptimizerTest {

    static Stream<ServerOptimizer> optimizers() {
        return Stream.of(
                FedAvgOptimizer.of(),
                FedAvgM.of(),
                FedAvgM.of(0.5, 0.5),
                FedAdagrad.of(0.1, 1e-3),
                FedAdam.of(),
                FedAdam.of(0.1, 0.9, 0.99, 1e-3),
                FedYogi.of(),
                FedYogi.of(0.1, 0.9, 0.99, 1e-3));
    }

    /**
     * f(x) = sum c_k (x_k - x*_k)^2 / 2; each round the clients' average is one local gradient step
     * from the global model, so the pseudo-gradient is -0.1 c (x - x*).
     */
    @ParameterizedTest
    @MethodSource("optimizers")
    void convergesToTheMinimumOfAQuadratic(ServerOptimizer opt) {
        float[] optimum = {1f, -2f, 0.5f, 3f};
        float[] curvature = {1f, 0.5f, 2f, 4f};
        float[] global = new float[optimum.length];
        float[][] state = opt.initialState(global.length);
        float[] average = new float[global.length];
        for (long round = 1; round <= 3000; round++) {
            for (int k = 0; k < global.length; k++) {
                average[k] = global[k] - 0.1f * curvature[k] * (global[k] - optimum[k]);
            }
            opt.step(global, average, state, round);
        }
        for (int k = 0; k < global.length; k++) {
            assertThat(Math.abs(global[k] - optimum[k])).as("coordinate %d", k).isLessThan(1e-2f);
        }
    }

    @ParameterizedTest
    @MethodSource("optimizers")
    void treatsEveryValueIndependently(ServerOptimizer opt) {
        Random random = new Random(3);
        int n = 16;
        float[] global = KernelTestData.gaussian(random, n);
        float[][] state = opt.initialState(n);
        float[][] scalars = new float[n][];
        float[][][] scalarStates = new float[n][][];
        for (int k = 0; k < n; k++) {
            scalars[k] = new float[] {global[k]};
            scalarStates[k] = opt.initialState(1);
        }
        for (long round = 1; round <= 3; round++) {
            float[] average = KernelTestData.gaussian(random, n);
            opt.step(global, average, state, round);
            for (int k = 0; k < n; k++) {
                opt.step(scalars[k], new float[] {average[k]}, scalarStates[k], round);
                assertThat(global[k]).isEqualTo(scalars[k][0]);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("optimizers")
    void staysPutOnTheFirstRoundWhenTheAverageIsTheGlobalModel(ServerOptimizer opt) {
        float[] global = {1f, -2f, 0f};
        float[][] state = opt.initialState(3);
        opt.step(global, global.clone(), state, 1);
        assertThat(global).containsExactly(1f, -2f, 0f);
    }

    @ParameterizedTest
    @MethodSource("optimizers")
    void survivesJavaSerializationWithItsConfiguration(ServerOptimizer opt) throws Exception {
        ServerOptimizer copy = KernelTestData.roundTrip(opt);
        assertThat(copy).hasToString(opt.toString());
        assertThat(copy.name()).isEqualTo(opt.name());
        float[] a = {0f, 1f};
        float[] b = {0f, 1f};
        float[][] stateA = opt.initialState(2);
        float[][] stateB = copy.initialState(2);
        opt.step(a, new float[] {2f, -1f}, stateA, 1);
        copy.step(b, new float[] {2f, -1f}, stateB, 1);
        assertThat(b).containsExactly(a);
    }

    @ParameterizedTest
    @MethodSource("optimizers")
    void rejectsInputsOfTheWrongShape(ServerOptimizer opt) {
        float[] global = new float[3];
        float[][] state = opt.initialState(3);
        assertThatThrownBy(() -> opt.step(global, new float[4], state, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("average has 4 values, expected 3");
        assertThatThrownBy(() -> opt.step(global, new float[3], new float[3][3], 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("state arrays, got 3");
        assertThatThrownBy(() -> opt.step(global, new float[3], state, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("round must be >= 1");
        if (opt.stateSlots() > 0) {
            assertThatThrownBy(() -> opt.step(global, new float[3], opt.initialState(2), 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("state[0] has 2 values, expected 3");
        }
    }
}
