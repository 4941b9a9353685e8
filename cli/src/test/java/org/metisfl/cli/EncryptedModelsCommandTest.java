package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredEncryption;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.learner.ModelFiles;
import org.metisfl.learner.task.NamedTensor;

/**
 * {@code metisfl models list|get|export} on a store holding a CKKS federation's version: listed as
 * encrypted with its key id, {@code get} writes the ciphertexts as stored (as learners receive
 * them), {@code export} decrypts with the right key only.
 */
class EncryptedModelsCommandTest {
    private static final int SHARD = 8192; // n13-q120: one ciphertext per shard
    private static final int N = SHARD + 1000;

    @TempDir Path dir;

    private CliEnvironment env;
    private String storeUri;
    private KeyBundle keys;
    private byte[] ciphertexts;
    private final List<TensorSpecInfo> tensors =
            List.of(
                    new TensorSpecInfo("dense/kernel", new long[] {8, 1024}),
                    new TensorSpecInfo("dense/bias", new long[] {N - 8192}));
    private final float[] values = new float[N];

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
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir.resolve("keys"));
        keys = KeyBundle.load(dir.resolve("keys").resolve(KeyBundle.SECRET_FILE));
        for (int i = 0; i < N; i++) {
            values[i] = (float) Math.sin(i * 0.01) - 0.25f;
        }
        // An aggregate as the job serves it: Σw·x under the key, the weight sum Σw = 4 per shard.
        StoredEncryption e = new StoredEncryption();
        e.backendId = keys.backendId();
        e.parameterHash = keys.parameterHash();
        e.preset = keys.preset();
        e.shardSize = SHARD;
        e.keyId = keys.keyId();
        e.weightSum = 4;
        List<byte[]> shards = new ArrayList<>();
        for (int from = 0; from < N; from += SHARD) {
            float[] scaled = Arrays.copyOfRange(values, from, Math.min(N, from + SHARD));
            for (int i = 0; i < scaled.length; i++) {
                scaled[i] *= 4;
            }
            byte[] update = keys.encryptShard(scaled);
            byte[] shard =
                    new ShardCiphertexts(4, ShardCiphertexts.decode(update).ciphertexts()).encode();
            shards.add(shard);
            e.shardBytes.add((long) shard.length);
        }
        ByteBuffer all = ByteBuffer.allocate((int) e.totalBytes());
        shards.forEach(all::put);
        ciphertexts = all.array();
        StoredModel m = new StoredModel();
        m.federation = "sealed";
        m.version = 3;
        m.parentVersion = 2;
        m.values = N;
        m.tensors = tensors;
        m.encryption = e;
        storeUri = dir.resolve("store").toUri().toString();
        ModelStore store = ModelStore.open(storeUri, "sealed");
        store.commit(store.writePendingEncrypted(m, ciphertexts));
    }

    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--store", storeUri, "--federation", "sealed"));
        int code =
                MetisflCli.execute(
                        env,
                        new PrintWriter(out),
                        new PrintWriter(err),
                        all.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void listMarksTheVersionEncryptedWithItsPresetAndKeyId() {
        Run r = run("models", "list");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("ENCRYPTED");
        assertThat(r.out().lines().filter(l -> l.startsWith("3 ")).findFirst().orElseThrow())
                .endsWith("ckks n13-q120 key " + keys.keyId());
    }

    @Test
    void getWritesTheCiphertextsAsStoredAndPrintsTheirEncryption() throws Exception {
        Path out = dir.resolve("v3.ckks");
        Run r = run("models", "get", "3", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllBytes(out)).isEqualTo(ciphertexts);
        assertThat(r.out())
                .contains("\"keyId\": \"" + keys.keyId() + "\"")
                .contains("\"weightSum\": 4.0");
        assertThat(r.err()).contains("encrypted").contains("--key");
    }

    @Test
    void exportWithoutAKeyIsRefusedAndSaysWhichKeyItNeeds() {
        Run r = run("models", "export", "3", "--out", dir.resolve("v3.model").toString());
        assertThat(r.code()).isEqualTo(CliException.USAGE);
        assertThat(r.err())
                .contains("v3 is encrypted")
                .contains(keys.keyId())
                .contains("--key PATH");
        assertThat(dir.resolve("v3.model")).doesNotExist();
    }

    @Test
    void exportWithAnotherKeyIsRefusedNamingBothKeyIds() throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir.resolve("other"));
        KeyBundle other = KeyBundle.load(dir.resolve("other").resolve(KeyBundle.SECRET_FILE));
        Run r =
                run(
                        "models",
                        "export",
                        "3",
                        "--out",
                        dir.resolve("v3.model").toString(),
                        "--key",
                        dir.resolve("other").toString());
        assertThat(r.code()).isEqualTo(CliException.USAGE);
        assertThat(r.err()).contains("wrong key").contains(keys.keyId()).contains(other.keyId());
        assertThat(dir.resolve("v3.model")).doesNotExist();

        KeyBundle.generate("metisfl-ckks", "n13-q180").write(dir.resolve("preset"));
        Run p =
                run(
                        "models",
                        "export",
                        "3",
                        "--out",
                        dir.resolve("v3.model").toString(),
                        "--key",
                        dir.resolve("preset").resolve(KeyBundle.SECRET_FILE).toString());
        assertThat(p.code()).isEqualTo(CliException.USAGE);
        assertThat(p.err()).contains("wrong key").contains("n13-q120").contains("n13-q180");
    }

    @Test
    void exportWithTheKeyWritesTheDecryptedModelTheAdaptersLoad() throws Exception {
        Path model = dir.resolve("v3.model");
        Run r =
                run(
                        "models",
                        "export",
                        "3",
                        "--out",
                        model.toString(),
                        "--key",
                        dir.resolve("keys").toString());
        assertThat(r.code()).as(r.err()).isZero();
        ModelCodec.LoadedModel loaded = ModelCodec.readModelFile(model);
        assertThat(loaded.tensors()).isEqualTo(tensors);
        assertClose(loaded.values(), values);
        // What a Java learner loads into its DL4J adapter (ModelFiles, in learner-client).
        List<NamedTensor> named = ModelFiles.read(model);
        assertThat(named)
                .extracting(NamedTensor::name)
                .containsExactly("dense/kernel", "dense/bias");

        Path raw = dir.resolve("v3.raw");
        Run rr =
                run(
                        "models",
                        "export",
                        "3",
                        "--out",
                        raw.toString(),
                        "--format",
                        "raw",
                        "--key",
                        dir.resolve("keys").resolve(KeyBundle.SECRET_FILE).toString());
        assertThat(rr.code()).as(rr.err()).isZero();
        float[] rawValues = new float[N];
        ByteBuffer.wrap(Files.readAllBytes(raw))
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer()
                .get(rawValues);
        assertThat(rawValues).containsExactly(loaded.values());
        assertThat(Files.readString(dir.resolve("v3.raw.json"))).contains("\"offset\": 8192");
    }

    /** Within the documented CKKS tolerance, 1e-6 of the values' magnitude (here about 1). */
    private static void assertClose(float[] actual, float[] expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(actual[i] - expected[i])).as("value %d", i).isLessThan(1e-6f);
        }
    }
}
