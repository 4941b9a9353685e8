package org.metisfl.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The few calls of Flink's REST API the CLI needs (jobs, jar upload and run, savepoints), over
 * {@link HttpClient}. Every failure becomes a {@link CliException} whose message names the cluster
 * and what to do.
 *
 * <pre>{@code
 * FlinkRestClient flink = FlinkRestClient.connect("http://localhost:8081");
 * String jar = flink.findJar("metisfl-flink-job-1a2b3c.jar").orElseGet(() -> flink.uploadJar(path, name));
 * String jobId = flink.runJar(jar, "org.metisfl.flink.FederationJob", args, null);
 * }</pre>
 */
public final class FlinkRestClient {
    private static final Pattern JOB_ID = Pattern.compile("[0-9a-fA-F]{32}");
    private static final Pattern CAUSE =
            Pattern.compile("^(?:Caused by: )?(?:[\\w$]+\\.)+[\\w$]*(?:Exception|Error): (.+)$");

    private final URI base;
    private final HttpClient http;
    private final Duration timeout;

    /** The command that lists the cluster's MetisFL jobs, for messages. */
    private String jobsCommand = "bin/metisfl jobs";

    FlinkRestClient(URI base, HttpClient http, Duration timeout) {
        this.base = base;
        this.http = http;
        this.timeout = timeout;
    }

    /** A client of the cluster at {@code url} (e.g. {@code http://localhost:8081}). */
    public static FlinkRestClient connect(String url) {
        return connect(url, null);
    }

    /**
     * A client of the cluster at {@code url}; an https cluster's certificate is checked against the
     * PEM CA {@code caFile} (null: the JDK's trust roots), and its host name against the
     * certificate.
     */
    public static FlinkRestClient connect(String url, Path caFile) {
        URI uri;
        try {
            uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        } catch (URISyntaxException e) {
            throw new CliException(
                    "'" + url + "' is not a URL; give the cluster as --cluster http://HOST:PORT",
                    CliException.USAGE);
        }
        if (uri.getScheme() == null
                || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                || uri.getHost() == null) {
            throw new CliException(
                    "'"
                            + url
                            + "' is not an http(s) URL; give the cluster as --cluster http://HOST:PORT",
                    CliException.USAGE);
        }
        HttpClient.Builder http =
                HttpClient.newBuilder()
                        .connectTimeout(Duration.ofSeconds(5))
                        .version(HttpClient.Version.HTTP_1_1);
        if (caFile != null && uri.getScheme().equals("https")) {
            http.sslContext(trusting(caFile));
        }
        return new FlinkRestClient(uri, http.build(), Duration.ofSeconds(60));
    }

    /** TLS that trusts the certificates of the PEM file {@code caFile} (and nothing else). */
    static javax.net.ssl.SSLContext trusting(Path caFile) {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(caFile)) {
            java.security.KeyStore roots = java.security.KeyStore.getInstance("PKCS12");
            roots.load(null, null);
            int n = 0;
            for (java.security.cert.Certificate c :
                    java.security.cert.CertificateFactory.getInstance("X.509")
                            .generateCertificates(in)) {
                roots.setCertificateEntry("ca-" + n++, c);
            }
            if (n == 0) {
                throw new CliException(
                        "the cluster CA " + caFile + " holds no PEM certificate",
                        CliException.USAGE);
            }
            javax.net.ssl.TrustManagerFactory tmf =
                    javax.net.ssl.TrustManagerFactory.getInstance(
                            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(roots);
            javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
            tls.init(null, tmf.getTrustManagers(), null);
            return tls;
        } catch (IOException e) {
            throw new CliException(
                    "cannot read the cluster CA " + caFile + ": " + e.getMessage(),
                    CliException.USAGE);
        } catch (java.security.GeneralSecurityException e) {
            throw new CliException(
                    "the cluster CA " + caFile + " is not a PEM certificate: " + e.getMessage(),
                    CliException.USAGE);
        }
    }

    public URI base() {
        return base;
    }

