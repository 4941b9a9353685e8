package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
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
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.simulator.RawLearner;

/**
 * FedBuff over CKKS ciphertexts through the whole job (MiniCluster, real gRPC on 127.0.0.1,
 * RocksDB): learners decrypt the model version they train on and upload the encryption of their
 * delta (encryption.delta = true); the job weights each delta once with η·s(τ)/K and adds it to the
 * encrypted model. Every decrypted model version equals plaintext FedBuff of the same updates,
 * computed here in double, within the documented tolerance. The model spans three shards of whole
 * ciphertexts (8192 values each, the last one partial).
 */
class SecureFedBuffITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SHARD = 8192; // n13-q120: one ciphertext per shard
    private static final int N = 2 * SHARD + 3616;
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 100, 150), RawLearner.spec("b", N - 15000));
    private static final int K = 2;
    private static final double ETA = 0.8;
    private static final double STALENESS_A = 0.5;

    /**
     * The documented tolerance (secure-aggregation.md): a decrypted version is within 1e-6 of the
     * plaintext FedBuff model relative to the largest magnitude of the models and updates.
     */
    private static final double TOLERANCE = 1e-6;

    private static final double SCALE = 10;

    @TempDir Path work;

    /** What learner {@code seed}'s local training adds to the model it starts from. */
    private static float[] step(int seed) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.cos(0.0007 * i * (seed + 2)) * (seed + 1) * 0.5 - 0.1 * seed);
        }
        return v;
    }

    private static float[] initial() {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.sin(0.001 * i) * 3 + 0.25);
        }
        return v;
    }

    /** s(τ) of async.staleness: polynomial, a = 0.5: (1 + τ)^-a, written out independently. */
    private static double s(int tau) {
        return 1 / Math.sqrt(1 + tau);
    }

    /** One plaintext FedBuff step, in double: model + η/K · Σ s(τᵢ)·(xᵢ − model_{vᵢ}). */
    private static double[] fedBuff(double[] model, List<double[]> deltas, List<Integer> taus) {
        double[] out = model.clone();
        for (int k = 0; k < deltas.size(); k++) {
            double w = ETA / K * s(taus.get(k));
            for (int i = 0; i < N; i++) {
                out[i] += w * deltas.get(k)[i];
            }
        }
        return out;
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    /** The learner's trained weights: its decrypted base plus its step, rounded to float32. */
    private static float[] trained(float[] base, float[] step) {
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = base[i] + step[i];
        }
        return x;
    }

    /** x − base in float32, as a learner computes its delta from the model it decrypted. */
    private static float[] delta(float[] x, float[] base) {
        float[] d = new float[N];
        for (int i = 0; i < N; i++) {
            d[i] = x[i] - base[i];
        }
        return d;
    }

    /** x − the plaintext model it was trained on: the delta plaintext FedBuff would compute. */
    private static double[] plainDelta(float[] x, double[] plainBase) {
        double[] d = new double[N];
        for (int i = 0; i < N; i++) {
            d[i] = x[i] - plainBase[i];
        }
        return d;
    }

    private static void assertClose(float[] actual, double[] expected) {
        assertThat(actual).hasSize(expected.length);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("largest error").isLessThanOrEqualTo(TOLERANCE * SCALE);
    }

    /** Uploads Enc(delta) answering {@code task}, trained from {@code baseVersion}. */
    private static void submitDelta(
            CkksTestLearner l, Task task, float[] delta, long baseVersion, boolean markDelta) {
        List<byte[]> shards = l.encryptShards(delta);
        Encryption enc = l.encryption(shards).toBuilder().setDelta(markDelta).build();
        List<UpdateChunk> chunks =
                new ArrayList<>(l.chunks(task.getRound(), SPECS, 10, enc, shards));
        chunks.set(
                0,
                UpdateChunk.newBuilder()
                        .setHeader(
                                chunks.get(0).getHeader().toBuilder()
                                        .setTaskId(task.getTaskId())
                                        .setRound(task.getRound())
                                        .setBaseModelVersion(baseVersion))
                        .build());
        l.raw().submitRaw(chunks);
    }

    private static EncryptedModel awaitVersion(CkksTestLearner l, long version) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            EncryptedModel m = l.download();
            if (m.header().getModelVersion() >= version) {
                return m;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError(
                        "model version " + m.header().getModelVersion() + ", wanted " + version);
            }
            Thread.sleep(50);
        }
    }

    @Test
    void encryptedDeltasDecryptToPlaintextFedBuffAndTooStaleOnesAreRefusedBeforeTheAck()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        float[] m0 = initial();
        Path modelFile = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                modelFile,
                List.of(
                        new TensorSpecInfo("w", new long[] {100, 150}),
                        new TensorSpecInfo("b", new long[] {N - 15000})),
                m0);
        Map<String, String> settings = new HashMap<>();
        settings.put("secure-aggregation", "ckks");
        settings.put("secure-aggregation.preset", "n13-q120");
        settings.put(
                "secure-aggregation.public-key", keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        settings.put("aggregation.shard-size", Integer.toString(SHARD));
        settings.put("evaluation.enabled", "false");
        settings.put("job.state-backend", "rocksdb");
        settings.put("protocol.type", "asynchronous");
        settings.put("async.rule", "fedbuff");
        settings.put("async.buffer-size", Integer.toString(K));
        settings.put("async.server-learning-rate", Double.toString(ETA));
        settings.put("async.staleness", "polynomial");
        settings.put("async.staleness-a", Double.toString(STALENESS_A));
        settings.put("async.max-staleness", "1");
        settings.put("async.publish-interval", "20 ms");
        settings.put("federation.initial-model", modelFile.toString());
        settings.put("federation.rounds", "5");
        settings.put("federation.min-learners", "3");
        try (FederationHarness h = FederationHarness.start(work.resolve("run"), settings)) {
            List<CkksTestLearner> ls = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                CkksTestLearner l = new CkksTestLearner(h.learner(0), keys, h.port(0), SHARD);
                JoinResponse j = l.raw().join("l" + i, 10);
                assertThat(j.getEncryption().getDelta()).as("the federation wants deltas").isTrue();
                assertThat(j.getEncryption().getKeyId()).isEqualTo(keys.keyId());
                l.raw().openTaskStream();
                ls.add(l);
            }
            List<Task> tasks = new ArrayList<>();
            for (CkksTestLearner l : ls) {
                Task t = l.raw().nextTask(Task.KindCase.TRAIN, WAIT);
                assertThat(t.getModelVersion()).isZero();
                tasks.add(t);
            }
            EncryptedModel v0 = ls.get(0).download();
            assertThat(v0.header().getModelVersion()).isZero();
            assertThat(v0.header().getEncryption().getDelta()).isTrue();
            float[] base0 = ls.get(0).decrypt(v0);
            double[] plain0 = toDouble(m0);

            // A whole model where a delta is expected is refused before anything counts.
            float[] x0 = trained(base0, step(0));
            assertThatThrownBy(() -> submitDelta(ls.get(0), tasks.get(0), x0, 0, false))
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.INVALID_ARGUMENT);
                                assertThat(e.getStatus().getDescription())
                                        .startsWith("model update to a delta federation");
                            });

            // Version 1: l0 and l1 trained on version 0 (staleness 0).
            float[] x1 = trained(base0, step(1));
            submitDelta(ls.get(0), tasks.get(0), delta(x0, base0), 0, true);
            submitDelta(ls.get(1), tasks.get(1), delta(x1, base0), 0, true);
            double[] plain1 =
                    fedBuff(
                            plain0,
                            List.of(plainDelta(x0, plain0), plainDelta(x1, plain0)),
                            List.of(0, 0));
            EncryptedModel v1 = awaitVersion(ls.get(0), 1);
            assertThat(v1.header().getModelVersion()).isEqualTo(1);
            assertThat(ShardCiphertexts.decode(v1.shards().get(0)).weightSum()).isEqualTo(1.0);
            assertThat(v1.header().getEncryption().getShardBytesCount()).isEqualTo(3);
            float[] base1 = ls.get(0).decrypt(v1);
            assertClose(base1, plain1);

            // Version 2: l2 trained on version 0 (applied at version 1: staleness 1), l0 on
            // version 1 (staleness 0).
            float[] x2 = trained(base0, step(2));
            submitDelta(ls.get(2), tasks.get(2), delta(x2, base0), 0, true);
            Task t0 = ls.get(0).raw().nextTask(Task.KindCase.TRAIN, WAIT);
            float[] x3 = trained(base1, step(3));
            submitDelta(ls.get(0), t0, delta(x3, base1), 1, true);
            double[] plain2 =
                    fedBuff(
                            plain1,
                            List.of(plainDelta(x2, plain0), plainDelta(x3, plain1)),
                            List.of(1, 0));
            EncryptedModel v2 = awaitVersion(ls.get(1), 2);
            assertThat(v2.header().getModelVersion()).isEqualTo(2);
            float[] base2 = ls.get(1).decrypt(v2);
            assertClose(base2, plain2);
            // The job's sum is not plaintext FedBuff without the staleness weight: the test can
            // fail (s(1) = 0.71 against 1 moves values by far more than the tolerance).
            double[] unweighted =
                    fedBuff(
                            plain1,
                            List.of(plainDelta(x2, plain0), plainDelta(x3, plain1)),
                            List.of(0, 0));
            double gap = 0;
            for (int i = 0; i < N; i++) {
                gap = Math.max(gap, Math.abs(unweighted[i] - plain2[i]));
            }
            assertThat(gap).isGreaterThan(1000 * TOLERANCE * SCALE);

            // l1 still holds its update trained on version 0: two versions behind, beyond
            // async.max-staleness 1, refused with a status before it is acknowledged.
            Task t1 = ls.get(1).raw().nextTask(Task.KindCase.TRAIN, WAIT);
            float[] stale = delta(trained(base0, step(4)), base0);
            assertThatThrownBy(() -> submitDelta(ls.get(1), t1, stale, 0, true))
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                                assertThat(e.getStatus().getDescription())
                                        .contains("async.max-staleness is 1");
                            });

            // Version 3: l1 retrains on version 2, l2 on version 2; the refused update never
            // counted.
            Task t2 = ls.get(2).raw().nextTask(Task.KindCase.TRAIN, WAIT);
            float[] x4 = trained(base2, step(5));
            float[] x5 = trained(base2, step(6));
            submitDelta(ls.get(1), t1, delta(x4, base2), 2, true);
            submitDelta(ls.get(2), t2, delta(x5, base2), 2, true);
            double[] plain3 =
                    fedBuff(
                            plain2,
                            List.of(plainDelta(x4, plain2), plainDelta(x5, plain2)),
                            List.of(0, 0));
            EncryptedModel v3 = awaitVersion(ls.get(2), 3);
            assertThat(v3.header().getModelVersion()).isEqualTo(3);
            assertClose(ls.get(2).decrypt(v3), plain3);
            for (CkksTestLearner l : ls) {
                l.close();
            }
        }
    }
}
