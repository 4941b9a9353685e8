package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The open sums are operator state copied at each checkpoint ({@code SnapshotCopiedMap}): they
 * survive a checkpoint and a rescale exactly, and a savepoint that kept them in keyed state is
 * taken over.
 */
class ShardAggregatorCheckpointTest {
    private static final int MAX_PARALLELISM = 128;

    // Three learners' two-value updates and weights; the expected model is their weighted mean.
    private static final String[] LEARNERS = {"a", "b", "c"};
    private static final float[][] VALUES = {{1f, -2f}, {3f, 4f}, {-5f, 8.5f}};
    private static final double[] WEIGHTS = {1, 2, 5};

    private static float[] mean(int learners) {
        float[] mean = new float[2];
        double total = 0;
        for (int l = 0; l < learners; l++) {
            total += WEIGHTS[l];
        }
        for (int i = 0; i < 2; i++) {
            double s = 0;
            for (int l = 0; l < learners; l++) {
                s += WEIGHTS[l] * VALUES[l][i];
            }
            mean[i] = (float) (s / total);
        }
        return mean;
    }

    @Test
    void openSumsSurviveACheckpointAndARescaleToTwoSubtasksExactly() throws Exception {
        ShardKeys keys = new ShardKeys(2);
        OperatorSubtaskState checkpoint;
        try (var h = harness(keys, 1, 1, 0)) {
            h.open();
            for (int shard = 0; shard < 2; shard++) {
                h.processElement(opened(shard, 3), 1);
                h.processElement(update(0, shard), 2);
                h.processElement(update(1, shard), 3);
            }
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 4);
            // The live sums go on after the checkpoint: the checkpoint must not see this.
            h.processElement(update(2, 0), 5);
            assertThat(HarnessOutput.shards(h)).hasSize(1);
        }
        List<GlobalShard> closed = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            OperatorSubtaskState mine =
                    AbstractStreamOperatorTestHarness.repartitionOperatorState(
                            checkpoint, MAX_PARALLELISM, 1, 2, subtask);
            try (var h = harness(keys, 2, 2, subtask)) {
                h.initializeState(mine);
                h.open();
                for (int shard = 0; shard < 2; shard++) {
                    if (subtaskOf(keys.keyOf(shard), 2) == subtask) {
                        h.processElement(update(2, shard), 6);
                    }
                }
                closed.addAll(HarnessOutput.shards(h));
            }
        }
        assertThat(closed).hasSize(2);
        for (GlobalShard g : closed) {
            assertThat(g.contributors).containsExactly("a", "b", "c");
            assertThat(g.totalWeight).isEqualTo(8.0);
            assertThat(g.values.values()).containsExactly(mean(3));
        }
    }

    @Test
    void aSavepointWithTheSumsInKeyedStateIsTakenOver() throws Exception {
        ShardKeys keys = new ShardKeys(1);
        OperatorSubtaskState old;
        // The former layout: the round in "shard-rounds", its sum in the keyed map "accumulators".
        var legacy =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new FormerLayout()),
                        (GatewayEvent e) -> keys.keyOf(e.shard),
                        Types.INT,
                        MAX_PARALLELISM,
                        1,
                        0);
        try (legacy) {
            legacy.setStateBackend(new EmbeddedRocksDBStateBackend());
            legacy.open();
            legacy.processElement(update(0, 0), 1);
            old = legacy.snapshot(1, 2);
        }
        try (var h = harness(keys, 1, 1, 0)) {
            h.initializeState(old);
            h.open();
            h.processElement(update(1, 0), 3);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).contributors).containsExactly("a", "b");
            assertThat(out.get(0).values.values()).containsExactly(mean(2));
        }
    }

    /** Writes a round of one shard expecting two learners, with a's update, as before. */
    private static final class FormerLayout
            extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard> {
        private transient ValueState<ShardRounds> rounds;
        private transient MapState<Long, FedAvg.Sum> sums;

        @Override
        public void open(OpenContext openContext) {
            rounds =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>(
                                            "shard-rounds", TypeInformation.of(ShardRounds.class)));
            sums =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>(
                                            "accumulators",
                                            LongSerializer.INSTANCE,
                                            new FedAvg().accumulatorSerializer()));
        }

        @Override
        public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
                throws Exception {
            FedAvg rule = new FedAvg();
            FedAvg.Sum sum = rule.createAccumulator();
            rule.add(sum, e.learnerId(), e.values(), e.weight());
            ShardRound sr = new ShardRound();
            sr.round = e.round();
            sr.numShards = 1;
            sr.opened = true;
            sr.expected = 2;
            sr.quorum = 2;
            sr.deadline = Long.MAX_VALUE - 1;
            sr.totalWeight = e.weight();
            sr.addContributor(e.learnerId());
            ShardRounds r = new ShardRounds();
            r.open.add(sr);
            rounds.update(r);
            sums.put(e.round(), sum);
        }
    }

    private static int subtaskOf(int key, int parallelism) {
        return org.apache.flink.runtime.state.KeyGroupRangeAssignment.assignKeyToParallelOperator(
                key, MAX_PARALLELISM, parallelism);
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(ShardKeys keys, int parallelism, int subtasks, int subtask) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(new ShardAggregator(new FedAvg())),
                        (GatewayEvent e) -> keys.keyOf(e.shard),
                        Types.INT,
                        MAX_PARALLELISM,
                        subtasks,
                        subtask);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }

    private static GatewayEvent opened(int shard, int participants) {
        GatewayEvent e =
                GatewayEvent.roundOpened(
                        0, 1, shard, 2, participants, participants, Long.MAX_VALUE - 1);
        return e;
    }

    private static GatewayEvent update(int learner, int shard) {
        return GatewayEvent.updateShard(
                0,
                LEARNERS[learner],
                1,
                shard,
                2,
                WEIGHTS[learner],
                "t",
                0,
                org.metisfl.flink.model.Payload.dense(VALUES[learner].clone()));
    }
}
