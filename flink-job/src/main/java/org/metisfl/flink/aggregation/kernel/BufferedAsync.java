package org.metisfl.flink.aggregation.kernel;

/**
 * FedBuff (Nguyen et al., AISTATS 2022): buffer K staleness-weighted client deltas, then apply
 * their mean to the global model with a server learning rate.
 */
public final class BufferedAsync {

    private BufferedAsync() {}

    /**
     * acc += weight * (update - baseGlobal), in double; {@code baseGlobal} is the global model the
     * client trained from and {@code weight} (finite, {@code >= 0}) usually its staleness weight.
     */
    public static void addDelta(double[] acc, float[] update, float[] baseGlobal, double weight) {
        Checks.requireLength("update", update, acc.length);
        Checks.requireLength("baseGlobal", baseGlobal, acc.length);
        Checks.requireNonNegative("weight", weight);
        for (int i = 0; i < acc.length; i++) {
            acc[i] += weight * ((double) update[i] - baseGlobal[i]);
        }
    }

    /**
     * acc += weight * (sum - count * baseGlobal), in double: the same as {@link #addDelta} for each
     * of the {@code count} updates whose values add up to {@code sum}, when all share the base
     * model and the weight (the sum is linear in the updates).
     */
    public static void addDeltaSum(
            double[] acc, double[] sum, float[] baseGlobal, int count, double weight) {
        Checks.requireLength("sum", sum, acc.length);
        Checks.requireLength("baseGlobal", baseGlobal, acc.length);
        Checks.requireNonNegative("weight", weight);
        if (count < 1) {
            throw new IllegalArgumentException("count must be >= 1, was " + count);
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] += weight * (sum[i] - (double) count * baseGlobal[i]);
        }
    }

    /**
     * global += eta * acc / count, in place; {@code count} (the deltas buffered: K, or more when a
     * partial sum crossed K) {@code >= 1}, {@code serverLearningRate} finite and {@code > 0}.
     */
    public static void apply(float[] global, double[] acc, int count, double serverLearningRate) {
        Checks.requireLength("acc", acc, global.length);
        if (count < 1) {
            throw new IllegalArgumentException("count must be >= 1, was " + count);
        }
        Checks.requirePositive("serverLearningRate", serverLearningRate);
        double scale = serverLearningRate / count;
        for (int i = 0; i < global.length; i++) {
            global[i] = (float) (global[i] + scale * acc[i]);
        }
    }
}
