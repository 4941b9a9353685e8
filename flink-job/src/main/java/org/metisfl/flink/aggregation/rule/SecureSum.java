package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.flink.model.Payload;

/**
 * Secure aggregation with homomorphic encryption ({@code secure-aggregation: ckks}): the weighted
 * sum Σ wᵢ · ctᵢ of the round's encrypted updates at one shard, computed without any key. The job
 * never decrypts; its result is the encrypted sum together with the plaintext Σ wᵢ ({@link
 * ShardCiphertexts#weightSum()}), and learners decrypt and divide, which gives FedAvg's weighted
 * mean (weights as in {@link ContributionWeights}, plaintext metadata as in MetisFL).
 *
 * <p>A shard's payload is a {@link ShardCiphertexts} of whole ciphertexts; the accumulator keeps
 * one {@link CiphertextSum} per ciphertext position, so memory is O(shard) whatever the number of
 * learners. Every ciphertext of a round at a shard must come from the configured backend and
 * parameters (hash) and be under one key, with the same ciphertext count and value counts.
 *
 * <pre>{@code
 * SecureSum rule = new SecureSum("metisfl-ckks", "n13-q120");
 * SecureSum.Sums acc = rule.createAccumulator();
 * rule.add(acc, "a", encryptedShardOfA, 120);   // 120 examples
 * Payload global = rule.result(acc);            // Σ w·x encrypted, Σ w = 120 in the clear
 * }</pre>
 */
public final class SecureSum implements AggregationRule<SecureSum.Sums> {
    private static final long serialVersionUID = 1L;

    private static final Set<Payload.Kind> CIPHERTEXT_ONLY =
            Collections.unmodifiableSet(EnumSet.of(Payload.Kind.CIPHERTEXT));

    private final String backend;
    private final String preset;

    public SecureSum(String backend, String preset) {
        this.backend = backend;
        this.preset = preset;
        context(backend, preset); // fails fast on an unknown backend or preset
    }

    static HeContext context(String backend, String preset) {
        return HeContexts.of(backend, preset);
    }

    /** The parameter hash as ciphertext payloads carry it (lower-case hex of the SHA-256). */
    public static String parameterHash(HeContext he) {
        return HexFormat.of().formatHex(he.parameterHash());
    }

    /**
     * Its merge is exact (ciphertext additions), so a gateway may fold the encrypted updates it has
     * queued: each costs the gateway's task thread a weighted ciphertext addition instead of a
     * crossing of Flink's network stack (3.8× the bytes of a float32 update). {@code bench/run
     * --only ckks} times CKKS rounds with and without ({@code aggregation.pre-aggregate: false}):
     * docs/benchmarks.md.
     */
    @Override
    public boolean preAggregates() {
        return true;
    }

    @Override
    public String name() {
        return "secure-sum(" + backend + ", " + preset + ")";
    }

    @Override
    public Set<Payload.Kind> acceptedPayloads() {
        return CIPHERTEXT_ONLY;
    }

    /** The running encrypted sums of a round at a shard, and the plaintext weight total. */
    public static final class Sums {
        final String backend;
        final String preset;

        /** Null until the first contribution; one per ciphertext position. */
        CiphertextSum[] sums;

        /** The key pair all terms are under, and each position's value count. */
        byte[] keyId;

        int[] valueCounts;
        double totalWeight;

        Sums(String backend, String preset) {
            this.backend = backend;
            this.preset = preset;
        }

        public double totalWeight() {
            return totalWeight;
        }

        /** How many contributions were added (merged ones included). */
        public int terms() {
            return sums == null ? 0 : sums[0].terms();
        }

        HeContext he() {
            return context(backend, preset);
        }
    }

    @Override
    public Sums createAccumulator() {
        return new Sums(backend, preset);
    }

