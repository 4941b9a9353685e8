package org.metisfl.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.metisfl.bench.FederationBenchmark.Outcome;
import org.metisfl.bench.FederationBenchmark.Scenario;
import org.metisfl.simulator.DiscardingGateway;
import org.metisfl.simulator.RoundTimeline;
import org.metisfl.simulator.SimulatedFederation;

/**
 * TLS on the learner port against plaintext, side by side in one run ({@code bench/run --only
 * tls}): the update ingest rate (10 learners, checkpoints off) and the synchronous FedAvg round (2
 * and 10 learners, model download and upload, checkpoints at the default interval) at 1M and 10M
 * parameters, each with its raw-gRPC bound under the same security, plus raw gRPC and loopback TCP
 * with and without TLS. Each pair runs back to back, the order alternating from one pair to the
 * next (off first, then on first), so the machine's drifting load hits both sides alike; the load
 * average is recorded before every run.
 *
 * <p>TLS here is what the quickstart and production run on the learner port: server-authenticated
 * TLS with a certificate from the project's development CA ({@link BenchTls}), learners trusting
 * that CA, over gRPC's Netty transport (its engine, cipher suite and protocol are reported). The
 * model sink's control path is TLS with a pinned certificate in every mode; in the embedded
 * MiniCluster the sink hands its directives to the gateway in the same JVM, so it crosses no socket
 * in either case.
 */
final class TlsBenchmark {
    private static final long M = 1_000_000;

    /** A transfer bound measured with TLS off and on. */
    record BoundPair(String what, Limits.Rate off, Limits.Rate on, String loadOff, String loadOn) {}

    /** A scenario measured with TLS off and on, each after its raw-gRPC round bound (if any). */
    record ScenarioPair(
            Scenario off,
            Outcome offOutcome,
            Limits.RoundBound offBound,
            String offLoad,
            Scenario on,
            Outcome onOutcome,
            Limits.RoundBound onBound,
            String onLoad) {}

    private final List<BoundPair> bounds = new ArrayList<>();
    private final List<ScenarioPair> pairs = new ArrayList<>();
    private final List<Outcome> outcomes = new ArrayList<>();
    private String grpcSession = "?";
    private String engine = "?";
    private String loadBefore;
    private String loadAfter;

    private TlsBenchmark() {}

    /** The plaintext scenarios; each runs again with TLS on. */
    static List<Scenario> scenarios() {
        List<Scenario> s = new ArrayList<>();
        s.add(scenario("ingest-1M-10", "tls-ingest", M, 10, 5, false, "0", "3g", 120));
        s.add(scenario("ingest-10M-10", "tls-ingest", 10 * M, 10, 5, false, "0", "6g", 180));
        String ckpt = FederationBenchmark.DEFAULT_CHECKPOINTS;
        s.add(scenario("round-1M-2", "tls-round", M, 2, 5, true, ckpt, "3g", 120));
        s.add(scenario("round-1M-10", "tls-round", M, 10, 5, true, ckpt, "3g", 150));
        s.add(scenario("round-10M-2", "tls-round", 10 * M, 2, 5, true, ckpt, "6g", 180));
        s.add(scenario("round-10M-10", "tls-round", 10 * M, 10, 4, true, ckpt, "6g", 240));
        return s;
    }

    private static Scenario scenario(
            String id,
            String group,
            long values,
            int learners,
            int rounds,
            boolean fetchModel,
            String checkpoints,
            String heap,
            int timeoutSeconds) {
        return new Scenario(
                "tls-off-" + id,
                group,
                values,
                learners,
                learners,
                Math.min(learners, 8),
                rounds,
                fetchModel,
                checkpoints,
                Map.of(),
                heap,
                Duration.ofSeconds(timeoutSeconds),
                false);
    }

    private static Scenario withTls(Scenario s) {
        return new Scenario(
                s.id().replace("tls-off-", "tls-on-"),
                s.group(),
                s.values(),
                s.learners(),
                s.trainers(),
                s.channels(),
                s.rounds(),
                s.fetchModel(),
                s.checkpointInterval(),
                s.extra(),
                s.heap(),
                s.timeout(),
                true);
    }

    /**
     * Whether an --only item asks for (part of) this benchmark: {@code tls} (all of it), {@code
     * tls-limits} (the transfer bounds) or {@code tls-<scenario>} (one pair, e.g. {@code
     * tls-ingest-10M-10}, whose sides are {@code tls-off-ingest-10M-10} and {@code
     * tls-on-ingest-10M-10} for --profile).
     */
    static boolean selects(String item) {
        return item.equals("tls") || item.startsWith("tls-");
    }

