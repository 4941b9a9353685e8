package org.metisfl.flink.aggregation.kernel;

/**
 * The FedAsync server update, mixing one client model into the global model as it arrives (Xie,
 * Koyejo, Gupta, "Asynchronous Federated Optimization", arXiv:1903.03934, 2019).
 */
public final class FedAsyncMix {

    private FedAsyncMix() {}

    /** global = (1 - alpha) global + alpha update, in place, alpha in (0, 1]. */
    public static void mix(float[] global, float[] update, double alpha) {
        Checks.requireLength("update", update, global.length);
        if (!(alpha > 0 && alpha <= 1)) {
            throw new IllegalArgumentException("alpha must be in (0, 1], was " + alpha);
        }
        for (int i = 0; i < global.length; i++) {
            global[i] = (float) ((1 - alpha) * global[i] + alpha * update[i]);
        }
    }

    /** The paper's alpha_t = alpha * s(t - tau), for an update {@code staleness} versions old. */
    public static double stalenessAdjustedAlpha(double alpha, Staleness weighting, long staleness) {
        if (!(alpha > 0 && alpha <= 1)) {
            throw new IllegalArgumentException("alpha must be in (0, 1], was " + alpha);
        }
        return alpha * weighting.weight(staleness);
    }
}
