package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * State stays bounded: dedup sets, closed rounds and round statistics are cleaned up, so the
 * checkpointed state of a federation does not grow with the number of rounds (heap backend, full
 * snapshots, so the size is exact). {@code -Dmetisfl.bounded-state.rounds=1000} for the long run.
 */
class BoundedStateITCase {
    private static final int N = 5000;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    @Test
    void checkpointedStateStaysFlatOverManyRounds() throws Exception {
        int rounds = Integer.getInteger("metisfl.bounded-state.rounds", 150);
        int restPort;
        int gatewayPort;
        try (ServerSocket a = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                ServerSocket b = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            restPort = a.getLocalPort();
            gatewayPort = b.getLocalPort();
        }
        FederationConfig config =
                FederationConfig.of(
                        Map.of(
                                "federation.rounds", Integer.toString(rounds + 10),
                                "federation.min-learners", "1",
                                "federation.results-file", work.resolve("r.jsonl").toString(),
                                "evaluation.enabled", "false",
                                "job.state-backend", "hashmap",
                                "job.checkpoint-interval", "50 ms",
                                "aggregation.shard-size", "1024",
                                "gateway.port", Integer.toString(gatewayPort),
                                "security.insecure", "true",
                                "security.admission", "open"));
        HttpClient http = HttpClient.newHttpClient();
        try (EmbeddedFederation f = EmbeddedFederation.start(config, restPort, work);
                RawLearner l = new RawLearner("127.0.0.1", gatewayPort)) {
            f.awaitGatewaysReady(Duration.ofSeconds(60));
            String job =
                    get(http, restPort, "/jobs/overview")
                            .getAsJsonArray("jobs")
                            .get(0)
                            .getAsJsonObject()
                            .get("jid")
                            .getAsString();
            l.join("l", 10);
            l.submit(0, SPECS, new float[N], 10, Map.of());
            l.openTaskStream();
            long early = 0;
            for (int r = 1; r <= rounds; r++) {
                Task t = l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(60));
                assertThat(t.getRound()).isEqualTo(r);
                // Every update is acknowledged after the checkpoint holding it: one per round.
                l.submit(r, SPECS, new float[N], 10, Map.of());
                if (r == 30) {
                    early = latestStateSize(http, restPort, job);
                }
            }
            long late = latestStateSize(http, restPort, job);
            System.out.printf(
                    "checkpointed state: %d bytes at round 30, %d at round %d%n",
                    early, late, rounds);
            assertThat(early).isPositive();
            assertThat((double) late).isLessThan(early * 1.15);
        }
    }

    private static long latestStateSize(HttpClient http, int port, String job) throws Exception {
        JsonObject latest =
                get(http, port, "/jobs/" + job + "/checkpoints")
                        .getAsJsonObject("latest")
                        .getAsJsonObject("completed");
        return latest.get("checkpointed_size").getAsLong();
    }

    private static JsonObject get(HttpClient http, int port, String path) throws Exception {
        HttpResponse<String> r =
                http.send(
                        HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }
}
