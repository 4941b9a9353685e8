package org.metisfl.flink.aggregation.rule;

import java.io.Serializable;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.metisfl.flink.model.Payload;

/**
 * A synchronous aggregation rule: how the updates of one round become one shard of the new global
 * model. Shaped like Flink's {@code AggregateFunction}: the rule itself is stateless and
 * serializable; everything a round gathers lives in an accumulator of type {@code A}, created per
 * round and shard, kept in Flink keyed state with the rule's {@link #accumulatorSerializer()}.
 *
 * <p>The round lifecycle at one shard: {@link #createAccumulator()} when the first update of the
 * round arrives, {@link #add} once per accepted contribution, then either {@link #result} when the
 * round closes, or, for rules with a {@link #selection()} phase (Krum, Bulyan), the selection's
 * partial statistic, the coordinator's choice over all shards, and the selection's result. {@link
 * #merge} combines two accumulators of the same round and shard (partial aggregates folded where
 * updates arrive); it must be associative, and a merged accumulator must give the result adding
 * every contribution to one accumulator gives (up to floating-point summation order).
 *
 * <p>Each rule is a small class over a pure kernel of {@code aggregation.kernel}, registered in
 * {@link Rules}. A rule may wrap another: see {@link WrappingRule}.
 *
 * <pre>{@code
 * AggregationRule<FedAvg.Sum> fedavg = new FedAvg();
 * FedAvg.Sum acc = fedavg.createAccumulator();
 * fedavg.add(acc, "a", Payload.dense(new float[] {1f}), 1.0);
 * fedavg.add(acc, "b", Payload.dense(new float[] {3f}), 3.0);
 * fedavg.result(acc); // dense {2.5}
 * }</pre>
 *
 * @param <A> the accumulator: mutable, owned by one round at one shard
 */
public interface AggregationRule<A> extends Serializable {

    /** What most rules accept: dense values only. */
    Set<Payload.Kind> DENSE_ONLY = Collections.unmodifiableSet(EnumSet.of(Payload.Kind.DENSE));

    /** The rule's name in {@code aggregation.rule}, for messages and the operator's name. */
    String name();

    /** The payload kinds this rule aggregates; {@link #add} refuses others. Dense by default. */
    default Set<Payload.Kind> acceptedPayloads() {
        return DENSE_ONLY;
    }

    /** An empty accumulator; it learns the shard's size from the first contribution. */
    A createAccumulator();

    /**
     * Adds one contribution to {@code acc}, in place.
     *
     * @param learner the contributing learner (each contributes at most once per round)
     * @param payload its update for this shard; not changed and not kept beyond the round unless
     *     the rule buffers updates
     * @param weight its weight, finite and {@code >= 0} (see {@link ContributionWeights})
     * @throws IllegalArgumentException if the payload's kind is not accepted or its size differs
     *     from earlier contributions
     */
    void add(A acc, String learner, Payload payload, double weight);

    /**
     * Combines two accumulators of the same round and shard, over disjoint learners; may reuse and
     * return either. Associative.
     */
    A merge(A a, A b);

    /**
     * The shard's aggregate once the round closes with at least one contribution. Rules with a
     * {@link #selection()} phase aggregate through {@link Selection#resultOf} instead and throw
     * here.
     */
    Payload result(A acc);

    /**
     * What a shard knows of the round whose result is asked: its plan (expected contributions, the
     * clip norm of central DP) and where it is. For rules whose result depends on the round, such
     * as a wrapper adding noise calibrated to it.
     *
     * @param round the round
     * @param shard the shard
     * @param expected the contributions the round's plan expects (its participants)
     * @param clipNorm the round's clip norm under central DP, else 0
     */
    record RoundContext(long round, int shard, int expected, double clipNorm) {}

    /**
     * The shard's aggregate for a round known by its {@link RoundContext}; {@link #result(Object)}
     * unless the rule needs the round.
     */
    default Payload result(A acc, RoundContext round) {
        return result(acc);
    }

    /**
     * True if the result is a delta to add to the round's global model (central DP aggregates the
     * clipped deltas of the updates), false if it is the new model shard itself.
     */
    default boolean resultIsDelta() {
        return false;
    }

    /** The versioned serializer of the accumulator (checkpoints, savepoints, heap copies). */
    TypeSerializer<A> accumulatorSerializer();

    /**
     * True if the accumulator holds every update of the round (median, Krum, ...): memory O(updates
     * x shard), so rounds draw at most {@code aggregation.max-buffered-updates} participants. False
     * for incremental rules (O(shard)).
     */
    default boolean buffersUpdates() {
        return false;
    }

    /**
     * True if partial accumulators of this rule may be folded where updates arrive and merged at
     * the shard (local pre-aggregation): {@link #add} needs nothing but the contribution and {@link
     * #merge} of partials gives the result adding every contribution to one accumulator gives.
     * False by default; rules that buffer updates, have a selection phase, or see each contribution
     * with state of the round (clipping against the global model) keep it false.
     */
    default boolean preAggregates() {
        return false;
    }

    /** The optional selection phase (Krum, Bulyan), or null. */
    default Selection<A> selection() {
        return null;
    }

    /** Throws a clear error unless this rule accepts {@code payload}'s kind. */
    default void requireAccepted(Payload payload) {
        if (!acceptedPayloads().contains(payload.kind())) {
            throw new IllegalArgumentException(
                    "aggregation.rule '"
                            + name()
                            + "' aggregates "
                            + acceptedPayloads()
                            + " payloads only, got "
                            + payload
                            + "; use a rule for encrypted updates (e.g. a secure sum) or send"
                            + " plaintext updates");
        }
    }
}
