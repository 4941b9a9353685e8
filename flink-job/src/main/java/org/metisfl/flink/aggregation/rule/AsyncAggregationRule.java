package org.metisfl.flink.aggregation.rule;

import java.io.Serializable;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.metisfl.flink.model.Payload;

/**
 * An asynchronous aggregation rule: how one update moves one shard of the global model (FedAsync,
 * FedRec) or is buffered until K of them do (FedBuff). The asynchronous aggregator applies the
 * updates of a shard one by one in the same event-time order at every shard, drops duplicates and
 * updates more than {@code async.max-staleness} versions old, and computes each update's staleness
 * weight; the rule decides what the update does to the model.
 *
 * <p>The rule is stateless and serializable; what it keeps between updates at a shard is a state
 * {@code S} (kept in Flink keyed state with {@link #stateSerializer()}), plus what the aggregator
 * keeps for it on request: the models of recent versions ({@link #keepsVersions()}) and each
 * learner's latest contribution ({@link #keepsLatestPerLearner()}), both through the {@link
 * AsyncContext}.
 *
 * @param <S> the rule's state at one shard (mutable; null if the rule needs none)
 */
public interface AsyncAggregationRule<S> extends Serializable {

    /** The rule's name in {@code async.rule}. */
    String name();

    /** The payload kinds this rule aggregates. Dense by default. */
    default Set<Payload.Kind> acceptedPayloads() {
        return AggregationRule.DENSE_ONLY;
    }

    /** The rule's empty state at a shard (null if it needs none). */
    S createState();

    /** The versioned serializer of the state. */
    TypeSerializer<S> stateSerializer();

    /**
     * Applies one update to the shard.
     *
     * @return the learners whose updates the new model version holds, if the update made one (the
     *     aggregator then emits the model as the next version); null if it did not (buffered, or
     *     dropped through {@link AsyncContext#dropTooStale()})
     */
    List<String> apply(S state, AsyncContext model, AsyncUpdate update) throws Exception;

    /**
     * True if the rule can take a gateway's partial sum of several updates of one base version in
     * one step ({@link #applyPartial}), so the gateways may fold the updates they take in one poll
     * (local pre-aggregation, {@code PartialSums}). FedBuff can: what it buffers is linear in the
     * updates. FedAsync cannot (it mixes each update into the model the previous one made), nor can
     * FedRec (it keeps each learner's latest update): their updates cross the job one by one.
     */
    default boolean mergesPartials() {
        return false;
    }

    /**
     * Applies a partial sum of updates to the shard as one step, at one place in the shard's order
     * of application, with one staleness weight for all its updates (they share a base version).
     * Only for rules that {@link #mergesPartials()}.
     *
     * @return as {@link #apply}
     */
    default List<String> applyPartial(S state, AsyncContext model, AsyncPartial partial)
            throws Exception {
        throw new UnsupportedOperationException(
                "async.rule '" + name() + "' cannot merge partial sums of updates");
    }

    /**
     * The most updates one partial sum may hold ({@link #mergesPartials()}): FedBuff's K, so a
     * partial crossing the buffer boundary makes a version of fewer than 2K updates.
     */
    default int maxPartialCount() {
        return Integer.MAX_VALUE;
    }

    /** True if the rule needs the models of the last max-staleness versions (FedBuff). */
    default boolean keepsVersions() {
        return false;
    }

    /** True if the rule needs each learner's latest contribution (FedRec). */
    default boolean keepsLatestPerLearner() {
        return false;
    }

    /** Throws a clear error unless this rule accepts {@code payload}'s kind. */
    default void requireAccepted(Payload payload) {
        if (!acceptedPayloads().contains(payload.kind())) {
            throw new IllegalArgumentException(
                    "async.rule '"
                            + name()
                            + "' aggregates "
                            + acceptedPayloads()
                            + " payloads only, got "
                            + payload);
        }
    }

    /**
     * One update as an asynchronous rule sees it.
     *
     * @param weight its weight ({@code aggregation.scaling})
     * @param stalenessWeight s(current version - base version), in (0, 1]
     * @param baseVersion the model version the learner trained on
     */
    record AsyncUpdate(
            String learner,
            Payload payload,
            double weight,
            double stalenessWeight,
            long baseVersion) {}

    /**
     * Several updates of one base version, folded by a gateway, as a rule that {@link
     * #mergesPartials()} sees them.
     *
     * @param learners whose updates the sum holds, one entry per update
     * @param sum the sum of the updates' values, in double
     * @param stalenessWeight s(current version - base version), the same for all of them
     * @param baseVersion the model version all of them were trained on
     */
    record AsyncPartial(
            List<String> learners, double[] sum, double stalenessWeight, long baseVersion) {

        /** How many updates the sum holds. */
        public int count() {
            return learners.size();
        }
    }

    /** What the aggregator offers an asynchronous rule at one shard. */
    interface AsyncContext {

        /** The shard's current model version. */
        long version();

        /** The shard's current model; a rule may change its values in place. */
        Payload global();

        /** Replaces the shard's current model. */
        void setGlobal(Payload model);

        /**
         * The shard's model at {@code version} if still kept ({@link #keepsVersions()}), else null.
         */
        Payload modelAt(long version) throws Exception;

        /** {@code learner}'s latest contribution ({@link #keepsLatestPerLearner()}), or null. */
        Latest latest(String learner) throws Exception;

        /** Remembers {@code learner}'s latest contribution. */
        void keepLatest(String learner, Latest latest) throws Exception;

        /** Counts the update as dropped for being too stale (it makes no version). */
        void dropTooStale();
    }

    /** A learner's latest contribution and the weight it entered with. */
    record Latest(Payload payload, double weight) {}
}
