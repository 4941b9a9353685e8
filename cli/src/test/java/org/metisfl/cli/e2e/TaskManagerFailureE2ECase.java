package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.simulator.RawLearner;

/**
 * A TaskManager is killed with SIGKILL in the middle of a synchronous FedAvg round, on a real
 * session cluster: the job restarts from its last checkpoint on the surviving TaskManager, the
 * learners reconnect and resend what was not acknowledged, and the federation ends exactly as a
 * failure-free run does (same contributors every round, same final model within float32 rounding):
 * no update lost, none counted twice. The model store of the run with the kill holds every version
 * once, each the FedAvg computed here. For both state backends.
 */
@ExtendWith(LocalFlinkCluster.class)
class TaskManagerFailureE2ECase {
    static final int SIZE = 5_000; // five shards of 1,024
    static final int ROUNDS = 6;
    static final int KILL_ROUND = 3;
    static final long[] EXAMPLES = {100, 200, 300};
    static final Duration FEDERATION_TIMEOUT = Duration.ofSeconds(150);

    /** What a federation run produced. */
    record Outcome(
            String jobId,
            Map<Long, Set<String>> contributorsByRound,
            List<RoundResult> results,
            List<float[]> finalModels,
            List<LearnerSummary> summaries,
            long restarts) {}

