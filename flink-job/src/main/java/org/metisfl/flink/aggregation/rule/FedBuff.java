package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.aggregation.kernel.BufferedAsync;
import org.metisfl.flink.model.Payload;

/**
 * FedBuff (Nguyen et al., AISTATS 2022): each update's delta from the model it was trained on,
 * weighted by s(staleness), is buffered; every {@code async.buffer-size} updates their mean, times
 * the server learning rate, moves the shard's model ({@link BufferedAsync}). Memory: the buffer and
 * the last max-staleness versions of the shard.
 *
 * <p><b>Partial sums</b> ({@link #mergesPartials()}): a gateway may fold n updates of one base
 * version b into (Σu, n). The partial is applied as one step, at its place in the shard's order
 * (its latest stamp), with one staleness s for all n: it buffers {@code f(s) · (Σu − n · model(b))}
 * and counts as n updates. When no version closes between the n updates' own places, that is
 * exactly what the n updates buffer one by one. A partial cannot be split, so when it crosses the
 * buffer boundary (the buffer held m < K updates and m + n > K), the buffer closes with all m + n
 * and the model moves by {@code η · Σ / (m + n)}: a version then holds more than K updates, and the
 * next buffer starts empty, where one by one the first K − m would have closed it and the remaining
 * m + n − K would have started the next buffer with a staleness one higher. A gateway folds at most
 * K updates into one partial ({@link #maxPartialCount()}), so a version holds fewer than 2K. With K
 * = 1 nothing is folded (every partial would cross).
 */
public final class FedBuff implements AsyncAggregationRule<FedBuff.Buffer> {
    private static final long serialVersionUID = 1L;

    private final int bufferSize;
    private final double serverLearningRate;

    /** The deltas buffered for the next version and whose they are. */
    public static final class Buffer {
        double[] deltas;
        List<String> learners = new ArrayList<>();

        public Buffer() {}

        public int buffered() {
            return learners.size();
        }
    }

    /**
     * @param bufferSize K, {@code >= 1}
     * @param serverLearningRate finite, {@code > 0}
     */
    public FedBuff(int bufferSize, double serverLearningRate) {
        if (bufferSize < 1) {
            throw new IllegalArgumentException("async.buffer-size must be >= 1, was " + bufferSize);
        }
        if (!(serverLearningRate > 0 && Double.isFinite(serverLearningRate))) {
            throw new IllegalArgumentException(
                    "async.server-learning-rate must be > 0, was " + serverLearningRate);
        }
        this.bufferSize = bufferSize;
        this.serverLearningRate = serverLearningRate;
    }

    @Override
    public String name() {
        return "fedbuff";
    }

    @Override
    public boolean keepsVersions() {
        return true;
    }

    @Override
    public Buffer createState() {
        return new Buffer();
    }

    @Override
    public List<String> apply(Buffer state, AsyncContext model, AsyncUpdate u) throws Exception {
        requireAccepted(u.payload());
        Payload base = model.modelAt(u.baseVersion());
        if (base == null) {
            model.dropTooStale();
            return null;
        }
        float[] global = model.global().values();
        if (state.deltas == null) {
            state.deltas = new double[global.length];
        }
        BufferedAsync.addDelta(
                state.deltas, u.payload().values(), base.values(), u.stalenessWeight());
        state.learners.add(u.learner());
        return closeIfFull(state, global);
    }

    /** K: a partial of at most K updates makes a version of at most 2K − 1 when it crosses. */
    @Override
    public int maxPartialCount() {
        return bufferSize;
    }

    /**
     * True for K > 1. With K = 1 every update is a version of its own, and any partial of n > 1
     * updates would cross the boundary and make one version of their mean instead of n versions:
     * not FedBuff with a buffer of one any more, so its updates go on one by one.
     */
    @Override
    public boolean mergesPartials() {
        return bufferSize > 1;
    }

    @Override
    public List<String> applyPartial(Buffer state, AsyncContext model, AsyncPartial p)
            throws Exception {
        Payload base = model.modelAt(p.baseVersion());
        if (base == null) {
            for (int i = 0; i < p.count(); i++) {
                model.dropTooStale();
            }
            return null;
        }
        float[] global = model.global().values();
        if (state.deltas == null) {
            state.deltas = new double[global.length];
        }
        BufferedAsync.addDeltaSum(
                state.deltas, p.sum(), base.values(), p.count(), p.stalenessWeight());
        state.learners.addAll(p.learners());
        return closeIfFull(state, global);
    }

    /**
     * Makes the next version if the buffer holds K updates or more (more only after a partial sum
     * crossed K: the mean is then over all of them).
     */
    private List<String> closeIfFull(Buffer state, float[] global) {
        if (state.learners.size() < bufferSize) {
            return null;
        }
        BufferedAsync.apply(global, state.deltas, state.learners.size(), serverLearningRate);
        List<String> learners = state.learners;
        state.deltas = null;
        state.learners = new ArrayList<>();
        return learners;
    }

    @Override
    public TypeSerializer<Buffer> stateSerializer() {
        return new BufferSerializer();
    }

    /** Format 1: the deltas (if any) in bulk, then the learners. */
    public static final class BufferSerializer extends StateSerializer<Buffer> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Buffer createInstance() {
            return new Buffer();
        }

        @Override
        public Buffer copy(Buffer from) {
            Buffer b = new Buffer();
            b.deltas = from.deltas == null ? null : from.deltas.clone();
            b.learners = new ArrayList<>(from.learners);
            return b;
        }

        @Override
        protected void write(Buffer value, DataOutputView out) throws IOException {
            FedAvg.writeDoubles(value.deltas, out);
            out.writeInt(value.learners.size());
            for (String l : value.learners) {
                out.writeUTF(l);
            }
        }

        @Override
        protected Buffer read(int version, DataInputView in) throws IOException {
            Buffer b = new Buffer();
            b.deltas = FedAvg.readDoubles(in);
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                b.learners.add(in.readUTF());
            }
            return b;
        }
    }
}