    static TlsBenchmark run(FederationBenchmark b) throws Exception {
        TlsBenchmark t = new TlsBenchmark();
        BenchTls tls = b.tls();
        boolean all = b.only().contains("tls");
        t.loadBefore = FederationBenchmark.loadAverage();
        t.engine = engine();
        t.grpcSession = probeSession(tls);
        b.say("tls: gRPC negotiates " + t.grpcSession + "; " + t.engine);
        int flip = 0;
        for (long values :
                all || b.only().contains("tls-limits") ? new long[] {M, 10 * M} : new long[0]) {
            String what = "10 × " + FederationBenchmark.label(values);
            boolean onFirst = flip++ % 2 == 1;
            Limits.Rate[] raw = new Limits.Rate[2];
            String[] rawLoad = new String[2];
            for (int k = 0; k < 2; k++) {
                boolean on = onFirst ? k == 0 : k == 1;
                int i = on ? 1 : 0;
                rawLoad[i] = FederationBenchmark.loadAverage();
                Limits.Raw r = Limits.rawGrpc(values, 10, 8, 4, on ? tls : null);
                raw[i] =
                        new Limits.Rate(r.bytesPerSecond(), r.senderCpuPerGb(), r.serverCpuPerGb());
                b.say(
                        String.format(
                                Locale.ROOT,
                                "tls: raw gRPC %s, TLS %s: %.2f GB/s (load %s)",
                                what,
                                on ? "on" : "off",
                                r.bytesPerSecond() / 1e9,
                                rawLoad[i]));
            }
            t.bounds.add(
                    new BoundPair(
                            "raw gRPC, " + what + " uploads, 8 channels",
                            raw[0],
                            raw[1],
                            rawLoad[0],
                            rawLoad[1]));
            Limits.Rate[] tcp = new Limits.Rate[2];
            String[] tcpLoad = new String[2];
            for (int k = 0; k < 2; k++) {
                boolean on = onFirst ? k == 1 : k == 0; // the other order than raw gRPC's
                int i = on ? 1 : 0;
                tcpLoad[i] = FederationBenchmark.loadAverage();
                tcp[i] =
                        on
                                ? Limits.loopbackTls(values, 10, 8, 1 << 20, 4, tls)
                                : Limits.loopbackTcp(values, 10, 8, 1 << 20, 4);
                b.say(
                        String.format(
                                Locale.ROOT,
                                "tls: loopback TCP %s, TLS %s: %.2f GB/s (load %s)",
                                what,
                                on ? "on (JDK JSSE " + tcp[i].session() + ")" : "off",
                                tcp[i].bytesPerSecond() / 1e9,
                                tcpLoad[i]));
            }
            t.bounds.add(
                    new BoundPair(
                            "loopback TCP, " + what + " in 1 MiB writes, 8 sockets",
                            tcp[0],
                            tcp[1],
                            tcpLoad[0],
                            tcpLoad[1]));
        }
        for (Scenario off : scenarios()) {
            if (!all && !b.only().contains(off.id().replace("tls-off-", "tls-"))) {
                continue;
            }
            Scenario on = withTls(off);
            boolean onFirst = flip++ % 2 == 1;
            Object[] offRun = null;
            Object[] onRun = null;
            for (Scenario s : onFirst ? List.of(on, off) : List.of(off, on)) {
                Object[] r = runOne(b, s, tls);
                if (s.tls()) {
                    onRun = r;
                } else {
                    offRun = r;
                }
            }
            t.pairs.add(
                    new ScenarioPair(
                            off,
                            (Outcome) offRun[0],
                            (Limits.RoundBound) offRun[1],
                            (String) offRun[2],
                            on,
                            (Outcome) onRun[0],
                            (Limits.RoundBound) onRun[1],
                            (String) onRun[2]));
        }
        t.loadAfter = FederationBenchmark.loadAverage();
        return t;
    }