    @ParameterizedTest(name = "state backend {0}")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void killedTaskManagerMidRoundLosesNoUpdateAndCountsNoneTwice(
            String backend, LocalFlinkCluster.Cluster cluster) throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("tm-failure-" + backend));
        long t0 = System.nanoTime();
        Outcome reference = run(cluster, work, backend, false);
        long t1 = System.nanoTime();
        Outcome failed = run(cluster, work, backend, true);
        long t2 = System.nanoTime();
        System.out.printf(
                "E2E[%s]: failure-free run %.1f s, run with a killed TaskManager %.1f s (%d"
                        + " restarts)%n",
                backend, (t1 - t0) / 1e9, (t2 - t1) / 1e9, failed.restarts());

        assertThat(reference.restarts()).isZero();
        assertThat(failed.restarts()).as("the job restarted after the kill").isPositive();
        for (Outcome o : List.of(reference, failed)) {
            assertThat(E2E.rounds(o.results())).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
            assertThat(o.results()).allSatisfy(r -> assertThat(r.aborted).isFalse());
            assertThat(o.summaries())
                    .allSatisfy(
                            s -> {
                                assertThat(s.federationFinished()).isTrue();
                                assertThat(s.roundsTrained()).isEqualTo(ROUNDS);
                                assertThat(s.updatesDropped()).isZero();
                            });
        }
        assertThat(failed.contributorsByRound())
                .as("contributors of every round, as in the failure-free run")
                .isEqualTo(reference.contributorsByRound());
        assertThat(reference.contributorsByRound().get(1L))
                .containsExactly("learner-0", "learner-1", "learner-2");

        float[] expected = DeterministicModel.expectedGlobal(SIZE, EXAMPLES, ROUNDS);
        for (int i = 0; i < EXAMPLES.length; i++) {
            float[] ref = reference.finalModels().get(i);
            float[] got = failed.finalModels().get(i);
            for (int k = 0; k < SIZE; k++) {
                assertThat(ref[k])
                        .as("reference weight %d", k)
                        .isCloseTo(expected[k], within(1e-6f));
                assertThat(got[k])
                        .as("weight %d after the failure vs. the failure-free run", k)
                        .isCloseTo(ref[k], within(1e-6f));
            }
        }
    }

    private Outcome run(LocalFlinkCluster.Cluster cluster, Path work, String backend, boolean kill)
            throws Exception {
        String tag = kill ? "kill" : "reference";
        int port = E2E.freePort();
        Path results = work.resolve(tag + ".jsonl");
        Files.deleteIfExists(results);
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", backend + "-" + tag);
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", "3");
        s.put("federation.results-file", results.toString());
        s.put("round.timeout", "100 s");
        s.put("round.quorum", "0.5");
        s.put("aggregation.shard-size", "1024");
        s.put("evaluation.enabled", "true");
        s.put("evaluation.timeout", "3 s");
        s.put("gateway.host", "127.0.0.1");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.parallelism", "2");
        s.put("job.checkpoint-interval", "300 ms");
        s.put("job.state-backend", backend);
        Path store = work.resolve("models-" + tag).toAbsolutePath();
        s.put("model-store.path", store.toString());
        Path fed = E2E.federationFile(work, tag, s);
        String jobId = E2E.submit(cluster, work, fed);

        RawLearner observer = E2E.rawLearner("127.0.0.1:" + port);
        if (kill) {
            // credentials to read the model, without taking part: it never opens a task stream,
            // so it is never drawn (a Leave would revoke the token it reads the model with)
            E2E.await(
                    Duration.ofSeconds(60),
                    "the gateway accepts a join",
                    () -> {
                        observer.join("observer", 1);
                        return true;
                    });
        }
        try (observer;
                LearnerFleet fleet =
                        new LearnerFleet(List.of("127.0.0.1:" + port), SIZE, EXAMPLES, 100)) {
            if (kill) {
                fleet.models.get(1).holdAt(KILL_ROUND);
                fleet.models.get(2).holdAt(KILL_ROUND);
            }
            fleet.start();
            if (kill) {
                killMidRound(cluster, jobId, fleet, observer);
            }
            List<LearnerSummary> summaries = fleet.awaitEnd(FEDERATION_TIMEOUT);
            E2E.await(
                    Duration.ofSeconds(30),
                    "job " + jobId + " FINISHED",
                    () -> cluster.jobState(jobId).equals("FINISHED"));
            List<RoundResult> rounds = E2E.results(results);
            Map<String, String> names = new HashMap<>();
            for (int i = 0; i < summaries.size(); i++) {
                names.put(summaries.get(i).learnerId(), "learner-" + i);
            }
            Map<Long, Set<String>> byRound = new TreeMap<>();
            for (RoundResult r : rounds) {
                Set<String> c = new TreeSet<>();
                r.contributors.forEach(id -> c.add(names.getOrDefault(id, "unknown " + id)));
                byRound.put(r.round, c);
            }
            List<float[]> finals =
                    fleet.models.stream().map(DeterministicModel::lastReceived).toList();
            checkStore(store, backend + "-" + tag);
            return new Outcome(jobId, byRound, rounds, finals, summaries, cluster.restarts(jobId));
        } catch (Throwable e) {
            System.err.println(cluster.logTail(40));
            throw e;
        }
    }

    /**
     * The store holds the initial model and one version per round, each published once (no pending
     * or second copy left), each the FedAvg of all three learners over its rounds.
     */
    private static void checkStore(Path store, String federation) throws Exception {
        ModelStore models = ModelStore.open(store.toUri().toString(), federation);
        E2E.await(
                Duration.ofSeconds(30),
                "the store publishes version " + ROUNDS,
                () -> models.versions().contains((long) ROUNDS));
        assertThat(models.versions()).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L);
        try (var files = Files.list(store.resolve(federation))) {
            assertThat(files.filter(f -> f.toString().endsWith(".model")).count())
                    .as("one model file per version")
                    .isEqualTo(ROUNDS + 1);
        }
        for (int v = 1; v <= ROUNDS; v++) {
            float[] stored = models.read(v).values();
            float[] expected = DeterministicModel.expectedGlobal(SIZE, EXAMPLES, v);
            for (int k = 0; k < SIZE; k++) {
                assertThat(stored[k]).as("v%d[%d]", v, k).isCloseTo(expected[k], within(1e-6f));
            }
        }
    }

    /**
     * With learner 0's round update in (and acknowledged), learners 1 and 2 held at the start of
     * the round: release learner 1 so its upload races the kill, kill -9 the TaskManager running
     * the learner gateway, and release learner 2 once the job runs again.
     */
    private void killMidRound(
            LocalFlinkCluster.Cluster cluster,
            String jobId,
            LearnerFleet fleet,
            RawLearner observer)
            throws Exception {
        DeterministicModel first = fleet.models.get(0);
        assertThat(fleet.models.get(1).awaitHeld(90, TimeUnit.SECONDS)).isTrue();
        assertThat(fleet.models.get(2).awaitHeld(90, TimeUnit.SECONDS)).isTrue();
        E2E.await(
                Duration.ofSeconds(30),
                "learner 0 trained round " + KILL_ROUND,
                () -> first.trainedRounds().containsKey((long) KILL_ROUND));
        Thread.sleep(1_000); // its update is checkpointed and acknowledged
        String tm = cluster.gatewayTaskManager(jobId);
        int index =
                cluster.taskManagerIndex(tm)
                        .orElseThrow(() -> new AssertionError("no TaskManager process for " + tm));
        long restarts = cluster.restarts(jobId);
        fleet.models.get(1).release();
        Thread.sleep(120);
        cluster.killTaskManager(index);
        E2E.await(
                Duration.ofSeconds(90),
                "job " + jobId + " restarted and RUNNING",
                () ->
                        cluster.restarts(jobId) > restarts
                                && cluster.jobState(jobId).equals("RUNNING"));
        // Learner 2 trains once the restarted gateway knows the round again (it serves the model).
        // Releasing it earlier can hit the window reported in GatewayRestartE2ECase.
        E2E.await(
                Duration.ofSeconds(60),
                "the restarted gateway serves the model",
                () -> {
                    observer.getModel();
                    return true;
                });
        fleet.models.get(2).release();
    }
}
