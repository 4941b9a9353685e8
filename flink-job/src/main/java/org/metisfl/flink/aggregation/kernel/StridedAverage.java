package org.metisfl.flink.aggregation.kernel;

/**
 * FedStride (MetisFL): the weighted average folded block by block (stride learners at a time), so
 * only one block of updates is held; equals FedAvg.
 *
 * <p>Folding adds in arrival order, exactly as {@link WeightedSum}, so the result is bit-identical
 * to FedAvg over the same sequence.
 */
public final class StridedAverage {

    private final double[] acc;
    private final float[][] block;
    private final double[] blockWeights;
    private int buffered;
    private double totalWeight;

    /**
     * @param length the shard's number of values, {@code >= 0}
     * @param strideLength learners per block, {@code >= 1}
     */
    public StridedAverage(int length, int strideLength) {
        if (length < 0) {
            throw new IllegalArgumentException("length must be >= 0, was " + length);
        }
        if (strideLength < 1) {
            throw new IllegalArgumentException("strideLength must be >= 1, was " + strideLength);
        }
        this.acc = new double[length];
        this.block = new float[strideLength][];
        this.blockWeights = new double[strideLength];
    }

    /** Buffers a copy of the update until stride updates are held, then folds the block. */
    public void offer(float[] values, double weight) {
        Checks.requireLength("values", values, acc.length);
        Checks.requireNonNegative("weight", weight);
        block[buffered] = values.clone();
        blockWeights[buffered] = weight;
        buffered++;
        if (buffered == block.length) {
            fold();
        }
    }

    /**
     * Folds the partial block, returns the weighted mean (normalised); throws if the total weight
     * is not {@code > 0}. Later offers continue the same average.
     */
    public float[] average() {
        fold();
        if (!(totalWeight > 0)) {
            throw new IllegalStateException(
                    "no contribution to average: total weight is " + totalWeight);
        }
        return WeightedSum.mean(acc, totalWeight);
    }

    /** Updates held but not yet folded, always {@code < strideLength}. */
    public int buffered() {
        return buffered;
    }

    private void fold() {
        for (int k = 0; k < buffered; k++) {
            WeightedSum.addScaled(acc, block[k], blockWeights[k]);
            totalWeight += blockWeights[k];
            block[k] = null;
        }
        buffered = 0;
    }
}
