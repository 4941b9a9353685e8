package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.metisfl.flink.coordinator.CoordinatorTestData.evaluation;
import static org.metisfl.flink.coordinator.CoordinatorTestData.trainReport;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.RoundResult;

class EvaluationTrackerTest {
    private final EvaluationTracker tracker = new EvaluationTracker(StateMap.onHeap(), 1_000);

    private RoundStats closed(long round, long closedAt, String... evaluators) {
        RoundStats s = tracker.open(round, 3, closedAt - 100);
        s.closedAt = closedAt;
        s.expectedEvaluators = List.of(evaluators);
        tracker.put(s);
        return s;
    }

    @Test
    void trainingMetricsAreWeightedByExamplesOncePerLearner() {
        tracker.open(1, 2, 0);
        tracker.onTrainReport(trainReport("a", 1, 1, Map.of("loss", 4.0)));
        tracker.onTrainReport(trainReport("a", 1, 1, Map.of("loss", 100.0)));
        tracker.onTrainReport(trainReport("b", 1, 3, Map.of("loss", 2.0, "nan", Double.NaN)));
        tracker.onTrainReport(trainReport("c", 9, 3, Map.of("loss", 2.0))); // no such round
        RoundResult r = tracker.complete(tracker.get(1), "fed");
        assertThat(r.trainMetrics).containsOnlyKeys("loss");
        assertThat(r.trainMetrics.get("loss")).isEqualTo((4.0 * 1 + 2.0 * 3) / 4);
        assertThat(tracker.get(1)).as("forgotten once complete").isNull();
    }

    @Test
    void eachMetricIsAveragedOverTheReportsThatCarryIt() {
        tracker.open(1, 3, 0);
        tracker.onTrainReport(trainReport("a", 1, 10, Map.of("loss", 0.8)));
        tracker.onTrainReport(trainReport("b", 1, 30, Map.of("loss", 0.4, "accuracy", 0.9)));
        // A learner reporting other keys must not drag "loss" toward 0.
        tracker.onTrainReport(trainReport("c", 1, 60, Map.of("accuracy", 0.6)));
        RoundResult r = tracker.complete(tracker.get(1), "fed");
        // loss: (10 x 0.8 + 30 x 0.4) / 40 = 20 / 40; accuracy: (30 x 0.9 + 60 x 0.6) / 90 = 63 /
        // 90
        assertThat(r.trainMetrics.get("loss")).isCloseTo(0.5, within(1e-12));
        assertThat(r.trainMetrics.get("accuracy")).isCloseTo(0.7, within(1e-12));
    }

    @Test
    void evaluationMetricsAreAveragedPerKeyToo() {
        closed(2, 500, "a", "b");
        tracker.onEvaluation(evaluation("a", 2, 4, Map.of("accuracy", 0.5, "loss", 2.0)));
        RoundStats s = tracker.onEvaluation(evaluation("b", 2, 12, Map.of("accuracy", 0.25)));
        RoundResult r = tracker.complete(s, "fed");
        // accuracy: (4 x 0.5 + 12 x 0.25) / 16 = 5 / 16; loss: only a reported it
        assertThat(r.evalMetrics.get("accuracy")).isCloseTo(0.3125, within(1e-12));
        assertThat(r.evalMetrics.get("loss")).isCloseTo(2.0, within(1e-12));
        assertThat(r.evalExamples).isEqualTo(16);
    }

    @Test
    void aRoundIsCompleteOnceEveryExpectedEvaluatorAnswered() {
        closed(2, 500, "a", "b");
        assertThat(tracker.onEvaluation(evaluation("a", 2, 2, Map.of("acc", 0.5)))).isNull();
        assertThat(tracker.onEvaluation(evaluation("a", 2, 2, Map.of("acc", 0.5)))).isNull();
        assertThat(tracker.onEvaluation(evaluation("z", 2, 2, Map.of("acc", 0.0)))).isNull();
        RoundStats s = tracker.onEvaluation(evaluation("b", 2, 6, Map.of("acc", 0.1)));
        assertThat(s).isNotNull();
        RoundResult r = tracker.complete(s, "fed");
        assertThat(r.evalMetrics.get("acc")).isEqualTo((0.5 * 2 + 0.1 * 6) / 8);
        assertThat(r.evalExamples).isEqualTo(8);
        assertThat(r.evaluators).isEqualTo(2);
        assertThat(r.evaluationsReceived).isEqualTo(2);
        assertThat(r.roundTimeMs).isEqualTo(100);
        assertThat(r.federation).isEqualTo("fed");
    }

    @Test
    void evaluationsOfARoundStillOpenAreIgnored() {
        RoundStats open = tracker.open(3, 1, 0);
        open.expectedEvaluators = List.of("a");
        assertThat(tracker.onEvaluation(evaluation("a", 3, 1, Map.of("acc", 1.0)))).isNull();
        assertThat(tracker.get(3).evalReporters).isEmpty();
    }

    @Test
    void closedRoundsAreDueAtTheirEvaluationTimeoutOldestFirst() {
        closed(5, 2_000, "a");
        closed(4, 1_500, "a");
        tracker.open(6, 1, 2_000); // open: never due
        assertThat(tracker.timeoutAt(2_000)).isEqualTo(3_000);
        assertThat(tracker.due(2_499)).isEmpty();
        assertThat(tracker.due(2_500)).extracting(s -> s.round).containsExactly(4L);
        assertThat(tracker.due(3_000)).extracting(s -> s.round).containsExactly(4L, 5L);
    }
}
