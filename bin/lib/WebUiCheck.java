import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.metisfl.cli.FlinkRestClient;

/**
 * Checks in a headless Chromium that the Flink web UI shows a running federation's metrics on the
 * round-coordinator operator: opens the operator's Metrics tab, adds {@code round}, {@code
 * activeLearners} and {@code lastAccuracy} as a user would (the "Add metric" selector), waits
 * until their values show, compares them with the REST API's, and saves a screenshot. Run by
 * {@code bin/check-web-ui}, which gives it the CLI's classpath.
 */
public final class WebUiCheck {
    private static final List<String> METRICS = List.of("round", "activeLearners", "lastAccuracy");
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public static void main(String[] args) throws Exception {
        String cluster = args[0];
        String federation = args[1];
        Path out = Path.of(args[2]);
        String chromium = args[3];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[4]));

        // The job, its coordinator vertex and the metric ids the web UI lists for it.
        FlinkRestClient flink = FlinkRestClient.connect(cluster);
        String job = null;
        for (FlinkRestClient.JobInfo j : flink.jobs()) {
            if (j.isActive() && j.federation().equals(federation)) {
                job = j.id();
                break;
            }
        }
        if (job == null) {
            fail("no running federation '" + federation + "' on " + cluster);
        }
        String vertex = null;
        Map<String, String> ids = new LinkedHashMap<>();
        String marker = ".federation." + federation + ".";
        while (vertex == null) {
            for (JsonElement v : getJson(cluster + "/jobs/" + job).getAsJsonObject().getAsJsonArray("vertices")) {
                String vid = v.getAsJsonObject().get("id").getAsString();
                for (JsonElement m : getJson(cluster + "/jobs/" + job + "/vertices/" + vid + "/metrics").getAsJsonArray()) {
                    String id = m.getAsJsonObject().get("id").getAsString();
                    for (String name : METRICS) {
                        if (id.startsWith("0.") && id.endsWith(marker + name)) {
                            ids.put(name, id);
                            vertex = vid;
                        }
                    }
                }
            }
            if (vertex == null || ids.size() < METRICS.size()) {
                vertex = null;
                if (System.nanoTime() > deadline) {
                    fail("the job's operators have no federation metrics " + METRICS);
                }
                Thread.sleep(1000);
            }
        }
        String page = cluster + "/#/job/running/" + job + "/overview/" + vertex + "/metrics";
        System.out.println("Web UI page: " + page);

        Path profile = Files.createTempDirectory("metisfl-chromium");
        Process browser =
                new ProcessBuilder(
                                chromium,
                                "--headless=new",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-dev-shm-usage",
                                "--window-size=1400,1000",
                                "--remote-debugging-address=127.0.0.1",
                                "--remote-debugging-port=0",
                                "--user-data-dir=" + profile,
                                "about:blank")
                        .redirectErrorStream(true)
                        .redirectOutput(profile.resolve("chromium.log").toFile())
                        .start();
        try {
            Path portFile = profile.resolve("DevToolsActivePort");
            while (!Files.exists(portFile) || Files.readAllLines(portFile).size() < 2) {
                if (!browser.isAlive() || System.nanoTime() > deadline) {
                    fail("chromium did not start: " + Files.readString(profile.resolve("chromium.log")));
                }
                Thread.sleep(200);
            }
            int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
            String ws = null;
            for (JsonElement t : getJson("http://127.0.0.1:" + port + "/json/list").getAsJsonArray()) {
                if (t.getAsJsonObject().get("type").getAsString().equals("page")) {
                    ws = t.getAsJsonObject().get("webSocketDebuggerUrl").getAsString();
                }
            }
            Cdp cdp = new Cdp(ws);
            cdp.call("Page.enable", new JsonObject());
            JsonObject nav = new JsonObject();
            nav.addProperty("url", page);
            cdp.call("Page.navigate", nav);

            String script = Files.readString(Path.of(args[5]));
            String idList = new Gson().toJson(new ArrayList<>(ids.values()));
            Map<String, String> shown = Map.of();
            String last = "";
            String previous = "";
            while (true) {
                JsonObject eval = new JsonObject();
                eval.addProperty("expression", "(" + script + ")(" + idList + ")");
                eval.addProperty("awaitPromise", true);
                eval.addProperty("returnByValue", true);
                JsonObject r = cdp.call("Runtime.evaluate", eval);
                last = r.getAsJsonObject("result").has("value")
                        ? r.getAsJsonObject("result").get("value").getAsString()
                        : r.toString();
                if (!last.equals(previous)) {
                    System.out.println("  web UI: " + last);
                    previous = last;
                }
                JsonObject state = JsonParser.parseString(last).getAsJsonObject();
                if (state.get("state").getAsString().equals("ok")) {
                    shown = new LinkedHashMap<>();
                    for (JsonElement c : state.getAsJsonArray("charts")) {
                        shown.put(c.getAsJsonArray().get(0).getAsString(), c.getAsJsonArray().get(1).getAsString());
                    }
                    if (agrees(shown, ids, flink.federationMetrics(job, federation))) {
                        break;
                    }
                }
                if (System.nanoTime() > deadline) {
                    screenshot(cdp, out);
                    fail("the web UI did not show the metrics with the REST API's values; last seen: " + last);
                }
                Thread.sleep(1000);
            }
            screenshot(cdp, out);
            for (String name : METRICS) {
                System.out.println("  " + ids.get(name) + " = " + shown.get(ids.get(name)));
            }
            System.out.println("OK: the web UI shows the federation's metrics; screenshot " + out);
        } finally {
            browser.destroyForcibly();
        }
    }

    /** Every metric shows a value, and it is the REST API's (the same poll or the one before). */
    private static boolean agrees(Map<String, String> shown, Map<String, String> ids, Map<String, String> rest) {
        for (Map.Entry<String, String> e : ids.entrySet()) {
            String dom = shown.get(e.getValue());
            String api = rest.get(e.getKey());
            if (dom == null || dom.isBlank() || api == null) {
                return false;
            }
            if (e.getKey().equals("lastAccuracy") && api.equals("NaN")) {
                return false; // wait for the first evaluated round
            }
            double d;
            double a;
            try {
                d = Double.parseDouble(dom.replace(",", ""));
                a = Double.parseDouble(api);
            } catch (NumberFormatException x) {
                return false;
            }
            if (Math.abs(d - a) > 1e-3 * Math.max(1, Math.abs(a))) {
                return false;
            }
        }
        return true;
    }

    private static void screenshot(Cdp cdp, Path out) throws Exception {
        JsonObject r = cdp.call("Page.captureScreenshot", new JsonObject());
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.write(out, Base64.getDecoder().decode(r.get("data").getAsString()));
    }

    private static JsonElement getJson(String url) throws IOException, InterruptedException {
        HttpResponse<String> r =
                HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            fail("GET " + url + " answered " + r.statusCode() + ": " + r.body());
        }
        return JsonParser.parseString(r.body());
    }

    private static void fail(String why) {
        System.err.println("check-web-ui: " + why);
        System.exit(1);
    }

    /** A minimal Chrome DevTools Protocol client over the JDK's WebSocket. */
    private static final class Cdp implements WebSocket.Listener {
        private final WebSocket socket;
        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonObject>> pending = new ConcurrentHashMap<>();
        private final StringBuilder partial = new StringBuilder();

        Cdp(String url) throws Exception {
            socket = HTTP.newWebSocketBuilder().buildAsync(URI.create(url), this).get(10, TimeUnit.SECONDS);
        }

        JsonObject call(String method, JsonObject params) throws Exception {
            int id = ids.incrementAndGet();
            CompletableFuture<JsonObject> f = new CompletableFuture<>();
            pending.put(id, f);
            JsonObject msg = new JsonObject();
            msg.addProperty("id", id);
            msg.addProperty("method", method);
            msg.add("params", params);
            socket.sendText(msg.toString(), true).get(10, TimeUnit.SECONDS);
            JsonObject r = f.get(60, TimeUnit.SECONDS);
            if (r.has("error")) {
                throw new IllegalStateException(method + ": " + r.get("error"));
            }
            return r.getAsJsonObject("result");
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                JsonObject o = JsonParser.parseString(partial.toString()).getAsJsonObject();
                partial.setLength(0);
                if (o.has("id")) {
                    CompletableFuture<JsonObject> f = pending.remove(o.get("id").getAsInt());
                    if (f != null) {
                        f.complete(o);
                    }
                }
            }
            ws.request(1);
            return null;
        }
    }
}
