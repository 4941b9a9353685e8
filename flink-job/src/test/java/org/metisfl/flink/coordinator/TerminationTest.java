package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.coordinator.CoordinatorTestData.options;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TerminationTest {

    @Test
    void endsAfterTheConfiguredRoundsOrTheWallClockLimit() {
        Termination t =
                new Termination(
                        options("federation.rounds", "5", "termination.max-duration", "10 s"));
        assertThat(t.isLast(4, false)).isFalse();
        assertThat(t.isLast(5, false)).isTrue();
        assertThat(t.outOfTime(1_000 + 9_999, 1_000)).isFalse();
        assertThat(t.outOfTime(1_000 + 10_000, 1_000)).isTrue();
        assertThat(t.isLast(2, true)).isTrue();
        assertThat(t.endedEarly(2)).isTrue();
        assertThat(t.endedEarly(5)).isFalse();
        assertThat(t.maxDurationReason()).isEqualTo("reached termination.max-duration (10000 ms)");
        assertThat(t.completed("rounds")).isEqualTo("completed 5 rounds");
    }

    @Test
    void withoutAWallClockLimitTimeNeverEndsIt() {
        Termination t = new Termination(options());
        assertThat(t.outOfTime(Long.MAX_VALUE / 2, 0)).isFalse();
    }

    @Test
    void aMetricCutoffIsReachedFromAboveOrBelowAsConfigured() {
        Termination max =
                new Termination(
                        options("termination.metric", "acc", "termination.metric-cutoff", "0.9"));
        assertThat(max.reachedCutoff(Map.of("acc", 0.89))).isFalse();
        assertThat(max.reachedCutoff(Map.of("acc", 0.9))).isTrue();
        assertThat(max.reachedCutoff(Map.of("loss", 0.1))).isFalse();
        assertThat(max.reachedCutoff(null)).isFalse();
        assertThat(max.cutoffReason(Map.of("acc", 0.95), 7))
                .isEqualTo("acc 0.95 reached the cutoff 0.9 after round 7");
        Termination min =
                new Termination(
                        options(
                                "termination.metric", "loss",
                                "termination.metric-cutoff", "0.2",
                                "termination.metric-goal", "min"));
        assertThat(min.reachedCutoff(Map.of("loss", 0.21))).isFalse();
        assertThat(min.reachedCutoff(Map.of("loss", 0.2))).isTrue();
        assertThat(new Termination(options()).reachedCutoff(Map.of("acc", 1.0))).isFalse();
    }
}