    /** {outcome or null, round bound or null, load before}. */
    private static Object[] runOne(FederationBenchmark b, Scenario s, BenchTls tls) {
        String load = FederationBenchmark.loadAverage();
        Limits.RoundBound bound = null;
        try {
            if (s.fetchModel()) {
                bound =
                        Limits.rawGrpcRound(
                                s.values(),
                                s.learners(),
                                s.channels(),
                                true,
                                0,
                                3,
                                s.timeout(),
                                s.tls() ? tls : null);
                b.say(
                        String.format(
                                Locale.ROOT,
                                "  raw-gRPC round of %s: %s ms",
                                s.id(),
                                Table.ms(bound.roundUs())));
            }
            b.say(
                    "scenario "
                            + s.id()
                            + " (time bound "
                            + s.timeout().toSeconds()
                            + " s, load "
                            + load
                            + ")");
            Outcome o = b.runScenario(s);
            b.say(
                    String.format(
                            Locale.ROOT,
                            "  %s: round %s ms, ingest %s GB/s, controller CPU %.1f s",
                            o.status(),
                            Table.ms(o.roundTimeUs()),
                            Table.gbps(o.ingest()),
                            o.controllerCpuSeconds()));
            return new Object[] {o, bound, load};
        } catch (Exception e) {
            b.say("  FAILED: " + e);
            e.printStackTrace();
            return new Object[] {null, bound, load};
        }
    }

    /** The TLS a gRPC learner channel negotiates with a server built like the gateway's. */
    private static String probeSession(BenchTls tls) throws Exception {
        try (DiscardingGateway g =
                        DiscardingGateway.builder()
                                .participants(1)
                                .modelValues(1024)
                                .transport(tls.serverTransport())
                                .build()
                                .start();
                SimulatedFederation sim =
                        SimulatedFederation.builder()
                                .gateway("127.0.0.1", g.port())
                                .learners(1)
                                .modelValues(1024)
                                .evaluate(false)
                                .transport(tls.learnerTransport())
                                .timeout(Duration.ofSeconds(30))
                                .build()) {
            sim.run();
            return g.negotiatedTls().isEmpty() ? "?" : g.negotiatedTls();
        }
    }

    /** Whether gRPC's bundled OpenSSL (BoringSSL via netty-tcnative) loads on this machine. */
    private static String engine() {
        try {
            boolean available = io.grpc.netty.shaded.io.netty.handler.ssl.OpenSsl.isAvailable();
            if (available) {
                return "gRPC's bundled netty-tcnative loads ("
                        + io.grpc.netty.shaded.io.netty.handler.ssl.OpenSsl.versionString()
                        + ", ALPN "
                        + (io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider.isAlpnSupported(
                                        io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider
                                                .OPENSSL)
                                ? "supported"
                                : "unsupported")
                        + "), so gRPC's TLS runs in BoringSSL, not in the JDK";
            }
            return "gRPC's bundled netty-tcnative does not load ("
                    + io.grpc.netty.shaded.io.netty.handler.ssl.OpenSsl.unavailabilityCause()
                    + "), so gRPC's TLS runs in the JDK's JSSE";
        } catch (Throwable e) {
            return "netty-tcnative check failed: " + e;
        }
    }

    List<Outcome> outcomes() {
        List<Outcome> out = new ArrayList<>();
        for (ScenarioPair p : pairs) {
            if (p.offOutcome != null) {
                out.add(p.offOutcome);
            }
            if (p.onOutcome != null) {
                out.add(p.onOutcome);
            }
        }
        return out;
    }

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("## TLS on the learner port against plaintext (`--only tls`)\n\n");
        md.append("gRPC's TLS: ")
                .append(grpcSession)
                .append(". ")
                .append(engine)
                .append(". Load average: ")
                .append(loadBefore)
                .append(" before, ")
                .append(loadAfter)
                .append(" after; each row gives the load before each side's run.\n\n");
        Table tb =
                new Table(
                        "bound",
                        "TLS off GB/s",
                        "TLS on GB/s",
                        "on / off",
                        "sender CPU s/GB off → on",
                        "server CPU s/GB off → on",
                        "load off",
                        "load on");
        for (BoundPair p : bounds) {
            tb.row(
                    p.what
                            + (p.on.session().isEmpty()
                                    ? ""
                                    : " (TLS: JDK JSSE " + p.on.session() + ")"),
                    Table.gbps(p.off.bytesPerSecond()),
                    Table.gbps(p.on.bytesPerSecond()),
                    ratio(p.on.bytesPerSecond() / p.off.bytesPerSecond()),
                    cpu(p.off.senderCpuPerGb()) + " → " + cpu(p.on.senderCpuPerGb()),
                    cpu(p.off.serverCpuPerGb()) + " → " + cpu(p.on.serverCpuPerGb()),
                    p.loadOff,
                    p.loadOn);
        }
        md.append(tb).append('\n');

