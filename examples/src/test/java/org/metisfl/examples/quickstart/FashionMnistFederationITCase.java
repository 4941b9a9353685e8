package org.metisfl.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.cli.report.FederationReport;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.fashionmnist.FashionMnistLearner;
import org.metisfl.examples.fashionmnist.LearnerArgs;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.transport.DevSecurity;

/**
 * Three DL4J learners on a Fashion-MNIST subset federate through the real job (MiniCluster,
 * RocksDB, gRPC on 127.0.0.1): the global model's test accuracy improves over the rounds.
 */
class FashionMnistFederationITCase {

    @TempDir Path work;

    @Test
    void threeDl4jLearnersImproveTestAccuracyOverRounds() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        int rounds = 3;
        // As the quickstart runs: TLS with a development CA, admission by enrollment token.
        DevSecurity security = DevSecurity.ensure(work.resolve("certs"));
        Map<String, String> settings = new java.util.HashMap<>(security.jobSettings());
        settings.putAll(
                Map.of(
                        "federation.name", "fashion-mnist-it",
                        "federation.rounds", Integer.toString(rounds),
                        "federation.min-learners", "3",
                        "federation.results-file", work.resolve("results.jsonl").toString(),
                        "gateway.port", Integer.toString(port),
                        "job.checkpoint-interval", "500 ms",
                        "train.batch-size", "32"));
        FederationConfig config = FederationConfig.of(settings);
        String enrollment = security.enrollmentToken(3);
        FashionMnist data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 3000, 1500);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (EmbeddedFederation federation = EmbeddedFederation.start(config, -1, work)) {
            federation.awaitGatewaysReady(Duration.ofSeconds(60));
            List<Future<LearnerSummary>> learners = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                LearnerArgs args =
                        LearnerArgs.parse(
                                "--gateway",
                                "127.0.0.1:" + port,
                                "--learners",
                                "3",
                                "--learner-index",
                                Integer.toString(i),
                                "--batch-size",
                                "32",
                                "--ca",
                                security.trustRoots().toString(),
                                "--enrollment-token",
                                enrollment);
                var adapter = FashionMnistLearner.adapterFor(args, data);
                learners.add(
                        pool.submit(
                                () -> {
                                    try (Learner l =
                                            Learner.builder()
                                                    .gateways(args.gateways())
                                                    .name(args.name())
                                                    .adapter(adapter)
                                                    .options(
                                                            LearnerOptions.builder()
                                                                    .transportSecurity(
                                                                            args.transport())
                                                                    .enrollmentToken(
                                                                            args.enrollmentToken())
                                                                    .build())
                                                    .build()) {
                                        return l.run();
                                    }
                                }));
            }
            federation.awaitCompletion(Duration.ofMinutes(5));
            for (Future<LearnerSummary> f : learners) {
                assertThat(f.get(1, TimeUnit.MINUTES)).isNotNull();
            }
        } finally {
            pool.shutdownNow();
        }
        List<RoundResult> results = RoundResults.read(work.resolve("results.jsonl"));
        assertThat(results).hasSize(rounds);
        for (RoundResult r : results) {
            assertThat(r.contributors).hasSize(3);
            assertThat(r.evaluationsReceived).isEqualTo(3);
            assertThat(r.evalExamples).isEqualTo(1500);
        }
        double first = results.get(0).evalMetrics.get("accuracy");
        double last = results.get(rounds - 1).evalMetrics.get("accuracy");
        assertThat(first).isGreaterThan(0.3);
        assertThat(last).isGreaterThan(first).isGreaterThan(0.65);
        assertThat(results.get(rounds - 1).evalMetrics.get("loss"))
                .isLessThan(results.get(0).evalMetrics.get("loss"));

        // The quickstart's report of this run: one point per round, the run's own values.
        Path html = FederationReport.write(work.resolve("results.jsonl"));
        List<FederationReport.Row> rows = FederationReport.readRows(html);
        assertThat(rows).extracting(FederationReport.Row::round).containsExactly(1L, 2L, 3L);
        for (int i = 0; i < rounds; i++) {
            assertThat(rows.get(i).accuracy())
                    .isEqualTo(results.get(i).evalMetrics.get("accuracy"));
            assertThat(rows.get(i).contributors()).isEqualTo(3);
        }
    }
}