    /** True when the cluster runs on this machine (so its files are readable here). */
    public boolean isLocal() {
        String h = base.getHost();
        return h.equals("localhost")
                || h.equals("127.0.0.1")
                || h.equals("[::1]")
                || h.equals("::1")
                || h.startsWith("127.");
    }

    /** The address of a running job in the Flink web UI. */
    public String webUiLink(String jobId) {
        return webUiLink(jobId, true);
    }

    /** The address of a job in the Flink web UI (running and ended jobs have their own pages). */
    public String webUiLink(String jobId, boolean active) {
        return base + "/#/job/" + (active ? "running/" : "completed/") + jobId + "/overview";
    }

    /** Sets the command its messages suggest for listing the jobs (as the user runs the CLI). */
    public FlinkRestClient jobsCommand(String command) {
        this.jobsCommand = command;
        return this;
    }

    /** Checks a string is a Flink job id; the message tells how to find the right one. */
    public String checkJobId(String id) {
        if (!JOB_ID.matcher(id).matches()) {
            throw new CliException(
                    "'"
                            + id
                            + "' is not a Flink job id (32 hex digits); run '"
                            + jobsCommand
                            + "' to see the MetisFL jobs",
                    CliException.USAGE);
        }
        return id.toLowerCase(Locale.ROOT);
    }

    // ------------------------------------------------------------------------------------------
    // Jobs

    /** A job as Flink's job overview lists it. */
    public record JobInfo(String id, String name, String state, long startTime, long duration) {
        static final String METISFL_PREFIX = "MetisFL federation ";

        /** True for jobs that {@code FederationJob} submitted. */
        public boolean isMetisfl() {
            return name.startsWith(METISFL_PREFIX);
        }

        /** The federation's name, from the job name. */
        public String federation() {
            return isMetisfl() ? name.substring(METISFL_PREFIX.length()) : name;
        }

        /** True unless the job has ended (FINISHED, CANCELED, FAILED) or is suspended. */
        public boolean isActive() {
            return switch (state) {
                case "FINISHED", "CANCELED", "FAILED", "SUSPENDED" -> false;
                default -> true;
            };
        }
    }

    /** The cluster's overview; also the check that it is reachable. */
    public JsonObject overview() {
        return get("/overview").getAsJsonObject();
    }

    /** Every job the cluster knows, newest first. */
    public List<JobInfo> jobs() {
        JsonObject o = get("/jobs/overview").getAsJsonObject();
        List<JobInfo> jobs = new ArrayList<>();
        for (JsonElement e : o.getAsJsonArray("jobs")) {
            jobs.add(jobInfo(e.getAsJsonObject()));
        }
        jobs.sort((a, b) -> Long.compare(b.startTime(), a.startTime()));
        return jobs;
    }

    /** One job; a {@link CliException} naming the id if the cluster does not know it. */
    public JobInfo job(String jobId) {
        String id = checkJobId(jobId);
        Response r = send(request("/jobs/" + id).GET().build());
        if (r.status() == 404) {
            throw new CliException(
                    "job "
                            + id
                            + " not found on "
                            + base
                            + "; run '"
                            + jobsCommand
                            + "' to see the MetisFL jobs there");
        }
        JsonObject o = r.json("GET /jobs/" + id).getAsJsonObject();
        return new JobInfo(
                o.get("jid").getAsString(),
                o.get("name").getAsString(),
                o.get("state").getAsString(),
                o.get("start-time").getAsLong(),
                o.get("duration").getAsLong());
    }

