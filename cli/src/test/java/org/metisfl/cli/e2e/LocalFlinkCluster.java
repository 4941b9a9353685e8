package org.metisfl.cli.e2e;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
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
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A real multi-process Flink session cluster for end-to-end tests, started once per test run with
 * {@code bin/flink-cluster} (free REST and RPC ports, its own folder under {@code target/e2e}) and
 * stopped when the run ends. Before each test it makes sure two TaskManagers are alive and no job
 * is left running.
 *
 * <pre>{@code
 * @ExtendWith(LocalFlinkCluster.class)
 * class SomeE2ECase {
 *     @Test
 *     void test(LocalFlinkCluster.Cluster cluster) { ... cluster.killTaskManager(0) ... }
 * }
 * }</pre>
 */
public final class LocalFlinkCluster
        implements BeforeAllCallback, BeforeEachCallback, ParameterResolver {
    static final int TASK_MANAGERS = 2;

    @Override
    public void beforeAll(ExtensionContext context) {
        cluster(context);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        Cluster c = cluster(context);
        c.cancelRunningJobs();
        c.ensureTaskManagers(TASK_MANAGERS);
    }

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
        return p.getParameter().getType() == Cluster.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) {
        return cluster(e);
    }

    private static Cluster cluster(ExtensionContext context) {
        return context.getRoot()
                .getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(Cluster.class, k -> Cluster.start(), Cluster.class);
    }

    /** The running cluster; stopped (bin/flink-cluster stop) when the test run ends. */
    public static final class Cluster implements ExtensionContext.Store.CloseableResource {
        private final Path dir;
        private final int restPort;
        private final HttpClient http = HttpClient.newHttpClient();

        private Cluster(Path dir, int restPort) {
            this.dir = dir;
            this.restPort = restPort;
        }

        static Cluster start() {
            try {
                Path dir = E2E.workDir().resolve("cluster");
                int rest = E2E.freePort();
                int rpc = E2E.freePort();
                Cluster c = new Cluster(dir, rest);
                Runtime.getRuntime().addShutdownHook(new Thread(c::stopQuietly));
                long t0 = System.nanoTime();
                c.script(
                        Duration.ofMinutes(3),
                        "start",
                        "--taskmanagers",
                        Integer.toString(TASK_MANAGERS),
                        "--rest-port",
                        Integer.toString(rest),
                        "--rpc-port",
                        Integer.toString(rpc));
                System.out.printf(
                        "E2E: Flink session cluster up on %s in %.1f s%n",
                        c.url(), (System.nanoTime() - t0) / 1e9);
                return c;
            } catch (Exception e) {
                throw new IllegalStateException("cannot start the local Flink cluster: " + e, e);
            }
        }

        public String url() {
            return "http://localhost:" + restPort;
        }

        public Path dir() {
            return dir;
        }

        /** Runs {@code bin/flink-cluster} against this cluster's folder; returns its output. */
        String script(Duration timeout, String... args) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>();
            cmd.add(E2E.home().resolve("bin").resolve("flink-cluster").toString());
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            Map<String, String> env = pb.environment();
            env.put("METISFL_CLUSTER_DIR", dir.toString());
            env.put("METISFL_FLINK_LIB", E2E.flinkLib().toString());
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException("bin/flink-cluster " + String.join(" ", args) + " hung");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(
                        "bin/flink-cluster "
                                + String.join(" ", args)
                                + " failed ("
                                + p.exitValue()
                                + "):\n"
                                + text);
            }
            return text;
        }

        /** Pids of the live TaskManagers, by the index of their pid file. */
        public Map<Integer, Long> taskManagerPids() throws IOException {
            Map<Integer, Long> pids = new java.util.TreeMap<>();
            Path pidDir = dir.resolve("pids");
            if (!Files.isDirectory(pidDir)) {
                return pids;
            }
            try (Stream<Path> files = Files.list(pidDir)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.startsWith("taskmanager-") && name.endsWith(".pid")) {
                        long pid = Long.parseLong(Files.readString(f).strip());
                        if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                            int index =
                                    Integer.parseInt(
                                            name.substring(
                                                    "taskmanager-".length(), name.length() - 4));
                            pids.put(index, pid);
                        }
                    }
                }
            }
            return pids;
        }

        /** The pid-file index of the TaskManager with this Flink resource id. */
        public Optional<Integer> taskManagerIndex(String resourceId) throws IOException {
            for (int index : taskManagerPids().keySet()) {
                Path log = dir.resolve("log").resolve("taskmanager-" + index + ".log");
                if (Files.exists(log)
                        && Files.readString(log).contains("ResourceID: " + resourceId)) {
                    return Optional.of(index);
                }
            }
            return Optional.empty();
        }

        /** {@code kill -9} of a TaskManager process. */
        public void killTaskManager(int index) throws Exception {
            long pid = taskManagerPids().get(index);
            ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
            h.destroyForcibly(); // SIGKILL
            h.onExit().get(30, TimeUnit.SECONDS);
            System.out.printf("E2E: killed TaskManager %d (pid %d) with SIGKILL%n", index, pid);
        }

        void ensureTaskManagers(int n) throws Exception {
            while (taskManagerPids().size() < n) {
                script(Duration.ofMinutes(2), "add-taskmanager");
            }
            // and registered with the ResourceManager, all slots free
            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < end) {
                JsonObject o = get("/overview").getAsJsonObject();
                if (o.get("taskmanagers").getAsInt() == n
                        && o.get("slots-available").getAsInt() == o.get("slots-total").getAsInt()) {
                    return;
                }
                Thread.sleep(200);
            }
            throw new IllegalStateException(
                    "the cluster does not show " + n + " idle TaskManagers: " + get("/overview"));
        }

        void cancelRunningJobs() throws Exception {
            JsonArray jobs = get("/jobs/overview").getAsJsonObject().getAsJsonArray("jobs");
            for (JsonElement e : jobs) {
                JsonObject j = e.getAsJsonObject();
                String state = j.get("state").getAsString();
                if (!List.of("FINISHED", "CANCELED", "FAILED").contains(state)) {
                    String id = j.get("jid").getAsString();
                    http.send(
                            HttpRequest.newBuilder(URI.create(url() + "/jobs/" + id))
                                    .method("PATCH", HttpRequest.BodyPublishers.noBody())
                                    .build(),
                            HttpResponse.BodyHandlers.discarding());
                    E2E.await(
                            Duration.ofSeconds(60),
                            "job " + id + " cancelled",
                            () -> {
                                String s = jobState(id);
                                return List.of("FINISHED", "CANCELED", "FAILED").contains(s);
                            });
                }
            }
        }

        public String jobState(String jobId) throws IOException, InterruptedException {
            return get("/jobs/" + jobId).getAsJsonObject().get("state").getAsString();
        }

        /** The Flink resource id of the TaskManager that runs this job's learner gateway. */
        public String gatewayTaskManager(String jobId) throws Exception {
            JsonObject job = get("/jobs/" + jobId).getAsJsonObject();
            for (JsonElement v : job.getAsJsonArray("vertices")) {
                JsonObject vertex = v.getAsJsonObject();
                if (vertex.get("name").getAsString().contains("learner-gateway")) {
                    JsonObject tms =
                            get("/jobs/"
                                            + jobId
                                            + "/vertices/"
                                            + vertex.get("id").getAsString()
                                            + "/taskmanagers")
                                    .getAsJsonObject();
                    for (JsonElement tm : tms.getAsJsonArray("taskmanagers")) {
                        JsonObject t = tm.getAsJsonObject();
                        if ("RUNNING".equals(t.get("status").getAsString())) {
                            return t.get("taskmanager-id").getAsString();
                        }
                    }
                }
            }
            throw new IllegalStateException("no running learner gateway in job " + jobId);
        }

        /** Number of restarts of a job (Flink's numRestarts metric). */
        public long restarts(String jobId) throws Exception {
            JsonArray m = get("/jobs/" + jobId + "/metrics?get=numRestarts").getAsJsonArray();
            return m.isEmpty() ? 0 : m.get(0).getAsJsonObject().get("value").getAsLong();
        }

        JsonElement get(String path) throws IOException, InterruptedException {
            HttpResponse<String> r =
                    http.send(
                            HttpRequest.newBuilder(URI.create(url() + path))
                                    .timeout(Duration.ofSeconds(20))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) {
                throw new IOException("GET " + path + ": HTTP " + r.statusCode() + " " + r.body());
            }
            return JsonParser.parseString(r.body());
        }

        /** The last lines of the cluster's logs, for a failing test's report. */
        public String logTail(int lines) {
            StringBuilder s = new StringBuilder();
            try (Stream<Path> files = Files.list(dir.resolve("log"))) {
                for (Path f : files.sorted().toList()) {
                    if (!f.toString().endsWith(".log")) {
                        continue;
                    }
                    List<String> all = Files.readAllLines(f);
                    s.append("==> ").append(f.getFileName()).append('\n');
                    for (String l : all.subList(Math.max(0, all.size() - lines), all.size())) {
                        s.append(l).append('\n');
                    }
                }
            } catch (IOException e) {
                s.append("(no logs: ").append(e).append(")");
            }
            return s.toString();
        }

        private void stopQuietly() {
            try {
                cancelRunningJobs();
            } catch (Exception e) {
                // the cluster may be gone already
            }
            try {
                script(Duration.ofMinutes(1), "stop");
            } catch (Exception e) {
                System.err.println("E2E: stopping the Flink cluster failed: " + e);
            }
        }

        @Override
        public void close() {
            stopQuietly();
        }
    }
}
