package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule;
import org.metisfl.flink.aggregation.rule.FedAsync;
import org.metisfl.flink.aggregation.rule.FedBuff;
import org.metisfl.flink.aggregation.rule.FedRec;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The asynchronous aggregator under Flink's operator test harness: event-time order, duplicates,
 * staleness, each rule's versions against values computed by hand, and state through a checkpoint.
 */
class AsyncShardAggregatorTest {

    private static final ShardKeys KEYS = new ShardKeys(1);

    @Test
    void fedAsyncAppliesUpdatesInStampOrderNotArrivalOrder() throws Exception {
        double alpha = 0.5;
        try (var h = harness(new FedAsync(alpha), Staleness.polynomial(1), 10, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update("b", "t1", 0, 5, 4f), 5); // arrives first, stamped later
            h.processElement(update("a", "t1", 0, 3, 2f), 3);
            assertThat(HarnessOutput.shards(h))
                    .isEmpty(); // nothing before the watermark passes the stamps
            h.processWatermark(10);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out)
                    .extracting(g -> g.contributors)
                    .containsExactly(List.of("a"), List.of("b"));
            assertThat(out).extracting(g -> g.round).containsExactly(1L, 2L);
            // a: staleness 0, weight 1: 0.5 * 0 + 0.5 * 2 = 1
            assertThat(out.get(0).values.values()).containsExactly(1f, 1f);
            // b: trained on version 0, applied to version 1: staleness 1, s = 1/2, alpha_t = 1/4
            assertThat((double) out.get(1).values.values()[0])
                    .isCloseTo(0.75 * 1 + 0.25 * 4, within(1e-6));
        }
    }

    @Test
    void oneTimerServesTheWaitingUpdatesAndAppliesEveryOneTheWatermarkPassedInStampOrder()
            throws Exception {
        try (var h = harness(new FedAsync(1.0), Staleness.constant(), 100, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update("a", "t1", 0, 5, 5f), 5);
            h.processElement(update("b", "t1", 0, 8, 8f), 8);
            h.processElement(update("c", "t1", 0, 3, 3f), 3); // another gateway's, stamped earlier
            assertThat(h.numEventTimeTimers())
                    .as("a timer at the oldest waiting stamp (5, then 3), not one per update")
                    .isEqualTo(2);
            h.processWatermark(4);
            List<GlobalShard> first = HarnessOutput.shards(h);
            assertThat(first).extracting(g -> g.contributors).containsExactly(List.of("c"));
            assertThat(first.get(0).values.values()).containsOnly(3f);
            h.processWatermark(9);
            List<GlobalShard> rest = HarnessOutput.shards(h);
            assertThat(rest)
                    .extracting(g -> g.contributors)
                    .containsExactly(List.of("a"), List.of("b"));
            assertThat(rest).extracting(g -> g.round).containsExactly(2L, 3L);
            assertThat(rest.get(1).values.values()).containsOnly(8f);
            assertThat(h.numEventTimeTimers()).isZero();
        }
    }

    @Test
    void duplicatesMakeNoVersionButAnAdmittedUpdateCountsHoweverFarTheShardMovedOn()
            throws Exception {
        try (var h = harness(new FedAsync(1.0), Staleness.constant(), 1, "hashmap")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update("a", "t1", 0, 1, 1f), 1);
            h.processElement(update("a", "t1", 0, 2, 9f), 2); // a retry of the same task
            h.processElement(update("b", "t1", 1, 3, 3f), 3);
            // Base 0 and the shard at version 2: its gateway still served version 0 when it
            // admitted it (max-staleness 1) and acknowledged it, so it counts.
            h.processElement(update("c", "t1", 0, 4, 7f), 4);
            h.processWatermark(5);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out)
                    .extracting(g -> g.contributors)
                    .containsExactly(List.of("a"), List.of("b"), List.of("c"));
            assertThat(out.get(1).values.values()).containsExactly(3f, 3f);
            assertThat(out.get(2).values.values()).containsExactly(7f, 7f);
        }
    }

    @Test
    void fedBuffMakesItsNextVersionFromUpdatesOfTheVersionItsGatewayNowServes() throws Exception {
        try (var h = harness(new FedBuff(2, 1.0), Staleness.constant(), 10, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update("a", "t1", 0, 1, 2f), 1);
            h.processElement(update("b", "t1", 0, 2, 4f), 2);
            h.processWatermark(2);
            h.processElement(GatewayEvent.modelServed(0, 1, 0, 1), 3);
            h.processElement(update("a", "t2", 1, 4, 6f), 4);
            h.processElement(update("b", "t2", 1, 5, 4f), 5);
            h.processWatermark(6);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).extracting(g -> g.round).containsExactly(1L, 2L);
            assertThat(out.get(1).values.values()).containsExactly(5f, 5f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void fedBuffKeepsEveryVersionAGatewayMayStillAdmitAnUpdateOf(String backend) throws Exception {
        // K = 1, server learning rate 1: each update makes a version, v' = v + (u - model(base)).
        try (var h = harness(new FedBuff(1, 1.0), Staleness.constant(), 1, backend)) {
            h.open();
            h.processElement(model(0, 1f), 0); // gateway 0 serves v0
            GatewayEvent fromGateway1 = model(0, 1f);
            fromGateway1.gateway = 1;
            h.processElement(fromGateway1, 0); // gateway 1 serves v0
            h.processElement(update("a", "t1", 0, 1, 3f), 1); // v1 = 1 + (3 - 1) = 3
            h.processWatermark(1);
            h.processElement(GatewayEvent.modelServed(0, 1, 0, 1), 2);
            h.processElement(update("b", "t1", 1, 3, 4f), 3); // v2 = 3 + (4 - 3) = 4
            h.processWatermark(3);
            h.processElement(GatewayEvent.modelServed(0, 2, 0, 1), 4);
            h.processElement(update("c", "t1", 2, 5, 6f), 5); // v3 = 4 + (6 - 4) = 6
            h.processWatermark(5);
            // Gateway 1 still serves v0 (within max-staleness 1 of it): its update of base 0,
            // three versions behind the shard, counts with its delta from v0: v4 = 6 + (2 - 1).
            h.processElement(update("d", "t1", 0, 6, 2f), 6);
            h.processWatermark(6);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).extracting(g -> g.round).containsExactly(1L, 2L, 3L, 4L);
            assertThat(out.get(2).values.values()).containsExactly(6f, 6f);
            assertThat(out.get(3).contributors).containsExactly("d");
            assertThat(out.get(3).values.values()).containsExactly(7f, 7f);
        }
    }

    @Test
    void fedRecReplacesALearnersEarlierUpdateInTheAverage() throws Exception {
        try (var h = harness(new FedRec(), Staleness.constant(), 10, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update("a", "t1", 0, 1, 2f, 1), 1);
            h.processElement(update("b", "t1", 1, 2, 5f, 3), 2);
            h.processElement(update("a", "t2", 2, 3, 10f, 1), 3);
            h.processWatermark(4);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(3);
            assertThat(out.get(0).values.values()[0]).isEqualTo(2f);
            assertThat(out.get(1).values.values()[0]).isEqualTo((2f * 1 + 5f * 3) / 4);
            assertThat(out.get(2).values.values()[0]).isEqualTo((10f * 1 + 5f * 3) / 4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void fedBuffKeepsItsBufferAndVersionsThroughACheckpoint(String backend) throws Exception {
        OperatorSubtaskState snapshot;
        FedBuff rule = new FedBuff(2, 1.0);
        try (var before = harness(rule, Staleness.constant(), 10, backend)) {
            before.open();
            before.processElement(model(0, 1f), 0);
            before.processElement(update("a", "t1", 0, 1, 3f), 1);
            before.processElement(update("b", "t1", 0, 2, 5f), 2);
            before.processWatermark(2);
            List<GlobalShard> out = HarnessOutput.shards(before);
            // v1 = 1 + ((3 - 1) + (5 - 1)) / 2 = 4
            assertThat(out).hasSize(1);
            assertThat(out.get(0).values.values()).containsExactly(4f, 4f);
            assertThat(out.get(0).contributors).containsExactly("a", "b");
            before.processElement(update("c", "t1", 0, 3, 2f), 3); // delta from v0: 1
            before.processWatermark(3);
            assertThat(HarnessOutput.shards(before)).isEmpty();
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 4);
        }
        try (var after = harness(rule, Staleness.constant(), 10, backend)) {
            after.initializeState(snapshot);
            after.open();
            after.processElement(update("a", "t2", 1, 5, 6f), 5); // delta from v1: 2
            after.processWatermark(6);
            List<GlobalShard> out = HarnessOutput.shards(after);
            // v2 = 4 + (1 + 2) / 2 = 5.5
            assertThat(out).hasSize(1);
            assertThat(out.get(0).round).isEqualTo(2);
            assertThat(out.get(0).values.values()).containsExactly(5.5f, 5.5f);
            assertThat(out.get(0).contributors).containsExactly("c", "a");
        }
    }

    /**
     * A learner gets its next task when its update is accepted, before the checkpoint holding the
     * update completes. The next update then counts with the staleness of the model its task was
     * given on, and a failure between the accept and the checkpoint counts each update once: the
     * one in the restored checkpoint is dropped when resent (its acknowledgement was lost), the one
     * after it counts when resent.
     */
    @Test
    void anEarlyNextTaskKeepsItsStalenessAndAFailureBeforeItsCheckpointCountsEachUpdateOnce()
            throws Exception {
        FedAsync rule = new FedAsync(0.5);
        OperatorSubtaskState checkpoint;
        float failureFree;
        try (var h = harness(rule, Staleness.polynomial(1), 10, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            // t1 accepted; t2 handed out at once, on model 0 (t1's version is not made yet)
            h.processElement(update("a", "t1", 0, 1, 2f), 1);
            h.processWatermark(1);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 1); // holds t1; then the task manager dies
            h.processElement(update("a", "t2", 0, 2, 4f), 2);
            h.processWatermark(2);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).extracting(g -> g.round).containsExactly(1L, 2L);
            // t1: staleness 0: 0.5 * 0 + 0.5 * 2 = 1
            assertThat(out.get(0).values.values()).containsExactly(1f, 1f);
            // t2: trained on version 0, applied to version 1: staleness 1, s = 1/2, alpha = 1/4
            failureFree = out.get(1).values.values()[0];
            assertThat((double) failureFree).isCloseTo(0.75 * 1 + 0.25 * 4, within(1e-6));
        }
        try (var h = harness(rule, Staleness.polynomial(1), 10, "rocksdb")) {
            h.initializeState(checkpoint);
            h.open();
            // Neither update was acknowledged: the learner sends both again, t2 twice (a retry).
            h.processElement(update("a", "t1", 0, 10, 2f), 10);
            h.processElement(update("a", "t2", 0, 11, 4f), 11);
            h.processElement(update("a", "t2", 0, 12, 4f), 12);
            h.processWatermark(20);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).extracting(g -> g.round).containsExactly(2L);
            assertThat(out.get(0).contributors).containsExactly("a");
            assertThat(out.get(0).values.values()).containsExactly(failureFree, failureFree);
        }
    }

    @Test
    void resentUpdatesAmongALearnersLastRememberedTasksAreDroppedAfterARestore() throws Exception {
        FedAsync rule = new FedAsync(1.0);
        OperatorSubtaskState checkpoint;
        int n = AsyncShardAggregator.REMEMBERED_TASKS;
        try (var h = harness(rule, Staleness.constant(), 100, "hashmap")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            for (int t = 1; t <= n; t++) {
                h.processElement(update("a", "t" + t, 0, t, t), t);
            }
            h.processWatermark(n);
            assertThat(HarnessOutput.shards(h)).hasSize(n);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, n);
        }
        try (var h = harness(rule, Staleness.constant(), 100, "hashmap")) {
            h.initializeState(checkpoint);
            h.open();
            for (int t = 1; t <= n + 1; t++) {
                h.processElement(update("a", "t" + t, 0, 10 + t, 100f + t), 10 + t);
            }
            h.processWatermark(100);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1); // only the new task counts
            assertThat(out.get(0).values.values()).containsExactly(101f + n, 101f + n);
        }
    }

    /**
     * Why an asynchronous gateway refuses, after a restart, an update whose task came before it and
     * whose model the restored checkpoint does not hold (UpdateReceiverTest pins the refusal).
     * FedBuff takes each update's delta from the version it was trained on; a version made after
     * the checkpoint is made again after the restore from the updates resent then, in their new
     * order. Learner a's update trained on the lost version 2 (a, a) has its delta taken from the
     * new version 2 (a, b): b's update goes out of the model, a's counts twice, and the next
     * version holds fewer of b's updates than the one before (what PipelinedUploadsITCase's
     * task-manager kill saw in one run in four). Coordinate 0 counts a's updates, 1 b's.
     */
    @Test
    void anUpdateTrainedOnAVersionLostInARestoreTakesAnotherLearnersUpdateOutOfTheModel()
            throws Exception {
        FedBuff rule = new FedBuff(1, 1.0);
        OperatorSubtaskState checkpoint;
        try (var h = harness(rule, Staleness.constant(), 10, "rocksdb")) {
            h.open();
            h.processElement(model(0, 0f), 0);
            h.processElement(update2("a", "t1", 0, 1, 1f, 0f), 1);
            h.processWatermark(1);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 1); // holds version 1 = (1, 0)
            h.processElement(update2("a", "t2", 1, 2, 2f, 0f), 2);
            h.processWatermark(2);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out.get(1).values.values()).containsExactly(2f, 0f);
            // a trains its next task on this version 2 = (2, 0); then the task manager dies.
        }
        try (var h = harness(rule, Staleness.constant(), 10, "rocksdb")) {
            h.initializeState(checkpoint);
            h.open();
            // Resent in another order: b's update first makes version 2 = (1, 1) now.
            h.processElement(update2("b", "u1", 1, 10, 1f, 1f), 10);
            h.processElement(update2("a", "t2", 1, 11, 2f, 0f), 11);
            h.processElement(update2("a", "t3", 2, 12, 3f, 0f), 12);
            h.processWatermark(20);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).extracting(g -> g.round).containsExactly(2L, 3L, 4L);
            assertThat(out.get(0).values.values()).containsExactly(1f, 1f);
            assertThat(out.get(1).values.values()).containsExactly(2f, 1f);
            // t3's delta from the new version 2: (3, 0) - (1, 1) = (2, -1).
            assertThat(out.get(2).values.values())
                    .as("b's update taken out, a's counted twice")
                    .containsExactly(4f, 0f);
        }
    }

    /** An update of two values (one per learner's coordinate). */
    private static GatewayEvent update2(
            String learner, String task, long base, long stamp, float first, float second) {
        GatewayEvent e = update(learner, task, base, stamp, 0f);
        e.values = Payload.dense(new float[] {first, second});
        return e;
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(AsyncAggregationRule<?> rule, Staleness s, long maxStale, String backend)
                    throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new AsyncShardAggregator(rule, s, maxStale)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        StateBackend b =
                backend.equals("rocksdb")
                        ? new EmbeddedRocksDBStateBackend()
                        : new HashMapStateBackend();
        h.setStateBackend(b);
        return h;
    }

    private static GatewayEvent model(long version, float value) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.MODEL_SHARD);
        e.round = version;
        e.numShards = 1;
        e.values = Payload.dense(new float[] {value, value});
        return e;
    }

    private static GatewayEvent update(
            String learner, String task, long base, long stamp, float value) {
        return update(learner, task, base, stamp, value, 1);
    }

    private static GatewayEvent update(
            String learner, String task, long base, long stamp, float value, double weight) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = learner;
        e.taskId = task;
        e.baseVersion = base;
        e.stamp = stamp;
        e.numShards = 1;
        e.weight = weight;
        e.values = Payload.dense(new float[] {value, value});
        return e;
    }
}