    /**
     * The federation metrics of a running job ({@code federation.<name>.*} of its operators, by
     * name relative to that group, first subtask first), or an empty map if the cluster has none
     * (yet): the REST API refreshes them every {@code metrics.fetcher.update-interval}.
     */
    public Map<String, String> federationMetrics(String jobId, String federation) {
        String marker = ".federation." + federation + ".";
        Map<String, String> out = new TreeMap<>();
        try {
            JsonObject job = get("/jobs/" + checkJobId(jobId)).getAsJsonObject();
            for (JsonElement v : job.getAsJsonArray("vertices")) {
                String base =
                        "/jobs/"
                                + jobId
                                + "/vertices/"
                                + v.getAsJsonObject().get("id").getAsString()
                                + "/metrics";
                List<String> ids = new ArrayList<>();
                for (JsonElement m : get(base).getAsJsonArray()) {
                    String id = m.getAsJsonObject().get("id").getAsString();
                    if (id.contains(marker)) {
                        ids.add(id);
                    }
                }
                if (ids.isEmpty()) {
                    continue;
                }
                ids.sort(null); // subtask 0 first
                String query = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
                for (JsonElement m : get(base + "?get=" + query).getAsJsonArray()) {
                    JsonObject o = m.getAsJsonObject();
                    String id = o.get("id").getAsString();
                    if (o.has("value") && !o.get("value").isJsonNull()) {
                        out.putIfAbsent(
                                id.substring(id.indexOf(marker) + marker.length()),
                                o.get("value").getAsString());
                    }
                }
            }
        } catch (CliException | IllegalStateException | NullPointerException e) {
            return Map.of(); // metrics are a bonus: status still shows the rest
        }
        return out;
    }

    /** Where the operator's commands reach gateway {@code index}: its control endpoint. */
    public record GatewayControl(int index, String endpoint, String fingerprint) {}

    /**
     * The control endpoints of a running job's gateways, as their {@code controlEndpoint} and
     * {@code controlFingerprint} metrics publish them (empty until the REST API fetched the metrics
     * once: every {@code metrics.fetcher.update-interval}), by gateway index.
     */
    public List<GatewayControl> gatewayControls(String jobId, String federation) {
        String marker = ".federation." + federation + ".";
        Map<String, Map<String, String>> bySubtask = new TreeMap<>();
        JsonObject job = get("/jobs/" + checkJobId(jobId)).getAsJsonObject();
        for (JsonElement v : job.getAsJsonArray("vertices")) {
            String base =
                    "/jobs/"
                            + jobId
                            + "/vertices/"
                            + v.getAsJsonObject().get("id").getAsString()
                            + "/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonElement m : get(base).getAsJsonArray()) {
                String id = m.getAsJsonObject().get("id").getAsString();
                if (id.contains(marker)
                        && (id.endsWith(marker + "controlEndpoint")
                                || id.endsWith(marker + "controlFingerprint")
                                || id.endsWith(marker + "gatewayIndex"))) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            String query = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
            for (JsonElement m : get(base + "?get=" + query).getAsJsonArray()) {
                JsonObject o = m.getAsJsonObject();
                String id = o.get("id").getAsString();
                if (!o.has("value") || o.get("value").isJsonNull()) {
                    continue;
                }
                String subtask = id.substring(0, id.indexOf('.'));
                bySubtask
                        .computeIfAbsent(subtask, k -> new TreeMap<>())
                        .put(
                                id.substring(id.indexOf(marker) + marker.length()),
                                o.get("value").getAsString());
            }
        }
        List<GatewayControl> out = new ArrayList<>();
        for (Map<String, String> m : bySubtask.values()) {
            if (m.containsKey("controlEndpoint") && m.containsKey("controlFingerprint")) {
                int index;
                try {
                    index = Integer.parseInt(m.getOrDefault("gatewayIndex", "-1"));
                } catch (NumberFormatException e) {
                    index = -1;
                }
                out.add(
                        new GatewayControl(
                                index, m.get("controlEndpoint"), m.get("controlFingerprint")));
            }
        }
        out.sort(java.util.Comparator.comparingInt(GatewayControl::index));
        return out;
    }

    private static JobInfo jobInfo(JsonObject o) {
        return new JobInfo(
                o.get("jid").getAsString(),
                o.get("name").getAsString(),
                o.get("state").getAsString(),
                o.get("start-time").getAsLong(),
                o.get("duration").getAsLong());
    }

    // ------------------------------------------------------------------------------------------
    // Jars

