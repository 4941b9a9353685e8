package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything one shard key holds in the synchronous protocol: the rounds still open (one or two)
 * and the last round closed. A Flink POJO kept as one write-behind value per shard.
 */
public class ShardRounds {
    /** Rounds up to this one are closed: anything for them is late. */
    public long closedThrough = Long.MIN_VALUE;

    public List<ShardRound> open = new ArrayList<>();

    public ShardRounds() {}

    ShardRound find(long round) {
        for (ShardRound sr : open) {
            if (sr.round == round) {
                return sr;
            }
        }
        return null;
    }
}
