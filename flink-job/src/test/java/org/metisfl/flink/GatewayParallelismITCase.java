package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Two learner gateways (source parallelism 2): learners on either gateway get their tasks, the
 * model sink reaches both, every round aggregates the learners of both, and an update that counted
 * is a duplicate at either gateway.
 */
class GatewayParallelismITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir Path work;

    @Test
    void learnersOnBothGatewaysCompleteEveryRoundAndTheFederationEnds() throws Exception {
        List<TensorSpec> specs = List.of(RawLearner.spec("w", 3000), RawLearner.spec("b", 10));
        int n = 3010;
        int rounds = 3;
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "gateway.parallelism", "2",
                                "job.parallelism", "2",
                                "federation.rounds", Integer.toString(rounds),
                                "federation.min-learners", "4",
                                "aggregation.shard-size", "1024"))) {
            List<RawLearner> learners = new ArrayList<>();
            List<Boolean> initialModelRequested = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                RawLearner l = h.learner(i % 2);
                initialModelRequested.add(l.join("learner-" + i, 10).getInitialModelRequested());
                learners.add(l);
            }
            // The initial model comes from the first learner that uploads one.
            assertThat(initialModelRequested).containsOnly(true);
            float[] init = new float[n];
            assertThat(learners.get(0).submit(0, specs, init, 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            for (RawLearner l : learners) {
                l.openTaskStream();
            }
            for (int r = 1; r <= rounds; r++) {
                for (int i = 0; i < 4; i++) {
                    Task t = learners.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                    assertThat(t.getRound()).isEqualTo(r);
                }
                if (r == 2) {
                    // Learner 0's round-1 update counted (sent to gateway 0); resent to gateway 1
                    // after the round closed, it is a duplicate there too, not an error.
                    try (RawLearner elsewhere = h.learner(1)) {
                        elsewhere.useCredentials(learners.get(0).credentials());
                        float[] u1 = new float[n];
                        java.util.Arrays.fill(u1, 10);
                        assertThat(elsewhere.submit(1, specs, u1, 10, Map.of()).getStatus())
                                .isEqualTo(SubmitUpdateResponse.Status.DUPLICATE);
                    }
                }
                for (int i = 0; i < 4; i++) {
                    RawLearner l = learners.get(i);
                    float[] u = new float[n];
                    java.util.Arrays.fill(u, r * 10 + i);
                    l.submit(r, specs, u, 10, Map.of("loss", 1.0 / r));
                }
                for (int i = 0; i < 4; i++) {
                    RawLearner l = learners.get(i);
                    Task e = l.nextTask(Task.KindCase.EVALUATE, WAIT);
                    assertThat(e.getRound()).isEqualTo(r);
                    RawLearner.Model m = l.getModel();
                    assertThat(m.version()).isEqualTo(r);
                    assertThat(m.values()).containsOnly(r * 10 + 1.5f);
                    l.evaluate(r, 100, Map.of("accuracy", 0.5 + 0.1 * r));
                }
            }
            for (RawLearner l : learners) {
                assertThat(l.nextTask(WAIT).getKindCase()).isEqualTo(Task.KindCase.SHUTDOWN);
            }
            h.awaitCompletion(WAIT);
            assertThat(h.federation().status()).isEqualTo(JobStatus.FINISHED);

            List<RoundResult> results = h.results();
            assertThat(results).hasSize(rounds);
            for (RoundResult r : results) {
                List<String> ids = new ArrayList<>();
                for (RawLearner l : learners) {
                    ids.add(l.id());
                }
                assertThat(r.contributors).containsExactlyInAnyOrderElementsOf(ids);
                assertThat(r.evalMetrics.get("accuracy"))
                        .isCloseTo(
                                0.5 + 0.1 * r.round, org.assertj.core.api.Assertions.within(1e-9));
            }
            assertThat(results.get(rounds - 1).last).isTrue();
            for (RawLearner l : learners) {
                l.close();
            }
        }
    }

    @Test
    void anUpdateSentAgainThroughTheOtherGatewayCountsOnce() throws Exception {
        List<TensorSpec> specs = List.of(RawLearner.spec("w", 3000));
        int n = 3000;
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "gateway.parallelism", "2",
                                "job.parallelism", "2",
                                "federation.rounds", "2",
                                "evaluation.enabled", "false",
                                "federation.min-learners", "2",
                                "aggregation.shard-size", "1024"))) {
            RawLearner a = h.learner(0);
            RawLearner b = h.learner(1);
            a.join("a", 10);
            b.join("b", 10);
            assertThat(a.submit(0, specs, new float[n], 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            a.openTaskStream();
            b.openTaskStream();
            assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            assertThat(b.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            float[] ua = new float[n];
            java.util.Arrays.fill(ua, 10f);
            float[] ub = new float[n];
            java.util.Arrays.fill(ub, 40f);
            assertThat(a.submit(1, specs, ua, 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            // a's copy again, through the other gateway (as after a reconnect): counted once.
            RawLearner again = h.learner(1).useCredentials(a.credentials());
            assertThat(again.submit(1, specs, ua, 10, Map.of()).getStatus())
                    .isIn(
                            SubmitUpdateResponse.Status.ACCEPTED,
                            SubmitUpdateResponse.Status.DUPLICATE);
            assertThat(b.submit(1, specs, ub, 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);

            a.nextTask(WAIT); // the next round's (or an evaluation's): the round is closed
            List<RoundResult> results = h.awaitResults(1, WAIT);
            assertThat(results.get(0).contributors).containsExactlyInAnyOrder(a.id(), b.id());
            RawLearner.Model m = a.getModel();
            assertThat(m.version()).isEqualTo(1);
            // (10 + 40) / 2; a counted twice would give (10 + 10 + 40) / 3.
            assertThat(m.values()).containsOnly(25f);
            for (RawLearner l : List.of(a, b, again)) {
                l.close();
            }
        }
    }
}
