package org.metisfl.flink.aggregation.kernel;

/**
 * The FedAvg kernel: a weighted sum of float32 updates in double precision, and its mean. Pure
 * maths on arrays, no Flink, so it is tested and benchmarked on its own.
 */
public final class WeightedSum {

    private WeightedSum() {}

    /** {@code acc[i] += weight * values[i]} for every i. */
    public static void addScaled(double[] acc, float[] values, double weight) {
        if (acc.length != values.length) {
            throw new IllegalArgumentException(
                    "update has " + values.length + " values, accumulator " + acc.length);
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] += weight * values[i];
        }
    }

    /** {@code acc[i] / totalWeight} rounded to float32. */
    public static float[] mean(double[] acc, double totalWeight) {
        if (!(totalWeight > 0)) {
            throw new IllegalArgumentException("total weight must be > 0, was " + totalWeight);
        }
        float[] out = new float[acc.length];
        double inv = 1.0 / totalWeight;
        for (int i = 0; i < acc.length; i++) {
            out[i] = (float) (acc[i] * inv);
        }
        return out;
    }
}
