package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.AsyncContext;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.AsyncUpdate;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.Latest;
import org.metisfl.flink.model.Payload;

/**
 * FedBuff over ciphertexts on one shard: the encrypted model moves by η·s(τ)/K times each buffered
 * encrypted delta, every term weighted once; the decrypted versions equal plaintext FedBuff (in
 * double, computed here) within 1e-6 of the values' magnitude, across several versions and a
 * checkpoint of the buffer in the middle.
 */
class SecureFedBuffTest {
    private static final String BACKEND = HeBackends.DEFAULT_BACKEND;
    private static final String PRESET = "n13-q120";
    private static final HeContext HE = HeBackends.context(BACKEND, PRESET);
    private static final KeyPair KEYS = HE.generateKeys();
    private static final int LENGTH = HE.valuesPerCiphertext() + 100;
    private static final double TOLERANCE = 1e-6;

    private static float[] vector(int seed) {
        float[] v = new float[LENGTH];
        for (int i = 0; i < LENGTH; i++) {
            v[i] = (float) (Math.sin(0.01 * i * (seed + 1)) * (seed + 1) - 0.2 * seed);
        }
        return v;
    }

    /** The job-encrypted initial model: fresh public-key ciphertexts, weight sum 1. */
    private static Payload initialModel(float[] values) {
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : HE.encrypt(KEYS.publicKey(), values)) {
            cts.add(HE.serialize(c));
        }
        return Payload.ciphertext(
                BACKEND,
                SecureSum.parameterHash(HE),
                values.length,
                new ShardCiphertexts(1.0, cts).encode());
    }

    private static final class Shard implements AsyncContext {
        Payload global;
        long version;

        @Override
        public long version() {
            return version;
        }

        @Override
        public Payload global() {
            return global;
        }

        @Override
        public void setGlobal(Payload model) {
            global = model;
        }

        @Override
        public Payload modelAt(long v) {
            throw new AssertionError("FedBuff over ciphertexts needs no old version");
        }

        @Override
        public Latest latest(String learner) {
            throw new AssertionError();
        }

        @Override
        public void keepLatest(String learner, Latest latest) {
            throw new AssertionError();
        }

        @Override
        public void dropTooStale() {
            throw new AssertionError("an accepted update counts");
        }
    }

    private static SecureFedBuff.Buffer roundTrip(SecureFedBuff.Buffer b) throws Exception {
        SecureFedBuff.BufferSerializer ser = new SecureFedBuff.BufferSerializer();
        DataOutputSerializer out = new DataOutputSerializer(1 << 20);
        ser.serialize(b, out);
        return ser.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }

    private static void assertClose(Payload global, double[] expected) {
        ShardCiphertexts shard = ShardCiphertexts.decode(global.ciphertext());
        assertThat(shard.weightSum()).isEqualTo(1.0);
        List<Ciphertext> cts = new ArrayList<>();
        for (byte[] b : shard.ciphertexts()) {
            cts.add(HE.deserializeCiphertext(b));
        }
        double[] actual = HE.decrypt(KEYS.secretKey(), cts);
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        assertThat(worst).as("largest error").isLessThanOrEqualTo(TOLERANCE * scale);
    }

    @Test
    void versionsDecryptToPlaintextFedBuffAcrossACheckpoint() throws Exception {
        int k = 3;
        double eta = 0.7;
        SecureFedBuff rule = new SecureFedBuff(k, eta, BACKEND, PRESET);
        float[] m0 = vector(9);
        double[] expected = new double[LENGTH];
        for (int i = 0; i < LENGTH; i++) {
            expected[i] = m0[i];
        }
        Shard shard = new Shard();
        shard.global = initialModel(m0);
        SecureFedBuff.Buffer state = rule.createState();
        double[] staleness = {1.0, 0.5, 1 / 3.0, 1.0, 0.25, 1.0};
        for (int u = 0; u < 6; u++) {
            float[] delta = vector(u);
            List<String> made =
                    rule.apply(
                            state,
                            shard,
                            new AsyncUpdate(
                                    "l" + u,
                                    SecureSumTest.encrypt(HE, KEYS, delta),
                                    10,
                                    staleness[u],
                                    0));
            double w = eta * staleness[u] / k;
            for (int i = 0; i < LENGTH; i++) {
                expected[i] += w * delta[i];
            }
            if (u % k == k - 1) {
                assertThat(made).hasSize(k).containsExactly("l" + (u - 2), "l" + (u - 1), "l" + u);
                assertClose(shard.global, expected);
            } else {
                assertThat(made).isNull();
                state = roundTrip(state); // a checkpoint with deltas buffered
            }
        }
        assertThat(state.buffered()).isZero();
    }

    @Test
    void refusesPlaintextUpdatesAndOtherKeys() {
        SecureFedBuff rule = new SecureFedBuff(2, 1.0, BACKEND, PRESET);
        Shard shard = new Shard();
        shard.global = initialModel(vector(1));
        SecureFedBuff.Buffer state = rule.createState();
        assertThatThrownBy(
                        () ->
                                rule.apply(
                                        state,
                                        shard,
                                        new AsyncUpdate("a", Payload.dense(vector(2)), 1, 1, 0)))
                .hasMessageContaining("CIPHERTEXT");
        rule.apply(
                state,
                shard,
                new AsyncUpdate("a", SecureSumTest.encrypt(HE, KEYS, vector(2)), 1, 1, 0));
        Payload otherKey = SecureSumTest.encrypt(HE, HE.generateKeys(), vector(3));
        assertThatThrownBy(() -> rule.apply(state, shard, new AsyncUpdate("b", otherKey, 1, 1, 0)))
                .hasMessageContaining("another key");
        assertThat(state.buffered()).isEqualTo(1);
    }
}
