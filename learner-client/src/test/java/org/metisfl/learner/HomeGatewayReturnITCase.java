package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.apache.flink.api.common.JobID;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.FailoverCluster;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.learner.internal.GatewayAddress;
import org.metisfl.learner.internal.LearnerSession;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.transport.TransportSecurity;

/**
 * Learners of this library go back to their home gateway: two gateways with local pre-aggregation
 * (MiniCluster, RocksDB, real gRPC on 127.0.0.1), learner A joined through gateway 0 (its home) and
 * B through gateway 1. Gateway 0 becomes unreachable for A (a proxy in front of it resets its
 * connections and refuses new ones) while A trains round 2, and reachable again while it trains
 * round 4. A reconnects to gateway 1, where its uploads are foreign (sent on unfolded, held at the
 * aggregators until the round closes), and then goes home: its last rounds' uploads reach gateway 0
 * again, and the gateways' {@code updatesForeign} counters stop growing. With the return turned off
 * (the learner as it was before), A stays on gateway 1 to the end. Every round's model is the
 * weighted mean of both learners' updates computed here, each learner once, and every round drew
 * both learners: A is never without a task stream the job knows of (its reconnect registers the new
 * stream before it sends its update again, and its move home opens the stream at home before it
 * closes the one it leaves), also when A uploads last in every round, so that the next round opens
 * just as A reconnects or moves.
 */
class HomeGatewayReturnITCase {
    private static final int N = 3000;
    private static final int ROUNDS = 7;
    private static final long CUT_IN_ROUND = 2;
    private static final long RESTORED_IN_ROUND = 4;
    private static final long[] EXAMPLES = {100, 300};
    private static final Duration WAIT = Duration.ofMinutes(2);
    private static final Duration A_UPLOADS_AFTER = Duration.ofMillis(300);
    private static final String NAME = "home-return";

    @TempDir Path work;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aLearnerBackOnItsHomeGatewayUploadsThereAgainAndTheModelCountsEachLearnerOnce()
            throws Exception {
        Run run = federation(work.resolve("return"), true, false, false);

        // Rounds 2 to 4 (the home unreachable, and the round it came back in) went to gateway 1.
        for (long r = CUT_IN_ROUND; r <= RESTORED_IN_ROUND; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(1);
        }
        // Back home within a round of the home coming back: the last rounds went to gateway 0.
        for (long r = RESTORED_IN_ROUND + 2; r <= ROUNDS; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(0);
        }
        assertThat(run.summaryA.homeReturns()).isEqualTo(1);
        assertThat(run.summaryA.reconnects()).isGreaterThanOrEqualTo(1);
        // The aggregators' side: gateway 1 sent on as foreign exactly the uploads A made there.
        long foreignUploads =
                run.uploadedAt.entrySet().stream()
                        .filter(e -> e.getKey() < ROUNDS && e.getValue() == 1)
                        .count();
        assertThat(run.foreign).isEqualTo(Map.of(0, 0L, 1, foreignUploads));
        assertThat(foreignUploads).isBetween(3L, 4L);
        System.out.printf(
                "foreign uploads of the learner whose home was unreachable in rounds %d-%d of %d,"
                        + " with the return home: %d (rounds 1-%d, by the gateways' counters)%n",
                CUT_IN_ROUND, RESTORED_IN_ROUND, ROUNDS, foreignUploads, ROUNDS - 1);
    }

    @Test
    void withoutTheReturnALearnerStaysOnTheOtherGatewayToTheEnd() throws Exception {
        Run run = federation(work.resolve("stay"), false, false, false);

        for (long r = CUT_IN_ROUND; r <= ROUNDS; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(1);
        }
        assertThat(run.summaryA.homeReturns()).isZero();
        long foreignUploads = ROUNDS - 1 - CUT_IN_ROUND + 1;
        assertThat(run.foreign).isEqualTo(Map.of(0, 0L, 1, foreignUploads));
        System.out.printf(
                "foreign uploads of the learner whose home was unreachable in rounds %d-%d of %d,"
                        + " without the return home: %d (rounds 1-%d, by the gateways' counters)%n",
                CUT_IN_ROUND, RESTORED_IN_ROUND, ROUNDS, foreignUploads, ROUNDS - 1);
    }

    @Test
    void afterATaskManagerFailoverThatLeftItOnTheOtherGatewayALearnerGoesHomeAgain()
            throws Exception {
        // The task manager dies while A trains round 2, and A's home stays cut off until its
        // round 4, so A's reconnects after the restart end on gateway 1.
        Run run = federation(work.resolve("failover"), true, true, false);

        for (long r = CUT_IN_ROUND; r <= RESTORED_IN_ROUND; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(1);
        }
        for (long r = RESTORED_IN_ROUND + 2; r <= ROUNDS; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(0);
        }
        assertThat(run.summaryA.homeReturns()).isEqualTo(1);
    }

