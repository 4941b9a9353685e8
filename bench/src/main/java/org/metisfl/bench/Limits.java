package org.metisfl.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.metisfl.simulator.RoundTimeline;
import org.metisfl.simulator.SimulatedFederation;
import org.metisfl.simulator.SimulationReport;

/** The two ceilings an ingest figure is compared with, measured in the benchmark's own run. */
final class Limits {
    private Limits() {}

    /**
     * A plain in-memory loop doing FedAvg's weighted sum over the same bytes the learners upload:
     * {@code learners} updates of {@code values} little-endian floats summed into a double[].
     *
     * @return bytes per second (median of {@code repeats})
     */
    static double inMemoryWeightedSum(long values, int learners, int distinct, int repeats) {
        int n = Math.toIntExact(values);
        List<FloatBuffer> updates = new ArrayList<>();
        for (int d = 0; d < distinct; d++) {
            float[] v = SimulatedFederation.syntheticUpdate(42, d, n);
            ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            updates.add(b.asFloatBuffer());
        }
        double[] acc = new double[n];
        List<Double> rates = new ArrayList<>();
        for (int rep = 0; rep < repeats + 1; rep++) {
            java.util.Arrays.fill(acc, 0);
            long start = System.nanoTime();
            for (int l = 0; l < learners; l++) {
                addScaled(acc, updates.get(l % distinct), 100);
            }
            long took = System.nanoTime() - start;
            if (rep > 0) { // the first pass warms the JIT
                rates.add(learners * (double) values * 4 / (took / 1e9));
            }
        }
        Collections.sort(rates);
        return rates.get(rates.size() / 2);
    }

    private static void addScaled(double[] acc, FloatBuffer f, double w) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += w * f.get(i);
        }
    }

    /** Result of the raw gRPC run: rate and the per-round timelines it came from. */
    record Raw(double bytesPerSecond, SimulationReport report) {}

    /**
     * Raw gRPC byte throughput over loopback: the same simulated learners, channels and chunks as
     * the ingest scenario, against a server in its own process (like the controller) with the
     * gateway's thread layout that discards the bytes.
     */
    static Raw rawGrpc(long values, int learners, int channels, int rounds) throws Exception {
        List<String> cmd =
                List.of(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx2g",
                        "-XX:+UseG1GC",
                        "-cp",
                        System.getProperty("java.class.path"),
                        DiscardingMain.class.getName(),
                        Long.toString(values),
                        Integer.toString(learners),
                        Integer.toString(rounds));
        Process server = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader out =
                new BufferedReader(
                        new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            int port = -1;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("READY ")) {
                    port = Integer.parseInt(line.substring(6).trim());
                    break;
                }
            }
            if (port < 0) {
                throw new IllegalStateException("the discarding server did not start");
            }
            try (SimulatedFederation sim =
                    SimulatedFederation.builder()
                            .gateway("127.0.0.1", port)
                            .learners(learners)
                            .channels(channels)
                            .modelValues(values)
                            .fetchModel(false)
                            .evaluate(false)
                            .timeout(Duration.ofMinutes(3))
                            .build()) {
                SimulationReport report = sim.run();
                if (report.failures() > 0 || report.timedOut()) {
                    throw new IllegalStateException(
                            "raw gRPC run failed: " + report.failureSamples());
                }
                return new Raw(medianIngest(report.rounds()), report);
            }
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Median per-round ingest rate, skipping round 1 (warm-up) when there are more. */
    static double medianIngest(List<RoundTimeline> rounds) {
        List<Double> rates = new ArrayList<>();
        for (RoundTimeline r : rounds) {
            if ((r.round() > 1 || rounds.size() == 1) && r.acks() > 0) {
                rates.add(r.ingestBytesPerSecond());
            }
        }
        if (rates.isEmpty()) {
            return Double.NaN;
        }
        Collections.sort(rates);
        return rates.get(rates.size() / 2);
    }
}
