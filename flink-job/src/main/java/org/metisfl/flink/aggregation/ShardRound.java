package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * The state of one round at one shard: the round's plan once known, and the running weighted sum of
 * the updates received so far (a Flink POJO kept in keyed state).
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class ShardRound {
    public long round;
    public int numShards;
    public boolean opened;
    public List<String> expected = new ArrayList<>();
    public int quorum;
    public long deadline;
    public double[] sum;
    public double totalWeight;
    public List<String> contributors = new ArrayList<>();

    /**
     * Updates held as they are: every update of the round for the robust rules, the current block
     * for FedStride.
     */
    public List<float[]> buffered = new ArrayList<>();

    public List<Double> bufferedWeights = new ArrayList<>();

    /** Krum: closed, distances sent; waiting for the coordinator's selection. */
    public boolean awaitingSelection;

    public ShardRound() {}

    boolean allExpectedContributed() {
        // Only participants contribute, so the sizes decide until they are equal; checked per
        // update, this keeps a round of n learners O(n) instead of O(n^2).
        return opened
                && contributors.size() >= expected.size()
                && new java.util.HashSet<>(contributors).containsAll(expected);
    }
}
