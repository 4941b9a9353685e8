package org.metisfl.cli.report;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;

/**
 * A federation's report: one self-contained HTML file (charts embedded as PNG, the per-round data
 * as a table and as a JSON block) plus the same charts as PNG files next to it, from the
 * federation's results file.
 *
 * <pre>{@code
 * Path html = FederationReport.write(Path.of("results/quickstart.jsonl"));
 * // results/quickstart.html, results/quickstart-accuracy.png, ...
 * }</pre>
 */
public final class FederationReport {
    /** The id of the HTML element holding the rows as JSON (one object per round). */
    public static final String DATA_ELEMENT_ID = "metisfl-rounds";

    /** The charts, in the order of the report: file suffix and title. */
    public static final Map<String, String> CHARTS = charts();

    /**
     * What the report shows of one round; {@code null} where the round has no such metric.
     *
     * @param round the round (asynchronous protocols: the model version)
     * @param accuracy global test accuracy of the round's new model
     * @param loss global test loss of the round's new model
     * @param trainLoss example-weighted mean of the contributors' training loss
     * @param roundTimeSeconds from the round's start to its close
     * @param participants learners selected for the round
     * @param contributors learners whose update counted
     * @param aborted the round closed without its quorum
     */
    public record Row(
            long round,
            Double accuracy,
            Double loss,
            Double trainLoss,
            double roundTimeSeconds,
            int participants,
            int contributors,
            boolean aborted) {

        static Row of(RoundResult r) {
            return new Row(
                    r.round,
                    metric(r.evalMetrics, "accuracy"),
                    metric(r.evalMetrics, "loss"),
                    metric(r.trainMetrics, "loss"),
                    r.roundTimeMs / 1000.0,
                    r.participants,
                    r.contributors == null ? 0 : r.contributors.size(),
                    r.aborted);
        }
    }

    private FederationReport() {}

