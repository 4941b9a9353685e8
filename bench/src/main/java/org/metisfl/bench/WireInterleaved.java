package org.metisfl.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.metisfl.transport.WireTuning;

/**
 * Raw gRPC under several transport settings against loopback TCP, interleaved (A, B, ..., TCP, A,
 * B, ... so that the machine's load falls on all alike): the experiment behind the settings of
 * {@link WireTuning#defaults()}. Each raw-gRPC run is {@link Limits#rawGrpc} (the discarding server
 * in its own process, the simulated learners in this one), each TCP run {@link Limits#loopbackTcp},
 * with the same learners, connections and chunks.
 *
 * <p>Usage: {@code WireInterleaved <values> <learners> <channels> <rounds> <repeats>
 * name=server;client;direct;chunk ...}, e.g. {@code base=grpc;grpc;false;1048576
 * win16=window=16777216;window=16777216;false;1048576}.
 *
 * <p>{@code WireInterleaved round <values> <learners> <channels> <rounds> <repeats> name=... ...}
 * measures the raw-gRPC time of a synchronous round instead ({@link Limits#rawGrpcRound}: every
 * learner downloads the model, then uploads), as the bound of the {@code size} scenarios.
 */
public final class WireInterleaved {
    private WireInterleaved() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("round")) {
            rounds(java.util.Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        long values = Long.parseLong(args[0]);
        int learners = Integer.parseInt(args[1]);
        int channels = Integer.parseInt(args[2]);
        int rounds = Integer.parseInt(args[3]);
        int repeats = Integer.parseInt(args[4]);
        Map<String, Limits.Wire> variants = new LinkedHashMap<>();
        for (int i = 5; i < args.length; i++) {
            String name = args[i].substring(0, args[i].indexOf('='));
            String[] p = args[i].substring(name.length() + 1).split(";", -1);
            variants.put(
                    name,
                    new Limits.Wire(
                            WireTuning.parse(p[0]),
                            WireTuning.parse(p[1]),
                            Boolean.parseBoolean(p[2]),
                            Integer.parseInt(p[3])));
        }
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        results.put("tcp", new ArrayList<>());
        for (int rep = 0; rep < repeats; rep++) {
            for (Map.Entry<String, Limits.Wire> v : variants.entrySet()) {
                Limits.Raw r =
                        Limits.rawGrpc(values, learners, channels, rounds, null, v.getValue());
                double[] row = {r.bytesPerSecond(), r.senderCpuPerGb(), r.serverCpuPerGb()};
                results.get(v.getKey()).add(row);
                print(rep, v.getKey(), row);
            }
            Limits.Rate t = Limits.loopbackTcp(values, learners, channels, 1 << 20, rounds);
            double[] row = {t.bytesPerSecond(), t.senderCpuPerGb(), t.serverCpuPerGb()};
            results.get("tcp").add(row);
            print(rep, "tcp", row);
        }
        double tcp = median(results.get("tcp"), 0);
        System.out.println();
        System.out.println(
                "| variant | settings | GB/s (median) | min–max | % of loopback TCP | sender CPU s/GB"
                        + " | server CPU s/GB |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            Limits.Wire w = variants.get(e.getKey());
            double rate = median(e.getValue(), 0);
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %s | %.3f | %.3f–%.3f | %.1f%% | %.2f | %.2f |%n",
                    e.getKey(),
                    w == null ? "plain sockets, 1 MiB writes" : w.describe(),
                    rate / 1e9,
                    min(e.getValue(), 0) / 1e9,
                    max(e.getValue(), 0) / 1e9,
                    100 * rate / tcp,
                    median(e.getValue(), 1),
                    median(e.getValue(), 2));
        }
        System.out.println();
        System.out.println("load: " + FederationBenchmark.loadAverage());
        System.exit(0);
    }

    private static Map<String, Limits.Wire> variants(String[] args, int from) {
        Map<String, Limits.Wire> variants = new LinkedHashMap<>();
        for (int i = from; i < args.length; i++) {
            String name = args[i].substring(0, args[i].indexOf('='));
            String[] p = args[i].substring(name.length() + 1).split(";", -1);
            variants.put(
                    name,
                    new Limits.Wire(
                            WireTuning.parse(p[0]),
                            WireTuning.parse(p[1]),
                            Boolean.parseBoolean(p[2]),
                            Integer.parseInt(p[3])));
        }
        return variants;
    }

    private static void rounds(String[] args) throws Exception {
        long values = Long.parseLong(args[0]);
        int learners = Integer.parseInt(args[1]);
        int channels = Integer.parseInt(args[2]);
        int rounds = Integer.parseInt(args[3]);
        int repeats = Integer.parseInt(args[4]);
        Map<String, Limits.Wire> variants = variants(args, 5);
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        for (int rep = 0; rep < repeats; rep++) {
            for (Map.Entry<String, Limits.Wire> v : variants.entrySet()) {
                Limits.RoundBound b =
                        Limits.rawGrpcRound(
                                values,
                                learners,
                                channels,
                                true,
                                0,
                                rounds,
                                java.time.Duration.ofMinutes(3),
                                null,
                                v.getValue());
                double[] row = {b.roundUs() / 1000, b.learnersCpuPerRound(), b.serverCpuPerRound()};
                results.get(v.getKey()).add(row);
                System.out.printf(
                        Locale.ROOT,
                        "rep %d %-10s round %.1f ms, learners %.3f, server %.3f CPU s per round"
                                + " (load %s)%n",
                        rep,
                        v.getKey(),
                        row[0],
                        row[1],
                        row[2],
                        FederationBenchmark.loadAverage());
            }
        }
        System.out.println();
        System.out.println(
                "| variant | settings | raw-gRPC round ms (median) | min–max | learners CPU s per"
                        + " round | server CPU s per round |");
        System.out.println("| --- | --- | --- | --- | --- | --- |");
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %s | %.1f | %.1f–%.1f | %.3f | %.3f |%n",
                    e.getKey(),
                    variants.get(e.getKey()).describe(),
                    median(e.getValue(), 0),
                    min(e.getValue(), 0),
                    max(e.getValue(), 0),
                    median(e.getValue(), 1),
                    median(e.getValue(), 2));
        }
        System.out.println();
        System.out.println("load: " + FederationBenchmark.loadAverage());
        System.exit(0);
    }

    private static void print(int rep, String name, double[] row) {
        System.out.printf(
                Locale.ROOT,
                "rep %d %-10s %.3f GB/s, sender %.2f, server %.2f CPU s/GB (load %s)%n",
                rep,
                name,
                row[0] / 1e9,
                row[1],
                row[2],
                FederationBenchmark.loadAverage());
    }

    private static double median(List<double[]> rows, int i) {
        List<Double> v = new ArrayList<>();
        rows.forEach(r -> v.add(r[i]));
        Collections.sort(v);
        return v.get(v.size() / 2);
    }

    private static double min(List<double[]> rows, int i) {
        return rows.stream().mapToDouble(r -> r[i]).min().orElse(Double.NaN);
    }

    private static double max(List<double[]> rows, int i) {
        return rows.stream().mapToDouble(r -> r[i]).max().orElse(Double.NaN);
    }
}
