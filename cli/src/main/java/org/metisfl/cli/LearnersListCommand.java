package org.metisfl.cli;

import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import org.metisfl.flink.model.LogSafe;
import org.metisfl.proto.v1.AdmittedLearner;
import org.metisfl.proto.v1.ListLearnersRequest;
import org.metisfl.proto.v1.ListLearnersResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code metisfl learners list}: the learners the running job's gateways admitted. */
@Command(
        name = "list",
        mixinStandardHelpOptions = true,
        description = {
            "Lists the learners each gateway of the running job admitted since it started: id,"
                    + " name, gateway, joined at, token expiry and state (connected, joined,"
                    + " expired, left, revoked).",
            "Talks to the gateways' control endpoints (found through the Flink REST API) with an"
                    + " operator token made from the operator key."
        })
final class LearnersListCommand extends ClusterCommand implements Callable<Integer> {
    @Mixin OperatorOptions operator;

    @Option(
            names = "--limit",
            paramLabel = "N",
            defaultValue = "1000",
            description = "At most N learners per gateway (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    public Integer call() {
        if (limit < 1) {
            throw new CliException("--limit must be 1 or more", CliException.USAGE);
        }
        try (LearnersOperator op = operator.open(this)) {
            out().printf(
                            "%-24s %-20s %7s %-20s %-20s %s%n",
                            "LEARNER", "NAME", "GATEWAY", "JOINED", "TOKEN EXPIRES", "STATE");
            int shown = 0;
            int total = 0;
            for (LearnersOperator.Gateway g : op.gateways) {
                ListLearnersResponse r;
                try {
                    r =
                            LearnersOperator.call(g, Duration.ofSeconds(30))
                                    .listLearners(
                                            ListLearnersRequest.newBuilder()
                                                    .setLimit(limit)
                                                    .build());
                } catch (StatusRuntimeException e) {
                    throw LearnersOperator.refused(g, e);
                }
                total += r.getTotal();
                for (AdmittedLearner a : r.getLearnersList()) {
                    shown++;
                    out().printf(
                                    "%-24s %-20s %7d %-20s %-20s %s%n",
                                    a.getLearnerId(),
                                    a.getName().isEmpty() ? "-" : LogSafe.of(a.getName()),
                                    a.getGateway(),
                                    time(a.getJoinedAtMs()),
                                    time(a.getTokenExpiresAtMs()),
                                    a.getState());
                }
            }
            out().printf(
                            "%d learner%s shown of %d known to %d gateway%s of job %s%n",
                            shown,
                            shown == 1 ? "" : "s",
                            total,
                            op.gateways.size(),
                            op.gateways.size() == 1 ? "" : "s",
                            op.job.id());
            out().flush();
        }
        return 0;
    }

    private static String time(long ms) {
        return ms <= 0 ? "-" : Instant.ofEpochSecond(ms / 1000).toString();
    }
}
