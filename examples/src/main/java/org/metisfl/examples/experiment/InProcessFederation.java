package org.metisfl.examples.experiment;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.fashionmnist.FashionMnistLearner;
import org.metisfl.examples.fashionmnist.LearnerArgs;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.ModelAdapter;

/**
 * One federation of the experiments: the federation job on an embedded MiniCluster (no web UI) and
 * N Fashion-MNIST DL4J learners as threads of the same JVM, sharing one loaded data set. Much
 * cheaper than the quickstart's learner processes (one ND4J runtime, one copy of the data), with
 * the same learner code ({@link FashionMnistLearner#adapterFor(LearnerArgs, FashionMnist)}) and
 * real gRPC on 127.0.0.1.
 *
 * <pre>{@code
 * List<RoundResult> r = InProcessFederation.run(settings, 10, learnerFlags, data, dir,
 *         Duration.ofHours(1), (i, adapter) -> adapter);
 * }</pre>
 */
public final class InProcessFederation {

    private InProcessFederation() {}

    /**
     * Runs a federation to its end and returns its results file's rounds.
     *
     * @param settings federation keys; the gateway port, results file, minimum learners and a
     *     plaintext, open-admission learner port (a local experiment in one JVM) are added here
     * @param learners learner threads, each learner {@code i} of {@code learners}
     * @param learnerFlags extra {@code FashionMnistLearner} flags for every learner (partition,
     *     alpha, seed, batch size, limits)
     * @param dir the run's folder: checkpoints, temporary files and {@code results.jsonl}
     * @param wrap wraps learner i's adapter (e.g. to slow it down); identity for none
     */
    public static List<RoundResult> run(
            Map<String, String> settings,
            int learners,
            List<String> learnerFlags,
            FashionMnist data,
            Path dir,
            Duration timeout,
            BiFunction<Integer, ModelAdapter, ModelAdapter> wrap)
            throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        Files.createDirectories(dir);
        Path results = dir.resolve("results.jsonl");
        Files.deleteIfExists(results);
        Map<String, String> s = new LinkedHashMap<>(settings);
        s.put("federation.min-learners", Integer.toString(learners));
        s.put("federation.results-file", results.toString());
        s.put("gateway.port", Integer.toString(port));
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        FederationConfig config = FederationConfig.of(s);
        ExecutorService pool = Executors.newFixedThreadPool(learners);
        try (EmbeddedFederation federation = EmbeddedFederation.start(config, -1, dir)) {
            federation.awaitGatewaysReady(Duration.ofMinutes(1));
            for (int i = 0; i < learners; i++) {
                List<String> argv = new ArrayList<>();
                argv.addAll(
                        List.of(
                                "--gateway",
                                "127.0.0.1:" + port,
                                "--learners",
                                Integer.toString(learners),
                                "--learner-index",
                                Integer.toString(i),
                                "--insecure"));
                argv.addAll(learnerFlags);
                LearnerArgs args = LearnerArgs.parse(argv.toArray(String[]::new));
                ModelAdapter adapter = wrap.apply(i, FashionMnistLearner.adapterFor(args, data));
                pool.submit(
                        () -> {
                            try (Learner l =
                                    Learner.builder()
                                            .gateways(args.gateways())
                                            .name(args.name())
                                            .adapter(adapter)
                                            .options(
                                                    LearnerOptions.builder()
                                                            .transportSecurity(args.transport())
                                                            .build())
                                            .build()) {
                                return l.run();
                            }
                        });
            }
            federation.awaitCompletion(timeout);
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
        return RoundResults.read(results);
    }
}
