package org.metisfl.cli;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import org.metisfl.cli.JobRecords.JobRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code metisfl stop [JOB]}: stop-with-savepoint, to resume the federation later. */
@Command(
        name = "stop",
        mixinStandardHelpOptions = true,
        description = {
            "Stops a federation job with a savepoint and prints its path; 'metisfl resume --from"
                    + " PATH FED.yaml' continues the federation at the same round.",
            "Learners keep running and reconnect when the federation resumes.",
            "JOB defaults to the one running MetisFL job."
        })
final class StopCommand extends ClusterCommand implements Callable<Integer> {

    @Mixin SavepointOptions savepoint;

    @Override
    public Integer call() {
        JobInfo job = resolveJob(savepoint.jobId);
        if (!job.isActive()) {
            throw new CliException(
                    "job " + job.id() + " is already " + job.state() + "; nothing to stop");
        }
        String request = flink().stopWithSavepoint(job.id(), savepoint.target, false);
        String location =
                awaitSavepoint(job.id(), request, savepoint.timeout(), "stop-with-savepoint");
        String state = awaitEnd(job.id(), Duration.ofSeconds(60));
        out().println("Stopped job " + job.id() + " (" + state + ") with savepoint " + location);
        StringBuilder hint = new StringBuilder("metisfl resume --from ").append(location);
        Optional<JobRecord> record = records().find(job.id());
        hint.append(' ').append(record.map(r -> shellWord(r.federationFile)).orElse("FED.yaml"));
        record.ifPresent(
                r -> r.overrides.forEach(o -> hint.append(" --set ").append(shellWord(o))));
        out().println("Resume it with: " + hint);
        return 0;
    }

    /** A word as a shell reads it back. */
    static String shellWord(String s) {
        return s.matches("[A-Za-z0-9._/:=@%+,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    private String awaitEnd(String id, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            JobInfo j = flink().job(id);
            if (!j.isActive() || System.nanoTime() > end) {
                return j.state();
            }
            sleep(env().pollInterval());
        }
    }
}
