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
import org.metisfl.transport.WireTuning;

/**
 * The limits a figure is compared with, measured in the benchmark's own run: an in-memory loop over
 * the same bytes, loopback TCP (a plain socket sink in its own process), and raw gRPC (a gateway
 * that discards the bytes, in its own process, driven by the same simulated learners, channels and
 * chunks as the scenario). Each also states what the sending side (the simulated learners) spent in
 * CPU, since it shares the machine's cores with the server.
 */
final class Limits {
    private Limits() {}

    /**
     * The transport settings of a raw-gRPC bound: the discarding server's and the simulated
     * learners' {@link WireTuning}, whether the server runs calls on its Netty threads, and the
     * upload chunk size. By default what the real path uses (the gateway's and the learners'
     * settings, an executor like the gateway's, 1 MiB chunks); the system properties {@code
     * metisfl.bench.wire.server}, {@code .client} (texts of {@link WireTuning#parse}), {@code
     * .direct} and {@code .chunk} change it for experiments, and reach the server's process.
     */
    record Wire(WireTuning server, WireTuning client, boolean directExecutor, int chunkBytes) {
        static final String PREFIX = "metisfl.bench.wire.";

        static Wire fromSystemProperties() {
            return new Wire(
                    WireTuning.parse(System.getProperty(PREFIX + "server", "default")),
                    WireTuning.parse(System.getProperty(PREFIX + "client", "default")),
                    Boolean.parseBoolean(System.getProperty(PREFIX + "direct", "false")),
                    Integer.parseInt(
                            System.getProperty(PREFIX + "chunk", Integer.toString(1 << 20))));
        }

        /** The settings as {@code -D} options of a child JVM. */
        List<String> jvmOptions() {
            return List.of(
                    "-D" + PREFIX + "server=" + server.text(),
                    "-D" + PREFIX + "client=" + client.text(),
                    "-D" + PREFIX + "direct=" + directExecutor,
                    "-D" + PREFIX + "chunk=" + chunkBytes);
        }

        /** One line for a report. */
        String describe() {
            return "server "
                    + server.text()
                    + " ("
                    + server.transportName()
                    + (directExecutor ? ", direct executor" : ", executor")
                    + "), learners "
                    + client.text()
                    + " ("
                    + client.transportName()
                    + "), chunks of "
                    + chunkBytes
                    + " bytes";
        }
    }

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
    record Raw(
            double bytesPerSecond,
            SimulationReport report,
            double senderCpuPerGb,
            double serverCpuPerGb) {}

    /**
     * Raw gRPC byte throughput over loopback: the same simulated learners, channels and chunks as
     * the ingest scenario, against a server in its own process (like the controller) with the
     * gateway's thread layout that discards the bytes.
     */
    static Raw rawGrpc(long values, int learners, int channels, int rounds) throws Exception {
        return rawGrpc(values, learners, channels, rounds, null);
    }

    /** {@link #rawGrpc(long, int, int, int)} over TLS when {@code tls} is given. */
    static Raw rawGrpc(long values, int learners, int channels, int rounds, BenchTls tls)
            throws Exception {
        return rawGrpc(values, learners, channels, rounds, tls, Wire.fromSystemProperties());
    }

    /** {@link #rawGrpc(long, int, int, int, BenchTls)} with these transport settings. */
    static Raw rawGrpc(long values, int learners, int channels, int rounds, BenchTls tls, Wire wire)
            throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx2g");
        cmd.add("-XX:+UseG1GC");
        cmd.addAll(wire.jvmOptions());
        String jfr = System.getProperty("metisfl.bench.serverJfr");
        if (jfr != null) { // a JFR recording of the discarding server, for profiling the bound
            cmd.add("-XX:StartFlightRecording=filename=" + jfr + ",settings=profile");
        }
        cmd.addAll(
                List.of(
                        "-cp",
                        System.getProperty("java.class.path"),
                        DiscardingMain.class.getName(),
                        Long.toString(values),
                        Integer.toString(learners),
                        Integer.toString(rounds)));
        if (tls != null) {
            cmd.addAll(tls.serverFiles());
        }
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
            double cpu0 = driverCpuSeconds();
            double server0 = cpuSeconds(server.pid());
            try (SimulatedFederation sim =
                    SimulatedFederation.builder()
                            .gateway("127.0.0.1", port)
                            .learners(learners)
                            .channels(channels)
                            .modelValues(values)
                            .fetchModel(false)
                            .evaluate(false)
                            .transport(transport(tls))
                            .wire(wire.client())
                            .chunkBytes(wire.chunkBytes())
                            .timeout(Duration.ofMinutes(3))
                            .build()) {
                SimulationReport report = sim.run();
                if (report.failures() > 0 || report.timedOut()) {
                    throw new IllegalStateException(
                            "raw gRPC run failed: " + report.failureSamples());
                }
                double gb =
                        report.rounds().stream().mapToLong(RoundTimeline::bytesUploaded).sum()
                                / 1e9;
                return new Raw(
                        medianIngest(report.rounds()),
                        report,
                        (driverCpuSeconds() - cpu0) / gb,
                        (cpuSeconds(server.pid()) - server0) / gb);
            }
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The simulated learners' channel security: TLS trusting the bench CA, else plaintext. */
    static org.metisfl.transport.TransportSecurity transport(BenchTls tls) {
        return tls == null
                ? org.metisfl.transport.TransportSecurity.insecure()
                : tls.learnerTransport();
    }

