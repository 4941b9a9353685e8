package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The federation's metrics, read through Flink's REST API while a federation runs on a MiniCluster
 * (RocksDB, real gRPC learners), against the results file and what the learners did.
 */
class FederationMetricsITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String NAME = "metrics-fed";

    @TempDir Path work;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void restApiShowsRoundLearnersUpdatesBytesAndAccuracyOfTheResultsFile() throws Exception {
        int n = 3700;
        int restPort = FederationHarness.freePorts(1);
        List<TensorSpec> specs = SyncFedAvgITCase.SPECS;
        Map<String, String> settings = new HashMap<>();
        settings.put("federation.name", NAME);
        settings.put("federation.rounds", "3");
        settings.put("federation.min-learners", "2");
        settings.put("federation.initial-model", initialModel(n).toString());
        settings.put("aggregation.shard-size", "1024");
        try (FederationHarness h = FederationHarness.start(work, settings, restPort);
                RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            a.join("a", 100);
            b.join("b", 300);
            a.openTaskStream();
            b.openTaskStream();
            a.nextTask(Task.KindCase.TRAIN, WAIT);
            b.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(a.getModel().values()).hasSize(n);
            float[] ua = SyncFedAvgITCase.pattern(n, 1, 0);
            float[] ub = SyncFedAvgITCase.pattern(n, 2, 1);
            assertThat(a.submit(1, specs, ua, 100, Map.of("loss", 2.0)).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(a.submit(1, specs, ua, 100, Map.of("loss", 2.0)).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.DUPLICATE);
            List<TensorSpec> wrongShape = List.of(RawLearner.spec("dense/kernel", 10));
            assertThatThrownBy(() -> b.submit(1, wrongShape, new float[10], 300, Map.of()))
                    .isInstanceOf(StatusRuntimeException.class)
                    .hasMessageContaining("INVALID_ARGUMENT");
            assertThat(b.submit(1, specs, ub, 300, Map.of("loss", 1.0)).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            a.nextTask(Task.KindCase.EVALUATE, WAIT);
            b.nextTask(Task.KindCase.EVALUATE, WAIT);
            a.evaluate(1, 100, Map.of("accuracy", 0.5, "loss", 0.9));
            b.evaluate(1, 300, Map.of("accuracy", 0.7, "loss", 0.5));
            RoundResult r1 = h.awaitResults(1, WAIT).get(0);

            String job = onlyRunningJob(restPort);
            Map<String, String> m =
                    awaitMetric(restPort, job, "federation." + NAME + ".lastRound", "1");
            assertThat(m.get("lastRound")).isEqualTo(Long.toString(r1.round));
            assertThat(Long.parseLong(m.get("lastRoundDurationMs"))).isEqualTo(r1.roundTimeMs);
            assertThat(Integer.parseInt(m.get("lastContributors")))
                    .isEqualTo(r1.contributors.size())
                    .isEqualTo(2);
            assertThat(Double.parseDouble(m.get("lastAccuracy")))
                    .isEqualTo(r1.evalMetrics.get("accuracy"))
                    .isCloseTo(
                            (100 * 0.5 + 300 * 0.7) / 400,
                            org.assertj.core.data.Offset.offset(1e-9));
            assertThat(Double.parseDouble(m.get("lastLoss"))).isEqualTo(r1.evalMetrics.get("loss"));
            assertThat(Double.parseDouble(m.get("lastTrainLoss")))
                    .isEqualTo(r1.trainMetrics.get("loss"));
            assertThat(m.get("registeredLearners")).isEqualTo("2");
            assertThat(m.get("activeLearners")).isEqualTo("2");
            assertThat(m.get("round")).isEqualTo("2"); // round 2 runs now
            assertThat(m.get("modelVersion")).isEqualTo("1");
            assertThat(m.get("participants")).isEqualTo("2");

            // The gateway's counters: two accepted updates of n floats, one duplicate (its
            // bytes are not read), one refused at its header; the initial model downloaded once.
            assertThat(m.get("connectedLearners")).isEqualTo("2");
            assertThat(m.get("updatesAccepted")).isEqualTo("2");
            assertThat(m.get("updatesDuplicate")).isEqualTo("1");
            assertThat(m.get("reason.invalid_argument.updatesRefused")).isEqualTo("1");
            assertThat(m.get("reason.failed_precondition.updatesRefused")).isEqualTo("0");
            assertThat(m.get("bytesIn")).isEqualTo(Long.toString(2L * n * Float.BYTES));
            assertThat(m.get("bytesOut")).isEqualTo(Long.toString((long) n * Float.BYTES));
            assertThat(Long.parseLong(m.get("checkpointAckLatencyMs"))).isBetween(0L, 30_000L);
            assertThat(m).containsKey("updatesAcceptedPerSecond");

            // The running round, as metisfl status shows it: round 2 waits for both learners.
            assertThat(m.get("phase")).isEqualTo("TRAINING");
            assertThat(Long.parseLong(m.get("roundDeadline")))
                    .isGreaterThan(System.currentTimeMillis());
            assertThat(m.get("roundContributors")).isEqualTo("0");
            assertThat(m.get("roundWaitingFor").split(","))
                    .containsExactlyInAnyOrder(a.id(), b.id());
            assertThat(m.get("roundGone")).isEmpty();
            assertThat(m.get("roundDropped")).isEmpty();
            assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            assertThat(a.submit(2, specs, ua, 100, Map.of("loss", 1.5)).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            Map<String, String> m2 =
                    awaitMetric(restPort, job, "federation." + NAME + ".roundContributors", "1");
            assertThat(m2.get("roundWaitingFor")).isEqualTo(b.id());
        }
    }

    private Path initialModel(int n) throws Exception {
        Path file = work.resolve("initial.model");
        org.metisfl.flink.model.ModelCodec.writeModelFile(
                file,
                List.of(
                        new org.metisfl.flink.model.TensorSpecInfo(
                                "dense/kernel", new long[] {50, 60}),
                        new org.metisfl.flink.model.TensorSpecInfo("dense/bias", new long[] {700})),
                SyncFedAvgITCase.pattern(n, 0.1f, 0));
        return file;
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

    private String onlyRunningJob(int port) throws Exception {
        for (JsonElement j : get(port, "/jobs").getAsJsonObject().getAsJsonArray("jobs")) {
            if ("RUNNING".equals(j.getAsJsonObject().get("status").getAsString())) {
                return j.getAsJsonObject().get("id").getAsString();
            }
        }
        throw new AssertionError("no running job");
    }

    /**
     * Polls every vertex's federation metrics (metric name relative to {@code federation.<name>},
     * first subtask wins) until {@code key} has {@code value}; returns them all.
     */
    private Map<String, String> awaitMetric(int port, String job, String key, String value)
            throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        Map<String, String> metrics = Map.of();
        while (System.nanoTime() < end) {
            metrics = federationMetrics(port, job);
            // The coordinator's and the gateway's metrics reach the REST API independently.
            if (value.equals(metrics.get(key.substring(("federation." + NAME + ".").length())))
                    && metrics.containsKey("connectedLearners")) {
                return metrics;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(key + " never became " + value + ": " + metrics);
    }

    private Map<String, String> federationMetrics(int port, String job) throws Exception {
        String marker = ".federation." + NAME + ".";
        Map<String, String> out = new HashMap<>();
        JsonArray vertices = get(port, "/jobs/" + job).getAsJsonObject().getAsJsonArray("vertices");
        for (JsonElement v : vertices) {
            String vid = v.getAsJsonObject().get("id").getAsString();
            String base = "/jobs/" + job + "/vertices/" + vid + "/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonElement m : get(port, base).getAsJsonArray()) {
                String id = m.getAsJsonObject().get("id").getAsString();
                if (id.contains(marker)) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            String query = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
            for (JsonElement m : get(port, base + "?get=" + query).getAsJsonArray()) {
                JsonObject o = m.getAsJsonObject();
                String id = o.get("id").getAsString();
                String name = id.substring(id.indexOf(marker) + marker.length());
                if (o.has("value")) {
                    out.putIfAbsent(name, o.get("value").getAsString());
                }
            }
        }
        return out;
    }
}
