package org.metisfl.bench;

import java.io.IOException;
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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.metisfl.flink.connector.gateway.GatewayHealth;

/**
 * A scenario's federation as a job on a running Flink session cluster (started by {@code
 * bench/run-cluster} with {@code bin/flink-cluster}): submitted with {@code bin/metisfl submit},
 * ended by its last round (or cancelled over the REST API when the scenario ends first). Memory is
 * the TaskManagers' peak RSS since the cluster started (they outlive a scenario); heap after GC is
 * not measured.
 */
final class ClusterController implements Controller {
    private static final Pattern JOB_ID = Pattern.compile("\\b([0-9a-f]{32})\\b");

    private final String clusterUrl;
    private final Path clusterDir;
    private final int gatewayPort;
    private final HttpClient http = HttpClient.newHttpClient();
    private final String jobId;

    ClusterController(Path work, Map<String, String> settings, String clusterUrl, Path clusterDir)
            throws IOException, InterruptedException {
        this.clusterUrl = clusterUrl;
        this.clusterDir = clusterDir;
        this.gatewayPort = Integer.parseInt(settings.get("gateway.port"));
        StringBuilder yaml = new StringBuilder("# written by the benchmark\n");
        settings.forEach((k, v) -> yaml.append(k).append(": '").append(v).append("'\n"));
        Path file = Files.writeString(work.resolve("federation.yaml"), yaml.toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of("bin", "metisfl").toAbsolutePath().toString());
        cmd.addAll(
                List.of(
                        "submit",
                        file.toAbsolutePath().toString(),
                        "--cluster",
                        clusterUrl,
                        "--jar",
                        Path.of("cli", "target", "job", "metisfl-flink-job.jar")
                                .toAbsolutePath()
                                .toString()));
        Process p =
                new ProcessBuilder(cmd)
                        .redirectErrorStream(true)
                        .redirectOutput(work.resolve("submit.log").toFile())
                        .start();
        if (!p.waitFor(3, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException(
                    "bin/metisfl submit failed: " + Files.readString(work.resolve("submit.log")));
        }
        Matcher m = JOB_ID.matcher(Files.readString(work.resolve("submit.log")));
        if (!m.find()) {
            throw new IOException("no job id in " + Files.readString(work.resolve("submit.log")));
        }
        jobId = m.group(1);
    }

    @Override
    public void awaitReady() throws Exception {
        GatewayHealth.awaitServing(
                "127.0.0.1",
                gatewayPort,
                Duration.ofMinutes(3),
                () -> {
                    if (state().matches("FINISHED|CANCELED|FAILED")) {
                        throw new IllegalStateException("job " + jobId + " ended: " + state());
                    }
                });
    }

    @Override
    public long heapAfterGc() {
        return -1;
    }

    @Override
    public long[] stop() throws Exception {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (!state().matches("FINISHED|CANCELED|FAILED") && System.nanoTime() < end) {
            Thread.sleep(250);
        }
        return new long[] {taskManagersPeakRss(), -1};
    }

    private String state() throws IOException, InterruptedException {
        String body =
                http.send(
                                HttpRequest.newBuilder(URI.create(clusterUrl + "/jobs/" + jobId))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
                        .body();
        Matcher m = Pattern.compile("\"state\"\\s*:\\s*\"([A-Z_]+)\"").matcher(body);
        return m.find() ? m.group(1) : "UNKNOWN";
    }

    /** The largest VmHWM of the cluster's TaskManager processes. */
    private long taskManagersPeakRss() throws IOException {
        long peak = -1;
        Path pids = clusterDir.resolve("pids");
        if (!Files.isDirectory(pids)) {
            return peak;
        }
        try (Stream<Path> files = Files.list(pids)) {
            for (Path f :
                    files.filter(x -> x.getFileName().toString().startsWith("taskmanager-"))
                            .toList()) {
                Path status = Path.of("/proc", Files.readString(f).strip(), "status");
                if (!Files.exists(status)) {
                    continue;
                }
                for (String l : Files.readAllLines(status)) {
                    if (l.startsWith("VmHWM:")) {
                        peak = Math.max(peak, Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024);
                    }
                }
            }
        }
        return peak;
    }

    @Override
    public void close() throws Exception {
        if (!state().matches("FINISHED|CANCELED|FAILED")) {
            http.send(
                    HttpRequest.newBuilder(
                                    URI.create(clusterUrl + "/jobs/" + jobId + "?mode=cancel"))
                            .method("PATCH", HttpRequest.BodyPublishers.noBody())
                            .build(),
                    HttpResponse.BodyHandlers.discarding());
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!state().matches("CANCELED|FAILED|FINISHED") && System.nanoTime() < end) {
                Thread.sleep(250);
            }
        }
    }
}
