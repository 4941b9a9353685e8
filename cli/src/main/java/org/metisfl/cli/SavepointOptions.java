package org.metisfl.cli;

import java.time.Duration;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The job, directory and time limit shared by the commands that take a savepoint. */
final class SavepointOptions {

    @Parameters(index = "0", arity = "0..1", paramLabel = "JOB", description = "Flink job id.")
    String jobId;

    @Option(
            names = "--target",
            paramLabel = "DIR",
            description = "Savepoint directory (default: the cluster's savepoint directory).")
    String target;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            defaultValue = "600",
            description = "How long to wait for the savepoint (default: ${DEFAULT-VALUE} s).")
    long timeoutSeconds;

    Duration timeout() {
        return Duration.ofSeconds(timeoutSeconds);
    }
}
