package org.metisfl.flink.aggregation.kernel;

/**
 * The step FedAdam and FedYogi share (Reddi et al., "Adaptive Federated Optimization", ICLR 2021,
 * Algorithm 2); they differ only in how the second moment moves.
 *
 * <p>{@code m = beta1 m + (1 - beta1) delta; v = next(v, delta^2); global += eta m / (sqrt(v) +
 * tau)}; state[0] is m, state[1] is v.
 */
abstract class AdaptiveMomentOptimizer implements ServerOptimizer {
    private static final long serialVersionUID = 1L;

    private final double serverLearningRate;
    private final double beta1;
    private final double beta2;
    private final double tau;

    AdaptiveMomentOptimizer(double serverLearningRate, double beta1, double beta2, double tau) {
        this.serverLearningRate = Checks.requirePositive("serverLearningRate", serverLearningRate);
        this.beta1 = Checks.requireDecay("beta1", beta1);
        this.beta2 = Checks.requireDecay("beta2", beta2);
        this.tau = Checks.requirePositive("tau", tau);
    }

    /** The second moment after this round, given the previous one and delta squared. */
    abstract double nextSecondMoment(double v, double deltaSquared);

    public final double serverLearningRate() {
        return serverLearningRate;
    }

    public final double beta1() {
        return beta1;
    }

    public final double beta2() {
        return beta2;
    }

    public final double tau() {
        return tau;
    }

    @Override
    public final int stateSlots() {
        return 2;
    }

    @Override
    public final void step(float[] global, float[] average, float[][] state, long round) {
        Checks.requireStep(this, global, average, state, round);
        float[] m = state[0];
        float[] v = state[1];
        for (int i = 0; i < global.length; i++) {
            double delta = (double) average[i] - global[i];
            double mi = beta1 * m[i] + (1 - beta1) * delta;
            double vi = nextSecondMoment(v[i], delta * delta);
            m[i] = (float) mi;
            v[i] = (float) vi;
            global[i] = (float) (global[i] + serverLearningRate * mi / (Math.sqrt(vi) + tau));
        }
    }

    @Override
    public final String toString() {
        return name()
                + "{serverLearningRate="
                + serverLearningRate
                + ", beta1="
                + beta1
                + ", beta2="
                + beta2
                + ", tau="
                + tau
                + "}";
    }
}
