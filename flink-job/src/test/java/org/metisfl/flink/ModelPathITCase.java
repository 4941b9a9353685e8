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
 * The model path (issue 14, item 2): global shards go from the two shard aggregator subtasks' sinks
 * straight to the gateways, the coordinator gets round metadata only. Over real gRPC on a
 * MiniCluster with RocksDB, each round's served model is the example-weighted mean computed here,
 * at every gateway; and a task manager lost after a round's shards reached the gateways but before
 * the checkpoint that holds them gives the failure-free model once the learners sent again what was
 * not acknowledged.
 */
class ModelPathITCase {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int N = 3000;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
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

    /** The example-weighted mean of the learners' round-{@code round} updates, in double. */
    private static double[] weightedMean(long round) {
        double[] sum = new double[N];
        double total = 0;
        for (int l = 0; l < LEARNERS; l++) {
            float[] u = update(l, round);
            for (int i = 0; i < N; i++) {
                sum[i] += examples(l) * (double) u[i];
            }
            total += examples(l);
        }
        for (int i = 0; i < N; i++) {
            sum[i] /= total;
        }
        return sum;
    }

    private static float[] initialValues() {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = 0.5f * (float) Math.cos(i * 0.11);
        }
        return v;
    }

    private Path initialModel() throws Exception {
        Path initial = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                initial, List.of(new TensorSpecInfo("w", new long[] {N})), initialValues());
        return initial;
    }

    private static void assertModel(RawLearner.Model model, long version, double[] expected) {
        assertThat(model.version()).isEqualTo(version);
        assertThat(model.values()).hasSize(N);
        for (int i = 0; i < N; i++) {
            assertThat((double) model.values()[i])
                    .as("value %d of version %d", i, version)
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    @Test
    void everyGatewayServesTheWeightedMeanRoundAfterRoundFromTwoAggregatorSubtasks()
            throws Exception {
        federateThreeRounds(Map.of(), ModelPathITCase::weightedMean);
    }

    /**
     * FedAdam steps each shard at its aggregator from the initial model (which the gateways hand to
     * the aggregators) towards each round's weighted mean, as computed here in double.
     */
    @Test
    void fedAdamStepsEveryShardAtItsAggregatorAsComputedHere() throws Exception {
        double lr = 0.1;
        double beta1 = 0.9;
        double beta2 = 0.99;
        double tau = 1e-3;
        double[][] models = new double[4][];
        models[0] = toDouble(initialValues());
        double[] m = new double[N];
        double[] v = new double[N];
        for (int round = 1; round <= 3; round++) {
            double[] avg = weightedMean(round);
            double[] next = new double[N];
            for (int i = 0; i < N; i++) {
                double delta = (float) avg[i] - models[round - 1][i];
                m[i] = beta1 * m[i] + (1 - beta1) * delta;
                v[i] = beta2 * v[i] + (1 - beta2) * delta * delta;
                next[i] = models[round - 1][i] + lr * m[i] / (Math.sqrt(v[i]) + tau);
            }
            models[round] = next;
        }
        federateThreeRounds(
                Map.of("optimizer.type", "fedadam", "optimizer.learning-rate", Double.toString(lr)),
                round -> models[(int) (long) round]);
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /**
     * Three rounds of four learners, two at each of two gateways, two aggregator subtasks and three
     * shards on RocksDB: every learner is served {@code expected} of each round's model.
     */
    private void federateThreeRounds(
            Map<String, String> extra, java.util.function.LongFunction<double[]> expected)
            throws Exception {
        Map<String, String> s = new HashMap<>();
        s.put("gateway.parallelism", "2");
        s.put("job.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", initialModel().toString());
        s.put("evaluation.enabled", "false");
        // Three shards over two aggregator subtasks: each sink sends some of every model.
        s.put("aggregation.shard-size", "1024");
        s.putAll(extra);
        try (FederationHarness h = FederationHarness.start(work, s)) {
            assertThat(FederationPipeline.modelAtShards(h.config())).isTrue();
            List<RawLearner> learners = new ArrayList<>();
            for (int i = 0; i < LEARNERS; i++) {
                RawLearner l = h.learner(i % 2); // two learners at each gateway
                l.join("learner-" + i, examples(i));
                l.openTaskStream();
                learners.add(l);
            }
            for (long round = 1; round <= 3; round++) {
                RawLearnerWaits.awaitTrain(learners, round, WAIT);
                for (RawLearner l : learners) {
                    RawLearner.Model m = l.getModel();
                    assertModel(
                            m,
                            round - 1,
                            round == 1 ? toDouble(initialValues()) : expected.apply(round - 1));
                }
                for (int i = 0; i < LEARNERS; i++) {
                    assertThat(
                                    learners.get(i)
                                            .submit(
                                                    round,
                                                    SPECS,
                                                    update(i, round),
                                                    examples(i),
                                                    Map.of())
                                            .getStatus())
                            .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
                }
            }
            h.awaitCompletion(WAIT);
            List<RoundResult> results = h.results();
            assertThat(results).hasSize(3);
            for (RoundResult r : results) {
                assertThat(r.contributors).hasSize(LEARNERS);
                assertThat(r.aborted).isFalse();
            }
            for (RawLearner l : learners) {
                l.close();
            }
        }
    }

    @Test
    void whichFederationsTakeTheModelPath() throws Exception {
        Map<String, String> base = new HashMap<>();
        base.put("federation.initial-model", initialModel().toString());
        assertThat(FederationPipeline.modelAtShards(FederationConfig.of(base))).isTrue();
        Map<String, String> krum = new HashMap<>(base);
        krum.put("aggregation.rule", "krum");
        // Krum: distances as metadata, the selection back through the gateways, the selected
        // mean per shard straight to the gateways.
        assertThat(FederationPipeline.modelAtShards(FederationConfig.of(krum))).isTrue();
        Map<String, String> async = new HashMap<>(base);
        async.put("protocol.type", "asynchronous");
        // Asynchronous: the versions the shards pick go to the gateways from the aggregators.
        assertThat(FederationPipeline.modelAtShards(FederationConfig.of(async))).isTrue();
        assertThat(FederationPipeline.globalValuesAtShards(FederationConfig.of(async))).isFalse();
        // The model store stores what the coordinator publishes.
        Map<String, String> stored = new HashMap<>(async);
        stored.put("model-store.path", work.resolve("store").toString());
        assertThat(FederationPipeline.modelAtShards(FederationConfig.of(stored))).isFalse();
        // Central DP: the noised mean delta is added at each shard; the first model reaches the
        // aggregators from the gateways.
        Map<String, String> dp = new HashMap<>(base);
        dp.put("privacy.mechanism", "central-dp");
        assertThat(FederationPipeline.modelAtShards(FederationConfig.of(dp))).isTrue();
        assertThat(FederationPipeline.globalValuesAtShards(FederationConfig.of(dp))).isTrue();
        assertThat(FederationPipeline.globalValuesAtShards(FederationConfig.of(base))).isFalse();
        // The CKKS secure sum: each shard's encrypted sum goes to the gateways as it is.
        assertThat(
                        FederationPipeline.modelAtShards(
                                FederationConfig.of(Map.of("secure-aggregation", "ckks"))))
                .isTrue();
        // Threshold CKKS: the coordinator gathers the committee's partial decryptions.
        assertThat(
                        FederationPipeline.modelAtShards(
                                FederationConfig.of(
                                        Map.of(
                                                "secure-aggregation", "ckks-threshold",
                                                "secure-aggregation.preset", "n13-q180-t",
                                                "federation.min-learners", "2",
                                                "secure-aggregation.committee.size", "2"))))
                .isFalse();
    }

    @Test
    void
            aTaskManagerLostAfterARoundsShardsReachedTheGatewaysBeforeTheirCheckpointGivesTheFailureFreeModel()
                    throws Exception {
        int port = FederationHarness.freePorts(1);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        // Long enough that the kill below falls between round 2's close and its checkpoint.
        s.put("job.checkpoint-interval", "4 s");
        s.put("job.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", initialModel().toString());
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        FederationConfig config = FederationConfig.of(s);
        assertThat(FederationPipeline.modelAtShards(config)).isTrue();

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

            // Round 1, acknowledged (so checkpointed); then a checkpoint after its close, so the
            // restore below holds version 1 at the aggregators.
            RawLearnerWaits.awaitTrain(learners, 1, WAIT);
            uploads.sendAccepted(1, Duration.ofSeconds(60), 0, 1, 2, 3);
            RawLearnerWaits.awaitTrain(learners, 2, WAIT);
            Thread.sleep(4_500);

            // Round 2 closes and its shards reach the gateways (round 3's task is out); the task
            // manager dies before the checkpoint that would acknowledge round 2's updates.
            List<CompletableFuture<SubmitUpdateResponse>> pending = uploads.submit(2, 0, 1, 2, 3);
            RawLearnerWaits.awaitTrain(learners.subList(0, 1), 3, WAIT);
            assertModel(learners.get(0).getModel(), 2, weightedMean(2));
            cluster.replaceTaskManager();

            List<Integer> again = ConcurrentUploads.lost(pending, Duration.ofSeconds(60));
            // The restored job serves the checkpoint's version 1 again (its shards from the
            // aggregators' state) with round 2's task; the learners send round 2 again.
            for (RawLearner l : learners) {
                RawLearnerWaits.reopenWhenReady(l, 2, WAIT);
            }
            assertModel(learners.get(0).getModel(), 1, weightedMean(1));
            uploads.sendAgain(2, Duration.ofSeconds(60), again);
            RawLearnerWaits.awaitTrain(learners.subList(0, 1), 3, WAIT);
            assertModel(learners.get(0).getModel(), 2, weightedMean(2));
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
