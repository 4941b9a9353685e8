package org.metisfl.flink.aggregation.rule;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.metisfl.flink.model.Payload;

/**
 * Base of the rules that keep every update of the round ({@link Updates}) and aggregate them all at
 * once: median, trimmed mean, Krum, Bulyan. A variant overrides {@link #result} or supplies a
 * {@link #selection()}.
 */
abstract class BufferingRule implements AggregationRule<Updates> {
    private static final long serialVersionUID = 1L;

    @Override
    public Updates createAccumulator() {
        return new Updates();
    }

    @Override
    public void add(Updates acc, String learner, Payload payload, double weight) {
        requireAccepted(payload);
        acc.add(learner, payload, weight);
    }

    @Override
    public Updates merge(Updates a, Updates b) {
        a.addAll(b);
        return a;
    }

    @Override
    public TypeSerializer<Updates> accumulatorSerializer() {
        return new Updates.Serializer();
    }

    @Override
    public boolean buffersUpdates() {
        return true;
    }
}
