package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * What learners that go silent, die or straddle a deadline do to a synchronous round, on a
 * MiniCluster with real gRPC: an update answered ACCEPTED is always counted in its own round, a
 * learner that never opens its task stream is never waited for, and a participant gone longer than
 * the grace period is dropped so the round closes on the others.
 */
class LivenessITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 3000;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    private Path initialModel() throws Exception {
        Path file = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                file, List.of(new TensorSpecInfo("w", new long[] {N})), pattern(0.1f, 0));
        return file;
    }

    private static float[] pattern(float scale, float shift) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.sin(i * 0.37 + shift);
        }
        return v;
    }

    @Test
    void
            anUploadStraddlingItsDeadlineIsRefusedNeverAcceptedAndLostAndAResendOfACountedOneIsADuplicate()
                    throws Exception {
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "3",
                                        "federation.min-learners", "2",
                                        "federation.initial-model", initialModel().toString(),
                                        "round.timeout", "4 s",
                                        "round.quorum", "0.5",
                                        "evaluation.enabled", "false",
                                        "aggregation.shard-size", "1024"));
                RawLearner slow = h.learner(0);
                RawLearner fast = h.learner(0)) {
            slow.join("slow", 100);
            fast.join("fast", 300);
            slow.openTaskStream();
            fast.openTaskStream();
            assertThat(slow.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            assertThat(fast.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);

            // The header of round 1 arrives well before its deadline...
            RawLearner.PartialUpload straddling = slow.beginSubmit(1, SPECS, 100, pattern(5f, 2));
            float[] fastUpdate = pattern(2f, 1);
            assertThat(fast.submit(1, SPECS, fastUpdate, 300, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            // ... the round closes at its deadline on the quorum, the next one opens ...
            RoundResult first = h.awaitResults(1, WAIT).get(0);
            assertThat(first.contributors).containsExactly(fast.id());
            assertThat(slow.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            // ... and only then does the rest of the upload arrive: refused, not ACCEPTED.
            assertThatThrownBy(() -> straddling.finish())
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                                assertThat(e.getStatus().getDescription())
                                        .contains("round 1 closed", "not counted");
                            });
            // The fast learner's update did count: a resend after its round closed is a
            // duplicate, not an error that would leave the learner unsure.
            assertThat(fast.submit(1, SPECS, fastUpdate, 300, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.DUPLICATE);
            // Round 1's model is the fast learner's update alone.
            RawLearner.Model model = slow.getModel();
            assertThat(model.version()).isEqualTo(1);
            for (int k = 0; k < N; k++) {
                assertThat(model.values()[k]).isEqualTo(fastUpdate[k]);
            }
        }
    }

    @Test
    void twoHundredLearnersThatJoinButNeverStreamAreNotDrawnAndDoNotDelayARound() throws Exception {
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "2",
                                        "federation.min-learners", "2",
                                        "federation.initial-model", initialModel().toString(),
                                        "round.timeout", "10 min",
                                        "evaluation.enabled", "false",
                                        "aggregation.shard-size", "1024"));
                RawLearner silent = h.learner(0);
                RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            ExecutorService pool = Executors.newFixedThreadPool(50);
            try {
                List<CompletableFuture<?>> joins = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    String name = "silent-" + i;
                    joins.add(CompletableFuture.runAsync(() -> silent.joinAnother(name, 10), pool));
                }
                CompletableFuture.allOf(joins.toArray(CompletableFuture[]::new)).get();
            } finally {
                pool.shutdownNow();
            }
            a.join("a", 100);
            b.join("b", 300);
            a.openTaskStream();
            b.openTaskStream();
            for (long round = 1; round <= 2; round++) {
                assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(round);
                assertThat(b.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(round);
                a.submit(round, SPECS, pattern(1f, round), 100, Map.of());
                b.submit(round, SPECS, pattern(3f, round), 300, Map.of());
            }
            h.awaitCompletion(WAIT);
            List<RoundResult> results = h.results();
            assertThat(results).hasSize(2);
            for (RoundResult r : results) {
                assertThat(r.participants).as("only the streaming learners").isEqualTo(2);
                assertThat(r.contributors).containsExactlyInAnyOrder(a.id(), b.id());
                assertThat(r.aborted).isFalse();
                assertThat(r.roundTimeMs).as("closed on its participants").isLessThan(15_000);
            }
        }
    }

    @Test
    void aParticipantKilledMidRoundIsDroppedAfterTheGracePeriodAndTheRoundClosesOnTheOthers()
            throws Exception {
        long[] examples = {100, 200, 700};
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "federation.rounds", "2",
                                "federation.min-learners", "3",
                                "federation.initial-model", initialModel().toString(),
                                "round.timeout", "10 min",
                                "round.participant-grace", "2 s",
                                "evaluation.enabled", "false",
                                "aggregation.shard-size", "1024"))) {
            List<RawLearner> learners = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                RawLearner l = h.learner(0);
                l.join("learner-" + i, examples[i]);
                l.openTaskStream();
                learners.add(l);
            }
            for (RawLearner l : learners) {
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            }
            String killedId = learners.get(2).id();
            float[][] updates = {pattern(1f, 1), pattern(2f, 2)};
            for (int i = 0; i < 2; i++) {
                assertThat(
                                learners.get(i)
                                        .submit(1, SPECS, updates[i], examples[i], Map.of())
                                        .getStatus())
                        .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }
            long killedAt = System.currentTimeMillis();
            learners.get(2).close(); // its task stream is gone, no Leave

            RoundResult first = h.awaitResults(1, Duration.ofSeconds(20)).get(0);
            long closedAfter = first.closedAtMs - killedAt;
            assertThat(closedAfter)
                    .as("closed within the grace period plus a little")
                    .isBetween(1_500L, 6_000L);
            assertThat(first.aborted).isFalse();
            assertThat(first.dropped).containsExactly(killedId);
            assertThat(first.contributors)
                    .containsExactlyInAnyOrder(learners.get(0).id(), learners.get(1).id());
            RawLearner.Model model = learners.get(0).getModel();
            assertThat(model.version()).isEqualTo(1);
            for (int k = 0; k < N; k++) {
                double expected =
                        (examples[0] * (double) updates[0][k] + examples[1] * updates[1][k])
                                / (examples[0] + examples[1]);
                assertThat((double) model.values()[k]).isCloseTo(expected, within(1e-6));
            }
            // Round 2 runs with the two that are left, and the federation finishes.
            for (int i = 0; i < 2; i++) {
                RawLearner l = learners.get(i);
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                l.submit(2, SPECS, pattern(1f, i), examples[i], Map.of());
            }
            h.awaitCompletion(WAIT);
            RoundResult second = h.results().get(1);
            assertThat(second.participants).isEqualTo(2);
            assertThat(second.dropped).isEmpty();
            learners.get(0).close();
            learners.get(1).close();
        }
    }
}
