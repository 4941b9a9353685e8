package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.List;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.aggregation.rule.Selection;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.GlobalShard;

/**
 * The selection phase at the coordinator (Krum, multi-Krum, Bulyan): sums every shard's partial
 * statistic (pairwise distances of the round's contributors) and, once all shards are in, lets the
 * rule's {@link Selection} pick the updates to aggregate. The choice reaches the shards through the
 * gateways with the next PUBLISH.
 */
final class KrumGather {
    private final Selection<?> selection;

    KrumGather(CoordinatorOptions options) {
        this.selection = Rules.of(options.rules()).selection();
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
        return selection.select(distances, contributors, round);
    }
}
