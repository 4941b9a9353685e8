package org.metisfl.cli;

import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.metisfl.proto.v1.RevokeLearnerRequest;
import org.metisfl.proto.v1.RevokeLearnerResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code metisfl learners revoke ID}: shuts a learner out of the running job, at every gateway. */
@Command(
        name = "revoke",
        mixinStandardHelpOptions = true,
        description = {
            "Revokes a learner: every gateway refuses its token on every call from now on, also"
                    + " its upload in flight (at its last byte), after a failover and after a"
                    + " savepoint and resume. It would need a new enrollment credential to join"
                    + " again.",
            "Returns once the revocation is in a completed checkpoint of the job."
        })
final class LearnersRevokeCommand extends ClusterCommand implements Callable<Integer> {
    @Parameters(paramLabel = "LEARNER_ID", description = "As 'learners list' shows it.")
    String learnerId;

    @Mixin OperatorOptions operator;

    @Override
    public Integer call() {
        if (!learnerId.matches("learner-[0-9a-f]{16}")) {
            throw new CliException(
                    "'"
                            + learnerId
                            + "' is not a learner id (learner- and 16 hex digits, as 'learners"
                            + " list' shows)",
                    CliException.USAGE);
        }
        try (LearnersOperator op = operator.open(this)) {
            // One gateway suffices: it tells the job, which tells every gateway; the others are
            // tried if it cannot be reached.
            CliException last = null;
            for (LearnersOperator.Gateway g : op.gateways) {
                try {
                    RevokeLearnerResponse r =
                            LearnersOperator.call(g, Duration.ofMinutes(2))
                                    .revokeLearner(
                                            RevokeLearnerRequest.newBuilder()
                                                    .setLearnerId(learnerId)
                                                    .build());
                    out().printf(
                                    "Learner %s %s at every gateway of job %s%s%n",
                                    learnerId,
                                    r.getAlreadyRevoked() ? "was already revoked" : "revoked",
                                    op.job.id(),
                                    r.getDurable()
                                            ? " (in a completed checkpoint)"
                                            : " (the job has no checkpoints: a restart forgets it)");
                    out().flush();
                    return 0;
                } catch (StatusRuntimeException e) {
                    last = LearnersOperator.refused(g, e);
                    if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE
                            && e.getStatus().getCode() != io.grpc.Status.Code.DEADLINE_EXCEEDED) {
                        throw last;
                    }
                }
            }
            throw last;
        }
    }
}
