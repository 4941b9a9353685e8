package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.typeutils.CompositeTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.model.Payload;

/**
 * A rule that wraps another (a decorator): central differential privacy (clip each contribution,
 * add noise to the aggregate), a secure sum over ciphertexts, a norm filter. The wrapper sees every
 * contribution before the inner rule adds it and the inner rule's result before it leaves the
 * shard, and may change both; everything else (accepted payloads, memory, the selection phase) is
 * the inner rule's.
 *
 * <p>Its accumulator pairs the wrapper's own per-round state {@code S} (e.g. how many updates were
 * clipped; use {@link Void}-like empty state if none) with the inner rule's accumulator {@code A},
 * which the hooks may read. Both are Flink state, serialized by a composite serializer of {@link
 * #stateSerializer()} and the inner rule's; merging merges both.
 *
 * <pre>{@code
 * final class Clipping extends WrappingRule<Clipping.Count, FedAvg.Sum> {
 *     Clipping(AggregationRule<FedAvg.Sum> inner, double bound) { super(inner); ... }
 *     protected String wrapperName() { return "clip"; }
 *     protected Contribution onContribution(Count s, FedAvg.Sum inner, Contribution c) {
 *         return new Contribution(c.learner(), clip(c.payload(), bound), c.weight());
 *     }
 *     ...
 * }
 * }</pre>
 *
 * @param <S> the wrapper's own per-round state (mutable)
 * @param <A> the inner rule's accumulator
 */
public abstract class WrappingRule<S, A> implements AggregationRule<WrappingRule.Wrapped<S, A>> {
    private static final long serialVersionUID = 1L;

    private final AggregationRule<A> inner;

    protected WrappingRule(AggregationRule<A> inner) {
        if (inner == null) {
            throw new IllegalArgumentException("a wrapping rule needs an inner rule");
        }
        this.inner = inner;
    }

    /** The wrapped rule. */
    public final AggregationRule<A> inner() {
        return inner;
    }

    /** The wrapper's short name; the rule's name is {@code wrapperName(innerName)}. */
    protected abstract String wrapperName();

    /** The wrapper's empty state for a new round at a shard. */
    protected abstract S createState();

    /** Combines the wrapper's states of two accumulators being merged. */
    protected abstract S mergeState(S a, S b);

    /** The versioned serializer of {@code S}. */
    protected abstract TypeSerializer<S> stateSerializer();

    /**
     * Called for each contribution before the inner rule adds it; returns what the inner rule adds
     * (the same contribution by default). Must not change the given payload in place: it may be the
     * record's.
     */
    protected Contribution onContribution(S state, A innerAccumulator, Contribution c) {
        return c;
    }

    /**
     * Called on the inner rule's aggregate (its {@link #result} or its selection's {@link
     * Selection#resultOf}); returns the shard's aggregate (the same by default).
     */
    protected Payload onResult(S state, A innerAccumulator, Payload result) {
        return result;
    }

    /**
     * As {@link #onResult(Object, Object, Payload)}, knowing the round (its plan and shard); calls
     * that one by default.
     */
    protected Payload onResult(S state, A innerAccumulator, Payload result, RoundContext round) {
        return onResult(state, innerAccumulator, result);
    }

    @Override
    public String name() {
        return wrapperName() + "(" + inner.name() + ")";
    }

    @Override
    public Set<Payload.Kind> acceptedPayloads() {
        return inner.acceptedPayloads();
    }

    @Override
    public boolean buffersUpdates() {
        return inner.buffersUpdates();
    }

    @Override
    public final Wrapped<S, A> createAccumulator() {
        return new Wrapped<>(createState(), inner.createAccumulator());
    }

    @Override
    public final void add(Wrapped<S, A> acc, String learner, Payload payload, double weight) {
        requireAccepted(payload);
        Contribution c =
                onContribution(acc.state, acc.inner, new Contribution(learner, payload, weight));
        inner.add(acc.inner, c.learner(), c.payload(), c.weight());
    }

    @Override
    public final Wrapped<S, A> merge(Wrapped<S, A> a, Wrapped<S, A> b) {
        return new Wrapped<>(mergeState(a.state, b.state), inner.merge(a.inner, b.inner));
    }

    @Override
    public final Payload result(Wrapped<S, A> acc) {
        return onResult(acc.state, acc.inner, inner.result(acc.inner));
    }

    @Override
    public final Payload result(Wrapped<S, A> acc, RoundContext round) {
        return onResult(acc.state, acc.inner, inner.result(acc.inner, round), round);
    }

