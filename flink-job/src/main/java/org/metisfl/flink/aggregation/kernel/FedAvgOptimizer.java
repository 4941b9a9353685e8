package org.metisfl.flink.aggregation.kernel;

/**
 * FedAvg as a server optimizer: the global model becomes the round's average (Reddi et al.,
 * "Adaptive Federated Optimization", ICLR 2021, Algorithm 1 with server SGD at learning rate 1).
 */
public final class FedAvgOptimizer implements ServerOptimizer {
    private static final long serialVersionUID = 1L;

    private FedAvgOptimizer() {}

    public static FedAvgOptimizer of() {
        return new FedAvgOptimizer();
    }

    @Override
    public int stateSlots() {
        return 0;
    }

    @Override
    public void step(float[] global, float[] average, float[][] state, long round) {
        Checks.requireStep(this, global, average, state, round);
        System.arraycopy(average, 0, global, 0, global.length);
    }

    @Override
    public String name() {
        return "FedAvg";
    }

    @Override
    public String toString() {
        return "FedAvg{}";
    }
}
