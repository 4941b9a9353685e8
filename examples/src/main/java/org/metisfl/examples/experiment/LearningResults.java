package org.metisfl.examples.experiment;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import org.metisfl.cli.report.Charts;
import org.metisfl.flink.model.RoundResult;

/**
 * The learning-quality experiment's results: one row per evaluated round (or centralized epoch) of
 * one cell (method x partition), as CSV, as a Markdown table of the accuracy after given rounds,
 * and as chart series of accuracy against rounds.
 *
 * <pre>{@code
 * List<Row> rows = LearningResults.parseCsv(Files.readString(csv));
 * String table = LearningResults.table(rows, methods, partitions, new int[] {10, 20}, cmd);
 * }</pre>
 */
public final class LearningResults {

    /** The method name of the centralized baseline, and its partition (the full training set). */
    public static final String CENTRALIZED = "centralized";

    public static final String FULL = "full";

    static final String HEADER = "method,partition,round,accuracy,loss,epsilon";

    private LearningResults() {}

    /**
     * One evaluated round of a cell. {@code round} counts rounds (FedBuff: model versions times K
     * over the number of learners, i.e. the same number of local epochs; centralized: epochs).
     */
    public record Row(
            String method,
            String partition,
            double round,
            Double accuracy,
            Double loss,
            Double epsilon) {}

    /**
     * The evaluated rounds of a federation's results file as rows (only those evaluated by every
     * learner asked, i.e. on the whole test set); {@code roundsPerResult} turns its round (or model
     * version) numbers into rounds.
     */
    public static List<Row> fromResults(
            String method, String partition, List<RoundResult> results, double roundsPerResult) {
        List<Row> rows = new ArrayList<>();
        for (RoundResult r : results) {
            Double accuracy = r.evalMetrics == null ? null : r.evalMetrics.get("accuracy");
            if (accuracy == null || r.evaluationsReceived < r.evaluators) {
                // not evaluated, or only on some learners' parts of the test set
                continue;
            }
            rows.add(
                    new Row(
                            method,
                            partition,
                            r.round * roundsPerResult,
                            accuracy,
                            r.evalMetrics.get("loss"),
                            r.epsilon));
        }
        return rows;
    }

    /** The rows as CSV with a header line; absent values are empty fields. */
    public static String toCsv(List<Row> rows) {
        StringBuilder b = new StringBuilder(HEADER).append('\n');
        for (Row r : rows) {
            b.append(r.method())
                    .append(',')
                    .append(r.partition())
                    .append(',')
                    .append(number(r.round()))
                    .append(',')
                    .append(number(r.accuracy()))
                    .append(',')
                    .append(number(r.loss()))
                    .append(',')
                    .append(number(r.epsilon()))
                    .append('\n');
        }
        return b.toString();
    }

