package org.metisfl.cli;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import picocli.CommandLine.Command;

/** {@code metisfl jobs}: the cluster's MetisFL jobs, newest first. */
@Command(
        name = "jobs",
        mixinStandardHelpOptions = true,
        description = {
            "Lists the MetisFL federation jobs the cluster knows (running and ended), newest first,"
                    + " with the ids the other commands take."
        })
final class JobsCommand extends ClusterCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    @Override
    public Integer call() {
        List<JobInfo> jobs = flink().jobs().stream().filter(JobInfo::isMetisfl).toList();
        if (jobs.isEmpty()) {
            out().println(
                            "No MetisFL job on "
                                    + flink().base()
                                    + "; start one with '"
                                    + suggest("submit", exampleFederation())
                                    + "'");
            return 0;
        }
        for (JobInfo j : jobs) {
            out().printf(
                            "%s  %-11s  started %s  federation '%s'%n",
                            j.id(),
                            j.state(),
                            TIME.format(Instant.ofEpochMilli(j.startTime())),
                            j.federation());
        }
        out().println("Details of one: '" + suggest("status", jobs.get(0).id()) + "'");
        return 0;
    }
}
