package org.metisfl.cli;

import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code metisfl savepoint [JOB]}: a savepoint of a running federation. */
@Command(
        name = "savepoint",
        mixinStandardHelpOptions = true,
        description = {
            "Takes a savepoint of a running federation job (which keeps running) and prints its"
                    + " path. JOB defaults to the one running MetisFL job."
        })
final class SavepointCommand extends ClusterCommand implements Callable<Integer> {

    @Mixin SavepointOptions savepoint;

    @Override
    public Integer call() {
        JobInfo job = resolveJob(savepoint.jobId);
        if (!job.isActive()) {
            throw new CliException(
                    "job "
                            + job.id()
                            + " is "
                            + job.state()
                            + ": only a running job has a savepoint");
        }
        String request = flink().triggerSavepoint(job.id(), savepoint.target);
        String location = awaitSavepoint(job.id(), request, savepoint.timeout(), "the savepoint");
        out().println("Savepoint of job " + job.id() + ": " + location);
        return 0;
    }
}
