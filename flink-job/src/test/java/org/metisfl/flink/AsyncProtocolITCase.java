package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/** The asynchronous protocol: model versions instead of rounds, through the whole job. */
class AsyncProtocolITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500; // three shards of 1024
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    private static float[] filled(float v) {
        float[] a = new float[N];
        Arrays.fill(a, v);
        return a;
    }

    private static Map<String, String> settings(String... kv) {
        Map<String, String> m = new HashMap<>();
        m.put("protocol.type", "asynchronous");
        m.put("async.staleness", "constant");
        m.put("evaluation.enabled", "false");
        m.put("aggregation.shard-size", "1024");
        m.put("async.publish-interval", "20 ms");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static List<RawLearner> start(FederationHarness h, int n, int gateways) {
        List<RawLearner> ls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            RawLearner l = h.learner(i % gateways);
            l.join("l" + i, 10);
            if (i == 0) {
                l.submit(0, SPECS, filled(0), 10, Map.of());
            }
            ls.add(l);
        }
        ls.forEach(RawLearner::openTaskStream);
        return ls;
    }

    /** Training tasks each learner was handed, by id: a task can reach a learner twice. */
    private static final Map<RawLearner, Set<String>> HANDED = new ConcurrentHashMap<>();

    /**
     * The learner's next training task it was not handed before: the gateway sends a learner's
     * outstanding task again when a directive and the learner's stream (or its last acceptance)
     * race, as a resend after a reconnect would; answering such a copy gets DUPLICATE.
     */
    private static Task nextNewTask(RawLearner l) throws Exception {
        Set<String> handed = HANDED.computeIfAbsent(l, k -> ConcurrentHashMap.newKeySet());
        while (true) {
            Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
            if (handed.add(t.getTaskId())) {
                return t;
            }
        }
    }

    /** Submits an update answering the learner's next training task; returns that task. */
    private static Task train(RawLearner l, float value) throws Exception {
        Task t = nextNewTask(l);
        l.submitAsync(t, SPECS, filled(value), 10);
        return t;
    }

    @Test
    void everyShardAppliesTheSameUpdatesInTheSameOrderAcrossTwoGateways() throws Exception {
        int learners = 4;
        int perLearner = 3;
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "gateway.parallelism", "2",
                                "async.rule", "fedasync",
                                "async.alpha", "1.0",
                                "federation.rounds", Integer.toString(learners * perLearner),
                                "federation.min-learners", Integer.toString(learners)))) {
            List<RawLearner> ls = start(h, learners, 2);
            List<Float> sent = new ArrayList<>();
            for (int k = 0; k < perLearner; k++) {
                for (int i = 0; i < learners; i++) {
                    float value = 10 * k + i + 1;
                    // Accepted means durable, and the next update is sent only then: the
                    // gateways stamp the updates in the order they are sent, and the job applies
                    // them in stamp order.
                    train(ls.get(i), value);
                    sent.add(value);
                    if (sent.size() < learners * perLearner) {
                        // With alpha 1 a version is its one update: version v must hold the v-th
                        // update sent, on every shard (three shards, read through the learner's
                        // gateway, alternating between the two).
                        RawLearner.Model m =
                                RawLearnerWaits.awaitVersion(ls.get(i), sent.size(), WAIT);
                        assertThat(m.version()).isEqualTo(sent.size());
                        assertThat(m.values()).containsOnly(value);
                    }
                }
            }
            assertThat(sent).hasSize(learners * perLearner).doesNotHaveDuplicates();
            for (RawLearner l : ls) {
                assertThat(l.nextTask(WAIT).getKindCase())
                        .isIn(Task.KindCase.SHUTDOWN, Task.KindCase.TRAIN);
            }
            h.awaitCompletion(WAIT);
            assertThat(h.federation().status()).isEqualTo(JobStatus.FINISHED);
            var results = h.results();
            assertThat(results).isNotEmpty();
            assertThat(results.get(results.size() - 1).round).isEqualTo(learners * perLearner);
            assertThat(results.get(results.size() - 1).last).isTrue();
        }
    }

    @Test
    void fedAsyncVersionsAreUniformAcrossShardsWhileRunning() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "gateway.parallelism", "2",
                                "async.rule", "fedasync",
                                "async.alpha", "1.0",
                                "federation.rounds", "100",
                                "federation.min-learners", "4"))) {
            List<RawLearner> ls = start(h, 4, 2);
            for (int i = 0; i < 4; i++) {
                train(ls.get(i), i + 1);
            }
            RawLearner.Model m = RawLearnerWaits.awaitVersion(ls.get(0), 4, WAIT);
            assertThat(m.version()).isEqualTo(4);
            float first = m.values()[0];
            assertThat(first).isIn(1f, 2f, 3f, 4f);
            assertThat(m.values()).containsOnly(first);
        }
    }

    @Test
    void fedBuffAppliesTheMeanDeltaOfEveryKUpdates() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedbuff",
                                "async.buffer-size", "2",
                                "async.server-learning-rate", "1.0",
                                "federation.rounds", "10",
                                "federation.min-learners", "2"))) {
            List<RawLearner> ls = start(h, 2, 1);
            train(ls.get(0), 2f);
            train(ls.get(1), 4f);
            // Deltas 2 and 4 from version 0: version 1 = 0 + (2 + 4) / 2.
            RawLearner.Model v1 = RawLearnerWaits.awaitVersion(ls.get(0), 1, WAIT);
            assertThat(v1.version()).isEqualTo(1);
            assertThat(v1.values()).containsOnly(3f);
            // Both next tasks start from version 0 or 1; from 1: deltas 6-3 and 4-3 -> 3 + 2.
            Task t0 = nextNewTask(ls.get(0));
            Task t1 = nextNewTask(ls.get(1));
            assertThat(ls.get(0).getModel().version()).isEqualTo(1);
            ls.get(0).submitAsync(t0, SPECS, filled(6f), 10, 1);
            ls.get(1).submitAsync(t1, SPECS, filled(4f), 10, 1);
            assertThat(RawLearnerWaits.awaitVersion(ls.get(0), 2, WAIT).values()).containsOnly(5f);
        }
    }

    @Test
    void fedRecReplacesALearnersPreviousContribution() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedrec",
                                "federation.rounds", "10",
                                "federation.min-learners", "2"))) {
            List<RawLearner> ls = start(h, 2, 1);
            train(ls.get(0), 1f);
            RawLearnerWaits.awaitVersion(ls.get(0), 1, WAIT);
            train(ls.get(1), 3f);
            assertThat(RawLearnerWaits.awaitVersion(ls.get(0), 2, WAIT).values()).containsOnly(2f);
            train(ls.get(0), 5f); // replaces its 1: (5 + 3) / 2
            assertThat(RawLearnerWaits.awaitVersion(ls.get(0), 3, WAIT).values()).containsOnly(4f);
        }
    }

    @Test
    void tooStaleUpdateIsRefusedWithAReason() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedasync",
                                "async.max-staleness", "1",
                                "federation.rounds", "10",
                                "federation.min-learners", "2"))) {
            List<RawLearner> ls = start(h, 2, 1);
            Task stale = ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            train(ls.get(1), 1f);
            RawLearnerWaits.awaitVersion(ls.get(1), 1, WAIT);
            train(ls.get(1), 2f);
            RawLearnerWaits.awaitVersion(ls.get(1), 2, WAIT);
            assertThatThrownBy(() -> ls.get(0).submitAsync(stale, SPECS, filled(9f), 10))
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                                assertThat(e.getStatus().getDescription())
                                        .contains("2 versions behind")
                                        .contains("async.max-staleness");
                            });
        }
    }

    @Test
    void anUpdateThatFallsTooFarBehindWhileItsBytesArriveIsRefusedNotAcceptedAndLost()
            throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedasync",
                                "async.max-staleness", "1",
                                "federation.rounds", "10",
                                "federation.min-learners", "2"))) {
            List<RawLearner> ls = start(h, 2, 1);
            Task slow = nextNewTask(ls.get(0));
            // The header arrives while the gateway serves the update's own version...
            RawLearner.PartialUpload upload =
                    ls.get(0).beginSubmitAsync(slow, SPECS, 10, slow.getModelVersion(), filled(9f));
            // ... two versions come while its bytes are on their way ...
            train(ls.get(1), 1f);
            RawLearnerWaits.awaitVersion(ls.get(1), 1, WAIT);
            train(ls.get(1), 2f);
            RawLearnerWaits.awaitVersion(ls.get(1), 2, WAIT);
            // ... so it is refused when complete: before this check it was answered ACCEPTED and
            // then dropped by the aggregators as too stale.
            assertThatThrownBy(upload::finish)
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                                assertThat(e.getStatus().getDescription())
                                        .contains("came while it arrived", "2 versions behind")
                                        .contains("not counted");
                            });
        }
    }

    @Test
    void everyNthVersionIsEvaluatedAndTheLastEndsTheFederation() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedasync",
                                "evaluation.enabled", "true",
                                "async.evaluate-every", "2",
                                "federation.rounds", "4",
                                "federation.min-learners", "1"))) {
            RawLearner l = start(h, 1, 1).get(0);
            List<Long> evaluated = new ArrayList<>();
            while (true) {
                Task t = l.nextTask(WAIT);
                if (t.hasShutdown()) {
                    break;
                } else if (t.hasTrain()) {
                    try {
                        l.submitAsync(t, SPECS, filled(1f), 10);
                    } catch (StatusRuntimeException e) {
                        // A task handed out just before the last version: the federation is over.
                        assertThat(e.getStatus().getDescription()).contains("over");
                    }
                } else if (t.hasEvaluate()) {
                    evaluated.add(t.getRound());
                    l.evaluate(t.getRound(), 10, Map.of("accuracy", t.getRound() / 10.0));
                }
            }
            h.awaitCompletion(WAIT);
            assertThat(evaluated).containsExactly(2L, 4L);
            var results = h.results();
            assertThat(results).extracting(r -> r.round).containsExactly(2L, 4L);
            assertThat(results.get(0).evalMetrics.get("accuracy")).isEqualTo(0.2);
            assertThat(results.get(1).last).isTrue();
        }
    }

    @Test
    void anEvaluationReportedAfterTheNextVersionWasAnnouncedStillCounts() throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        settings(
                                "async.rule", "fedasync",
                                "evaluation.enabled", "true",
                                "async.evaluate-every", "1",
                                "federation.rounds", "3",
                                "federation.min-learners", "1"))) {
            RawLearner l = start(h, 1, 1).get(0);
            Task held = null;
            List<Long> reported = new ArrayList<>();
            while (true) {
                Task t = l.nextTask(WAIT);
                if (t.hasShutdown()) {
                    break;
                } else if (t.hasTrain()) {
                    try {
                        l.submitAsync(t, SPECS, filled(1f), 10);
                    } catch (StatusRuntimeException e) {
                        assertThat(e.getStatus().getDescription()).contains("over");
                    }
                } else if (t.hasEvaluate() && held == null && reported.isEmpty()) {
                    held = t; // version 1: answered only once version 2 is to be evaluated
                } else if (t.hasEvaluate()) {
                    if (held != null) {
                        l.evaluate(held.getRound(), 10, Map.of("accuracy", 0.1));
                        reported.add(held.getRound());
                        held = null;
                    }
                    l.evaluate(t.getRound(), 10, Map.of("accuracy", t.getRound() / 10.0));
                    reported.add(t.getRound());
                }
            }
            h.awaitCompletion(WAIT);
            assertThat(reported).containsExactly(1L, 2L, 3L);
            var results = h.results();
            assertThat(results).extracting(r -> r.round).containsExactlyInAnyOrder(1L, 2L, 3L);
            assertThat(results)
                    .allSatisfy(
                            r ->
                                    assertThat(r.evalMetrics.get("accuracy"))
                                            .isEqualTo(r.round / 10.0));
        }
    }
}
