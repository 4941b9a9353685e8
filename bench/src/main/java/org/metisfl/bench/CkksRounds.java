package org.metisfl.bench;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.transport.TransportSecurity;

/**
 * End to end, a CKKS round against a plaintext round ({@code bench/run --only ckks}): the job on an
 * embedded MiniCluster (in this JVM) and N real Java learners ({@code learner-client}, so a CKKS
 * round includes every learner's encryption of its update and decryption of the model) whose
 * "training" adds a small constant, so the round time is the federation's own cost. Synchronous
 * FedAvg, 4 rounds; the figure is the median round time of rounds 2–4 (round 1 warms up).
 */
final class CkksRounds {

    /**
     * One row: learners, plaintext and CKKS round times (ms); CKKS with the gateway folding the
     * encrypted updates it has queued (the default) and without ({@code aggregation.pre-aggregate:
     * false}: every update crosses to the aggregators as it is).
     */
    record Row(long values, int learners, double plainMs, double ckksMs, double ckksUnfoldedMs) {}

    private static final int ROUNDS = 4;

    private CkksRounds() {}

    static List<Row> run(Path base, long values, int[] learnerCounts, java.io.PrintStream log)
            throws Exception {
        Path keysDir = base.resolve("ckks-keys");
        if (!Files.exists(keysDir.resolve(KeyBundle.SECRET_FILE))) {
            KeyBundle.generate("metisfl-ckks", "n13-q120").write(keysDir);
        }
        KeyBundle keys = KeyBundle.load(keysDir.resolve(KeyBundle.SECRET_FILE));
        List<Row> rows = new ArrayList<>();
        for (int n : learnerCounts) {
            double plain =
                    federate(base.resolve("plain-" + n), values, n, null, keysDir, true, log);
            double ckks = federate(base.resolve("ckks-" + n), values, n, keys, keysDir, true, log);
            double unfolded =
                    federate(
                            base.resolve("ckks-unfolded-" + n),
                            values,
                            n,
                            keys,
                            keysDir,
                            false,
                            log);
            rows.add(new Row(values, n, plain, ckks, unfolded));
        }
        return rows;
    }

    /** Bytes of one update of {@code values} floats: float32, and CKKS compact ciphertexts. */
    static long[] uploadBytes(KeyBundle keys, int values, int shardSize) {
        float[] shard = new float[shardSize];
        long ckks = 0;
        for (int from = 0; from < values; from += shardSize) {
            int n = Math.min(shardSize, values - from);
            ckks += keys.encryptShard(n == shardSize ? shard : new float[n]).length;
        }
        return new long[] {4L * values, ckks};
    }

    private static double federate(
            Path dir,
            long values,
            int learners,
            KeyBundle keys,
            Path keysDir,
            boolean preAggregate,
            java.io.PrintStream log)
            throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Map<String, String> s = new HashMap<>();
        s.put("federation.name", (keys == null ? "plain-" : "ckks-") + learners);
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", Integer.toString(learners));
        s.put("federation.initial-model", "first-learner");
        s.put("federation.results-file", dir.resolve("results.jsonl").toString());
        s.put("protocol.type", "synchronous");
        s.put("aggregation.rule", "fedavg");
        s.put("aggregation.shard-size", "65536");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("gateway.max-message-size", "16 mb");
        s.put("job.checkpoint-interval", "1 s");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        s.put("aggregation.pre-aggregate", Boolean.toString(preAggregate));
        if (keys != null) {
            s.put("secure-aggregation", "ckks");
            s.put("secure-aggregation.backend", keys.backendId());
            s.put("secure-aggregation.preset", keys.preset());
            s.put(
                    "secure-aggregation.public-key",
                    keysDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        }
        FederationConfig config = FederationConfig.of(s);
        ExecutorService pool = Executors.newFixedThreadPool(learners);
        long started = System.nanoTime();
        try (EmbeddedFederation federation = EmbeddedFederation.start(config, -1, dir)) {
            federation.awaitGatewaysReady(Duration.ofSeconds(120));
            List<Future<LearnerSummary>> running = new ArrayList<>();
            for (int i = 0; i < learners; i++) {
                SyntheticModel model = new SyntheticModel((int) values, i);
                String name = "synthetic-" + i;
                running.add(
                        pool.submit(
                                () -> {
                                    try (Learner l =
                                            Learner.builder()
                                                    .gateways("127.0.0.1:" + port)
                                                    .name(name)
                                                    .adapter(model)
                                                    .options(
                                                            LearnerOptions.builder()
                                                                    .transportSecurity(
                                                                            TransportSecurity
                                                                                    .insecure())
                                                                    .keyBundle(keys)
                                                                    .build())
                                                    .build()) {
                                        return l.run();
                                    }
                                }));
            }
            federation.awaitCompletion(Duration.ofMinutes(15));
            for (Future<LearnerSummary> f : running) {
                f.get(2, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        List<RoundResult> results = RoundResults.read(dir.resolve("results.jsonl"));
        List<Double> times = new ArrayList<>();
        for (RoundResult r : results) {
            if (r.round >= 2) {
                times.add((double) r.roundTimeMs);
            }
        }
        Collections.sort(times);
        double median = times.isEmpty() ? Double.NaN : times.get(times.size() / 2);
        log.printf(
                Locale.ROOT,
                "  %s, %d learners: rounds %s ms, median %.0f ms (%.0f s in all)%n",
                (keys == null ? "plaintext" : "CKKS")
                        + (preAggregate ? "" : ", updates not pre-aggregated"),
                learners,
                results.stream().map(r -> Long.toString(r.roundTimeMs)).toList(),
                median,
                (System.nanoTime() - started) / 1e9);
        return median;
    }

    /** One tensor of N floats; training adds 1e-3 to every value. */
    private static final class SyntheticModel implements ModelAdapter {
        private float[] values;

        SyntheticModel(int n, int seed) {
            values = new float[n];
            java.util.Random random = new java.util.Random(seed);
            for (int i = 0; i < n; i++) {
                values[i] = random.nextFloat() - 0.5f;
            }
        }

        @Override
        public synchronized List<NamedTensor> getWeights() {
            return List.of(new NamedTensor("w", new long[] {values.length}, values.clone()));
        }

        @Override
        public synchronized void setWeights(List<NamedTensor> weights) {
            values = weights.get(0).values().clone();
        }

        @Override
        public synchronized TrainResult train(TrainTask task) {
            for (int i = 0; i < values.length; i++) {
                values[i] += 1e-3f;
            }
            return new TrainResult(100, 1, Map.of("loss", 1.0));
        }

        @Override
        public EvaluationResult evaluate(EvaluateTask task) {
            return new EvaluationResult(10, Map.of("accuracy", 0.5));
        }

        @Override
        public long numTrainingExamples() {
            return 100;
        }

        @Override
        public long numTestExamples() {
            return 10;
        }
    }
}
