package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.metisfl.flink.DecryptedModels.assertClose;
import static org.metisfl.flink.DecryptedModels.fedAvg;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.CkksTestLearner.EncryptedModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Secure aggregation with CKKS through the whole job (MiniCluster, real gRPC on 127.0.0.1,
 * RocksDB): learners encrypt their updates with a shared key bundle, the job adds weighted
 * ciphertexts without any key, and the model learners download decrypts to plaintext FedAvg of the
 * same updates. The model spans three shards of whole ciphertexts (8192 values each, the last one
 * partial).
 */
class SecureAggregationITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SHARD = 8192; // n13-q120: one ciphertext per shard
    private static final int N = 2 * SHARD + 3616; // three shards, the last one short
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 100, 150), RawLearner.spec("b", N - 15000));

    @TempDir Path work;

    private static float[] update(int seed) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.sin(0.001 * i * (seed + 1)) * (seed + 2) - 0.3 * seed);
        }
        return v;
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static void assertRefused(
            Runnable upload, Status.Code code, String reason, List<String> seen) {
        assertThatThrownBy(upload::run)
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(code);
                            assertThat(e.getStatus().getDescription()).startsWith(reason);
                            seen.add(e.getStatus().getDescription());
                        });
    }

    private Map<String, String> ckks(Path keys) {
        Map<String, String> s = new HashMap<>();
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.preset", "n13-q120");
        s.put("secure-aggregation.public-key", keys.resolve(KeyBundle.PUBLIC_FILE).toString());
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        s.put("evaluation.enabled", "false");
        s.put("job.state-backend", "rocksdb");
        return s;
    }

    @Test
    void encryptedRoundsDecryptToFedAvgRefuseBadCiphertextsAndResumeFromASavepoint()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        KeyBundle stranger = KeyBundle.generate("metisfl-ckks", "n13-q120");
        float[] initial = update(7);
        Path modelFile = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                modelFile,
                List.of(
                        new TensorSpecInfo("w", new long[] {100, 150}),
                        new TensorSpecInfo("b", new long[] {N - 15000})),
                initial);
        Map<String, String> settings = ckks(keyDir);
        settings.put("federation.initial-model", modelFile.toString());
        settings.put("federation.rounds", "3");
        settings.put("federation.min-learners", "3");
        List<float[]> ups = List.of(update(1), update(2), update(3));
        List<Long> weights = List.of(10L, 20L, 30L);
        String savepoint;
        String v1Hash;
        float[] v1;
        FederationHarness h = FederationHarness.start(work.resolve("run"), settings);
        // The model path: each aggregator subtask's encrypted shards go to the gateway directly.
        assertThat(FederationPipeline.modelAtShards(h.config())).isTrue();
        List<CkksTestLearner> ls = new ArrayList<>();
        List<org.metisfl.proto.v1.Credentials> creds = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                JoinResponse j = l.raw().join("l" + i, weights.get(i));
                Encryption e = j.getEncryption();
                assertThat(e.getBackendId()).isEqualTo("metisfl-ckks");
                assertThat(e.getParameterHash()).isEqualTo(keys.parameterHash());
                assertThat(e.getPreset()).isEqualTo("n13-q120");
                assertThat(e.getShardSize()).isEqualTo(SHARD);
                assertThat(e.getKeyId()).isEqualTo(keys.keyId());
                assertThat(j.getInitialModelRequested()).isFalse();
                l.raw().openTaskStream();
                ls.add(l);
                creds.add(l.raw().credentials());
            }
            for (CkksTestLearner l : ls) {
                assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            }
            // The initial model: the file, encrypted by the job with the public key.
            EncryptedModel v0 = ls.get(0).download();
            assertThat(v0.header().getModelVersion()).isZero();
            assertThat(v0.header().getEncryption().getShardBytesCount()).isEqualTo(3);
            assertThat(v0.header().getEncryption().getKeyId()).isEqualTo(keys.keyId());
            assertThat(ShardCiphertexts.decode(v0.shards().get(0)).weightSum()).isEqualTo(1.0);
            assertClose(ls.get(0).decrypt(v0), initial, 10);

            // Bad uploads, each refused with its reason; the round goes on.
            CkksTestLearner c = ls.get(2);
            List<String> reasons = new ArrayList<>();
            assertRefused(
                    () -> c.raw().submit(1, SPECS, ups.get(2), 30, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "plaintext update to an encrypted federation",
                    reasons);
            List<byte[]> good = c.encryptShards(ups.get(2));
            Encryption enc = c.encryption(good);
            assertRefused(
                    () ->
                            c.raw()
                                    .submitRaw(
                                            c.chunks(
                                                    1,
                                                    SPECS,
                                                    30,
                                                    enc.toBuilder()
                                                            .setParameterHash(
                                                                    "00" + "ab".repeat(31))
                                                            .build(),
                                                    good)),
                    Status.Code.INVALID_ARGUMENT,
                    "wrong parameter hash",
                    reasons);
            assertRefused(
                    () ->
                            c.raw()
                                    .submitRaw(
                                            c.chunks(
                                                    1,
                                                    SPECS,
                                                    30,
                                                    enc.toBuilder()
                                                            .setBackendId("openfhe-ckks")
                                                            .build(),
                                                    good)),
                    Status.Code.INVALID_ARGUMENT,
                    "foreign backend",
                    reasons);
            assertRefused(
                    () ->
                            c.raw()
                                    .submitRaw(
                                            c.chunks(
                                                    1,
                                                    SPECS,
                                                    30,
                                                    c.encryption(good.subList(0, 2)),
                                                    good.subList(0, 2))),
                    Status.Code.INVALID_ARGUMENT,
                    "wrong ciphertext count",
                    reasons);
            List<byte[]> broken = new ArrayList<>(good);
            byte[] b1 = good.get(1).clone();
            b1[0] ^= 0x5a; // the shard's magic
            broken.set(1, b1);
            assertRefused(
                    () -> c.raw().submitRaw(c.chunks(1, SPECS, 30, enc, broken)),
                    Status.Code.INVALID_ARGUMENT,
                    "malformed ciphertext",
                    reasons);
            List<byte[]> foreign = new ArrayList<>();
            for (int from = 0; from < N; from += SHARD) {
                foreign.add(
                        stranger.encryptShard(
                                java.util.Arrays.copyOfRange(
                                        ups.get(2), from, Math.min(N, from + SHARD))));
            }
            assertRefused(
                    () -> c.raw().submitRaw(c.chunks(1, SPECS, 30, c.encryption(foreign), foreign)),
                    Status.Code.INVALID_ARGUMENT,
                    "wrong key",
                    reasons);
            assertThat(reasons).hasSize(6);

            for (int i = 0; i < 3; i++) {
                assertThat(ls.get(i).submit(1, SPECS, ups.get(i), weights.get(i)).getStatus())
                        .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }
            for (CkksTestLearner l : ls) {
                assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            }
            EncryptedModel m1 = ls.get(1).download();
            assertThat(m1.header().getModelVersion()).isEqualTo(1);
            assertThat(m1.header().getTensorsList()).isEqualTo(SPECS);
            assertThat(m1.header().getEncryption().getShardBytesCount()).isEqualTo(3);
            assertThat(ShardCiphertexts.decode(m1.shards().get(2)).weightSum()).isEqualTo(60.0);
            v1 = ls.get(1).decrypt(m1);
            assertClose(v1, fedAvg(ups, weights), 5);
            v1Hash = sha256(m1.bytes());
            assertThat(h.awaitResults(1, WAIT).get(0).contributors).hasSize(3);
            savepoint = h.federation().stopWithSavepoint(work.resolve("savepoints"));
        } finally {
            for (CkksTestLearner l : ls) {
                l.close();
            }
            h.close();
        }

        // Resumed: the same encrypted model, bit for bit, and round 2 goes on.
        FederationHarness r =
                FederationHarness.resume(work.resolve("resumed"), h.config(), savepoint);
        ls.clear();
        try {
            for (int i = 0; i < 3; i++) {
                CkksTestLearner l = new CkksTestLearner(r.learner(0), keys, r.port(0), SHARD);
                l.raw().useCredentials(creds.get(i));
                l.raw().openTaskStream();
                ls.add(l);
            }
            for (CkksTestLearner l : ls) {
                assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            }
            EncryptedModel again = ls.get(0).download();
            assertThat(again.header().getModelVersion()).isEqualTo(1);
            assertThat(sha256(again.bytes())).isEqualTo(v1Hash);
            List<float[]> ups2 = List.of(update(4), update(5), update(6));
            for (int i = 0; i < 3; i++) {
                ls.get(i).submit(2, SPECS, ups2.get(i), weights.get(i));
            }
            assertThat(ls.get(0).raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(3);
            EncryptedModel m2 = ls.get(0).download();
            assertThat(m2.header().getModelVersion()).isEqualTo(2);
            assertClose(ls.get(0).decrypt(m2), fedAvg(ups2, weights), 8);
        } finally {
            for (CkksTestLearner l : ls) {
                l.close();
            }
            r.close();
        }
    }

    @Test
    void semiSynchronousRoundWithADropoutUnderQuorumDecryptsToTheContributorsMean()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        Map<String, String> settings = ckks(keyDir);
        settings.put("protocol.type", "semi-synchronous");
        settings.put("federation.rounds", "2");
        settings.put("federation.min-learners", "3");
        settings.put("round.timeout", "4 s");
        settings.put("round.quorum", "0.5");
        float[] initial = update(9);
        try (FederationHarness h = FederationHarness.start(work.resolve("run"), settings)) {
            List<CkksTestLearner> ls = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                    JoinResponse j = l.raw().join("l" + i, 50);
                    if (i == 0) {
                        assertThat(j.getInitialModelRequested()).isTrue();
                        // initial-model: first-learner takes the learner's encrypted weights.
                        assertThat(l.submit(0, SPECS, initial, 50).getStatus())
                                .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
                    }
                    l.raw().openTaskStream();
                    ls.add(l);
                }
                for (CkksTestLearner l : ls) {
                    assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
                }
                EncryptedModel v0 = ls.get(1).download();
                assertThat(v0.header().getModelVersion()).isZero();
                assertClose(ls.get(1).decrypt(v0), initial, 10);
                // Learner 2 never answers: the round closes at its deadline with two of three.
                ls.get(0).submit(1, SPECS, update(1), 10);
                ls.get(1).submit(1, SPECS, update(2), 40);
                assertThat(ls.get(0).raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound())
                        .isEqualTo(2);
                assertThat(h.awaitResults(1, WAIT).get(0).contributors).hasSize(2);
                EncryptedModel m1 = ls.get(0).download();
                assertThat(m1.header().getModelVersion()).isEqualTo(1);
                assertClose(
                        ls.get(0).decrypt(m1),
                        fedAvg(List.of(update(1), update(2)), List.of(10L, 40L)),
                        5);
            } finally {
                for (CkksTestLearner l : ls) {
                    l.close();
                }
            }
        }
    }

    @Test
    void theJobRefusesASecretKeyInPlaceOfThePublicParameters() throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        Map<String, String> settings = ckks(keyDir);
        settings.put(
                "secure-aggregation.public-key", keyDir.resolve(KeyBundle.SECRET_FILE).toString());
        assertThatThrownBy(() -> org.metisfl.flink.config.FederationConfig.of(settings))
                .hasMessageContaining("secure-aggregation.public-key")
                .hasMessageContaining("secret key")
                .hasMessageContaining("ckks-public.properties");
        assertThat(Files.exists(keyDir.resolve(KeyBundle.SECRET_FILE))).isTrue();
    }
}