    @Test
    void aLearnerThatUploadsLastAndMovesRightAfterTheRoundsLastUpdateIsDrawnForEveryRound()
            throws Exception {
        // A's update closes every round, so the next round opens just as A's resent update is in
        // (after the cut) and just before A moves home.
        Run run = federation(work.resolve("last"), true, false, true);

        for (long r = CUT_IN_ROUND; r <= RESTORED_IN_ROUND; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(1);
        }
        for (long r = RESTORED_IN_ROUND + 2; r <= ROUNDS; r++) {
            assertThat(run.uploadedAt.get(r)).as("round %d's upload", r).isEqualTo(0);
        }
        assertThat(run.summaryA.homeReturns()).isEqualTo(1);
    }

    /** What one federation showed. */
    private record Run(
            Map<Long, Integer> uploadedAt, Map<Integer, Long> foreign, LearnerSummary summaryA) {}

    /**
     * One federation of {@link #ROUNDS} rounds; A's home cut off from its round {@link
     * #CUT_IN_ROUND} to its round {@link #RESTORED_IN_ROUND}, and with {@code killTaskManager} the
     * task manager replaced (every gateway and aggregator restarts from the last checkpoint) when
     * the cut begins. The gateways' counters start again at a restart, so they are read only
     * without one ({@link Run#foreign} empty otherwise).
     */
    private Run federation(
            Path dir, boolean returnHome, boolean killTaskManager, boolean aUploadsLast)
            throws Exception {
        Files.createDirectories(dir);
        int port = freePorts(2);
        try (FailoverCluster cluster = startCluster(dir, port);
                SwitchableProxy toHome = new SwitchableProxy(port);
                SwitchableProxy toOther = new SwitchableProxy(port + 1)) {
            // Learners join once both gateways listen, so each joins through its first gateway.
            awaitListening(port);
            awaitListening(port + 1);
            int restPort = cluster.restPort();
            CountDownLatch lastRoundTrained = new CountDownLatch(1);
            CountDownLatch metricsRead = new CountDownLatch(1);
            Map<Long, long[]> bytesAtTrain = new ConcurrentHashMap<>();
            RoundAdapter a =
                    new RoundAdapter(
                            0,
                            round -> {
                                bytesAtTrain.put(
                                        round, new long[] {toHome.bytesUp(), toOther.bytesUp()});
                                if (aUploadsLast) {
                                    pause(A_UPLOADS_AFTER);
                                }
                                if (round == CUT_IN_ROUND) {
                                    toHome.cut();
                                    if (killTaskManager) {
                                        replaceTaskManager(cluster);
                                    }
                                } else if (round == RESTORED_IN_ROUND) {
                                    toHome.restore();
                                } else if (round == ROUNDS) {
                                    lastRoundTrained.countDown();
                                    await(metricsRead);
                                }
                            });
            RoundAdapter b = new RoundAdapter(1, round -> {});
            Learner learnerA =
                    learner("a", a, List.of(toHome.address(), toOther.address()), returnHome);
            Learner learnerB =
                    learner(
                            "b",
                            b,
                            List.of("127.0.0.1:" + (port + 1), "127.0.0.1:" + port),
                            returnHome);
            CompletableFuture<LearnerSummary> runA = LearnerThreads.runAsync(learnerA);
            CompletableFuture<LearnerSummary> runB = LearnerThreads.runAsync(learnerB);
            try {
                // Read while the job runs: rounds 1 to ROUNDS - 1 are in the counters.
                assertThat(lastRoundTrained.await(WAIT.toSeconds(), TimeUnit.SECONDS))
                        .as("learner A reached the last round")
                        .isTrue();
                Map<Integer, Long> foreign =
                        killTaskManager
                                ? Map.of()
                                : awaitGatewayCounters(
                                        restPort, cluster.jobId(), 2L * (ROUNDS - 1));
                metricsRead.countDown();
                LearnerSummary summaryA = runA.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                LearnerSummary summaryB = runB.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                JobResult result = cluster.jobResult().get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(result.isSuccess()).as("the federation job finished").isTrue();

                for (LearnerSummary s : List.of(summaryA, summaryB)) {
                    assertThat(s.federationFinished()).isTrue();
                    assertThat(s.roundsTrained()).isEqualTo(ROUNDS);
                    assertThat(s.updatesDropped()).isZero();
                }
                assertThat(PartialSums.homeGateway(summaryA.learnerId(), 2)).isZero();
                // Every round drew both learners and counted both (the job's own record; a
                // restart from a checkpoint may draw a round again, so not with the failover).
                List<RoundResult> results = RoundResults.read(dir.resolve("results.jsonl"));
                assertThat(results).hasSize(ROUNDS);
                for (RoundResult r : killTaskManager ? List.<RoundResult>of() : results) {
                    assertThat(r.participants).as("round %d's participants", r.round).isEqualTo(2);
                    assertThat(r.contributors)
                            .as("round %d's contributors", r.round)
                            .containsExactlyInAnyOrder(summaryA.learnerId(), summaryB.learnerId());
                }
                assertThat(PartialSums.homeGateway(summaryB.learnerId(), 2)).isEqualTo(1);
                if (!killTaskManager) {
                    assertThat(summaryB.reconnects()).isZero();
                }

                // Where each of A's uploads went: the proxy that carried its bytes between the
                // round's training and the next one's (a few hundred bytes of calls besides).
                bytesAtTrain.put(
                        (long) ROUNDS + 1, new long[] {toHome.bytesUp(), toOther.bytesUp()});
                Map<Long, Integer> uploadedAt = new HashMap<>();
                for (long r = 1; r <= ROUNDS; r++) {
                    long[] from = bytesAtTrain.get(r);
                    long[] to = bytesAtTrain.get(r + 1);
                    List<Integer> carried = new ArrayList<>();
                    for (int g = 0; g < 2; g++) {
                        if (to[g] - from[g] >= (long) N * Float.BYTES) {
                            carried.add(g);
                        }
                    }
                    assertThat(carried).as("gateways that got round %d's upload", r).hasSize(1);
                    uploadedAt.put(r, carried.get(0));
                }
                assertThat(uploadedAt.get(1L)).isZero();

                // Each round's model (the next task's): the weighted mean of both, each once.
                for (long r = 1; r < ROUNDS; r++) {
                    float[] expected = weightedMean(r);
                    for (RoundAdapter l : List.of(a, b)) {
                        float[] got = l.modelAtTrain.get(r + 1);
                        assertThat(got)
                                .as("model of round %d at learner %d", r, l.learner)
                                .isNotNull();
                        for (int i = 0; i < N; i++) {
                            assertThat(Math.abs(got[i] - expected[i]))
                                    .as("round %d's model, value %d", r, i)
                                    .isLessThanOrEqualTo(1e-4f);
                        }
                    }
                }
                return new Run(uploadedAt, foreign, summaryA);
            } finally {
                metricsRead.countDown();
                learnerA.close();
                learnerB.close();
            }
        }
    }

