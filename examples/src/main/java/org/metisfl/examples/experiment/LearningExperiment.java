package org.metisfl.examples.experiment;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.fashionmnist.FashionMnistIterator;
import org.metisfl.examples.fashionmnist.FashionMnistLearner;
import org.metisfl.examples.fashionmnist.Models;
import org.metisfl.examples.fashionmnist.Partitioner;
import org.metisfl.examples.quickstart.Quickstart;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.TrainTask;

/**
 * The learning-quality experiment: Fashion-MNIST, N learners, IID and Dirichlet partitions, one
 * federation per (method, partition) cell for R rounds of one local epoch each, and the same MLP
 * trained centrally on the whole training set for R epochs. Each cell's rows go to {@code
 * <work-dir>/<method>-<partition>/rows.csv} and finished cells are skipped on the next run, so the
 * matrix can be run in pieces; every run then rebuilds {@code learning.csv}, {@code
 * learning-runs.csv}, one chart per partition and {@code learning-table.md} from all finished
 * cells.
 *
 * <pre>
 * bin/experiment-learning [--methods centralized,fedavg,fedprox,fedadam,fedavgm,fedbuff,dp-fedavg]
 *     [--partitions iid,dir0.5,dir0.1] [--rounds 20] [--learners 10] [--seed 42]
 * </pre>
 */
public final class LearningExperiment {

    static final List<String> ALL_METHODS =
            List.of(
                    LearningResults.CENTRALIZED,
                    "fedavg",
                    "fedprox",
                    "fedadam",
                    "fedavgm",
                    "fedbuff",
                    "dp-fedavg");

    static final List<String> ALL_PARTITIONS = List.of("iid", "dir0.5", "dir0.1");

    /** FedBuff's buffer size K: a model version per K updates. */
    static final int FEDBUFF_K = 5;

    static final String RUNS_HEADER =
            "method,partition,rounds,wall_seconds,load_mean,load_max,finished_utc";

