package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.FailoverCluster;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.learner.internal.GatewayAddress;
import org.metisfl.learner.internal.LearnerSession;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.transport.TransportSecurity;

/**
 * Real learners (this library) against the real job (MiniCluster, RocksDB, gRPC on 127.0.0.1) in an
 * asynchronous federation whose acknowledgements wait for slow checkpoints: pipelining gives more
 * tasks per second, and every update counts exactly once, also across a task manager failure with
 * two updates outstanding and a too-stale refusal.
 *
 * <p>The rule is FedBuff with a buffer of one, server learning rate 1 and constant staleness
 * weights, and each learner's "training" adds its own fixed vector to the model it was given: a
 * version is then the previous one plus that learner's vector, whatever the order, so the final
 * model is the initial one plus each learner's vector times the number of its updates that counted,
 * computed here from what the learners were acknowledged.
 */
class PipelinedUploadsITCase {
    private static final int N = 2000;
    private static final Duration WAIT = Duration.ofMinutes(3);

    /**
     * Acknowledged updates of one learner that the final model may lack: accepted after the
     * federation's last version was made (at most its two unacknowledged ones).
     */
    private static final int AFTER_THE_END = 2;

    @TempDir Path work;

    @Test
    void anAsynchronousLearnerCompletesMoreTasksWhileItsUploadsAwaitTheCheckpoint()
            throws Exception {
        int versions = 8;
        Run waiting = soloRun("waiting", versions, false);
        Run pipelined = soloRun("pipelined", versions, true);

        for (Run r : List.of(waiting, pipelined)) {
            assertThat(r.summary.roundsTrained()).as(r.name).isEqualTo(versions);
        }
        assertThat(waiting.peakUnacknowledged).isEqualTo(1);
        assertThat(pipelined.peakUnacknowledged).isEqualTo(2);
        double waitingRate = versions / waiting.seconds;
        double pipelinedRate = versions / pipelined.seconds;
        System.out.printf(
                "tasks per second with 2 s checkpoints (first task to Shutdown): waiting %.2f (%.1f s), pipelined %.2f"
                        + " (%.1f s)%n",
                waitingRate, waiting.seconds, pipelinedRate, pipelined.seconds);
        assertThat(pipelinedRate).isGreaterThan(1.3 * waitingRate);
    }

    /** One learner, fast training, checkpoints every 2 s, until {@code versions} versions. */
    private Run soloRun(String name, int versions, boolean pipelining) throws Exception {
        Path dir = work.resolve(name);
        try (Federation f =
                Federation.start(
                        dir,
                        Map.of(
                                "job.checkpoint-interval", "2 s",
                                "federation.rounds", Integer.toString(versions),
                                "federation.min-learners", "1"))) {
            ShiftingAdapter adapter = new ShiftingAdapter(0, 1, 10, null);
            Learner learner = f.learner("solo-" + name, adapter, pipelining);
            PeakWatch watch = PeakWatch.of(learner);
            LearnerSummary summary = runAll(List.of(learner)).get(0);
            // From the first task on (joining waits for the job to start, which varies).
            double seconds = (System.nanoTime() - adapter.firstTrainNanos.get()) / 1e9;
            watch.stop();
            f.awaitCompletion();
            int[] counted = f.assertModelCounts(List.of(summary), List.of(adapter), versions);
            // One learner: nothing of it can arrive after the last version, which its own update
            // made; its last acknowledgement may miss the end (counted, not yet acknowledged).
            assertThat(counted[0])
                    .isBetween(
                            summary.roundsTrained(),
                            summary.roundsTrained() + summary.updatesUnacknowledged());
            return new Run(name, summary, seconds, watch.peak());
        }
    }

    private record Run(
            String name, LearnerSummary summary, double seconds, int peakUnacknowledged) {}

