package org.metisfl.flink.aggregation.rule;

import java.io.Serializable;
import java.util.List;
import org.metisfl.flink.model.Payload;

/**
 * The optional second phase of a rule that picks whole updates by a statistic over the whole model
 * (Krum's and Bulyan's pairwise distances). It runs in three steps across the job:
 *
 * <ol>
 *   <li>each shard, when its round closes, sends its {@link #partial} statistic instead of values;
 *   <li>the coordinator sums the statistics of all shards (they are additive over coordinates) and
 *       calls {@link #select} once;
 *   <li>the choice travels back to every shard (through the gateways), which sends {@link
 *       #resultOf} as its values.
 * </ol>
 *
 * @param <A> the rule's accumulator
 */
public interface Selection<A> extends Serializable {

    /**
     * This shard's additive part of the statistic over {@code contributors} (sorted), e.g. an n x n
     * matrix of squared distances, row-major.
     */
    double[] partial(A acc, List<String> contributors);

    /**
     * The coordinator's choice among {@code contributors} (sorted), from the sum of every shard's
     * {@link #partial}. An empty list aborts the round (the model stays); the reason is logged.
     *
     * @param round for log messages
     */
    List<String> select(double[] total, List<String> contributors, long round);

    /** The shard's aggregate over the {@code selected} learners' updates. */
    Payload resultOf(A acc, List<String> selected);
}
