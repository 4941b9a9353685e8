package org.metisfl.flink.aggregation.kernel;

/**
 * FedAvgM: server momentum on the round's pseudo-gradient, which smooths noisy rounds (Reddi et
 * al., "Adaptive Federated Optimization", ICLR 2021; Hsu et al., arXiv:1909.06335, 2019).
 *
 * <p>{@code m = momentum * m + delta; global += serverLearningRate * m}. With learning rate 1 and
 * momentum 0 it is FedAvg.
 */
public final class FedAvgM implements ServerOptimizer {
    private static final long serialVersionUID = 1L;

    /** 1, so that the momentum-free case is FedAvg. */
    public static final double DEFAULT_SERVER_LEARNING_RATE = 1.0;

    /** 0.9, the momentum of Hsu et al. and of Reddi et al.'s FedAvgM baseline. */
    public static final double DEFAULT_MOMENTUM = 0.9;

    private final double serverLearningRate;
    private final double momentum;

    private FedAvgM(double serverLearningRate, double momentum) {
        this.serverLearningRate = Checks.requirePositive("serverLearningRate", serverLearningRate);
        this.momentum = Checks.requireDecay("momentum", momentum);
    }

    /** With {@link #DEFAULT_SERVER_LEARNING_RATE} and {@link #DEFAULT_MOMENTUM}. */
    public static FedAvgM of() {
        return of(DEFAULT_SERVER_LEARNING_RATE, DEFAULT_MOMENTUM);
    }

    /**
     * @param serverLearningRate finite, {@code > 0}
     * @param momentum in {@code [0, 1)}
     */
    public static FedAvgM of(double serverLearningRate, double momentum) {
        return new FedAvgM(serverLearningRate, momentum);
    }

    public double serverLearningRate() {
        return serverLearningRate;
    }

    public double momentum() {
        return momentum;
    }

    @Override
    public int stateSlots() {
        return 1;
    }

    @Override
    public void step(float[] global, float[] average, float[][] state, long round) {
        Checks.requireStep(this, global, average, state, round);
        float[] m = state[0];
        for (int i = 0; i < global.length; i++) {
            double delta = (double) average[i] - global[i];
            double mi = momentum * m[i] + delta;
            m[i] = (float) mi;
            global[i] = (float) (global[i] + serverLearningRate * mi);
        }
    }

    @Override
    public String name() {
        return "FedAvgM";
    }

    @Override
    public String toString() {
        return "FedAvgM{serverLearningRate=" + serverLearningRate + ", momentum=" + momentum + "}";
    }
}
