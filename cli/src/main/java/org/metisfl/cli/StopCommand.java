package org.metisfl.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
            "Stops a federation job with a savepoint and prints its path, and the 'resume' command"
                    + " that continues the federation at the same round.",
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
        Optional<JobRecord> record = records().find(job.id());
        if (record.isEmpty()) {
            out().println(
                            "Resume it with the federation file it ran: "
                                    + suggest("resume", "--from", location)
                                    + " FED.yaml (the job was not submitted with this CLI)");
            return 0;
        }
        List<String> words = new ArrayList<>(List.of("resume", "--from", location));
        words.add(env().path(Path.of(record.get().federationFile)));
        record.get().overrides.forEach(o -> words.addAll(List.of("--set", o)));
        out().println("Resume it with: " + suggest(words.toArray(String[]::new)));
        return 0;
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
