package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.Payload;

/**
 * FedBuff over CKKS ciphertexts ({@code protocol.type: asynchronous}, {@code async.rule: fedbuff},
 * {@code secure-aggregation: ckks}). The learner uploads the encryption of its delta Enc(xᵢ −
 * model_vᵢ) (it decrypted model_vᵢ itself), so the job never needs an old model version. The
 * shard's global model is one weighted ciphertext sum at the "weighted once" scale Δ·Δw:
 *
 * <pre>
 *   C_0     = multiply(Enc(model_0), 1)
 *   C_{t+1} = C_t + Σ_{i in buffer} multiply(Enc(δᵢ), η · s(τᵢ) / K)
 * </pre>
 *
 * <p>Every term is weighted exactly once, so all terms share one scale and add; the published model
 * carries weight sum 1 ({@link ShardCiphertexts#weightSum()}), so a learner's {@code decryptShard}
 * gives C_t's values: the plaintext FedBuff model up to CKKS noise and the weight encoding round(w
 * · 2^weightScaleBits). Memory per shard: the model and one running sum of the buffered deltas (no
 * versions, no per-update copies): the rule never needs the model an update was trained on.
 */
public final class SecureFedBuff implements AsyncAggregationRule<SecureFedBuff.Buffer> {
    private static final long serialVersionUID = 1L;

    private static final Set<Payload.Kind> CIPHERTEXT_ONLY =
            Collections.unmodifiableSet(EnumSet.of(Payload.Kind.CIPHERTEXT));

    private final int bufferSize;
    private final double serverLearningRate;
    private final SecureSum sum;
    private final String backend;
    private final String preset;

    /** The weighted deltas buffered for the next version, whose they are, and the model's scale. */
    public static final class Buffer {
        /** Σ multiply(Enc(δᵢ), η·s(τᵢ)/K) of the buffered updates; null if none. */
        SecureSum.Sums deltas;

        List<String> learners = new ArrayList<>();

        /**
         * False while the shard's model is the fresh initial ciphertext (scale Δ), true once it is
         * a weighted sum (scale Δ·Δw).
         */
        boolean globalWeighted;

        public Buffer() {}

        public int buffered() {
            return learners.size();
        }
    }

    /**
     * @param bufferSize K, {@code >= 1}
     * @param serverLearningRate η, finite, {@code > 0}
     */
    public SecureFedBuff(int bufferSize, double serverLearningRate, String backend, String preset) {
        new FedBuff(bufferSize, serverLearningRate); // the same checks and messages
        this.bufferSize = bufferSize;
        this.serverLearningRate = serverLearningRate;
        this.backend = backend;
        this.preset = preset;
        this.sum = new SecureSum(backend, preset);
    }

    @Override
    public String name() {
        return "fedbuff";
    }

    @Override
    public Set<Payload.Kind> acceptedPayloads() {
        return CIPHERTEXT_ONLY;
    }

    @Override
    public Buffer createState() {
        return new Buffer();
    }

    /** The plaintext weight an update's encrypted delta enters with: η · s(τ) / K. */
    public double deltaWeight(double stalenessWeight) {
        return serverLearningRate * stalenessWeight / bufferSize;
    }

    @Override
    public List<String> apply(Buffer state, AsyncContext model, AsyncUpdate u) {
        requireAccepted(u.payload());
        if (state.deltas == null) {
            state.deltas = sum.createAccumulator();
        }
        // Checks backend, parameters, key and shape before anything changes.
        sum.add(state.deltas, u.learner(), u.payload(), deltaWeight(u.stalenessWeight()));
        state.learners.add(u.learner());
        if (state.learners.size() < bufferSize) {
            return null;
        }
        model.setGlobal(moved(model.global(), state));
        state.globalWeighted = true;
        List<String> learners = state.learners;
        state.deltas = null;
        state.learners = new ArrayList<>();
        return learners;
    }

    /** C_t + the buffered weighted deltas, with weight sum 1. */
    private Payload moved(Payload global, Buffer state) {
        HeContext he = SecureSum.context(backend, preset);
        List<Ciphertext> model = SecureSum.checkedCiphertexts(he, global);
        SecureSum.Sums d = state.deltas;
        int[] counts = new int[model.size()];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = model.get(i).valueCount();
        }
        if (!Arrays.equals(counts, d.valueCounts)) {
            throw new IllegalArgumentException(
                    "the encrypted deltas have ciphertexts of "
                            + Arrays.toString(d.valueCounts)
                            + " values, the shard's model "
                            + Arrays.toString(counts));
        }
        List<byte[]> out = new ArrayList<>(model.size());
        for (int i = 0; i < model.size(); i++) {
            CiphertextSum next = he.newSum();
            if (state.globalWeighted) {
                next.merge(model.get(i), 1);
            } else {
                next.add(model.get(i), 1.0); // C_0 = multiply(Enc(model_0), 1)
            }
            next.merge(d.sums[i]);
            out.add(he.serialize(next.result()));
        }
        return Payload.ciphertext(
                he.backendId(),
                SecureSum.parameterHash(he),
                global.size(),
                new ShardCiphertexts(1.0, out).encode());
    }

    @Override
    public TypeSerializer<Buffer> stateSerializer() {
        return new BufferSerializer();
    }

    /**
     * Format 1: the weighted flag, the learners, a has-deltas flag and the deltas' sums in {@link
     * SecureSum.SumsSerializer}'s format. Ciphertexts only.
     */
    public static final class BufferSerializer extends StateSerializer<Buffer> {
        private static final long serialVersionUID = 1L;

        private final SecureSum.SumsSerializer sums = new SecureSum.SumsSerializer();

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
            b.deltas = from.deltas == null ? null : sums.copy(from.deltas);
            b.learners = new ArrayList<>(from.learners);
            b.globalWeighted = from.globalWeighted;
            return b;
        }

        @Override
        protected void write(Buffer value, DataOutputView out) throws IOException {
            out.writeBoolean(value.globalWeighted);
            out.writeInt(value.learners.size());
            for (String l : value.learners) {
                out.writeUTF(l);
            }
            out.writeBoolean(value.deltas != null);
            if (value.deltas != null) {
                sums.serialize(value.deltas, out);
            }
        }

        @Override
        protected Buffer read(int version, DataInputView in) throws IOException {
            Buffer b = new Buffer();
            b.globalWeighted = in.readBoolean();
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                b.learners.add(in.readUTF());
            }
            if (in.readBoolean()) {
                b.deltas = sums.deserialize(in);
            }
            return b;
        }
    }
}
