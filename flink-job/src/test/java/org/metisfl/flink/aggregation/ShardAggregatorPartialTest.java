package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * Local pre-aggregation end to end at one shard: a gateway's {@link PartialSums} feeding the real
 * {@link ShardAggregator} (RocksDB), with a failure between a partial's emission and the checkpoint
 * that would have held it.
 */
class ShardAggregatorPartialTest {

    private static final ShardKeys KEYS = new ShardKeys(1);

    // Four learners' one-shard updates and weights; the failure-free model is their weighted mean.
    private static final String[] LEARNERS = {"a", "b", "c", "d"};
    private static final float[][] VALUES = {{1f, -2f}, {3f, 4f}, {-5f, 8f}, {7f, 0.5f}};
    private static final double[] WEIGHTS = {1, 2, 3, 4};

    private static float[] expectedMean() {
        float[] mean = new float[2];
        double total = 0;
        for (double w : WEIGHTS) {
            total += w;
        }
        for (int i = 0; i < 2; i++) {
            double s = 0;
            for (int l = 0; l < LEARNERS.length; l++) {
                s += WEIGHTS[l] * VALUES[l][i];
            }
            mean[i] = (float) (s / total);
        }
        return mean;
    }

    @Test
    void partialsAndSingleUpdatesGiveTheModelOfSingleUpdates() throws Exception {
        PartialSums gateway = new PartialSums.Factory(new FedAvg()).create(0, 1);
        try (var h = harness()) {
            h.open();
            List<GatewayEvent> in = new ArrayList<>();
            PartialSums.Emitter toJob = (e, t) -> in.add(e);
            gateway.offer(List.of(opened(1)), 1, toJob);
            gateway.offer(List.of(opened(2)), 2, toJob); // round 1 was open when it started
            for (int l = 0; l < 3; l++) {
                gateway.offer(update(l, 2), 3 + l, toJob);
            }
            gateway.flush(toJob); // one poll: a, b, c folded
            gateway.offer(update(3, 2), 10, toJob);
            gateway.flush(toJob); // alone: d as it is
            assertThat(in)
                    .extracting(GatewayEvent::kind)
                    .containsExactly(
                            GatewayEvent.Kind.ROUND_OPENED,
                            GatewayEvent.Kind.ROUND_OPENED,
                            GatewayEvent.Kind.PARTIAL_SHARD,
                            GatewayEvent.Kind.UPDATE_SHARD);
            for (GatewayEvent e : in.subList(1, in.size())) {
                h.processElement(e, 5);
            }
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c", "d");
            assertThat(out.get(0).totalWeight).isEqualTo(10.0);
            assertThat(out.get(0).values.values()).containsExactly(expectedMean());
        }
    }

