package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * FedBuff's partial sums under a failure (MiniCluster, RocksDB, two folding gateways, real gRPC):
 * the job's only task manager dies after a gateway emitted a partial sum of a version's updates
 * (the version reached the gateways, so the partial was applied) and before the checkpoint that
 * would acknowledge them. The restored job serves the checkpoint's version again, the learners send
 * their unacknowledged updates again (alone: the restarted gateways did not hand their tasks out),
 * and every version, before the failure, after it and the one after, is FedBuff computed here with
 * each (learner, task) update once: {@code v' = v + η · Σ (u − model(base)) / K} over the version's
 * K updates.
 */
class FedBuffPartialSumsFailoverITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500; // three shards of 1024 over two aggregator subtasks
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final int LEARNERS = 6; // three at each gateway; K = 6: one version a phase
    private static final double ETA = 0.8;
    private static final long CHECKPOINT_MS = 4_000;
    // A phase whose version came later than this after the previous checkpoint completed is not
    // the one to fail in: the next checkpoint could complete before the kill.
    private static final long KILL_WINDOW_MS = 1_500;
    private static final int MAX_PHASES = 8;

    @TempDir Path work;

    private static float[] update(int learner, int phase) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (learner + 1) * (float) Math.sin(i * 0.37 + phase) + learner + 2 * phase;
        }
        return v;
    }

    /** Tasks taken from a learner's stream and not answered yet. */
    private final Map<RawLearner, Deque<Task>> taken = new HashMap<>();

    /** The models computed here, by version. */
    private final Map<Long, float[]> expected = new HashMap<>();

    /** FedBuff's next version from {@code previous}: each learner's update on its task's base. */
    private float[] fedBuff(long previous, List<Task> tasks, int phase) {
        float[] prev = expected.get(previous);
        double[] sum = new double[N];
        for (int i = 0; i < LEARNERS; i++) {
            float[] base = expected.get(tasks.get(i).getModelVersion());
            assertThat(base).as("the model of learner %d's task", i).isNotNull();
            float[] u = update(i, phase);
            for (int j = 0; j < N; j++) {
                sum[j] += (double) u[j] - base[j];
            }
        }
        float[] next = new float[N];
        for (int j = 0; j < N; j++) {
            next[j] = (float) (prev[j] + ETA * sum[j] / LEARNERS);
        }
        return next;
    }

    @Test
    void aTaskManagerLostAfterAPartialSumWasEmittedBeforeItsCheckpointGivesTheFailureFreeModels()
            throws Exception {
        int port = FederationHarness.freePorts(2);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("gateway.parallelism", "2");
        s.put("job.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        // Answers wait for the checkpoint: the updates of a phase are emitted and make their
        // version seconds before the checkpoint that acknowledges them, which the kill precedes.
        s.put("job.checkpoint-interval", CHECKPOINT_MS + " ms");
        s.put("protocol.type", "asynchronous");
        s.put("async.rule", "fedbuff");
        s.put("async.buffer-size", Integer.toString(LEARNERS));
        s.put("async.server-learning-rate", Double.toString(ETA));
        s.put("async.staleness", "constant");
        s.put("async.max-staleness", "100");
        s.put("async.publish-interval", "0 ms");
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        s.put("aggregation.pre-aggregate", "true");
        s.put("federation.rounds", "100");
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        FederationConfig config = FederationConfig.of(s);
        assertThat(FederationPipeline.preAggregation(config)).isNotNull();
        InMemoryReporter metrics = InMemoryReporter.create();
        ExecutorService pool = Executors.newFixedThreadPool(LEARNERS);
        List<RawLearner> ls = new ArrayList<>();
        Set<String> handed = new HashSet<>();
        try (FailoverCluster cluster =
                FailoverCluster.submit(config, work, metrics::addToConfiguration)) {
            // A join is answered after its checkpoint: all at once.
            List<CompletableFuture<Void>> joins = new ArrayList<>();
            for (int i = 0; i < LEARNERS; i++) {
                RawLearner l = new RawLearner("127.0.0.1", port + i / 3);
                ls.add(l);
                String name = "learner-" + i;
                joins.add(
                        CompletableFuture.runAsync(
                                () -> {
                                    try {
                                        RawLearnerWaits.joinWhenReady(l, name, 10, WAIT);
                                    } catch (InterruptedException e) {
                                        throw new IllegalStateException(e);
                                    }
                                },
                                pool));
            }
            for (CompletableFuture<Void> j : joins) {
                j.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            ls.get(0).submit(0, SPECS, new float[N], 10, Map.of());
            ls.forEach(RawLearner::openTaskStream);
            expected.put(0L, new float[N]);

            // Phases of one version each (every learner's update at once), answered after their
            // checkpoint, until a gateway folds two or more of a phase's updates into a partial
            // sum soon enough after a checkpoint; the task manager dies as soon as that version
            // reached the gateways.
            long checkpointed = System.nanoTime();
            int phase = 0;
            List<Task> tasks;
            List<CompletableFuture<SubmitUpdateResponse>> calls;
            while (true) {
                phase++;
                assertThat(phase)
                        .as("phases without a partial sum emitted soon after a checkpoint")
                        .isLessThanOrEqualTo(MAX_PHASES);
                long partialsBefore = partialsEmitted(metrics, cluster);
                tasks = new ArrayList<>();
                for (RawLearner l : ls) {
                    tasks.add(nextNewTask(l, handed));
                }
                calls = submitAll(pool, ls, tasks, phase);
                expected.put((long) phase, fedBuff(phase - 1, tasks, phase));
                RawLearner.Model m = RawLearnerWaits.awaitVersion(ls.get(0), phase, WAIT);
                assertThat(m.version()).isEqualTo(phase);
                assertClose(m.values(), expected.get((long) phase), "version " + phase);
                boolean folded = partialsEmitted(metrics, cluster) > partialsBefore;
                boolean early =
                        System.nanoTime() - checkpointed
                                < TimeUnit.MILLISECONDS.toNanos(KILL_WINDOW_MS);
                if (phase >= 2 && folded && early && calls.stream().noneMatch(c -> c.isDone())) {
                    break;
                }
                awaitAnswers(calls, SubmitUpdateResponse.Status.ACCEPTED);
                checkpointed = System.nanoTime();
            }
            int failed = phase;
            cluster.replaceTaskManager();
            for (CompletableFuture<SubmitUpdateResponse> c : calls) {
                boolean lost;
                try {
                    c.get(60, TimeUnit.SECONDS);
                    lost = false;
                } catch (Exception e) {
                    lost = true; // lost with the task manager: never acknowledged
                }
                assertThat(lost)
                        .as("an update of version %d was acknowledged before the kill", failed)
                        .isTrue();
            }

            // The restored job serves the checkpoint's version again; every learner sends its
            // update again, and the version is the failure-free one.
            for (RawLearner l : ls) {
                taken.computeIfAbsent(l, k -> new ArrayDeque<>()).add(reopenWhenReady(l));
            }
            RawLearner.Model again = ls.get(0).getModel();
            assertThat(again.version()).isEqualTo(failed - 1);
            assertClose(again.values(), expected.get(failed - 1L), "the checkpoint's version");
            awaitAnswers(
                    submitAll(pool, ls, tasks, failed),
                    SubmitUpdateResponse.Status.ACCEPTED,
                    SubmitUpdateResponse.Status.DUPLICATE);
            for (RawLearner reader : List.of(ls.get(0), ls.get(LEARNERS - 1))) {
                RawLearner.Model m = RawLearnerWaits.awaitVersion(reader, failed, WAIT);
                assertThat(m.version()).isEqualTo(failed);
                assertClose(m.values(), expected.get((long) failed), "version " + failed);
            }

            // And the restarted gateways go on, folding the tasks they hand out (when uploads queue
            // up together): the next version holds each update once too.
            int next = failed + 1;
            Set<String> lostRuns = new HashSet<>();
            for (Task t : tasks) {
                lostRuns.add(run(t));
            }
            List<Task> after = new ArrayList<>();
            for (RawLearner l : ls) {
                Task t = nextNewTask(l, handed);
                while (lostRuns.contains(run(t))) {
                    t = nextNewTask(l, handed); // handed out before the failure: not folded
                }
                after.add(t);
            }
            List<CompletableFuture<SubmitUpdateResponse>> last = submitAll(pool, ls, after, next);
            expected.put((long) next, fedBuff(failed, after, next));
            for (RawLearner reader : List.of(ls.get(0), ls.get(LEARNERS - 1))) {
                RawLearner.Model m = RawLearnerWaits.awaitVersion(reader, next, WAIT);
                assertThat(m.version()).isEqualTo(next);
                assertClose(m.values(), expected.get((long) next), "version " + next);
            }
            awaitAnswers(last, SubmitUpdateResponse.Status.ACCEPTED);
        } finally {
            for (RawLearner l : ls) {
                l.close();
            }
            pool.shutdownNow();
        }
    }

    /** The gateway run that handed {@code t} out (task ids are the run's prefix and a counter). */
    private static String run(Task t) {
        return t.getTaskId().substring(0, t.getTaskId().lastIndexOf('-'));
    }

    /** The partial sums the gateways emitted so far, from their metrics. */
    private static long partialsEmitted(InMemoryReporter metrics, FailoverCluster cluster) {
        long sum = 0;
        for (Map.Entry<String, Metric> e :
                metrics.getMetricsByIdentifiers(cluster.jobId()).entrySet()) {
            if (e.getKey().endsWith(".partialsEmitted")) {
                sum += ((Number) ((Gauge<?>) e.getValue()).getValue()).longValue();
            }
        }
        return sum;
    }

    private static List<CompletableFuture<SubmitUpdateResponse>> submitAll(
            ExecutorService pool, List<RawLearner> ls, List<Task> tasks, int phase) {
        List<CompletableFuture<SubmitUpdateResponse>> calls = new ArrayList<>();
        for (int i = 0; i < LEARNERS; i++) {
            RawLearner l = ls.get(i);
            Task t = tasks.get(i);
            int learner = i;
            calls.add(
                    CompletableFuture.supplyAsync(
                            () -> l.submitAsync(t, SPECS, update(learner, phase), 10), pool));
        }
        return calls;
    }

    private static void awaitAnswers(
            List<CompletableFuture<SubmitUpdateResponse>> calls,
            SubmitUpdateResponse.Status... allowed)
            throws Exception {
        for (CompletableFuture<SubmitUpdateResponse> c : calls) {
            assertThat(c.get(60, TimeUnit.SECONDS).getStatus()).isIn((Object[]) allowed);
        }
    }

    /**
     * Reopens the task stream until the restarted gateway serves a model and a training task has
     * come (maybe one the learner got before the failure: its model is one the checkpoint holds).
     */
    private static Task reopenWhenReady(RawLearner l) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            l.openTaskStream();
            try {
                Task t = l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(3));
                l.getModel();
                return t;
            } catch (AssertionError | io.grpc.StatusRuntimeException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /**
     * The learner's next training task not handed out before (a gateway may send an outstanding
     * task again when a directive and the learner's stream race; answering it gets DUPLICATE).
     */
    private Task nextNewTask(RawLearner l, Set<String> handed) throws Exception {
        Deque<Task> waiting = taken.getOrDefault(l, new ArrayDeque<>());
        while (!waiting.isEmpty()) {
            Task t = waiting.poll();
            if (handed.add(t.getTaskId())) {
                return t;
            }
        }
        while (true) {
            Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
            if (handed.add(t.getTaskId())) {
                return t;
            }
        }
    }

    private static void assertClose(float[] got, float[] expected, String what) {
        assertThat(got).hasSize(expected.length);
        for (int j = 0; j < got.length; j++) {
            if (Math.abs(got[j] - expected[j]) > 1e-4f) {
                throw new AssertionError(
                        what
                                + ": value "
                                + j
                                + " (shard "
                                + j / 1024
                                + ") is "
                                + got[j]
                                + ", FedBuff with each update once gives "
                                + expected[j]);
            }
        }
    }
}
