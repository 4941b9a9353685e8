package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.model.Payload;

/**
 * The secure sum against plaintext FedAvg: the test plays the learners (it holds the key, encrypts
 * and decrypts), the rule plays the job (no key).
 */
class SecureSumTest {

    private static final String BACKEND = HeBackends.DEFAULT_BACKEND;
    private static final String PRESET = "n13-q120";

    /**
     * crypto/README.md: 1e-6 relative (infinity norm) on 1,000-update sums; a few are far below.
     */
    private static final double TOLERANCE = 1e-6;

    private static final HeContext HE = HeBackends.context(BACKEND, PRESET);
    private static final KeyPair KEYS = HE.generateKeys();

    /** One ciphertext and a bit: a shard that ends a model in a partial ciphertext. */
    private static final int LENGTH = HE.valuesPerCiphertext() + 100;

    private final SecureSum rule = new SecureSum(BACKEND, PRESET);

    static Payload encrypt(HeContext he, KeyPair keys, float[] values) {
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : he.encrypt(keys.secretKey(), values)) {
            cts.add(he.serialize(c));
        }
        return Payload.ciphertext(
                he.backendId(),
                HexFormat.of().formatHex(he.parameterHash()),
                values.length,
                ShardCiphertexts.update(cts).encode());
    }

    /** What a learner does with the global shard: decrypt the sum, divide by the weight total. */
    static double[] decryptMean(Payload global) {
        ShardCiphertexts shard = ShardCiphertexts.decode(global.ciphertext());
        List<Ciphertext> cts = new ArrayList<>();
        for (byte[] b : shard.ciphertexts()) {
            cts.add(HE.deserializeCiphertext(b));
        }
        double[] sum = HE.decrypt(KEYS.secretKey(), cts);
        for (int j = 0; j < sum.length; j++) {
            sum[j] /= shard.weightSum();
        }
        return sum;
    }

    static double[] plaintextMean(float[][] u, double[] w) {
        double[] s = new double[u[0].length];
        double total = 0;
        for (int i = 0; i < u.length; i++) {
            total += w[i];
            for (int j = 0; j < s.length; j++) {
                s[j] += w[i] * u[i][j];
            }
        }
        for (int j = 0; j < s.length; j++) {
            s[j] /= total;
        }
        return s;
    }

    static void assertClose(double[] got, double[] want) {
        assertThat(got).hasSameSizeAs(want);
        double maxErr = 0;
        double maxAbs = 0;
        for (int j = 0; j < want.length; j++) {
            maxErr = Math.max(maxErr, Math.abs(got[j] - want[j]));
            maxAbs = Math.max(maxAbs, Math.abs(want[j]));
        }
        assertThat(maxErr / maxAbs).isLessThan(TOLERANCE);
    }

    @Test
    void decryptedResultIsThePlaintextWeightedMean() {
        float[][] u = RuleTestData.updates(11, 4, LENGTH);
        double[] w = {120, 35, 7, 600}; // example counts
        SecureSum.Sums acc = rule.createAccumulator();
        for (int i = 0; i < u.length; i++) {
            rule.add(acc, "l" + i, encrypt(HE, KEYS, u[i]), w[i]);
        }
        Payload global = rule.result(acc);
        assertThat(global.kind()).isEqualTo(Payload.Kind.CIPHERTEXT);
        assertThat(global.size()).isEqualTo(LENGTH);
        assertThat(ShardCiphertexts.decode(global.ciphertext()).weightSum()).isEqualTo(762.0);
        assertThat(acc.terms()).isEqualTo(4);
        assertClose(decryptMean(global), plaintextMean(u, w));
    }

    @Test
    void mergingPartialSumsInAnyGroupingGivesTheSameModel() {
        float[][] u = RuleTestData.updates(12, 3, LENGTH);
        double[] w = {3, 1, 5};
        SecureSum.Sums[] parts = new SecureSum.Sums[3];
        for (int i = 0; i < 3; i++) {
            parts[i] = rule.createAccumulator();
            rule.add(parts[i], "l" + i, encrypt(HE, KEYS, u[i]), w[i]);
        }
        TypeSerializerCopy copy = new TypeSerializerCopy(rule);
        SecureSum.Sums left =
                rule.merge(rule.merge(copy.of(parts[0]), copy.of(parts[1])), copy.of(parts[2]));
        SecureSum.Sums right =
                rule.merge(copy.of(parts[0]), rule.merge(copy.of(parts[1]), copy.of(parts[2])));
        SecureSum.Sums withEmpty = rule.merge(rule.createAccumulator(), copy.of(left));
        double[] want = plaintextMean(u, w);
        byte[] leftBytes = rule.result(left).ciphertext();
        // Modular integer sums: any grouping gives bit-identical ciphertexts.
        assertThat(rule.result(right).ciphertext()).isEqualTo(leftBytes);
        assertThat(rule.result(withEmpty).ciphertext()).isEqualTo(leftBytes);
        assertThat(left.totalWeight()).isEqualTo(9);
        assertClose(decryptMean(rule.result(left)), want);
    }

    @Test
    void accumulatorSurvivesASavepointAndTheRoundGoesOn() throws Exception {
        float[][] u = RuleTestData.updates(13, 3, LENGTH);
        double[] w = {2, 4, 8};
        SecureSum.Sums acc = rule.createAccumulator();
        rule.add(acc, "l0", encrypt(HE, KEYS, u[0]), w[0]);
        rule.add(acc, "l1", encrypt(HE, KEYS, u[1]), w[1]);
        SecureSum.Sums back = RuleTestData.throughSavepoint(rule.accumulatorSerializer(), acc);
        assertThat(rule.result(back).ciphertext()).isEqualTo(rule.result(acc).ciphertext());
        assertThat(back.terms()).isEqualTo(2);
        rule.add(back, "l2", encrypt(HE, KEYS, u[2]), w[2]);
        assertClose(decryptMean(rule.result(back)), plaintextMean(u, w));

        SecureSum.Sums empty =
                RuleTestData.throughSavepoint(
                        rule.accumulatorSerializer(), rule.createAccumulator());
        assertThat(empty.terms()).isZero();
    }

    @Test
    void refusesPlaintextUpdatesWithAnActionableReason() {
        SecureSum.Sums acc = rule.createAccumulator();
        assertThatThrownBy(() -> rule.add(acc, "l0", Payload.dense(new float[] {1f}), 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("encrypted updates only")
                .hasMessageContaining("key bundle");
    }

    @Test
    void refusesForeignBackendOtherParametersAndMalformedBytesWithoutChangingTheSum() {
        float[][] u = RuleTestData.updates(14, 2, LENGTH);
        SecureSum.Sums acc = rule.createAccumulator();
        rule.add(acc, "l0", encrypt(HE, KEYS, u[0]), 1);
        byte[] before = rule.result(acc).ciphertext();
        Payload good = encrypt(HE, KEYS, u[1]);

        Payload foreign =
                Payload.ciphertext(
                        "openfhe-ckks", good.parameterHash(), good.size(), good.ciphertext());
        assertThatThrownBy(() -> rule.add(acc, "l1", foreign, 1))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("openfhe-ckks");

        HeContext other = HeBackends.context(BACKEND, "n13-q180");
        Payload otherParams = encrypt(other, other.generateKeys(), u[1]);
        assertThatThrownBy(() -> rule.add(acc, "l1", otherParams, 1))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("parameter hash");

        byte[] truncated = Arrays.copyOf(good.ciphertext(), good.ciphertext().length - 7);
        assertThatThrownBy(
                        () ->
                                rule.add(
                                        acc,
                                        "l1",
                                        Payload.ciphertext(
                                                good.scheme(),
                                                good.parameterHash(),
                                                good.size(),
                                                truncated),
                                        1))
                .isInstanceOf(MalformedCiphertextException.class);

        assertThat(rule.result(acc).ciphertext()).isEqualTo(before);
        assertThat(acc.terms()).isEqualTo(1);
    }

    @Test
    void refusesAnotherCiphertextCountOrAnotherKey() {
        float[][] u = RuleTestData.updates(15, 2, LENGTH);
        SecureSum.Sums acc = rule.createAccumulator();
        rule.add(acc, "l0", encrypt(HE, KEYS, u[0]), 1);

        Payload oneCiphertext = encrypt(HE, KEYS, Arrays.copyOf(u[1], 100));
        assertThatThrownBy(() -> rule.add(acc, "l1", oneCiphertext, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 1 ciphertexts")
                .hasMessageContaining("has 2 of");

        Payload lying =
                Payload.ciphertext(
                        oneCiphertext.scheme(),
                        oneCiphertext.parameterHash(),
                        LENGTH,
                        oneCiphertext.ciphertext());
        assertThatThrownBy(() -> rule.add(acc, "l1", lying, 1))
                .hasMessageContaining("claims " + LENGTH + " values");

        Payload otherKey = encrypt(HE, HE.generateKeys(), u[1]);
        assertThatThrownBy(() -> rule.add(acc, "l1", otherKey, 1))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("another key");
        assertThat(acc.terms()).isEqualTo(1);
    }

    @Test
    void configurationBuildsTheSecureSumAndRefusesRulesThatNeedPlaintext() {
        assertThat(Rules.of(FederationConfig.of(Map.of("secure-aggregation", "ckks"))))
                .isInstanceOf(SecureSum.class);
        assertThat(
                        Rules.of(
                                        FederationConfig.of(
                                                Map.of(
                                                        "secure-aggregation", "ckks",
                                                        "secure-aggregation.preset", "n14-q180")))
                                .name())
                .isEqualTo("secure-sum(metisfl-ckks, n14-q180)");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "aggregation.rule",
                                                "median")))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("aggregation.rule")
                .hasMessageContaining("cannot work on ciphertexts");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "optimizer.type",
                                                "fedadam")))
                .hasMessageContaining("optimizer.type");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "protocol.type",
                                                "asynchronous")))
                .hasMessageContaining("async.rule")
                .hasMessageContaining("fedasync")
                .hasMessageContaining("use async.rule: fedbuff");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation", "ckks",
                                                "protocol.type", "asynchronous",
                                                "async.rule", "fedrec")))
                .hasMessageContaining("async.rule");
        assertThat(
                        Rules.async(
                                org.metisfl.flink.config.RuleOptions.of(
                                        FederationConfig.of(
                                                Map.of(
                                                        "secure-aggregation", "ckks",
                                                        "protocol.type", "asynchronous",
                                                        "async.rule", "fedbuff")))))
                .isInstanceOf(SecureFedBuff.class);
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "privacy.mechanism",
                                                "central-dp")))
                .hasMessageContaining("privacy.mechanism");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "aggregation.shard-size",
                                                "10000")))
                .hasMessageContaining("aggregation.shard-size")
                .hasMessageContaining("multiple of 8192");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "secure-aggregation.backend",
                                                "nope")))
                .hasMessageContaining("secure-aggregation.backend")
                .hasMessageContaining("metisfl-ckks");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation",
                                                "ckks",
                                                "secure-aggregation.preset",
                                                "n12")))
                .hasMessageContaining("n13-q120");
    }

    @Test
    void yamlSpellsTheSchemeAndItsDottedKeysSideBySide(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path yaml = dir.resolve("ckks.yaml");
        java.nio.file.Files.writeString(
                yaml,
                "federation: {name: ckks}\n"
                        + "secure-aggregation: ckks\n"
                        + "secure-aggregation.preset: n13-q180\n");
        FederationConfig c = org.metisfl.flink.config.FederationConfigLoader.load(yaml, Map.of());
        assertThat(c.secureAggregation())
                .isEqualTo(org.metisfl.flink.config.FederationOptions.SecureAggregation.CKKS);
        assertThat(c.hePreset()).isEqualTo("n13-q180");
        assertThat(c.heBackend()).isEqualTo(BACKEND);
    }

    /** Deep copies through the rule's serializer (what the heap backend does). */
    private static final class TypeSerializerCopy {
        private final SecureSum rule;

        TypeSerializerCopy(SecureSum rule) {
            this.rule = rule;
        }

        SecureSum.Sums of(SecureSum.Sums s) {
            return rule.accumulatorSerializer().copy(s);
        }
    }
}