    @Test
    void aTaskManagerLostWhileTwoUpdatesAreOutstandingCountsEveryUpdateOnce() throws Exception {
        int versions = 16;
        try (Federation f =
                Federation.start(
                        work,
                        Map.of(
                                "job.checkpoint-interval", "3 s",
                                "federation.rounds", Integer.toString(versions),
                                "federation.min-learners", "2"))) {
            List<ShiftingAdapter> adapters =
                    List.of(
                            new ShiftingAdapter(0, 2, 20, null),
                            new ShiftingAdapter(1, 2, 20, null));
            List<Learner> learners = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                learners.add(f.learner("learner-" + i, adapters.get(i), true));
            }
            AtomicBoolean killed = new AtomicBoolean();
            AtomicInteger outstandingAtKill = new AtomicInteger();
            Thread killer =
                    new Thread(
                            () -> {
                                long end = System.nanoTime() + WAIT.toNanos();
                                while (System.nanoTime() < end) {
                                    // Once both learners are well into the federation.
                                    boolean going =
                                            adapters.get(0).trained.get() >= 3
                                                    && adapters.get(1).trained.get() >= 3;
                                    for (Learner l : going ? learners : List.<Learner>of()) {
                                        int n = l.unacknowledgedUpdates();
                                        if (n == 2) {
                                            outstandingAtKill.set(n);
                                            f.killTaskManager();
                                            killed.set(true);
                                            return;
                                        }
                                    }
                                    try {
                                        Thread.sleep(5);
                                    } catch (InterruptedException e) {
                                        return;
                                    }
                                }
                            },
                            "task-manager-killer");
            killer.setDaemon(true);
            killer.start();
            List<LearnerSummary> summaries = runAll(learners);
            killer.join(10_000);
            f.awaitCompletion();

            assertThat(killed).as("the task manager was killed").isTrue();
            assertThat(outstandingAtKill).hasValue(2);
            assertThat(summaries.stream().mapToInt(LearnerSummary::reconnects).sum()).isPositive();
            System.out.println("after the failure: " + summaries);
            f.assertModelCounts(summaries, adapters, versions);
        }
    }

    @Test
    void aTooStaleUpdateIsDroppedAndLoggedAndNothingCountsTwice() throws Exception {
        int versions = 4;
        try (Federation f =
                        Federation.start(
                                work,
                                Map.of(
                                        "job.checkpoint-interval", "1 s",
                                        "async.max-staleness", "1",
                                        "federation.rounds", Integer.toString(versions),
                                        "federation.min-learners", "2"));
                LogCapture log = LogCapture.of(LearnerSession.class)) {
            // The slow learner trains its first task at once and is held in its second; the
            // other one makes two versions meanwhile, one per released permit.
            Semaphore slowGate = new Semaphore(1);
            Semaphore otherGate = new Semaphore(0);
            ShiftingAdapter slow = new ShiftingAdapter(0, 2, 0, slowGate);
            ShiftingAdapter other = new ShiftingAdapter(1, 2, 0, otherGate);
            Learner slowLearner = f.learner("slow", slow, true);
            Learner otherLearner = f.learner("other", other, false);
            CompletableFuture<List<LearnerSummary>> running =
                    CompletableFuture.supplyAsync(
                            () -> {
                                try {
                                    return runAll(List.of(slowLearner, otherLearner));
                                } catch (Exception e) {
                                    throw new RuntimeException(e);
                                }
                            });
            awaitCondition(() -> slow.trained.get() == 1 && slowGate.hasQueuedThreads());
            otherGate.release(2);
            awaitCondition(() -> other.trained.get() == 2);
            // Its second version must be served before the slow learner's update arrives.
            awaitCondition(() -> otherLearner.unacknowledgedUpdates() == 0);
            Thread.sleep(500);
            slowGate.release();
            // Its second update is refused as too stale; the gateway hands it a new task at once,
            // which may reach the learner before the refusal does: let every training go on and
            // look for the refusal once the federation is over.
            awaitCondition(() -> slow.trained.get() == 2);
            slowGate.release(100);
            otherGate.release(100);
            List<LearnerSummary> summaries = running.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            f.awaitCompletion();

            LearnerSummary s = summaries.get(0);
            assertThat(s.updatesDropped()).isGreaterThanOrEqualTo(1);
            assertThat(log.lines())
                    .anyMatch(
                            l ->
                                    l.startsWith("WARN round ")
                                            && l.contains("update dropped, refused")
                                            && l.contains("FAILED_PRECONDITION")
                                            && l.contains("versions behind")
                                            && l.contains("async.max-staleness"));
            f.assertModelCounts(summaries, List.of(slow, other), versions);
        }
    }

    // -------------------------------------------------------------------------------------------

    /** Runs the learners on threads of their own until each returns. */
    private static List<LearnerSummary> runAll(List<Learner> learners) throws Exception {
        List<CompletableFuture<LearnerSummary>> runs = new ArrayList<>();
        for (Learner l : learners) {
            CompletableFuture<LearnerSummary> r = new CompletableFuture<>();
            Thread t =
                    new Thread(
                            () -> {
                                try (l) {
                                    r.complete(l.run());
                                } catch (Throwable e) {
                                    r.completeExceptionally(e);
                                }
                            },
                            "learner-run");
            t.setDaemon(true);
            t.start();
            runs.add(r);
        }
        List<LearnerSummary> out = new ArrayList<>();
        for (CompletableFuture<LearnerSummary> r : runs) {
            out.add(r.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
        return out;
    }

    private static void awaitCondition(java.util.function.BooleanSupplier c) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not met within " + WAIT);
            }
            Thread.sleep(10);
        }
    }

    /** The most unacknowledged updates a learner was seen with. */
    private static final class PeakWatch {
        private final AtomicInteger peak = new AtomicInteger();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        private PeakWatch(Learner learner) {
            thread =
                    new Thread(
                            () -> {
                                while (!stop.get()) {
                                    peak.accumulateAndGet(
                                            learner.unacknowledgedUpdates(), Math::max);
                                    try {
                                        Thread.sleep(2);
                                    } catch (InterruptedException e) {
                                        return;
                                    }
                                }
                            },
                            "peak-watch");
            thread.setDaemon(true);
            thread.start();
        }

        static PeakWatch of(Learner learner) {
            return new PeakWatch(learner);
        }

        void stop() throws InterruptedException {
            stop.set(true);
            thread.join(1000);
        }

        int peak() {
            return peak.get();
        }
    }

    /** The initial model: one tensor of N values. */
    static float[] initial() {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) Math.sin(i * 0.1);
        }
        return v;
    }

    /**
     * What learner {@code index} of {@code learners} adds to every model it is given: nonzero on
     * its own coordinates only ({@code i % learners == index}), so the model tells the learners'
     * updates apart.
     */
    static float[] shift(int index, int learners) {
        float[] d = new float[N];
        for (int i = index; i < N; i += learners) {
            d[i] = (index + 1) * 0.01f * (1 + i % 5);
        }
        return d;
    }

    /** A learner whose training adds its own fixed vector to the model it was given. */
    static final class ShiftingAdapter implements ModelAdapter {
        private final float[] shift;
        private final long trainMillis;
        private final Semaphore gate;
        private float[] weights = new float[N];
        final AtomicInteger trained = new AtomicInteger();
        final java.util.concurrent.atomic.AtomicLong firstTrainNanos =
                new java.util.concurrent.atomic.AtomicLong();

        /** {@code gate}: a permit per training task (null: none needed). */
        ShiftingAdapter(int index, int learners, long trainMillis, Semaphore gate) {
            this.shift = PipelinedUploadsITCase.shift(index, learners);
            this.trainMillis = trainMillis;
            this.gate = gate;
        }

        float[] shift() {
            return shift;
        }

        @Override
        public synchronized List<NamedTensor> getWeights() {
            return List.of(new NamedTensor("w", new long[] {N}, weights.clone()));
        }

        @Override
        public synchronized void setWeights(List<NamedTensor> w) {
            weights = w.get(0).values().clone();
        }

        @Override
        public TrainResult train(TrainTask task) {
            firstTrainNanos.compareAndSet(0, System.nanoTime());
            try {
                if (gate != null && !gate.tryAcquire(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                    throw new IllegalStateException("no permit to train");
                }
                if (trainMillis > 0) {
                    Thread.sleep(trainMillis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted");
            }
            synchronized (this) {
                for (int i = 0; i < N; i++) {
                    weights[i] += shift[i];
                }
            }
            trained.incrementAndGet();
            return new TrainResult(10, 1, Map.of("loss", 0.5));
        }

        @Override
        public EvaluationResult evaluate(EvaluateTask task) {
            return new EvaluationResult(1, Map.of("accuracy", 0.5));
        }

        @Override
        public long numTrainingExamples() {
            return 10;
        }

        @Override
        public long numTestExamples() {
            return 1;
        }
    }

    /**
     * The federation job on flink-job's {@link FailoverCluster} (one task manager, which a test may
     * kill).
     */
    static final class Federation implements AutoCloseable {
        private final FailoverCluster cluster;
        private final FederationConfig config;
        private final String store;
        private final int port;

        private Federation(
                FailoverCluster cluster, FederationConfig config, String store, int port) {
            this.cluster = cluster;
            this.config = config;
            this.store = store;
            this.port = port;
        }

        static Federation start(Path work, Map<String, String> settings) throws Exception {
            java.nio.file.Files.createDirectories(work);
            Path initial = work.resolve("initial.model");
            ModelCodec.writeModelFile(
                    initial, List.of(new TensorSpecInfo("w", new long[] {N})), initial());
            int port;
            try (java.net.ServerSocket s =
                    new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            String store = work.resolve("store").toUri().toString();
            Map<String, String> s = new HashMap<>();
            s.put("federation.name", "pipelined");
            s.put("gateway.port", Integer.toString(port));
            s.put("federation.results-file", work.resolve("results.jsonl").toString());
            s.put("federation.initial-model", initial.toString());
            s.put("model-store.path", store);
            s.put("security.insecure", "true");
            s.put("security.admission", "open");
            s.put("protocol.type", "asynchronous");
            s.put("async.rule", "fedbuff");
            s.put("async.buffer-size", "1");
            s.put("async.server-learning-rate", "1.0");
            s.put("async.staleness", "constant");
            s.put("async.publish-interval", "20 ms");
            s.put("evaluation.enabled", "false");
            s.put("aggregation.shard-size", "1024");
            s.putAll(settings);
            FederationConfig config = FederationConfig.of(s);
            return new Federation(FailoverCluster.submit(config, work), config, store, port);
        }

        /** A learner of this library on this federation's gateway (it retries until it is up). */
        Learner learner(String name, ModelAdapter adapter, boolean pipelining) {
            LearnerOptions options =
                    LearnerOptions.builder()
                            .transportSecurity(TransportSecurity.insecure())
                            .callTimeout(Duration.ofSeconds(60))
                            .transferTimeout(Duration.ofSeconds(60))
                            .reconnectInitialBackoff(Duration.ofMillis(100))
                            .reconnectMaxBackoff(Duration.ofSeconds(1))
                            .build();
            return new Learner(
                    LearnerSession.create(
                                    List.of(GatewayAddress.parse("127.0.0.1:" + port)),
                                    name,
                                    adapter,
                                    options)
                            .pipelining(pipelining));
        }

        void killTaskManager() {
            try {
                cluster.replaceTaskManager();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        void awaitCompletion() throws Exception {
            JobResult r = cluster.jobResult().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(r.isSuccess()).as("the federation job finished").isTrue();
        }

        /**
         * Every update counted once. Each learner's shift touches its own coordinates only, so a
         * stored model version says how many of each learner's updates it holds: version v holds v
         * updates (a buffer of one: one update per version), whole (every shard agrees), never
         * fewer of a learner than the version before; the final one holds at most the distinct
         * updates each learner sent (trained and not refused) and at least those acknowledged, but
         * for updates accepted after the federation's last version (at most {@link #AFTER_THE_END}
         * per learner: the job counts versions up to federation.rounds and acknowledges what its
         * checkpoints hold; see docs/explanation/protocols.md) and at most those plus the ones
         * still unacknowledged when the learner stopped. Every learner ends told of the end with
         * every update answered (the gateway ends only once what it accepted is answered).
         *
         * @return how many of each learner's updates the final model holds
         */
        int[] assertModelCounts(
                List<LearnerSummary> summaries, List<ShiftingAdapter> adapters, int versions)
                throws Exception {
            ModelStore models = ModelStore.open(store, config.name());
            List<Long> stored = models.versions();
            long last = stored.get(stored.size() - 1);
            assertThat(last).as("final version").isEqualTo(versions);
            float[] x0 = initial();
            int learners = summaries.size();
            int[] previous = new int[learners];
            int[] counted = new int[learners];
            for (long v : stored) {
                if (v < 1) {
                    continue;
                }
                float[] x = models.read(v).values();
                for (int l = 0; l < learners; l++) {
                    // Coordinate l carries learner l's shift alone.
                    counted[l] =
                            (int) Math.round((x[l] - (double) x0[l]) / adapters.get(l).shift()[l]);
                    assertThat(counted[l])
                            .as("learner %d in version %d", l, v)
                            .isGreaterThanOrEqualTo(previous[l]);
                }
                assertThat(java.util.Arrays.stream(counted).sum())
                        .as("updates in version %d", v)
                        .isEqualTo(v);
                for (int i = 0; i < N; i++) {
                    double expected = x0[i];
                    for (int l = 0; l < learners; l++) {
                        expected += (double) counted[l] * adapters.get(l).shift()[i];
                    }
                    assertThat((double) x[i])
                            .as("value %d of version %d", i, v)
                            .isCloseTo(expected, within(1e-4));
                }
                previous = counted.clone();
            }
            for (int l = 0; l < learners; l++) {
                LearnerSummary s = summaries.get(l);
                // Every update is answered before the job ends, and the Shutdown after them.
                assertThat(s.updatesUnacknowledged()).as("unanswered updates (%s)", s).isZero();
                assertThat(s.federationFinished()).as("told the end (%s)", s).isTrue();
                int sent = adapters.get(l).trained.get() - s.updatesDropped();
                assertThat(counted[l])
                        .as("updates of learner %d in the final model (%s)", l, s)
                        .isLessThanOrEqualTo(sent)
                        .isLessThanOrEqualTo(s.roundsTrained() + s.updatesUnacknowledged())
                        .isGreaterThanOrEqualTo(s.roundsTrained() - AFTER_THE_END);
            }
            return counted;
        }

        @Override
        public void close() throws Exception {
            try {
                cluster.cancelJob().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // already finished
            }
            cluster.close();
        }
    }
}
