package org.metisfl.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.fashionmnist.FashionMnistLearner;
import org.metisfl.examples.fashionmnist.LearnerArgs;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerException;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.transport.TransportSecurity;

/**
 * Real DL4J learners federate over CKKS ciphertexts through the real job (MiniCluster, RocksDB,
 * gRPC on 127.0.0.1): every global model they decrypt is the plaintext FedAvg of the updates they
 * encrypted (within the documented CKKS tolerance, computed here from the plaintext updates), in
 * synchronous and semi-synchronous rounds, and the final accuracy matches a plaintext run of the
 * same federation. Learners holding another key or other parameters are refused at join.
 */
class CkksFederationITCase {

    private static final int LEARNERS = 3;
    private static final int ROUNDS = 3;

    /**
     * Per value: the float32 rounding of the mean (~6e-8 at these magnitudes) plus CKKS noise
     * (~1e-9; secure-aggregation.md), with room to spare.
     */
    private static final double MODEL_TOLERANCE = 1e-6;

    /** The bar for the quickstart: CKKS within 0.005 of plaintext accuracy. */
    private static final double ACCURACY_TOLERANCE = 0.005;

    private static FashionMnist data;

    @TempDir Path work;

    @BeforeAll
    static void loadData() throws Exception {
        data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 3000, 1500);
    }

    @Test
    void synchronousCkksRoundsDecryptToThePlaintextFedAvgAndMatchThePlaintextAccuracy()
            throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(work.resolve("keys"));
        KeyBundle keys = KeyBundle.load(work.resolve("keys").resolve(KeyBundle.SECRET_FILE));

        Run ckks =
                federate(
                        "ckks-sync",
                        ckksSettings("synchronous", "examples"),
                        keys,
                        port -> {
                            // Another key pair of the same parameters, and other parameters:
                            // both refused at join, before any real learner is there.
                            assertRefused(
                                    port,
                                    KeyBundle.generate("metisfl-ckks", "n13-q120"),
                                    "this learner's key bundle is key");
                            assertRefused(
                                    port,
                                    KeyBundle.generate("metisfl-ckks", "n13-q180"),
                                    "key bundle has other parameters");
                            assertRefused(port, null, "this learner has no key bundle");
                        });
        Run plain = federate("plain-sync", plainSettings("synchronous", "examples"), null, p -> {});

        assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(ckks, false);
        double ckksAccuracy = finalAccuracy(ckks);
        double plainAccuracy = finalAccuracy(plain);
        System.out.printf(
                "CKKS sync final accuracy %.4f, plaintext %.4f%n", ckksAccuracy, plainAccuracy);
        assertThat(ckksAccuracy).isGreaterThan(0.65);
        assertThat(Math.abs(ckksAccuracy - plainAccuracy)).isLessThanOrEqualTo(ACCURACY_TOLERANCE);
    }

    @Test
    void semiSynchronousCkksRoundsDecryptToThePlaintextFedAvgOfTheUpdates() throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(work.resolve("keys"));
        KeyBundle keys = KeyBundle.load(work.resolve("keys").resolve(KeyBundle.SECRET_FILE));

        Run ckks =
                federate(
                        "ckks-semi-sync",
                        ckksSettings("semi-synchronous", "batches"),
                        keys,
                        port -> {});

        assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(ckks, true);
        assertThat(finalAccuracy(ckks)).isGreaterThan(0.65);
    }

    // -------------------------------------------------------------------------------------

    private Map<String, String> plainSettings(String protocol, String scaling) {
        Map<String, String> s = new HashMap<>();
        s.put("federation.rounds", Integer.toString(ROUNDS));
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", "first-learner");
        s.put("protocol.type", protocol);
        s.put("aggregation.rule", "fedavg");
        s.put("aggregation.scaling", scaling);
        s.put("aggregation.shard-size", "65536");
        s.put("train.batch-size", "32");
        s.put("job.checkpoint-interval", "500 ms");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        return s;
    }

    private Map<String, String> ckksSettings(String protocol, String scaling) {
        Map<String, String> s = plainSettings(protocol, scaling);
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.backend", "metisfl-ckks");
        s.put("secure-aggregation.preset", "n13-q120");
        s.put(
                "secure-aggregation.public-key",
                work.resolve("keys").resolve(KeyBundle.PUBLIC_FILE).toString());
        return s;
    }

    /** What one federation left: its round results and what learner 0's adapter saw. */
    private record Run(List<RoundResult> results, List<RecordingModelAdapter> learners) {}

    @FunctionalInterface
    private interface BeforeLearners {
        void run(int port) throws Exception;
    }

    private Run federate(
            String name, Map<String, String> settings, KeyBundle keys, BeforeLearners before)
            throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path dir = work.resolve(name);
        Map<String, String> s = new HashMap<>(settings);
        s.put("federation.name", name);
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", dir.resolve("results.jsonl").toString());
        FederationConfig config = FederationConfig.of(s);
        ExecutorService pool = Executors.newFixedThreadPool(LEARNERS);
        List<RecordingModelAdapter> recordings = new ArrayList<>();
        try (EmbeddedFederation federation = EmbeddedFederation.start(config, -1, dir)) {
            federation.awaitGatewaysReady(Duration.ofSeconds(60));
            before.run(port);
            List<Future<LearnerSummary>> learners = new ArrayList<>();
            for (int i = 0; i < LEARNERS; i++) {
                LearnerArgs args =
                        LearnerArgs.parse(
                                "--gateway",
                                "127.0.0.1:" + port,
                                "--learners",
                                Integer.toString(LEARNERS),
                                "--learner-index",
                                Integer.toString(i),
                                "--batch-size",
                                "32",
                                "--insecure");
                RecordingModelAdapter adapter =
                        new RecordingModelAdapter(FashionMnistLearner.adapterFor(args, data));
                recordings.add(adapter);
                learners.add(pool.submit(() -> run(port, args.name(), adapter, keys)));
            }
            federation.awaitCompletion(Duration.ofMinutes(10));
            for (Future<LearnerSummary> f : learners) {
                assertThat(f.get(1, TimeUnit.MINUTES).roundsTrained()).isEqualTo(ROUNDS);
            }
        } finally {
            pool.shutdownNow();
        }
        List<RoundResult> results = RoundResults.read(dir.resolve("results.jsonl"));
        assertThat(results).hasSize(ROUNDS);
        for (RoundResult r : results) {
            assertThat(r.contributors).hasSize(LEARNERS);
        }
        return new Run(results, recordings);
    }

    private static LearnerSummary run(int port, String name, ModelAdapter adapter, KeyBundle keys) {
        try (Learner l =
                Learner.builder()
                        .gateways("127.0.0.1:" + port)
                        .name(name)
                        .adapter(adapter)
                        .options(
                                LearnerOptions.builder()
                                        .transportSecurity(TransportSecurity.insecure())
                                        .keyBundle(keys)
                                        .build())
                        .build()) {
            return l.run();
        }
    }

    private static void assertRefused(int port, KeyBundle keys, String reason) {
        assertThatThrownBy(() -> run(port, "intruder", new RecordingModelAdapter(null), keys))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("aggregates with secure aggregation")
                .hasMessageContaining(reason);
    }

    /**
     * Round k's global model, as learner 0 decrypted it, against the weighted mean of the k-th
     * plaintext updates of all learners (weights: examples, or batches in semi-sync), computed here
     * in double.
     */
    private static void assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(
            Run run, boolean byBatches) {
        RecordingModelAdapter first = run.learners().get(0);
        for (int k = 0; k < ROUNDS; k++) {
            float[] global = first.globalAfterUpdate(k);
            double[] sum = new double[global.length];
            double weights = 0;
            for (RecordingModelAdapter r : run.learners()) {
                RecordingModelAdapter.Update u = r.updates.get(k);
                double w =
                        byBatches
                                ? u.result().numCompletedBatches()
                                : u.result().numTrainingExamples();
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += w * u.values()[i];
                }
                weights += w;
            }
            double worst = 0;
            for (int i = 0; i < sum.length; i++) {
                worst = Math.max(worst, Math.abs(global[i] - sum[i] / weights));
            }
            assertThat(worst)
                    .as("round %d: largest difference to the plaintext FedAvg", k + 1)
                    .isLessThanOrEqualTo(MODEL_TOLERANCE);
        }
    }

    private static double finalAccuracy(Run run) {
        return run.results().get(ROUNDS - 1).evalMetrics.get("accuracy");
    }
}
