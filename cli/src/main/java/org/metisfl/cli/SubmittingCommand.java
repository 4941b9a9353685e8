package org.metisfl.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import org.metisfl.cli.JobRecords.JobRecord;
import org.metisfl.flink.config.FederationConfig;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Submits a federation file to the cluster, fresh ({@code submit}) or from a savepoint. */
abstract class SubmittingCommand extends ClusterCommand {

    @Parameters(index = "0", paramLabel = "FED.yaml", description = "The federation file.")
    String federationFile;

    @Option(
            names = "--set",
            paramLabel = "KEY=VALUE",
            description = "Overrides a key of the federation file (repeatable).")
    List<String> sets = List.of();

    @Option(
            names = "--jar",
            paramLabel = "JAR",
            description =
                    "The shaded job jar (default: flink-job/target/metisfl-flink-job-*-job.jar or"
                            + " cli/target/job/metisfl-flink-job.jar).")
    Path jar;

    /** Validates, uploads (or reuses) the jar, runs it; returns the new job's id. */
    String submit(String savepointPath) {
        Map<String, String> overrides = parseSets();
        FlinkRestClient flink = flink();
        FederationSubmission submission =
                FederationSubmission.prepare(
                        env().resolve(federationFile),
                        overrides,
                        flink.isLocal(),
                        env().workingDir());
        FederationConfig config = submission.config();
        Path jobJar = jobJar();
        flink.overview(); // reachable?
        checkNameFree(config);
        checkGatewaysFree(submission);
        if (savepointPath == null && flink.isLocal()) {
            archiveEarlierResults(Path.of(config.resultsFile()), config.name());
        }

        String jarName = "metisfl-flink-job-" + checksum(jobJar) + ".jar";
        Optional<String> uploaded = flink.findJar(jarName);
        String jarId;
        if (uploaded.isPresent()) {
            jarId = uploaded.get();
            out().println("Using the job jar already on the cluster (" + jarName + ").");
        } else {
            out().println("Uploading the job jar " + jobJar + " ...");
            jarId = flink.uploadJar(jobJar, jarName);
        }
        String jobId =
                flink.runJar(
                        jarId,
                        FederationSubmission.ENTRY_CLASS,
                        submission.programArgs(),
                        savepointPath);

        JobRecord record = new JobRecord();
        record.jobId = jobId;
        record.cluster = flink.base().toString();
        record.federation = config.name();
        record.federationFile = submission.file().toString();
        record.resultsFile = config.resultsFile();
        record.rounds = config.rounds();
        record.gateways = submission.gatewayAddresses();
        record.submittedAtMs = System.currentTimeMillis();
        record.resumedFrom = savepointPath;
        record.settings = submission.settings();
        record.overrides = new ArrayList<>(sets);
        records().save(record).ifPresent(w -> err().println("metisfl: warning: " + w));

        out().printf(
                        "%s federation '%s' as job %s on %s%n",
                        savepointPath == null ? "Submitted" : "Resumed",
                        config.name(),
                        jobId,
                        flink.base());
        out().println("  Web UI:    " + flink.webUiLink(jobId));
        if (record.gateways.isEmpty()) {
            out().println(
                            "  Gateways:  ports chosen at start (gateway.port is 0): see the"
                                    + " TaskManager logs");
        } else {
            out().println("  Gateways:  " + String.join(", ", record.gateways));
        }
        out().println("  Results:   " + config.resultsFile());
        if (savepointPath == null) {
            out().println(
                            "Start learners with '"
                                    + suggest(
                                            "learners",
                                            "--count",
                                            Integer.toString(config.minLearners()),
                                            "--job",
                                            jobId)
                                    + "'; watch with '"
                                    + suggest("status", jobId)
                                    + "'.");
        }
        return jobId;
    }

