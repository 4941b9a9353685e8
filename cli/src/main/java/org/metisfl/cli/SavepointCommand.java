package org.metisfl.cli;

import java.time.Duration;
import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code metisfl savepoint [JOB]}: a savepoint of a running federation. */
@Command(
        name = "savepoint",
        mixinStandardHelpOptions = true,
        description = {
            "Takes a savepoint of a running federation job (which keeps running) and prints its"
                    + " path. JOB defaults to the one running MetisFL job."
        })
final class SavepointCommand extends ClusterCommand implements Callable<Integer> {

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

    @Override
    public Integer call() {
        JobInfo job = resolveJob(jobId);
        if (!job.isActive()) {
            throw new CliException(
                    "job "
                            + job.id()
                            + " is "
                            + job.state()
                            + ": only a running job has a savepoint");
        }
        String request = flink().triggerSavepoint(job.id(), target);
        String location =
                awaitSavepoint(
                        job.id(), request, Duration.ofSeconds(timeoutSeconds), "the savepoint");
        out().println("Savepoint of job " + job.id() + ": " + location);
        return 0;
    }
}
