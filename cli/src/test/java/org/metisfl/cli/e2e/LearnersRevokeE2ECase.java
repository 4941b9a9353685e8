package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.proto.v1.Task;
import org.metisfl.simulator.RawLearner;
import org.metisfl.transport.EnrollmentTokens;

/**
 * {@code metisfl learners list} and {@code learners revoke} against a job on the session cluster:
 * the listing shows the learners, a revoked learner's upload in flight is refused at its last byte
 * and its token on every later call, also after the job is stopped with a savepoint and resumed;
 * the other learner's token stays valid; a wrong operator key is refused.
 */
@ExtendWith(LocalFlinkCluster.class)
class LearnersRevokeE2ECase {
    static final int SIZE = 1_000;

    @Test
    void revokedLearnerIsShutOutAlsoAfterSavepointAndResume(LocalFlinkCluster.Cluster cluster)
            throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("learners-revoke"));
        Path model = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                model,
                List.of(new TensorSpecInfo(DeterministicModel.TENSOR, new long[] {SIZE})),
                DeterministicModel.initial(SIZE));
        Path operatorKey = work.resolve("operator.key");
        Files.deleteIfExists(operatorKey);
        EnrollmentTokens.createKeyFile(operatorKey);
        int port = E2E.freePort();
        String gateway = "127.0.0.1:" + port;
        Map<String, String> s = new LinkedHashMap<>();
        s.put("federation.name", "revocable");
        s.put("federation.rounds", "5");
        s.put("federation.min-learners", "2");
        s.put("federation.initial-model", model.toString());
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("round.timeout", "300 s");
        s.put("evaluation.enabled", "false");
        s.put("gateway.port", Integer.toString(port));
        s.put("job.checkpoint-interval", "1 s");
        s.put("security.operator-key", operatorKey.toString());
        Path fed = E2E.federationFile(work, "revocable", s);
        String jobId = E2E.submit(cluster, work, fed);
        String resumed = null;
        try (RawLearner alice = E2E.rawLearner(gateway);
                RawLearner mallory = E2E.rawLearner(gateway)) {
            E2E.await(
                    Duration.ofSeconds(60),
                    "the gateway admits alice",
                    () -> alice.join("alice", 10) != null);
            mallory.join("mallory", 10);
            alice.openTaskStream();
            mallory.openTaskStream();
            Task task = mallory.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(60));

            E2E.Run list = E2E.cli(cluster, work, "learners", "list", "--job", jobId).ok();
            assertThat(list.out())
                    .containsPattern(alice.id() + "\\s+alice\\s+0\\s+\\S+\\s+\\S+\\s+connected")
                    .containsPattern(mallory.id() + "\\s+mallory\\s+0\\s+")
                    .contains("2 learners shown of 2 known to 1 gateway of job " + jobId);

            // A key that is not the job's is refused.
            Path wrong = work.resolve("wrong.key");
            Files.deleteIfExists(wrong);
            EnrollmentTokens.createKeyFile(wrong);
            E2E.Run refused =
                    E2E.cli(
                            cluster,
                            work,
                            "learners",
                            "revoke",
                            mallory.id(),
                            "--job",
                            jobId,
                            "--operator-key",
                            wrong.toString());
            assertThat(refused.code()).isNotZero();
            assertThat(refused.err()).contains("UNAUTHENTICATED").contains("operator token");

            // mallory's upload is in flight (header sent) when the operator revokes her.
            RawLearner.PartialUpload inFlight =
                    mallory.beginSubmit(
                            task.getRound(),
                            E2E.tensors(SIZE),
                            10,
                            DeterministicModel.initial(SIZE));
            E2E.Run revoke =
                    E2E.cli(cluster, work, "learners", "revoke", mallory.id(), "--job", jobId).ok();
            assertThat(revoke.out())
                    .contains("Learner " + mallory.id() + " revoked at every gateway")
                    .contains("in a completed checkpoint");
            assertThatThrownBy(inFlight::finish)
                    .as("the upload in flight is refused at its last byte")
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e ->
                                    assertThat(e.getStatus().getCode())
                                            .isEqualTo(Status.Code.UNAUTHENTICATED));
            assertRefused(mallory);
            assertThat(E2E.cli(cluster, work, "learners", "list", "--job", jobId).ok().out())
                    .containsPattern(mallory.id() + "\\s+mallory\\s+0\\s+\\S+\\s+\\S+\\s+revoked");

            // Stop with a savepoint and resume: mallory stays out, alice stays in.
            String savepoint = E2E.cli(cluster, work, "stop", jobId).ok().savepoint();
            resumed =
                    E2E.cli(
                                    cluster,
                                    work,
                                    "resume",
                                    "--from",
                                    savepoint,
                                    fed.toString(),
                                    "--jar",
                                    E2E.jobJar().toString())
                            .ok()
                            .jobId();
            E2E.await(
                    Duration.ofSeconds(90),
                    "the resumed gateway serves alice",
                    () -> {
                        alice.getModel();
                        return true;
                    });
            assertRefused(mallory);
            E2E.Run after =
                    E2E.cli(cluster, work, "learners", "revoke", mallory.id(), "--job", resumed)
                            .ok();
            assertThat(after.out()).contains("was already revoked");
        } finally {
            if (resumed != null) {
                E2E.cli(cluster, work, "stop", resumed);
            } else if (cluster.jobState(jobId).equals("RUNNING")) {
                E2E.cli(cluster, work, "stop", jobId);
            }
        }
    }

    /** Every call of the learner is refused as revoked. */
    private static void assertRefused(RawLearner learner) {
        assertThatThrownBy(learner::getModel)
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode())
                                    .isEqualTo(Status.Code.UNAUTHENTICATED);
                            assertThat(e.getStatus().getDescription()).contains("revoked");
                        });
    }
}