    /** Learner {@code l}'s update of round {@code r}, whatever the model it was given. */
    private static float[] update(int l, long r) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (l + 1) * (float) Math.sin(i * 0.37 + r) + 3 * l;
        }
        return v;
    }

    private static float[] weightedMean(long r) {
        float[] a = update(0, r);
        float[] b = update(1, r);
        float[] mean = new float[N];
        for (int i = 0; i < N; i++) {
            mean[i] =
                    (float)
                            ((EXAMPLES[0] * (double) a[i] + EXAMPLES[1] * (double) b[i])
                                    / (EXAMPLES[0] + EXAMPLES[1]));
        }
        return mean;
    }

    private FailoverCluster startCluster(Path dir, int port) throws Exception {
        Path initial = dir.resolve("initial.model");
        ModelCodec.writeModelFile(
                initial, List.of(new TensorSpecInfo("w", new long[] {N})), new float[N]);
        Map<String, String> s = new HashMap<>();
        s.put("federation.name", NAME);
        s.put("gateway.port", Integer.toString(port));
        s.put("gateway.parallelism", "2");
        s.put("job.parallelism", "2");
        s.put("aggregation.pre-aggregate", "true");
        s.put("aggregation.shard-size", "1024");
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", "2");
        s.put("federation.results-file", dir.resolve("results.jsonl").toString());
        s.put("federation.initial-model", initial.toString());
        s.put("evaluation.enabled", "false");
        s.put("job.checkpoint-interval", "500 ms");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        // One task manager with four slots, fixed-delay restarts: a replaced task manager makes
        // the job restart from its last checkpoint at once.
        return FailoverCluster.submit(FederationConfig.of(s), dir);
    }

    private static Learner learner(
            String name, ModelAdapter adapter, List<String> gateways, boolean returnHome) {
        LearnerOptions options =
                LearnerOptions.builder()
                        .transportSecurity(TransportSecurity.insecure())
                        .callTimeout(Duration.ofSeconds(30))
                        .transferTimeout(Duration.ofSeconds(30))
                        // Rounds take about half a second here: the home is tried again
                        // several times a round.
                        .reconnectInitialBackoff(Duration.ofMillis(50))
                        .reconnectMaxBackoff(Duration.ofMillis(200))
                        .build();
        List<GatewayAddress> addresses = new ArrayList<>();
        for (String g : gateways) {
            addresses.add(GatewayAddress.parse(g));
        }
        return new Learner(
                LearnerSession.create(addresses, name, adapter, options).returnHome(returnHome));
    }

    /**
     * Each gateway's {@code updatesForeign}, read through the REST API once the gateways' accepted
     * and duplicate updates add up to {@code updates} (so the values are those of that moment).
     */
    private Map<Integer, Long> awaitGatewayCounters(int port, JobID job, long updates)
            throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        Map<String, Long> last = Map.of();
        while (System.nanoTime() < end) {
            last = gatewayMetrics(port, job.toHexString());
            long seen =
                    last.getOrDefault("0.updatesAccepted", 0L)
                            + last.getOrDefault("1.updatesAccepted", 0L);
            if (seen >= updates && last.containsKey("1.updatesForeign")) {
                return Map.of(0, last.get("0.updatesForeign"), 1, last.get("1.updatesForeign"));
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the gateways never reported " + updates + " updates: " + last);
    }

    /** The gateways' federation metrics as {@code <subtask>.<name>}. */
    private Map<String, Long> gatewayMetrics(int port, String job) throws Exception {
        String marker = ".federation." + NAME + ".";
        List<String> names = List.of("updatesAccepted", "updatesForeign");
        Map<String, Long> out = new HashMap<>();
        JsonArray vertices = get(port, "/jobs/" + job).getAsJsonObject().getAsJsonArray("vertices");
        for (JsonElement v : vertices) {
            String base =
                    "/jobs/" + job + "/vertices/" + v.getAsJsonObject().get("id").getAsString();
            List<String> ids = new ArrayList<>();
            for (JsonElement m : get(port, base + "/metrics").getAsJsonArray()) {
                String id = m.getAsJsonObject().get("id").getAsString();
                if (id.contains(marker)
                        && names.contains(id.substring(id.indexOf(marker) + marker.length()))) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            String query = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
            for (JsonElement m : get(port, base + "/metrics?get=" + query).getAsJsonArray()) {
                JsonObject o = m.getAsJsonObject();
                String id = o.get("id").getAsString();
                if (o.has("value")) {
                    String subtask = id.substring(0, id.indexOf('.'));
                    String name = id.substring(id.indexOf(marker) + marker.length());
                    out.put(subtask + "." + name, Long.parseLong(o.get("value").getAsString()));
                }
            }
        }
        return out;
    }

    private JsonElement get(int port, String path) throws Exception {
        HttpResponse<String> r =
                http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET %s: %s", path, r.body()).isEqualTo(200);
        return JsonParser.parseString(r.body());
    }

    private static int freePorts(int count) throws IOException {
        for (int attempt = 0; attempt < 50; attempt++) {
            int first;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                first = s.getLocalPort();
            }
            if (first + count > 65535) {
                continue;
            }
            boolean free = true;
            for (int p = first; p < first + count && free; p++) {
                try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                    // free
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return first;
            }
        }
        throw new IOException("no " + count + " consecutive free ports");
    }

    /** Fails every subtask at once (both gateways too) and starts a task manager to restart on. */
    private static void replaceTaskManager(FailoverCluster cluster) {
        try {
            cluster.replaceTaskManager();
        } catch (Exception e) {
            throw new IllegalStateException("could not replace the task manager", e);
        }
    }

    private static void awaitListening(int port) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try (java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (IOException e) {
                if (System.nanoTime() > end) {
                    throw new AssertionError("no gateway listens on port " + port, e);
                }
                Thread.sleep(100);
            }
        }
    }

    private static void pause(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A model whose "training" replaces its weights by the learner's fixed update of the round; it
     * keeps the global model it was given before each round's training.
     */
    private static final class RoundAdapter implements ModelAdapter {
        final int learner;
        private final LongConsumer beforeTrain;
        final Map<Long, float[]> modelAtTrain = new ConcurrentHashMap<>();
        private volatile float[] weights = new float[N];

        RoundAdapter(int learner, LongConsumer beforeTrain) {
            this.learner = learner;
            this.beforeTrain = beforeTrain;
        }

        @Override
        public List<NamedTensor> getWeights() {
            return List.of(new NamedTensor("w", new long[] {N}, weights.clone()));
        }

        @Override
        public void setWeights(List<NamedTensor> tensors) {
            weights = tensors.get(0).values().clone();
        }

        @Override
        public TrainResult train(TrainTask task) {
            modelAtTrain.put(task.round(), weights.clone());
            beforeTrain.accept(task.round());
            weights = update(learner, task.round());
            return new TrainResult(EXAMPLES[learner], 1, Map.of("loss", 1.0));
        }

        @Override
        public EvaluationResult evaluate(EvaluateTask task) {
            return new EvaluationResult(1, Map.of());
        }

        @Override
        public long numTrainingExamples() {
            return EXAMPLES[learner];
        }

        @Override
        public long numTestExamples() {
            return 1;
        }
    }
}
