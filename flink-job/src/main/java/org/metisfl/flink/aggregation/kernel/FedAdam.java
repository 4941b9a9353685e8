package org.metisfl.flink.aggregation.kernel;

/**
 * FedAdam: Adam on the round's pseudo-gradient, without bias correction as in the paper (Reddi et
 * al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2).
 *
 * <p>{@code m = beta1 m + (1 - beta1) delta; v = beta2 v + (1 - beta2) delta^2; global += eta m /
 * (sqrt(v) + tau)}.
 */
public final class FedAdam extends AdaptiveMomentOptimizer {
    private static final long serialVersionUID = 1L;

    /** 1e-2; Reddi et al. tune it per task over a grid around this value. */
    public static final double DEFAULT_SERVER_LEARNING_RATE = 1e-2;

    /** 0.9, the paper's first-moment decay. */
    public static final double DEFAULT_BETA1 = 0.9;

    /** 0.99, the paper's second-moment decay. */
    public static final double DEFAULT_BETA2 = 0.99;

    /** 1e-3, the paper's default adaptivity. */
    public static final double DEFAULT_TAU = 1e-3;

    private FedAdam(double serverLearningRate, double beta1, double beta2, double tau) {
        super(serverLearningRate, beta1, beta2, tau);
    }

    /** With the paper's defaults (the {@code DEFAULT_*} constants). */
    public static FedAdam of() {
        return of(DEFAULT_SERVER_LEARNING_RATE, DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_TAU);
    }

    /**
     * @param serverLearningRate finite, {@code > 0}
     * @param beta1 in {@code [0, 1)}
     * @param beta2 in {@code [0, 1)}
     * @param tau finite, {@code > 0}
     */
    public static FedAdam of(double serverLearningRate, double beta1, double beta2, double tau) {
        return new FedAdam(serverLearningRate, beta1, beta2, tau);
    }

    @Override
    double nextSecondMoment(double v, double deltaSquared) {
        return beta2() * v + (1 - beta2()) * deltaSquared;
    }

    @Override
    public String name() {
        return "FedAdam";
    }
}