    private static Map<String, String> charts() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("accuracy", "Global test accuracy");
        c.put("loss", "Loss");
        c.put("round-time", "Round time");
        c.put("learners", "Participants and contributors");
        return java.util.Collections.unmodifiableMap(c);
    }

    /** The report's HTML path for a results file: {@code x.jsonl} gives {@code x.html}. */
    public static Path defaultHtml(Path resultsFile) {
        String name = resultsFile.getFileName().toString();
        String base = name.endsWith(".jsonl") ? name.substring(0, name.length() - 6) : name;
        return resultsFile.resolveSibling(base + ".html");
    }

    /** Writes the report of {@code resultsFile} next to it; returns the HTML file. */
    public static Path write(Path resultsFile) throws IOException {
        return write(resultsFile, defaultHtml(resultsFile));
    }

    /**
     * Writes the report of {@code resultsFile} to {@code html}, and each chart to {@code <html
     * base>-<chart>.png} beside it.
     *
     * @throws IllegalArgumentException if the results file holds no round
     */
    public static Path write(Path resultsFile, Path html) throws IOException {
        List<RoundResult> results = RoundResults.read(resultsFile);
        if (results.isEmpty()) {
            throw new IllegalArgumentException(
                    Files.exists(resultsFile)
                            ? "the results file "
                                    + resultsFile
                                    + " holds no complete round yet; report once a round has"
                                    + " closed"
                            : "the results file " + resultsFile + " does not exist");
        }
        String federation = results.get(0).federation;
        return write(results, federation == null ? "federation" : federation, resultsFile, html);
    }

    /** Writes the report of {@code results} (in round order) to {@code html} and PNGs. */
    public static Path write(List<RoundResult> results, String federation, Path source, Path html)
            throws IOException {
        List<Row> rows = new ArrayList<>(results.size());
        for (RoundResult r : results) {
            rows.add(Row.of(r));
        }
        Path dir = html.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        String base = html.getFileName().toString().replaceFirst("\\.html?$", "");
        Map<String, byte[]> pngs = draw(rows);
        for (Map.Entry<String, byte[]> png : pngs.entrySet()) {
            Files.write(dir.resolve(base + "-" + png.getKey() + ".png"), png.getValue());
        }
        Files.writeString(html, html(rows, federation, results, source, pngs));
        return html;
    }

    /** The charts of the rows as PNGs, keyed by {@link #CHARTS}' suffixes. */
    static Map<String, byte[]> draw(List<Row> rows) {
        Map<String, List<Charts.Point>> accuracy = new LinkedHashMap<>();
        Map<String, List<Charts.Point>> loss = new LinkedHashMap<>();
        Map<String, List<Charts.Point>> time = new LinkedHashMap<>();
        Map<String, List<Charts.Point>> learners = new LinkedHashMap<>();
        List<Charts.Point> acc = new ArrayList<>();
        List<Charts.Point> testLoss = new ArrayList<>();
        List<Charts.Point> trainLoss = new ArrayList<>();
        List<Charts.Point> seconds = new ArrayList<>();
        List<Charts.Point> participants = new ArrayList<>();
        List<Charts.Point> contributors = new ArrayList<>();
        for (Row r : rows) {
            acc.add(new Charts.Point(r.round(), r.accuracy()));
            testLoss.add(new Charts.Point(r.round(), r.loss()));
            trainLoss.add(new Charts.Point(r.round(), r.trainLoss()));
            seconds.add(new Charts.Point(r.round(), r.roundTimeSeconds()));
            participants.add(new Charts.Point(r.round(), (double) r.participants()));
            contributors.add(new Charts.Point(r.round(), (double) r.contributors()));
        }
        accuracy.put("test accuracy", acc);
        loss.put("test loss", testLoss);
        loss.put("train loss (contributors' mean)", trainLoss);
        time.put("round time", seconds);
        learners.put("participants", participants);
        learners.put("contributors", contributors);
        Map<String, byte[]> pngs = new LinkedHashMap<>();
        pngs.put(
                "accuracy",
                Charts.lineChart(
                        CHARTS.get("accuracy"), "round", "accuracy", accuracy, Charts.YAxis.FIT));
        pngs.put(
                "loss",
                Charts.lineChart(CHARTS.get("loss"), "round", "loss", loss, Charts.YAxis.FIT));
        pngs.put(
                "round-time",
                Charts.lineChart(
                        CHARTS.get("round-time"),
                        "round",
                        "seconds",
                        time,
                        Charts.YAxis.FROM_ZERO));
        pngs.put(
                "learners",
                Charts.lineChart(
                        CHARTS.get("learners"), "round", "learners", learners, Charts.YAxis.COUNT));
        return pngs;
    }

    private static String html(
            List<Row> rows,
            String federation,
            List<RoundResult> results,
            Path source,
            Map<String, byte[]> pngs) {
        Row last = rows.get(rows.size() - 1);
        Row best = null;
        for (Row r : rows) {
            if (r.accuracy() != null && (best == null || r.accuracy() > best.accuracy())) {
                best = r;
            }
        }
        long aborted = rows.stream().filter(Row::aborted).count();
        long start = results.stream().mapToLong(r -> r.startedAtMs).min().orElse(0);
        long end = results.stream().mapToLong(r -> r.closedAtMs).max().orElse(0);
        double meanRound = rows.stream().mapToDouble(Row::roundTimeSeconds).average().orElse(0);
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
                .append("<title>MetisFL report: ")
                .append(escape(federation))
                .append("</title>\n<style>")
                .append("body{font-family:sans-serif;margin:2em;max-width:960px}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;")
                .append("padding:2px 8px;text-align:right}img{max-width:100%}")
                .append("</style></head><body>\n")
                .append("<h1>Federation '")
                .append(escape(federation))
                .append("'</h1>\n<ul>\n");
        item(h, "rounds", rows.size() + (aborted > 0 ? " (" + aborted + " aborted)" : ""));
        item(h, "final test accuracy", format(last.accuracy()) + " (round " + last.round() + ")");
        if (best != null) {
            item(
                    h,
                    "best test accuracy",
                    format(best.accuracy()) + " (round " + best.round() + ")");
        }
        item(h, "final test loss", format(last.loss()));
        if (end > start && start > 0) {
            item(h, "wall-clock time", String.format(Locale.ROOT, "%.1f s", (end - start) / 1e3));
        }
        item(h, "mean round time", String.format(Locale.ROOT, "%.1f s", meanRound));
        item(h, "results file", escape(String.valueOf(source)));
        h.append("</ul>\n");
        for (Map.Entry<String, byte[]> png : pngs.entrySet()) {
            h.append("<h2>")
                    .append(escape(CHARTS.get(png.getKey())))
                    .append("</h2>\n<img alt=\"")
                    .append(escape(CHARTS.get(png.getKey())))
                    .append("\" src=\"data:image/png;base64,")
                    .append(Base64.getEncoder().encodeToString(png.getValue()))
                    .append("\">\n");
        }
        h.append("<h2>Rounds</h2>\n<table>\n<tr><th>round</th><th>test accuracy</th>")
                .append("<th>test loss</th><th>train loss</th><th>round time (s)</th>")
                .append("<th>participants</th><th>contributors</th><th></th></tr>\n");
        for (Row r : rows) {
            h.append("<tr><td>")
                    .append(r.round())
                    .append("</td><td>")
                    .append(format(r.accuracy()))
                    .append("</td><td>")
                    .append(format(r.loss()))
                    .append("</td><td>")
                    .append(format(r.trainLoss()))
                    .append("</td><td>")
                    .append(String.format(Locale.ROOT, "%.1f", r.roundTimeSeconds()))
                    .append("</td><td>")
                    .append(r.participants())
                    .append("</td><td>")
                    .append(r.contributors())
                    .append("</td><td>")
                    .append(r.aborted() ? "aborted (no quorum)" : "")
                    .append("</td></tr>\n");
        }
        h.append("</table>\n<script type=\"application/json\" id=\"")
                .append(DATA_ELEMENT_ID)
                .append("\">\n")
                // numbers and booleans only: nothing in it can close the element
                .append(gson().toJson(rows))
                .append("\n</script>\n</body></html>\n");
        return h.toString();
    }

    /** Reads back the rows a report embeds (its JSON block). */
    public static List<Row> readRows(Path html) throws IOException {
        String text = Files.readString(html, StandardCharsets.UTF_8);
        String open = "id=\"" + DATA_ELEMENT_ID + "\">";
        int from = text.indexOf(open);
        if (from < 0) {
            throw new IOException(html + " holds no " + DATA_ELEMENT_ID + " block");
        }
        int to = text.indexOf("</script>", from);
        Row[] rows = gson().fromJson(text.substring(from + open.length(), to), Row[].class);
        return List.of(rows);
    }

    private static Gson gson() {
        return new GsonBuilder().serializeNulls().serializeSpecialFloatingPointValues().create();
    }

    private static void item(StringBuilder h, String name, String value) {
        h.append("<li>").append(name).append(": ").append(value).append("</li>\n");
    }

    private static String format(Double v) {
        return v == null ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
    }

    private static Double metric(Map<String, Double> metrics, String name) {
        return metrics == null ? null : metrics.get(name);
    }

    static String escape(String s) {
        return s.replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace("\"", "&quot;");
    }
}
