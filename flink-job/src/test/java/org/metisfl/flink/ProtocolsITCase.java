package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/** Semi-synchronous rounds, participant selection and early termination, end to end. */
class ProtocolsITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", 100));

    @TempDir Path work;

    private static List<RawLearner> joinAll(FederationHarness h, int n) {
        List<RawLearner> learners = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            RawLearner l = h.learner(0);
            boolean wantsModel = l.join("l" + i, 100).getInitialModelRequested();
            if (i == 0) {
                assertThat(wantsModel).isTrue();
                l.submit(0, SPECS, new float[100], 100, Map.of());
            }
            learners.add(l);
        }
        for (RawLearner l : learners) {
            l.openTaskStream();
        }
        return learners;
    }

    @Test
    void semiSynchronousLocalStepsFollowTheReportedSpeeds() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "protocol.type", "semi-synchronous",
                                "semi-sync.lambda", "2",
                                "federation.rounds", "3",
                                "federation.min-learners", "2",
                                "evaluation.enabled", "false"))) {
            List<RawLearner> ls = joinAll(h, 2);
            double[] msPerBatch = {10, 50};
            double[] msPerEpoch = {100, 500};
            for (int i = 0; i < 2; i++) {
                Task t = ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                assertThat(t.getTrain().getLocalSteps()).as("round 1 trains by epochs").isZero();
                ls.get(i)
                        .submit(
                                1,
                                SPECS,
                                new float[100],
                                100,
                                Map.of(
                                        "ms_per_batch", msPerBatch[i],
                                        "ms_per_epoch", msPerEpoch[i]));
            }
            // Budget = 2 x the slowest epoch (500 ms) = 1000 ms.
            Task fast = ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            Task slow = ls.get(1).nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(fast.getRound()).isEqualTo(2);
            assertThat(fast.getTrain().getLocalSteps()).isEqualTo(100);
            assertThat(slow.getTrain().getLocalSteps()).isEqualTo(20);
        }
    }

    @Test
    void participationRatioDrawsASubsetEveryRoundAndOnlyItTrains() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "selection.participation-ratio", "0.5",
                                "federation.rounds", "3",
                                "federation.min-learners", "4",
                                "evaluation.enabled", "false"))) {
            List<RawLearner> ls = joinAll(h, 4);
            Set<Set<String>> draws = new HashSet<>();
            for (int round = 1; round <= 3; round++) {
                Set<String> trained = new HashSet<>();
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (trained.size() < 2 && System.nanoTime() < deadline) {
                    for (RawLearner l : ls) {
                        Task t;
                        try {
                            t = l.nextTask(Task.KindCase.TRAIN, Duration.ofMillis(200));
                        } catch (AssertionError none) {
                            continue;
                        }
                        assertThat(t.getRound()).isEqualTo(round);
                        l.submit(round, SPECS, new float[100], 100, Map.of());
                        trained.add(l.id());
                        if (trained.size() == 2) {
                            break; // the round closes now: later tasks belong to the next one
                        }
                    }
                }
                assertThat(trained).hasSize(2);
                draws.add(trained);
                RoundResult r = h.awaitResults(round, WAIT).get(round - 1);
                assertThat(r.participants).isEqualTo(2);
                assertThat(r.contributors).containsExactlyInAnyOrderElementsOf(trained);
            }
            h.awaitCompletion(WAIT);
        }
    }

    @Test
    void reachingTheMetricCutoffEndsTheFederationEarly() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "federation.rounds", "50",
                                "federation.min-learners", "1",
                                "termination.metric", "accuracy",
                                "termination.metric-cutoff", "0.8"))) {
            RawLearner l = joinAll(h, 1).get(0);
            double[] accuracy = {0.5, 0.9};
            for (int round = 1; round <= 2; round++) {
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(round);
                l.submit(round, SPECS, new float[100], 100, Map.of());
                assertThat(l.nextTask(Task.KindCase.EVALUATE, WAIT).getRound()).isEqualTo(round);
                l.evaluate(round, 10, Map.of("accuracy", accuracy[round - 1]));
            }
            assertThat(l.nextTask(Task.KindCase.SHUTDOWN, WAIT).getShutdown().getReason())
                    .contains("accuracy")
                    .contains("cutoff");
            h.awaitCompletion(WAIT);
            assertThat(h.federation().status()).isEqualTo(JobStatus.FINISHED);
            List<RoundResult> results = h.results();
            assertThat(results.get(1).round).isEqualTo(2);
            assertThat(results.get(1).last).isTrue();
            assertThat(results.stream().filter(r -> r.last)).hasSize(1);
        }
    }

    @Test
    void aDisconnectedLearnerIsNotDrawnUntilItReconnects() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "federation.rounds", "3",
                                "federation.min-learners", "3",
                                "round.timeout", "3 s",
                                "round.quorum", "0.5",
                                "evaluation.enabled", "false"))) {
            List<RawLearner> ls = joinAll(h, 3);
            for (RawLearner l : ls) {
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            }
            var credentials = ls.get(2).credentials();
            ls.get(2).close(); // fails without a Leave
            ls.get(0).submit(1, SPECS, new float[100], 100, Map.of());
            ls.get(1).submit(1, SPECS, new float[100], 100, Map.of());
            // Round 1 closes at its deadline with the quorum; round 2 draws only the live two.
            assertThat(ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            assertThat(h.awaitResults(1, WAIT).get(0).contributors).hasSize(2);
            RawLearner back = h.learner(0);
            back.useCredentials(credentials);
            back.openTaskStream();
            ls.get(0).submit(2, SPECS, new float[100], 100, Map.of());
            ls.get(1).nextTask(Task.KindCase.TRAIN, WAIT);
            ls.get(1).submit(2, SPECS, new float[100], 100, Map.of());
            RoundResult r2 = h.awaitResults(2, WAIT).get(1);
            assertThat(r2.participants).isEqualTo(2);
            assertThat(r2.roundTimeMs).isLessThan(3_000); // before the deadline: no one waited for
            // Reconnected, it is drawn again from round 3.
            assertThat(back.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(3);
            back.close();
        }
    }

    @Test
    void aLearnerJoiningMidRoundIsDrawnFromTheNextRound() throws Exception {
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "3",
                                        "federation.min-learners", "2",
                                        "evaluation.enabled", "false"));
                RawLearner late = h.learner(0)) {
            List<RawLearner> ls = joinAll(h, 2);
            for (RawLearner l : ls) {
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            }
            late.join("late", 100);
            late.openTaskStream();
            // Not a participant of round 1: its update for it is refused with a reason.
            assertThatThrownBy(() -> late.submit(1, SPECS, new float[100], 100, Map.of()))
                    .hasMessageContaining("not a participant of round 1");
            for (RawLearner l : ls) {
                l.submit(1, SPECS, new float[100], 100, Map.of());
            }
            assertThat(late.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            assertThat(h.awaitResults(1, WAIT).get(0).participants).isEqualTo(2);
        }
    }
}
