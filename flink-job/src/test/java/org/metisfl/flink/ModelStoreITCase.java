package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The model store on a MiniCluster (RocksDB, real gRPC learners): the versions the job publishes,
 * retention, every k-th version, and a stop with savepoint and resume that neither loses nor
 * duplicates a version.
 */
class ModelStoreITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500;
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 50, 40), RawLearner.spec("b", 500));

    @TempDir Path work;

    private static float[] pattern(float scale, int round) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.cos(i * 0.11 + round);
        }
        return v;
    }

    private Map<String, String> settings(int rounds, int every, int keepLast) {
        Map<String, String> s = new HashMap<>();
        s.put("federation.name", "lineage");
        s.put("federation.rounds", Integer.toString(rounds));
        s.put("federation.min-learners", "2");
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        s.put("model-store.path", work.resolve("store").toUri().toString());
        s.put("model-store.every", Integer.toString(every));
        s.put("model-store.keep-last", Integer.toString(keepLast));
        return s;
    }

    /** Trains round {@code round}: both learners download the model, then submit; returns it. */
    private static float[] round(RawLearner a, RawLearner b, long round) throws Exception {
        assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(round);
        b.nextTask(Task.KindCase.TRAIN, WAIT);
        RawLearner.Model m = a.getModel();
        assertThat(m.version()).isEqualTo(round - 1);
        assertThat(b.getModel().values()).containsExactly(m.values());
        a.submit(round, SPECS, pattern(1, (int) round), 10, Map.of());
        b.submit(round, SPECS, pattern(3, (int) round), 30, Map.of());
        return m.values();
    }

    @Test
    void storesEveryVersionTheLearnersReceivedAndKeepsTheLastN() throws Exception {
        float[][] received = new float[5][];
        try (FederationHarness h = FederationHarness.start(work.resolve("run"), settings(4, 1, 3));
                RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            a.join("a", 10);
            b.join("b", 30);
            a.submit(0, SPECS, pattern(0.5f, 0), 10, Map.of()); // the initial model
            a.openTaskStream();
            b.openTaskStream();
            for (int r = 1; r <= 4; r++) {
                received[r - 1] = round(a, b, r);
            }
            h.awaitCompletion(WAIT);
            ModelStore store = ModelStore.open(work.resolve("store").toUri().toString(), "lineage");
            assertThat(store.versions()).containsExactly(2L, 3L, 4L);
            for (long v = 2; v <= 3; v++) {
                assertThat(store.read(v).values()).containsExactly(received[(int) v]);
            }
            // Version 4 was never downloaded: the example-weighted mean of round 4's updates.
            float[] v4 = store.read(4).values();
            float[] ua = pattern(1, 4);
            float[] ub = pattern(3, 4);
            for (int i = 0; i < N; i++) {
                assertThat((double) v4[i])
                        .isCloseTo((10.0 * ua[i] + 30.0 * ub[i]) / 40, within(1e-5));
            }
            StoredModel m3 = store.metadata(3);
            assertThat(m3.version).isEqualTo(3);
            assertThat(m3.parentVersion).isEqualTo(2);
            assertThat(m3.values).isEqualTo(N);
            assertThat(m3.tensors).extracting(t -> t.name).containsExactly("w", "b");
            assertThat(m3.contributors).containsExactlyInAnyOrder(a.id(), b.id());
            assertThat(m3.roundTimeMs).isNotNull().isPositive();
            StoredModel m4 = store.metadata(4);
            assertThat(m4.contributors).containsExactlyInAnyOrder(a.id(), b.id());
            assertThat(m4.publishedAtMs).isGreaterThanOrEqualTo(m3.publishedAtMs);
            assertThat(pendingFiles()).isEmpty();
        }
    }

    @Test
    void savepointAndResumeNeitherLoseNorDuplicateAVersion() throws Exception {
        // An earlier run of the same federation left a version: a new run moves it aside.
        ModelStore earlier = ModelStore.open(work.resolve("store").toUri().toString(), "lineage");
        StoredModel old = new StoredModel();
        old.version = 7;
        earlier.commit(
                earlier.writePending(
                        old,
                        List.of(new org.metisfl.flink.model.TensorSpecInfo("x", new long[] {1})),
                        new float[] {7}));
        FederationHarness h = FederationHarness.start(work.resolve("run"), settings(4, 2, 0));
        Credentials ca;
        Credentials cb;
        String savepoint;
        ModelStore store = ModelStore.open(work.resolve("store").toUri().toString(), "lineage");
        long v2PublishedAt;
        try (RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            a.join("a", 10);
            b.join("b", 30);
            a.submit(0, SPECS, pattern(0.5f, 0), 10, Map.of());
            a.openTaskStream();
            b.openTaskStream();
            round(a, b, 1);
            round(a, b, 2);
            assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(3);
            ca = a.credentials();
            cb = b.credentials();
            savepoint = h.federation().stopWithSavepoint(work.resolve("savepoints"));
        } finally {
            h.close();
        }
        // Every 2nd version: v0 and v2, published by the savepoint at the latest.
        assertThat(store.versions()).containsExactly(0L, 2L);
        v2PublishedAt = store.metadata(2).publishedAtMs;

        try (FederationHarness resumed =
                        FederationHarness.resume(work.resolve("resumed"), h.config(), savepoint);
                RawLearner a = resumed.learner(0);
                RawLearner b = resumed.learner(0)) {
            a.useCredentials(ca);
            b.useCredentials(cb);
            a.openTaskStream();
            b.openTaskStream();
            float[] v2 = round(a, b, 3);
            assertThat(store.read(2).values()).containsExactly(v2);
            round(a, b, 4);
            resumed.awaitCompletion(WAIT);
        }
        assertThat(store.versions()).containsExactly(0L, 2L, 4L);
        assertThat(store.metadata(2).publishedAtMs)
                .as("v2, sent again by the resumed job, is not stored again")
                .isEqualTo(v2PublishedAt);
        assertThat(store.metadata(4).contributors).hasSize(2);
        assertThat(pendingFiles()).isEmpty();
        try (var dirs = Files.list(work.resolve("store"))) {
            Path moved =
                    dirs.filter(d -> d.getFileName().toString().startsWith("lineage."))
                            .findFirst()
                            .orElseThrow();
            assertThat(moved.resolve("v000000000007.json")).exists();
        }
    }

    private List<Path> pendingFiles() throws Exception {
        Path pending = work.resolve("store").resolve("lineage").resolve("_pending");
        if (!Files.exists(pending)) {
            return List.of();
        }
        try (var s = Files.list(pending)) {
            return s.toList();
        }
    }
}
