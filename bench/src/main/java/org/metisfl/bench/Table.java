package org.metisfl.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A markdown table, built row by row. */
final class Table {
    private final List<String> header;
    private final List<List<String>> rows = new ArrayList<>();

    Table(String... header) {
        this.header = List.of(header);
    }

    Table row(Object... cells) {
        List<String> r = new ArrayList<>();
        for (Object c : cells) {
            r.add(c == null ? "–" : c.toString());
        }
        rows.add(r);
        return this;
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        s.append("| ").append(String.join(" | ", header)).append(" |\n|");
        for (int i = 0; i < header.size(); i++) {
            s.append(" --- |");
        }
        s.append('\n');
        for (List<String> r : rows) {
            s.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        return s.toString();
    }

    static String ms(double micros) {
        return Double.isNaN(micros) ? "–" : String.format(Locale.ROOT, "%.1f", micros / 1000.0);
    }

    static String gbps(double bytesPerSecond) {
        return Double.isNaN(bytesPerSecond) || bytesPerSecond <= 0
                ? "–"
                : String.format(Locale.ROOT, "%.2f", bytesPerSecond / 1e9);
    }

    static String mib(long bytes) {
        return bytes < 0 ? "–" : String.format(Locale.ROOT, "%d", bytes >> 20);
    }

    static String pct(double ratio) {
        return Double.isNaN(ratio) ? "–" : String.format(Locale.ROOT, "%.1f%%", ratio * 100);
    }

    static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }
}