    private Map<String, String> parseSets() {
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String kv : sets) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new CliException(
                        "--set takes KEY=VALUE, e.g. --set federation.rounds=5; got '" + kv + "'",
                        CliException.USAGE);
            }
            overrides.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        return overrides;
    }

    private Path jobJar() {
        if (jar != null) {
            Path p = env().resolve(jar.toString());
            if (!Files.isRegularFile(p)) {
                throw new CliException(
                        "the job jar " + p + " does not exist; check --jar", CliException.USAGE);
            }
            return p;
        }
        return env().defaultJobJar()
                .orElseThrow(
                        () ->
                                new CliException(
                                        "the job jar is missing (flink-job/target/"
                                                + "metisfl-flink-job-0.1.0-SNAPSHOT-job.jar under "
                                                + env().home()
                                                + "); build first: mvn install -DskipTests, or"
                                                + " pass --jar"));
    }

    /**
     * Refuses a federation whose name a running job on this cluster already has: a federation's
     * results, learner logs and savepoints are kept under its name, so two running federations with
     * one name would mix them.
     */
    private void checkNameFree(FederationConfig config) {
        for (JobInfo j : flink().jobs()) {
            if (j.isMetisfl() && j.isActive() && j.federation().equals(config.name())) {
                List<String> extra =
                        new ArrayList<>(
                                List.of("--set", "federation.name=" + freeName(config.name())));
                if (flink().isLocal() && config.gatewayPort() != 0) {
                    extra.addAll(List.of("--set", "gateway.port=" + freePortBase(config)));
                }
                throw new CliException(
                        "a federation named '"
                                + config.name()
                                + "' is already running on "
                                + flink().base()
                                + " as job "
                                + j.id()
                                + "; its results, learner logs and savepoints are kept under its"
                                + " name, so run this one under another: '"
                                + repeatWith(extra)
                                + "' (or stop the other first: '"
                                + suggest("stop", j.id())
                                + "')",
                        CliException.USAGE);
            }
        }
    }

    /** {@code name-2}, {@code name-3}, ...: the first no job on the cluster has. */
    private String freeName(String name) {
        List<String> taken = flink().jobs().stream().map(JobInfo::federation).toList();
        for (int i = 2; ; i++) {
            if (!taken.contains(name + "-" + i)) {
                return name + "-" + i;
            }
        }
    }

    /** A gateway port after the configured one with room for every gateway of the federation. */
    private static int freePortBase(FederationConfig c) {
        for (int base = c.gatewayPort() + 10; base < 65_000; base += 10) {
            boolean free = true;
            for (int i = 0; i < c.gatewayParallelism() && free; i++) {
                free = portFree(c.gatewayHost(), base + i);
            }
            if (free) {
                return base;
            }
        }
        return c.gatewayPort() + 10;
    }

    /** This run's command line again with {@code extra} words appended. */
    private String repeatWith(List<String> extra) {
        StringBuilder b = new StringBuilder(env().command());
        for (String a : spec.root().commandLine().getParseResult().originalArgs()) {
            b.append(' ').append(shellWord(a));
        }
        for (String w : extra) {
            b.append(' ').append(shellWord(w));
        }
        return b.toString();
    }

    /**
     * A fresh federation starts with its own results: those an earlier federation of the same name
     * left in the file are moved aside (a resumed federation appends to its file instead).
     */
    private void archiveEarlierResults(Path results, String name) {
        try {
            if (!Files.isRegularFile(results) || Files.size(results) == 0) {
                return;
            }
            String stamp =
                    java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
                            .withZone(java.time.ZoneId.systemDefault())
                            .format(java.time.Instant.now());
            String file = results.getFileName().toString();
            int dot = file.lastIndexOf('.');
            String archived =
                    dot > 0
                            ? file.substring(0, dot) + "-" + stamp + file.substring(dot)
                            : file + "-" + stamp;
            Path target = results.resolveSibling(archived);
            Files.move(results, target);
            out().println(
                            "Results of an earlier federation '"
                                    + name
                                    + "' moved to "
                                    + target
                                    + " (this one starts its own "
                                    + results.getFileName()
                                    + ").");
        } catch (IOException e) {
            throw new CliException(
                    "cannot move the earlier results "
                            + results
                            + " aside: "
                            + e.getMessage()
                            + "; move it yourself, or set federation.results-file");
        }
    }

    /**
     * On a local cluster, refuses to start a federation whose gateway ports are taken (the job
     * would fail and restart forever).
     */
    private void checkGatewaysFree(FederationSubmission submission) {
        if (!flink().isLocal()) {
            return;
        }
        FederationConfig c = submission.config();
        if (c.gatewayPort() == 0) {
            return;
        }
        for (int i = 0; i < c.gatewayParallelism(); i++) {
            int port = c.gatewayPort() + i;
            if (!portFree(c.gatewayHost(), port)) {
                String holder = activeJobUsing(port).map(j -> " by job " + j).orElse("");
                throw new CliException(
                        "learner gateway port "
                                + port
                                + " is in use on this machine"
                                + holder
                                + "; stop what uses it, or pick another port, e.g. '"
                                + repeatWith("gateway.port=" + freePortFrom(c))
                                + "'");
            }
        }
    }

    /** This run's command line with one more {@code --set} (the later one wins). */
    private String repeatWith(String set) {
        StringBuilder b = new StringBuilder(env().command());
        for (String a : spec.root().commandLine().getParseResult().originalArgs()) {
            b.append(' ').append(shellWord(a));
        }
        return b.append(" --set ").append(shellWord(set)).toString();
    }

    /** The first port above the configured ones from which all the gateways' ports are free. */
    private static int freePortFrom(FederationConfig c) {
        int n = Math.max(1, c.gatewayParallelism());
        for (int first = c.gatewayPort() + n; first + n <= 65535; first += n) {
            boolean free = true;
            for (int i = 0; i < n && free; i++) {
                free = portFree(c.gatewayHost(), first + i);
            }
            if (free) {
                return first;
            }
        }
        return 0;
    }

    private Optional<String> activeJobUsing(int port) {
        try {
            for (JobInfo j : flink().jobs()) {
                if (!j.isMetisfl() || !j.isActive()) {
                    continue;
                }
                Optional<JobRecord> r = records().find(j.id());
                if (r.isPresent()
                        && r.get().gateways.stream().anyMatch(g -> g.endsWith(":" + port))) {
                    return Optional.of(
                            j.id() + " '" + j.federation() + "' (" + suggest("stop", j.id()) + ")");
                }
            }
        } catch (CliException e) {
            // only a hint
        }
        return Optional.empty();
    }

    static boolean portFree(String host, int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            InetAddress address =
                    "0.0.0.0".equals(host) || "::".equals(host)
                            ? null
                            : InetAddress.getByName(host);
            s.bind(
                    address == null
                            ? new InetSocketAddress(port)
                            : new InetSocketAddress(address, port),
                    1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** First 16 hex digits of the jar's SHA-256: the same jar is uploaded once. */
    static String checksum(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (IOException e) {
            throw new CliException("cannot read the job jar " + file + ": " + e.getMessage());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