        Table ti =
                new Table(
                        "ingest (checkpoints off)",
                        "TLS off GB/s",
                        "TLS on GB/s",
                        "on / off",
                        "learners CPU s/GB off → on",
                        "controller CPU s/GB off → on",
                        "status off / on",
                        "load off",
                        "load on");
        Table tr =
                new Table(
                        "sync FedAvg round",
                        "TLS off ms",
                        "TLS on ms",
                        "on / off",
                        "period off → on ms",
                        "raw-gRPC round off → on ms",
                        "round / bound off → on",
                        "learners CPU s/round off → on",
                        "controller CPU s/round off → on",
                        "status off / on",
                        "load off",
                        "load on");
        for (ScenarioPair p : pairs) {
            Outcome off = p.offOutcome;
            Outcome on = p.onOutcome;
            String name =
                    FederationBenchmark.label(p.off.values())
                            + " × "
                            + p.off.learners()
                            + " learners";
            String status =
                    (off == null ? "FAILED" : off.status())
                            + " / "
                            + (on == null ? "FAILED" : on.status());
            if (p.off.group().equals("tls-ingest")) {
                double a = off == null ? Double.NaN : off.ingest();
                double c = on == null ? Double.NaN : on.ingest();
                ti.row(
                        name,
                        Table.gbps(a),
                        Table.gbps(c),
                        ratio(c / a),
                        cpu(perGb(off, true)) + " → " + cpu(perGb(on, true)),
                        cpu(perGb(off, false)) + " → " + cpu(perGb(on, false)),
                        status,
                        p.offLoad,
                        p.onLoad);
            } else {
                double a = off == null ? Double.NaN : off.roundTimeUs();
                double c = on == null ? Double.NaN : on.roundTimeUs();
                tr.row(
                        name,
                        Table.ms(a),
                        Table.ms(c),
                        ratio(c / a),
                        (off == null ? "–" : Table.ms(off.periodUs()))
                                + " → "
                                + (on == null ? "–" : Table.ms(on.periodUs())),
                        (p.offBound == null ? "–" : Table.ms(p.offBound.roundUs()))
                                + " → "
                                + (p.onBound == null ? "–" : Table.ms(p.onBound.roundUs())),
                        (off == null || p.offBound == null ? "–" : ratio(a / p.offBound.roundUs()))
                                + " → "
                                + (on == null || p.onBound == null
                                        ? "–"
                                        : ratio(c / p.onBound.roundUs())),
                        (off == null ? "–" : cpu(off.learnersCpuSeconds() / p.off.rounds()))
                                + " → "
                                + (on == null ? "–" : cpu(on.learnersCpuSeconds() / p.on.rounds())),
                        (off == null ? "–" : cpu(off.controllerCpuSeconds() / p.off.rounds()))
                                + " → "
                                + (on == null
                                        ? "–"
                                        : cpu(on.controllerCpuSeconds() / p.on.rounds())),
                        status,
                        p.offLoad,
                        p.onLoad);
            }
        }
        if (!ti.isEmpty()) {
            md.append(ti).append('\n');
        }
        if (!tr.isEmpty()) {
            md.append(tr).append('\n');
        }
        md.append(
                "Ingest = update bytes of a round / (last ack − first upload start), median of"
                        + " rounds 2–4 of 5, checkpoints off, no model download. Round = the"
                        + " coordinator's round time, median of the rounds between the first and"
                        + " the last; checkpoints at the default interval; each learner downloads"
                        + " the model and uploads its update. Raw-gRPC round = the same round's"
                        + " bytes against the discarding gateway with the same security, right"
                        + " before the scenario. on / off > 1 for times and < 1 for rates is what"
                        + " TLS costs. CPU: the simulated learners' (the driver JVM) and the"
                        + " controller's process, per GB uploaded or per round.\n\n");
        return md.toString();
    }

    private static double perGb(Outcome o, boolean learners) {
        if (o == null) {
            return Double.NaN;
        }
        long bytes = o.report().rounds().stream().mapToLong(RoundTimeline::bytesUploaded).sum();
        double s = learners ? o.learnersCpuSeconds() : o.controllerCpuSeconds();
        return bytes == 0 ? Double.NaN : s / (bytes / 1e9);
    }

    private static String cpu(double seconds) {
        return Double.isNaN(seconds) ? "–" : String.format(Locale.ROOT, "%.2f", seconds);
    }

    private static String ratio(double r) {
        return Double.isNaN(r) || Double.isInfinite(r)
                ? "–"
                : String.format(Locale.ROOT, "%.2f×", r);
    }
}
