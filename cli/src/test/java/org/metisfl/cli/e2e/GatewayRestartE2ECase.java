package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.simulator.RawLearner;

/**
 * What a learner sees when it resends an unacknowledged update to a gateway that has just come back
 * (here after a resume from a savepoint, the same happens after a failover): the gateway must not
 * refuse it for good before it knows the round again.
 */
@ExtendWith(LocalFlinkCluster.class)
class GatewayRestartE2ECase {
    static final int SIZE = 2_000;

    @Test
    void updateResentToAGatewayThatJustCameBackIsNeverRefusedAsNotOpen(
            LocalFlinkCluster.Cluster cluster) throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("gateway-restart"));
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", "gateway-restart");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", "1");
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("round.timeout", "100 s");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.checkpoint-interval", "300 ms");
        Path fed = E2E.federationFile(work, "gateway-restart", s);
        String jobId = E2E.submit(cluster, work, fed);

        try (RawLearner l = E2E.rawLearner(gateway)) {
            E2E.await(
                    Duration.ofSeconds(60),
                    "the gateway accepts a join",
                    () -> {
                        l.join("learner", 10);
                        return true;
                    });
            l.openTaskStream();
            float[] initial = DeterministicModel.initial(SIZE);
            assertThat(E2E.submit(l, 0, initial, 10))
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(60)).getRound())
                    .isEqualTo(1);

            String savepoint = E2E.cli(cluster, work, "stop", jobId).ok().savepoint();
            E2E.cli(
                            cluster,
                            work,
                            "resume",
                            "--from",
                            savepoint,
                            fed.toString(),
                            "--jar",
                            E2E.jobJar().toString())
                    .ok();

            // The learner resends its round-1 update as soon as the gateway listens again (a new
            // connection per attempt: no gRPC reconnect backoff hides the first moments).
            List<String> answers = new ArrayList<>();
            long first = -1;
            long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (System.nanoTime() < end) {
                try (RawLearner again = E2E.rawLearner(gateway).useCredentials(l.credentials())) {
                    String a = E2E.submit(again, 1, initial, 10).name();
                    answers.add(a + stamp(first));
                    break;
                } catch (StatusRuntimeException e) {
                    Status st = e.getStatus();
                    if (st.getCode() == Status.Code.UNAVAILABLE) {
                        Thread.sleep(5);
                        continue;
                    }
                    if (first < 0) {
                        first = System.nanoTime();
                    }
                    answers.add(st.getCode() + ": " + st.getDescription() + stamp(first));
                    if (answers.size() > 50) {
                        break;
                    }
                    Thread.sleep(5);
                }
            }
            System.out.println("E2E: answers to the resent update: " + answers);
            assertThat(answers).as("answers to the resent update").isNotEmpty();
            assertThat(answers.get(0))
                    .as(
                            "first answer of the gateway that just came back (FAILED_PRECONDITION"
                                    + " makes the learner drop the update for good)")
                    .startsWith("ACCEPTED");
        }
    }

    private static String stamp(long first) {
        return first < 0 ? "" : " (+" + (System.nanoTime() - first) / 1_000_000 + " ms)";
    }
}
