package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.learner.LearnerSummary;

/**
 * The quickstart federation ({@code conf/federations/quickstart.yaml}, its defaults: five rounds of
 * synchronous FedAvg by examples, {@code round.participant-grace} 5 s, the model store) on the
 * session cluster, submitted with the CLI; one of its three learners runs in a process of its own
 * and is killed with SIGKILL while it trains round 2. Round 2 closes once the grace period has
 * passed (not at the 10 min deadline) with the model of a round that learner never joined, the
 * federation finishes, {@code metisfl models list} shows the initial model and the five versions,
 * and {@code models get} returns the bytes the learners received.
 */
@ExtendWith(LocalFlinkCluster.class)
class QuickstartLearnerKillE2ECase {
    static final int SIZE = 5_000;
    static final int ROUNDS = 5;
    static final long[] EXAMPLES = {100, 200, 300};
    static final int KILLED = 2;
    static final long GRACE_MS = 5_000; // the quickstart's round.participant-grace (the default)
    static final Duration WAIT = Duration.ofSeconds(90);

    @Test
    void aKilledLearnerDelaysItsRoundByAtMostTheGraceAndTheStoreHoldsEveryVersion(
            LocalFlinkCluster.Cluster cluster) throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("quickstart-kill"));
        Path results = work.resolve("results.jsonl");
        Files.deleteIfExists(results);
        Path store = work.resolve("models").toAbsolutePath();
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        String name = "quickstart-kill";
        String jobId =
                E2E.cli(
                                cluster,
                                work,
                                "submit",
                                E2E.home().resolve("conf/federations/quickstart.yaml").toString(),
                                "--set",
                                "federation.name=" + name,
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
                                "aggregation.shard-size=1024",
                                "--jar",
                                E2E.jobJar().toString())
                        .ok()
                        .jobId();

        Process killable = startKillable(gateway);
        CompletableFuture<String> held = new CompletableFuture<>();
        Thread reader =
                new Thread(
                        () -> {
                            try (BufferedReader r =
                                    new BufferedReader(
                                            new InputStreamReader(
                                                    killable.getInputStream(),
                                                    StandardCharsets.UTF_8))) {
                                String line;
                                while ((line = r.readLine()) != null) {
                                    System.out.println("[killable] " + line);
                                    if (line.startsWith("HELD ")) {
                                        held.complete(line);
                                    }
                                }
                            } catch (Exception e) {
                                held.completeExceptionally(e);
                            }
                        },
                        "killable-output");
        reader.setDaemon(true);
        reader.start();
        long[] fleetExamples = {EXAMPLES[0], EXAMPLES[1]};
        try (LearnerFleet fleet = new LearnerFleet(List.of(gateway), SIZE, fleetExamples, 50)) {
            fleet.start();
            assertThat(held.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("HELD 2");
            killable.destroyForcibly(); // SIGKILL: the process gets no chance to say goodbye
            long killedAt = System.currentTimeMillis();
            assertThat(killable.waitFor(30, TimeUnit.SECONDS)).isTrue();

            E2E.await(WAIT, "round 2's result", () -> E2E.results(results).size() >= 2);
            RoundResult r1 = E2E.results(results).get(0);
            RoundResult r2 = E2E.results(results).get(1);
            assertThat(r1.contributors).hasSize(3);
            assertThat(r2.participants).isEqualTo(3);
            assertThat(r2.dropped).hasSize(1);
            String killedId = r2.dropped.get(0);
            assertThat(r2.contributors).hasSize(2).doesNotContain(killedId);
            assertThat(r1.contributors).contains(killedId);
            long delay = r2.closedAtMs - killedAt;
            System.out.printf(
                    "E2E: round 2 closed %d ms after the kill (grace %d ms)%n", delay, GRACE_MS);
            assertThat(delay)
                    .as("closed once the grace period passed, not at the 10 min deadline")
                    .isBetween(GRACE_MS - 500, GRACE_MS + 3_000);

            List<LearnerSummary> summaries = fleet.awaitEnd(WAIT);
            assertThat(summaries).allSatisfy(l -> assertThat(l.federationFinished()).isTrue());
            E2E.await(
                    Duration.ofSeconds(30),
                    "job FINISHED",
                    () -> cluster.jobState(jobId).equals("FINISHED"));
            List<RoundResult> rounds = E2E.results(results);
            assertThat(E2E.rounds(rounds)).containsExactly(1L, 2L, 3L, 4L, 5L);
            for (RoundResult r : rounds.subList(2, ROUNDS)) {
                assertThat(r.contributors).hasSize(2).doesNotContain(killedId);
            }

            // The store holds the initial model and one version per round, each once.
            String list =
                    E2E.cli(
                                    cluster,
                                    work,
                                    "models",
                                    "list",
                                    "--store",
                                    store.toUri().toString(),
                                    "--federation",
                                    name)
                            .ok()
                            .out();
            assertThat(list).contains((ROUNDS + 1) + " versions in");
            for (int v = 0; v <= ROUNDS; v++) {
                assertThat(list).containsPattern("(?m)^" + v + "\\s");
            }

            // Versions as 'models get' writes them: v4 is the model learner 0 received last (for
            // round 5), bit for bit; every version is FedAvg by examples where the killed learner
            // contributed to round 1 only, computed here independently.
            assertThat(modelsGet(cluster, work, store, name, ROUNDS - 1))
                    .containsExactly(fleet.models.get(0).lastReceived());
            for (int v = 1; v <= ROUNDS; v++) {
                float[] stored = modelsGet(cluster, work, store, name, v);
                float[] expected = expectedWithoutKilledAfterRound1(v);
                assertThat(stored).hasSize(SIZE);
                for (int k = 0; k < SIZE; k++) {
                    assertThat((double) stored[k])
                            .as("v%d[%d]", v, k)
                            .isCloseTo(expected[k], within(1e-6));
                }
            }
        } catch (Throwable e) {
            System.err.println(cluster.logTail(40));
            throw e;
        } finally {
            killable.destroyForcibly();
        }
    }

    /** {@code metisfl models get VERSION --out FILE}: the values it wrote. */
    private static float[] modelsGet(
            LocalFlinkCluster.Cluster cluster, Path work, Path store, String name, int version)
            throws Exception {
        Path out = work.resolve("v" + version + ".f32");
        E2E.cli(
                        cluster,
                        work,
                        "models",
                        "get",
                        Integer.toString(version),
                        "--store",
                        store.toUri().toString(),
                        "--federation",
                        name,
                        "--out",
                        out.toString())
                .ok();
        return littleEndianFloats(Files.readAllBytes(out));
    }

    /**
     * FedAvg by examples after {@code rounds} rounds: all three learners in round 1, learners 0 and
     * 1 after that.
     */
    private static float[] expectedWithoutKilledAfterRound1(int rounds) {
        float[] g = DeterministicModel.initial(SIZE);
        for (int round = 1; round <= rounds; round++) {
            List<Integer> contributors = new ArrayList<>(List.of(0, 1));
            if (round == 1) {
                contributors.add(KILLED);
            }
            double total = 0;
            for (int i : contributors) {
                total += EXAMPLES[i];
            }
            float[] next = new float[SIZE];
            for (int k = 0; k < SIZE; k++) {
                double sum = 0;
                for (int i : contributors) {
                    sum += EXAMPLES[i] * (double) (g[k] + DeterministicModel.delta(i, round, k));
                }
                next[k] = (float) (sum / total);
            }
            g = next;
        }
        return g;
    }

    private static float[] littleEndianFloats(byte[] bytes) {
        float[] v = new float[bytes.length / Float.BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    private static Process startKillable(String gateway) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath =
                System.getProperty(
                        "surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd =
                List.of(
                        java,
                        "-Xmx256m",
                        "-cp",
                        classpath,
                        KillableLearner.class.getName(),
                        gateway,
                        Integer.toString(KILLED),
                        Integer.toString(SIZE),
                        Long.toString(EXAMPLES[KILLED]),
                        "2");
        return new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
    }
}
