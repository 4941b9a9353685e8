package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.kernel.FedAvgM;
import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The model path at the real {@link ShardAggregator} on RocksDB: closed shards leave through the
 * side output for the chained model-shard sink while the coordinator gets metadata only; the global
 * shards are state, sent again when a gateway announces itself, also after a failure between a
 * shard's publication and its checkpoint; a server optimizer steps at the shard.
 */
class ShardAggregatorModelPathTest {

    private static final ShardKeys KEYS = new ShardKeys(1);
    private static final String[] LEARNERS = {"a", "b"};
    private static final double[] WEIGHTS = {1, 3};

    /** Learner {@code l}'s update of shard {@code s} in round {@code r}. */
    private static float[] values(int l, int s, long r) {
        return new float[] {l + s + r, (l + 1) * (s - 2) * r, 0.25f * l - r};
    }

    /** The failure-free model of shard {@code s} after round {@code r}: the weighted mean. */
    private static float[] mean(int s, long r) {
        float[] m = new float[3];
        for (int i = 0; i < 3; i++) {
            double sum = 0;
            for (int l = 0; l < 2; l++) {
                sum += WEIGHTS[l] * values(l, s, r)[i];
            }
            m[i] = (float) (sum / (WEIGHTS[0] + WEIGHTS[1]));
        }
        return m;
    }

    @Test
    void aClosedShardGoesToItsSinkAndTheCoordinatorGetsTheRoundsMetadataOnly() throws Exception {
        try (var h = harness(null)) {
            h.open();
            runRound(h, 1);
            List<GlobalShard> meta = HarnessOutput.shards(h);
            assertThat(meta).hasSize(2);
            for (GlobalShard g : meta) {
                assertThat(g.direct).isTrue();
                assertThat(g.values).isNull();
                assertThat(g.contributors).containsExactly("a", "b");
                assertThat(g.totalWeight).isEqualTo(4.0);
            }
            List<Directive> sent = sent(h);
            assertThat(sent).extracting(Directive::kind).containsOnly(Directive.Kind.MODEL_SHARD);
            assertThat(sent).hasSize(2);
            for (Directive d : sent) {
                assertThat(d.modelVersion()).isEqualTo(1);
                assertThat(d.values().values()).containsExactly(mean(d.shard, 1));
            }
        }
    }

    @Test
    void aFailureBetweenAShardsPublicationAndItsCheckpointGivesTheFailureFreeModel()
            throws Exception {
        OperatorSubtaskState checkpoint;
        try (var h = harness(null)) {
            h.open();
            runRound(h, 1);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 10); // holds version 1
            runRound(h, 2); // version 2 published to the gateways, then the task manager dies
            assertThat(sent(h)).hasSize(4);
        }
        try (var h = harness(null)) {
            h.initializeState(checkpoint);
            h.open();
            // The restarted gateway announces itself: the sink learns of it, then gets the
            // checkpoint's version of every shard this subtask holds.
            h.processElement(GatewayEvent.announce(0, "127.0.0.1", 1, "s"), 11);
            List<Directive> again = sent(h);
            assertThat(again)
                    .extracting(Directive::kind)
                    .containsExactly(
                            Directive.Kind.ANNOUNCE,
                            Directive.Kind.MODEL_SHARD,
                            Directive.Kind.MODEL_SHARD);
            for (Directive d : again.subList(1, 3)) {
                assertThat(d.modelVersion()).isEqualTo(1);
                assertThat(d.values().values()).containsExactly(mean(d.shard, 1));
            }
            assertThat(HarnessOutput.shards(h)).isEmpty();
            // The learners send round 2 again (never acknowledged): the failure-free version 2.
            runRound(h, 2);
            List<Directive> v2 = sent(h);
            assertThat(v2).hasSize(2);
            for (Directive d : v2) {
                assertThat(d.modelVersion()).isEqualTo(2);
                assertThat(d.values().values()).containsExactly(mean(d.shard, 2));
            }
            // Only the newest version of a shard is kept.
            h.processElement(GatewayEvent.announce(1, "127.0.0.1", 2, "s"), 20);
            assertThat(sent(h))
                    .filteredOn(d -> d.kind() == Directive.Kind.MODEL_SHARD)
                    .extracting(Directive::modelVersion)
                    .containsOnly(2L)
                    .hasSize(2);
        }
    }

    @Test
    void aServerOptimizerStepsEachShardFromTheGatewaysFirstModelAcrossARestore() throws Exception {
        ServerOptimizer fedAvgM = FedAvgM.of(1.0, 0.5);
        float[] zero = new float[3];
        OperatorSubtaskState checkpoint;
        try (var h = harness(fedAvgM)) {
            h.open();
            for (int s = 0; s < 2; s++) {
                // Every gateway hands its first model over; the second copy changes nothing.
                h.processElement(GatewayEvent.modelShard(0, s, 2, Payload.dense(zero)), 0);
                h.processElement(GatewayEvent.modelShard(0, s, 2, Payload.dense(zero)), 0);
            }
            runRound(h, 1);
            // Round 1: momentum = delta = mean - 0; global = 0 + 1 * momentum = the mean.
            for (Directive d : sent(h)) {
                assertThat(d.values().values()).containsExactly(mean(d.shard, 1));
            }
            HarnessOutput.shards(h);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 10);
        }
        try (var h = harness(fedAvgM)) {
            h.initializeState(checkpoint);
            h.open();
            runRound(h, 2);
            List<Directive> v2 = sent(h);
            assertThat(v2).hasSize(2);
            for (Directive d : v2) {
                // Round 2: momentum = 0.5 * m1 + (mean2 - g1), global = g1 + momentum (in double,
                // rounded once, as FedAvgM's definition in Hsu et al. with float state).
                float[] g1 = mean(d.shard, 1);
                float[] m2 = mean(d.shard, 2);
                float[] expected = new float[3];
                for (int i = 0; i < 3; i++) {
                    float m1 = g1[i]; // round 1's momentum: its delta from 0
                    double momentum = 0.5 * m1 + ((double) m2[i] - g1[i]);
                    expected[i] = (float) (g1[i] + 1.0 * momentum);
                }
                assertThat(d.values().values()).containsExactly(expected);
            }
        }
    }

    /** Opens round {@code r} at shards 0 and 1 and sends both learners' updates. */
    private static void runRound(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h, long r)
            throws Exception {
        for (int s = 0; s < 2; s++) {
            h.processElement(GatewayEvent.roundOpened(0, r, s, 2, 2, 2, Long.MAX_VALUE - 1), r);
        }
        for (int l = 0; l < 2; l++) {
            for (int s = 0; s < 2; s++) {
                h.processElement(
                        GatewayEvent.updateShard(
                                0,
                                LEARNERS[l],
                                r,
                                s,
                                2,
                                WEIGHTS[l],
                                "t" + r,
                                r - 1,
                                Payload.dense(values(l, s, r))),
                        r);
            }
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(ServerOptimizer optimizer) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(new FedAvg(), true, optimizer)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }

    private static List<Directive> sent(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h) {
        var queue = h.getSideOutput(ShardAggregator.MODEL_SHARDS);
        List<Directive> out = new ArrayList<>();
        if (queue != null) {
            for (StreamRecord<Directive> r : queue) {
                out.add(r.getValue());
            }
            queue.clear();
        }
        return out;
    }
}
