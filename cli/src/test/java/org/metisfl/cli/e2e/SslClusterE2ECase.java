package org.metisfl.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.metisfl.cli.CliEnvironment;
import org.metisfl.cli.MetisflCli;

/**
 * {@code bin/flink-cluster start --ssl}: a session cluster of its own (its own folder and ports)
 * with Flink's internal SSL and REST SSL, keystores issued by a development CA made for the test.
 * The CLI submits the quickstart federation over HTTPS (checking the REST certificate against the
 * CA), learners run it to the end, the CLI sees the job FINISHED; the REST port refuses plaintext
 * HTTP, and a CLI that does not trust the CA is refused.
 */
class SslClusterE2ECase {
    static final int SIZE = 2_000;

    @Test
    void quickstartFinishesOnAClusterWithInternalAndRestSsl() throws Exception {
        Path work = Files.createDirectories(E2E.workDir().resolve("ssl-cluster"));
        Path clusterDir = work.resolve("cluster");
        Path certs = work.resolve("certs");
        int rest = E2E.freePort();
        int rpc = E2E.freePort();
        try {
            String started =
                    script(
                            clusterDir,
                            certs,
                            "start",
                            "--ssl",
                            "--taskmanagers",
                            "1",
                            "--rest-port",
                            Integer.toString(rest),
                            "--rpc-port",
                            Integer.toString(rpc));
            assertThat(started)
                    .contains("Web UI / REST: https://localhost:" + rest)
                    .contains("SSL:           internal and REST");
            Path ca = clusterDir.resolve("ssl").resolve("ca.pem");
            assertThat(Files.readString(ca)).isEqualTo(Files.readString(certs.resolve("ca.pem")));
            String config = Files.readString(clusterDir.resolve("conf").resolve("config.yaml"));
            assertThat(config)
                    .contains("security.ssl.internal.enabled: true")
                    .contains("security.ssl.rest.enabled: true");

            // Plaintext HTTP to the REST port is refused.
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            boolean plaintextServed;
            try {
                HttpResponse<String> r =
                        http.send(
                                HttpRequest.newBuilder(
                                                URI.create(
                                                        "http://localhost:" + rest + "/overview"))
                                        .timeout(Duration.ofSeconds(10))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                plaintextServed = r.statusCode() == 200 && r.body().contains("taskmanagers");
            } catch (IOException refused) {
                plaintextServed = false;
            }
            assertThat(plaintextServed).as("the REST API over plaintext HTTP").isFalse();

            String url = "https://localhost:" + rest;
            // A CLI without the CA does not trust the cluster.
            Run untrusted = cli(work, url, null, "jobs");
            assertThat(untrusted.code).isNotZero();

            int port = E2E.freePort();
            String gateway = "127.0.0.1:" + port;
            Path results = work.resolve("results.jsonl");
            Files.deleteIfExists(results);
            Run submit =
                    cli(
                            work,
                            url,
                            ca,
                            "submit",
                            E2E.home().resolve("conf/federations/quickstart.yaml").toString(),
                            "--set",
                            "federation.name=ssl-quickstart",
                            "--set",
                            "federation.rounds=2",
                            "--set",
                            "federation.results-file=" + results,
                            "--set",
                            "model-store.path=" + work.resolve("models").toAbsolutePath(),
                            "--set",
                            "gateway.port=" + port,
                            "--set",
                            "security.insecure=true",
                            "--set",
                            "security.admission=open",
                            "--set",
                            "evaluation.enabled=false",
                            "--jar",
                            E2E.jobJar().toString());
            assertThat(submit.code).as(submit.out + submit.err).isZero();
            String jobId = new E2E.Run(0, submit.out, submit.err).jobId();
            try (LearnerFleet fleet =
                    new LearnerFleet(List.of(gateway), SIZE, new long[] {100, 200, 300}, 20)) {
                fleet.start();
                fleet.awaitEnd(Duration.ofMinutes(4));
            }
            E2E.await(
                    Duration.ofSeconds(120),
                    "the job FINISHED, as the CLI sees it over HTTPS",
                    () -> cli(work, url, ca, "status", jobId).out.contains("FINISHED"));
            assertThat(E2E.rounds(E2E.results(results))).containsExactly(1L, 2L);
        } finally {
            script(clusterDir, certs, "stop");
        }
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(Path work, String url, Path ca, String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        E2E.home(),
                        work.resolve("cli-state"),
                        work,
                        url,
                        Duration.ofMillis(100),
                        ca == null ? null : ca.toString());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MetisflCli.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        System.out.print(out);
        System.out.print(err);
        return new Run(code, out.toString(), err.toString());
    }

    private static String script(Path clusterDir, Path certs, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(E2E.home().resolve("bin").resolve("flink-cluster").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("METISFL_CLUSTER_DIR", clusterDir.toString());
        pb.environment().put("METISFL_CERTS_DIR", certs.toString());
        pb.environment().put("METISFL_FLINK_LIB", E2E.flinkLib().toString());
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("bin/flink-cluster " + String.join(" ", args) + " hung");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.print(text);
        if (p.exitValue() != 0) {
            throw new IOException(
                    "bin/flink-cluster " + String.join(" ", args) + " failed:\n" + text);
        }
        return text;
    }
}