    /**
     * Parses what {@link #toCsv} wrote.
     *
     * @throws IllegalArgumentException naming the line when the header or a line is malformed
     */
    public static List<Row> parseCsv(String csv) {
        String[] lines = csv.split("\r?\n");
        if (lines.length == 0 || !lines[0].equals(HEADER)) {
            throw new IllegalArgumentException(
                    "not a learning results CSV: the first line must be '" + HEADER + "'");
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String[] f = lines[i].split(",", -1);
            if (f.length != 6) {
                throw new IllegalArgumentException(
                        "line "
                                + (i + 1)
                                + " has "
                                + f.length
                                + " fields, expected 6: "
                                + lines[i]);
            }
            try {
                rows.add(
                        new Row(
                                f[0],
                                f[1],
                                Double.parseDouble(f[2]),
                                optional(f[3]),
                                optional(f[4]),
                                optional(f[5])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "line " + (i + 1) + " has a malformed number: " + lines[i], e);
            }
        }
        return rows;
    }

    /** The accuracy of a cell after {@code round} rounds, if that round was evaluated. */
    public static Optional<Row> at(List<Row> rows, String method, String partition, int round) {
        return rows.stream()
                .filter(r -> r.method().equals(method) && r.partition().equals(partition))
                .filter(r -> Math.abs(r.round() - round) < 1e-9)
                .findFirst();
    }

    /**
     * A Markdown table: one line per method and partition, the accuracy after each of {@code
     * rounds} (with its difference to the centralized baseline after as many epochs, and DP's
     * epsilon), and the command that reproduces the line; a cell without results says "not run
     * yet".
     *
     * @param command the command of a (method, partition) line
     */
    public static String table(
            List<Row> rows,
            List<String> methods,
            List<String> partitions,
            int[] rounds,
            BiFunction<String, String, String> command) {
        StringBuilder b = new StringBuilder("| method | partition |");
        for (int r : rounds) {
            b.append(" accuracy after ").append(r).append(" |");
        }
        int last = rounds[rounds.length - 1];
        int from = last / 2 + 1;
        b.append(" rounds ").append(from).append("–").append(last).append(" (min–max) |");
        b.append(" command |\n|---|---|");
        b.append("---|".repeat(rounds.length + 1)).append("---|\n");
        for (String method : methods) {
            List<String> parts = method.equals(CENTRALIZED) ? List.of(FULL) : partitions;
            for (String partition : parts) {
                b.append("| ").append(method).append(" | ").append(partition).append(" |");
                for (int r : rounds) {
                    b.append(' ').append(cell(rows, method, partition, r)).append(" |");
                }
                b.append(' ').append(range(rows, method, partition, from, last)).append(" |");
                b.append(" `").append(command.apply(method, partition)).append("` |\n");
            }
        }
        return b.toString();
    }

    /**
     * The lowest and highest accuracy of rounds {@code from..to}, if all of them were evaluated: on
     * skewed splits one round's accuracy swings, and a single reading can mislead.
     */
    static String range(List<Row> rows, String method, String partition, int from, int to) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int r = from; r <= to; r++) {
            Optional<Row> row = at(rows, method, partition, r);
            if (row.isEmpty()) {
                return "–";
            }
            min = Math.min(min, row.get().accuracy());
            max = Math.max(max, row.get().accuracy());
        }
        return String.format(Locale.ROOT, "%.4f–%.4f", min, max);
    }

    /**
     * A table cell: the accuracy after round r, then in brackets its difference to the centralized
     * model after r epochs and DP's epsilon, when there are such.
     */
    static String cell(List<Row> rows, String method, String partition, int round) {
        Optional<Row> row = at(rows, method, partition, round);
        if (row.isEmpty()) {
            return "not run yet";
        }
        List<String> notes = new ArrayList<>();
        Optional<Row> central = at(rows, CENTRALIZED, FULL, round);
        if (!method.equals(CENTRALIZED) && central.isPresent()) {
            notes.add(
                    String.format(
                                    Locale.ROOT,
                                    "%+.4f",
                                    row.get().accuracy() - central.get().accuracy())
                            .replace('-', '−'));
        }
        if (row.get().epsilon() != null) {
            notes.add(String.format(Locale.ROOT, "ε %.3g", row.get().epsilon()));
        }
        String accuracy = String.format(Locale.ROOT, "%.4f", row.get().accuracy());
        return notes.isEmpty() ? accuracy : accuracy + " (" + String.join("; ", notes) + ")";
    }

    /**
     * The series of one partition's chart: accuracy against rounds for each method that has rows
     * for it, in {@code methods} order, and the centralized baseline against epochs.
     */
    public static Map<String, List<Charts.Point>> series(
            List<Row> rows, List<String> methods, String partition) {
        Map<String, List<Charts.Point>> series = new LinkedHashMap<>();
        for (String method : methods) {
            String p = method.equals(CENTRALIZED) ? FULL : partition;
            List<Charts.Point> points = new ArrayList<>();
            for (Row r : rows) {
                if (r.method().equals(method) && r.partition().equals(p)) {
                    points.add(new Charts.Point(r.round(), r.accuracy()));
                }
            }
            if (!points.isEmpty()) {
                series.put(method.equals(CENTRALIZED) ? "centralized (epochs)" : method, points);
            }
        }
        return series;
    }

    /** One partition's chart as a PNG. */
    public static byte[] chart(List<Row> rows, List<String> methods, String partition, int n) {
        return Charts.lineChart(
                "Fashion-MNIST MLP, " + n + " learners, " + describe(partition),
                "round (centralized: epoch)",
                "global test accuracy",
                series(rows, methods, partition),
                Charts.YAxis.FIT);
    }

    /** "iid" or "dir0.1" in words. */
    public static String describe(String partition) {
        return partition.startsWith("dir")
                ? "Dirichlet α = " + partition.substring(3)
                : partition.toUpperCase(Locale.ROOT);
    }

    private static Double optional(String s) {
        return s.isEmpty() ? null : Double.parseDouble(s);
    }

    private static String number(Double d) {
        if (d == null) {
            return "";
        }
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return Long.toString(d.longValue());
        }
        return Double.toString(d);
    }
}
