package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.testutil.ReferenceBulyan;

class BulyanTest {

    /** Runs the rule as the job does: two shards, distances summed, selection, per-shard result. */
    private static float[] run(Bulyan rule, float[][] whole, int split, List<String> selectedOut)
            throws Exception {
        int n = whole.length;
        Updates left = rule.createAccumulator();
        Updates right = rule.createAccumulator();
        List<String> contributors = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String learner = String.format("l%02d", i);
            contributors.add(learner);
            rule.add(left, learner, Payload.dense(Arrays.copyOfRange(whole[i], 0, split)), 1);
            rule.add(
                    right,
                    learner,
                    Payload.dense(Arrays.copyOfRange(whole[i], split, whole[i].length)),
                    1);
        }
        left = RuleTestData.throughSavepoint(rule.accumulatorSerializer(), left);
        double[] total = rule.partial(left, contributors);
        double[] part = rule.partial(right, contributors);
        for (int k = 0; k < total.length; k++) {
            total[k] += part[k];
        }
        List<String> selected = rule.select(total, contributors, 1);
        selectedOut.addAll(selected);
        float[] a = rule.resultOf(left, selected).values();
        float[] b = rule.resultOf(right, selected).values();
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void handComputedExampleLeavesOutTheOutlierAndAveragesAroundTheMedian() throws Exception {
        // n = 7, f = 1: theta = 5 selected by repeated Krum, beta = 3 averaged per coordinate.
        // Worked by hand: Krum picks 2, 4.5, 1, then 7 (ties with 11, lower index), then 0
        // (ties with 11); the median of {0, 1, 2, 4.5, 7} is 2 and its 3 closest are 2, 1, 0.
        float[] v = {0, 1, 2, 4.5f, 7, 11, 100};
        float[][] whole = new float[7][];
        for (int i = 0; i < 7; i++) {
            whole[i] = new float[] {v[i], -v[i], 3};
        }
        List<String> selected = new ArrayList<>();
        float[] got = run(new Bulyan(1), whole, 2, selected);
        assertThat(selected).containsExactly("l00", "l01", "l02", "l03", "l04");
        assertThat(got).containsExactly(1f, -1f, 3f);
    }

    @Test
    void matchesAnIndependentBulyanOnRandomUpdatesWithAttackers() throws Exception {
        for (long seed = 10; seed < 15; seed++) {
            int f = 2;
            int n = 13; // >= 4f + 3, odd: no median ties
            float[][] whole = RuleTestData.updates(seed, n, 64);
            for (int a = 0; a < f; a++) { // f attackers far out, on opposite sides
                Arrays.fill(whole[n - 1 - a], a % 2 == 0 ? 40f : -40f);
            }
            List<String> selected = new ArrayList<>();
            float[] got = run(new Bulyan(f), whole, 23, selected);
            List<Integer> expectedIdx = ReferenceBulyan.select(whole, f);
            List<String> expectedNames =
                    expectedIdx.stream().sorted().map(i -> String.format("l%02d", i)).toList();
            assertThat(selected).isEqualTo(expectedNames);
            assertThat(selected).doesNotContain("l12", "l11");
            double[] expected =
                    ReferenceBulyan.aggregate(whole, expectedIdx.stream().sorted().toList(), f);
            for (int c = 0; c < 64; c++) {
                assertThat((double) got[c]).isCloseTo(expected[c], within(1e-6));
            }
        }
    }

    @Test
    void aRoundWithFewerThan4fPlus3ContributionsIsAbortedNotAggregated() {
        Bulyan rule = new Bulyan(1);
        List<String> six = List.of("a", "b", "c", "d", "e", "f");
        assertThat(rule.select(new double[36], six, 3)).isEmpty();
    }

    @Test
    void refusesConfigurationsThatCannotGive4fPlus3Contributions() {
        assertThatThrownBy(
                        () ->
                                Rules.of(
                                        FederationConfig.of(
                                                Map.of(
                                                        "aggregation.rule", "bulyan",
                                                        "aggregation.krum-byzantine", "2",
                                                        "federation.min-learners", "10"))))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("4f + 3 = 11")
                .hasMessageContaining("federation.min-learners is 10");
        assertThatThrownBy(
                        () ->
                                Rules.of(
                                        FederationConfig.of(
                                                Map.of(
                                                        "aggregation.rule", "bulyan",
                                                        "aggregation.krum-byzantine", "1",
                                                        "federation.min-learners", "9",
                                                        "selection.participants", "5"))))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("selection.participants is 5");
        assertThat(
                        Rules.of(
                                FederationConfig.of(
                                        Map.of(
                                                "aggregation.rule", "bulyan",
                                                "aggregation.krum-byzantine", "1",
                                                "federation.min-learners", "7"))))
                .isInstanceOf(Bulyan.class);
    }
}
