package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.config.FederationConfig;

class ParticipantSelectionTest {
    private static List<String> learners(int n) {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add("learner-" + i);
        }
        return l;
    }

    @Test
    void drawsTheConfiguredShareSeededPerRound() {
        CoordinatorOptions c =
                CoordinatorOptions.from(
                        FederationConfig.of(Map.of("selection.participation-ratio", "0.3")));
        List<String> r1 = ParticipantSelection.draw(learners(10), 1, c);
        assertThat(r1).hasSize(3).isSorted();
        assertThat(ParticipantSelection.draw(learners(10), 1, c)).isEqualTo(r1);
        boolean differs = false;
        for (long round = 2; round < 10; round++) {
            differs |= !ParticipantSelection.draw(learners(10), round, c).equals(r1);
        }
        assertThat(differs).as("different rounds draw different learners").isTrue();
    }

    @Test
    void fixedCountAndBufferBoundCapTheDraw() {
        CoordinatorOptions count = options(Map.of("selection.participants", "4"));
        assertThat(ParticipantSelection.draw(learners(10), 3, count)).hasSize(4);
        assertThat(ParticipantSelection.draw(learners(2), 3, count)).hasSize(2);
        CoordinatorOptions median =
                options(
                        Map.of(
                                "aggregation.rule", "median",
                                "aggregation.max-buffered-updates", "5"));
        assertThat(ParticipantSelection.draw(learners(10), 1, median)).hasSize(5);
        assertThat(ParticipantSelection.draw(learners(10), 1, options(Map.of()))).hasSize(10);
    }

    @Test
    void evaluatorsAreAtMostMaxLearnersOfTheCandidatesDrawnPerRoundWithTheirOwnSeed() {
        CoordinatorOptions every = options(Map.of());
        assertThat(ParticipantSelection.evaluators(learners(7), 1, every))
                .as("0: every candidate evaluates")
                .hasSize(7)
                .isSorted();
        CoordinatorOptions three =
                options(
                        Map.of(
                                "evaluation.max-learners", "3",
                                "selection.participants", "3",
                                "selection.seed", "42"));
        List<String> e1 = ParticipantSelection.evaluators(learners(100), 1, three);
        assertThat(e1).hasSize(3).isSorted().doesNotHaveDuplicates();
        assertThat(learners(100)).containsAll(e1);
        assertThat(ParticipantSelection.evaluators(learners(100), 1, three))
                .as("a restored federation draws the same")
                .isEqualTo(e1);
        assertThat(ParticipantSelection.evaluators(learners(2), 1, three)).hasSize(2);
        boolean differsByRound = false;
        boolean differsFromParticipants = false;
        for (long round = 1; round < 10; round++) {
            List<String> e = ParticipantSelection.evaluators(learners(100), round, three);
            differsByRound |= !e.equals(e1);
            differsFromParticipants |=
                    !e.equals(ParticipantSelection.draw(learners(100), round, three));
        }
        assertThat(differsByRound).isTrue();
        assertThat(differsFromParticipants)
                .as("the evaluators are not simply the round's participants' draw")
                .isTrue();
    }

    @Test
    void aNegativeMaxLearnersIsRefusedWithTheKey() {
        assertThatThrownBy(() -> FederationConfig.of(Map.of("evaluation.max-learners", "-1")))
                .hasMessageContaining("evaluation.max-learners");
    }

    private static CoordinatorOptions options(Map<String, String> settings) {
        return CoordinatorOptions.from(FederationConfig.of(settings));
    }
}
