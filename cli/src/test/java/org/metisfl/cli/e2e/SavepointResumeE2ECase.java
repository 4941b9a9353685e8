package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.simulator.RawLearner;

/**
 * A federation is stopped with a savepoint in the middle of a round ({@code metisfl stop}) and
 * resumed from it ({@code metisfl resume}) on a real session cluster: it continues at the same
 * round with a bit-identical global model, and the learners, never restarted, carry on by
 * themselves.
 */
@ExtendWith(LocalFlinkCluster.class)
class SavepointResumeE2ECase {
    static final int SIZE = 5_000;
    static final int ROUNDS = 6;
    static final int STOP_ROUND = 3;
    static final long[] EXAMPLES = {100, 200, 300};

    @Test
    void stoppedFederationResumesAtTheSameRoundWithTheSameModelAndTheSameLearners(
            LocalFlinkCluster.Cluster cluster) throws Exception {
        long t0 = System.nanoTime();
        Path work = Files.createDirectories(E2E.workDir().resolve("savepoint-resume"));
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        Path results = work.resolve("results.jsonl");
        Files.deleteIfExists(results);
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", "resumable");
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", "3");
        s.put("federation.results-file", results.toString());
        s.put("round.timeout", "100 s");
        s.put("aggregation.shard-size", "1024");
        s.put("evaluation.timeout", "3 s");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.parallelism", "2");
        s.put("job.checkpoint-interval", "300 ms");
        s.put("job.state-backend", "rocksdb");
        Path fed = E2E.federationFile(work, "resumable", s);
        String jobId = E2E.submit(cluster, work, fed);

        // An observer with credentials to read the model: it never opens a task stream, so it is
        // never drawn as a participant; its token stays valid across the savepoint and resume.
        RawLearner observer = E2E.rawLearner(gateway);
        E2E.await(
                Duration.ofSeconds(60),
                "the gateway accepts a join",
                () -> {
                    observer.join("observer", 1);
                    return true;
                });

        try (LearnerFleet fleet = new LearnerFleet(List.of(gateway), SIZE, EXAMPLES, 50)) {
            fleet.models.forEach(m -> m.holdAt(STOP_ROUND));
            fleet.start();
            for (DeterministicModel m : fleet.models) {
                assertThat(m.awaitHeld(90, TimeUnit.SECONDS)).isTrue();
            }
            RawLearner.Model before = observer.getModel();
            assertThat(before.version()).isEqualTo(STOP_ROUND - 1);

            long stoppedAt = System.currentTimeMillis();
            E2E.Run stop = E2E.cli(cluster, work, "stop", jobId).ok();
            String savepoint = stop.savepoint();
            assertThat(stop.out())
                    .containsPattern("Resume it with: \\S*bin/metisfl resume --from ")
                    .contains(" resume --from " + savepoint + " ");
            assertThat(cluster.jobState(jobId)).isEqualTo("FINISHED");

            String resumed =
                    E2E.cli(
                                    cluster,
                                    work,
                                    "resume",
                                    "--from",
                                    savepoint,
                                    fed.toString(),
                                    "--jar",
                                    E2E.jobJar().toString())
                            .ok()
                            .jobId();
            assertThat(resumed).isNotEqualTo(jobId);
            RawLearner.Model[] after = new RawLearner.Model[1];
            E2E.await(
                    Duration.ofSeconds(60),
                    "the resumed gateway serves the model",
                    () -> {
                        after[0] = observer.getModel();
                        return true;
                    });
            assertThat(after[0].version()).isEqualTo(before.version());
            observer.leave();
            assertThat(after[0].sha256())
                    .as("global model before the stop and after the resume")
                    .isEqualTo(before.sha256());
            E2E.Run status = E2E.cli(cluster, work, "status").ok();
            assertThat(status.out()).contains("Job " + resumed).contains("Resumed:    from");

            fleet.models.forEach(DeterministicModel::release);
            List<LearnerSummary> summaries = fleet.awaitEnd(Duration.ofSeconds(120));
            assertThat(summaries)
                    .allSatisfy(
                            l -> {
                                assertThat(l.federationFinished()).isTrue();
                                assertThat(l.roundsTrained()).isEqualTo(ROUNDS);
                                assertThat(l.updatesDropped()).isZero();
                                assertThat(l.reconnects()).isPositive();
                            });
            E2E.await(
                    Duration.ofSeconds(30),
                    "resumed job FINISHED",
                    () -> cluster.jobState(resumed).equals("FINISHED"));

            List<RoundResult> rounds = E2E.results(results);
            assertThat(E2E.rounds(rounds)).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
            List<String> ids = summaries.stream().map(LearnerSummary::learnerId).toList();
            assertThat(rounds)
                    .allSatisfy(
                            r -> {
                                assertThat(r.aborted).isFalse();
                                assertThat(r.contributors).containsExactlyInAnyOrderElementsOf(ids);
                            });
            RoundResult stopped = rounds.get(STOP_ROUND - 1);
            assertThat(stopped.startedAtMs)
                    .as("round %d went on in the resumed job, it was not started again", STOP_ROUND)
                    .isLessThan(stoppedAt);
            assertThat(stopped.closedAtMs).isGreaterThan(stoppedAt);

            float[] expected = DeterministicModel.expectedGlobal(SIZE, EXAMPLES, ROUNDS);
            for (DeterministicModel m : fleet.models) {
                float[] got = m.lastReceived();
                for (int k = 0; k < SIZE; k++) {
                    assertThat(got[k]).isCloseTo(expected[k], within(1e-6f));
                }
            }
        } catch (Throwable e) {
            System.err.println(cluster.logTail(40));
            throw e;
        } finally {
            observer.close();
        }
        System.out.printf(
                "E2E: savepoint/resume case took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
}
