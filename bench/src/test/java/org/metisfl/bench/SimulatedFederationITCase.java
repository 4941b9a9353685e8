package org.metisfl.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import io.grpc.StatusRuntimeException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.simulator.RawLearner;
import org.metisfl.simulator.RoundTimeline;
import org.metisfl.simulator.SimulatedFederation;
import org.metisfl.simulator.SimulationReport;

/** Simulated learners against the real federation job (embedded MiniCluster, RocksDB). */
class SimulatedFederationITCase {

    private static final int VALUES = 70_000; // two shards of 65,536

    @Test
    void simulatedLearnersRunEveryRoundAndTheModelIsTheirMean(@TempDir Path dir) throws Exception {
        assertThat(runFederation(dir, 20, null, Map.of())).isZero();
    }

    /**
     * A gateway admitting 5 joins a second (a bucket of 5) against 20 learners joining at once: the
     * refused joins (RESOURCE_EXHAUSTED) are tried again, none counts as a failure, and every
     * learner takes part in every round.
     */
    @Test
    void joinsRefusedByTheGatewaysJoinRateAreTriedAgain(@TempDir Path dir) throws Exception {
        assertThat(runFederation(dir, 20, null, Map.of("gateway.limits.join-rate", "5")))
                .isPositive();
    }

    /**
     * The benchmark's TLS path (`bench/run --only tls`) in brief, so it cannot rot: the job's
     * learner port serves TLS with the bench's development certificate and the simulated learners
     * trust its CA; every round runs and the model is still the learners' mean.
     */
    @Test
    void simulatedLearnersOverTlsRunEveryRoundAndTheModelIsTheirMean(@TempDir Path dir)
            throws Exception {
        BenchTls tls = BenchTls.in(dir.resolve("tls-pki"));
        assertThat(tls.jobSettings()).containsKeys("security.tls.certificate");
        runFederation(dir, 4, tls, Map.of());
    }

    /** Runs the federation and checks it; returns the simulated learners' join retries. */
    private static long runFederation(
            Path dir, int learners, BenchTls tls, Map<String, String> extra) throws Exception {
        Path model = dir.resolve("initial.model");
        ModelCodec.writeModelFile(
                model, List.of(new TensorSpecInfo("w", new long[] {VALUES})), new float[VALUES]);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Map<String, String> settings = new HashMap<>();
        settings.put("federation.rounds", "2");
        settings.put("federation.min-learners", Integer.toString(learners));
        settings.put("federation.initial-model", model.toString());
        settings.put("federation.results-file", dir.resolve("results.jsonl").toString());
        settings.put("gateway.port", Integer.toString(port));
        settings.put("job.checkpoint-interval", "200 ms");
        if (tls == null) {
            settings.put("security.insecure", "true");
        } else {
            settings.putAll(tls.jobSettings());
        }
        settings.put("security.admission", "open");
        settings.put("evaluation.timeout", "20 s");
        settings.putAll(extra);
        Map<Long, float[]> models = new ConcurrentHashMap<>();
        try (EmbeddedFederation federation =
                EmbeddedFederation.start(FederationConfig.of(settings), -1, dir.resolve("work"))) {
            federation.awaitGatewaysReady(Duration.ofSeconds(60));
            if (tls != null) {
                // the port serves TLS: a plaintext learner is refused before it can join
                try (RawLearner plain = new RawLearner("127.0.0.1", port)) {
                    assertThatThrownBy(() -> plain.join("plaintext", 10))
                            .isInstanceOf(StatusRuntimeException.class);
                }
            }
            SimulationReport report;
            long joinRetries;
            try (SimulatedFederation sim =
                    SimulatedFederation.builder()
                            .gateway("127.0.0.1", port)
                            .learners(learners)
                            .channels(2)
                            .modelValues(VALUES)
                            .chunkBytes(100_003)
                            .modelListener(models::put)
                            .transport(Limits.transport(tls))
                            .timeout(Duration.ofSeconds(90))
                            .build()) {
                report = sim.run();
                joinRetries = sim.joinRetries();
            }
            federation.awaitCompletion(Duration.ofSeconds(30));

            assertThat(report.timedOut()).isFalse();
            assertThat(report.failures()).as("%s", report.failureSamples()).isZero();
            assertThat(report.shutdowns()).as("%s", report).isEqualTo(learners);
            assertThat(report.rounds()).extracting(RoundTimeline::round).contains(1L, 2L);
            for (long r = 1; r <= 2; r++) {
                RoundTimeline t = report.round(r).orElseThrow();
                assertThat(t.trainTasks()).isEqualTo(learners);
                assertThat(t.acks()).isEqualTo(learners);
                assertThat(t.downloads()).isEqualTo(learners);
            }
            // Round 1's model is evaluated by its contributors while round 2 runs.
            assertThat(report.round(1).orElseThrow().evaluations()).isEqualTo(learners);
            assertThat(report.tailAfterLastSentUs(1)).isPresent();

            // Round 1's model is the mean of the two synthetic variants (half the learners each).
            float[] a = SimulatedFederation.syntheticUpdate(42, 0, VALUES);
            float[] b = SimulatedFederation.syntheticUpdate(42, 1, VALUES);
            float[] got = models.get(1L);
            assertThat(got).hasSize(VALUES);
            for (int i = 0; i < VALUES; i += 997) {
                assertThat(got[i])
                        .isCloseTo((a[i] + b[i]) / 2, org.assertj.core.data.Offset.offset(1e-6f));
            }

            List<String> lines = Files.readAllLines(dir.resolve("results.jsonl"));
            Gson gson = new Gson();
            Map<Long, RoundResult> results = new HashMap<>();
            for (String l : lines) {
                RoundResult r = gson.fromJson(l, RoundResult.class);
                results.put(r.round, r);
            }
            assertThat(results.get(1L).contributors).hasSize(learners);
            assertThat(results.get(1L).evaluationsReceived).isEqualTo(learners);
            return joinRetries;
        }
    }
}
