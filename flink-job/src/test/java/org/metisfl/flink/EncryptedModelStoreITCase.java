package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.metisfl.flink.DecryptedModels.assertClose;
import static org.metisfl.flink.DecryptedModels.fedAvg;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.connector.store.EncryptedVersionException;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.CkksTestLearner.EncryptedModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The model store of a CKKS federation (MiniCluster, real gRPC on 127.0.0.1, RocksDB): every
 * version is stored as the ciphertexts learners download, byte for byte, with the encryption
 * metadata learners are told; the stored versions decrypt to plaintext FedAvg of the updates; a new
 * federation under the same key starts from a stored version and serves the same ciphertexts; a
 * federation under another key, a plaintext one and an asynchronous one are refused at submit.
 */
class EncryptedModelStoreITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SHARD = 8192; // n13-q120: one ciphertext per shard
    private static final int N = SHARD + 3000; // two shards, the last one short
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 100, 80), RawLearner.spec("b", N - 8000));
    private static final List<TensorSpecInfo> TENSORS =
            List.of(
                    new TensorSpecInfo("w", new long[] {100, 80}),
                    new TensorSpecInfo("b", new long[] {N - 8000}));

    @TempDir Path work;

    private static float[] update(int seed) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.cos(0.003 * i * (seed + 1)) * (seed + 1) - 0.2 * seed);
        }
        return v;
    }

    private Map<String, String> settings(Path keyDir, String name, String initialModel) {
        Map<String, String> s = new HashMap<>();
        s.put("federation.name", name);
        s.put("federation.rounds", "2");
        s.put("federation.min-learners", "2");
        s.put("federation.initial-model", initialModel);
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.preset", "n13-q120");
        s.put("secure-aggregation.public-key", keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        s.put("evaluation.enabled", "false");
        s.put("job.state-backend", "rocksdb");
        s.put("model-store.path", work.resolve("store").toUri().toString());
        return s;
    }

    /** A stored version's values, decrypted shard by shard as a learner decrypts a download. */
    static float[] decrypt(KeyBundle keys, StoredModel meta, byte[] ciphertexts) {
        float[] out = new float[(int) meta.values];
        int off = 0;
        int pos = 0;
        for (long l : meta.encryption.shardBytes) {
            int len = (int) l;
            float[] v = keys.decryptShard(Arrays.copyOfRange(ciphertexts, off, off + len));
            System.arraycopy(v, 0, out, pos, v.length);
            pos += v.length;
            off += len;
        }
        assertThat(pos).isEqualTo(N);
        return out;
    }

    @Test
    void storesCiphertextsAsServedDecryptingToFedAvgAndANewFederationStartsFromOne()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        Path modelFile = work.resolve("initial.model");
        float[] initial = update(9);
        ModelCodec.writeModelFile(modelFile, TENSORS, initial);
        List<Long> weights = List.of(10L, 30L);
        List<List<float[]>> updates =
                List.of(List.of(update(1), update(2)), List.of(update(3), update(4)));
        List<EncryptedModel> served = new ArrayList<>();
        List<float[]> decrypted = new ArrayList<>();
        try (FederationHarness h =
                FederationHarness.start(
                        work.resolve("run"), settings(keyDir, "sealed", modelFile.toString()))) {
            List<CkksTestLearner> ls = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                    l.raw().join("l" + i, weights.get(i));
                    l.raw().openTaskStream();
                    ls.add(l);
                }
                for (int round = 1; round <= 2; round++) {
                    for (CkksTestLearner l : ls) {
                        assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound())
                                .isEqualTo(round);
                    }
                    EncryptedModel m = ls.get(round - 1).download();
                    assertThat(m.header().getModelVersion()).isEqualTo(round - 1);
                    served.add(m);
                    decrypted.add(ls.get(round - 1).decrypt(m));
                    for (int i = 0; i < 2; i++) {
                        assertThat(
                                        ls.get(i)
                                                .submit(
                                                        round,
                                                        SPECS,
                                                        updates.get(round - 1).get(i),
                                                        weights.get(i))
                                                .getStatus())
                                .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
                    }
                }
                h.awaitCompletion(WAIT);
            } finally {
                for (CkksTestLearner l : ls) {
                    l.close();
                }
            }
        }

        ModelStore store = ModelStore.open(work.resolve("store").toUri().toString(), "sealed");
        assertThat(store.versions()).containsExactly(0L, 1L, 2L);
        for (int v = 0; v <= 1; v++) {
            EncryptedModel m = served.get(v);
            StoredModel meta = store.metadata(v);
            assertThat(store.ciphertexts(v))
                    .as("v%d as the learners downloaded it", v)
                    .isEqualTo(m.bytes());
            assertThat(meta.encryption.backendId)
                    .isEqualTo(m.header().getEncryption().getBackendId());
            assertThat(meta.encryption.parameterHash)
                    .isEqualTo(m.header().getEncryption().getParameterHash())
                    .isEqualTo(keys.parameterHash());
            assertThat(meta.encryption.preset).isEqualTo("n13-q120");
            assertThat(meta.encryption.shardSize).isEqualTo(SHARD);
            assertThat(meta.encryption.keyId)
                    .isEqualTo(m.header().getEncryption().getKeyId())
                    .isEqualTo(keys.keyId());
            assertThat(meta.encryption.shardBytes)
                    .isEqualTo(m.header().getEncryption().getShardBytesList());
            assertThat(meta.encryption.weightSum)
                    .isEqualTo(ShardCiphertexts.decode(m.shards().get(1)).weightSum());
            assertThat(meta.values).isEqualTo(N);
            assertThat(meta.tensors).extracting(t -> t.name).containsExactly("w", "b");
            assertThat(decrypt(keys, meta, store.ciphertexts(v)))
                    .as("v%d decrypted equals what the learner decrypted", v)
                    .isEqualTo(decrypted.get(v));
        }
        assertThat(store.metadata(0).encryption.weightSum).isEqualTo(1.0);
        assertThat(store.metadata(1).encryption.weightSum).isEqualTo(40.0);
        assertThat(store.metadata(1).contributors).hasSize(2);
        assertClose(decrypt(keys, store.metadata(0), store.ciphertexts(0)), initial, 10);
        // v2 was never downloaded: FedAvg of round 2's updates, computed here.
        StoredModel v2 = store.metadata(2);
        float[] v2Values = decrypt(keys, v2, store.ciphertexts(2));
        assertClose(v2Values, fedAvg(updates.get(1), weights), 10);
        assertThatThrownBy(() -> store.read(1))
                .isInstanceOf(EncryptedVersionException.class)
                .hasMessageContaining("encrypted")
                .hasMessageContaining(keys.keyId());
        Path storeDir = Path.of(store.directory().toUri());
        assertThat(storeDir.resolve("v000000000001.ckks")).exists();
        assertThat(storeDir.resolve("v000000000001.model")).doesNotExist();

        // A new federation under the same key starts from the stored v2, serving its ciphertexts.
        Path storedV2 = storeDir.resolve("v000000000002.ckks");
        try (FederationHarness h2 =
                        FederationHarness.start(
                                work.resolve("again"),
                                settings(keyDir, "resealed", storedV2.toString()));
                CkksTestLearner l = new CkksTestLearner(h2.learner(0), keys, h2.port(0), SHARD);
                CkksTestLearner k = new CkksTestLearner(h2.learner(0), keys, h2.port(0), SHARD)) {
            l.raw().join("a", 10);
            k.raw().join("b", 10);
            l.raw().openTaskStream();
            k.raw().openTaskStream();
            assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            EncryptedModel v0 = l.download();
            assertThat(v0.header().getModelVersion()).isZero();
            assertThat(v0.bytes()).isEqualTo(store.ciphertexts(2));
            assertThat(l.decrypt(v0)).isEqualTo(v2Values);
        }

        // Refused at submit, each with its reason.
        Path otherKeys = work.resolve("other-keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(otherKeys);
        assertRefused(settings(otherKeys, "x", storedV2.toString()), "wrong key", keys.keyId());
        Map<String, String> plain = settings(keyDir, "x", storedV2.toString());
        plain.remove("secure-aggregation");
        plain.remove("secure-aggregation.preset");
        plain.remove("secure-aggregation.public-key");
        assertRefused(plain, "a plaintext federation cannot start from it", "--key");
        Map<String, String> async = settings(keyDir, "x", storedV2.toString());
        async.put("protocol.type", "asynchronous");
        async.put("async.rule", "fedbuff");
        assertRefused(async, "asynchronous (FedBuff)", "synchronous");
    }

    private static void assertRefused(Map<String, String> settings, String reason, String hint) {
        Map<String, String> s = new HashMap<>(settings);
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        FederationConfig config = FederationConfig.of(s);
        assertThatThrownBy(
                        () ->
                                FederationPipeline.build(
                                        StreamExecutionEnvironment.getExecutionEnvironment(),
                                        config))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("federation.initial-model")
                .hasMessageContaining(reason)
                .hasMessageContaining(hint);
    }
}
