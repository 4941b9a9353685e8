package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * FedBuff with local pre-aggregation over two gateways and real gRPC: each gateway folds the
 * updates of the tasks it handed out, a copy of an update sent through the other gateway as well
 * (as a learner does after a call broke before its answer) counts once, and the model is, value by
 * value, FedBuff computed here: {@code v' = v + η · Σ (u − model(base)) / K} over each version's K
 * updates, each learner once.
 */
class FedBuffPartialSumsITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int N = 2500; // three shards of 1024
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final int LEARNERS = 6;
    private static final double ETA = 0.8;

    @TempDir Path work;

    private static float[] update(int learner, int phase) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (learner + 1) * (float) Math.sin(i * 0.37 + phase) + learner + 2 * phase;
        }
        return v;
    }

    private final Map<RawLearner, Set<String>> handed = new ConcurrentHashMap<>();

    /** The learner's next training task it was not handed before (a task can come twice). */
    private Task nextNewTask(RawLearner l) throws Exception {
        Set<String> seen = handed.computeIfAbsent(l, k -> ConcurrentHashMap.newKeySet());
        while (true) {
            Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
            if (seen.add(t.getTaskId())) {
                return t;
            }
        }
    }

    @Test
    void fedBuffOverTwoFoldingGatewaysIsFedBuffWithEachUpdateOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(10);
        List<RawLearner> ls = new ArrayList<>();
        List<RawLearner> extra = new ArrayList<>();
        Map<String, String> settings = new HashMap<>();
        settings.put("protocol.type", "asynchronous");
        settings.put("async.rule", "fedbuff");
        settings.put("async.buffer-size", Integer.toString(LEARNERS));
        settings.put("async.server-learning-rate", Double.toString(ETA));
        settings.put("async.staleness", "constant");
        settings.put("async.publish-interval", "20 ms");
        settings.put("gateway.parallelism", "2");
        settings.put("job.parallelism", "2");
        settings.put("federation.rounds", "10");
        settings.put("federation.min-learners", Integer.toString(LEARNERS));
        settings.put("evaluation.enabled", "false");
        settings.put("aggregation.shard-size", "1024");
        settings.put("aggregation.pre-aggregate", "true");
        // Answers wait for the checkpoint, so concurrent uploads queue up and are folded.
        settings.put("job.checkpoint-interval", "1 s");
        try (FederationHarness h = FederationHarness.start(work, settings)) {
            assertThat(FederationPipeline.preAggregation(h.config())).isNotNull();
            for (int i = 0; i < LEARNERS; i++) {
                RawLearner l = h.learner(i < LEARNERS / 2 ? 0 : 1);
                l.join("learner-" + i, 10);
                if (i == 0) {
                    l.submit(0, SPECS, new float[N], 10, Map.of());
                }
                ls.add(l);
            }
            ls.forEach(RawLearner::openTaskStream);

            // Version 1: every learner's first task (on version 0) at once; learner 1's update
            // also through gateway 1 and learner 4's through gateway 0, which did not hand
            // their tasks out.
            List<Task> first = new ArrayList<>();
            for (RawLearner l : ls) {
                Task t = nextNewTask(l);
                assertThat(t.getModelVersion()).isZero();
                first.add(t);
            }
            RawLearner copy1 = h.learner(1).useCredentials(ls.get(1).credentials());
            RawLearner copy4 = h.learner(0).useCredentials(ls.get(4).credentials());
            extra.add(copy1);
            extra.add(copy4);
            List<CompletableFuture<SubmitUpdateResponse>> calls = new ArrayList<>();
            for (int i = 0; i < LEARNERS; i++) {
                calls.add(submit(pool, ls.get(i), first.get(i), i, 1));
            }
            calls.add(submit(pool, copy1, first.get(1), 1, 1));
            calls.add(submit(pool, copy4, first.get(4), 4, 1));
            awaitAnswers(calls);

            float[] v0 = new float[N];
            float[] v1 = new float[N];
            for (int j = 0; j < N; j++) {
                double sum = 0;
                for (int i = 0; i < LEARNERS; i++) {
                    sum += (double) update(i, 1)[j] - v0[j];
                }
                v1[j] = (float) (v0[j] + ETA * sum / LEARNERS);
            }
            RawLearner.Model m1 = RawLearnerWaits.awaitVersion(ls.get(0), 1, WAIT);
            assertThat(m1.version()).isEqualTo(1);
            assertClose(m1.values(), v1, "version 1");

            // Version 2: each learner's next task, on version 0 or 1 (handed out at accept, or
            // after version 1), again at once, learner 2's also through gateway 1.
            List<Task> second = new ArrayList<>();
            for (RawLearner l : ls) {
                second.add(nextNewTask(l));
            }
            RawLearner copy2 = h.learner(1).useCredentials(ls.get(2).credentials());
            extra.add(copy2);
            calls.clear();
            for (int i = 0; i < LEARNERS; i++) {
                calls.add(submit(pool, ls.get(i), second.get(i), i, 2));
            }
            calls.add(submit(pool, copy2, second.get(2), 2, 2));
            awaitAnswers(calls);

            float[] v2 = new float[N];
            for (int j = 0; j < N; j++) {
                double sum = 0;
                for (int i = 0; i < LEARNERS; i++) {
                    long base = second.get(i).getModelVersion();
                    assertThat(base).isIn(0L, 1L);
                    float[] model = base == 0 ? v0 : v1;
                    sum += (double) update(i, 2)[j] - model[j];
                }
                v2[j] = (float) (v1[j] + ETA * sum / LEARNERS);
            }
            RawLearner.Model m2 = RawLearnerWaits.awaitVersion(ls.get(3), 2, WAIT);
            assertThat(m2.version()).isEqualTo(2);
            assertClose(m2.values(), v2, "version 2");
        } finally {
            for (RawLearner l : ls) {
                l.close();
            }
            for (RawLearner l : extra) {
                l.close();
            }
            pool.shutdownNow();
        }
    }

    private static CompletableFuture<SubmitUpdateResponse> submit(
            ExecutorService pool, RawLearner l, Task t, int learner, int phase) {
        return CompletableFuture.supplyAsync(
                () -> l.submitAsync(t, SPECS, update(learner, phase), 10), pool);
    }

    private static void awaitAnswers(List<CompletableFuture<SubmitUpdateResponse>> calls)
            throws Exception {
        for (CompletableFuture<SubmitUpdateResponse> c : calls) {
            assertThat(c.get(60, TimeUnit.SECONDS).getStatus())
                    .isIn(
                            SubmitUpdateResponse.Status.ACCEPTED,
                            SubmitUpdateResponse.Status.DUPLICATE);
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