    @Override
    public void add(Sums acc, String learner, Payload payload, double weight) {
        List<Ciphertext> cts = checkedCiphertexts(acc.he(), payload);
        int[] counts = new int[cts.size()];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = cts.get(i).valueCount();
        }
        byte[] keyId = cts.isEmpty() ? new byte[0] : cts.get(0).keyId();
        if (acc.sums == null) {
            if (cts.isEmpty()) {
                throw new IllegalArgumentException("a ciphertext payload without ciphertexts");
            }
            acc.sums = new CiphertextSum[cts.size()];
            for (int i = 0; i < cts.size(); i++) {
                acc.sums[i] = acc.he().newSum();
            }
            acc.keyId = keyId;
            acc.valueCounts = counts;
        } else {
            requireSameShape(acc, keyId, counts, "learner " + learner + "'s update");
        }
        // Everything is checked before the first position changes: an update counts whole or not.
        for (int i = 0; i < cts.size(); i++) {
            acc.sums[i].add(cts.get(i), weight);
        }
        acc.totalWeight += weight;
    }

    /**
     * The ciphertexts of a payload, checked against the rule's backend and parameters and against
     * each other (one key). What the gateway checks before it accepts an update, too.
     *
     * @throws IllegalArgumentException naming what is wrong (a {@link
     *     org.metisfl.crypto.MalformedCiphertextException} for bytes that are no ciphertexts, an
     *     {@link IncompatibleCiphertextException} for another backend, parameters or key)
     */
    static List<Ciphertext> checkedCiphertexts(HeContext he, Payload payload) {
        if (payload.kind() != Payload.Kind.CIPHERTEXT) {
            throw new IllegalArgumentException(
                    "secure-aggregation: ckks aggregates encrypted updates only, got "
                            + payload
                            + "; give the learner the federation's key bundle so it encrypts its"
                            + " updates");
        }
        if (!payload.scheme().equals(he.backendId())) {
            throw new IncompatibleCiphertextException(
                    "ciphertexts of backend '"
                            + payload.scheme()
                            + "', the federation uses '"
                            + he.backendId()
                            + "'");
        }
        String hash = parameterHash(he);
        if (!payload.parameterHash().equalsIgnoreCase(hash)) {
            throw new IncompatibleCiphertextException(
                    "ciphertexts with parameter hash "
                            + payload.parameterHash()
                            + ", the federation's parameters ("
                            + he.parameters()
                            + ") hash to "
                            + hash);
        }
        ShardCiphertexts shard = ShardCiphertexts.decode(payload.ciphertext());
        List<Ciphertext> cts = new ArrayList<>(shard.count());
        long values = 0;
        for (byte[] bytes : shard.ciphertexts()) {
            Ciphertext c = he.deserializeCiphertext(bytes);
            if (!cts.isEmpty() && !Arrays.equals(c.keyId(), cts.get(0).keyId())) {
                throw new IncompatibleCiphertextException(
                        "the ciphertexts of one update are under different keys");
            }
            values += c.valueCount();
            cts.add(c);
        }
        if (values != payload.size()) {
            throw new IllegalArgumentException(
                    "the payload claims "
                            + payload.size()
                            + " values, its "
                            + cts.size()
                            + " ciphertexts carry "
                            + values);
        }
        return cts;
    }

    private static void requireSameShape(Sums acc, byte[] keyId, int[] counts, String what) {
        if (counts.length != acc.sums.length || !Arrays.equals(counts, acc.valueCounts)) {
            throw new IllegalArgumentException(
                    what
                            + " has "
                            + counts.length
                            + " ciphertexts of "
                            + Arrays.toString(counts)
                            + " values, the round's shard has "
                            + acc.sums.length
                            + " of "
                            + Arrays.toString(acc.valueCounts));
        }
        if (!Arrays.equals(keyId, acc.keyId)) {
            throw new IncompatibleCiphertextException(
                    what
                            + " is encrypted under another key (id "
                            + HexFormat.of().formatHex(keyId)
                            + ") than the round's (id "
                            + HexFormat.of().formatHex(acc.keyId)
                            + "); every learner needs the federation's key bundle");
        }
    }

    @Override
    public Sums merge(Sums a, Sums b) {
        if (a.sums == null) {
            return b;
        }
        if (b.sums == null) {
            return a;
        }
        requireSameShape(a, b.keyId, b.valueCounts, "a partial sum");
        for (int i = 0; i < a.sums.length; i++) {
            a.sums[i].merge(b.sums[i]);
        }
        a.totalWeight += b.totalWeight;
        return a;
    }

    @Override
    public Payload result(Sums acc) {
        if (acc.sums == null) {
            throw new IllegalStateException("secure sum: no contribution to add");
        }
        HeContext he = acc.he();
        List<byte[]> out = new ArrayList<>(acc.sums.length);
        int values = 0;
        for (int i = 0; i < acc.sums.length; i++) {
            out.add(he.serialize(acc.sums[i].result()));
            values += acc.valueCounts[i];
        }
        return Payload.ciphertext(
                he.backendId(),
                parameterHash(he),
                values,
                new ShardCiphertexts(acc.totalWeight, out).encode());
    }

    @Override
    public TypeSerializer<Sums> accumulatorSerializer() {
        return new SumsSerializer();
    }

    /**
     * Format 1: backend id, preset, has-sums flag; then the key id, the position count, per
     * position its value count, term count and serialized sum (a snapshot of {@link
     * CiphertextSum#result()}, resumed with {@link CiphertextSum#merge(Ciphertext, int)}); the
     * weight total. Ciphertexts only: a checkpoint holds no plaintext and no key.
     */
    public static final class SumsSerializer extends StateSerializer<Sums> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Sums createInstance() {
            return new Sums(HeBackends.DEFAULT_BACKEND, "n13-q120");
        }

        @Override
        public Sums copy(Sums from) {
            Sums to = new Sums(from.backend, from.preset);
            to.totalWeight = from.totalWeight;
            if (from.sums != null) {
                HeContext he = from.he();
                to.keyId = from.keyId.clone();
                to.valueCounts = from.valueCounts.clone();
                to.sums = new CiphertextSum[from.sums.length];
                for (int i = 0; i < from.sums.length; i++) {
                    to.sums[i] = he.newSum();
                    to.sums[i].merge(from.sums[i]);
                }
            }
            return to;
        }

        @Override
        protected void write(Sums value, DataOutputView out) throws IOException {
            out.writeUTF(value.backend);
            out.writeUTF(value.preset);
            out.writeBoolean(value.sums != null);
            if (value.sums != null) {
                HeContext he = value.he();
                out.writeInt(value.keyId.length);
                out.write(value.keyId);
                out.writeInt(value.sums.length);
                for (int i = 0; i < value.sums.length; i++) {
                    out.writeInt(value.valueCounts[i]);
                    out.writeInt(value.sums[i].terms());
                    byte[] bytes = he.serialize(value.sums[i].result());
                    out.writeInt(bytes.length);
                    out.write(bytes);
                }
            }
            out.writeDouble(value.totalWeight);
        }

        @Override
        protected Sums read(int version, DataInputView in) throws IOException {
            Sums s = new Sums(in.readUTF(), in.readUTF());
            if (in.readBoolean()) {
                HeContext he = s.he();
                s.keyId = new byte[in.readInt()];
                in.readFully(s.keyId);
                int n = in.readInt();
                s.valueCounts = new int[n];
                s.sums = new CiphertextSum[n];
                for (int i = 0; i < n; i++) {
                    s.valueCounts[i] = in.readInt();
                    int terms = in.readInt();
                    byte[] bytes = new byte[in.readInt()];
                    in.readFully(bytes);
                    s.sums[i] = he.newSum();
                    s.sums[i].merge(he.deserializeCiphertext(bytes), terms);
                }
            }
            s.totalWeight = in.readDouble();
            return s;
        }
    }
}
