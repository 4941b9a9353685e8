package org.metisfl.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** What every command that talks to a Flink cluster shares: the cluster option and job lookup. */
abstract class ClusterCommand {

    /** The CLI, or the command this one is a subcommand of ({@code learners list}). */
    @CommandLine.ParentCommand Object parent;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--cluster",
            paramLabel = "URL",
            description =
                    "Flink REST address (default: $METISFL_CLUSTER, else http://localhost:8081).")
    String cluster;

    @Option(
            names = "--cluster-ca",
            paramLabel = "FILE",
            description =
                    "PEM CA an https cluster's REST certificate is checked against (default:"
                            + " $METISFL_CLUSTER_CA, else work/certs/ca.pem if it exists, else"
                            + " the JDK's trust roots).")
    String clusterCa;

    private FlinkRestClient flink;

    CliEnvironment env() {
        return parent instanceof MetisflCli root
                ? root.environment()
                : ((ClusterCommand) parent).env();
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    FlinkRestClient flink() {
        if (flink == null) {
            String url = cluster != null ? cluster : env().defaultCluster();
            flink = FlinkRestClient.connect(url, clusterCaFile(url));
            flink.jobsCommand(suggest("jobs"));
        }
        return flink;
    }

    /** The CA an https cluster is checked against, or null (plaintext, or the JDK's roots). */
    private java.nio.file.Path clusterCaFile(String url) {
        if (!url.startsWith("https:")) {
            return null;
        }
        if (clusterCa != null) {
            return env().resolve(clusterCa);
        }
        if (env().clusterCa() != null) {
            return env().resolve(env().clusterCa());
        }
        java.nio.file.Path dev = env().home().resolve("work").resolve("certs").resolve("ca.pem");
        return java.nio.file.Files.isRegularFile(dev) ? dev : null;
    }

    /**
     * A command to suggest to the user, as it works when pasted: the CLI as the user runs it, the
     * words (quoted for the shell where needed), and this run's {@code --cluster} if given.
     */
    String suggest(String... words) {
        StringBuilder b = new StringBuilder(env().command());
        for (String w : words) {
            b.append(' ').append(shellWord(w));
        }
        if (cluster != null) {
            b.append(" --cluster ").append(shellWord(cluster));
        }
        return b.toString();
    }

    /** This run's command line again with the job added: how to repeat it for one job. */
    String repeatFor(String jobId) {
        StringBuilder b = new StringBuilder(env().command());
        for (String a : spec.root().commandLine().getParseResult().originalArgs()) {
            b.append(' ').append(shellWord(a));
        }
        b.append(spec.findOption("--job") != null ? " --job " : " ").append(jobId);
        return b.toString();
    }

    /** A word as a shell reads it back. */
    static String shellWord(String s) {
        return s.matches("[A-Za-z0-9._/:=@%+,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    /** The shipped example federation, as a path the user can paste (the submit hint). */
    String exampleFederation() {
        return env().path(env().home().resolve("conf/federations/quickstart.yaml"));
    }

    JobRecords records() {
        return new JobRecords(env().stateDir());
    }

    /**
     * The job named on the command line, or else the one active MetisFL job of the cluster; a
     * {@link CliException} if there is none or more than one.
     */
    JobInfo resolveJob(String jobId) {
        if (jobId != null && !jobId.matches("[0-9a-fA-F]{32}")) {
            return jobOfFederation(jobId);
        }
        if (jobId != null) {
            return flink().job(jobId);
        }
        List<JobInfo> jobs = flink().jobs();
        List<JobInfo> active = jobs.stream().filter(j -> j.isMetisfl() && j.isActive()).toList();
        if (active.size() == 1) {
            return active.get(0);
        }
        if (active.isEmpty()) {
            Optional<JobInfo> last = jobs.stream().filter(JobInfo::isMetisfl).findFirst();
            throw new CliException(
                    "no running MetisFL job on "
                            + flink().base()
                            + last.map(
                                            j ->
                                                    " (the latest, "
                                                            + j.id()
                                                            + " '"
                                                            + j.federation()
                                                            + "', is "
                                                            + j.state()
                                                            + ")")
                                    .orElse("")
                            + "; "
                            + last.map(j -> "see it with '" + suggest("status", j.id()) + "', or ")
                                    .orElse("")
                            + "start one with '"
                            + suggest("submit", exampleFederation())
                            + "'");
        }
        throw new CliException(
                active.size()
                        + " MetisFL jobs are running on "
                        + flink().base()
                        + " ("
                        + active.stream()
                                .map(j -> j.id() + " '" + j.federation() + "'")
                                .collect(Collectors.joining(", "))
                        + "); give the job id, e.g. '"
                        + repeatFor(active.get(0).id())
                        + "'",
                CliException.USAGE);
    }

    /**
     * The running job of the federation named {@code name} (names are unique among running jobs:
     * submit refuses a second), else the latest job of that name.
     */
    private JobInfo jobOfFederation(String name) {
        List<JobInfo> named =
                flink().jobs().stream()
                        .filter(j -> j.isMetisfl() && j.federation().equals(name))
                        .toList();
        return named.stream()
                .filter(JobInfo::isActive)
                .findFirst()
                .or(() -> named.stream().findFirst())
                // not a federation's name either: the job id check says what to run
                .orElseGet(() -> flink().job(name));
    }

    /** Polls a savepoint request until it completes; returns its location. */
    String awaitSavepoint(String jobId, String requestId, Duration timeout, String what) {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            FlinkRestClient.SavepointStatus s = flink().savepointStatus(jobId, requestId);
            if (s.done()) {
                if (s.location() != null) {
                    return s.location();
                }
                throw new CliException(
                        what
                                + " of job "
                                + jobId
                                + " failed: "
                                + s.failure()
                                + "; see the JobManager log of "
                                + flink().base());
            }
            if (System.nanoTime() > end) {
                throw new CliException(
                        what
                                + " of job "
                                + jobId
                                + " did not complete within "
                                + timeout.toSeconds()
                                + " s; it may still complete: see the job's checkpoints in the"
                                + " web UI "
                                + flink().webUiLink(jobId));
            }
            sleep(env().pollInterval());
        }
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }
}
