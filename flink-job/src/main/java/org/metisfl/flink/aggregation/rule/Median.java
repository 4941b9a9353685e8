package org.metisfl.flink.aggregation.rule;

import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.model.Payload;

/** Coordinate-wise median (Yin et al. 2018) of the round's updates; weights are ignored. */
public final class Median extends BufferingRule {
    private static final long serialVersionUID = 1L;

    @Override
    public String name() {
        return "median";
    }

    @Override
    public Payload result(Updates acc) {
        return Payload.dense(RobustAggregation.coordinateMedian(acc.values()));
    }
}