    @Test
    void aFailureBetweenAPartialAndItsCheckpointGivesTheFailureFreeModel() throws Exception {
        OperatorSubtaskState checkpoint;
        PartialSums before = new PartialSums.Factory(new FedAvg()).create(0, 1);
        try (var h = harness()) {
            h.open();
            List<GatewayEvent> in = new ArrayList<>();
            PartialSums.Emitter toJob = (e, t) -> in.add(e);
            before.offer(List.of(opened(1)), 1, toJob);
            before.offer(List.of(opened(2)), 2, toJob);
            for (GatewayEvent e : in.subList(1, in.size())) {
                h.processElement(e, 2);
            }
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 3); // completes: round 2 open, nothing in it
            in.clear();
            before.offer(update(0, 2), 4, toJob);
            before.offer(update(1, 2), 5, toJob);
            before.flush(toJob);
            assertThat(in)
                    .extracting(GatewayEvent::kind)
                    .containsExactly(GatewayEvent.Kind.PARTIAL_SHARD);
            h.processElement(in.get(0), 5); // a and b counted, then the task manager dies
            assertThat(HarnessOutput.shards(h)).isEmpty();
        }
        // The restart: restored from checkpoint 1 (without a's and b's partial); a and b were
        // never acknowledged, so they send again, and c and d send for the first time. The new
        // gateway reader first hears of round 2, the round open at the restore.
        PartialSums after = new PartialSums.Factory(new FedAvg()).create(0, 1);
        try (var h = harness()) {
            h.initializeState(checkpoint);
            h.open();
            List<GatewayEvent> in = new ArrayList<>();
            PartialSums.Emitter toJob = (e, t) -> in.add(e);
            after.offer(List.of(opened(2)), 6, toJob);
            for (int l : new int[] {1, 0, 2, 3}) {
                after.offer(update(l, 2), 7 + l, toJob);
            }
            after.offer(update(0, 2), 20, toJob); // and a once more, through a retry
            after.flush(toJob);
            for (GatewayEvent e : in) {
                h.processElement(e, 8);
            }
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b", "c", "d");
            assertThat(out.get(0).totalWeight).isEqualTo(10.0);
            assertThat(out.get(0).values.values()).containsExactly(expectedMean());
        }
    }

    @Test
    void aPartialHoldingAnUpdateAlreadyCountedFailsTheJobInsteadOfCountingItTwice()
            throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(opened(2), 1);
            h.processElement(update(0, 2).get(0), 2);
            List<GatewayEvent> in = new ArrayList<>();
            PartialSums g = new PartialSums.Factory(new FedAvg()).create(0, 1);
            g.offer(List.of(opened(1)), 1, (e, t) -> {});
            g.offer(update(0, 2), 3, (e, t) -> in.add(e));
            g.offer(update(1, 2), 4, (e, t) -> in.add(e));
            g.flush((e, t) -> in.add(e));
            assertThatThrownBy(() -> h.processElement(in.get(0), 5))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already counted");
        }
    }

    // Two gateways: a and b are homed at gateway 0 (it folds them), c at gateway 1.
    private static final String A = PartialSumsTest.homedAt("a", 0, 2);
    private static final String B = PartialSumsTest.homedAt("b", 0, 2);
    private static final String C = PartialSumsTest.homedAt("c", 1, 2);

    /** Two gateways' records for round 2: [home's partial {a, b}], [other's foreign a, c]. */
    private static List<List<GatewayEvent>> twoGateways(float[] aThroughOther) {
        PartialSums home = new PartialSums.Factory(new FedAvg()).create(0, 2);
        PartialSums other = new PartialSums.Factory(new FedAvg()).create(1, 2);
        for (PartialSums g : List.of(home, other)) {
            g.offer(List.of(opened(1, 3)), 1, (e, t) -> {}); // heard round 1 first: folds 2
        }
        List<GatewayEvent> fromHome = new ArrayList<>();
        home.offer(
                PartialSumsTest.update(A, 2, 1, VALUES[0].clone()), 3, (e, t) -> fromHome.add(e));
        home.offer(
                PartialSumsTest.update(B, 2, 2, VALUES[1].clone()), 4, (e, t) -> fromHome.add(e));
        home.flush((e, t) -> fromHome.add(e));
        List<GatewayEvent> fromOther = new ArrayList<>();
        other.offer(PartialSumsTest.update(A, 2, 1, aThroughOther), 5, (e, t) -> fromOther.add(e));
        other.offer(
                PartialSumsTest.update(C, 2, 3, VALUES[2].clone()), 6, (e, t) -> fromOther.add(e));
        other.flush((e, t) -> fromOther.add(e));
        assertThat(fromHome)
                .extracting(GatewayEvent::kind)
                .containsExactly(GatewayEvent.Kind.PARTIAL_SHARD);
        assertThat(fromOther).extracting(e -> e.learnerId).containsExactly(A, C);
        assertThat(fromOther).extracting(e -> e.foreign).containsExactly(true, false);
        return List.of(fromHome, fromOther);
    }

    /** The weighted mean of a, b and c (weights 1, 2, 3) over VALUES, computed by hand. */
    private static final float[] MEAN_ABC = {
        (float) ((1 * 1 + 2 * 3 + 3 * -5) / 6.0), (float) ((1 * -2 + 2 * 4 + 3 * 8) / 6.0)
    };

    @Test
    void aForeignCopyIsHeldAsideAndGivesWayToThePartialHoldingItsLearnerInEitherOrder()
            throws Exception {
        for (boolean foreignFirst : new boolean[] {true, false}) {
            // a uploads round 2 through both gateways, different values through the other one
            // (a hostile double upload): the home gateway's partial copy counts, once.
            List<List<GatewayEvent>> in = twoGateways(new float[] {100f, 100f});
            try (var h = harness()) {
                h.open();
                h.processElement(opened(2, 3), 1);
                List<GatewayEvent> order = new ArrayList<>();
                order.addAll(in.get(foreignFirst ? 1 : 0));
                order.addAll(in.get(foreignFirst ? 0 : 1));
                for (GatewayEvent e : order) {
                    h.processElement(e, 7);
                }
                List<GlobalShard> out = HarnessOutput.shards(h);
                assertThat(out).as("foreign first: %s", foreignFirst).hasSize(1);
                assertThat(out.get(0).contributors).containsExactlyInAnyOrder(A, B, C);
                assertThat(out.get(0).totalWeight).isEqualTo(6.0);
                assertThat(out.get(0).values.values()).containsExactly(MEAN_ABC);
            }
        }
    }

    @Test
    void aForeignCopyWithoutAPartialCountsOnceWhenTheRoundClosesAtItsDeadline() throws Exception {
        PartialSums home = new PartialSums.Factory(new FedAvg()).create(0, 2);
        PartialSums other = new PartialSums.Factory(new FedAvg()).create(1, 2);
        List<GatewayEvent> in = new ArrayList<>();
        for (PartialSums g : List.of(home, other)) {
            g.offer(List.of(opened(1, 3)), 1, (e, t) -> {});
        }
        // a only through the other gateway (twice), b alone at home, c at the other gateway.
        other.offer(PartialSumsTest.update(A, 2, 1, VALUES[0].clone()), 3, (e, t) -> in.add(e));
        other.offer(PartialSumsTest.update(A, 2, 1, VALUES[0].clone()), 4, (e, t) -> in.add(e));
        other.offer(PartialSumsTest.update(C, 2, 3, VALUES[2].clone()), 5, (e, t) -> in.add(e));
        other.flush((e, t) -> in.add(e));
        home.offer(PartialSumsTest.update(B, 2, 2, VALUES[1].clone()), 6, (e, t) -> in.add(e));
        home.flush((e, t) -> in.add(e));
        try (var h = harness()) {
            h.open();
            // Four participants, quorum 3, deadline 100: d never sends.
            h.processElement(GatewayEvent.roundOpened(0, 2, 0, 1, 4, 3, 100), 1);
            for (GatewayEvent e : in) {
                h.processElement(e, 7);
            }
            assertThat(HarnessOutput.shards(h)).isEmpty();
            h.processWatermark(101);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactlyInAnyOrder(A, B, C);
            assertThat(out.get(0).totalWeight).isEqualTo(6.0);
            assertThat(out.get(0).values.values()).containsExactly(MEAN_ABC);
        }
    }

    @Test
    void aHeldForeignCopyInTheRestoredCheckpointCountsOnceAfterARestore() throws Exception {
        List<List<GatewayEvent>> in = twoGateways(VALUES[0].clone());
        OperatorSubtaskState checkpoint;
        try (var h = harness()) {
            h.open();
            h.processElement(opened(2, 3), 1);
            h.processElement(in.get(1).get(0), 5); // a's foreign copy, held aside
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 6);
            h.processElement(in.get(0).get(0), 7); // the home partial {a, b}, then a failure
            assertThat(HarnessOutput.shards(h)).isEmpty();
        }
        // After the restore the gateways restart; round 2 was open at the restore, so neither
        // folds it: a (not acknowledged) sends again through its home, b too, c for the first time.
        PartialSums home = new PartialSums.Factory(new FedAvg()).create(0, 2);
        PartialSums other = new PartialSums.Factory(new FedAvg()).create(1, 2);
        List<GatewayEvent> after = new ArrayList<>();
        home.offer(PartialSumsTest.update(A, 2, 1, VALUES[0].clone()), 8, (e, t) -> after.add(e));
        home.offer(PartialSumsTest.update(B, 2, 2, VALUES[1].clone()), 9, (e, t) -> after.add(e));
        home.flush((e, t) -> after.add(e));
        other.offer(PartialSumsTest.update(C, 2, 3, VALUES[2].clone()), 10, (e, t) -> after.add(e));
        other.flush((e, t) -> after.add(e));
        assertThat(after)
                .extracting(GatewayEvent::kind)
                .containsOnly(GatewayEvent.Kind.UPDATE_SHARD);
        try (var h = harness()) {
            h.initializeState(checkpoint);
            h.open();
            for (GatewayEvent e : after) {
                h.processElement(e, 11);
            }
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactlyInAnyOrder(A, B, C);
            assertThat(out.get(0).totalWeight).isEqualTo(6.0);
            assertThat(out.get(0).values.values()).containsExactly(MEAN_ABC);
        }
    }

    @Test
    void aPartialAfterARestoreReplacesTheHeldForeignCopyFromTheCheckpoint() throws Exception {
        // Round 3 opens after the restore: the home gateway folds it, while a's foreign copy
        // (different values) sat in the checkpoint; the partial's copy counts.
        OperatorSubtaskState checkpoint;
        List<List<GatewayEvent>> in = twoGateways(new float[] {100f, 100f});
        try (var h = harness()) {
            h.open();
            h.processElement(opened(2, 3), 1);
            h.processElement(in.get(1).get(0), 5); // foreign a, held
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 6);
        }
        try (var h = harness()) {
            h.initializeState(checkpoint);
            h.open();
            h.processElement(in.get(0).get(0), 7); // the partial {a, b}
            h.processElement(in.get(1).get(1), 8); // c
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactlyInAnyOrder(A, B, C);
            assertThat(out.get(0).totalWeight).isEqualTo(6.0);
            assertThat(out.get(0).values.values()).containsExactly(MEAN_ABC);
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness() throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(new ShardAggregator(new FedAvg())),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }

    private static GatewayEvent opened(long round) {
        return opened(round, 4);
    }

    private static GatewayEvent opened(long round, int participants) {
        return GatewayEvent.roundOpened(
                0, round, 0, 1, participants, participants, Long.MAX_VALUE - 1);
    }

    private static List<GatewayEvent> update(int learner, long round) {
        return PartialSumsTest.update(
                LEARNERS[learner], round, WEIGHTS[learner], VALUES[learner].clone());
    }
}
