package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/** Aggregation rules and server optimizers as configured, through the whole job. */
class RulesITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500; // three shards of 1024

    @TempDir Path work;

    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    private static float[] filled(float v) {
        float[] a = new float[N];
        Arrays.fill(a, v);
        return a;
    }

    private static List<RawLearner> start(FederationHarness h, int n) {
        List<RawLearner> ls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            RawLearner l = h.learner(0);
            l.join("l" + i, 10);
            if (i == 0) {
                l.submit(0, SPECS, filled(0), 10, Map.of());
            }
            ls.add(l);
        }
        ls.forEach(RawLearner::openTaskStream);
        return ls;
    }

    private static Map<String, String> settings(String... kv) {
        Map<String, String> m = new java.util.HashMap<>();
        m.put("federation.rounds", "2");
        m.put("evaluation.enabled", "false");
        m.put("aggregation.shard-size", "1024");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void coordinateMedianIgnoresAnOutlier() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings("aggregation.rule", "median", "federation.min-learners", "3"))) {
            List<RawLearner> ls = start(h, 3);
            float[] values = {1f, 2f, 1000f};
            for (int i = 0; i < 3; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                ls.get(i).submit(1, SPECS, filled(values[i]), 10, Map.of());
            }
            ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(ls.get(0).getModel().values()).containsOnly(2f);
        }
    }

    @Test
    void fedAvgMServerMomentumCarriesAcrossRounds() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "optimizer.type", "fedavgm",
                                "optimizer.learning-rate", "1",
                                "optimizer.momentum", "0.5",
                                "federation.rounds", "3",
                                "federation.min-learners", "1"))) {
            RawLearner l = start(h, 1).get(0);
            // Round 1: delta = 1 - 0, m = 1, global = 1.
            l.nextTask(Task.KindCase.TRAIN, WAIT);
            l.submit(1, SPECS, filled(1f), 10, Map.of());
            l.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(l.getModel().values()).containsOnly(1f);
            // Round 2: delta = 2 - 1, m = 0.5 * 1 + 1 = 1.5, global = 2.5.
            l.submit(2, SPECS, filled(2f), 10, Map.of());
            l.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(l.getModel().values()).containsOnly(2.5f);
        }
    }

    @Test
    void fedStrideEqualsTheWeightedMean() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "aggregation.rule", "fedstride",
                                "aggregation.stride-length", "2",
                                "federation.min-learners", "3"))) {
            List<RawLearner> ls = start(h, 3);
            long[] examples = {1, 2, 5};
            for (int i = 0; i < 3; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                ls.get(i).submit(1, SPECS, filled(i + 1), examples[i], Map.of());
            }
            ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(ls.get(0).getModel().values()).containsOnly((1f + 4f + 15f) / 8f);
        }
    }

    @Test
    void multiKrumAveragesTheClosestUpdatesAndLeavesOutTheOutlier() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "aggregation.rule", "multi-krum",
                                "aggregation.krum-byzantine", "1",
                                "aggregation.krum-selected", "3",
                                "federation.min-learners", "5"))) {
            List<RawLearner> ls = start(h, 5);
            float[] values = {1.0f, 1.2f, 0.8f, 1.1f, 100f};
            for (int i = 0; i < 5; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                ls.get(i).submit(1, SPECS, filled(values[i]), 10, Map.of());
            }
            ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            float[] global = ls.get(0).getModel().values();
            // The three best Krum scores are 1.0, 1.1 and 1.2 (or 0.8): never the outlier.
            assertThat(global[0]).isBetween(0.9f, 1.1f);
            assertThat(global).containsOnly(global[0]);
            var result = h.awaitResults(1, WAIT).get(0);
            assertThat(result.contributors).hasSize(3).doesNotContain(ls.get(4).id());
        }
    }

    @Test
    void bulyanMatchesAnIndependentBulyanOverTheLearnersUpdates() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "aggregation.rule", "bulyan",
                                "aggregation.krum-byzantine", "1",
                                "federation.min-learners", "7"))) {
            List<RawLearner> ls = start(h, 7);
            float[] values = {0f, 1f, 2f, 4.5f, 7f, 11f, 100f};
            for (int i = 0; i < 7; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                ls.get(i).submit(1, SPECS, filled(values[i]), 10, Map.of());
            }
            ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            float[] global = ls.get(0).getModel().values();
            // The job orders contributors by learner id and breaks Krum's ties by that order.
            List<Integer> byId = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6));
            byId.sort(java.util.Comparator.comparing(i -> ls.get(i).id()));
            float[][] updates = new float[7][];
            for (int k = 0; k < 7; k++) {
                updates[k] = filled(values[byId.get(k)]);
            }
            List<Integer> chosen =
                    org.metisfl.flink.testutil.ReferenceBulyan.select(updates, 1).stream()
                            .sorted()
                            .toList();
            double expected =
                    org.metisfl.flink.testutil.ReferenceBulyan.aggregate(updates, chosen, 1)[0];
            assertThat(global).containsOnly(global[0]);
            assertThat((double) global[0]).isCloseTo(expected, within(1e-6));
            var result = h.awaitResults(1, WAIT).get(0);
            assertThat(result.contributors)
                    .containsExactlyInAnyOrderElementsOf(
                            chosen.stream().map(k -> ls.get(byId.get(k)).id()).toList())
                    .doesNotContain(ls.get(6).id());
        }
    }
}
