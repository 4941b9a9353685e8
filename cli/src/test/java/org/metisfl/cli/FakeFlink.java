package org.metisfl.cli;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An in-process stand-in for the parts of Flink's REST API the CLI uses, with scripted answers and
 * a log of the requests it received.
 */
final class FakeFlink implements AutoCloseable {
    private static final Pattern FILENAME = Pattern.compile("filename=\"([^\"]+)\"");

    record Request(String method, String path, String body) {}

    record Job(String id, String name, String state) {}

    private final HttpServer server;
    final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    final Map<String, Job> jobs = Collections.synchronizedMap(new LinkedHashMap<>());
    final List<JsonObject> jars = Collections.synchronizedList(new ArrayList<>());

    /**
     * Federation metrics of a job's coordinator vertex, by job id: name relative to {@code
     * federation.<name>} to value.
     */
    final Map<String, Map<String, String>> metrics = new java.util.concurrent.ConcurrentHashMap<>();

    /** If set, {@code POST /jars/{id}/run} fails with this Flink error text. */
    volatile String runError;

    /** If set, savepoints fail with this stack trace as their failure cause. */
    volatile String savepointFailure;

    /** Polls of a savepoint request that answer IN_PROGRESS before it completes. */
    volatile int savepointPollsInProgress = 2;

    private final AtomicInteger polls = new AtomicInteger();
    private final AtomicInteger jobCounter = new AtomicInteger();

    FakeFlink() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    Job addJob(String name, String state) {
        String id = String.format("%032x", 0xabc000L + jobCounter.incrementAndGet());
        Job j = new Job(id, name, state);
        jobs.put(id, j);
        return j;
    }

    List<Request> requests(String method, String pathPrefix) {
        synchronized (requests) {
            return requests.stream()
                    .filter(r -> r.method.equals(method) && r.path.startsWith(pathPrefix))
                    .toList();
        }
    }

