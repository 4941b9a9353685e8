package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Local pre-aggregation under a failure: the job's only task manager dies while a round's updates
 * have been folded and emitted into the job but before the checkpoint that would hold them. The job
 * restarts from its last checkpoint, the learners send what was not acknowledged again, and the
 * round's model is the weighted mean of the four updates computed here, each counted once.
 */
class PreAggregationFailoverITCase {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", 3000));
    private static final int N = 3000;
    private static final int LEARNERS = 4;

    @TempDir Path work;

    private static float[] update(int learner, long round) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (learner + 1) * (float) Math.sin(i * 0.37 + round) + learner;
        }
        return v;
    }

    private static long examples(int learner) {
        return 10L * (learner + 1);
    }

    @Test
    void aTaskManagerLostAfterPartialSumsLeftTheGatewayGivesTheFailureFreeModel() throws Exception {
        Path initial = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                initial, List.of(new TensorSpecInfo("w", new long[] {N})), new float[N]);
        int port = FederationHarness.freePorts(1);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        // Long enough that the kill below falls between the partials' emission and their
        // checkpoint.
        s.put("job.checkpoint-interval", "4 s");
        s.put("job.parallelism", "2");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", initial.toString());
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        s.put("aggregation.pre-aggregate", "true");
        FederationConfig config = FederationConfig.of(s);
        assertThat(FederationPipeline.preAggregation(config)).isNotNull();

        List<RawLearner> learners = new ArrayList<>();
        ConcurrentUploads<RawLearner> uploads =
                new ConcurrentUploads<>(
                        learners,
                        LEARNERS,
                        (l, i, round) ->
                                l.submit(round, SPECS, update(i, round), examples(i), Map.of()));
        try (FailoverCluster cluster = FailoverCluster.submit(config, work)) {

            for (int i = 0; i < LEARNERS; i++) {
                RawLearner l = new RawLearner("127.0.0.1", port);
                RawLearnerWaits.joinWhenReady(l, "learner-" + i, examples(i), WAIT);
                learners.add(l);
            }
            for (RawLearner l : learners) {
                l.openTaskStream();
            }

            // Round 1 (the round open when the gateway started is never folded): all four.
            RawLearnerWaits.awaitTrain(learners, 1, WAIT);
            uploads.sendAccepted(1, Duration.ofSeconds(60), 0, 1, 2, 3);

            // Round 2: three updates arrive together and leave the gateway (folded when they
            // queue up in one poll); the task manager dies before the next checkpoint.
            RawLearnerWaits.awaitTrain(learners, 2, WAIT);
            List<CompletableFuture<SubmitUpdateResponse>> pending = uploads.submit(2, 0, 1, 2);
            Thread.sleep(400);
            cluster.replaceTaskManager();

            // After the restart: whatever was not acknowledged is sent again, and the fourth.
            List<Integer> again = ConcurrentUploads.lost(pending, Duration.ofSeconds(60));
            for (RawLearner l : learners) {
                RawLearnerWaits.reopenWhenReady(l, 2, WAIT);
            }
            again.add(3);
            uploads.sendAgain(2, Duration.ofSeconds(60), again);

            RawLearnerWaits.awaitTrain(learners.subList(0, 1), 3, WAIT);
            RawLearner.Model model = learners.get(0).getModel();
            assertThat(model.version()).isEqualTo(2);
            float[] expected = new float[N];
            double total = 0;
            for (int l = 0; l < LEARNERS; l++) {
                total += examples(l);
            }
            for (int i = 0; i < N; i++) {
                double sum = 0;
                for (int l = 0; l < LEARNERS; l++) {
                    sum += examples(l) * update(l, 2)[i];
                }
                expected[i] = (float) (sum / total);
            }
            for (int i = 0; i < N; i++) {
                assertThat(model.values()[i])
                        .as("value %d", i)
                        .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
            }
            List<RoundResult> results = RoundResults.read(Path.of(config.resultsFile()));
            RoundResult round2 =
                    results.stream().filter(r -> r.round == 2).findFirst().orElseThrow();
            List<String> ids = new ArrayList<>();
            for (RawLearner l : learners) {
                ids.add(l.id());
            }
            assertThat(round2.contributors).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(again).as("updates sent again after the failure").isNotEmpty();
        } finally {
            for (RawLearner l : learners) {
                l.close();
            }
            uploads.close();
        }
    }
}
