package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.DecryptedModels.assertClose;

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
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.CkksTestLearner.EncryptedModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.simulator.RawLearner;

/**
 * A CKKS FedBuff federation stopped with a savepoint while its buffer holds one of K = 2 encrypted
 * deltas, then resumed (MiniCluster, real gRPC on 127.0.0.1, RocksDB): the next version is the same
 * ciphertext, bit for bit, as in a run of the same uploads without the stop, and decrypts to
 * plaintext FedBuff of those updates. Both runs upload the very same ciphertext bytes (encrypted
 * once), so every model is deterministic: ciphertext sums are exact modular arithmetic and the
 * weights η·s(τ)/K are encoded the same way.
 */
class SecureFedBuffResumeITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SHARD = 8192;
    private static final int N = SHARD + 2000;
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 80, 100), RawLearner.spec("b", N - 8000));
    private static final double ETA = 0.8;

    @TempDir Path work;

    private static float[] values(int seed, double scale) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (scale * Math.cos(0.0009 * i * (seed + 2) + seed));
        }
        return v;
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private Map<String, String> settings(Path keyDir) {
        Map<String, String> s = new HashMap<>();
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.preset", "n13-q120");
        s.put("secure-aggregation.public-key", keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        s.put("evaluation.enabled", "false");
        s.put("job.state-backend", "rocksdb");
        s.put("protocol.type", "asynchronous");
        s.put("async.rule", "fedbuff");
        s.put("async.buffer-size", "2");
        s.put("async.server-learning-rate", Double.toString(ETA));
        s.put("async.staleness", "polynomial");
        s.put("async.staleness-a", "0.5");
        s.put("async.max-staleness", "4");
        s.put("async.publish-interval", "20 ms");
        s.put("federation.initial-model", "first-learner");
        s.put("federation.rounds", "10");
        s.put("federation.min-learners", "3");
        return s;
    }

    /**
     * Uploads already encrypted shards as the answer to {@code task}, trained on model version
     * {@code base} (or, with no task, as the initial model).
     */
    private static void upload(
            CkksTestLearner l, Task task, long base, List<byte[]> shards, boolean delta) {
        Encryption enc = l.encryption(shards).toBuilder().setDelta(delta).build();
        long round = task == null ? 0 : task.getRound();
        List<UpdateChunk> chunks = new ArrayList<>(l.chunks(round, SPECS, 10, enc, shards));
        if (task != null) {
            chunks.set(
                    0,
                    UpdateChunk.newBuilder()
                            .setHeader(
                                    chunks.get(0).getHeader().toBuilder()
                                            .setTaskId(task.getTaskId())
                                            .setRound(task.getRound())
                                            .setBaseModelVersion(base))
                            .build());
        }
        assertThat(l.raw().submitRaw(chunks).getStatus())
                .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
    }

    private static EncryptedModel awaitVersion(CkksTestLearner l, long version) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            EncryptedModel m = l.download();
            if (m.header().getModelVersion() >= version) {
                assertThat(m.header().getModelVersion()).isEqualTo(version);
                return m;
            }
            assertThat(System.nanoTime()).as("version %d in time", version).isLessThan(end);
            Thread.sleep(50);
        }
    }

    /** The uploads of one run, encrypted once and replayed byte for byte. */
    private static final class Uploads {
        List<byte[]> initial;
        List<byte[]> d0;
        List<byte[]> d1;
        List<byte[]> d2; // l2, trained on v0, applied at v1 (staleness 1): buffered at the stop
        List<byte[]> d3; // l0, trained on v1
        float[][] plain = new float[4][];
    }

    /**
     * Runs v0 → v1 → (l2's stale delta buffered) → v2; with {@code stop}, stops with a savepoint
     * after l2's delta was acknowledged and resumes before l0's. Returns v1 and v2 as served.
     */
    private List<EncryptedModel> run(Path dir, Path keyDir, KeyBundle keys, Uploads u, boolean stop)
            throws Exception {
        List<EncryptedModel> served = new ArrayList<>();
        FederationHarness h = FederationHarness.start(dir.resolve("run"), settings(keyDir));
        List<Credentials> creds = new ArrayList<>();
        List<CkksTestLearner> ls = new ArrayList<>();
        String savepoint = null;
        try {
            for (int i = 0; i < 3; i++) {
                CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                l.raw().join("l" + i, 10);
                if (i == 0) {
                    if (u.initial == null) {
                        u.initial = l.encryptShards(values(0, 2));
                    }
                    upload(l, null, 0, u.initial, false);
                }
                l.raw().openTaskStream();
                ls.add(l);
                creds.add(l.raw().credentials());
            }
            List<Task> tasks = new ArrayList<>();
            for (CkksTestLearner l : ls) {
                tasks.add(l.raw().nextTask(Task.KindCase.TRAIN, WAIT));
            }
            if (u.d0 == null) {
                u.plain[0] = values(1, 0.5);
                u.plain[1] = values(2, 0.7);
                u.plain[2] = values(3, 0.3);
                u.d0 = ls.get(0).encryptShards(u.plain[0]);
                u.d1 = ls.get(1).encryptShards(u.plain[1]);
                u.d2 = ls.get(2).encryptShards(u.plain[2]);
            }
            upload(ls.get(0), tasks.get(0), 0, u.d0, true);
            upload(ls.get(1), tasks.get(1), 0, u.d1, true);
            served.add(awaitVersion(ls.get(0), 1));
            Task t0 = ls.get(0).raw().nextTask(Task.KindCase.TRAIN, WAIT);
            upload(
                    ls.get(2),
                    tasks.get(2),
                    0,
                    u.d2,
                    true); // acknowledged: in a completed checkpoint
            if (stop) {
                savepoint = h.federation().stopWithSavepoint(dir.resolve("savepoints"));
                for (CkksTestLearner l : ls) {
                    l.close();
                }
                ls.clear();
                h.close();
                h = FederationHarness.resume(dir.resolve("resumed"), h.config(), savepoint);
                for (int i = 0; i < 3; i++) {
                    CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                    l.raw().useCredentials(creds.get(i));
                    l.raw().openTaskStream();
                    ls.add(l);
                }
                t0 = ls.get(0).raw().nextTask(Task.KindCase.TRAIN, WAIT);
                EncryptedModel again = ls.get(0).download();
                assertThat(again.header().getModelVersion())
                        .as("the resumed job serves v1")
                        .isEqualTo(1);
                assertThat(again.bytes()).isEqualTo(served.get(0).bytes());
            }
            if (u.d3 == null) {
                u.plain[3] = values(4, 0.6);
                u.d3 = ls.get(0).encryptShards(u.plain[3]);
            }
            upload(ls.get(0), t0, 1, u.d3, true);
            served.add(awaitVersion(ls.get(0), 2));
        } finally {
            for (CkksTestLearner l : ls) {
                l.close();
            }
            h.close();
        }
        if (stop) {
            assertThat(savepoint).isNotNull();
        }
        return served;
    }

    @Test
    void aSavepointMidBufferAndResumeGiveTheVersionOfTheRunWithoutTheStopBitForBit()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        Uploads u = new Uploads();

        List<EncryptedModel> straight = run(work.resolve("straight"), keyDir, keys, u, false);
        List<EncryptedModel> resumed = run(work.resolve("stopped"), keyDir, keys, u, true);

        assertThat(sha256(resumed.get(0).bytes())).isEqualTo(sha256(straight.get(0).bytes()));
        assertThat(sha256(resumed.get(1).bytes()))
                .as("v2 after the stop and resume is v2 of the run without the stop")
                .isEqualTo(sha256(straight.get(1).bytes()));

        // And it is plaintext FedBuff (K = 2, η = 0.8, s(τ) = (1 + τ)^-0.5), computed here from the
        // plaintext initial model and deltas: v1 = m0 + η/2·(δ0 + δ1), v2 = v1 + η/2·(s(1)·δ2 +
        // δ3).
        float[] m0 = values(0, 2);
        double s1 = 1 / Math.sqrt(2);
        float[] expected = new float[N];
        for (int i = 0; i < N; i++) {
            double v1 = m0[i] + ETA / 2 * ((double) u.plain[0][i] + u.plain[1][i]);
            expected[i] = (float) (v1 + ETA / 2 * (s1 * u.plain[2][i] + u.plain[3][i]));
        }
        float[] v2 = new float[N];
        int pos = 0;
        for (byte[] shard : resumed.get(1).shards()) {
            float[] part = keys.decryptShard(shard);
            System.arraycopy(part, 0, v2, pos, part.length);
            pos += part.length;
        }
        assertClose(v2, expected, 3);
    }
}
