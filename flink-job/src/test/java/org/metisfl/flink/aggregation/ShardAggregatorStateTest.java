package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The synchronous aggregator keeps its open rounds on the heap and writes them to keyed state only
 * before a checkpoint barrier: a checkpoint taken in the middle of a round must still hold every
 * update received before it, on both backends, and a restored job must finish the round with the
 * same result and still drop duplicates.
 */
class ShardAggregatorStateTest {

    private static final ShardKeys KEYS = new ShardKeys(1);

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void aRoundSurvivesACheckpointTakenInItsMiddle(String backend) throws Exception {
        OperatorSubtaskState snapshot;
        try (var before = harness(backend)) {
            before.open();
            before.processElement(roundOpened(3), 1);
            before.processElement(update("a", 1f, 1), 2);
            before.processElement(update("b", 2f, 3), 3);
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 4);
            // After the checkpoint: must not be in the restored state.
            before.processElement(update("c", 100f, 1), 5);
            assertThat(HarnessOutput.shards(before)).hasSize(1);
        }
        try (var after = harness(backend)) {
            after.initializeState(snapshot);
            after.open();
            after.processElement(update("a", 50f, 1), 6); // a retry after the failure: dropped
            assertThat(HarnessOutput.shards(after)).isEmpty();
            after.processElement(update("c", 4f, 4), 7);
            List<GlobalShard> out = HarnessOutput.shards(after);
            assertThat(out).hasSize(1);
            GlobalShard g = out.get(0);
            assertThat(g.contributors).containsExactly("a", "b", "c");
            assertThat(g.totalWeight).isEqualTo(8.0);
            // (1*1 + 2*3 + 4*4) / 8
            assertThat(g.values.values()[0]).isEqualTo(23f / 8f);
            assertThat(g.values.values()[1]).isEqualTo(23f / 8f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void aClosedRoundStaysClosedAfterARestore(String backend) throws Exception {
        OperatorSubtaskState snapshot;
        try (var before = harness(backend)) {
            before.open();
            before.processElement(roundOpened(1), 1);
            before.processElement(update("a", 1f, 1), 2);
            assertThat(HarnessOutput.shards(before)).hasSize(1);
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 3);
        }
        try (var after = harness(backend)) {
            after.initializeState(snapshot);
            after.open();
            after.processElement(update("b", 1f, 1), 4); // late: the round closed
            after.processElement(roundOpened(1), 5); // a gateway re-announcing it: ignored
            after.processElement(update("a", 1f, 1), 6);
            assertThat(HarnessOutput.shards(after)).isEmpty();
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(String backend) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(FederationConfig.of(Map.of()))),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        StateBackend b =
                backend.equals("rocksdb")
                        ? new EmbeddedRocksDBStateBackend()
                        : new HashMapStateBackend();
        h.setStateBackend(b);
        return h;
    }

    private static GatewayEvent roundOpened(int participants) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ROUND_OPENED);
        e.round = 1;
        e.numShards = 1;
        e.participantCount = participants;
        e.quorum = participants;
        e.deadline = Long.MAX_VALUE - 1;
        return e;
    }

    private static GatewayEvent update(String learner, float value, double weight) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = learner;
        e.round = 1;
        e.numShards = 1;
        e.weight = weight;
        e.values = Payload.dense(new float[] {value, value});
        return e;
    }
}
