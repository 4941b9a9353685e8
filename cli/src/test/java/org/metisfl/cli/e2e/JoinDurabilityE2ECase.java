package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.proto.v1.Task;
import org.metisfl.simulator.RawLearner;

/**
 * A learner that joined just before a failure keeps valid credentials after the job restarts from a
 * checkpoint taken before its join: the federation must still know it (or make it join again), or
 * it waits for tasks forever.
 */
@ExtendWith(LocalFlinkCluster.class)
class JoinDurabilityE2ECase {
    static final int SIZE = 2_000;

    @Test
    void learnerThatJoinedJustBeforeAFailoverIsScheduledAfterIt(LocalFlinkCluster.Cluster cluster)
            throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("join-durability"));
        Path model = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                model,
                List.of(new TensorSpecInfo(DeterministicModel.TENSOR, new long[] {SIZE})),
                DeterministicModel.initial(SIZE));
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", "join-durability");
        s.put("federation.rounds", "2");
        s.put("federation.min-learners", "2");
        s.put("federation.initial-model", model.toString());
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("round.timeout", "100 s");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.checkpoint-interval", "6 s");
        Path fed = E2E.federationFile(work, "join-durability", s);
        String jobId = E2E.submit(cluster, work, fed);

        // Join right after a checkpoint, then lose a TaskManager before the next one.
        E2E.await(
                Duration.ofSeconds(60), "a first checkpoint", () -> completed(cluster, jobId) >= 1);
        long before = completed(cluster, jobId);
        E2E.await(
                Duration.ofSeconds(30),
                "the next checkpoint",
                () -> completed(cluster, jobId) > before);
        try (RawLearner early = E2E.rawLearner(gateway);
                RawLearner late = E2E.rawLearner(gateway)) {
            early.join("early", 10);
            early.openTaskStream();
            long restarts = cluster.restarts(jobId);
            int tm =
                    cluster.taskManagerIndex(cluster.gatewayTaskManager(jobId))
                            .orElseThrow(() -> new AssertionError("no gateway TaskManager"));
            cluster.killTaskManager(tm);
            E2E.await(
                    Duration.ofSeconds(90),
                    "the job restarted",
                    () ->
                            cluster.restarts(jobId) > restarts
                                    && cluster.jobState(jobId).equals("RUNNING"));
            // The early learner reconnects with its (still valid) credentials.
            E2E.await(
                    Duration.ofSeconds(60),
                    "the restarted gateway serves the model to the early learner",
                    () -> {
                        early.getModel();
                        return true;
                    });
            early.openTaskStream();
            late.join("late", 10);
            late.openTaskStream();

            Task first = early.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(30));
            assertThat(first.getRound()).isEqualTo(1);
        }
    }

    private static long completed(LocalFlinkCluster.Cluster cluster, String jobId)
            throws Exception {
        JsonObject counts =
                cluster.get("/jobs/" + jobId + "/checkpoints")
                        .getAsJsonObject()
                        .getAsJsonObject("counts");
        return counts.get("completed").getAsLong();
    }
}
