package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.dag.Transformation;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.transformations.PartitionTransformation;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.Appender;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The job holds no plaintext of a CKKS federation's models (invariant 6): learners send a known
 * marker vector as their initial weights and their updates; then the job's checkpoint files, its
 * local RocksDB files, its savepoint, its log lines and every record crossing its operators
 * (serialized with the job's own serializers) are scanned for the marker's float32 bytes (both byte
 * orders) and for its values' decimal forms. A CKKS run finds none; a control run of the same
 * federation without secure aggregation finds them in the records, the savepoint and the state, so
 * the scan does find plaintext where there is some.
 */
class SecureAggregationNoPlaintextITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SHARD = 8192;
    private static final int N = SHARD + 5000;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final float[] MARKER = marker();

    /** Hits per place ("records GatewayEvent", ...), filled by the taps inside the job. */
    static final Map<String, AtomicLong> HITS = new ConcurrentHashMap<>();

    /** Records seen per operator output type, so a silent tap cannot pass for a clean one. */
    static final Map<String, AtomicLong> SEEN = new ConcurrentHashMap<>();

    @TempDir Path work;

    private static float[] marker() {
        float[] m = new float[N];
        for (int i = 0; i < N; i++) {
            m[i] = 1234.5677f + 0.0078125f * (i % 997) - (i % 7) * 3.25f;
        }
        return m;
    }

    /** 16-byte windows (4 values) of the marker at a few offsets, little- and big-endian. */
    static List<byte[]> patterns() {
        List<byte[]> out = new ArrayList<>();
        for (int at : new int[] {0, 777, SHARD - 2, SHARD + 1001, N - 4}) {
            for (ByteOrder order :
                    new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                ByteBuffer b = ByteBuffer.allocate(16).order(order);
                for (int i = 0; i < 4; i++) {
                    b.putFloat(MARKER[at + i]);
                }
                out.add(b.array());
            }
        }
        return out;
    }

    static long count(byte[] hay, List<byte[]> needles) {
        long hits = 0;
        for (byte[] n : needles) {
            outer:
            for (int i = 0; i + n.length <= hay.length; i++) {
                for (int j = 0; j < n.length; j++) {
                    if (hay[i + j] != n[j]) {
                        continue outer;
                    }
                }
                hits++;
            }
        }
        return hits;
    }

    static long scanFiles(Path dir, List<byte[]> needles) throws IOException {
        if (!Files.exists(dir)) {
            return 0;
        }
        long hits = 0;
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).toList();
        } catch (java.io.UncheckedIOException e) {
            // A checkpoint was deleted during the walk: walk again.
            return scanFiles(dir, needles);
        }
        for (Path f : files) {
            try {
                hits += count(Files.readAllBytes(f), needles);
            } catch (NoSuchFileException gone) {
                // subsumed checkpoint removed meanwhile
            }
        }
        return hits;
    }

    /** Serializes each record with the job's serializer and counts marker bytes in it. */
    static final class Tap<T> implements MapFunction<T, Integer> {
        private static final long serialVersionUID = 1L;
        private final TypeSerializer<T> serializer;
        private final String place;
        private final List<byte[]> needles;

        Tap(TypeSerializer<T> serializer, String place, List<byte[]> needles) {
            this.serializer = serializer;
            this.place = place;
            this.needles = needles;
        }

        @Override
        public Integer map(T record) throws Exception {
            DataOutputSerializer out = new DataOutputSerializer(1024);
            serializer.serialize(record, out);
            long hits = count(out.getCopyOfBuffer(), needles);
            SEEN.computeIfAbsent(place, k -> new AtomicLong()).incrementAndGet();
            if (hits > 0) {
                HITS.computeIfAbsent(place, k -> new AtomicLong()).addAndGet(hits);
            }
            return 0;
        }
    }

    /** Taps every operator output that carries model values. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void tapRecords(StreamExecutionEnvironment env, List<byte[]> needles) {
        Set<Transformation<?>> all = new LinkedHashSet<>();
        for (Transformation<?> t : env.getTransformations()) {
            all.addAll(t.getTransitivePredecessors());
        }
        Set<Class<?>> carriers = Set.of(GatewayEvent.class, GlobalShard.class, Directive.class);
        for (Transformation<?> t : all) {
            if (t instanceof PartitionTransformation
                    || t.getOutputType() == null
                    || !carriers.contains(t.getOutputType().getTypeClass())) {
                continue;
            }
            TypeSerializer s =
                    t.getOutputType().createSerializer(env.getConfig().getSerializerConfig());
            String place = "records " + t.getOutputType().getTypeClass().getSimpleName();
            new DataStream(env, t)
                    .map(new Tap(s, place, needles))
                    .setParallelism(t.getParallelism())
                    .name("marker tap of " + t.getName())
                    .sinkTo(new DiscardingSink<>())
                    .setParallelism(t.getParallelism());
        }
    }

    /** What one run found, per place. */
    record Found(Map<String, Long> hits, Map<String, Long> seen) {}

    private Found run(boolean encrypted) throws Exception {
        HITS.clear();
        SEEN.clear();
        List<byte[]> needles = patterns();
        Path dir = work.resolve(encrypted ? "ckks" : "control");
        Files.createDirectories(dir);
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        Path keyDir = dir.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        int port = FederationHarness.freePorts(1);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", dir.resolve("results.jsonl").toString());
        s.put("job.checkpoint-interval", "200 ms");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", "2");
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        if (encrypted) {
            s.put("secure-aggregation", "ckks");
            s.put(
                    "secure-aggregation.public-key",
                    keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        }
        FederationConfig config = FederationConfig.of(s);

        StringWriter logs = new StringWriter();
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        Appender appender =
                WriterAppender.newBuilder()
                        .setName("marker-scan")
                        .setTarget(logs)
                        .setLayout(PatternLayout.newBuilder().withPattern("%c %m %ex%n").build())
                        .build();
        appender.start();
        ctx.getConfiguration().getRootLogger().addAppender(appender, null, null);
        ctx.getConfiguration().getLoggerConfig("org.metisfl").addAppender(appender, null, null);
        ctx.updateLoggers();

        Configuration flink = FederationPipeline.flinkConfiguration(config);
        flink.set(CoreOptions.TMP_DIRS, tmp.toAbsolutePath().toString());
        flink.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                dir.resolve("checkpoints").toAbsolutePath().toUri().toString());
        flink.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        flink.set(RestOptions.BIND_PORT, "0");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(flink);
        env.setParallelism(config.jobParallelism());
        FederationPipeline.build(env, config);
        tapRecords(env, needles);
        JobClient client = env.executeAsync("marker scan " + (encrypted ? "ckks" : "control"));
        Map<String, Long> hits = new TreeMap<>();
        try {
            org.metisfl.flink.connector.gateway.GatewayHealth.awaitServing(
                    "127.0.0.1",
                    port,
                    Duration.ofSeconds(60),
                    () -> {
                        if (client.getJobExecutionResult().isDone()) {
                            throw new IllegalStateException("the job ended before its gateway");
                        }
                    });
            List<AutoCloseable> open = new ArrayList<>();
            try {
                RawLearner a = new RawLearner("127.0.0.1", port);
                RawLearner b = new RawLearner("127.0.0.1", port);
                CkksTestLearner ca = new CkksTestLearner(a, keys, port, SHARD);
                CkksTestLearner cb = new CkksTestLearner(b, keys, port, SHARD);
                open.add(ca);
                open.add(cb);
                a.join("a", 10);
                b.join("b", 30);
                if (encrypted) {
                    ca.submit(0, SPECS, MARKER, 10);
                    // An encrypted federation refuses the plaintext marker (and keeps nothing).
                    assertThatThrownBy(() -> b.submit(1, SPECS, MARKER, 30, Map.of()))
                            .isInstanceOf(StatusRuntimeException.class);
                } else {
                    a.submit(0, SPECS, MARKER, 10, Map.of());
                    // A plaintext federation refuses encrypted uploads, naming the reason.
                    assertThatThrownBy(() -> cb.submit(1, SPECS, MARKER, 30))
                            .isInstanceOfSatisfying(
                                    StatusRuntimeException.class,
                                    e -> {
                                        assertThat(e.getStatus().getCode())
                                                .isEqualTo(Status.Code.INVALID_ARGUMENT);
                                        assertThat(e.getStatus().getDescription())
                                                .startsWith(
                                                        "encrypted update to a plaintext"
                                                                + " federation");
                                    });
                }
                a.openTaskStream();
                b.openTaskStream();
                a.nextTask(Task.KindCase.TRAIN, WAIT);
                b.nextTask(Task.KindCase.TRAIN, WAIT);
                if (encrypted) {
                    ca.submit(1, SPECS, MARKER, 10);
                    cb.submit(1, SPECS, MARKER, 30);
                } else {
                    a.submit(1, SPECS, MARKER, 10, Map.of());
                    b.submit(1, SPECS, MARKER, 30, Map.of());
                }
                assertThat(a.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                if (encrypted) {
                    // The learners still get the marker back: the scan is not vacuous.
                    float[] got = ca.decrypt(ca.download());
                    assertThat(got[777])
                            .isCloseTo(MARKER[777], org.assertj.core.data.Offset.offset(1e-3f));
                }
                Thread.sleep(1500); // several checkpoints after the round
                hits.put("checkpoints", scanFiles(dir.resolve("checkpoints"), needles));
                hits.put("local state (tmp)", scanFiles(tmp, needles));
            } finally {
                for (AutoCloseable c : open) {
                    c.close();
                }
            }
            String savepoint =
                    client.stopWithSavepoint(
                                    false,
                                    dir.resolve("savepoint").toAbsolutePath().toUri().toString(),
                                    SavepointFormatType.CANONICAL)
                            .get(2, TimeUnit.MINUTES);
            assertThat(savepoint).isNotBlank();
            hits.put("savepoint", scanFiles(dir.resolve("savepoint"), needles));
            hits.put("results", scanFiles(dir.resolve("results.jsonl"), needles));
        } finally {
            if (!client.getJobExecutionResult().isDone()) {
                try {
                    client.cancel().get(1, TimeUnit.MINUTES);
                } catch (Exception e) {
                    // already stopping: the failure that got us here is the one to report
                }
            }
            ctx.getConfiguration().getRootLogger().removeAppender("marker-scan");
            ctx.getConfiguration().getLoggerConfig("org.metisfl").removeAppender("marker-scan");
            ctx.updateLoggers();
            appender.stop();
        }
        String text = logs.toString();
        long logHits = count(text.getBytes(StandardCharsets.ISO_8859_1), needles);
        for (int at : new int[] {0, 777, N - 1}) {
            String decimal = Float.toString(MARKER[at]);
            logHits += text.split(java.util.regex.Pattern.quote(decimal), -1).length - 1;
        }
        hits.put("logs", logHits);
        assertThat(text).as("the log capture works").contains("org.metisfl");
        HITS.forEach((k, v) -> hits.put(k, v.get()));
        Map<String, Long> seen = new TreeMap<>();
        SEEN.forEach((k, v) -> seen.put(k, v.get()));
        return new Found(hits, seen);
    }

    @Test
    void aCkksFederationHoldsNoPlaintextMarkerWhereAPlaintextOneDoes() throws Exception {
        Found control = run(false);
        System.out.println("control run: hits " + control.hits() + ", records " + control.seen());
        assertThat(control.hits().getOrDefault("records GatewayEvent", 0L)).isPositive();
        assertThat(control.hits().getOrDefault("records Directive", 0L)).isPositive();
        // The plaintext run takes the model path: its closed shards' values leave the aggregators
        // as directives (counted above) and its GlobalShard records carry metadata only; the CKKS
        // run keeps the model at the coordinator, so its GlobalShard records carry ciphertexts.
        assertThat(control.seen()).containsKey("records GlobalShard");
        assertThat(control.hits().get("savepoint")).isPositive();
        assertThat(control.hits().get("checkpoints")).isPositive();
        assertThat(control.hits().get("local state (tmp)")).isPositive();

        Found ckks = run(true);
        System.out.println("ckks run: hits " + ckks.hits() + ", records " + ckks.seen());
        assertThat(ckks.seen().keySet())
                .contains("records GatewayEvent", "records GlobalShard", "records Directive");
        assertThat(ckks.hits()).allSatisfy((place, n) -> assertThat(n).as(place).isZero());
    }
}