    /** The id of an uploaded jar of this file name, if the cluster has one. */
    public Optional<String> findJar(String fileName) {
        JsonObject o = get("/jars").getAsJsonObject();
        JsonArray files = o.has("files") ? o.getAsJsonArray("files") : new JsonArray();
        String best = null;
        long newest = Long.MIN_VALUE;
        for (JsonElement e : files) {
            JsonObject f = e.getAsJsonObject();
            long uploaded = f.has("uploaded") ? f.get("uploaded").getAsLong() : 0;
            if (fileName.equals(f.get("name").getAsString()) && uploaded > newest) {
                best = f.get("id").getAsString();
                newest = uploaded;
            }
        }
        return Optional.ofNullable(best);
    }

    /** Uploads a jar under {@code fileName}; returns its id on the cluster. */
    public String uploadJar(Path jar, String fileName) {
        String boundary = "metisfl-" + UUID.randomUUID();
        String head =
                "--"
                        + boundary
                        + "\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\""
                        + fileName
                        + "\"\r\nContent-Type: application/x-java-archive\r\n\r\n";
        String tail = "\r\n--" + boundary + "--\r\n";
        HttpRequest.BodyPublisher body;
        try {
            body =
                    HttpRequest.BodyPublishers.concat(
                            HttpRequest.BodyPublishers.ofString(head),
                            HttpRequest.BodyPublishers.ofFile(jar),
                            HttpRequest.BodyPublishers.ofString(tail));
        } catch (IOException e) {
            throw new CliException(
                    "cannot read the job jar " + jar + " (" + e.getMessage() + "); build it first");
        }
        Response r =
                send(
                        request("/jars/upload")
                                .timeout(Duration.ofMinutes(5))
                                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                                .POST(body)
                                .build());
        JsonObject o = r.expectOk("uploading the job jar").getAsJsonObject();
        String path = o.get("filename").getAsString();
        return Path.of(path).getFileName().toString();
    }

    /**
     * Runs an uploaded jar's main class with these program arguments, optionally restoring a
     * savepoint; returns the new job's id.
     */
    public String runJar(
            String jarId, String entryClass, List<String> programArgs, String savepointPath) {
        JsonObject body = new JsonObject();
        body.addProperty("entryClass", entryClass);
        JsonArray args = new JsonArray();
        programArgs.forEach(args::add);
        body.add("programArgsList", args);
        if (savepointPath != null) {
            body.addProperty("savepointPath", savepointPath);
            body.addProperty("allowNonRestoredState", false);
        }
        Response r =
                send(
                        request("/jars/" + jarId + "/run")
                                .timeout(Duration.ofMinutes(2))
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                                .build());
        JsonObject o =
                r.expectOk(
                                savepointPath == null
                                        ? "starting the federation job"
                                        : "resuming the federation job from " + savepointPath)
                        .getAsJsonObject();
        return o.get("jobid").getAsString();
    }

    // ------------------------------------------------------------------------------------------
    // Savepoints

    /** The state of an asynchronous savepoint operation. */
    public record SavepointStatus(boolean done, String location, String failure) {}

    /** Triggers a savepoint and leaves the job running; returns the request id to poll. */
    public String triggerSavepoint(String jobId, String targetDirectory) {
        JsonObject body = new JsonObject();
        body.addProperty("cancel-job", false);
        if (targetDirectory != null) {
            body.addProperty("target-directory", targetDirectory);
        }
        return postForRequestId(
                "/jobs/" + jobId + "/savepoints", body, "triggering a savepoint of job " + jobId);
    }

    /** Stops a job with a savepoint (stop-with-savepoint); returns the request id to poll. */
    public String stopWithSavepoint(String jobId, String targetDirectory, boolean drain) {
        JsonObject body = new JsonObject();
        body.addProperty("drain", drain);
        if (targetDirectory != null) {
            body.addProperty("targetDirectory", targetDirectory);
        }
        return postForRequestId(
                "/jobs/" + jobId + "/stop", body, "stopping job " + jobId + " with a savepoint");
    }

    private String postForRequestId(String path, JsonObject body, String what) {
        Response r =
                send(
                        request(path)
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                                .build());
        if (r.status() == 404) {
            throw new CliException(
                    "job not found on "
                            + base
                            + " while "
                            + what
                            + "; run '"
                            + jobsCommand
                            + "' to see the MetisFL jobs there");
        }
        return r.expectOk(what).getAsJsonObject().get("request-id").getAsString();
    }

