package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.PayloadSerializer;

/**
 * The accumulator of rules that need every update of a round (median, trimmed mean, Krum, Bulyan)
 * or a block of them (FedStride): the updates as received, with their learners and weights, in
 * arrival order. Memory O(updates x shard).
 */
public final class Updates {
    final List<String> learners;
    final List<Payload> payloads;
    final List<Double> weights;

    public Updates() {
        this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    }

    private Updates(List<String> learners, List<Payload> payloads, List<Double> weights) {
        this.learners = learners;
        this.payloads = payloads;
        this.weights = weights;
    }

    void add(String learner, Payload payload, double weight) {
        if (!payloads.isEmpty() && payloads.get(0).size() != payload.size()) {
            throw new IllegalArgumentException(
                    "update of "
                            + learner
                            + " has "
                            + payload.size()
                            + " values, earlier ones "
                            + payloads.get(0).size());
        }
        learners.add(learner);
        payloads.add(payload);
        weights.add(weight);
    }

    void addAll(Updates other) {
        for (int i = 0; i < other.size(); i++) {
            add(other.learners.get(i), other.payloads.get(i), other.weights.get(i));
        }
    }

    void clear() {
        learners.clear();
        payloads.clear();
        weights.clear();
    }

    public int size() {
        return learners.size();
    }

    /** The dense values of every update, in arrival order. */
    List<float[]> values() {
        List<float[]> out = new ArrayList<>(payloads.size());
        for (Payload p : payloads) {
            out.add(p.values());
        }
        return out;
    }

    /** The dense values of {@code wanted}'s updates, in the order of {@code wanted}. */
    List<float[]> valuesOf(List<String> wanted) {
        List<float[]> out = new ArrayList<>(wanted.size());
        for (String learner : wanted) {
            int i = learners.indexOf(learner);
            if (i >= 0) {
                out.add(payloads.get(i).values());
            }
        }
        return out;
    }

    Updates deepCopy() {
        List<Payload> copies = new ArrayList<>(payloads.size());
        for (Payload p : payloads) {
            copies.add(p.copy());
        }
        return new Updates(new ArrayList<>(learners), copies, new ArrayList<>(weights));
    }

    /** Format 1: count, then learner, weight and payload of each update. */
    public static final class Serializer extends StateSerializer<Updates> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Updates createInstance() {
            return new Updates();
        }

        @Override
        public Updates copy(Updates from) {
            return from.deepCopy();
        }

        @Override
        protected void write(Updates value, DataOutputView out) throws IOException {
            out.writeInt(value.size());
            for (int i = 0; i < value.size(); i++) {
                out.writeUTF(value.learners.get(i));
                out.writeDouble(value.weights.get(i));
                PayloadSerializer.INSTANCE.serialize(value.payloads.get(i), out);
            }
        }

        @Override
        protected Updates read(int version, DataInputView in) throws IOException {
            int n = in.readInt();
            Updates u = new Updates();
            for (int i = 0; i < n; i++) {
                String learner = in.readUTF();
                double weight = in.readDouble();
                u.add(learner, PayloadSerializer.INSTANCE.deserialize(in), weight);
            }
            return u;
        }
    }
}
