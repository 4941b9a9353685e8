package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.GlobalShard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Krum's first phase at the coordinator: sums every shard's partial pairwise distances of the
 * round's contributors and, once all shards are in, picks the updates to average (Krum: one,
 * multi-Krum: m). The choice reaches the shards through the gateways with the next PUBLISH.
 */
final class KrumGather {
    private static final Logger LOG = LoggerFactory.getLogger(KrumGather.class);

    private final CoordinatorOptions options;

    KrumGather(CoordinatorOptions options) {
        this.options = options;
    }

    /**
     * Adds one shard's distances (the shard was counted in {@code p.shardsReceived}); returns true
     * once the last shard's are in and {@code p.krumSelection} holds the choice.
     */
    boolean add(GlobalShard g, FederationProgress p) {
        if (p.krumDistances == null) {
            p.krumDistances = new double[g.distances.length];
            p.krumContributors = new ArrayList<>(g.contributors);
        }
        for (int i = 0; i < g.distances.length; i++) {
            p.krumDistances[i] += g.distances[i];
        }
        if (p.shardsReceived < p.numShards) {
            return false;
        }
        p.krumSelection = select(p.krumDistances, p.krumContributors, p.round);
        p.krumSelectionRound = p.round;
        p.krumDistances = null;
        return true;
    }

    /** The sorted selection among {@code contributors} given their n x n summed distances. */
    List<String> select(double[] distances, List<String> contributors, long round) {
        int n = contributors.size();
        int f = options.krumByzantine();
        List<String> selection = new ArrayList<>();
        if (n > 2 * f + 2) {
            double[][] d = new double[n][n];
            for (int i = 0; i < n; i++) {
                System.arraycopy(distances, i * n, d[i], 0, n);
            }
            for (int i : RobustAggregation.krumSelect(d, f, options.krumSelectedOf(n))) {
                selection.add(contributors.get(i));
            }
        } else {
            LOG.warn(
                    "Round {}: {} contributions are too few for Krum with f = {} (it needs more"
                            + " than 2f + 2); averaging all of them",
                    round,
                    n,
                    f);
            selection.addAll(contributors);
        }
        Collections.sort(selection);
        LOG.info("Round {}: Krum selected {} of {} updates", round, selection.size(), n);
        return selection;
    }
}
