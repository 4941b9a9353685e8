package org.metisfl.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Stream;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.simulator.RoundTimeline;
import org.metisfl.simulator.SimulatedFederation;
import org.metisfl.simulator.SimulationReport;

/**
 * The end-to-end benchmark suite: runs federations on the embedded Flink job (one controller
 * process per scenario, so its memory is its own) against simulated learners in this JVM, measures
 * the transport and in-memory ceilings in the same run, and writes the tables as markdown.
 *
 * <pre>
 * bench/run                          # the standard suite, within a 15-minute budget (what does
 *                                    # not fit is skipped and listed); tables to bench/results/
 * bench/run --quick                  # a 2-minute subset for development
 * bench/run --only size-10M-2,limits # some scenarios (ids or groups: limits ingest size large
 *                                    # tail learners registered async)
 * bench/run --set key=value          # a federation setting for every scenario (repeatable)
 * bench/run --profile ingest-10M-10  # also record that scenario's controller with JFR
 * bench/run --only tls               # TLS on the learner port against plaintext, side by side
 *                                    # (TlsBenchmark; not in the suites)
 * bench/run --budget-minutes 40      # another time budget
 * </pre>
 */
public final class FederationBenchmark {
    private static final long K = 1_000;
    private static final long M = 1_000_000;

    /** A scenario's checkpoint interval when it leaves job.checkpoint-interval at its default. */
    static final String DEFAULT_CHECKPOINTS = "default";

    /** Groups of synchronous scenarios measured against the raw-gRPC time of their bytes. */
    private static final Set<String> BOUNDED = Set.of("size", "learners", "large");

    /**
     * Bound on simulated learners transferring at once in scenarios of 5,000+ uploaders: without
     * it, 10,000 simultaneous 400 KB uploads and downloads exhaust this JVM's memory (the gateway's
     * growth is reported separately).
     */
    private static final int MAX_TRANSFERS = 500;

    /** One federation to run; {@code tls}: the learner port serves TLS (else plaintext). */
    record Scenario(
            String id,
            String group,
            long values,
            int learners,
            int trainers,
            int channels,
            int rounds,
            boolean fetchModel,
            String checkpointInterval,
            Map<String, String> extra,
            String heap,
            Duration timeout,
            boolean tls) {

        /** A scenario with a plaintext learner port ({@code security.insecure: true}). */
        Scenario(
                String id,
                String group,
                long values,
                int learners,
                int trainers,
                int channels,
                int rounds,
                boolean fetchModel,
                String checkpointInterval,
                Map<String, String> extra,
                String heap,
                Duration timeout) {
            this(
                    id,
                    group,
                    values,
                    learners,
                    trainers,
                    channels,
                    rounds,
                    fetchModel,
                    checkpointInterval,
                    extra,
                    heap,
                    timeout,
                    false);
        }
    }

    /** What a scenario measured. */
    record Outcome(
            Scenario scenario,
            SimulationReport report,
            List<RoundResult> results,
            long peakRss,
            long peakHeap,
            long heapAfterGc,
            double wallSeconds,
            String note,
            Limits.RoundBound bound,
            double learnersCpuSeconds,
            double controllerCpuSeconds,
            SteadyWindow.Result steady) {

        /** The controller's coordinator round time over the raw-gRPC time of the round's bytes. */
        double roundOverBound() {
            return bound == null ? Double.NaN : roundTimeUs() / bound.roundUs();
        }

        /** The period (first task to next first task) over the raw-gRPC round. */
        double periodOverBound() {
            return bound == null ? Double.NaN : periodUs() / bound.roundUs();
        }

        /**
         * Rounds whose figures count: not the first (warm-up) and, with 3 or more, not the last (a
         * full GC probes the controller's heap in it).
         */
        List<Long> measuredRounds() {
            int r = scenario.rounds;
            List<Long> out = new ArrayList<>();
            long from = r >= 2 ? 2 : 1;
            long to = r >= 3 ? r - 1 : r;
            for (long i = from; i <= to; i++) {
                out.add(i);
            }
            return out;
        }

        double medianOver(Function<Long, Optional<? extends Number>> f, boolean needNext) {
            List<Double> v = new ArrayList<>();
            for (long r : measuredRounds()) {
                if (needNext && r >= scenario.rounds) {
                    continue;
                }
                f.apply(r).ifPresent(x -> v.add(x.doubleValue()));
            }
            if (v.isEmpty() && needNext) {
                for (long r = 1; r < scenario.rounds; r++) {
                    f.apply(r).ifPresent(x -> v.add(x.doubleValue()));
                }
            }
            if (v.isEmpty()) {
                return Double.NaN;
            }
            Collections.sort(v);
            return v.get(v.size() / 2);
        }

        Optional<RoundResult> result(long round) {
            return results.stream().filter(x -> x.round == round).findFirst();
        }

        /** Asynchronous: updates acknowledged over first task → last acknowledgement. */
        double updatesPerSecond() {
            long acks = report.rounds().stream().mapToLong(RoundTimeline::acks).sum();
            double span = asyncSpanSeconds();
            return span > 0 ? acks / span : Double.NaN;
        }

        /** Asynchronous: first task → last acknowledgement, in seconds (0 if none). */
        double asyncSpanSeconds() {
            long first =
                    report.rounds().stream()
                            .mapToLong(RoundTimeline::firstTaskAtUs)
                            .filter(x -> x > 0)
                            .min()
                            .orElse(0);
            long last =
                    report.rounds().stream().mapToLong(RoundTimeline::lastAckAtUs).max().orElse(0);
            return first == 0 || last <= first ? 0 : (last - first) / 1e6;
        }

        /**
         * Start → every learner joined with its task stream, in seconds (NaN if some never did).
         */
        double joinSeconds() {
            return report.allJoinedAtUs() == 0
                    ? Double.NaN
                    : (report.allJoinedAtUs() - report.startedAtUs()) / 1e6;
        }

        double roundTimeUs() {
            return medianOver(r -> result(r).map(x -> x.roundTimeMs * 1000.0), false);
        }

        double tailAckUs() {
            return medianOver(report::tailAfterLastAckUs, true);
        }

        double tailSentUs() {
            return medianOver(report::tailAfterLastSentUs, true);
        }

        double overheadUs() {
            return medianOver(report::overheadUs, true);
        }

        double periodUs() {
            return medianOver(report::periodUs, true);
        }

        /** Last ack of a round to the coordinator closing it (aggregation + shard hand-over). */
        double ackToCloseUs() {
            return medianOver(
                    r ->
                            report.round(r)
                                    .flatMap(
                                            t ->
                                                    result(r)
                                                            .map(
                                                                    x ->
                                                                            x.closedAtMs * 1000.0
                                                                                    - t
                                                                                            .lastAckAtUs())),
                    false);
        }

        /** Coordinator closing a round to the first task of the next (publish path). */
        double closeToTaskUs() {
            return medianOver(
                    r ->
                            report.round(r + 1)
                                    .flatMap(
                                            t ->
                                                    result(r)
                                                            .map(
                                                                    x ->
                                                                            t.firstTaskAtUs()
                                                                                    - x.closedAtMs
                                                                                            * 1000.0)),
                    true);
        }

        double ingest() {
            return medianOver(r -> report.round(r).map(RoundTimeline::ingestBytesPerSecond), false);
        }

        double maxDownloadUs() {
            return medianOver(r -> report.round(r).map(RoundTimeline::maxDownloadUs), false);
        }

        boolean ok() {
            if (scenario.group.equals("async")) {
                return !report.timedOut() && report.failures() == 0 && !results.isEmpty();
            }
            return !report.timedOut()
                    && report.failures() == 0
                    && results.size() >= scenario.rounds
                    && results.stream().noneMatch(x -> x.aborted);
        }

        String status() {
            if (ok()) {
                return "ok";
            }
            return (report.timedOut() ? "TIMED OUT " : "")
                    + (report.failures() > 0 ? report.failures() + " failures " : "")
                    + results.size()
                    + "/"
                    + scenario.rounds
                    + " rounds";
        }
    }

