package org.metisfl.cli.e2e;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.metisfl.cli.CliEnvironment;
import org.metisfl.cli.MetisflCli;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/** Shared plumbing of the end-to-end tests: paths, ports, polling, and running the CLI. */
final class E2E {
    private static final Pattern JOB_ID = Pattern.compile("as job ([0-9a-f]{32})");
    private static final Pattern SAVEPOINT = Pattern.compile("with savepoint (\\S+)");

    private E2E() {}

    /** The repository root (failsafe passes it; IDE runs find it upwards). */
    /**
     * A learner scripted over the raw contract, for what the learner library never does on purpose:
     * dying half-way through an upload, or reading the global model without taking part. Uploads go
     * in 4 KiB chunks, so a model of a few thousand values spans several.
     */
    static RawLearner rawLearner(String gateway) {
        return RawLearner.connect(gateway).chunkBytes(4096);
    }

    /** The one tensor of a {@link DeterministicModel} of {@code size} values. */
    static List<TensorSpec> tensors(int size) {
        return List.of(RawLearner.spec(DeterministicModel.TENSOR, size));
    }

    /** The metrics the E2E learners report: a loss of 1/round after the initial model. */
    static Map<String, Double> metrics(long round) {
        return round > 0 ? Map.of("loss", 1.0 / round) : Map.of();
    }

    /** Uploads a whole update of a {@link DeterministicModel}; the gateway's answer. */
    static SubmitUpdateResponse.Status submit(
            RawLearner learner, long round, float[] values, long examples) {
        return learner.submit(round, tensors(values.length), values, examples, metrics(round))
                .getStatus();
    }

    static Path home() {
        String p = System.getProperty("metisfl.home");
        if (p != null) {
            return Path.of(p);
        }
        Path d = Path.of("").toAbsolutePath();
        while (d != null && !Files.exists(d.resolve("bin/flink-cluster"))) {
            d = d.getParent();
        }
        if (d == null) {
            throw new IllegalStateException("run the E2E tests inside the MetisFL repository");
        }
        return d;
    }

    static Path flinkLib() {
        Path lib =
                Path.of(
                        System.getProperty(
                                "metisfl.flinkLib",
                                home().resolve("cli/target/flink-lib").toString()));
        if (!Files.isDirectory(lib)) {
            throw new IllegalStateException(
                    lib
                            + " is missing: run the E2E tests with mvn verify (the package phase"
                            + " copies the Flink jars)");
        }
        return lib;
    }

    static Path jobJar() {
        Path jar =
                Path.of(
                        System.getProperty(
                                "metisfl.jobJar",
                                home().resolve("cli/target/job/metisfl-flink-job.jar").toString()));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: run mvn verify in cli/");
        }
        return jar;
    }

    static Path workDir() throws IOException {
        return Files.createDirectories(
                Path.of(
                        System.getProperty(
                                "metisfl.e2eDir", home().resolve("cli/target/e2e").toString())));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** What one CLI command printed and returned. */
    record Run(int code, String out, String err) {
        Run ok() {
            if (code != 0) {
                throw new AssertionError("metisfl failed (" + code + "): " + err + "\n" + out);
            }
            return this;
        }

        String jobId() {
            Matcher m = JOB_ID.matcher(out);
            if (!m.find()) {
                throw new AssertionError("no job id in: " + out);
            }
            return m.group(1);
        }

        String savepoint() {
            Matcher m = SAVEPOINT.matcher(out);
            if (!m.find()) {
                throw new AssertionError("no savepoint in: " + out);
            }
            return m.group(1);
        }
    }

    /** Runs the metisfl CLI in this JVM against the cluster. */
    static Run cli(LocalFlinkCluster.Cluster cluster, Path work, String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        home(),
                        work.resolve("cli-state"),
                        work,
                        cluster.url(),
                        Duration.ofMillis(100));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MetisflCli.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        System.out.print(out);
        System.out.print(err);
        return new Run(code, out.toString(), err.toString());
    }

    /** Submits a federation of these settings with the CLI; returns the job id. */
    static String submit(LocalFlinkCluster.Cluster cluster, Path work, Path federation) {
        return cli(cluster, work, "submit", federation.toString(), "--jar", jobJar().toString())
                .ok()
                .jobId();
    }

    /** Writes a federation file (dotted keys). */
    static Path federationFile(Path work, String name, Map<String, String> settings)
            throws IOException {
        StringBuilder yaml = new StringBuilder("# written by an end-to-end test\n");
        // These cases test failures and recovery over plaintext with open admission; the
        // security ITCases test TLS and admission.
        Map<String, String> all = new java.util.LinkedHashMap<>();
        all.put("security.insecure", "true");
        all.put("security.admission", "open");
        all.putAll(settings);
        all.forEach((k, v) -> yaml.append(k).append(": '").append(v).append("'\n"));
        return Files.writeString(work.resolve(name + ".yaml"), yaml.toString());
    }

    static List<RoundResult> results(Path file) {
        try {
            return RoundResults.read(file);
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Polls until {@code condition} holds; fails naming {@code what}. */
    static void await(Duration timeout, String what, Callable<Boolean> condition) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() < end) {
            try {
                if (condition.call()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(
                "timed out after " + timeout.toSeconds() + " s waiting for " + what, last);
    }

    static List<Long> rounds(List<RoundResult> results) {
        List<Long> r = new ArrayList<>();
        results.forEach(x -> r.add(x.round));
        return r;
    }
}
