package org.metisfl.examples.experiment;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.metisfl.cli.report.Charts;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.quickstart.Quickstart;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;

/**
 * The protocol experiment: the same non-IID Fashion-MNIST federation (Dirichlet alpha, N learners
 * of which some are several times slower) under the synchronous, semi-synchronous and FedBuff
 * protocols, each for the same wall-clock budget. Writes accuracy against time as CSV and as a PNG
 * chart.
 *
 * <pre>
 * bin/experiment-protocols [--learners 10] [--slow 3] [--slowdown 5] [--alpha 0.5]
 *     [--budget 150] [--protocols sync,semi-sync,fedbuff] [--out docs/experiments]
 * </pre>
 */
public final class ProtocolComparison {

    private ProtocolComparison() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        a.put("--learners", "10");
        a.put("--slow", "3");
        a.put("--slowdown", "5");
        a.put("--alpha", "0.5");
        a.put("--budget", "150");
        a.put("--protocols", "sync,semi-sync,fedbuff");
        a.put("--out", "docs/experiments");
        a.put("--work-dir", "work/experiment");
        for (int i = 0; i < argv.length; i++) {
            if (!a.containsKey(argv[i]) || i + 1 >= argv.length) {
                System.err.println(
                        "usage: ProtocolComparison " + a.keySet() + " (each takes a value)");
                System.exit(2);
            }
            a.put(argv[i], argv[++i]);
        }
        int learners = Integer.parseInt(a.get("--learners"));
        int slow = Integer.parseInt(a.get("--slow"));
        double slowdown = Double.parseDouble(a.get("--slowdown"));
        int budget = Integer.parseInt(a.get("--budget"));
        Path out = Files.createDirectories(Path.of(a.get("--out")));
        Path work = Path.of(a.get("--work-dir"));
        FashionMnist data = FashionMnist.load();

        Map<String, List<Charts.Point>> series = new LinkedHashMap<>();
        StringBuilder csv =
                new StringBuilder("protocol,round,seconds,accuracy,loss,contributors\n");
        for (String protocol : a.get("--protocols").split(",")) {
            List<RoundResult> results =
                    run(protocol, learners, slow, slowdown, a.get("--alpha"), budget, data, work);
            long t0 = results.stream().mapToLong(r -> r.startedAtMs).min().orElse(0);
            List<Charts.Point> points = new ArrayList<>();
            for (RoundResult r : results) {
                Double acc = r.evalMetrics == null ? null : r.evalMetrics.get("accuracy");
                if (acc == null) {
                    continue;
                }
                double seconds = (r.closedAtMs - t0) / 1000.0;
                points.add(new Charts.Point(seconds, acc));
                csv.append(
                        String.format(
                                Locale.ROOT,
                                "%s,%d,%.1f,%.4f,%.4f,%d%n",
                                protocol,
                                r.round,
                                seconds,
                                acc,
                                r.evalMetrics.getOrDefault("loss", Double.NaN),
                                r.contributors == null ? 0 : r.contributors.size()));
            }
            series.put(protocol, points);
            Files.writeString(out.resolve("protocols.csv"), csv.toString());
        }
        String title =
                String.format(
                        Locale.ROOT,
                        "Fashion-MNIST, %d learners (Dirichlet %s), %d of them %.0fx slower",
                        learners,
                        a.get("--alpha"),
                        slow,
                        slowdown);
        Files.write(
                out.resolve("protocols.png"),
                Charts.lineChart(
                        title,
                        "wall-clock time (s)",
                        "global test accuracy",
                        series,
                        Charts.YAxis.FIT,
                        false));
        System.out.println(
                "Wrote " + out.resolve("protocols.csv") + " and " + out.resolve("protocols.png"));
        System.exit(0);
    }

    static Map<String, String> settings(String protocol) {
        Map<String, String> s = new LinkedHashMap<>();
        switch (protocol) {
            case "sync" -> s.put("protocol.type", "synchronous");
            case "semi-sync" -> {
                s.put("protocol.type", "semi-synchronous");
                s.put("semi-sync.lambda", "1.0");
                s.put("aggregation.scaling", "batches");
            }
            case "fedbuff" -> {
                s.put("protocol.type", "asynchronous");
                s.put("async.rule", "fedbuff");
                s.put("async.buffer-size", "5");
                s.put("async.staleness", "polynomial");
                s.put("async.staleness-a", "0.5");
                s.put("async.max-staleness", "20");
                s.put("async.evaluate-every", "2");
            }
            default ->
                    throw new IllegalArgumentException(
                            "unknown protocol '" + protocol + "': use sync, semi-sync or fedbuff");
        }
        return s;
    }

    private static List<RoundResult> run(
            String protocol,
            int learners,
            int slow,
            double slowdown,
            String alpha,
            int budgetSeconds,
            FashionMnist data,
            Path work)
            throws Exception {
        Map<String, String> s = settings(protocol);
        s.put("federation.name", "experiment-" + protocol);
        s.put("federation.rounds", "100000");
        s.put("termination.max-duration", budgetSeconds + " s");
        s.put("round.quorum", "1.0");
        s.put("evaluation.timeout", "60 s");
        s.put("train.batch-size", "32");
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        System.out.printf("== %s: %s%n", protocol, Quickstart.describe(FederationConfig.of(s)));
        List<RoundResult> r =
                InProcessFederation.run(
                        s,
                        learners,
                        List.of(
                                "--partition",
                                "dirichlet",
                                "--alpha",
                                alpha,
                                "--batch-size",
                                "32",
                                "--test-limit",
                                "5000"),
                        data,
                        work.resolve(protocol),
                        Duration.ofSeconds(budgetSeconds + 600L),
                        (i, adapter) ->
                                i >= learners - slow
                                        ? new SlowedAdapter(adapter, slowdown)
                                        : adapter);
        for (RoundResult x : r) {
            System.out.printf(
                    Locale.ROOT,
                    "  %s %d: accuracy %s after %.1f s%n",
                    protocol,
                    x.round,
                    x.evalMetrics == null ? "n/a" : x.evalMetrics.get("accuracy"),
                    (x.closedAtMs - r.get(0).startedAtMs) / 1000.0);
        }
        return r;
    }
}
