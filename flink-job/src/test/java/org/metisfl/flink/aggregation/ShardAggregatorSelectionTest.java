package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.Bulyan;
import org.metisfl.flink.aggregation.rule.Krum;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * A rule with a selection phase at one shard: the round closes with its partial distances, the
 * accumulator waits in state (through a checkpoint) for the coordinator's choice, and an empty
 * choice aborts the round.
 */
class ShardAggregatorSelectionTest {

    private static final ShardKeys KEYS = new ShardKeys(1);

    @Test
    void distancesFirstThenTheMeanOfTheSelectedUpdatesAfterARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var before = harness(new Krum(0, 2, true))) {
            before.open();
            before.processElement(roundOpened(3), 1);
            before.processElement(update("a", 1f), 2);
            before.processElement(update("b", 3f), 3);
            before.processElement(update("c", 10f), 4);
            List<GlobalShard> out = HarnessOutput.shards(before);
            assertThat(out).hasSize(1);
            GlobalShard g = out.get(0);
            assertThat(g.values).isNull();
            assertThat(g.contributors).containsExactly("a", "b", "c");
            // squared distances over two values each: (1-3)^2 * 2 = 8, (1-10)^2 * 2 = 162, ...
            assertThat(g.distances).containsExactly(0, 8, 162, 8, 0, 98, 162, 98, 0);
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 5);
        }
        try (var after = harness(new Krum(0, 2, true))) {
            after.initializeState(snapshot);
            after.open();
            after.processElement(selection(List.of("b", "a")), 6);
            List<GlobalShard> out = HarnessOutput.shards(after);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).values.values()).containsExactly(2f, 2f);
            assertThat(out.get(0).contributors).containsExactly("a", "b");
            after.processElement(selection(List.of("a")), 7); // another gateway's copy: ignored
            assertThat(HarnessOutput.shards(after)).isEmpty();
        }
    }

    @Test
    void anEmptySelectionAbortsTheRoundAtTheShard() throws Exception {
        try (var h = harness(new Bulyan(1))) {
            h.open();
            h.processElement(roundOpened(2), 1);
            h.processElement(update("a", 1f), 2);
            h.processElement(update("b", 2f), 3);
            assertThat(HarnessOutput.shards(h)).hasSize(1);
            h.processElement(selection(List.of()), 4);
            List<GlobalShard> out = HarnessOutput.shards(h);
            assertThat(out).hasSize(1);
            assertThat(out.get(0).aborted).isTrue();
            assertThat(out.get(0).values).isNull();
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(org.metisfl.flink.aggregation.rule.AggregationRule<?> rule) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(new ShardAggregator(rule)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
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

    private static GatewayEvent selection(List<String> chosen) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.SELECTION);
        e.round = 1;
        e.participants = chosen;
        return e;
    }

    private static GatewayEvent update(String learner, float value) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = learner;
        e.round = 1;
        e.numShards = 1;
        e.weight = 1;
        e.values = Payload.dense(new float[] {value, value});
        return e;
    }
}
