package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.RoundResult;

/**
 * Two federations run at once on one session cluster, submitted with the CLI as a user would (the
 * second with its own name and gateway port): each finishes with its own results file, and {@code
 * status} of each, by job id or by federation name, reports its own rounds. A third submission
 * under a name already running is refused with a message that says what to do.
 */
@ExtendWith(LocalFlinkCluster.class)
class TwoFederationsE2ECase {
    static final int SIZE = 3_000;
    static final Duration WAIT = Duration.ofSeconds(120);

    @Test
    void twoFederationsRunAtOnceEachWithItsOwnResultsAndStatus(LocalFlinkCluster.Cluster cluster)
            throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("two-federations"));
        Files.deleteIfExists(work.resolve("results").resolve("twin-a.jsonl"));
        Files.deleteIfExists(work.resolve("results").resolve("twin-b.jsonl"));
        int portA = E2E.freePort();
        int portB = E2E.freePort();
        Path fedA = E2E.federationFile(work, "twin-a", settings("twin-a", 3, portA));
        Path fedB = E2E.federationFile(work, "twin-b", settings("twin-b", 2, portB));
        String jobA = E2E.submit(cluster, work, fedA);
        String jobB = E2E.submit(cluster, work, fedB);
        assertThat(jobA).isNotEqualTo(jobB);

        E2E.Run again =
                E2E.cli(
                        cluster,
                        work,
                        "submit",
                        fedA.toString(),
                        "--set",
                        "gateway.port=" + E2E.freePort(),
                        "--jar",
                        E2E.jobJar().toString());
        assertThat(again.code()).isNotZero();
        assertThat(again.err())
                .contains("'twin-a' is already running", jobA, "--set federation.name=twin-a-2");

        try (LearnerFleet a =
                        new LearnerFleet(
                                List.of("127.0.0.1:" + portA), SIZE, new long[] {1, 3}, 20);
                LearnerFleet b =
                        new LearnerFleet(
                                List.of("127.0.0.1:" + portB), SIZE, new long[] {2, 5}, 20)) {
            a.start();
            b.start();
            a.awaitEnd(WAIT);
            b.awaitEnd(WAIT);
        }
        E2E.await(
                Duration.ofSeconds(60),
                "both jobs FINISHED",
                () ->
                        cluster.jobState(jobA).equals("FINISHED")
                                && cluster.jobState(jobB).equals("FINISHED"));

        List<RoundResult> ra = E2E.results(work.resolve("results").resolve("twin-a.jsonl"));
        List<RoundResult> rb = E2E.results(work.resolve("results").resolve("twin-b.jsonl"));
        assertThat(E2E.rounds(ra)).containsExactly(1L, 2L, 3L);
        assertThat(E2E.rounds(rb)).containsExactly(1L, 2L);
        assertThat(ra).allSatisfy(r -> assertThat(r.federation).isEqualTo("twin-a"));
        assertThat(rb).allSatisfy(r -> assertThat(r.federation).isEqualTo("twin-b"));

        String statusA = E2E.cli(cluster, work, "status", jobA).ok().out();
        assertThat(statusA).contains("'twin-a'", "round 3 of 3 done", "twin-a.jsonl");
        assertThat(statusA).doesNotContain("twin-b");
        String statusB = E2E.cli(cluster, work, "status", "twin-b").ok().out();
        assertThat(statusB).contains(jobB, "'twin-b'", "round 2 of 2 done", "twin-b.jsonl");
        assertThat(statusB).doesNotContain("twin-a");
    }

    private static Map<String, String> settings(String name, int rounds, int port) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", name);
        s.put("federation.rounds", Integer.toString(rounds));
        s.put("federation.min-learners", "2");
        s.put("round.timeout", "60 s");
        s.put("aggregation.shard-size", "1024");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.parallelism", "1");
        s.put("job.checkpoint-interval", "300 ms");
        return s;
    }
}
