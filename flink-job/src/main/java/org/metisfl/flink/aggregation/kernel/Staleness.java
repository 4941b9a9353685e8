package org.metisfl.flink.aggregation.kernel;

import java.io.Serializable;

/**
 * Staleness weighting of FedAsync (Xie, Koyejo, Gupta 2019): s = current version - the update's
 * base version (>= 0).
 */
public interface Staleness extends Serializable {

    /**
     * The weight in (0, 1] of an update {@code staleness} versions old; rejects negative values.
     */
    double weight(long staleness);

    /** 1. */
    static Staleness constant() {
        return new StalenessFunctions.Constant();
    }

    /** (s + 1)^(-a), a >= 0. */
    static Staleness polynomial(double a) {
        return new StalenessFunctions.Polynomial(a);
    }

    /** 1 if s <= b, else 1 / (a (s - b) + 1); a >= 0, b >= 0. */
    static Staleness hinge(double a, long b) {
        return new StalenessFunctions.Hinge(a, b);
    }
}
