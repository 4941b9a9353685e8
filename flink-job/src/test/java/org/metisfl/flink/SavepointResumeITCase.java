package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Stop with a savepoint mid-federation and resume (RocksDB state): the federation continues at the
 * same round with a bit-identical global model, and the learners' credentials stay valid.
 */
class SavepointResumeITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    private static float[] pattern(float scale) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.sin(i * 0.1);
        }
        return v;
    }

    private static String hash(float[] values) throws Exception {
        byte[] bytes = RawLearner.bytes(values).toByteArray();
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void resumedFederationContinuesAtTheSameRoundWithAnIdenticalModel() throws Exception {
        FederationHarness h =
                FederationHarness.start(
                        work.resolve("run"),
                        Map.of(
                                "federation.rounds", "3",
                                "federation.min-learners", "2",
                                "evaluation.enabled", "false",
                                "aggregation.shard-size", "1024"));
        Credentials ca;
        Credentials cb;
        String before;
        String savepoint;
        try (RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            a.join("a", 10);
            b.join("b", 30);
            a.submit(0, SPECS, new float[N], 10, Map.of());
            a.openTaskStream();
            b.openTaskStream();
            a.nextTask(Task.KindCase.TRAIN, WAIT);
            b.nextTask(Task.KindCase.TRAIN, WAIT);
            a.submit(1, SPECS, pattern(1), 10, Map.of());
            b.submit(1, SPECS, pattern(3), 30, Map.of());
            assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            RawLearner.Model model = a.getModel();
            assertThat(model.version()).isEqualTo(1);
            before = hash(model.values());
            ca = a.credentials();
            cb = b.credentials();
            savepoint = h.federation().stopWithSavepoint(work.resolve("savepoints"));
        } finally {
            h.close();
        }
        assertThat(savepoint).isNotBlank();

        try (FederationHarness resumed =
                        FederationHarness.resume(work.resolve("resumed"), h.config(), savepoint);
                RawLearner a = resumed.learner(0);
                RawLearner b = resumed.learner(0)) {
            a.useCredentials(ca);
            b.useCredentials(cb);
            a.openTaskStream();
            b.openTaskStream();
            Task ta = a.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(ta.getRound()).as("the same round as before the stop").isEqualTo(2);
            RawLearner.Model model = a.getModel();
            assertThat(model.version()).isEqualTo(1);
            assertThat(hash(model.values())).isEqualTo(before);
            b.nextTask(Task.KindCase.TRAIN, WAIT);
            a.submit(2, SPECS, pattern(2), 10, Map.of());
            b.submit(2, SPECS, pattern(2), 30, Map.of());
            assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(3);
            float[] expected = pattern(2);
            assertThat(a.getModel().values()).containsExactly(expected);
            var rounds = resumed.results().stream().map(r -> r.round).toList();
            assertThat(rounds).containsExactly(1L, 2L);
            assertThat(Arrays.asList(ta.getTrain().getDeadlineUnixMs()))
                    .allMatch(d -> d > System.currentTimeMillis());
        }
    }
}