    /** CPU seconds this JVM (the driver: the simulated learners) has used so far. */
    static double driverCpuSeconds() {
        java.lang.management.OperatingSystemMXBean os =
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime() / 1e9;
        }
        return Double.NaN;
    }

    /** CPU seconds another process has used so far (NaN if the system does not say). */
    static double cpuSeconds(long pid) {
        return ProcessHandle.of(pid)
                .flatMap(p -> p.info().totalCpuDuration())
                .map(d -> d.toNanos() / 1e9)
                .orElse(Double.NaN);
    }

    /**
     * A transfer limit: its rate, and the CPU seconds the sending side (the driver) and the server
     * spent per GB moved.
     */
    record Rate(
            double bytesPerSecond, double senderCpuPerGb, double serverCpuPerGb, String session) {
        Rate(double bytesPerSecond, double senderCpuPerGb, double serverCpuPerGb) {
            this(bytesPerSecond, senderCpuPerGb, serverCpuPerGb, "");
        }
    }

    /**
     * Loopback TCP: {@code channels} plain sockets to a sink in its own process, carrying the
     * uploads of {@code learners} learners of {@code values} floats (learner i on socket i mod
     * channels) in writes of {@code chunkBytes}, from one shared direct buffer. Rate = bytes of a
     * round / (first write → last socket's acknowledgement), median of rounds 2..{@code rounds}.
     */
    static Rate loopbackTcp(long values, int learners, int channels, int chunkBytes, int rounds)
            throws Exception {
        Process server = startChild(TcpSinkMain.class.getName(), "-Xmx256m");
        try {
            int port = awaitReady(server);
            long perLearner = values * Float.BYTES;
            java.nio.channels.SocketChannel[] sockets =
                    new java.nio.channels.SocketChannel[channels];
            long[] share = new long[channels];
            for (int l = 0; l < learners; l++) {
                share[l % channels] += perLearner;
            }
            for (int c = 0; c < channels; c++) {
                sockets[c] =
                        java.nio.channels.SocketChannel.open(
                                new java.net.InetSocketAddress("127.0.0.1", port));
            }
            ByteBuffer data = ByteBuffer.allocateDirect(chunkBytes);
            float[] synthetic = SimulatedFederation.syntheticUpdate(42, 0, chunkBytes / 4);
            data.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(synthetic);
            List<Double> rates = new ArrayList<>();
            double cpu0 = driverCpuSeconds();
            double server0 = cpuSeconds(server.pid());
            long moved = 0;
            for (int r = 0; r < rounds; r++) {
                java.util.concurrent.CountDownLatch done =
                        new java.util.concurrent.CountDownLatch(channels);
                long start = System.nanoTime();
                for (int c = 0; c < channels; c++) {
                    java.nio.channels.SocketChannel s = sockets[c];
                    long bytes = share[c];
                    Thread t =
                            new Thread(
                                    () -> {
                                        try {
                                            send(s, bytes, data.duplicate());
                                        } catch (java.io.IOException e) {
                                            throw new java.io.UncheckedIOException(e);
                                        } finally {
                                            done.countDown();
                                        }
                                    },
                                    "tcp-writer");
                    t.start();
                }
                if (!done.await(3, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("loopback TCP round did not finish");
                }
                double took = (System.nanoTime() - start) / 1e9;
                moved += learners * perLearner;
                if (r > 0 || rounds == 1) {
                    rates.add(learners * perLearner / took);
                }
            }
            double senderCpu = driverCpuSeconds() - cpu0;
            double serverCpu = cpuSeconds(server.pid()) - server0;
            for (java.nio.channels.SocketChannel s : sockets) {
                s.close();
            }
            Collections.sort(rates);
            return new Rate(
                    rates.get(rates.size() / 2),
                    senderCpu / (moved / 1e9),
                    serverCpu / (moved / 1e9));
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Loopback TCP under TLS: as {@link #loopbackTcp}, over the JDK's own TLS (JSSE, blocking
     * sockets, TLS 1.3 as negotiated) to {@link TcpSinkMain} serving the bench's gateway
     * certificate. What the cipher alone costs on this JDK, without gRPC or HTTP/2. gRPC's Netty
     * transport uses its bundled BoringSSL instead, so this is a bound of another engine.
     */
    static Rate loopbackTls(
            long values, int learners, int channels, int chunkBytes, int rounds, BenchTls tls)
            throws Exception {
        List<String> files = tls.serverFiles();
        Process server =
                startChild(TcpSinkMain.class.getName(), "-Xmx256m", files.get(0), files.get(1));
        try {
            int port = awaitReady(server);
            long perLearner = values * Float.BYTES;
            javax.net.ssl.SSLSocketFactory factory = tls.clientContext().getSocketFactory();
            javax.net.ssl.SSLSocket[] sockets = new javax.net.ssl.SSLSocket[channels];
            long[] share = new long[channels];
            for (int l = 0; l < learners; l++) {
                share[l % channels] += perLearner;
            }
            for (int c = 0; c < channels; c++) {
                sockets[c] = (javax.net.ssl.SSLSocket) factory.createSocket("127.0.0.1", port);
                javax.net.ssl.SSLParameters p = sockets[c].getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                sockets[c].setSSLParameters(p);
                sockets[c].startHandshake();
            }
            byte[] data = new byte[chunkBytes];
            ByteBuffer.wrap(data)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .asFloatBuffer()
                    .put(SimulatedFederation.syntheticUpdate(42, 0, chunkBytes / 4));
            List<Double> rates = new ArrayList<>();
            double cpu0 = driverCpuSeconds();
            double server0 = cpuSeconds(server.pid());
            long moved = 0;
            for (int r = 0; r < rounds; r++) {
                java.util.concurrent.CountDownLatch done =
                        new java.util.concurrent.CountDownLatch(channels);
                long start = System.nanoTime();
                for (int c = 0; c < channels; c++) {
                    javax.net.ssl.SSLSocket s = sockets[c];
                    long bytes = share[c];
                    Thread t =
                            new Thread(
                                    () -> {
                                        try {
                                            sendTls(s, bytes, data);
                                        } catch (java.io.IOException e) {
                                            throw new java.io.UncheckedIOException(e);
                                        } finally {
                                            done.countDown();
                                        }
                                    },
                                    "tls-writer");
                    t.start();
                }
                if (!done.await(3, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("loopback TLS round did not finish");
                }
                double took = (System.nanoTime() - start) / 1e9;
                moved += learners * perLearner;
                if (r > 0 || rounds == 1) {
                    rates.add(learners * perLearner / took);
                }
            }
            double senderCpu = driverCpuSeconds() - cpu0;
            double serverCpu = cpuSeconds(server.pid()) - server0;
            String session =
                    sockets[0].getSession().getProtocol()
                            + " "
                            + sockets[0].getSession().getCipherSuite();
            for (javax.net.ssl.SSLSocket s : sockets) {
                s.close();
            }
            Collections.sort(rates);
            return new Rate(
                    rates.get(rates.size() / 2),
                    senderCpu / (moved / 1e9),
                    serverCpu / (moved / 1e9),
                    session);
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void sendTls(javax.net.ssl.SSLSocket s, long bytes, byte[] chunk)
            throws java.io.IOException {
        java.io.OutputStream out = s.getOutputStream();
        out.write(ByteBuffer.allocate(Long.BYTES).putLong(bytes).array());
        long left = bytes;
        while (left > 0) {
            int n = (int) Math.min(chunk.length, left);
            out.write(chunk, 0, n);
            left -= n;
        }
        out.flush();
        if (s.getInputStream().read() < 0) {
            throw new java.io.EOFException("the sink closed the connection");
        }
    }

    private static void send(java.nio.channels.SocketChannel s, long bytes, ByteBuffer chunk)
            throws java.io.IOException {
        ByteBuffer count = ByteBuffer.allocate(Long.BYTES).putLong(bytes).flip();
        while (count.hasRemaining()) {
            s.write(count);
        }
        long left = bytes;
        while (left > 0) {
            chunk.clear();
            if (left < chunk.capacity()) {
                chunk.limit((int) left);
            }
            while (chunk.hasRemaining()) {
                left -= s.write(chunk);
            }
        }
        ByteBuffer ack = ByteBuffer.allocate(1);
        while (ack.hasRemaining()) {
            if (s.read(ack) < 0) {
                throw new java.io.EOFException("the sink closed the connection");
            }
        }
    }

    /** The raw-gRPC time of one sync round's bytes, and what the two sides spent in CPU. */
    record RoundBound(double roundUs, double learnersCpuPerRound, double serverCpuPerRound) {}

    /**
     * The raw-gRPC time of a synchronous round of the scenario's shape: the same learners,
     * channels, chunks, model download and transfer bound against the discarding gateway in its own
     * process. Round = first task → last acknowledged upload (every participant's download and
     * upload), median of rounds 2..{@code rounds}.
     */
    static RoundBound rawGrpcRound(
            long values,
            int learners,
            int channels,
            boolean fetchModel,
            int maxTransfers,
            int rounds,
            Duration timeout)
            throws Exception {
        return rawGrpcRound(
                values, learners, channels, fetchModel, maxTransfers, rounds, timeout, null);
    }

    /** {@link #rawGrpcRound} over TLS when {@code tls} is given. */
    static RoundBound rawGrpcRound(
            long values,
            int learners,
            int channels,
            boolean fetchModel,
            int maxTransfers,
            int rounds,
            Duration timeout,
            BenchTls tls)
            throws Exception {
        return rawGrpcRound(
                values,
                learners,
                channels,
                fetchModel,
                maxTransfers,
                rounds,
                timeout,
                tls,
                Wire.fromSystemProperties());
    }

    /** {@link #rawGrpcRound} with these transport settings. */
    static RoundBound rawGrpcRound(
            long values,
            int learners,
            int channels,
            boolean fetchModel,
            int maxTransfers,
            int rounds,
            Duration timeout,
            BenchTls tls,
            Wire wire)
            throws Exception {
        List<String> args =
                new ArrayList<>(
                        List.of(
                                Long.toString(values),
                                Integer.toString(learners),
                                Integer.toString(rounds)));
        if (tls != null) {
            args.addAll(tls.serverFiles());
        }
        Process server =
                startChild(
                        DiscardingMain.class.getName(),
                        "-Xmx2g",
                        wire.jvmOptions(),
                        args.toArray(new String[0]));
        try {
            int port = awaitReady(server);
            double cpu0 = driverCpuSeconds();
            double server0 = cpuSeconds(server.pid());
            try (SimulatedFederation sim =
                    SimulatedFederation.builder()
                            .gateway("127.0.0.1", port)
                            .learners(learners)
                            .channels(channels)
                            .modelValues(values)
                            .fetchModel(fetchModel)
                            .evaluate(false)
                            .distinctUpdates(2)
                            .joinConcurrency(10_000)
                            .maxConcurrentTransfers(maxTransfers)
                            .transport(transport(tls))
                            .wire(wire.client())
                            .chunkBytes(wire.chunkBytes())
                            .timeout(timeout)
                            .callTimeout(timeout)
                            .build()) {
                SimulationReport report = sim.run();
                if (report.failures() > 0 || report.timedOut()) {
                    throw new IllegalStateException(
                            "raw gRPC round failed: " + report.failureSamples());
                }
                List<Double> times = new ArrayList<>();
                for (RoundTimeline t : report.rounds()) {
                    if ((t.round() > 1 || rounds == 1) && t.acks() > 0) {
                        times.add((double) (t.lastAckAtUs() - t.firstTaskAtUs()));
                    }
                }
                Collections.sort(times);
                double learnersCpu = (driverCpuSeconds() - cpu0) / rounds;
                double serverCpu = (cpuSeconds(server.pid()) - server0) / rounds;
                return new RoundBound(
                        times.isEmpty() ? Double.NaN : times.get(times.size() / 2),
                        learnersCpu,
                        serverCpu);
            }
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Process startChild(String main, String heap, String... args)
            throws java.io.IOException {
        return startChild(main, heap, List.of(), args);
    }

    private static Process startChild(
            String main, String heap, List<String> jvmOptions, String... args)
            throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add(heap);
        cmd.add("-XX:+UseG1GC");
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main);
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** Reads the child's output until its {@code READY port} line; keeps draining it after. */
    private static int awaitReady(Process p) throws java.io.IOException {
        BufferedReader out =
                new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null) {
            if (line.startsWith("READY ")) {
                Thread drain =
                        new Thread(
                                () -> {
                                    try {
                                        while (out.readLine() != null) {
                                            // discard
                                        }
                                    } catch (java.io.IOException e) {
                                        // the child ended
                                    }
                                },
                                "bench-child-output");
                drain.setDaemon(true);
                drain.start();
                return Integer.parseInt(line.substring(6).trim());
            }
        }
        throw new IllegalStateException("the server process did not start");
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