    /** The state of a savepoint request. */
    public SavepointStatus savepointStatus(String jobId, String requestId) {
        JsonObject o = get("/jobs/" + jobId + "/savepoints/" + requestId).getAsJsonObject();
        String status = o.getAsJsonObject("status").get("id").getAsString();
        if (!"COMPLETED".equals(status)) {
            return new SavepointStatus(false, null, null);
        }
        JsonObject op = o.has("operation") ? o.getAsJsonObject("operation") : new JsonObject();
        if (op.has("location") && !op.get("location").isJsonNull()) {
            return new SavepointStatus(true, op.get("location").getAsString(), null);
        }
        String reason = "no reason given";
        if (op.has("failure-cause")) {
            JsonObject cause = op.getAsJsonObject("failure-cause");
            if (cause.has("stack-trace")) {
                reason = rootCause(cause.get("stack-trace").getAsString());
            } else if (cause.has("class")) {
                reason = cause.get("class").getAsString();
            }
        }
        return new SavepointStatus(true, null, reason);
    }

    // ------------------------------------------------------------------------------------------
    // Plumbing

    private record Response(int status, String body, FlinkRestClient client, String path) {
        JsonElement json(String what) {
            try {
                return JsonParser.parseString(body);
            } catch (JsonParseException e) {
                throw new CliException(
                        client.base
                                + path
                                + " answered "
                                + status
                                + " with something other than JSON; is --cluster the Flink REST"
                                + " address (e.g. http://localhost:8081)?");
            }
        }

        JsonElement expectOk(String what) {
            if (status / 100 == 2) {
                return json(what);
            }
            throw new CliException(
                    "Flink at "
                            + client.base
                            + " refused "
                            + what
                            + " (HTTP "
                            + status
                            + "): "
                            + errorMessage(body));
        }
    }

    private JsonElement get(String path) {
        return send(request(path).GET().build()).expectOk("GET " + path);
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout);
    }

    private Response send(HttpRequest request) {
        try {
            HttpResponse<String> r =
                    http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Response(r.statusCode(), r.body(), this, request.uri().getPath());
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw unreachable(e);
        } catch (HttpTimeoutException e) {
            throw new CliException(
                    "the Flink cluster at "
                            + base
                            + " did not answer "
                            + request.method()
                            + " "
                            + request.uri().getPath()
                            + " in time; check its JobManager log");
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }

    private CliException unreachable(IOException e) {
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (e instanceof ConnectException && e.getMessage() == null) {
            detail = "connection refused";
        }
        return new CliException(
                "cannot reach the Flink cluster at "
                        + base
                        + " ("
                        + detail
                        + "); start the local cluster with bin/flink-cluster start, or pass"
                        + " --cluster http://HOST:PORT",
                CliException.FAILED,
                e);
    }

    /** The most telling line of a Flink REST error body: the root cause's message. */
    static String errorMessage(String body) {
        try {
            JsonObject o = JsonParser.parseString(body).getAsJsonObject();
            JsonArray errors = o.getAsJsonArray("errors");
            String best = null;
            for (JsonElement e : errors) {
                String text = e.getAsString();
                if (text.equals("Internal server error.")) {
                    continue;
                }
                best = rootCause(text);
            }
            return best == null ? "Internal server error" : best;
        } catch (RuntimeException e) {
            return body.length() > 200 ? body.substring(0, 200) + "..." : body;
        }
    }

    /** The message of the deepest cause in a Java stack trace, or its first line. */
    static String rootCause(String stackTrace) {
        String message = null;
        for (String line : stackTrace.split("\n")) {
            String l = line.strip();
            if (l.startsWith("<Exception on server side:")) {
                continue;
            }
            Matcher m = CAUSE.matcher(l);
            if (m.matches()) {
                message = m.group(1);
            } else if (message == null && !l.isEmpty() && !l.startsWith("at ")) {
                message = l;
            }
        }
        return message == null ? stackTrace.strip() : message;
    }
}
