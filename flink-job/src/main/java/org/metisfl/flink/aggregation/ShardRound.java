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

    /** Central DP: contributors whose update delta was within the clip norm. */
    public int unclipped;

    /** Central DP: the round's clip norm (from its plan). */
    public double clipNorm;

    /** A rule with a selection phase: closed, statistic sent; waiting for the selection. */
    public boolean awaitingSelection;

    /**
     * Local pre-aggregation over several gateways: contributors whose only copy so far is a foreign
     * single update (not from the gateway that folds them), held aside in the aggregator's keyed
     * state until the round closes; a partial holding one of them replaces its held copy. They are
     * in {@link #contributors} already, their weight is not in {@link #totalWeight} yet.
     */
    public List<String> held = new ArrayList<>();

    /** Copies of PARTICIPANT_DROPPED received, as {@code learner@gateway}. */
    public List<String> dropCopies = new ArrayList<>();

    /**
     * Participants dropped from the round whose drop every gateway has confirmed: no update of
     * theirs can arrive any more, so the round stops waiting for them.
     */
    public List<String> dropped = new ArrayList<>();

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
        // enough, O(1) per update (drops are rare, their list short).
        return opened && contributors.size() + droppedWithoutUpdate() >= expected;
    }

    /**
     * True if the round has enough contributions to produce a model: at least one, and the quorum,
     * or every participant that was not dropped if they are fewer.
     */
    boolean quorate() {
        int remaining = Math.max(1, expected - droppedWithoutUpdate());
        return !contributors.isEmpty() && contributors.size() >= Math.min(quorum, remaining);
    }

    /**
     * Records gateway {@code gateway}'s copy of {@code learner}'s drop; once all {@code gateways}
     * copies are in, the learner is dropped here. Each gateway refuses the learner's updates after
     * its copy, so from then on this shard's contributor set holds whatever of the learner counts,
     * the same at every shard. Returns true if the learner is now dropped.
     */
    boolean addDropCopy(String learner, int gateway, int gateways) {
        String copy = learner + "@" + gateway;
        if (dropped.contains(learner) || dropCopies.contains(copy)) {
            return false;
        }
        dropCopies.add(copy);
        String prefix = learner + "@";
        long copies = dropCopies.stream().filter(c -> c.startsWith(prefix)).count();
        if (copies < Math.max(1, gateways)) {
            return false;
        }
        dropCopies.removeIf(c -> c.startsWith(prefix));
        dropped.add(learner);
        return true;
    }

    private int droppedWithoutUpdate() {
        int n = 0;
        for (String learner : dropped) {
            if (!hasContributed(learner)) {
                n++;
            }
        }
        return n;
    }
}
