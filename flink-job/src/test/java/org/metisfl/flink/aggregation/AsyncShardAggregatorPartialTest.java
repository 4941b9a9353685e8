package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.aggregation.rule.FedBuff;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.BulkDoubleArraySerializer;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * FedBuff taking gateways' partial sums at the real asynchronous aggregator on RocksDB: the same
 * versions as single updates when no partial crosses the buffer boundary, the stated result when
 * one does, a failure between a partial and its checkpoint, and a foreign copy of an update a
 * partial holds, in both arrival orders. Expected values are worked out here by hand.
 */
class AsyncShardAggregatorPartialTest {

    private static final ShardKeys KEYS = new ShardKeys(1);

    /** The model starts at 1 everywhere; K = 3; server learning rate 1. */
    @Test
    void partialsAndSingleUpdatesMakeTheSameVersionsWhenNoPartialCrossesTheBufferBoundary()
            throws Exception {
        // Six updates trained on version 0: a, b, c make version 1 (staleness 0, weight 1);
        // d, e, f are applied at version 1 (staleness 1, polynomial weight 1/2).
        // v1 = 1 + ((2-1) + (4-1) + (6-1)) / 3 = 4; v2 = 4 + 0.5 * ((3-1) + (5-1) + (7-1)) / 3 = 6.
        List<List<Float>> expected = List.of(List.of(4f, 4f), List.of(6f, 6f));
        List<GlobalShard> singles;
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            float[] values = {2, 4, 6, 3, 5, 7};
            String[] learners = {"a", "b", "c", "d", "e", "f"};
            for (int i = 0; i < 6; i++) {
                h.processElement(update(learners[i], "t1", 0, i + 1, values[i]), i + 1);
            }
            h.processWatermark(10);
            singles = HarnessOutput.shards(h);
        }
        List<GlobalShard> partials;
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            // One gateway's poll folded a, b, c; the next folded d and e; f came alone.
            h.processElement(partial(0, 3, List.of("a", "b", "c"), "t1", 2, 4, 6), 3);
            h.processElement(partial(0, 5, List.of("d", "e"), "t1", 3, 5), 5);
            h.processElement(update("f", "t1", 0, 6, 7), 6);
            h.processWatermark(10);
            partials = HarnessOutput.shards(h);
        }
        for (List<GlobalShard> out : List.of(singles, partials)) {
            assertThat(out).extracting(g -> g.round).containsExactly(1L, 2L);
            for (int v = 0; v < 2; v++) {
                float[] got = out.get(v).values.values();
                assertThat((double) got[0]).isCloseTo(expected.get(v).get(0), within(1e-6));
                assertThat((double) got[1]).isCloseTo(expected.get(v).get(1), within(1e-6));
            }
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c");
            assertThat(out.get(1).contributors).containsExactly("d", "e", "f");
        }
    }

    /**
     * A partial of three updates lands on a buffer holding one (K = 3): it cannot be split, so the
     * buffer closes with all four and the model moves by their mean; the next buffer starts empty.
     */
    @Test
    void aPartialCrossingTheBufferBoundaryClosesTheBufferWithAllItsUpdates() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(update("a", "t1", 0, 1, 2), 1);
            h.processElement(partial(0, 4, List.of("b", "c", "d"), "t1", 4, 6, 8), 4);
            h.processWatermark(4);
            List<GlobalShard> out = HarnessOutput.shards(h);
            // v1 = 1 + ((2-1) + (4-1) + (6-1) + (8-1)) / 4 = 5 (one by one: 1 + 9/3 = 4 with
            // a, b, c, and d's delta in the next buffer).
            assertThat(out).hasSize(1);
            assertThat(out.get(0).round).isEqualTo(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c", "d");
            assertThat(out.get(0).values.values()).containsExactly(5f, 5f);
            h.processElement(GatewayEvent.modelServed(0, 1, 0, 1), 5);
            h.processElement(update("e", "t1", 1, 6, 6), 6);
            h.processElement(update("f", "t1", 1, 7, 8), 7);
            h.processWatermark(7);
            assertThat(HarnessOutput.shards(h)).as("two updates in the new buffer").isEmpty();
            h.processElement(update("g", "t1", 1, 8, 10), 8);
            h.processWatermark(8);
            out = HarnessOutput.shards(h);
            // v2 = 5 + ((6-5) + (8-5) + (10-5)) / 3 = 8
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("e", "f", "g");
            assertThat(out.get(0).values.values()).containsExactly(8f, 8f);
        }
    }

    /**
     * The task manager dies after a partial was emitted and applied but before the checkpoint that
     * would hold it. Its updates were not acknowledged: the learners send them again, to the
     * restarted gateway, which did not hand their tasks out in its run and sends them on one by
     * one. The update applied before the checkpoint is dropped when resent; the model is the
     * failure-free one.
     */
    @Test
    void aFailureBetweenAPartialAndItsCheckpointGivesTheFailureFreeModel() throws Exception {
        OperatorSubtaskState checkpoint;
        float[] failureFree;
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(update("x", "t1", 0, 1, 3), 1);
            h.processWatermark(1);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 1); // holds x's update in the buffer
            h.processElement(partial(0, 3, List.of("a", "b"), "t1", 5, 7), 3);
            h.processWatermark(3);
            List<GlobalShard> out = HarnessOutput.shards(h);
            // v1 = 1 + ((3-1) + (5-1) + (7-1)) / 3 = 5
            assertThat(out).hasSize(1);
            failureFree = out.get(0).values.values();
            assertThat(failureFree).containsExactly(5f, 5f);
        }
        try (var h = harness()) {
            h.initializeState(checkpoint);
            h.open();
            // x was not acknowledged either (its acknowledgement waits for checkpoint 1, which
            // never completed): all three are sent again, one by one.
            h.processElement(update("x", "t1", 0, 10, 3), 10);
            h.processElement(update("a", "t1", 0, 11, 5), 11);
            h.processElement(update("b", "t1", 0, 12, 7), 12);
            h.processWatermark(20);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("x", "a", "b");
            assertThat(out.get(0).values.values()).containsExactly(failureFree);
        }
    }

    /**
     * Learner a's call to the gateway that handed out its task broke after that gateway accepted
     * the update; a sent it again through gateway 1, whose copy (foreign) is applied first. The
     * partial holding a's update comes later: a's values are taken out of its sum, so a counts
     * once, where its single was applied.
     */
    @Test
    void aForeignCopyAppliedBeforeThePartialHoldingItIsTakenOutOfThePartial() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(foreign(update("a", "t1", 0, 1, 4)), 1);
            h.processElement(partial(0, 2, List.of("a", "b"), "t1", 4, 6), 2);
            h.processElement(update("c", "t1", 0, 3, 8), 3);
            h.processWatermark(3);
            List<GlobalShard> out = HarnessOutput.shards(h);
            // v1 = 1 + ((4-1) + (6-1) + (8-1)) / 3 = 6, a once
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c");
            assertThat(out.get(0).values.values()).containsExactly(6f, 6f);
            // A third copy (a resend through gateway 1 again) is a duplicate.
            h.processElement(foreign(update("a", "t1", 0, 4, 4)), 4);
            h.processWatermark(4);
            assertThat(HarnessOutput.shards(h)).isEmpty();
        }
    }

    @Test
    void aForeignCopyAfterThePartialHoldingItIsDropped() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(partial(0, 1, List.of("a", "b"), "t1", 4, 6), 1);
            h.processElement(foreign(update("a", "t1", 0, 2, 4)), 2);
            h.processElement(update("c", "t1", 0, 3, 8), 3);
            h.processWatermark(3);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c");
            assertThat(out.get(0).values.values()).containsExactly(6f, 6f);
        }
    }

    /**
     * A learner that sends different values for one task through two gateways: the foreign copy
     * applied first and the partial after it in the same buffer (one staleness) leave exactly the
     * partial's copy of a in the model, counted once.
     */
    @Test
    void aForeignCopyWithOtherValuesInTheSameBufferLeavesThePartialsCopy() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(foreign(update("a", "t1", 0, 1, 100)), 1);
            h.processElement(partial(0, 2, List.of("a", "b"), "t1", 4, 6), 2);
            h.processElement(update("c", "t1", 0, 3, 8), 3);
            h.processWatermark(3);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c");
            assertThat((double) out.get(0).values.values()[0]).isCloseTo(6, within(1e-5));
        }
    }

    /**
     * A partial holding an update applied as a plain single would count it twice: the job fails.
     */
    @Test
    void aPartialHoldingAnUpdateAppliedOtherwiseFailsTheJobRatherThanCountItTwice()
            throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(model(1f), 0);
            h.processElement(update("a", "t1", 0, 1, 4), 1);
            h.processElement(partial(0, 2, List.of("a", "b"), "t1", 4, 6), 2);
            assertThatThrownBy(() -> h.processWatermark(3))
                    .hasStackTraceContaining("already applied")
                    .hasStackTraceContaining("t1");
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness() throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new AsyncShardAggregator(
                                        new FedBuff(3, 1.0), Staleness.polynomial(1), 10)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }

    private static GatewayEvent model(float value) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.MODEL_SHARD);
        e.round = 0;
        e.numShards = 1;
        e.values = Payload.dense(new float[] {value, value});
        return e;
    }

    private static GatewayEvent update(
            String learner, String task, long base, long stamp, float value) {
        GatewayEvent e =
                GatewayEvent.updateShard(
                        1,
                        learner,
                        1,
                        0,
                        1,
                        1,
                        task,
                        base,
                        Payload.dense(new float[] {value, value}));
        return e.stampedAt(stamp);
    }

    private static GatewayEvent foreign(GatewayEvent e) {
        e.foreign = true;
        return e;
    }

    /** A partial of base version {@code base} of the learners' updates of {@code task}. */
    private static GatewayEvent partial(
            long base, long stamp, List<String> learners, String task, float... values)
            throws Exception {
        double[] sum = new double[2];
        for (float v : values) {
            sum[0] += v;
            sum[1] += v;
        }
        DataOutputSerializer bytes = new DataOutputSerializer(64);
        BulkDoubleArraySerializer.INSTANCE.serialize(sum, bytes);
        List<String> tasks = new ArrayList<>();
        for (int i = 0; i < learners.size(); i++) {
            tasks.add(task);
        }
        return GatewayEvent.asyncPartialShard(
                        0, 1, 0, 1, base, learners, tasks, learners.size(), bytes.getCopyOfBuffer())
                .stampedAt(stamp);
    }
}
