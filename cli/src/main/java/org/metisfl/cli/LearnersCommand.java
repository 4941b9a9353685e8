package org.metisfl.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import org.metisfl.cli.JobRecords.JobRecord;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.TransportConfigException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code metisfl learners --count N}: Fashion-MNIST learner processes, as the quickstart runs;
 * {@code metisfl learners list|revoke}: the operator's view of the admitted learners.
 */
@Command(
        name = "learners",
        mixinStandardHelpOptions = true,
        description = {
            "Starts N Fashion-MNIST learner processes (org.metisfl.examples.fashionmnist."
                    + "FashionMnistLearner) that join a federation; learner i trains on part i of"
                    + " the data. Runs until they end (Ctrl-C stops them) unless --detach.",
            "The gateway defaults to the one of the running MetisFL job submitted with this CLI.",
            "'learners list' shows the admitted learners, 'learners revoke ID' shuts one out at"
                    + " every gateway (operator key needed)."
        },
        subcommands = {LearnersListCommand.class, LearnersRevokeCommand.class})
final class LearnersCommand extends ClusterCommand implements Callable<Integer> {
    static final String LEARNER_MAIN = "org.metisfl.examples.fashionmnist.FashionMnistLearner";
    static final Path DEFAULT_DATA = Path.of("/usr/share/datasets/fashion-mnist");

    @Option(names = "--count", paramLabel = "N", description = "Learners to start.")
    Integer count;

    @Option(
            names = "--gateway",
            paramLabel = "HOST:PORT",
            description = "A learner gateway (repeatable; default: the running job's gateways).")
    List<String> gateways = new ArrayList<>();

    @Option(names = "--job", paramLabel = "JOB", description = "Job whose gateways to use.")
    String jobId;

    @Option(
            names = "--learners",
            paramLabel = "T",
            description = "Parts the data is split into (default: --count).")
    Integer total;

    @Option(
            names = "--first-index",
            paramLabel = "I",
            defaultValue = "0",
            description = "Data part of the first learner started here (default: 0).")
    int firstIndex;

    @Option(names = "--partition", paramLabel = "P", description = "iid | dirichlet")
    String partition;

    @Option(names = "--alpha", paramLabel = "A", description = "Dirichlet concentration.")
    String alpha;

    @Option(names = "--model", paramLabel = "M", description = "mlp | cnn")
    String model;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of weights and split.")
    String seed;

    @Option(names = "--batch-size", paramLabel = "B", description = "Mini-batch size.")
    String batchSize;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Fashion-MNIST IDX folder.")
    String dataDir;

    @Option(names = "--train-limit", paramLabel = "K", description = "First K training examples.")
    String trainLimit;

    @Option(names = "--test-limit", paramLabel = "K", description = "First K test examples.")
    String testLimit;

    @Option(
            names = "--heap",
            paramLabel = "SIZE",
            defaultValue = "2g",
            description = "Java heap of each learner (default: ${DEFAULT-VALUE}).")
    String heap;

    @Option(
            names = "--logs",
            paramLabel = "DIR",
            description =
                    "Log folder (default: work/learners/FEDERATION, by the job's federation).")
    Path logs;

    @Option(
            names = "--ca",
            paramLabel = "FILE",
            description =
                    "PEM CA the gateway's certificate is checked against (default: the"
                            + " development CA the job was submitted with, if any).")
    String ca;

    @Option(
            names = "--enrollment-token",
            paramLabel = "TOKEN",
            description =
                    "Enrollment token for the learners (default: one made with the job's"
                            + " development enrollment key, if it has one).")
    String enrollmentToken;

    @Option(
            names = "--ckks-key",
            paramLabel = "PATH",
            description =
                    "The federation's CKKS secret key (ckks-secret.key or its folder) for a"
                            + " federation with secure-aggregation: ckks (default: the one beside"
                            + " the public parameters the job was submitted with, if any).")
    String ckksKey;

    @Option(
            names = "--threshold-shares",
            paramLabel = "DIR",
            description =
                    "Threshold mode (secure-aggregation: ckks-threshold): the folder under which"
                            + " learner i keeps its committee key shares, in DIR/learner-i"
                            + " (default: work/threshold-shares/<job id>, when the job runs in"
                            + " that mode). Keep it across restarts; one per federation.")
    String thresholdShares;

    @Option(names = "--insecure", description = "Plaintext connection (development only).")
    boolean insecure;

    @Option(names = "--detach", description = "Start the learners and return; they keep running.")
    boolean detach;

