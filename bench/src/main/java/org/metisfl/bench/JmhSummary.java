package org.metisfl.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a JMH JSON result file into a markdown table with a throughput column: every kernel
 * benchmark processes 4 x {@code values} bytes per op (float32 values).
 *
 * <p>Usage: {@code JmhSummary results.json}.
 */
public final class JmhSummary {
    private JmhSummary() {}

    public static void main(String[] args) throws IOException {
        JsonArray runs =
                JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonArray();
        Table t = new Table("benchmark", "params", "µs/op", "± (99.9%)", "GB/s");
        for (JsonElement el : runs) {
            JsonObject run = el.getAsJsonObject();
            String name = run.get("benchmark").getAsString();
            name = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
            Map<String, String> params = new TreeMap<>();
            if (run.has("params")) {
                for (Map.Entry<String, JsonElement> p : run.getAsJsonObject("params").entrySet()) {
                    params.put(p.getKey(), p.getValue().getAsString());
                }
            }
            JsonObject metric = run.getAsJsonObject("primaryMetric");
            double score = metric.get("score").getAsDouble();
            double error =
                    metric.get("scoreError").isJsonNull()
                            ? Double.NaN
                            : metric.get("scoreError").getAsDouble();
            String unit = metric.get("scoreUnit").getAsString();
            double micros =
                    unit.equals("ms/op")
                            ? score * 1000
                            : unit.equals("ns/op") ? score / 1000 : score;
            String gbps = "–";
            if (params.containsKey("values")) {
                double bytes = Long.parseLong(params.get("values")) * 4.0;
                gbps = String.format(Locale.ROOT, "%.2f", bytes / (micros * 1e3));
            }
            StringBuilder ps = new StringBuilder();
            params.forEach(
                    (k, v) ->
                            ps.append(ps.length() == 0 ? "" : ", ")
                                    .append(k)
                                    .append('=')
                                    .append(v));
            t.row(
                    name,
                    ps,
                    String.format(Locale.ROOT, "%.1f", micros),
                    Double.isNaN(error)
                            ? "–"
                            : String.format(
                                    Locale.ROOT,
                                    "%.1f",
                                    unit.equals("ms/op") ? error * 1000 : error),
                    gbps);
        }
        System.out.println(t);
    }
}
