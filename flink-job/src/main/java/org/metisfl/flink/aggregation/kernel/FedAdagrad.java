package org.metisfl.flink.aggregation.kernel;

/**
 * FedAdagrad: the pseudo-gradient scaled by its accumulated magnitude per value (Reddi et al.,
 * "Adaptive Federated Optimization", ICLR 2021, Algorithm 2 without first-moment momentum).
 *
 * <p>{@code v += delta^2; global += serverLearningRate * delta / (sqrt(v) + tau)}.
 */
public final class FedAdagrad implements ServerOptimizer {
    private static final long serialVersionUID = 1L;

    /** 1e-2; Reddi et al. tune it per task over a grid around this value. */
    public static final double DEFAULT_SERVER_LEARNING_RATE = 1e-2;

    /** 1e-3, the paper's default adaptivity. */
    public static final double DEFAULT_TAU = 1e-3;

    private final double serverLearningRate;
    private final double tau;

    private FedAdagrad(double serverLearningRate, double tau) {
        this.serverLearningRate = Checks.requirePositive("serverLearningRate", serverLearningRate);
        this.tau = Checks.requirePositive("tau", tau);
    }

    /** With {@link #DEFAULT_SERVER_LEARNING_RATE} and {@link #DEFAULT_TAU}. */
    public static FedAdagrad of() {
        return of(DEFAULT_SERVER_LEARNING_RATE, DEFAULT_TAU);
    }

    /**
     * @param serverLearningRate finite, {@code > 0}
     * @param tau finite, {@code > 0}
     */
    public static FedAdagrad of(double serverLearningRate, double tau) {
        return new FedAdagrad(serverLearningRate, tau);
    }

    public double serverLearningRate() {
        return serverLearningRate;
    }

    public double tau() {
        return tau;
    }

    @Override
    public int stateSlots() {
        return 1;
    }

    @Override
    public void step(float[] global, float[] average, float[][] state, long round) {
        Checks.requireStep(this, global, average, state, round);
        float[] v = state[0];
        for (int i = 0; i < global.length; i++) {
            double delta = (double) average[i] - global[i];
            double vi = v[i] + delta * delta;
            v[i] = (float) vi;
            global[i] = (float) (global[i] + serverLearningRate * delta / (Math.sqrt(vi) + tau));
        }
    }

    @Override
    public String name() {
        return "FedAdagrad";
    }

    @Override
    public String toString() {
        return "FedAdagrad{serverLearningRate=" + serverLearningRate + ", tau=" + tau + "}";
    }
}