    private void handle(HttpExchange x) throws IOException {
        String method = x.getRequestMethod();
        String path = x.getRequestURI().getPath();
        String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.ISO_8859_1);
        requests.add(new Request(method, path, body));
        String[] p = path.substring(1).split("/");
        try {
            if (method.equals("GET") && path.equals("/overview")) {
                reply(x, 200, "{\"taskmanagers\":2,\"slots-total\":4,\"slots-available\":4}");
            } else if (method.equals("GET") && path.equals("/jobs/overview")) {
                JsonArray list = new JsonArray();
                synchronized (jobs) {
                    long t = 1_000;
                    for (Job j : jobs.values()) {
                        list.add(jobJson(j, t++));
                    }
                }
                JsonObject o = new JsonObject();
                o.add("jobs", list);
                reply(x, 200, o.toString());
            } else if (method.equals("GET") && p.length == 2 && p[0].equals("jobs")) {
                Job j = jobs.get(p[1]);
                if (j == null) {
                    error(
                            x,
                            404,
                            "org.apache.flink.runtime.rest.NotFoundException: Job "
                                    + p[1]
                                    + " not found");
                } else {
                    JsonObject o = jobJson(j, 1_000);
                    JsonArray vertices = new JsonArray();
                    for (String v : List.of("gateway", "coordinator")) {
                        JsonObject vertex = new JsonObject();
                        vertex.addProperty("id", v);
                        vertex.addProperty("name", v);
                        vertices.add(vertex);
                    }
                    o.add("vertices", vertices);
                    reply(x, 200, o.toString());
                }
            } else if (method.equals("GET")
                    && p.length == 5
                    && p[0].equals("jobs")
                    && p[4].equals("metrics")) {
                Map<String, String> m =
                        p[3].equals("coordinator")
                                ? metrics.getOrDefault(p[1], Map.of())
                                : Map.of();
                String prefix =
                        "0.coordinator.federation."
                                + jobs.get(p[1]).name.substring("MetisFL federation ".length())
                                + ".";
                String query = x.getRequestURI().getQuery();
                JsonArray list = new JsonArray();
                m.forEach(
                        (k, v) -> {
                            if (query == null || query.contains(prefix + k)) {
                                JsonObject o = new JsonObject();
                                o.addProperty("id", prefix + k);
                                if (query != null) {
                                    o.addProperty("value", v);
                                }
                                list.add(o);
                            }
                        });
                reply(x, 200, list.toString());
            } else if (method.equals("GET") && path.equals("/jars")) {
                JsonObject o = new JsonObject();
                JsonArray files = new JsonArray();
                jars.forEach(files::add);
                o.add("files", files);
                reply(x, 200, o.toString());
            } else if (method.equals("POST") && path.equals("/jars/upload")) {
                Matcher m = FILENAME.matcher(body);
                if (!m.find()) {
                    error(x, 400, "no jarfile part");
                    return;
                }
                String id = UUID.randomUUID() + "_" + m.group(1);
                JsonObject jar = new JsonObject();
                jar.addProperty("id", id);
                jar.addProperty("name", m.group(1));
                jar.addProperty("uploaded", System.currentTimeMillis());
                jars.add(jar);
                reply(
                        x,
                        200,
                        "{\"filename\":\"/tmp/flink-web-upload/"
                                + id
                                + "\",\"status\":\"success\"}");
            } else if (method.equals("POST")
                    && p.length == 3
                    && p[0].equals("jars")
                    && p[2].equals("run")) {
                if (runError != null) {
                    error(x, 500, runError);
                    return;
                }
                JsonObject req = JsonParser.parseString(body).getAsJsonObject();
                String name = "MetisFL federation " + federationName(req);
                Job j = addJob(name, "RUNNING");
                reply(x, 200, "{\"jobid\":\"" + j.id + "\"}");
            } else if (method.equals("POST")
                    && p.length == 3
                    && p[0].equals("jobs")
                    && (p[2].equals("stop") || p[2].equals("savepoints"))) {
                Job j = jobs.get(p[1]);
                if (j == null) {
                    error(x, 404, "Job not found");
                    return;
                }
                polls.set(0);
                reply(x, 202, "{\"request-id\":\"" + p[2] + "-request\"}");
            } else if (method.equals("GET") && p.length == 4 && p[2].equals("savepoints")) {
                Job j = jobs.get(p[1]);
                if (polls.incrementAndGet() <= savepointPollsInProgress) {
                    reply(x, 200, "{\"status\":{\"id\":\"IN_PROGRESS\"}}");
                    return;
                }
                JsonObject o = new JsonObject();
                JsonObject status = new JsonObject();
                status.addProperty("id", "COMPLETED");
                o.add("status", status);
                JsonObject op = new JsonObject();
                if (savepointFailure != null) {
                    JsonObject cause = new JsonObject();
                    cause.addProperty("class", "java.util.concurrent.CompletionException");
                    cause.addProperty("stack-trace", savepointFailure);
                    op.add("failure-cause", cause);
                } else {
                    op.addProperty(
                            "location", "file:/savepoints/savepoint-" + p[1].substring(0, 6));
                    if (p[3].startsWith("stop")) {
                        jobs.put(j.id, new Job(j.id, j.name, "FINISHED"));
                    }
                }
                o.add("operation", op);
                reply(x, 200, o.toString());
            } else {
                error(x, 404, "Not found: " + path);
            }
        } catch (RuntimeException e) {
            error(x, 500, e.toString());
        }
    }

    private static String federationName(JsonObject runRequest) {
        List<String> args =
                new Gson().fromJson(runRequest.getAsJsonArray("programArgsList"), List.class);
        for (String a : args) {
            if (a.startsWith("federation.name=")) {
                return a.substring("federation.name=".length());
            }
        }
        return "federation";
    }

    private static JsonObject jobJson(Job j, long startTime) {
        JsonObject o = new JsonObject();
        o.addProperty("jid", j.id);
        o.addProperty("name", j.name);
        o.addProperty("state", j.state);
        o.addProperty("start-time", startTime);
        o.addProperty("duration", 65_000);
        return o;
    }

    private static void error(HttpExchange x, int status, String text) throws IOException {
        JsonObject o = new JsonObject();
        JsonArray errors = new JsonArray();
        errors.add(text);
        o.add("errors", errors);
        reply(x, status, o.toString());
    }

    private static void reply(HttpExchange x, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