    private final Path base;
    private final Set<String> only;
    private final Set<String> profile;
    private final long deadlineNanos;
    private final List<Outcome> outcomes = new ArrayList<>();
    private final List<String> skipped = new ArrayList<>();
    private final StringBuilder log = new StringBuilder();
    private Limits.Raw raw;
    private Limits.Rate tcp;
    private double inMemory = Double.NaN;
    private final Map<String, String> profileSummaries = new LinkedHashMap<>();

    /** A session cluster to run the scenarios on (--cluster URL DIR), else embedded. */
    private String clusterUrl;

    private Path clusterDir;

    /** Federation settings applied to every scenario run (--set key=value). */
    private final Map<String, String> overrides = new LinkedHashMap<>();

    /**
     * The controller classpath of another build (--baseline DIR): every scenario then runs twice in
     * a row, first on that build's controller (its id suffixed {@value #BEFORE}), then on this one,
     * each against its own raw-gRPC bound measured right before it.
     */
    private String baselineClasspath;

    /** The suffix of a scenario's id when it ran on the --baseline build. */
    static final String BEFORE = "-before";

    private FederationBenchmark(Path base, Set<String> only, Set<String> profile, Duration budget) {
        this.base = base;
        this.only = only;
        this.profile = profile;
        this.deadlineNanos = System.nanoTime() + budget.toNanos();
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Set<String> only = Set.of();
        Set<String> profile = Set.of();
        Duration budget = Duration.ofMinutes(15);
        Path out = null;
        Path base = Path.of("bench/target/federation-bench");
        Map<String, String> overrides = new LinkedHashMap<>();
        String clusterUrl = null;
        Path clusterDir = null;
        Path baseline = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only = Set.of(args[++i].split(","));
                case "--profile" -> profile = Set.of(args[++i].split(","));
                case "--budget-minutes" -> budget = Duration.ofMinutes(Long.parseLong(args[++i]));
                case "--out" -> out = Path.of(args[++i]);
                case "--work" -> base = Path.of(args[++i]);
                case "--cluster" -> {
                    clusterUrl = args[++i];
                    clusterDir = Path.of(args[++i]);
                }
                case "--baseline" -> baseline = Path.of(args[++i]);
                case "--set" -> {
                    String kv = args[++i];
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        System.err.println("--set takes key=value, got " + kv);
                        System.exit(2);
                    }
                    overrides.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
                default -> {
                    System.err.println(
                            "usage: FederationBenchmark [--quick] [--only ids|groups]"
                                    + " [--profile ids] [--budget-minutes n] [--out file.md]"
                                    + " [--work dir] [--set federation.key=value ...]"
                                    + " [--baseline built-checkout]");
                    System.exit(2);
                }
            }
        }
        if (out == null) {
            out =
                    Path.of(
                            "bench/results/federation-"
                                    + LocalDateTime.now()
                                            .format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                                    + ".md");
        }
        FederationBenchmark b = new FederationBenchmark(base, only, profile, budget);
        b.overrides.putAll(overrides);
        b.clusterUrl = clusterUrl;
        b.clusterDir = clusterDir;
        if (baseline != null) {
            if (clusterUrl != null) {
                System.err.println("--baseline runs embedded controllers; drop --cluster");
                System.exit(2);
            }
            b.baselineClasspath = baselineClasspath(baseline);
        }
        long start = System.nanoTime();
        b.run(quick ? quickSuite() : standardSuite());
        String md = b.markdown((System.nanoTime() - start) / 1e9, quick);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md);
        System.out.println(md);
        System.out.println("Tables written to " + out);
        System.exit(0);
    }

    /**
     * The controller classpath of a checkout built with {@code mvn -pl bench -am install}: its
     * bench classes and the reactor jars its {@code classpath.txt} names.
     */
    static String baselineClasspath(Path checkout) throws IOException {
        Path classes = checkout.resolve("bench/target/classes");
        Path list = checkout.resolve("bench/target/classpath.txt");
        if (!Files.isDirectory(classes) || !Files.isRegularFile(list)) {
            System.err.println(
                    "--baseline "
                            + checkout
                            + ": no bench/target/classes or bench/target/classpath.txt there;"
                            + " build it first: (cd "
                            + checkout
                            + " && mvn -B -q -pl bench -am install -DskipTests)");
            System.exit(2);
        }
        return classes.toAbsolutePath()
                + java.io.File.pathSeparator
                + Files.readString(list).trim();
    }

    /**
     * How many simulated learners transfer at once: all of them below 5,000 trainers, else about
     * 200 MB of updates in flight (at least {@value #MAX_TRANSFERS}) so the driver's memory holds.
     */
    static int maxTransfers(Scenario s) {
        if (s.trainers < 5_000) {
            return 0;
        }
        long perUpdate = Math.max(1, s.values * Float.BYTES);
        return (int) Math.min(s.trainers, Math.max(MAX_TRANSFERS, 200_000_000L / perUpdate));
    }

    private static Map<String, String> none() {
        return Map.of();
    }

    static List<Scenario> standardSuite() {
        List<Scenario> s = new ArrayList<>();
        Map<String, String> heapState = Map.of("job.state-backend", "HASHMAP");
        // 6 rounds: the figures are medians of rounds 2-5 (round 1 warms up, the last probes GC).
        s.add(scenario("ingest-10M-10", "ingest", 10 * M, 10, 6, false, "0", none(), "6g", 150));
        s.add(
                scenario(
                        "ingest-10M-10-heap",
                        "ingest",
                        10 * M,
                        10,
                        6,
                        false,
                        "0",
                        heapState,
                        "6g",
                        90));
        for (long v : new long[] {100 * K, M}) {
            for (int n : new int[] {2, 10}) {
                s.add(
                        scenario(
                                "size-" + label(v) + "-" + n,
                                "size",
                                v,
                                n,
                                4,
                                true,
                                DEFAULT_CHECKPOINTS,
                                none(),
                                "6g",
                                90));
            }
        }
        s.add(
                scenario(
                        "size-10M-2",
                        "size",
                        10 * M,
                        2,
                        6,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "6g",
                        120));
        s.add(
                scenario(
                        "size-10M-10",
                        "size",
                        10 * M,
                        10,
                        4,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "6g",
                        150));
        s.add(
                scenario(
                        "size-50M-2",
                        "size",
                        50 * M,
                        2,
                        2,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "8g",
                        180));
        s.add(
                scenario(
                        "size-50M-10",
                        "size",
                        50 * M,
                        10,
                        2,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "8g",
                        300));
        // A large model, bounded to this machine's share of memory: gateway.max-model-size may be
        // up to 2047 MiB, but 100M values already took 9.5 GB of controller RSS here: a model at
        // the limit needs several times the memory of a 23 GB machine shared by several people.
        s.add(
                scenario(
                        "large-100M-2",
                        "large",
                        100 * M,
                        2,
                        3,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "8g",
                        300));
        s.add(scenario("tail-10M-2", "tail", 10 * M, 2, 6, true, "0", none(), "6g", 90));
        s.add(
                scenario(
                        "learners-100K-100",
                        "learners",
                        100 * K,
                        100,
                        4,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "6g",
                        90));
        s.add(
                scenario(
                        "learners-100K-1000",
                        "learners",
                        100 * K,
                        1_000,
                        3,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "6g",
                        120));
        s.add(
                scenario(
                        "learners-100K-10000",
                        "learners",
                        100 * K,
                        10_000,
                        3,
                        true,
                        DEFAULT_CHECKPOINTS,
                        none(),
                        "6g",
                        300));
        s.add(registered(100_000, 100, 3, 240));
        s.add(asynchronous(100_000, 10 * K, 60, 300));
        s.add(AsyncScenarios.waitingForAck(asynchronous(100_000, 10 * K, 60, 300)));
        // The same with 10,000 learners: comparable on a loaded machine, where 100,000 joins
        // alone can take minutes.
        s.add(asynchronous(10_000, 10 * K, 30, 180));
        s.add(AsyncScenarios.waitingForAck(asynchronous(10_000, 10 * K, 30, 180)));
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
            Map<String, String> extra,
            String heap,
            int timeoutSeconds) {
        return new Scenario(
                id,
                group,
                values,
                learners,
                learners,
                Math.min(learners, 8),
                rounds,
                fetchModel,
                checkpoints,
                extra,
                heap,
                Duration.ofSeconds(timeoutSeconds));
    }

    static List<Scenario> quickSuite() {
        List<Scenario> s = new ArrayList<>();
        Duration t = Duration.ofMinutes(2);
        s.add(new Scenario("ingest-1M-10", "ingest", M, 10, 10, 2, 4, false, "0", none(), "3g", t));
        s.add(new Scenario("size-1M-2", "size", M, 2, 2, 2, 4, true, "1 s", none(), "3g", t));
        s.add(new Scenario("tail-1M-2", "tail", M, 2, 2, 2, 4, true, "0", none(), "3g", t));
        s.add(
                new Scenario(
                        "learners-100K-100",
                        "learners",
                        100 * K,
                        100,
                        100,
                        4,
                        4,
                        true,
                        "1 s",
                        none(),
                        "3g",
                        t));
        s.add(registered(5_000, 100, 2, 90));
        return s;
    }

    /**
     * Many registered learners holding task streams; each round the job samples {@code sampled} of
     * them as participants ({@code selection.participants}), and those train and upload (every
     * simulated learner trains when it gets a task).
     */
    static Scenario registered(int learners, int sampled, int rounds, int timeoutSeconds) {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("selection.participants", Integer.toString(sampled));
        extra.put("round.timeout", "60 s");
        return new Scenario(
                "registered-" + label(learners) + "-" + sampled,
                "registered",
                100 * K,
                learners,
                learners,
                32,
                rounds,
                true,
                "1 s",
                extra,
                "6g",
                Duration.ofSeconds(timeoutSeconds));
    }

    /**
     * Asynchronous FedAsync with {@code learners} registered learners, every one of them training:
     * each accepted update is mixed into the model and its learner gets the next task at once, so
     * updates stream for {@code trainSeconds} (termination.max-duration); at most {@value
     * #MAX_TRANSFERS} learners transfer at once. The figure is updates per second.
     */
    static Scenario asynchronous(int learners, long values, int trainSeconds, int timeoutSeconds) {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("protocol.type", "asynchronous");
        extra.put("async.rule", "fedasync");
        extra.put("async.max-staleness", "1000000");
        extra.put("federation.rounds", "100000000");
        extra.put("termination.max-duration", trainSeconds + " s");
        extra.put("async.evaluate-every", "1000");
        // The simulated learners do not retry a refused Join; the benchmark measures updates, not
        // the admission rate.
        extra.put("gateway.limits.join-rate", "1000000");
        return new Scenario(
                "async-" + label(learners),
                "async",
                values,
                learners,
                learners,
                32,
                1,
                true,
                "1 s",
                extra,
                "6g",
                Duration.ofSeconds(timeoutSeconds));
    }

    static String label(long v) {
        if (v >= M && v % M == 0) {
            return v / M + "M";
        }
        if (v >= K && v % K == 0) {
            return v / K + "K";
        }
        return Long.toString(v);
    }

    private boolean selected(String id, String group) {
        if (only.isEmpty()) {
            return true;
        }
        return only.contains(id) || only.contains(group);
    }

    /** The CKKS-against-plaintext rows, when asked for with --only ckks (not in the suites). */
    private List<CkksRounds.Row> ckksRows;

    private long[] ckksUpload;
    private String ckksLoad;

    /** TLS on against TLS off, when asked for with --only tls (not in the suites). */
    private TlsBenchmark tlsRun;

    private BenchTls benchTls;

    private void run(List<Scenario> suite) throws Exception {
        Files.createDirectories(base);
        if (only.contains("ckks") || only.contains("ckks-10M")) {
            long values = only.contains("ckks-10M") ? 10 * M : M;
            String before = loadAverage();
            say(
                    "ckks: CKKS rounds against plaintext rounds, "
                            + label(values)
                            + " parameters (load "
                            + before
                            + ")");
            ckksRows = CkksRounds.run(base.resolve("ckks"), values, new int[] {2, 10}, System.out);
            ckksUpload =
                    CkksRounds.uploadBytes(
                            org.metisfl.crypto.KeyBundle.load(
                                    base.resolve("ckks")
                                            .resolve("ckks-keys")
                                            .resolve(org.metisfl.crypto.KeyBundle.SECRET_FILE)),
                            (int) M,
                            65536);
            ckksLoad = before + " before, " + loadAverage() + " after";
        }
        if (only.stream().anyMatch(TlsBenchmark::selects)) {
            tlsRun = TlsBenchmark.run(this);
            outcomes.addAll(tlsRun.outcomes());
        }
        Scenario ingest =
                suite.stream().filter(x -> x.group.equals("ingest")).findFirst().orElseThrow();
        if (selected("limits", "limits") || selected(ingest.id, ingest.group)) {
            say(
                    "limits: in-memory weighted sum and raw gRPC, "
                            + ingest.learners
                            + " x "
                            + label(ingest.values));
            inMemory = Limits.inMemoryWeightedSum(ingest.values, ingest.learners, 2, 3);
            raw = Limits.rawGrpc(ingest.values, ingest.learners, ingest.channels, ingest.rounds);
            tcp =
                    Limits.loopbackTcp(
                            ingest.values,
                            ingest.learners,
                            ingest.channels,
                            1 << 20,
                            ingest.rounds);
            say(
                    String.format(
                            Locale.ROOT,
                            "  in-memory %.2f GB/s, raw gRPC %.2f GB/s, loopback TCP %.2f GB/s",
                            inMemory / 1e9,
                            raw.bytesPerSecond() / 1e9,
                            tcp.bytesPerSecond() / 1e9));
        }
        for (Scenario s : suite) {
            if (!selected(s.id, s.group)) {
                continue;
            }
            if (baselineClasspath != null) {
                runWithinBudget(withId(s, s.id + BEFORE));
            }
            runWithinBudget(s);
        }
    }

    /** Runs a scenario if the budget has room, cut to what is left of it; logs the outcome. */
    private void runWithinBudget(Scenario s) {
        long left = deadlineNanos - System.nanoTime();
        if (left < Duration.ofSeconds(45).toNanos()) {
            say("scenario " + s.id + ": SKIPPED, the time budget is spent");
            skipped.add(s.id);
            return;
        }
        if (left < s.timeout.toNanos() + Duration.ofSeconds(30).toNanos()) {
            s = withTimeout(s, Duration.ofNanos(left - Duration.ofSeconds(30).toNanos()));
        }
        say(
                "scenario "
                        + s.id
                        + (baselineClasspath == null
                                ? ""
                                : s.id.endsWith(BEFORE)
                                        ? " on the --baseline build"
                                        : " on this build")
                        + " (time bound "
                        + s.timeout.toSeconds()
                        + " s, load "
                        + loadAverage()
                        + ")");
        try {
            Outcome o = runScenario(s);
            outcomes.add(o);
            say(
                    String.format(
                            Locale.ROOT,
                            "  %s in %.0f s: round %s ms, tail(sent) %s ms, overhead %s ms,"
                                    + " peak RSS %s MiB, heap after GC %s MiB",
                            o.status(),
                            o.wallSeconds,
                            Table.ms(o.roundTimeUs()),
                            Table.ms(o.tailSentUs()),
                            Table.ms(o.overheadUs()),
                            Table.mib(o.peakRss),
                            Table.mib(o.heapAfterGc)));
        } catch (Exception e) {
            say("  FAILED: " + e);
            e.printStackTrace();
        }
    }

    private static Scenario withId(Scenario s, String id) {
        return new Scenario(
                id,
                s.group,
                s.values,
                s.learners,
                s.trainers,
                s.channels,
                s.rounds,
                s.fetchModel,
                s.checkpointInterval,
                s.extra,
                s.heap,
                s.timeout,
                s.tls);
    }

    private static Scenario withTimeout(Scenario s, Duration t) {
        return new Scenario(
                s.id,
                s.group,
                s.values,
                s.learners,
                s.trainers,
                s.channels,
                s.rounds,
                s.fetchModel,
                s.checkpointInterval,
                s.extra,
                s.heap,
                t,
                s.tls);
    }

    static String loadAverage() {
        try {
            String[] l = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return l[0] + " " + l[1] + " " + l[2];
        } catch (IOException e) {
            return "?";
        }
    }

    /** The --only selection. */
    Set<String> only() {
        return only;
    }

    /** The development CA and gateway certificate of the TLS scenarios, made on first use. */
    synchronized BenchTls tls() throws IOException {
        if (benchTls == null) {
            benchTls = BenchTls.in(Files.createDirectories(base).resolve("tls-pki"));
        }
        return benchTls;
    }

    void say(String line) {
        System.err.println(
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("HH:mm:ss")) + " " + line);
        log.append(line).append('\n');
    }

    private Path modelFile(long values) throws IOException {
        Path dir = Files.createDirectories(base.resolve("models"));
        Path f = dir.resolve("zeros-" + values + ".model");
        if (!Files.exists(f)) {
            Path tmp = dir.resolve("zeros-" + values + ".tmp");
            ModelCodec.writeModelFile(
                    tmp,
                    List.of(new TensorSpecInfo("w", new long[] {values})),
                    new float[Math.toIntExact(values)]);
            Files.move(tmp, f);
        }
        return f;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path x : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(x);
            }
        }
    }

    Outcome runScenario(Scenario s) throws Exception {
        BenchTls tls = s.tls ? tls() : null;
        String loadBefore = loadAverage().split(" ")[0];
        Limits.RoundBound bound = null;
        if (BOUNDED.contains(s.group)) {
            // the raw-gRPC time of this round's bytes, measured right before the scenario
            bound =
                    Limits.rawGrpcRound(
                            s.values,
                            s.learners,
                            s.channels,
                            s.fetchModel,
                            maxTransfers(s),
                            3,
                            s.timeout,
                            tls);
            say(
                    String.format(
                            Locale.ROOT,
                            "  raw-gRPC round of the same bytes: %s ms (learners %.2f, server"
                                    + " %.2f CPU s per round)",
                            Table.ms(bound.roundUs()),
                            bound.learnersCpuPerRound(),
                            bound.serverCpuPerRound()));
        }
        Path work = base.resolve(s.id);
        deleteTree(work);
        Files.createDirectories(work);
        Path results = work.resolve("results.jsonl");
        int port = freePort();
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("federation.name", s.id);
        settings.put("federation.rounds", Integer.toString(s.rounds));
        settings.put("federation.min-learners", Integer.toString(s.learners));
        settings.put("federation.initial-model", modelFile(s.values).toAbsolutePath().toString());
        settings.put("federation.results-file", results.toAbsolutePath().toString());
        settings.put("gateway.port", Integer.toString(port));
        if (tls != null) {
            // TLS on the learner port with the bench's development CA (`--only tls`)
            settings.putAll(tls.jobSettings());
        } else {
            settings.put("security.insecure", "true");
        }
        // Admission is not what these scenarios measure: anyone who reaches the port may join.
        settings.put("security.admission", "open");
        if (!s.checkpointInterval.equals(DEFAULT_CHECKPOINTS)) {
            settings.put("job.checkpoint-interval", s.checkpointInterval);
        }
        settings.put("evaluation.enabled", "false");
        settings.put("round.timeout", "5 min");
        settings.putAll(s.extra);
        settings.putAll(overrides);
        boolean waitForAck = AsyncScenarios.waitsForAck(settings);
        FederationConfig.of(settings); // fail here, not in the child, on a bad setting
        List<String> jvm = new ArrayList<>();
        if (profile.contains(s.id)) {
            jvm.add(
                    "-XX:StartFlightRecording=filename="
                            + work.resolve("controller.jfr").toAbsolutePath()
                            + ",settings=profile,dumponexit=true");
        }
        long start = System.nanoTime();
        try (Controller controller =
                clusterUrl == null
                        ? new ControllerProcess(
                                work,
                                settings,
                                s.heap,
                                jvm,
                                s.id.endsWith(BEFORE) && baselineClasspath != null
                                        ? baselineClasspath
                                        : System.getProperty("java.class.path"))
                        : new ClusterController(work, settings, clusterUrl, clusterDir)) {
            controller.awaitReady();
            // With gateway.parallelism n (--set), gateway g listens on port + g: learners and
            // channels spread round-robin over all of them.
            int gateways = Integer.parseInt(settings.getOrDefault("gateway.parallelism", "1"));
            SimulatedFederation.Builder simulation = SimulatedFederation.builder();
            for (int g = 0; g < gateways; g++) {
                simulation.gateway("127.0.0.1", port + g);
            }
            SimulatedFederation sim =
                    simulation
                            .learners(s.learners)
                            .trainingLearners(s.trainers)
                            .channels(Math.max(s.channels, gateways))
                            .modelValues(s.values)
                            .fetchModel(s.fetchModel)
                            .evaluate(false)
                            .distinctUpdates(2)
                            .timeout(s.timeout)
                            .callTimeout(s.timeout)
                            .joinConcurrency(10_000)
                            .maxConcurrentTransfers(maxTransfers(s))
                            .transport(Limits.transport(tls))
                            .transferEndsAtAck(waitForAck)
                            .build();
            AtomicLong heapAfterGc = new AtomicLong(-1);
            Thread probe =
                    new Thread(
                            () -> {
                                try {
                                    // mid-way through the last round: accumulators are full.
                                    // Asynchronous: once half as many updates as learners are
                                    // acknowledged (a version is a round: the last round's count
                                    // never grows that far). Only cheap counters here: the probe
                                    // polls every 2 ms on the learners' cores (it called
                                    // sim.report(), which copies and sorts every acknowledgement
                                    // latency, until the run ended).
                                    boolean async = s.group.equals("async");
                                    while ((async ? sim.acknowledged() : sim.acks(s.rounds))
                                            < Math.max(1, s.trainers / 2)) {
                                        if (sim.endedLearners() == s.learners) {
                                            return;
                                        }
                                        Thread.sleep(2);
                                    }
                                    heapAfterGc.set(controller.heapAfterGc());
                                } catch (Exception e) {
                                    say("  heap probe failed: " + e);
                                }
                            },
                            "bench-heap-probe");
            SimulationReport report;
            double learnersCpu0 = Double.NaN;
            double controllerCpu0 =
                    controller instanceof ControllerProcess p
                            ? Limits.cpuSeconds(p.pid())
                            : Double.NaN;
            double learnersCpu = Double.NaN;
            SteadyWindow.Result steady = null;
            try (SteadyWindow window =
                    s.group.equals("async")
                            ? new SteadyWindow(
                                    sim::joinedLearners,
                                    sim::acknowledged,
                                    Limits::driverCpuSeconds,
                                    () ->
                                            controller instanceof ControllerProcess p
                                                    ? Limits.cpuSeconds(p.pid())
                                                    : Double.NaN)
                            : null) {
                try {
                    learnersCpu0 = Limits.driverCpuSeconds();
                    sim.start();
                    probe.start();
                    report = sim.awaitCompletion(s.timeout);
                    probe.join(60_000);
                } finally {
                    sim.close();
                    learnersCpu = Limits.driverCpuSeconds() - learnersCpu0;
                }
                if (window != null) {
                    steady = window.result(s.learners);
                }
            }
            if (heapAfterGc.get() < 0) {
                // the rounds were too quick to probe mid-way: the live set at the end is the model
                heapAfterGc.set(controller.heapAfterGc());
            }
            List<RoundResult> rounds = readResults(results, s.rounds, 15_000);
            double controllerCpu =
                    controller instanceof ControllerProcess p
                            ? Limits.cpuSeconds(p.pid()) - controllerCpu0
                            : Double.NaN;
            long[] mem = controller.stop();
            double wall = (System.nanoTime() - start) / 1e9;
            String note = loadBefore + " → " + loadAverage().split(" ")[0];
            if (profile.contains(s.id)) {
                profileSummaries.put(
                        s.id, JfrSummary.summarize(work.resolve("controller.jfr"), 20));
            }
            return new Outcome(
                    s,
                    report,
                    rounds,
                    mem[0],
                    mem[1],
                    heapAfterGc.get(),
                    wall,
                    note,
                    bound,
                    learnersCpu,
                    controllerCpu,
                    steady);
        }
    }

    private static List<RoundResult> readResults(Path file, int rounds, long waitMs)
            throws Exception {
        long end = System.currentTimeMillis() + waitMs;
        while (true) {
            List<RoundResult> byRound = RoundResults.read(file);
            if (byRound.size() >= rounds || System.currentTimeMillis() > end) {
                return byRound;
            }
            Thread.sleep(100);
        }
    }

    // ---- the report ----

    private Optional<Outcome> outcome(String id) {
        return outcomes.stream().filter(o -> o.scenario.id.equals(id)).findFirst();
    }

    /**
     * Each scenario on the --baseline build and on this one, side by side: round over its raw-gRPC
     * bound (each side against the bound measured right before it), or updates per second for the
     * asynchronous ones, and the acknowledgement latency.
     */
    private String beforeAndAfter() {
        Table t =
                new Table(
                        "scenario",
                        "before: round ms / bound ms = ratio",
                        "after: round ms / bound ms = ratio",
                        "before: updates / s",
                        "after: updates / s",
                        "ack latency median ms before → after",
                        "load before → after");
        for (Outcome after : outcomes) {
            if (after.scenario.id.endsWith(BEFORE)) {
                continue;
            }
            Optional<Outcome> before = outcome(after.scenario.id + BEFORE);
            if (before.isEmpty()) {
                continue;
            }
            boolean async = after.scenario.group.equals("async");
            t.row(
                    after.scenario.id,
                    async ? "–" : roundAgainstBound(before.get()),
                    async ? "–" : roundAgainstBound(after),
                    async ? rate(before.get().updatesPerSecond()) : "–",
                    async ? rate(after.updatesPerSecond()) : "–",
                    Table.ms(before.get().report.ackLatencies().percentileUs(50))
                            + " → "
                            + Table.ms(after.report.ackLatencies().percentileUs(50)),
                    before.get().note + "; " + after.note);
        }
        if (t.isEmpty()) {
            return "";
        }
        return "## Before and after (--baseline build, then this build, scenario by scenario)\n\n"
                + t
                + "\nBound: the raw-gRPC time of the round's bytes (every participant's download and"
                + " upload) against a discarding server, measured right before each side.\n\n";
    }

    private static String roundAgainstBound(Outcome o) {
        return Table.ms(o.roundTimeUs())
                + " / "
                + (o.bound == null ? "–" : Table.ms(o.bound.roundUs()))
                + " = "
                + (Double.isNaN(o.roundOverBound())
                        ? "–"
                        : String.format(Locale.ROOT, "%.2f×", o.roundOverBound()));
    }

    private static String rate(double perSecond) {
        return Double.isNaN(perSecond) ? "–" : String.format(Locale.ROOT, "%.0f", perSecond);
    }

    private String markdown(double seconds, boolean quick) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# MetisFL on Flink — end-to-end benchmark\n\n");
        String machine = machine();
        if (clusterUrl != null) {
            machine =
                    machine.replace(
                            "Controller: one JVM per scenario (embedded MiniCluster, job.parallelism 2,"
                                    + " 1 gateway, RocksDB)",
                            "Controller: a local multi-process Flink session cluster"
                                    + " (bin/flink-cluster: a JobManager and 2 TaskManagers of 2 GB"
                                    + " and 2 slots; one job per scenario, job.parallelism 2, 1"
                                    + " gateway, RocksDB; peak RSS = the largest TaskManager's since"
                                    + " the cluster started)");
        }
        String gateways = overrides.get("gateway.parallelism");
        if (gateways != null && !gateways.equals("1")) {
            machine = machine.replace(" 1 gateway,", " " + gateways + " gateways (--set),");
        }
        md.append(machine).append('\n');
        md.append(
                String.format(
                        Locale.ROOT,
                        "Suite: %s, %.1f minutes. Load average at the end: %s (the machine is"
                                + " shared; the log gives the load before each scenario).%n%n",
                        (quick ? "quick" : (only.isEmpty() ? "standard" : "--only " + only))
                                + (overrides.isEmpty() ? "" : ", --set " + overrides),
                        seconds / 60,
                        loadAverage()));

        if (baselineClasspath != null) {
            md.append(beforeAndAfter());
        }
        Optional<Outcome> ingest =
                outcomes.stream().filter(o -> o.scenario.group.equals("ingest")).findFirst();
        if (raw != null || ingest.isPresent()) {
            md.append("## Update ingest against its limits (same run)\n\n");
            Table t =
                    new Table(
                            "what",
                            "GB/s",
                            "ratio to raw gRPC",
                            "ratio to loopback TCP",
                            "ratio to in-memory loop",
                            "sender (simulated learners) CPU s per GB",
                            "server CPU s per GB");
            double rawRate = raw == null ? Double.NaN : raw.bytesPerSecond();
            double tcpRate = tcp == null ? Double.NaN : tcp.bytesPerSecond();
            t.row(
                    "in-memory weighted sum (decode + FedAvg loop)",
                    Table.gbps(inMemory),
                    Table.pct(inMemory / rawRate),
                    Table.pct(inMemory / tcpRate),
                    "100%",
                    "–",
                    "–");
            t.row(
                    "loopback TCP (plain socket sink in its own process)",
                    Table.gbps(tcpRate),
                    Table.pct(tcpRate / rawRate),
                    "100%",
                    Table.pct(tcpRate / inMemory),
                    tcp == null ? "–" : cpu(tcp.senderCpuPerGb()),
                    tcp == null ? "–" : cpu(tcp.serverCpuPerGb()));
            t.row(
                    "raw gRPC over loopback (server discards bytes)",
                    Table.gbps(rawRate),
                    "100%",
                    Table.pct(rawRate / tcpRate),
                    Table.pct(rawRate / inMemory),
                    raw == null ? "–" : cpu(raw.senderCpuPerGb()),
                    raw == null ? "–" : cpu(raw.serverCpuPerGb()));
            for (Outcome o : outcomes) {
                if (o.scenario.group.equals("ingest")) {
                    t.row(
                            "controller ingest ("
                                    + o.scenario.id
                                    + ", "
                                    + o.scenario.extra.getOrDefault("job.state-backend", "ROCKSDB")
                                    + ", checkpoints off: ack on entry)",
                            Table.gbps(o.ingest()),
                            Table.pct(o.ingest() / rawRate),
                            Table.pct(o.ingest() / tcpRate),
                            Table.pct(o.ingest() / inMemory),
                            cpu(perGb(o.learnersCpuSeconds, o)),
                            cpu(perGb(o.controllerCpuSeconds, o)));
                }
            }
            md.append(t).append('\n');
            md.append(
                    "Ingest = update bytes of a round / (last ack − first upload start), median"
                            + " of rounds 2.. ; target ≥ 50% of raw gRPC; raw gRPC target ≥ 50% of"
                            + " loopback TCP. The same 10 learners' uploads, channels and 1 MiB"
                            + " chunks in all three; CPU s per GB: what each side spent, over the"
                            + " whole run (the learners share the 2 cores with the server).\n\n");
        }

        Table bounded =
                new Table(
                        "scenario",
                        "params",
                        "learners",
                        "checkpoints",
                        "MB per round (down + up)",
                        "raw-gRPC round ms (bound)",
                        "round time ms",
                        "period ms",
                        "round / bound",
                        "period / bound",
                        "learners CPU s / round (bound run)",
                        "learners CPU s / round",
                        "controller CPU s / round",
                        "status");
        for (Outcome o : outcomes) {
            if (o.bound != null) {
                Scenario sc = o.scenario;
                long perRound = sc.learners * sc.values * Float.BYTES * (sc.fetchModel ? 2 : 1);
                bounded.row(
                        sc.id,
                        label(sc.values),
                        Table.count(sc.learners),
                        sc.checkpointInterval,
                        Table.count(perRound / 1_000_000),
                        Table.ms(o.bound.roundUs()),
                        Table.ms(o.roundTimeUs()),
                        Table.ms(o.periodUs()),
                        ratio(o.roundOverBound()),
                        ratio(o.periodOverBound()),
                        cpu(o.bound.learnersCpuPerRound()),
                        cpu(o.learnersCpuSeconds / sc.rounds),
                        cpu(o.controllerCpuSeconds / sc.rounds),
                        o.status());
            }
        }
        if (!bounded.isEmpty()) {
            md.append("## Synchronous rounds against the transfer bound of their bytes\n\n");
            md.append(bounded).append('\n');
            md.append(
                    "Bound = the raw-gRPC time of the same round measured right before the scenario:"
                            + " the same learners, channels, 1 MiB chunks, model download and"
                            + " upload, against the discarding gateway in its own process (first"
                            + " task → last acknowledged upload, median of rounds 2–3). Round time ="
                            + " the coordinator's; period = first task → next round's first task at"
                            + " the learners. Targets: ≤ 1.5× at 1M, 10M, 50M with 2 and 10 learners;"
                            + " ≤ 2× for 10,000 learners. CPU s per round: the simulated learners'"
                            + " (this JVM) and the controller's, averaged over the scenario.\n\n");
        }

        Table size =
                new Table(
                        "params",
                        "learners",
                        "round time ms",
                        "period ms",
                        "max download ms",
                        "tail after last sent ms",
                        "overhead ms",
                        "peak RSS MiB",
                        "heap after GC MiB",
                        "status");
        for (Outcome o : outcomes) {
            if (o.scenario.group.equals("size") || o.scenario.group.equals("large")) {
                size.row(
                        label(o.scenario.values),
                        o.scenario.learners,
                        Table.ms(o.roundTimeUs()),
                        Table.ms(o.periodUs()),
                        Table.ms(o.maxDownloadUs()),
                        Table.ms(o.tailSentUs()),
                        Table.ms(o.overheadUs()),
                        Table.mib(o.peakRss),
                        Table.mib(o.heapAfterGc),
                        o.status());
            }
        }
        if (!size.isEmpty()) {
            md.append(
                    "## Round time against model size (sync, RocksDB, checkpoints at the default"
                            + " interval)\n\n");
            md.append(size).append('\n');
        }

        Table learners =
                new Table(
                        "learners",
                        "channels",
                        "round time ms",
                        "period ms",
                        "tail after last sent ms",
                        "overhead ms",
                        "peak RSS MiB",
                        "heap after GC MiB",
                        "status");
        for (Outcome o : outcomes) {
            if (o.scenario.group.equals("learners")
                    || (o.scenario.group.equals("size")
                            && o.scenario.values == 100 * K
                            && o.scenario.learners == 10)) {
                learners.row(
                        Table.count(o.scenario.learners),
                        o.scenario.channels,
                        Table.ms(o.roundTimeUs()),
                        Table.ms(o.periodUs()),
                        Table.ms(o.tailSentUs()),
                        Table.ms(o.overheadUs()),
                        Table.mib(o.peakRss),
                        Table.mib(o.heapAfterGc),
                        o.status());
            }
        }
        if (!learners.isEmpty()) {
            md.append("## Round time against learners (100K params, sync)\n\n");
            md.append(learners).append('\n');
        }

        Table tail =
                new Table(
                        "scenario",
                        "model MB",
                        "one model's transfer ms (raw gRPC)",
                        "last ack → round closed ms",
                        "round closed → next task ms",
                        "tail after last ack ms",
                        "tail after last sent ms",
                        "tail / transfer",
                        "overhead per round ms");
        for (Outcome o : outcomes) {
            if (o.scenario.checkpointInterval.equals("0")) {
                double transferUs =
                        raw == null
                                ? Double.NaN
                                : o.scenario.values * 4 / raw.bytesPerSecond() * 1e6;
                tail.row(
                        o.scenario.id,
                        o.scenario.values * 4 / 1_000_000,
                        Table.ms(transferUs),
                        Table.ms(o.ackToCloseUs()),
                        Table.ms(o.closeToTaskUs()),
                        Table.ms(o.tailAckUs()),
                        Table.ms(o.tailSentUs()),
                        Table.pct(o.tailAckUs() / transferUs),
                        Table.ms(o.overheadUs()));
            }
        }
        if (!tail.isEmpty()) {
            md.append("## Controller work after a round's last update (checkpoints off)\n\n");
            md.append(tail).append('\n');
            md.append(
                    "Tail after last ack = first task of round r+1 − last SubmitUpdate ack of"
                            + " round r (with checkpoints off the gateway acks when the reader emits the"
                            + " update into the job). Target: ≤ 5% of one model's transfer time.\n\n");
        }

        Table reg =
                new Table(
                        "registered learners",
                        "sampled per round",
                        "channels",
                        "join + streams s",
                        "tasks delivered / round",
                        "round time ms",
                        "contributors",
                        "peak RSS MiB",
                        "heap after GC MiB",
                        "status");
        for (Outcome o : outcomes) {
            if (o.scenario.group.equals("registered")) {
                SimulationReport r = o.report;
                double joinS =
                        r.allJoinedAtUs() == 0
                                ? Double.NaN
                                : (r.allJoinedAtUs() - r.startedAtUs()) / 1e6;
                reg.row(
                        Table.count(o.scenario.learners),
                        o.scenario.extra.get("selection.participants"),
                        o.scenario.channels,
                        String.format(Locale.ROOT, "%.1f", joinS),
                        r.rounds().stream()
                                .map(x -> Table.count(x.trainTasks()))
                                .reduce((a, b) -> a + ", " + b)
                                .orElse("–"),
                        o.results.stream()
                                .map(x -> Long.toString(x.roundTimeMs))
                                .reduce((a, b) -> a + ", " + b)
                                .orElse("–"),
                        o.results.stream()
                                .map(
                                        x ->
                                                Integer.toString(
                                                        x.contributors == null
                                                                ? 0
                                                                : x.contributors.size()))
                                .reduce((a, b) -> a + ", " + b)
                                .orElse("–"),
                        Table.mib(o.peakRss),
                        Table.mib(o.heapAfterGc),
                        o.status());
            }
        }
        if (!reg.isEmpty()) {
            md.append("## Registered learners holding task streams\n\n");
            md.append(reg).append('\n');
        }

        Table async =
                new Table(
                        "registered learners",
                        "params",
                        "channels",
                        "join + streams s",
                        "updates acknowledged",
                        "updates / s",
                        "update MB / s",
                        "model versions",
                        "peak RSS MiB",
                        "heap after GC MiB",
                        "status");
        for (Outcome o : outcomes) {
            if (o.scenario.group.equals("async")) {
                SimulationReport r = o.report;
                long acks = r.rounds().stream().mapToLong(RoundTimeline::acks).sum();
                long bytes = r.rounds().stream().mapToLong(RoundTimeline::bytesUploaded).sum();
                double span = o.asyncSpanSeconds();
                async.row(
                        Table.count(o.scenario.learners)
                                + (o.scenario.id.endsWith("-ackwait")
                                                || o.scenario.id.endsWith("-ackwait" + BEFORE)
                                        ? " (each waits for its ack before its next upload)"
                                        : "")
                                + (o.scenario.id.endsWith(BEFORE) ? ", --baseline build" : ""),
                        label(o.scenario.values),
                        o.scenario.channels,
                        Double.isNaN(o.joinSeconds())
                                ? "not all joined"
                                : String.format(Locale.ROOT, "%.1f", o.joinSeconds()),
                        Table.count(acks),
                        String.format(Locale.ROOT, "%.0f", span > 0 ? acks / span : 0),
                        String.format(Locale.ROOT, "%.1f", span > 0 ? bytes / span / 1e6 : 0),
                        r.rounds().stream().mapToLong(RoundTimeline::round).max().orElse(0),
                        Table.mib(o.peakRss),
                        Table.mib(o.heapAfterGc),
                        o.status());
            }
        }
        if (!async.isEmpty()) {
            md.append("## Asynchronous (FedAsync), every registered learner training\n\n");
            md.append(async).append('\n');
            md.append(
                    "Updates / s = updates acknowledged / (first task → last acknowledgement);"
                            + " model versions = the newest version a task was given on.\n\n");
        }

        md.append(steadyWindows(outcomes));
        md.append(AckLatencyReport.markdown(outcomes));
        md.append("## Every scenario\n\n");
        Table all =
                new Table(
                        "scenario",
                        "params",
                        "learners",
                        "uploading",
                        "channels",
                        "rounds",
                        "GetModel",
                        "checkpoints",
                        "wall s",
                        "round times ms",
                        "ingest GB/s",
                        "peak heap used MiB",
                        "peak RSS MiB",
                        "heap after GC MiB",
                        "failures");
        for (Outcome o : outcomes) {
            Scenario s = o.scenario;
            all.row(
                    s.id,
                    label(s.values),
                    s.learners,
                    s.trainers,
                    s.channels,
                    s.rounds,
                    s.fetchModel ? "yes" : "no",
                    s.checkpointInterval.equals("0") ? "off" : s.checkpointInterval,
                    String.format(Locale.ROOT, "%.0f", o.wallSeconds),
                    roundTimes(o.results),
                    Table.gbps(o.ingest()),
                    Table.mib(o.peakHeap),
                    Table.mib(o.peakRss),
                    Table.mib(o.heapAfterGc),
                    o.report.failures() == 0
                            ? "0"
                            : o.report.failures() + ": " + o.report.failureSamples().get(0));
        }
        md.append(all).append('\n');
        if (!skipped.isEmpty()) {
            md.append("Not run (time budget spent): ")
                    .append(String.join(", ", skipped))
                    .append("\n\n");
        }
        profileSummaries.forEach(
                (id, summary) ->
                        md.append("## Controller profile (JFR) of ")
                                .append(id)
                                .append("\n\n")
                                .append(summary)
                                .append('\n'));
        if (tlsRun != null) {
            md.append(tlsRun.markdown());
        }
        md.append("## Log\n\n```\n").append(log).append("```\n");
        if (ckksRows != null) {
            md.append("## Secure aggregation: a CKKS round against a plaintext round\n\n");
            md.append(
                    "Real Java learners (learner-client) with a synthetic 1-tensor model whose"
                            + " training adds a constant; the job in this JVM (embedded"
                            + " MiniCluster); synchronous FedAvg, 4 rounds, median of rounds 2-4;"
                            + " preset n13-q120, shard size 65,536. A CKKS round includes every"
                            + " learner's encryption and decryption. Load average: "
                            + ckksLoad
                            + ".\n\n");
            Table t =
                    new Table(
                            "parameters",
                            "learners",
                            "plaintext round",
                            "CKKS round",
                            "ratio",
                            "CKKS round, updates not pre-aggregated",
                            "ratio");
            for (CkksRounds.Row r : ckksRows) {
                t.row(
                        label(r.values()),
                        Integer.toString(r.learners()),
                        String.format(Locale.ROOT, "%.0f ms", r.plainMs()),
                        String.format(Locale.ROOT, "%.0f ms", r.ckksMs()),
                        String.format(Locale.ROOT, "%.1fx", r.ckksMs() / r.plainMs()),
                        String.format(Locale.ROOT, "%.0f ms", r.ckksUnfoldedMs()),
                        String.format(Locale.ROOT, "%.1fx", r.ckksUnfoldedMs() / r.plainMs()));
            }
            md.append(t).append('\n');
            md.append(
                    String.format(
                            Locale.ROOT,
                            "Upload per update at 1M parameters: %,d bytes float32, %,d bytes CKKS"
                                    + " (%.2fx).%n%n",
                            ckksUpload[0],
                            ckksUpload[1],
                            (double) ckksUpload[1] / ckksUpload[0]));
        }
        return md.toString();
    }

    private static String cpu(double seconds) {
        return Double.isNaN(seconds) ? "–" : String.format(Locale.ROOT, "%.2f", seconds);
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "–" : String.format(Locale.ROOT, "%.2f×", r);
    }

    /** CPU seconds per GB uploaded over a scenario. */
    private static double perGb(double seconds, Outcome o) {
        long bytes = o.report.rounds().stream().mapToLong(RoundTimeline::bytesUploaded).sum();
        return bytes == 0 ? Double.NaN : seconds / (bytes / 1e9);
    }

    /** The asynchronous scenarios' steady state: CPU per update of learners and controller. */
    private static String steadyWindows(List<Outcome> outcomes) {
        Table t =
                new Table(
                        "scenario",
                        "window s",
                        "updates acknowledged",
                        "updates / s",
                        "learners cores",
                        "controller cores",
                        "other processes' cores",
                        "learners CPU ms / update",
                        "controller CPU ms / update",
                        "ceiling on 2 cores (updates / s)");
        for (Outcome o : outcomes) {
            SteadyWindow.Result w = o.steady();
            if (w == null) {
                continue;
            }
            t.row(
                    o.scenario().id(),
                    SteadyWindow.format(w.seconds(), "%.0f"),
                    Table.count(w.acks()),
                    SteadyWindow.format(w.updatesPerSecond(), "%.0f"),
                    SteadyWindow.format(w.learnersCpu() / w.seconds(), "%.2f"),
                    SteadyWindow.format(w.controllerCpu() / w.seconds(), "%.2f"),
                    SteadyWindow.format(w.otherCores(), "%.2f"),
                    SteadyWindow.format(w.learnersMsPerUpdate(), "%.3f"),
                    SteadyWindow.format(w.controllerMsPerUpdate(), "%.3f"),
                    SteadyWindow.format(w.ceiling(2), "%.0f"));
        }
        if (t.isEmpty()) {
            return "";
        }
        return "## Asynchronous steady state (every learner joined → 99% of the acknowledgements)\n\n"
                + t
                + "\nSampled once a second; the join phase and the shutdown tail are left out."
                + " Cores: CPU seconds per second of the window; other processes: the whole"
                + " machine's busy CPU less the learners' and the controller's (other work on the"
                + " shared machine, the OS). Ceiling: the updates per second at which the"
                + " simulated learners and the controller, at these CPU costs per update, would"
                + " use both cores with nothing else running.\n\n";
    }

    /** The round times of a scenario, the first dozen when there are many (async versions). */
    private static String roundTimes(List<RoundResult> results) {
        String shown =
                results.stream()
                        .limit(12)
                        .map(x -> Long.toString(x.roundTimeMs))
                        .reduce((a, b) -> a + ", " + b)
                        .orElse("–");
        return results.size() > 12 ? shown + ", … (" + results.size() + " results)" : shown;
    }

    private static String machine() throws IOException {
        String cpu = "?";
        for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (l.startsWith("model name")) {
                cpu = l.substring(l.indexOf(':') + 1).trim();
                break;
            }
        }
        long memKb = 0;
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith("MemTotal:")) {
                memKb = Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return String.format(
                        Locale.ROOT,
                        "Machine: %s, %d cores, %d GiB RAM, %s %s, %s. Controller: one JVM per scenario"
                                + " (embedded MiniCluster, job.parallelism 2, 1 gateway, RocksDB),"
                                + " simulated learners in the driver JVM, all on loopback.%n",
                        cpu,
                        Runtime.getRuntime().availableProcessors(),
                        memKb >> 20,
                        System.getProperty("java.vm.name"),
                        System.getProperty("java.version"),
                        System.getProperty("os.name") + " " + System.getProperty("os.version"))
                + "Controller code measured: "
                + jobJar()
                + "\n";
    }

    /** Which flink-job build ran (the jar the classpath took it from, and when it was built). */
    private static String jobJar() {
        try {
            Path jar =
                    Path.of(
                            org.metisfl.flink.EmbeddedFederation.class
                                    .getProtectionDomain()
                                    .getCodeSource()
                                    .getLocation()
                                    .toURI());
            // The file name only: reports are committed, and say nothing of the machine's paths.
            return jar.getFileName() + " (modified " + Files.getLastModifiedTime(jar) + ")";
        } catch (Exception e) {
            return "?";
        }
    }
}