    @Override
    public boolean resultIsDelta() {
        return inner.resultIsDelta();
    }

    @Override
    public final Selection<Wrapped<S, A>> selection() {
        Selection<A> s = inner.selection();
        if (s == null) {
            return null;
        }
        return new Selection<>() {
            private static final long serialVersionUID = 1L;

            @Override
            public double[] partial(Wrapped<S, A> acc, List<String> contributors) {
                return s.partial(acc.inner, contributors);
            }

            @Override
            public List<String> select(double[] total, List<String> contributors, long round) {
                return s.select(total, contributors, round);
            }

            @Override
            public Payload resultOf(Wrapped<S, A> acc, List<String> selected) {
                return onResult(acc.state, acc.inner, s.resultOf(acc.inner, selected));
            }
        };
    }

    @Override
    public final TypeSerializer<Wrapped<S, A>> accumulatorSerializer() {
        return new WrappedSerializer<>(stateSerializer(), inner.accumulatorSerializer());
    }

    /** A wrapping rule's accumulator: its own state and the inner rule's accumulator. */
    public static final class Wrapped<S, A> {
        final S state;
        final A inner;

        public Wrapped(S state, A inner) {
            this.state = state;
            this.inner = inner;
        }

        public S state() {
            return state;
        }

        public A inner() {
            return inner;
        }
    }

    /** The composite serializer of {@link Wrapped}: the state's, then the inner accumulator's. */
    public static final class WrappedSerializer<S, A> extends TypeSerializer<Wrapped<S, A>> {
        private static final long serialVersionUID = 1L;

        private final TypeSerializer<S> state;
        private final TypeSerializer<A> inner;

        public WrappedSerializer(TypeSerializer<S> state, TypeSerializer<A> inner) {
            this.state = state;
            this.inner = inner;
        }

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public TypeSerializer<Wrapped<S, A>> duplicate() {
            return new WrappedSerializer<>(state.duplicate(), inner.duplicate());
        }

        @Override
        public Wrapped<S, A> createInstance() {
            return new Wrapped<>(state.createInstance(), inner.createInstance());
        }

        @Override
        public Wrapped<S, A> copy(Wrapped<S, A> from) {
            return new Wrapped<>(state.copy(from.state), inner.copy(from.inner));
        }

        @Override
        public Wrapped<S, A> copy(Wrapped<S, A> from, Wrapped<S, A> reuse) {
            return copy(from);
        }

        @Override
        public int getLength() {
            return -1;
        }

        @Override
        public void serialize(Wrapped<S, A> record, DataOutputView target) throws IOException {
            state.serialize(record.state, target);
            inner.serialize(record.inner, target);
        }

        @Override
        public Wrapped<S, A> deserialize(DataInputView source) throws IOException {
            S s = state.deserialize(source);
            return new Wrapped<>(s, inner.deserialize(source));
        }

        @Override
        public Wrapped<S, A> deserialize(Wrapped<S, A> reuse, DataInputView source)
                throws IOException {
            return deserialize(source);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            state.copy(source, target);
            inner.copy(source, target);
        }

        @Override
        public boolean equals(Object obj) {
            return obj instanceof WrappedSerializer<?, ?> o
                    && o.state.equals(state)
                    && o.inner.equals(inner);
        }

        @Override
        public int hashCode() {
            return 31 * state.hashCode() + inner.hashCode();
        }

        @Override
        public TypeSerializerSnapshot<Wrapped<S, A>> snapshotConfiguration() {
            return new Snapshot<>(this);
        }
    }

    /** Snapshot of {@link WrappedSerializer}: the nested serializers' snapshots (version 1). */
    public static final class Snapshot<S, A>
            extends CompositeTypeSerializerSnapshot<Wrapped<S, A>, WrappedSerializer<S, A>> {

        public Snapshot() {}

        Snapshot(WrappedSerializer<S, A> serializer) {
            super(serializer);
        }

        @Override
        protected int getCurrentOuterSnapshotVersion() {
            return 1;
        }

        @Override
        protected TypeSerializer<?>[] getNestedSerializers(WrappedSerializer<S, A> outer) {
            return new TypeSerializer<?>[] {outer.state, outer.inner};
        }

        @Override
        @SuppressWarnings("unchecked")
        protected WrappedSerializer<S, A> createOuterSerializerWithNestedSerializers(
                TypeSerializer<?>[] nested) {
            return new WrappedSerializer<>(
                    (TypeSerializer<S>) nested[0], (TypeSerializer<A>) nested[1]);
        }
    }
}