    private LearningExperiment() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        a.put("--methods", String.join(",", ALL_METHODS));
        a.put("--partitions", String.join(",", ALL_PARTITIONS));
        a.put("--rounds", "20");
        a.put("--learners", "10");
        a.put("--seed", "42");
        a.put("--batch-size", "64");
        a.put("--train-limit", "0");
        a.put("--test-limit", "0");
        a.put("--report-rounds", "10,20");
        a.put("--out", "docs/experiments");
        a.put("--work-dir", "work/learning");
        a.put("--rerun", "false");
        a.put("--report-only", "false");
        for (int i = 0; i < argv.length; i++) {
            if (!a.containsKey(argv[i]) || i + 1 >= argv.length) {
                System.err.println(
                        "usage: bin/experiment-learning " + a.keySet() + " (each takes a value)");
                System.exit(2);
            }
            a.put(argv[i], argv[++i]);
        }
        List<String> methods = List.of(a.get("--methods").split(","));
        List<String> partitions = List.of(a.get("--partitions").split(","));
        for (String m : methods) {
            if (!ALL_METHODS.contains(m)) {
                System.err.println("unknown method '" + m + "': use some of " + ALL_METHODS);
                System.exit(2);
            }
        }
        for (String p : partitions) {
            learnerFlags(p, 42, 64, 0, 0); // validates
        }
        Settings s =
                new Settings(
                        Integer.parseInt(a.get("--rounds")),
                        Integer.parseInt(a.get("--learners")),
                        Long.parseLong(a.get("--seed")),
                        Integer.parseInt(a.get("--batch-size")),
                        Integer.parseInt(a.get("--train-limit")),
                        Integer.parseInt(a.get("--test-limit")));
        Path work = Files.createDirectories(Path.of(a.get("--work-dir")));
        Path out = Files.createDirectories(Path.of(a.get("--out")));
        boolean rerun = Boolean.parseBoolean(a.get("--rerun"));
        boolean reportOnly = Boolean.parseBoolean(a.get("--report-only"));
        FashionMnist data = reportOnly ? null : FashionMnist.load();
        for (String partition : reportOnly ? List.<String>of() : partitions) {
            for (String method : methods) {
                String p =
                        method.equals(LearningResults.CENTRALIZED)
                                ? LearningResults.FULL
                                : partition;
                Path dir = work.resolve(method + "-" + p);
                if (!rerun && Files.exists(dir.resolve("rows.csv"))) {
                    continue;
                }
                runCell(method, p, s, data, dir);
            }
        }
        int[] reportRounds =
                Arrays.stream(a.get("--report-rounds").split(","))
                        .mapToInt(Integer::parseInt)
                        .toArray();
        report(work, out, s, reportRounds);
        System.exit(0);
    }

    /** The experiment's fixed settings. */
    record Settings(
            int rounds, int learners, long seed, int batchSize, int trainLimit, int testLimit) {}

    /** Runs one cell, timing it and sampling the load average, and writes its rows and timing. */
    static void runCell(String method, String partition, Settings s, FashionMnist data, Path dir)
            throws Exception {
        Files.createDirectories(dir);
        Files.deleteIfExists(dir.resolve("rows.csv"));
        System.out.printf("== %s on %s, %d rounds%n", method, partition, s.rounds());
        LoadSampler load = LoadSampler.start();
        long started = System.nanoTime();
        List<LearningResults.Row> rows;
        if (method.equals(LearningResults.CENTRALIZED)) {
            rows = centralized(s, data);
        } else {
            rows = new ArrayList<>();
            if (method.equals("fedbuff") && s.rounds() > 1) {
                // FedBuff's learners are never idle, so only the last version of a run is
                // evaluated by all of them (a newer version supersedes an evaluation request
                // before a busy learner gets to it): half the rounds is a run of its own.
                Settings half =
                        new Settings(
                                s.rounds() / 2,
                                s.learners(),
                                s.seed(),
                                s.batchSize(),
                                s.trainLimit(),
                                s.testLimit());
                rows.addAll(federate(method, partition, half, data, dir.resolve("half")));
            }
            rows.addAll(federate(method, partition, s, data, dir));
        }
        double wall = (System.nanoTime() - started) / 1e9;
        double[] l = load.stop();
        for (LearningResults.Row r : rows) {
            System.out.printf(Locale.ROOT, "   round %s: accuracy %.4f%n", r.round(), r.accuracy());
        }
        Files.writeString(
                dir.resolve("run.csv"),
                RUNS_HEADER
                        + "\n"
                        + String.format(
                                Locale.ROOT,
                                "%s,%s,%d,%.0f,%.2f,%.2f,%s%n",
                                method,
                                partition,
                                s.rounds(),
                                wall,
                                l[0],
                                l[1],
                                Instant.now()));
        Files.writeString(dir.resolve("rows.csv"), LearningResults.toCsv(rows));
        System.out.printf(
                Locale.ROOT,
                "   %s on %s took %.0f s (load average mean %.2f, max %.2f)%n",
                method,
                partition,
                wall,
                l[0],
                l[1]);
    }

    private static List<LearningResults.Row> federate(
            String method, String partition, Settings s, FashionMnist data, Path dir)
            throws Exception {
        Map<String, String> settings = federation(method, s);
        System.out.println("   " + Quickstart.describe(FederationConfig.of(withLocal(settings))));
        List<RoundResult> results =
                InProcessFederation.run(
                        settings,
                        s.learners(),
                        learnerFlags(
                                partition, s.seed(), s.batchSize(), s.trainLimit(), s.testLimit()),
                        data,
                        dir,
                        Duration.ofHours(3),
                        (i, adapter) -> adapter);
        return LearningResults.fromResults(method, partition, results, roundsPerResult(method, s));
    }

    /** Collects every finished cell into the CSV files, the charts and the Markdown table. */
    static void report(Path work, Path out, Settings s, int[] reportRounds) throws Exception {
        Files.createDirectories(out);
        List<LearningResults.Row> rows = new ArrayList<>();
        StringBuilder runs = new StringBuilder(RUNS_HEADER).append('\n');
        for (String method : ALL_METHODS) {
            List<String> parts =
                    method.equals(LearningResults.CENTRALIZED)
                            ? List.of(LearningResults.FULL)
                            : ALL_PARTITIONS;
            for (String p : parts) {
                Path dir = work.resolve(method + "-" + p);
                if (Files.exists(dir.resolve("rows.csv"))) {
                    rows.addAll(
                            LearningResults.parseCsv(Files.readString(dir.resolve("rows.csv"))));
                    try (Stream<String> lines = Files.lines(dir.resolve("run.csv"))) {
                        lines.skip(1).forEach(x -> runs.append(x).append('\n'));
                    }
                } else if (Files.exists(dir.resolve("results.jsonl"))) {
                    // A cell still running (or stopped): its rounds so far are final.
                    List<RoundResult> partial;
                    try {
                        partial = RoundResults.read(dir.resolve("results.jsonl"));
                    } catch (RuntimeException | java.io.IOException e) {
                        continue; // a line being written
                    }
                    List<LearningResults.Row> r =
                            LearningResults.fromResults(
                                    method, p, partial, roundsPerResult(method, s));
                    rows.addAll(r);
                    runs.append(
                            String.format(
                                    Locale.ROOT,
                                    "%s,%s,%d,,,,unfinished (%d of %d rounds)%n",
                                    method,
                                    p,
                                    s.rounds(),
                                    r.size(),
                                    s.rounds()));
                }
            }
        }
        Files.writeString(out.resolve("learning.csv"), LearningResults.toCsv(rows));
        Files.writeString(out.resolve("learning-runs.csv"), runs.toString());
        for (String p : ALL_PARTITIONS) {
            if (rows.stream().anyMatch(r -> r.partition().equals(p))) {
                Files.write(
                        out.resolve("learning-" + p + ".png"),
                        LearningResults.chart(rows, ALL_METHODS, p, s.learners()));
            }
        }
        String table =
                LearningResults.table(
                        rows,
                        ALL_METHODS,
                        ALL_PARTITIONS,
                        reportRounds,
                        (m, p) ->
                                m.equals(LearningResults.CENTRALIZED)
                                        ? "bin/experiment-learning --methods centralized"
                                        : "bin/experiment-learning --methods "
                                                + m
                                                + " --partitions "
                                                + p);
        Files.writeString(out.resolve("learning-table.md"), table);
        System.out.print(table);
        System.out.println("Wrote " + out.resolve("learning.csv") + ", charts and table");
    }

    /** The federation settings of a method; everything else is the same for all methods. */
    static Map<String, String> federation(String method, Settings s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("federation.name", "learning-" + method);
        m.put("federation.rounds", Integer.toString(s.rounds()));
        m.put("round.quorum", "1.0");
        m.put("round.timeout", "30 min");
        m.put("evaluation.timeout", "10 min");
        m.put("train.epochs", "1");
        m.put("train.batch-size", Integer.toString(s.batchSize()));
        m.put("aggregation.rule", "fedavg");
        m.put("aggregation.scaling", "examples");
        // The state backend changes no result; the heap one costs less CPU than RocksDB.
        m.put("job.state-backend", "hashmap");
        switch (method) {
            case "fedavg" -> {}
            case "fedprox" -> m.put("train.proximal-mu", "0.01");
            case "fedadam" -> {
                m.put("optimizer.type", "fedadam");
                m.put("optimizer.learning-rate", "0.01");
                m.put("optimizer.beta1", "0.9");
                m.put("optimizer.beta2", "0.99");
                m.put("optimizer.tau", "0.001");
            }
            case "fedavgm" -> {
                m.put("optimizer.type", "fedavgm");
                m.put("optimizer.learning-rate", "1.0");
                m.put("optimizer.momentum", "0.5");
            }
            case "fedbuff" -> {
                m.put("protocol.type", "asynchronous");
                m.put("async.rule", "fedbuff");
                m.put("async.buffer-size", Integer.toString(FEDBUFF_K));
                m.put("async.server-learning-rate", "1.0");
                m.put("async.staleness", "polynomial");
                m.put("async.staleness-a", "0.5");
                m.put("async.max-staleness", "20");
                // A "round" of FedBuff is as many updates as a synchronous round has learners.
                int versionsPerRound = Math.max(1, s.learners() / FEDBUFF_K);
                m.put("federation.rounds", Integer.toString(s.rounds() * versionsPerRound));
                m.put("async.evaluate-every", Integer.toString(versionsPerRound));
            }
            case "dp-fedavg" -> {
                m.put("aggregation.scaling", "participants");
                m.put("privacy.mechanism", "central-dp");
                m.put("privacy.noise-multiplier", "0.05");
                m.put("privacy.clip-norm", "1.0");
                m.put("privacy.clipping", "fixed");
                m.put("privacy.delta", "1e-5");
                m.put("privacy.clip-on", "job");
                // Reproducible noise for the experiment; never in a real federation.
                m.put("privacy.noise-seed", Long.toString(s.seed()));
            }
            default -> throw new IllegalArgumentException("unknown method '" + method + "'");
        }
        return m;
    }

    /** Rounds per line of a method's results file (FedBuff: K / learners per model version). */
    static double roundsPerResult(String method, Settings s) {
        return method.equals("fedbuff")
                ? (double) FEDBUFF_K / Math.max(FEDBUFF_K, s.learners())
                : 1.0;
    }

    /** The learners' partition flags: iid, or dirA for Dirichlet(A). */
    static List<String> learnerFlags(
            String partition, long seed, int batchSize, int trainLimit, int testLimit) {
        List<String> f = new ArrayList<>();
        if (partition.equals("iid")) {
            f.addAll(List.of("--partition", "iid"));
        } else if (partition.startsWith("dir")) {
            double alpha;
            try {
                alpha = Double.parseDouble(partition.substring(3));
            } catch (NumberFormatException e) {
                alpha = -1;
            }
            if (!(alpha > 0)) {
                throw new IllegalArgumentException(
                        "partition '" + partition + "': use iid or dirA with A > 0, e.g. dir0.1");
            }
            f.addAll(List.of("--partition", "dirichlet", "--alpha", partition.substring(3)));
        } else {
            throw new IllegalArgumentException(
                    "partition '" + partition + "': use iid or dirA with A > 0, e.g. dir0.1");
        }
        f.addAll(
                List.of(
                        "--seed",
                        Long.toString(seed),
                        "--batch-size",
                        Integer.toString(batchSize)));
        if (trainLimit > 0) {
            f.addAll(List.of("--train-limit", Integer.toString(trainLimit)));
        }
        if (testLimit > 0) {
            f.addAll(List.of("--test-limit", Integer.toString(testLimit)));
        }
        return f;
    }

    /**
     * The baseline: the learners' MLP (same seed, Adam 1e-3, same batch size, same DL4J adapter)
     * trained on the whole (limited) training set, one epoch at a time, evaluated on the whole test
     * set after each.
     */
    static List<LearningResults.Row> centralized(Settings s, FashionMnist data) {
        int numTrain = limit(data.train().size(), s.trainLimit());
        int numTest = limit(data.test().size(), s.testLimit());
        // One "learner" holding everything: the split a one-learner federation would have.
        int[] train = Partitioner.iid(numTrain, 1, s.seed())[0];
        int[] test = Partitioner.iid(numTest, 1, s.seed() + 1)[0];
        ModelAdapter adapter =
                FashionMnistLearner.adapterFor(
                        new org.metisfl.examples.fashionmnist.LearnerSetup(
                                Models.Kind.MLP.build(s.seed()),
                                FashionMnistIterator.train(
                                        data.train(), train, s.batchSize(), s.seed() * 1_000_003L),
                                FashionMnistIterator.test(data.test(), test, s.batchSize())));
        List<LearningResults.Row> rows = new ArrayList<>();
        for (int epoch = 1; epoch <= s.rounds(); epoch++) {
            adapter.train(new TrainTask(epoch, 1, s.batchSize(), 0, 0, 0));
            EvaluationResult e = adapter.evaluate(new EvaluateTask(epoch, 256));
            rows.add(
                    new LearningResults.Row(
                            LearningResults.CENTRALIZED,
                            LearningResults.FULL,
                            epoch,
                            e.metrics().get("accuracy"),
                            e.metrics().get("loss"),
                            null));
            System.out.printf(
                    Locale.ROOT,
                    "   epoch %d: accuracy %.4f%n",
                    epoch,
                    e.metrics().get("accuracy"));
        }
        return rows;
    }

    private static int limit(int size, int limit) {
        return limit > 0 ? Math.min(size, limit) : size;
    }

    private static Map<String, String> withLocal(Map<String, String> settings) {
        Map<String, String> m = new LinkedHashMap<>(settings);
        m.put("security.insecure", "true");
        m.put("security.admission", "open");
        return m;
    }

    /** Samples the one-minute load average every 5 s: its mean and maximum over a run. */
    static final class LoadSampler {
        private final ScheduledExecutorService timer;
        private final DoubleAdder sum = new DoubleAdder();
        private final LongAdder count = new LongAdder();
        private volatile double max;

        private LoadSampler() {
            timer =
                    Executors.newSingleThreadScheduledExecutor(
                            r -> {
                                Thread t = new Thread(r, "load-sampler");
                                t.setDaemon(true);
                                return t;
                            });
        }

        static LoadSampler start() {
            LoadSampler l = new LoadSampler();
            l.timer.scheduleAtFixedRate(l::sample, 0, 5, TimeUnit.SECONDS);
            return l;
        }

        private void sample() {
            double v = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
            if (v >= 0) {
                sum.add(v);
                count.increment();
                max = Math.max(max, v);
            }
        }

        double[] stop() {
            sample();
            timer.shutdownNow();
            long n = count.sum();
            return new double[] {n == 0 ? Double.NaN : sum.sum() / n, max};
        }
    }
}
