package org.metisfl.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
import org.metisfl.transport.TransportSecurity;

/**
 * Real DL4J learners federate in threshold mode through the real job (MiniCluster, RocksDB, gRPC on
 * 127.0.0.1): three {@link Learner}s with share directories key a 3-member committee themselves,
 * encrypt their updates under its joint key, and decrypt each round's aggregate with their partial
 * decryptions; every global model the job serves is the plaintext FedAvg of the updates (within the
 * documented tolerance, computed here from the plaintext updates) and the final accuracy matches a
 * plaintext run of the same federation. With t = 2 of 3, a member killed in the last round leaves
 * the two others to decrypt it.
 */
class ThresholdCkksFederationITCase {

    private static final int LEARNERS = 3;

    /**
     * Per value: the float32 rounding of the mean (~6e-8 at these magnitudes) plus the smudging
     * noise of the partial decryptions (~1.9e-9·√N; crypto README), with room to spare.
     */
    private static final double MODEL_TOLERANCE = 1e-6;

    /** The bar for CKKS against plaintext accuracy. */
    private static final double ACCURACY_TOLERANCE = 0.005;

    private static FashionMnist data;

    @TempDir Path work;

    @BeforeAll
    static void loadData() throws Exception {
        data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 3000, 1500);
    }

    @Test
    void aCommitteeOfTheLearnersDecryptsEveryRoundToThePlaintextFedAvgAndItsAccuracy()
            throws Exception {
        int rounds = 3;
        Map<String, String> threshold = thresholdSettings(rounds, 3);
        Run thr = federate("threshold-3of3", threshold, rounds, true, -1);
        Run plain = federate("plain", plainSettings(rounds), rounds, false, -1);

        assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(thr, rounds, List.of(0, 1, 2));
        for (int i = 0; i < LEARNERS; i++) {
            Path share = work.resolve("threshold-3of3").resolve("shares-" + i);
            assertThat(Files.list(share).map(p -> p.getFileName().toString()))
                    .contains("threshold-epoch-1.share", "threshold-epoch-1.properties");
            assertThat(
                            PosixFilePermissions.toString(
                                    Files.getPosixFilePermissions(
                                            share.resolve("threshold-epoch-1.share"))))
                    .isEqualTo("rw-------");
        }
        double thrAccuracy = finalAccuracy(thr, rounds);
        double plainAccuracy = finalAccuracy(plain, rounds);
        System.out.printf(
                "threshold (3 of 3) final accuracy %.4f, plaintext %.4f%n",
                thrAccuracy, plainAccuracy);
        assertThat(thrAccuracy).isGreaterThan(0.65);
        assertThat(Math.abs(thrAccuracy - plainAccuracy)).isLessThanOrEqualTo(ACCURACY_TOLERANCE);
    }

    @Test
    void twoOfThreeMembersDecryptTheLastRoundAfterTheThirdIsKilled() throws Exception {
        int rounds = 2;
        Map<String, String> s = thresholdSettings(rounds, 2);
        // the killed member leaves round 2; it closes with the two others
        s.put("round.quorum", "0.6");
        s.put("round.participant-grace", "1 s");
        Run run = federate("threshold-2of3", s, rounds, true, 2);

        assertThat(run.results().get(1).contributors).hasSize(2);
        assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(run, rounds, List.of(0, 1));
        // the killed member's Shamir share is still on its disk: it could answer after a restart
        assertThat(
                        work.resolve("threshold-2of3")
                                .resolve("shares-2")
                                .resolve("threshold-epoch-1.shamir"))
                .exists();
    }

    // -------------------------------------------------------------------------------------

    private static Map<String, String> plainSettings(int rounds) {
        Map<String, String> s = new HashMap<>();
        s.put("federation.rounds", Integer.toString(rounds));
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", "first-learner");
        s.put("protocol.type", "synchronous");
        s.put("aggregation.rule", "fedavg");
        s.put("aggregation.scaling", "examples");
        s.put("aggregation.shard-size", "65536");
        s.put("train.batch-size", "32");
        s.put("job.checkpoint-interval", "500 ms");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        return s;
    }

    private static Map<String, String> thresholdSettings(int rounds, int t) {
        Map<String, String> s = plainSettings(rounds);
        s.put("secure-aggregation", "ckks-threshold");
        s.put("secure-aggregation.committee.size", Integer.toString(LEARNERS));
        s.put("secure-aggregation.committee.threshold", Integer.toString(t));
        s.put("secure-aggregation.committee.decryption-timeout", "20 s");
        return s;
    }

    /** What one federation left: its round results and what each learner's adapter saw. */
    private record Run(List<RoundResult> results, List<RecordingModelAdapter> learners) {}

    /**
     * Runs a federation of three DL4J learners; {@code killInRound} (1-based, or -1) makes learner
     * 2 close itself while it trains that round.
     */
    private Run federate(
            String name,
            Map<String, String> settings,
            int rounds,
            boolean threshold,
            int killInRound)
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
            federation.awaitGatewaysReady(Duration.ofSeconds(180));
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
                        new RecordingModelAdapter(
                                FashionMnistLearner.adapterFor(args, data),
                                i == 2 ? killInRound : -1);
                recordings.add(adapter);
                LearnerOptions.Builder options =
                        LearnerOptions.builder().transportSecurity(TransportSecurity.insecure());
                if (threshold) {
                    options.thresholdShareDir(dir.resolve("shares-" + i));
                }
                Learner learner =
                        Learner.builder()
                                .gateways("127.0.0.1:" + port)
                                .name(args.name())
                                .adapter(adapter)
                                .options(options.build())
                                .build();
                adapter.learner.set(learner);
                learners.add(
                        pool.submit(
                                () -> {
                                    try (learner) {
                                        return learner.run();
                                    }
                                }));
            }
            federation.awaitCompletion(Duration.ofMinutes(10));
            for (int i = 0; i < LEARNERS; i++) {
                LearnerSummary summary;
                try {
                    summary = learners.get(i).get(3, TimeUnit.MINUTES);
                } catch (java.util.concurrent.TimeoutException e) {
                    // which learner hangs, and where
                    StringBuilder dump =
                            new StringBuilder("learner " + i + " did not end; threads:\n");
                    Thread.getAllStackTraces()
                            .forEach(
                                    (t, st) -> {
                                        dump.append(t.getName()).append('\n');
                                        for (StackTraceElement el : st) {
                                            dump.append("   ").append(el).append('\n');
                                        }
                                    });
                    System.err.println(dump);
                    throw e;
                }
                int expected = i == 2 && killInRound > 0 ? killInRound - 1 : rounds;
                assertThat(summary.roundsTrained()).isEqualTo(expected);
            }
        } finally {
            pool.shutdownNow();
        }
        List<RoundResult> results = RoundResults.read(dir.resolve("results.jsonl"));
        assertThat(results).hasSize(rounds);
        return new Run(results, recordings);
    }

    /**
     * Round k's global model, as each live learner loaded it, against the weighted mean (by
     * examples) of the k-th plaintext updates of the learners that contributed, computed here in
     * double.
     */
    private static void assertEveryGlobalModelIsTheWeightedMeanOfTheUpdates(
            Run run, int rounds, List<Integer> observers) {
        for (int k = 0; k < rounds; k++) {
            double[] sum = null;
            double weights = 0;
            for (RecordingModelAdapter r : run.learners()) {
                if (r.updates.size() <= k) {
                    continue; // killed before this round's update
                }
                RecordingModelAdapter.Update u = r.updates.get(k);
                if (sum == null) {
                    sum = new double[u.values().length];
                }
                double w = u.result().numTrainingExamples();
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += w * u.values()[i];
                }
                weights += w;
            }
            for (int o : observers) {
                RecordingModelAdapter r = run.learners().get(o);
                if (r.killed) {
                    continue;
                }
                float[] global = r.globalAfterUpdate(k);
                double worst = 0;
                for (int i = 0; i < sum.length; i++) {
                    worst = Math.max(worst, Math.abs(global[i] - sum[i] / weights));
                }
                assertThat(worst)
                        .as(
                                "round %d, learner %d: largest difference to plaintext FedAvg",
                                k + 1, o)
                        .isLessThanOrEqualTo(MODEL_TOLERANCE);
            }
        }
    }

    private static double finalAccuracy(Run run, int rounds) {
        return run.results().get(rounds - 1).evalMetrics.get("accuracy");
    }
}
