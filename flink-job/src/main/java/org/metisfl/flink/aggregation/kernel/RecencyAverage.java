package org.metisfl.flink.aggregation.kernel;

/**
 * FedRec (MetisFL "federated recency"): a running weighted average where a learner's newer update
 * replaces its previous contribution, normalised. Per shard; the caller stores each learner's last
 * values and weight.
 *
 * <p>Removal subtracts in double: with integral weights (sample counts) the total weight stays
 * exact, other weights may leave a rounding residue after every learner has been removed.
 */
public final class RecencyAverage {

    private final double[] numerator;
    private double totalWeight;

    /**
     * @param length the shard's number of values, {@code >= 0}
     */
    public RecencyAverage(int length) {
        if (length < 0) {
            throw new IllegalArgumentException("length must be >= 0, was " + length);
        }
        this.numerator = new double[length];
    }

    private RecencyAverage(double[] numerator, double totalWeight) {
        this.numerator = numerator;
        this.totalWeight = totalWeight;
    }

    /** Adds a learner's first contribution; {@code weight} finite and {@code >= 0}. */
    public void add(float[] values, double weight) {
        Checks.requireLength("values", values, numerator.length);
        Checks.requireNonNegative("weight", weight);
        WeightedSum.addScaled(numerator, values, weight);
        totalWeight += weight;
    }

    /** Replaces a learner's previous contribution (as given to add or replace) by a newer one. */
    public void replace(float[] previous, double previousWeight, float[] values, double weight) {
        Checks.requireLength("previous", previous, numerator.length);
        Checks.requireLength("values", values, numerator.length);
        Checks.requireNonNegative("previousWeight", previousWeight);
        Checks.requireNonNegative("weight", weight);
        for (int i = 0; i < numerator.length; i++) {
            numerator[i] += weight * values[i] - previousWeight * previous[i];
        }
        totalWeight += weight - previousWeight;
    }

    /** Removes a learner's contribution (as given to add or replace), e.g. when it leaves. */
    public void remove(float[] previous, double previousWeight) {
        Checks.requireLength("previous", previous, numerator.length);
        Checks.requireNonNegative("previousWeight", previousWeight);
        WeightedSum.addScaled(numerator, previous, -previousWeight);
        totalWeight -= previousWeight;
    }

    /** Numerator / total weight, as float32; throws if total weight <= 0. */
    public float[] average() {
        if (!(totalWeight > 0)) {
            throw new IllegalStateException(
                    "no contribution to average: total weight is " + totalWeight);
        }
        return WeightedSum.mean(numerator, totalWeight);
    }

    public double totalWeight() {
        return totalWeight;
    }

    /** A copy of the weighted sum, for state snapshots. */
    public double[] numerator() {
        return numerator.clone();
    }

    /** The average a snapshot of {@link #numerator()} and {@link #totalWeight()} describes. */
    public static RecencyAverage restore(double[] numerator, double totalWeight) {
        Checks.requireNonNegative("totalWeight", totalWeight);
        return new RecencyAverage(numerator.clone(), totalWeight);
    }
}
