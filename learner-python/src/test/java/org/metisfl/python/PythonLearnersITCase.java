package org.metisfl.python;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.examples.fashionmnist.LearnerArgs;
import org.metisfl.examples.fashionmnist.LearnerSetup;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.learner.dl4j.DeepLearning4jAdapter;

/**
 * Python learners (learner-python, on Debian's python3) in federations on the real job: a
 * MiniCluster with RocksDB and the real gRPC gateway on 127.0.0.1. Each learner records the global
 * models it receives and the updates it sends; the test recomputes every global model as the
 * example-weighted mean of the recorded updates.
 */
class PythonLearnersITCase {
    private static final Duration WAIT = Duration.ofMinutes(4);

    /** The quickstart MLP's tensors, as DL4J names them. */
    private static final List<TensorSpecInfo> MLP =
            List.of(
                    new TensorSpecInfo("0_W", new long[] {784, 128}),
                    new TensorSpecInfo("0_b", new long[] {128}),
                    new TensorSpecInfo("1_W", new long[] {128, 10}),
                    new TensorSpecInfo("1_b", new long[] {10}));

    private static final int MLP_SIZE = 784 * 128 + 128 + 128 * 10 + 10;

    @TempDir Path work;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private EmbeddedFederation start(Map<String, String> settings) throws Exception {
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(freePort()));
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("job.checkpoint-interval", "200 ms");
        s.put("aggregation.shard-size", "16384");
        // The Python library does not speak TLS yet: these federations run plaintext, open.
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        s.putAll(settings);
        EmbeddedFederation f = EmbeddedFederation.start(FederationConfig.of(s), -1, work);
        open.add(f);
        f.awaitGatewaysReady(Duration.ofSeconds(60));
        return f;
    }

    private int port;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Path initialModel() throws IOException {
        float[] v = new float[MLP_SIZE];
        for (int k = 0; k < v.length; k++) {
            v[k] = 0.1f * (float) Math.cos(k * 0.11);
        }
        Path file = work.resolve("initial.model");
        ModelCodec.writeModelFile(file, MLP, v);
        return file;
    }

    private PythonLearnerProcess python(String name, String gateway, String... args)
            throws IOException {
        PythonLearnerProcess p = PythonLearnerProcess.start(work, name, gateway, args);
        open.add(p);
        return p;
    }

    private List<RoundResult> results() throws IOException {
        return RoundResults.read(work.resolve("results.jsonl"));
    }

    /** Asserts that the global model equals sum(n_i u_i) / sum(n_i) over the given updates. */
    private static void assertWeightedMean(float[] global, List<float[]> updates, List<Long> n) {
        assertThat(global).as("a learner received this global model").isNotNull();
        double total = 0;
        for (long e : n) {
            total += e;
        }
        double worst = 0;
        for (int k = 0; k < global.length; k++) {
            double expected = 0;
            for (int i = 0; i < updates.size(); i++) {
                expected += n.get(i) * (double) updates.get(i)[k];
            }
            expected /= total;
            worst =
                    Math.max(
                            worst,
                            Math.abs(global[k] - expected) / Math.max(1, Math.abs(expected)));
        }
        assertThat(worst).as("largest relative error of the aggregate").isLessThan(1e-6);
    }

    @Test
    void pythonLearnersOnlyCompleteRoundsAndTheGlobalModelIsTheExampleWeightedMean()
            throws Exception {
        port = freePort();
        start(
                Map.of(
                        "gateway.port",
                        Integer.toString(port),
                        "federation.rounds",
                        "3",
                        "federation.min-learners",
                        "3",
                        "federation.initial-model",
                        initialModel().toString()));
        String gateway = "127.0.0.1:" + port;
        long[] examples = {100, 200, 700};
        List<PythonLearnerProcess> learners = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            learners.add(
                    python(
                            "py-" + i,
                            gateway,
                            "--examples",
                            Long.toString(examples[i]),
                            "--shift",
                            Double.toString(0.5 + i)));
        }
        for (PythonLearnerProcess p : learners) {
            assertThat(p.await(WAIT.toSeconds())).as(p.output()).isZero();
        }
        List<RoundResult> rounds = results();
        assertThat(rounds).hasSize(3);
        for (RoundResult r : rounds) {
            assertThat(r.aborted).isFalse();
            assertThat(r.contributors).hasSize(3);
        }
        for (int round = 1; round <= 3; round++) {
            List<float[]> updates = new ArrayList<>();
            List<Long> n = new ArrayList<>();
            for (PythonLearnerProcess p : learners) {
                updates.add(p.floats("update-r" + round + ".f32"));
                n.add(p.examples(round));
            }
            assertThat(n).containsExactly(100L, 200L, 700L);
            for (PythonLearnerProcess p : learners) {
                assertWeightedMean(p.floats("global-v" + round + ".f32"), updates, n);
            }
        }
        // Round 1 trained from the initial model file, received unchanged.
        float[] initial = learners.get(0).floats("global-v0.f32");
        assertThat(initial).hasSize(MLP_SIZE);
        assertThat(initial[1]).isEqualTo(0.1f * (float) Math.cos(0.11));
    }

    /**
     * Asynchronous FedBuff (buffer 1, server learning rate 1) with checkpoints every 2 s: the
     * Python learner trains its next task while its previous upload awaits its acknowledgement (two
     * unacknowledged at a time), and every update counts once: the final model is the initial one
     * plus the learner's shift once per version.
     */
    @Test
    void aPipelinedPythonLearnerCountsEachAsynchronousUpdateOnce() throws Exception {
        port = freePort();
        int versions = 6;
        String store = work.resolve("store").toUri().toString();
        start(
                Map.ofEntries(
                        Map.entry("gateway.port", Integer.toString(port)),
                        Map.entry("federation.name", "py-async"),
                        Map.entry("federation.rounds", Integer.toString(versions)),
                        Map.entry("federation.min-learners", "1"),
                        Map.entry("federation.initial-model", initialModel().toString()),
                        Map.entry("model-store.path", store),
                        Map.entry("protocol.type", "asynchronous"),
                        Map.entry("async.rule", "fedbuff"),
                        Map.entry("async.buffer-size", "1"),
                        Map.entry("async.server-learning-rate", "1.0"),
                        Map.entry("async.staleness", "constant"),
                        Map.entry("async.publish-interval", "20 ms"),
                        Map.entry("evaluation.enabled", "false"),
                        Map.entry("job.checkpoint-interval", "2 s")));
        PythonLearnerProcess p =
                python("py-async", "127.0.0.1:" + port, "--kind", "add", "--shift", "0.25");
        assertThat(p.await(WAIT.toSeconds())).as(p.output()).isZero();
        assertThat(p.output())
                .contains("update sent, awaiting its acknowledgement; unacknowledged: 2");
        var models = org.metisfl.flink.connector.store.ModelStore.open(store, "py-async");
        List<Long> stored = models.versions();
        assertThat(stored.get(stored.size() - 1)).isEqualTo(versions);
        float[] x0 = ModelCodec.readModelFile(initialModel()).values();
        float[] x = models.read(versions).values();
        for (int k = 0; k < x.length; k++) {
            assertThat((double) x[k])
                    .as("value %d", k)
                    .isCloseTo(x0[k] + versions * 0.25, org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void twoDl4jLearnersAndOnePyTorchLearnerShareOneFashionMnistFederation() throws Exception {
        port = freePort();
        start(
                Map.of(
                        "gateway.port", Integer.toString(port),
                        "federation.rounds", "2",
                        "federation.min-learners", "3",
                        "federation.initial-model", "first-learner"));
        String gateway = "127.0.0.1:" + port;
        PythonLearnerProcess torch =
                python(
                        "pytorch-2",
                        gateway,
                        "--kind",
                        "torch",
                        "--learners",
                        "3",
                        "--learner-index",
                        "2",
                        "--train-limit",
                        "3000",
                        "--test-limit",
                        "1000");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        open.add(pool::shutdownNow);
        List<RecordingAdapter> java = new ArrayList<>();
        List<Future<LearnerSummary>> runs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            LearnerSetup setup =
                    LearnerSetup.of(
                            LearnerArgs.parse(
                                    "--gateway", gateway,
                                    "--learners", "3",
                                    "--learner-index", Integer.toString(i),
                                    "--train-limit", "3000",
                                    "--test-limit", "1000"));
            RecordingAdapter adapter =
                    new RecordingAdapter(
                            new DeepLearning4jAdapter(
                                    setup.network(), setup.train(), setup.test()));
            java.add(adapter);
            Learner learner =
                    Learner.builder()
                            .gateways(gateway)
                            .name("dl4j-" + i)
                            .adapter(adapter)
                            .options(
                                    LearnerOptions.builder()
                                            .transportSecurity(
                                                    org.metisfl.transport.TransportSecurity
                                                            .insecure())
                                            .build())
                            .build();
            open.add(learner);
            runs.add(pool.submit(learner::run));
        }
        for (Future<LearnerSummary> run : runs) {
            LearnerSummary s = run.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(s.federationFinished()).as(s.toString()).isTrue();
        }
        assertThat(torch.await(WAIT.toSeconds())).as(torch.output()).isZero();

        List<RoundResult> rounds = results();
        assertThat(rounds).hasSize(2);
        for (int round = 1; round <= 2; round++) {
            RoundResult r = rounds.get(round - 1);
            assertThat(r.contributors).hasSize(3);
            List<float[]> updates = new ArrayList<>();
            List<Long> n = new ArrayList<>();
            for (RecordingAdapter a : java) {
                updates.add(a.updates.get((long) round));
                n.add(a.examples.get((long) round));
            }
            updates.add(torch.floats("update-r" + round + ".f32"));
            n.add(torch.examples(round));
            assertWeightedMean(torch.floats("global-v" + round + ".f32"), updates, n);
            for (RecordingAdapter a : java) {
                assertWeightedMean(a.globals.get((long) round), updates, n);
            }
        }
        // Trained together, the mixed federation learns (0.1 would be chance).
        assertThat(rounds.get(1).evalMetrics.get("accuracy")).isGreaterThan(0.6);
    }

    @Test
    void anUpdateResentAfterItsAcknowledgementWasLostCountsOnce() throws Exception {
        port = freePort();
        start(
                Map.of(
                        "gateway.port",
                        Integer.toString(port),
                        "federation.rounds",
                        "1",
                        "federation.min-learners",
                        "2",
                        "federation.initial-model",
                        initialModel().toString()));
        // The first learner's connection loses the gateway's answer to its update, then breaks.
        CutOnceProxy proxy = new CutOnceProxy(port, 380_000, 1_500);
        open.add(proxy);
        PythonLearnerProcess cut =
                python("cut", "127.0.0.1:" + proxy.port(), "--examples", "300", "--shift", "1");
        // The second learner takes its time, so the round is still open for the resend.
        PythonLearnerProcess slow =
                python(
                        "slow",
                        "127.0.0.1:" + port,
                        "--examples",
                        "100",
                        "--shift",
                        "2",
                        "--train-delay",
                        "8");
        assertThat(cut.await(WAIT.toSeconds())).as(cut.output()).isZero();
        assertThat(slow.await(WAIT.toSeconds())).as(slow.output()).isZero();
        assertThat(proxy.cut).isTrue();
        String log = cut.output();
        assertThat(log)
                .contains("reconnecting to gateway")
                .contains("duplicate (already accepted)");

        RoundResult round = results().get(0);
        assertThat(round.contributors).hasSize(2).doesNotHaveDuplicates();
        List<float[]> updates = List.of(cut.floats("update-r1.f32"), slow.floats("update-r1.f32"));
        assertWeightedMean(cut.floats("global-v1.f32"), updates, List.of(300L, 100L));
    }

    @Test
    void aPythonLearnerRefusesAGlobalModelOfAnotherShapeWithAClearMessage() throws Exception {
        port = freePort();
        start(
                Map.of(
                        "gateway.port",
                        Integer.toString(port),
                        "federation.rounds",
                        "1",
                        "federation.min-learners",
                        "1",
                        "federation.initial-model",
                        initialModel().toString()));
        PythonLearnerProcess wrong = python("wrong", "127.0.0.1:" + port, "--wrong-shape");
        assertThat(wrong.await(WAIT.toSeconds())).isEqualTo(3);
        assertThat(wrong.output())
                .contains("does not fit this learner's model")
                .contains(
                        "tensor '0_W' has shape [784, 128] in the global model but [784, 64] here")
                .contains("left the federation");
    }
}
