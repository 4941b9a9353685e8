package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The asynchronous model path through the whole job (MiniCluster, RocksDB, real gRPC): two
 * aggregator subtasks send the published versions' shards to two gateways themselves, and every
 * model a learner is served, at either gateway, is FedAsync's mix computed here of the updates up
 * to its version; after a task manager is lost between a version's delivery and its checkpoint, the
 * restored aggregators send the checkpoint's version to the gateways again and the learners' resent
 * update makes the failure-free one.
 */
class AsyncModelPathITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500; // three shards of 1024 over two aggregator subtasks
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final double ALPHA = 0.5;
    private static final int LEARNERS = 4;
    private static final int UPDATES = 8;

    @TempDir Path work;

    /** Update k's values: different in every shard, so a misassembled model shows. */
    private static float[] update(int k) {
        float[] a = new float[N];
        for (int i = 0; i < N; i++) {
            a[i] = k + 100 * (i / 1024) + (i % 7) * 0.25f;
        }
        return a;
    }

    /** Version v computed here: FedAsync (constant staleness) over updates 1..v from zeros. */
    private static float[] expected(int v) {
        float[] m = new float[N];
        for (int k = 1; k <= v; k++) {
            float[] u = update(k);
            for (int i = 0; i < N; i++) {
                m[i] = (float) ((1 - ALPHA) * m[i] + ALPHA * u[i]);
            }
        }
        return m;
    }

    @Test
    void learnersAtTwoGatewaysAreServedVersionsAssembledFromTwoAggregatorsFedAsyncModels()
            throws Exception {
        Map<String, String> s = new HashMap<>();
        s.put("protocol.type", "asynchronous");
        s.put("async.rule", "fedasync");
        s.put("async.alpha", Double.toString(ALPHA));
        s.put("async.staleness", "constant");
        s.put("async.publish-interval", "50 ms");
        s.put("async.evaluate-every", "3");
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        s.put("job.parallelism", "2");
        s.put("gateway.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.rounds", Integer.toString(UPDATES));
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        List<RawLearner> ls = new ArrayList<>();
        try (FederationHarness h = FederationHarness.start(work, s)) {
            assertThat(FederationPipeline.modelAtShards(h.config())).isTrue();
            for (int i = 0; i < LEARNERS; i++) {
                RawLearner l = h.learner(i % 2);
                l.join("l" + i, 10);
                if (i == 0) {
                    l.submit(0, SPECS, new float[N], 10, Map.of());
                }
                ls.add(l);
            }
            ls.forEach(RawLearner::openTaskStream);
            Set<Long> served = new TreeSet<>();
            Set<String> handed = new HashSet<>();
            for (int k = 1; k <= UPDATES; k++) {
                RawLearner l = ls.get(k % LEARNERS);
                Task t = nextNewTask(l, handed);
                // Accepted means durable: the next update is sent only then, so the gateways
                // stamp the updates in this order and every shard applies them in it.
                assertThat(l.submitAsync(t, SPECS, update(k), 10).getStatus())
                        .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
                for (RawLearner reader : ls.subList(0, 2)) { // one learner at each gateway
                    RawLearner.Model m = reader.getModel();
                    assertThat(m.version()).isBetween(0L, (long) k);
                    assertThat(m.values()).containsExactly(expected((int) m.version()));
                    served.add(m.version());
                }
            }
            // The last version is published at once and ends the federation; both gateways
            // serve it, assembled from both aggregators' shards.
            for (RawLearner reader : ls.subList(0, 2)) {
                RawLearner.Model last = RawLearnerWaits.awaitVersion(reader, UPDATES, WAIT);
                assertThat(last.version()).isEqualTo(UPDATES);
                assertThat(last.values()).containsExactly(expected(UPDATES));
            }
            h.awaitCompletion(WAIT);
            assertThat(h.federation().status()).isEqualTo(JobStatus.FINISHED);
            var results = h.results();
            // The evaluation versions (3, 6) and the last one, each with its contributors.
            assertThat(results).extracting(r -> r.round).containsExactly(3L, 6L, 8L);
            assertThat(results.get(results.size() - 1).last).isTrue();
            assertThat(results.get(0).contributors)
                    .containsExactlyInAnyOrder(ls.get(1).id(), ls.get(2).id(), ls.get(3).id());
            assertThat(served).isNotEmpty();
        } finally {
            for (RawLearner l : ls) {
                l.close();
            }
        }
    }

    @Test
    void aTaskManagerLostAfterAVersionReachedTheGatewaysBeforeItsCheckpointServesTheCheckpointsOne()
            throws Exception {
        int port = FederationHarness.freePorts(1);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        // Long enough that the kill below falls between version 2's publication and its
        // checkpoint.
        s.put("job.checkpoint-interval", "4 s");
        s.put("job.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("protocol.type", "asynchronous");
        s.put("async.rule", "fedasync");
        s.put("async.alpha", Double.toString(ALPHA));
        s.put("async.staleness", "constant");
        s.put("async.publish-interval", "20 ms");
        s.put("async.evaluate-every", "1000");
        s.put("evaluation.enabled", "false");
        s.put("aggregation.shard-size", "1024");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", "2");
        FederationConfig config = FederationConfig.of(s);
        assertThat(FederationPipeline.modelAtShards(config)).isTrue();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        List<RawLearner> ls = new ArrayList<>();
        try (FailoverCluster cluster = FailoverCluster.submit(config, work)) {
            for (int i = 0; i < 2; i++) {
                RawLearner l = new RawLearner("127.0.0.1", port);
                RawLearnerWaits.joinWhenReady(l, "l" + i, 10, WAIT);
                if (i == 0) {
                    l.submit(0, SPECS, new float[N], 10, Map.of());
                }
                ls.add(l);
            }
            ls.forEach(RawLearner::openTaskStream);
            RawLearner l0 = ls.get(0);
            RawLearner l1 = ls.get(1);
            Set<String> handed = new HashSet<>();

            // Version 1, acknowledged (so checkpointed), published; then a checkpoint after it.
            assertThat(l0.submitAsync(nextNewTask(l0, handed), SPECS, update(1), 10).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(RawLearnerWaits.awaitVersion(l0, 1, WAIT).values())
                    .containsExactly(expected(1));
            Thread.sleep(4_500);

            // Version 2 reaches the gateway from the aggregators; the task manager dies before
            // the checkpoint that would acknowledge its update.
            Task t2 = nextNewTask(l1, handed);
            CompletableFuture<SubmitUpdateResponse> pending =
                    CompletableFuture.supplyAsync(
                            () -> l1.submitAsync(t2, SPECS, update(2), 10), pool);
            RawLearner.Model v2 = RawLearnerWaits.awaitVersion(l0, 2, WAIT);
            assertThat(v2.version()).isEqualTo(2);
            assertThat(v2.values()).containsExactly(expected(2));
            cluster.replaceTaskManager();
            boolean lost;
            try {
                pending.get(60, TimeUnit.SECONDS);
                lost = false;
            } catch (Exception e) {
                lost = true; // lost with the task manager: never acknowledged
            }
            assertThat(lost).as("version 2's update was never acknowledged").isTrue();

            // The restored job serves the checkpoint's version 1 again, its shards from the
            // aggregators' state; the learner sends its update again (its task is from before
            // the restart, on a model the checkpoint holds: it counts), and version 2 is the
            // failure-free one.
            Task t3 = reopenWhenReady(l0);
            reopenWhenReady(l1);
            RawLearner.Model again = l0.getModel();
            assertThat(again.version()).isEqualTo(1);
            assertThat(again.values()).containsExactly(expected(1));
            assertThat(l1.submitAsync(t2, SPECS, update(2), 10).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(RawLearnerWaits.awaitVersion(l0, 2, WAIT).values())
                    .containsExactly(expected(2));
            assertThat(l0.submitAsync(t3, SPECS, update(3), 10).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            RawLearner.Model last = RawLearnerWaits.awaitVersion(l0, 3, WAIT);
            assertThat(last.version()).isEqualTo(3);
            assertThat(last.values()).containsExactly(expected(3));
        } finally {
            for (RawLearner l : ls) {
                l.close();
            }
            pool.shutdownNow();
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
    private static Task nextNewTask(RawLearner l, Set<String> handed) throws Exception {
        while (true) {
            Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
            if (handed.add(t.getTaskId())) {
                return t;
            }
        }
    }
}
