package org.metisfl.examples.quickstart;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.metisfl.cli.DevKeys;
import org.metisfl.cli.report.FederationReport;
import org.metisfl.examples.fashionmnist.FashionMnistLearner;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.transport.DevSecurity;
import org.metisfl.transport.EnrollmentTokens;

/**
 * The quickstart: runs the federation job on an embedded Flink MiniCluster with the web UI, starts
 * N Fashion-MNIST learner processes against it, prints every round as it completes, and ends with a
 * summary, the path of the per-round results file (JSON lines) and that of its HTML report.
 */
public final class Quickstart {
    /** The learners' progress line of a local epoch ("round 3: epoch 1/1, ..."). */
    private static final java.util.regex.Pattern EPOCH_LINE =
            java.util.regex.Pattern.compile("epoch \\d+/\\d+|\\d+ local steps,");

    private Quickstart() {}

    public static void main(String[] argv) throws Exception {
        System.exit(run(argv));
    }

    static int run(String[] argv) throws Exception {
        QuickstartArgs args;
        FederationConfig config;
        try {
            args = QuickstartArgs.parse(argv);
            if (args.help) {
                System.out.print(QuickstartArgs.USAGE);
                return 0;
            }
            config = loadConfig(args);
            if (!args.learner.equals("java") && !args.model.equals("mlp")) {
                throw new IllegalArgumentException(
                        "the Python example learner has the mlp model only; use --model mlp");
            }
            if (!args.learner.equals("java") && (ckks(config) || threshold(config))) {
                throw new IllegalArgumentException(
                        "the Python learner does not do secure aggregation (CKKS) yet; use"
                                + " --learner java with "
                                + args.federation);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("quickstart: " + e.getMessage());
            return 2;
        }
        if (config.gatewayPort() == 0) {
            System.err.println(
                    "quickstart: gateway.port must be fixed (not 0) so learners find it");
            return 2;
        }
        Files.deleteIfExists(Path.of(config.resultsFile()));
        Path logs = Files.createDirectories(args.workDir.resolve("logs"));
        long started = System.nanoTime();
        System.out.printf(
                "Federation '%s': %d %s learners, %d %s of %s on Fashion-MNIST (%s, %s)%n",
                config.name(),
                args.learners,
                args.learner.equals("java")
                        ? "DL4J"
                        : args.learner.equals("python") ? "PyTorch" : "DL4J and PyTorch",
                config.rounds(),
                config.asynchronous() ? "model versions" : "rounds",
                describe(config),
                args.model,
                args.partition);
        List<Process> learners = new ArrayList<>();
        try (EmbeddedFederation federation =
                EmbeddedFederation.start(config, args.webUiPort, args.workDir)) {
            System.out.println("Flink web UI: " + federation.webUiAddress());
            federation.awaitGatewaysReady(Duration.ofMinutes(2));
            System.out.printf(
                    "Learner gateway on %s:%d; starting %d learner processes (logs in %s)%n",
                    config.gatewayHost(), config.gatewayPort(), args.learners, logs);
            for (int i = 0; i < args.learners; i++) {
                learners.add(startLearner(args, config, i, logs));
            }
            int failedExit = watch(federation, config, learners);
            if (failedExit != 0) {
                return failedExit;
            }
        } finally {
            for (Process p : learners) {
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroy();
                }
            }
        }
        List<RoundResult> results = RoundResults.read(Path.of(config.resultsFile()));
        RoundResult last = results.isEmpty() ? null : results.get(results.size() - 1);
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "Federation '%s' finished: %d %s in %.1f s, final global test accuracy %s,"
                        + " loss %s%n",
                config.name(),
                last == null ? 0 : last.round,
                config.asynchronous() ? "model versions" : "rounds",
                seconds,
                last == null ? "n/a" : metric(last, "accuracy"),
                last == null ? "n/a" : metric(last, "loss"));
        Path resultsFile = Path.of(config.resultsFile()).toAbsolutePath();
        System.out.println("Per-round results: " + resultsFile);
        if (!results.isEmpty()) {
            Path report = FederationReport.write(resultsFile);
            System.out.println("Report (charts of every round): " + report);
        }
        return 0;
    }

    /** The protocol and rule in a few words, e.g. "synchronous FedAvg + fedadam". */
    public static String describe(FederationConfig c) {
        String protocol = c.protocol().name().toLowerCase(Locale.ROOT).replace('_', '-');
        String rule =
                c.asynchronous()
                        ? c.asyncRule().name().toLowerCase(Locale.ROOT)
                        : c.rule().name().toLowerCase(Locale.ROOT).replace('_', '-');
        String optimizer =
                c.optimizer() == org.metisfl.flink.config.FederationOptions.Optimizer.NONE
                        ? ""
                        : " + " + c.optimizer().name().toLowerCase(Locale.ROOT);
        String secure = ckks(c) ? " over CKKS ciphertexts (" + c.hePreset() + ")" : "";
        if (threshold(c)) {
            secure =
                    " over threshold-CKKS ciphertexts ("
                            + c.hePreset()
                            + ", a committee of "
                            + c.committeeSize()
                            + " learners, any "
                            + c.committeeThreshold()
                            + " decrypt)";
        }
        return protocol + " " + rule + optimizer + secure;
    }

    private static FederationConfig loadConfig(QuickstartArgs args) {
        Map<String, String> overrides = new LinkedHashMap<>();
        overrides.put("federation.min-learners", Integer.toString(args.learners));
        if (args.rounds != null) {
            overrides.put("federation.rounds", Integer.toString(args.rounds));
        }
        for (String kv : args.settings) {
            int eq = kv.indexOf('=');
            overrides.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        FederationConfig config = FederationConfigLoader.load(args.federation, overrides);
        Map<String, String> security = config.security().toMap();
        if (!"true".equalsIgnoreCase(security.get("security.insecure"))
                && !security.containsKey("security.tls.certificate")) {
            // Secure by default without a setup step: TLS with a development CA and enrollment.
            DevSecurity dev = DevSecurity.ensure(DEV_SECURITY_DIR);
            dev.jobSettings().forEach(overrides::putIfAbsent);
            config = FederationConfigLoader.load(args.federation, overrides);
        }
        if (ckks(config) && config.hePublicKeyFile().isEmpty()) {
            // Like the development PKI: a key bundle made on first use in work/keys, its public
            // parameters for the job, its secret key for the learners (--ckks-key).
            Path dir = DevKeys.ensure(DEV_KEYS_DIR, config.heBackend(), config.hePreset());
            overrides.put(
                    DevKeys.PUBLIC_KEY_SETTING,
                    dir.resolve(org.metisfl.crypto.KeyBundle.PUBLIC_FILE).toString());
            config = FederationConfigLoader.load(args.federation, overrides);
        }
        if (!overrides.containsKey("federation.results-file")) {
            String stamp =
                    LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
            overrides.put(
                    "federation.results-file", "results/" + config.name() + "-" + stamp + ".jsonl");
            config = FederationConfigLoader.load(args.federation, overrides);
        }
        return config;
    }

    /** Whether learner {@code index} is a Python (PyTorch) learner; mixed alternates. */
    static boolean pythonLearner(QuickstartArgs args, int index) {
        return args.learner.equals("python") || (args.learner.equals("mixed") && index % 2 == 1);
    }

    /** The PyTorch learner of learner-python/examples, on Debian's python3 (METISFL_PYTHON). */
    private static List<String> pythonLearnerCommand(
            QuickstartArgs args, FederationConfig config, int index) {
        String python = System.getenv().getOrDefault("METISFL_PYTHON", "/usr/bin/python3");
        List<String> cmd = new ArrayList<>();
        cmd.addAll(
                List.of(
                        python,
                        "learner-python/examples/fashion_mnist.py",
                        "--gateway",
                        "127.0.0.1:" + config.gatewayPort(),
                        "--learners",
                        Integer.toString(args.learners),
                        "--learner-index",
                        Integer.toString(index),
                        "--partition",
                        args.partition,
                        "--alpha",
                        args.alpha,
                        "--batch-size",
                        Integer.toString(config.trainBatchSize())));
        cmd.addAll(learnerSecurityArgs(config));
        if (args.trainLimit != null) {
            cmd.addAll(List.of("--train-limit", args.trainLimit));
        }
        if (args.testLimit != null) {
            cmd.addAll(List.of("--test-limit", args.testLimit));
        }
        return cmd;
    }

    /** Where the quickstart keeps its development CA and enrollment key. */
    static final Path DEV_SECURITY_DIR = Path.of("work", "certs");

    /** Where the quickstart keeps its development CKKS key bundles. */
    static final Path DEV_KEYS_DIR = Path.of("work", "keys");

    static boolean ckks(FederationConfig config) {
        return config.secureAggregation()
                == org.metisfl.flink.config.FederationOptions.SecureAggregation.CKKS;
    }

    static boolean threshold(FederationConfig config) {
        return config.threshold();
    }

    /** Where the quickstart's learners keep their threshold key shares. */
    static final Path SHARES_DIR = Path.of("work", "threshold-shares");

    /**
     * A threshold federation's learners each get a share directory of their own, new for every run
     * (a new federation draws a new committee: an old run's share of the same epoch belongs to
     * another committee and would be refused), named after the run's results file.
     */
    static List<String> learnerShareArgs(FederationConfig config, int index) {
        if (!threshold(config)) {
            return List.of();
        }
        String run = Path.of(config.resultsFile()).getFileName().toString();
        if (run.endsWith(".jsonl")) {
            run = run.substring(0, run.length() - ".jsonl".length());
        }
        return List.of(
                "--threshold-shares",
                SHARES_DIR.resolve(run).resolve("learner-" + index).toString());
    }

    /** A CKKS federation's learners get the secret key beside the job's public parameters. */
    static List<String> learnerKeyArgs(FederationConfig config) {
        if (!ckks(config)) {
            return List.of();
        }
        Path pub = Path.of(config.hePublicKeyFile().orElseThrow());
        Path secret =
                DevKeys.secretBeside(pub)
                        .orElseThrow(
                                () ->
                                        new IllegalArgumentException(
                                                "no "
                                                        + org.metisfl.crypto.KeyBundle.SECRET_FILE
                                                        + " beside "
                                                        + pub
                                                        + " for the learners; put the bundle's"
                                                        + " secret key there"));
        return List.of("--ckks-key", secret.toString());
    }

    /** How the quickstart's learners connect: TLS to the dev CA with an enrollment token. */
    static List<String> learnerSecurityArgs(FederationConfig config) {
        Map<String, String> security = config.security().toMap();
        if ("true".equalsIgnoreCase(security.get("security.insecure"))) {
            return List.of("--insecure");
        }
        List<String> a = new ArrayList<>();
        DevSecurity dev = DevSecurity.ensure(DEV_SECURITY_DIR);
        String certificate = security.getOrDefault("security.tls.certificate", "");
        if (certificate.equals(dev.jobSettings().get("security.tls.certificate"))) {
            a.addAll(List.of("--ca", dev.trustRoots().toString()));
        }
        String key = security.get("security.enrollment-key");
        String admission = security.getOrDefault("security.admission", "enrollment");
        if (key != null && admission.equalsIgnoreCase("enrollment")) {
            a.addAll(
                    List.of(
                            "--enrollment-token",
                            EnrollmentTokens.fromKeyFile(Path.of(key))
                                    .issue(1, Duration.ofHours(12), java.time.Instant.now())));
        }
        return a;
    }

    private static Process startLearner(
            QuickstartArgs args, FederationConfig config, int index, Path logs) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (pythonLearner(args, index)) {
            cmd.addAll(pythonLearnerCommand(args, config, index));
        } else {
            cmd.addAll(javaLearnerCommand(args, config, index));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // Two cores shared by the job and every learner: one BLAS thread per learner.
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        Path log = logs.resolve("learner-" + index + ".log");
        Thread pump =
                new Thread(
                        () -> pump(p, "[learner-" + index + "] ", log),
                        "learner-" + index + "-log");
        pump.setDaemon(true);
        pump.start();
        return p;
    }

    private static List<String> javaLearnerCommand(
            QuickstartArgs args, FederationConfig config, int index) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx2g");
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(FashionMnistLearner.class.getName());
        cmd.addAll(
                List.of(
                        "--gateway",
                        "127.0.0.1:" + config.gatewayPort(),
                        "--learners",
                        Integer.toString(args.learners),
                        "--learner-index",
                        Integer.toString(index),
                        "--partition",
                        args.partition,
                        "--alpha",
                        args.alpha,
                        "--model",
                        args.model,
                        "--batch-size",
                        Integer.toString(config.trainBatchSize())));
        cmd.addAll(learnerSecurityArgs(config));
        cmd.addAll(learnerKeyArgs(config));
        cmd.addAll(learnerShareArgs(config, index));
        if (args.trainLimit != null) {
            cmd.addAll(List.of("--train-limit", args.trainLimit));
        }
        if (args.testLimit != null) {
            cmd.addAll(List.of("--test-limit", args.testLimit));
        }
        return cmd;
    }

    /** Copies a learner's output to its log file, and its progress lines to the console. */
    private static void pump(Process p, String prefix, Path log) {
        try (BufferedReader in =
                        new BufferedReader(
                                new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                var out = Files.newBufferedWriter(log)) {
            String line;
            while ((line = in.readLine()) != null) {
                out.write(line);
                out.newLine();
                out.flush();
                if (EPOCH_LINE.matcher(line).find()
                        || line.contains("ERROR")
                        || line.contains("error:")) {
                    System.out.println(prefix + line.strip());
                }
            }
        } catch (IOException e) {
            System.err.println(prefix + "log copy failed: " + e.getMessage());
        }
    }

    /** Prints rounds as their results arrive until the job ends; returns an exit code. */
    private static int watch(
            EmbeddedFederation federation, FederationConfig config, List<Process> learners)
            throws Exception {
        Path results = Path.of(config.resultsFile());
        int printed = 0;
        while (true) {
            List<RoundResult> rounds = RoundResults.read(results);
            for (; printed < rounds.size(); printed++) {
                print(rounds.get(printed), config);
            }
            if (federation.status().isGloballyTerminalState()) {
                try {
                    federation.awaitCompletion(Duration.ofSeconds(10));
                } catch (Exception e) {
                    System.err.println("quickstart: the federation job failed: " + e.getMessage());
                    return 1;
                }
                List<RoundResult> all = RoundResults.read(results);
                for (RoundResult r : all.subList(printed, all.size())) {
                    print(r, config);
                }
                return 0;
            }
            boolean allLearnersGone = !learners.isEmpty();
            for (Process p : learners) {
                allLearnersGone &= !p.isAlive() && p.exitValue() != 0;
            }
            if (allLearnersGone) {
                System.err.println(
                        "quickstart: every learner process failed; see their logs in the work"
                                + " directory");
                return 1;
            }
            Thread.sleep(250);
        }
    }

    private static void print(RoundResult r, FederationConfig config) {
        System.out.printf(
                Locale.ROOT,
                "round %d/%d | participants %d/%d | round time %.1f s | test accuracy %s | test"
                        + " loss %s%s%s%n",
                r.round,
                config.rounds(),
                r.contributors == null ? 0 : r.contributors.size(),
                r.participants,
                r.roundTimeMs / 1000.0,
                metric(r, "accuracy"),
                metric(r, "loss"),
                privacy(r),
                r.aborted ? " | ABORTED (no quorum)" : "");
    }

    /** Central DP: the epsilon spent so far, for the configured delta. */
    private static String privacy(RoundResult r) {
        return r.epsilon == null
                ? ""
                : String.format(
                        Locale.ROOT,
                        " | epsilon %.3f (delta %.0e, clip norm %.3g)",
                        r.epsilon,
                        r.delta,
                        r.clipNorm == null ? Double.NaN : r.clipNorm);
    }

    private static String metric(RoundResult r, String name) {
        Double v = r.evalMetrics == null ? null : r.evalMetrics.get(name);
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
    }
}
