package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;

/** {@code metisfl models list|get|export} on a store written with {@link ModelStore}. */
class ModelsCommandTest {
    @TempDir Path dir;

    private CliEnvironment env;
    private String storeUri;
    private final List<TensorSpecInfo> tensors =
            List.of(
                    new TensorSpecInfo("w", new long[] {2, 3}),
                    new TensorSpecInfo("b", new long[] {3}));
    private final float[] v1 = {1.5f, -2f, 3.25f, 4f, 5f, 6f, 0.5f, -0.25f, 1e-3f};

    record Run(int code, String out, String err) {}

    @BeforeEach
    void setUp() throws Exception {
        env =
                new CliEnvironment(
                        dir.resolve("home"),
                        dir.resolve("state"),
                        dir,
                        "http://127.0.0.1:1",
                        Duration.ofMillis(10));
        storeUri = dir.resolve("store").toUri().toString();
        ModelStore store = ModelStore.open(storeUri, "demo");
        for (long v = 0; v <= 1; v++) {
            StoredModel m = new StoredModel();
            m.federation = "demo";
            m.version = v;
            m.parentVersion = v - 1;
            m.values = v1.length;
            m.tensors = tensors;
            m.publishedAtMs = 1_000 * v;
            float[] values = v == 1 ? v1 : new float[v1.length];
            store.commit(store.writePending(m, tensors, values));
        }
        RoundResult r = new RoundResult();
        r.federation = "demo";
        r.round = 1;
        r.contributors = List.of("a", "b");
        r.evalMetrics = Map.of("accuracy", 0.75);
        store.commit(store.writePendingResult(r));
    }

    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MetisflCli.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void listShowsEachVersionWithItsRoundsContributorsAndAccuracy() {
        Run r = run("models", "list", "--store", storeUri, "--federation", "demo");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("2 versions in");
        assertThat(r.out().lines().filter(l -> l.startsWith("1 ")).findFirst().orElseThrow())
                .contains("0.7500")
                .containsPattern("\\s2\\s");
    }

    @Test
    void getWritesTheLittleEndianFloat32BytesLearnersReceive() throws Exception {
        Path out = dir.resolve("v1.f32");
        Run r =
                run(
                        "models",
                        "get",
                        "1",
                        "--store",
                        storeUri,
                        "--federation",
                        "demo",
                        "--out",
                        out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        ByteBuffer expected = ByteBuffer.allocate(v1.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v1) {
            expected.putFloat(f);
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(expected.array());
        JsonObject meta = JsonParser.parseString(r.out()).getAsJsonObject();
        assertThat(meta.get("version").getAsLong()).isEqualTo(1);
        assertThat(meta.get("parentVersion").getAsLong()).isZero();
    }

    @Test
    void exportWritesAModelFileAndRawTensorsWithAJsonHeader() throws Exception {
        Path model = dir.resolve("v1.model");
        assertThat(
                        run(
                                        "models",
                                        "export",
                                        "1",
                                        "--store",
                                        storeUri,
                                        "--federation",
                                        "demo",
                                        "--out",
                                        model.toString())
                                .code())
                .isZero();
        ModelCodec.LoadedModel loaded = ModelCodec.readModelFile(model);
        assertThat(loaded.values()).containsExactly(v1);
        assertThat(loaded.tensors()).isEqualTo(tensors);

        Path raw = dir.resolve("v1.raw");
        assertThat(
                        run(
                                        "models",
                                        "export",
                                        "1",
                                        "--store",
                                        storeUri,
                                        "--federation",
                                        "demo",
                                        "--out",
                                        raw.toString(),
                                        "--format",
                                        "raw")
                                .code())
                .isZero();
        assertThat(Files.size(raw)).isEqualTo(v1.length * 4L);
        JsonObject header =
                JsonParser.parseString(Files.readString(dir.resolve("v1.raw.json")))
                        .getAsJsonObject();
        JsonObject b = header.getAsJsonArray("tensors").get(1).getAsJsonObject();
        assertThat(b.get("name").getAsString()).isEqualTo("b");
        assertThat(b.get("offset").getAsLong()).isEqualTo(6);
        assertThat(b.get("dtype").getAsString()).isEqualTo("float32");
    }

    @Test
    void unknownVersionIsAnErrorThatSaysWhichVersionsExist() {
        Run r = run("models", "get", "7", "--store", storeUri, "--federation", "demo");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("model version 7").contains("[0, 1]");
    }
}
