package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.MemberIndex;
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

    /** How many participants the round's plan has (the gateways accept updates from them only). */
    public int expected;

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

    private transient MemberIndex contributorIndex;

    public ShardRound() {}

    boolean hasContributed(String learner) {
        return index().contains(learner);
    }

    void addContributor(String learner) {
        index().add(learner);
    }

    /** O(1) membership over {@link #contributors} (rebuilt after a restore). */
    private MemberIndex index() {
        return contributorIndex = MemberIndex.of(contributorIndex, contributors);
    }

    boolean allExpectedContributed() {
        // Only participants contribute (the gateways refuse others) and each once: a count is
        // enough, O(1) per update.
        return opened && contributors.size() >= expected;
    }
}
