package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.learner.LearnerSummary;

/**
 * The CKKS federation ({@code conf/federations/ckks.yaml}: synchronous FedAvg by examples, the
 * first learner's encrypted weights as the initial model) on the multi-process session cluster,
 * submitted with the CLI, which makes the development key bundle and gives the job its public
 * parameters only. Three learners of the learner library hold the bundle's secret key. The model
 * store then holds every version as ciphertexts: {@code models list} marks them encrypted with the
 * bundle's key id, {@code models get} writes ciphertext shards, {@code models export --key} gives
 * the model the learners decrypted (bit for bit for the last one they received) and FedAvg computed
 * in the test for every version, and {@code models export} without the key is refused.
 */
@ExtendWith(LocalFlinkCluster.class)
class CkksSessionClusterE2ECase {
    static final int SIZE = 10_000; // two shards of 8192 values (one ciphertext each)
    static final int ROUNDS = 3;
    static final long[] EXAMPLES = {100, 200, 300};
    static final Duration WAIT = Duration.ofSeconds(180);

    @Test
    void aCkksFederationStoresCiphertextsThatDecryptToTheLearnersModels(
            LocalFlinkCluster.Cluster cluster) throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("ckks-session"));
        Path results = work.resolve("results.jsonl");
        Files.deleteIfExists(results);
        Path store = work.resolve("models").toAbsolutePath();
        int port = E2E.freePort();
        String name = "ckks-e2e";
        String jobId =
                E2E.cli(
                                cluster,
                                work,
                                "submit",
                                E2E.home().resolve("conf/federations/ckks.yaml").toString(),
                                "--set",
                                "federation.name=" + name,
                                "--set",
                                "federation.rounds=" + ROUNDS,
                                "--set",
                                "federation.results-file=" + results,
                                "--set",
                                "model-store.path=" + store,
                                "--set",
                                "gateway.port=" + port,
                                "--set",
                                "security.insecure=true",
                                "--set",
                                "security.admission=open",
                                "--set",
                                "evaluation.enabled=false",
                                "--set",
                                "aggregation.shard-size=8192",
                                "--jar",
                                E2E.jobJar().toString())
                        .ok()
                        .jobId();
        // The submit made the development bundle beside the work folder: the job got
        // ckks-public.properties, the learners take the secret key.
        Path keyDir = work.resolve("work/keys/metisfl-ckks-n13-q120");
        assertThat(keyDir.resolve(KeyBundle.PUBLIC_FILE)).exists();
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        try (LearnerFleet fleet =
                new LearnerFleet(
                        List.of("127.0.0.1:" + port),
                        SIZE,
                        EXAMPLES,
                        50,
                        LearnerFleet.OPTIONS.toBuilder().keyBundle(keys).build())) {
            fleet.start();
            List<LearnerSummary> summaries = fleet.awaitEnd(WAIT);
            assertThat(summaries).allSatisfy(l -> assertThat(l.federationFinished()).isTrue());
            E2E.await(
                    Duration.ofSeconds(60),
                    "job FINISHED",
                    () -> cluster.jobState(jobId).equals("FINISHED"));
            List<RoundResult> rounds = E2E.results(results);
            assertThat(E2E.rounds(rounds)).containsExactly(1L, 2L, 3L);
            assertThat(rounds).allSatisfy(r -> assertThat(r.contributors).hasSize(3));

            String list =
                    E2E.cli(
                                    cluster,
                                    work,
                                    "models",
                                    "list",
                                    "--store",
                                    uri(store),
                                    "--federation",
                                    name)
                            .ok()
                            .out();
            assertThat(list).contains((ROUNDS + 1) + " versions in");
            for (int v = 0; v <= ROUNDS; v++) {
                assertThat(list)
                        .containsPattern(
                                "(?m)^" + v + "\\s.*ckks n13-q120 key " + keys.keyId() + "$");
            }

            // 'models get' writes the ciphertexts: ShardCiphertexts under the bundle's key whose
            // weight sum is the round's total examples.
            Path v1 = work.resolve("v1.ckks");
            E2E.cli(
                            cluster,
                            work,
                            "models",
                            "get",
                            "1",
                            "--store",
                            uri(store),
                            "--federation",
                            name,
                            "--out",
                            v1.toString())
                    .ok();
            byte[] first = firstShard(Files.readAllBytes(v1));
            assertThat(ShardCiphertexts.decode(first).weightSum()).isEqualTo(600.0);

            // Without the key the export is refused; with it, the learners' models.
            E2E.Run refused =
                    E2E.cli(
                            cluster,
                            work,
                            "models",
                            "export",
                            "1",
                            "--store",
                            uri(store),
                            "--federation",
                            name,
                            "--out",
                            work.resolve("no.model").toString());
            assertThat(refused.code()).isEqualTo(2);
            assertThat(refused.err()).contains("is encrypted").contains(keys.keyId());
            float[] last = export(cluster, work, store, name, ROUNDS - 1, keyDir);
            assertThat(last)
                    .as("the last model learner 0 received and decrypted")
                    .containsExactly(fleet.models.get(0).lastReceived());
            for (int v = 1; v <= ROUNDS; v++) {
                float[] expected = DeterministicModel.expectedGlobal(SIZE, EXAMPLES, v);
                float[] stored = export(cluster, work, store, name, v, keyDir);
                double worst = 0;
                for (int k = 0; k < SIZE; k++) {
                    worst = Math.max(worst, Math.abs(stored[k] - expected[k]));
                }
                System.out.printf(
                        "E2E: v%d decrypted, largest error against FedAvg %.2e%n", v, worst);
                assertThat(worst).as("v%d against FedAvg computed here", v).isLessThan(1e-6);
            }
        } catch (Throwable e) {
            System.err.println(cluster.logTail(60));
            throw e;
        }
    }

    private static String uri(Path store) {
        return store.toUri().toString();
    }

    /** The first shard of a stored version's ciphertexts (its length is in the shard header). */
    private static byte[] firstShard(byte[] all) {
        ByteBuffer b = ByteBuffer.wrap(all); // big-endian: magic, version, weight sum, count
        b.position(4 + 1 + 8);
        int count = b.getInt();
        for (int i = 0; i < count; i++) {
            int length = b.getInt();
            b.position(b.position() + length);
        }
        return java.util.Arrays.copyOf(all, b.position());
    }

    /** {@code metisfl models export VERSION --key KEYS --out FILE}: the decrypted values. */
    private static float[] export(
            LocalFlinkCluster.Cluster cluster, Path work, Path store, String name, int v, Path keys)
            throws Exception {
        Path out = work.resolve("v" + v + ".model");
        E2E.cli(
                        cluster,
                        work,
                        "models",
                        "export",
                        Integer.toString(v),
                        "--store",
                        uri(store),
                        "--federation",
                        name,
                        "--out",
                        out.toString(),
                        "--key",
                        keys.toString())
                .ok();
        ModelCodec.LoadedModel m = ModelCodec.readModelFile(out);
        assertThat(m.tensors()).extracting(t -> t.name).containsExactly(DeterministicModel.TENSOR);
        return m.values();
    }
}
