package org.metisfl.cli;

import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The options of the operator commands on the gateways' control endpoints ({@code metisfl learners
 * list|revoke}): which job, with which operator key, and how long to wait for its endpoints.
 */
final class OperatorOptions {
    @Option(names = "--job", paramLabel = "JOB", description = "Job id or federation name.")
    String jobId;

    @Option(
            names = "--operator-key",
            paramLabel = "FILE",
            description =
                    "The job's operator key (default: its security.operator-key, else its"
                            + " security.enrollment-key, as submitted with this CLI).")
    String operatorKey;

    @Option(
            names = "--wait",
            paramLabel = "SECONDS",
            defaultValue = "30",
            description =
                    "How long to wait for the gateways' control endpoints to be published"
                            + " (default: ${DEFAULT-VALUE}).")
    int waitSeconds;

    /** The job's gateways with an operator token, for {@code command}'s cluster. */
    LearnersOperator open(ClusterCommand command) {
        return LearnersOperator.open(command, jobId, operatorKey, Duration.ofSeconds(waitSeconds));
    }
}
