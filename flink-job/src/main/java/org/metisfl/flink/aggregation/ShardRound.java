package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.MemberIndex;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * The bookkeeping of one round at one shard: the round's plan once known, who contributed and their
 * total weight (a Flink POJO kept in keyed state). What the rule gathers from the updates is its
 * accumulator, kept next to it in the aggregator's {@code accumulators} state.
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
    public double totalWeight;
    public List<String> contributors = new ArrayList<>();

    /** A rule with a selection phase: closed, statistic sent; waiting for the selection. */
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
