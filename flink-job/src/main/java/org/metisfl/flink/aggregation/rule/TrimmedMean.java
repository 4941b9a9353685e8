package org.metisfl.flink.aggregation.rule;

import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.model.Payload;

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, the mean after dropping the
 * {@code floor(trim x n)} smallest and largest values; weights are ignored.
 */
public final class TrimmedMean extends BufferingRule {
    private static final long serialVersionUID = 1L;

    private final double trimFraction;

    /**
     * @param trimFraction in [0, 0.5)
     */
    public TrimmedMean(double trimFraction) {
        if (!(trimFraction >= 0 && trimFraction < 0.5)) {
            throw new IllegalArgumentException(
                    "aggregation.trim-fraction must be in [0, 0.5), was " + trimFraction);
        }
        this.trimFraction = trimFraction;
    }

    @Override
    public String name() {
        return "trimmed-mean";
    }

    @Override
    public Payload result(Updates acc) {
        return Payload.dense(RobustAggregation.trimmedMean(acc.values(), trimFraction));
    }
}