    @Override
    public Integer call() throws Exception {
        if (count == null) {
            throw new CliException(
                    "give --count N to start learners, or a subcommand: 'learners list',"
                            + " 'learners revoke LEARNER_ID'",
                    CliException.USAGE);
        }
        if (count < 1) {
            throw new CliException("--count must be at least 1", CliException.USAGE);
        }
        int parts = total != null ? total : firstIndex + count;
        if (firstIndex < 0 || firstIndex + count > parts) {
            throw new CliException(
                    "learners "
                            + firstIndex
                            + ".."
                            + (firstIndex + count - 1)
                            + " do not fit --learners "
                            + parts
                            + "; raise --learners or lower --first-index",
                    CliException.USAGE);
        }
        JobRecord record = gateways.isEmpty() ? recordOfJob() : null;
        List<String> targets = record != null ? gatewaysOf(record) : gateways;
        List<String> security = securityArgs(record);
        security.addAll(keyArgs(record));
        String classpath = exampleClasspath();
        if (dataDir == null && !Files.isDirectory(DEFAULT_DATA)) {
            throw new CliException(
                    "the Fashion-MNIST data is not installed ("
                            + DEFAULT_DATA
                            + " is missing); install it with '"
                            + env().path(env().home().resolve("bin").resolve("setup"))
                            + "', or pass --data-dir DIR");
        }
        Path defaultLogs = env().home().resolve("work").resolve("learners");
        Path logDir =
                logs != null
                        ? env().resolve(logs.toString())
                        : federation != null ? defaultLogs.resolve(federation) : defaultLogs;
        Files.createDirectories(logDir);

        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int index = firstIndex + i;
            List<String> cmd = command(classpath, targets, index, parts);
            cmd.addAll(security);
            cmd.addAll(shareArgs(record, index));
            Path log = logDir.resolve("learner-" + index + ".log");
            ProcessBuilder pb =
                    new ProcessBuilder(cmd)
                            .redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            // Two cores shared by the cluster and every learner: one BLAS thread each.
            pb.environment().put("OMP_NUM_THREADS", "1");
            try {
                processes.add(pb.start());
            } catch (IOException e) {
                processes.forEach(Process::destroy);
                throw new CliException("cannot start learner " + index + ": " + e.getMessage());
            }
        }
        out().printf(
                        "Started %d learner%s against %s (logs in %s):%n",
                        count, count == 1 ? "" : "s", String.join(", ", targets), logDir);
        for (int i = 0; i < processes.size(); i++) {
            out().printf("  learner %d: pid %d%n", firstIndex + i, processes.get(i).pid());
        }
        out().flush();
        if (detach) {
            return 0;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> processes.forEach(Process::destroy)));
        int failed = 0;
        for (int i = 0; i < processes.size(); i++) {
            int code = processes.get(i).waitFor();
            out().printf(
                            "learner %d exited with %d%s%n",
                            firstIndex + i,
                            code,
                            code == 0
                                    ? ""
                                    : " (see "
                                            + env().path(
                                                            logDir.resolve(
                                                                    "learner-"
                                                                            + (firstIndex + i)
                                                                            + ".log"))
                                            + ")");
            out().flush();
            if (code != 0) {
                failed++;
            }
        }
        return failed == 0 ? 0 : CliException.FAILED;
    }

    /** The command line of learner {@code index} of {@code parts}. */
    List<String> command(String classpath, List<String> targets, int index, int parts) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + heap);
        cmd.add(
                "-Dorg.bytedeco.javacpp.cachedir="
                        + env().home().resolve(".cache").resolve("javacpp"));
        // Logging: the example's own configuration (its classpath's log4j2.properties) logs the
        // learner's progress at INFO, so every epoch and round lands in the learner's log file.
        // (The quickstart controller's configuration would keep only warnings.)
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(LEARNER_MAIN);
        // Learner i starts at gateway i mod P; the others are its fallbacks.
        for (int g = 0; g < targets.size(); g++) {
            cmd.add("--gateway");
            cmd.add(targets.get((index + g) % targets.size()));
        }
        cmd.addAll(List.of("--learners", Integer.toString(parts)));
        cmd.addAll(List.of("--learner-index", Integer.toString(index)));
        add(cmd, "--partition", partition);
        add(cmd, "--alpha", alpha);
        add(cmd, "--model", model);
        add(cmd, "--seed", seed);
        add(cmd, "--batch-size", batchSize);
        add(cmd, "--data-dir", dataDir == null ? null : env().resolve(dataDir).toString());
        add(cmd, "--train-limit", trainLimit);
        add(cmd, "--test-limit", testLimit);
        return cmd;
    }

    private static void add(List<String> cmd, String flag, String value) {
        if (value != null) {
            cmd.add(flag);
            cmd.add(value);
        }
    }

    /** The federation of the job whose gateways are used (its learners log under its name). */
    private String federation;

    /**
     * How the learners connect: the options given, else what the job was submitted with (plaintext
     * if it is insecure; its development CA and a token of its development enrollment key).
     */
    private List<String> securityArgs(JobRecord record) {
        List<String> args = new ArrayList<>();
        Map<String, String> settings =
                record != null && record.settings != null ? record.settings : Map.of();
        if (insecure || "true".equalsIgnoreCase(settings.get("security.insecure"))) {
            args.add("--insecure");
            return args;
        }
        String roots = ca;
        String certificate = settings.get("security.tls.certificate");
        if (roots == null && certificate != null) {
            Path dev = Path.of(certificate).resolveSibling("ca.pem");
            if (Files.isRegularFile(dev)) {
                roots = dev.toString();
            }
        }
        if (roots != null) {
            args.addAll(List.of("--ca", roots));
        }
        String token = enrollmentToken;
        String key = settings.get("security.enrollment-key");
        String admission = settings.getOrDefault("security.admission", "enrollment");
        if (token == null && key != null && admission.equalsIgnoreCase("enrollment")) {
            try {
                token =
                        EnrollmentTokens.fromKeyFile(Path.of(key))
                                .issue(count, Duration.ofDays(1), Instant.now());
            } catch (TransportConfigException e) {
                throw new CliException(
                        "cannot make an enrollment token for the learners: "
                                + e.getMessage()
                                + "; pass --enrollment-token TOKEN",
                        CliException.USAGE);
            }
        }
        if (token != null) {
            args.addAll(List.of("--enrollment-token", token));
        }
        return args;
    }

    /**
     * The learners' CKKS key: the one given, else the secret key beside the public parameters the
     * job was submitted with (the development bundle of a local submit).
     */
    List<String> keyArgs(JobRecord record) {
        if (ckksKey != null) {
            return List.of("--ckks-key", env().resolve(ckksKey).toString());
        }
        Map<String, String> settings =
                record != null && record.settings != null ? record.settings : Map.of();
        if (!"ckks".equalsIgnoreCase(settings.get("secure-aggregation"))) {
            return List.of();
        }
        String pub = settings.get(DevKeys.PUBLIC_KEY_SETTING);
        return DevKeys.secretBeside(Path.of(pub == null ? "" : pub).toAbsolutePath())
                .map(secret -> List.of("--ckks-key", secret.toString()))
                .orElseThrow(
                        () ->
                                new CliException(
                                        "the federation aggregates with CKKS"
                                                + " (secure-aggregation: ckks) and no secret key"
                                                + " is known for its learners; pass --ckks-key"
                                                + " PATH (the ckks-secret.key of its bundle)",
                                        CliException.USAGE));
    }

    /**
     * Learner {@code index}'s threshold share directory: under the one given, else under
     * work/threshold-shares/&lt;job id&gt; when the job runs threshold mode; none otherwise.
     */
    List<String> shareArgs(JobRecord record, int index) {
        Path root;
        if (thresholdShares != null) {
            root = env().resolve(thresholdShares);
        } else {
            Map<String, String> settings =
                    record != null && record.settings != null ? record.settings : Map.of();
            if (!"ckks-threshold".equalsIgnoreCase(settings.get("secure-aggregation"))) {
                return List.of();
            }
            root = env().home().resolve("work").resolve("threshold-shares").resolve(record.jobId);
        }
        return List.of("--threshold-shares", root.resolve("learner-" + index).toString());
    }

    private List<String> gatewaysOf(JobRecord record) {
        if (record.gateways.isEmpty()) {
            throw new CliException(
                    "job "
                            + record.jobId
                            + " chose its gateway ports at start (gateway.port 0); pass --gateway"
                            + " HOST:PORT from the TaskManager log",
                    CliException.USAGE);
        }
        return record.gateways;
    }

    private JobRecord recordOfJob() {
        JobInfo job = resolveJob(jobId);
        federation = job.federation();
        return records()
                .find(job.id())
                .orElseThrow(
                        () ->
                                new CliException(
                                        "job "
                                                + job.id()
                                                + " was not submitted with this CLI, so"
                                                + " its gateway address is unknown; pass"
                                                + " --gateway HOST:PORT",
                                        CliException.USAGE));
    }

    /** The example module's classpath, as {@code mvn install} leaves it. */
    private String exampleClasspath() {
        Path target = env().home().resolve("examples").resolve("target");
        Path classes = target.resolve("classes");
        Path cp = target.resolve("classpath.txt");
        if (!Files.isDirectory(classes) || !Files.isRegularFile(cp)) {
            throw new CliException(
                    "the Fashion-MNIST example is not built ("
                            + cp
                            + " is missing); build first: 'mvn install -DskipTests' in "
                            + env().home());
        }
        try {
            return classes
                    + java.io.File.pathSeparator
                    + Files.readString(cp, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new CliException("cannot read " + cp + ": " + e.getMessage());
        }
    }
}
