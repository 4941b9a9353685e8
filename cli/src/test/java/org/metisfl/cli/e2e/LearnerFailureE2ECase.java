package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.simulator.RawLearner;

/**
 * A learner dies half-way through uploading its update (its connection torn down, as when its
 * process is killed): the round drops it once its task stream has been gone for the grace period
 * and closes on the other participants, long before the round's deadline, with the model of a round
 * the dead learner never joined; the learner's restart joins again and is scheduled in the next
 * round.
 */
@ExtendWith(LocalFlinkCluster.class)
class LearnerFailureE2ECase {
    static final int SIZE = 5_000;
    static final int ROUNDS = 4;
    static final long[] FLEET_EXAMPLES = {100, 200};
    static final long C_EXAMPLES = 300;
    static final int C_INDEX = 2;
    static final Duration WAIT = Duration.ofSeconds(60);
    static final long GRACE_MS = 2_000;

    @Test
    void learnerKilledMidUploadIsDroppedAfterTheGracePeriodAndIsScheduledAgainAfterRejoining(
            LocalFlinkCluster.Cluster cluster) throws Exception {
        long t0 = System.nanoTime();
        Path work = Files.createDirectories(E2E.workDir().resolve("learner-failure"));
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        Path results = work.resolve("results.jsonl");
        Files.deleteIfExists(results);
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", "learner-failure");
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", "3");
        s.put("federation.results-file", results.toString());
        s.put("round.timeout", "10 min");
        s.put("round.participant-grace", GRACE_MS + " ms");
        s.put("round.quorum", "0.5");
        s.put("aggregation.shard-size", "1024");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.parallelism", "2");
        s.put("job.checkpoint-interval", "300 ms");
        Path fed = E2E.federationFile(work, "learner-failure", s);
        String jobId = E2E.submit(cluster, work, fed);

        RawLearner c = E2E.rawLearner(gateway);
        E2E.await(
                WAIT,
                "the gateway accepts a join",
                () -> {
                    c.join("learner-c", C_EXAMPLES);
                    return true;
                });
        c.openTaskStream();
        try (LearnerFleet fleet = new LearnerFleet(List.of(gateway), SIZE, FLEET_EXAMPLES, 50);
                RawLearner restarted = E2E.rawLearner(gateway)) {
            fleet.start();

            // Round 1: everyone contributes.
            assertThat(c.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            float[] g0 = c.getModel().values();
            assertThat(E2E.submit(c, 1, train(g0, 1), C_EXAMPLES))
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);

            // Round 2: learner C dies half-way through its upload.
            assertThat(c.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            RawLearner.Model g1 = c.getModel();
            assertThat(g1.version()).isEqualTo(1);
            String deadId = c.id();
            float[] half = train(g1.values(), 2);
            c.submitHalfAndDie(2, E2E.tensors(half.length), half, C_EXAMPLES, E2E.metrics(2));
            long diedAt = System.currentTimeMillis();

            // Its restart joins again (a new process has no credentials) and waits for work.
            restarted.join("learner-c", C_EXAMPLES);
            restarted.openTaskStream();

            E2E.await(WAIT, "round 2's result", () -> E2E.results(results).size() >= 2);
            RoundResult r2 = E2E.results(results).get(1);
            assertThat(r2.aborted).isFalse();
            assertThat(r2.participants).isEqualTo(3);
            assertThat(r2.contributors).hasSize(2).doesNotContain(deadId);
            assertThat(r2.dropped).containsExactly(deadId);
            assertThat(r2.closedAtMs - diedAt)
                    .as("closed once the grace period passed, not at the 10 min deadline")
                    .isBetween(GRACE_MS - 500, GRACE_MS + 5_000);

            // Round 3: the restarted learner is scheduled; the model of round 2 holds only the
            // two complete updates.
            Task t3 = restarted.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(t3.getRound()).isEqualTo(3);
            RawLearner.Model g2 = restarted.getModel();
            assertThat(g2.version()).isEqualTo(2);
            double total = FLEET_EXAMPLES[0] + FLEET_EXAMPLES[1];
            for (int k = 0; k < SIZE; k++) {
                double expected = 0;
                for (int i = 0; i < FLEET_EXAMPLES.length; i++) {
                    expected +=
                            FLEET_EXAMPLES[i]
                                    * (double) (g1.values()[k] + DeterministicModel.delta(i, 2, k));
                }
                assertThat((double) g2.values()[k]).isCloseTo(expected / total, within(1e-6));
            }
            assertThat(E2E.submit(restarted, 3, train(g2.values(), 3), C_EXAMPLES))
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);

            // Round 4: scheduled again; the federation ends normally.
            assertThat(restarted.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(4);
            float[] g3 = restarted.getModel().values();
            assertThat(E2E.submit(restarted, 4, train(g3, 4), C_EXAMPLES))
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            List<LearnerSummary> summaries = fleet.awaitEnd(WAIT);
            E2E.await(
                    Duration.ofSeconds(30),
                    "job FINISHED",
                    () -> cluster.jobState(jobId).equals("FINISHED"));

            List<RoundResult> rounds = E2E.results(results);
            assertThat(E2E.rounds(rounds)).containsExactly(1L, 2L, 3L, 4L);
            List<String> fleetIds = summaries.stream().map(LearnerSummary::learnerId).toList();
            assertThat(rounds.get(0).contributors)
                    .containsExactlyInAnyOrder(fleetIds.get(0), fleetIds.get(1), deadId);
            assertThat(r2.contributors).containsExactlyInAnyOrderElementsOf(fleetIds);
            for (RoundResult r : rounds.subList(2, 4)) {
                assertThat(r.aborted).isFalse();
                assertThat(r.contributors)
                        .as("round %d contributors", r.round)
                        .contains(restarted.id())
                        .containsAll(fleetIds)
                        .doesNotContain(deadId);
            }
            assertThat(summaries).allSatisfy(l -> assertThat(l.federationFinished()).isTrue());
        } catch (Throwable e) {
            System.err.println(cluster.logTail(40));
            throw e;
        } finally {
            c.close();
        }
        System.out.printf(
                "E2E: learner failure case took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /** Learner C's deterministic training: the given model plus its delta of this round. */
    private static float[] train(float[] model, long round) {
        float[] w = model.clone();
        for (int k = 0; k < w.length; k++) {
            w[k] += DeterministicModel.delta(C_INDEX, round, k);
        }
        return w;
    }
}
