package org.metisfl.flink.aggregation.rule;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.aggregation.kernel.WeightedSum;
import org.metisfl.flink.model.Payload;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Krum and multi-Krum (Blanchard et al. 2017): the coordinator picks the m updates whose squared
 * distances to their n - f - 2 nearest neighbours sum lowest (m = 1 for Krum), from the distances
 * every shard contributes; the shards then average the chosen updates, unweighted. A round with too
 * few contributions for f (n <= 2f + 2) averages all of them, with a warning.
 */
public class Krum extends BufferingRule implements Selection<Updates> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(Krum.class);

    private final int byzantine;
    private final int selected;
    private final boolean multi;

    /**
     * @param byzantine f, the faulty learners tolerated, {@code >= 0}
     * @param selected multi-Krum's m; 0 means n - f
     * @param multi multi-Krum (else Krum: m = 1)
     */
    public Krum(int byzantine, int selected, boolean multi) {
        if (byzantine < 0) {
            throw new IllegalArgumentException(
                    "aggregation.krum-byzantine must be >= 0, was " + byzantine);
        }
        if (selected < 0) {
            throw new IllegalArgumentException(
                    "aggregation.krum-selected must be >= 0, was " + selected);
        }
        this.byzantine = byzantine;
        this.selected = selected;
        this.multi = multi;
    }

    @Override
    public String name() {
        return multi ? "multi-krum" : "krum";
    }

    @Override
    public Selection<Updates> selection() {
        return this;
    }

    @Override
    public Payload result(Updates acc) {
        throw new IllegalStateException(name() + " aggregates after the selection");
    }

    /** How many best-scored updates are averaged among {@code n}: 1, or m (n - f if 0). */
    int selectedOf(int n) {
        if (!multi) {
            return 1;
        }
        int m = selected > 0 ? selected : n - byzantine;
        return Math.max(1, Math.min(m, n));
    }

    @Override
    public double[] partial(Updates acc, List<String> contributors) {
        return pairwiseSquaredDistances(acc, contributors);
    }

    @Override
    public List<String> select(double[] total, List<String> contributors, long round) {
        int n = contributors.size();
        List<String> chosen = new ArrayList<>();
        if (n > 2 * byzantine + 2) {
            for (int i : RobustAggregation.krumSelect(square(total, n), byzantine, selectedOf(n))) {
                chosen.add(contributors.get(i));
            }
        } else {
            LOG.warn(
                    "Round {}: {} contributions are too few for Krum with f = {} (it needs more"
                            + " than 2f + 2); averaging all of them",
                    round,
                    n,
                    byzantine);
            chosen.addAll(contributors);
        }
        Collections.sort(chosen);
        LOG.info("Round {}: Krum selected {} of {} updates", round, chosen.size(), n);
        return chosen;
    }

    @Override
    public Payload resultOf(Updates acc, List<String> selected) {
        List<float[]> chosen = acc.valuesOf(selected);
        double[] sum = new double[chosen.get(0).length];
        for (float[] u : chosen) {
            WeightedSum.addScaled(sum, u, 1.0);
        }
        return Payload.dense(WeightedSum.mean(sum, chosen.size()));
    }

    /** This shard's n x n squared distances, row-major, over {@code contributors} in order. */
    static double[] pairwiseSquaredDistances(Updates acc, List<String> contributors) {
        List<float[]> ordered = acc.valuesOf(contributors);
        int n = ordered.size();
        double[][] d = new double[n][n];
        RobustAggregation.addPairwiseSquaredDistances(ordered, d);
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(d[i], 0, flat, i * n, n);
        }
        return flat;
    }

    static double[][] square(double[] flat, int n) {
        if (flat.length != n * n) {
            throw new IllegalArgumentException(
                    "distances hold " + flat.length + " values, expected " + n + " x " + n);
        }
        double[][] d = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * n, d[i], 0, n);
        }
        return d;
    }
}
