package org.metisfl.flink.aggregation.kernel;

/**
 * FedYogi: FedAdam with Yogi's additive second moment, which grows or shrinks by at most {@code (1
 * - beta2) delta^2} a round (Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm
 * 2).
 *
 * <p>{@code v = v - (1 - beta2) delta^2 sign(v - delta^2)}; m and the step as in {@link FedAdam}.
 */
public final class FedYogi extends AdaptiveMomentOptimizer {
    private static final long serialVersionUID = 1L;

    /** 1e-2; Reddi et al. tune it per task over a grid around this value. */
    public static final double DEFAULT_SERVER_LEARNING_RATE = 1e-2;

    /** 0.9, the paper's first-moment decay. */
    public static final double DEFAULT_BETA1 = 0.9;

    /** 0.99, the paper's second-moment decay. */
    public static final double DEFAULT_BETA2 = 0.99;

    /** 1e-3, the paper's default adaptivity. */
    public static final double DEFAULT_TAU = 1e-3;

    private FedYogi(double serverLearningRate, double beta1, double beta2, double tau) {
        super(serverLearningRate, beta1, beta2, tau);
    }

    /** With the paper's defaults (the {@code DEFAULT_*} constants). */
    public static FedYogi of() {
        return of(DEFAULT_SERVER_LEARNING_RATE, DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_TAU);
    }

    /**
     * @param serverLearningRate finite, {@code > 0}
     * @param beta1 in {@code [0, 1)}
     * @param beta2 in {@code [0, 1)}
     * @param tau finite, {@code > 0}
     */
    public static FedYogi of(double serverLearningRate, double beta1, double beta2, double tau) {
        return new FedYogi(serverLearningRate, beta1, beta2, tau);
    }

    @Override
    double nextSecondMoment(double v, double deltaSquared) {
        return v - (1 - beta2()) * deltaSquared * Math.signum(v - deltaSquared);
    }

    @Override
    public String name() {
        return "FedYogi";
    }
}
