package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.aggregation.rule.FedAsync;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The asynchronous model path at the real {@link AsyncShardAggregator} on RocksDB: the versions the
 * publishing rule picks (a publish-interval boundary of the stamps crossed, late by an event-time
 * timer when no later update comes; every evaluation version; the last) go to the model-shard sink
 * with their values, the coordinator gets their metadata only, and every shard decides alike
 * whatever watermarks it saw; the newest published version is state, sent again when a gateway
 * announces itself after a failure.
 */
class AsyncShardAggregatorModelPathTest {

    private static final ShardKeys KEYS = new ShardKeys(1);
    private static final double ALPHA = 0.5;
    private static final long INTERVAL = 100;
    private static final AsyncPublishing RULE = new AsyncPublishing(INTERVAL, 5, 1000);

    /** The stamps of updates 1..7 (update k is learner "l" + k's, of task "t" + k). */
    private static final long[] STAMPS = {10, 20, 30, 150, 160, 170, 420};

    /** Update k's value at shard s. */
    private static float value(int k, int s) {
        return k * 3 + s * 10 - 1;
    }

    /** Shard s of version v, computed here: FedAsync's mix of updates 1..v from the first model. */
    private static float[] expected(int v, int s) {
        double m = s; // the first model's values at shard s
        for (int k = 1; k <= v; k++) {
            m = (float) ((1 - ALPHA) * m + ALPHA * value(k, s));
        }
        return new float[] {(float) m, (float) m};
    }

    @Test
    void publishedVersionsGoToTheSinkAndOnlyTheirMetadataToTheCoordinatorAlikeAtEveryShard()
            throws Exception {
        // Two aggregators with both shards: one sees a watermark after every update, the other
        // one watermark at the end. Both must publish the same versions with the same values.
        List<List<Directive>> sent = new ArrayList<>();
        List<List<GlobalShard>> meta = new ArrayList<>();
        for (boolean everyUpdate : new boolean[] {true, false}) {
            try (var h = harness()) {
                h.open();
                firstModel(h);
                for (int k = 1; k <= 6; k++) {
                    update(h, k);
                    if (everyUpdate) {
                        h.processWatermark(STAMPS[k - 1]);
                    }
                }
                h.processWatermark(250); // past the boundary at 200: v6 late, no later update
                update(h, 7);
                h.processWatermark(600); // v7 late at the boundary at 500
                // Each shard in its own order (timers fire key by key), as at two subtasks.
                sent.add(byShard(sent(h), d -> d.shard, Directive::modelVersion));
                meta.add(byShard(HarnessOutput.shards(h), g -> g.shard, g -> g.round));
            }
        }
        assertThat(sent.get(1))
                .usingRecursiveFieldByFieldElementComparator()
                .isEqualTo(sent.get(0));
        List<Directive> values = sent.get(0);
        // v3: the update at 150 crossed the boundary at 100; v5: an evaluation version (every
        // 5th); v6: late, by the timer at 200; v7: late, at 500. Versions 1, 2 and 4 never leave.
        assertThat(values)
                .extracting(Directive::modelVersion)
                .containsExactly(3L, 5L, 6L, 7L, 3L, 5L, 6L, 7L);
        for (Directive d : values) {
            assertThat(d.kind()).isEqualTo(Directive.Kind.MODEL_SHARD);
            float[] want = expected((int) d.modelVersion(), d.shard);
            assertThat(d.values().values()[0]).isCloseTo(want[0], within(1e-5f));
            assertThat(d.values().values()[1]).isCloseTo(want[1], within(1e-5f));
        }
        for (List<GlobalShard> m : meta) {
            assertThat(m).extracting(g -> g.round).containsExactly(3L, 5L, 6L, 7L, 3L, 5L, 6L, 7L);
            assertThat(m).allSatisfy(g -> assertThat(g.direct).isTrue());
            assertThat(m).allSatisfy(g -> assertThat(g.values).isNull());
            assertThat(m).allSatisfy(g -> assertThat(g.numShards).isEqualTo(2));
            // Shard 0 carries the contributors since the last published version, shard 1 none.
            assertThat(m.stream().filter(g -> g.shard == 0).map(g -> g.contributors))
                    .containsExactly(
                            List.of("l1", "l2", "l3"),
                            List.of("l4", "l5"),
                            List.of("l6"),
                            List.of("l7"));
            assertThat(m.stream().filter(g -> g.shard == 1).map(g -> g.contributors))
                    .allSatisfy(c -> assertThat(c).isEmpty());
        }
    }

    @Test
    void theLastVersionIsPublishedAtOnceAndAnIntervalOfZeroPublishesEveryVersion()
            throws Exception {
        try (var h = harness(new AsyncPublishing(INTERVAL, 1000, 2))) {
            h.open();
            firstModel(h);
            update(h, 1);
            update(h, 2);
            h.processWatermark(25);
            assertThat(sent(h)).extracting(Directive::modelVersion).containsExactly(2L, 2L);
        }
        try (var h = harness(new AsyncPublishing(0, 1000, 1000))) {
            h.open();
            firstModel(h);
            update(h, 1);
            update(h, 2);
            h.processWatermark(25);
            assertThat(byShard(sent(h), d -> d.shard, Directive::modelVersion))
                    .extracting(Directive::modelVersion)
                    .containsExactly(1L, 2L, 1L, 2L);
        }
    }

    @Test
    void noVersionPastTheLastIsPublished() throws Exception {
        // The last version is 2; updates 3 and 4 were in flight. With an interval, the boundary
        // crossed by update 4 (v3) and the late timer (v4) publish nothing; with an interval of
        // 0, versions 3 and 4 neither.
        for (long interval : new long[] {INTERVAL, 0}) {
            try (var h = harness(new AsyncPublishing(interval, 1000, 2))) {
                h.open();
                firstModel(h);
                for (int k = 1; k <= 4; k++) {
                    update(h, k);
                }
                h.processWatermark(600);
                assertThat(sent(h))
                        .extracting(Directive::modelVersion)
                        .as("interval %d", interval)
                        .allMatch(v -> v <= 2)
                        .contains(2L);
                assertThat(HarnessOutput.shards(h))
                        .extracting(g -> g.round)
                        .allMatch(v -> v <= 2)
                        .contains(2L);
            }
        }
    }

    @Test
    void withAnEvaluationIntervalTheFirstPublishedVersionPastEachMultipleIsEvaluatedAlike()
            throws Exception {
        // Evaluations at most once per 250 ms of the stamps, instead of every 5th version.
        AsyncPublishing rule = new AsyncPublishing(INTERVAL, 5, 1000, 250);
        List<List<GlobalShard>> meta = new ArrayList<>();
        for (boolean everyUpdate : new boolean[] {true, false}) {
            try (var h = harness(rule)) {
                h.open();
                firstModel(h);
                for (int k = 1; k <= 7; k++) {
                    update(h, k);
                    if (everyUpdate) {
                        h.processWatermark(STAMPS[k - 1]);
                    }
                }
                h.processWatermark(600);
                sent(h);
                meta.add(byShard(HarnessOutput.shards(h), g -> g.shard, g -> g.round));
            }
        }
        for (List<GlobalShard> m : meta) {
            // v3 at the boundary 100 (the first publication: evaluated, next from 250); v5 is no
            // longer published at once; v6 at 200 (before 250: not evaluated); v7 at 500.
            assertThat(m).extracting(g -> g.round).containsExactly(3L, 6L, 7L, 3L, 6L, 7L);
            assertThat(m)
                    .extracting(g -> g.evaluate)
                    .containsExactly(true, false, true, true, false, true);
        }
    }

    @Test
    void afterAFailureTheCheckpointsNewestPublishedVersionGoesToAnAnnouncedGatewayAgain()
            throws Exception {
        OperatorSubtaskState checkpoint;
        try (var h = harness()) {
            h.open();
            firstModel(h);
            for (int k = 1; k <= 6; k++) {
                update(h, k);
            }
            h.processWatermark(170); // v3 and v5 published, v6 made, its publication due at 200
            assertThat(byShard(sent(h), d -> d.shard, Directive::modelVersion))
                    .extracting(Directive::modelVersion)
                    .containsExactly(3L, 5L, 3L, 5L);
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 171);
            h.processWatermark(250); // v6 reaches the gateways, then the task manager dies
            assertThat(sent(h)).extracting(Directive::modelVersion).containsExactly(6L, 6L);
        }
        try (var h = harness()) {
            h.initializeState(checkpoint);
            h.open();
            // The restarted gateway announces itself: the sink learns of it, then gets the
            // checkpoint's newest published version of every shard (v5, not the lost v6).
            h.processElement(GatewayEvent.announce(0, "127.0.0.1", 1, "s"), 180);
            List<Directive> again = sent(h);
            assertThat(again)
                    .extracting(Directive::kind)
                    .containsExactly(
                            Directive.Kind.ANNOUNCE,
                            Directive.Kind.MODEL_SHARD,
                            Directive.Kind.MODEL_SHARD);
            for (Directive d : again.subList(1, 3)) {
                assertThat(d.modelVersion()).isEqualTo(5);
                assertThat(d.values().values()[0])
                        .isCloseTo(expected(5, d.shard)[0], within(1e-5f));
            }
            assertThat(HarnessOutput.shards(h)).isEmpty();
            // The restored timer publishes the checkpoint's v6 at the boundary, as before.
            h.processWatermark(250);
            List<Directive> v6 = sent(h);
            assertThat(v6).extracting(Directive::modelVersion).containsExactly(6L, 6L);
            for (Directive d : v6) {
                assertThat(d.values().values()[0])
                        .isCloseTo(expected(6, d.shard)[0], within(1e-5f));
            }
            assertThat(HarnessOutput.shards(h))
                    .filteredOn(g -> g.shard == 0)
                    .extracting(g -> g.contributors)
                    .containsExactly(List.of("l6"));
        }
    }

    private static void firstModel(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h)
            throws Exception {
        for (int s = 0; s < 2; s++) {
            h.processElement(
                    GatewayEvent.modelShard(0, s, 2, Payload.dense(new float[] {s, s})), 0);
        }
    }

    /** Update k at both shards (a gateway emits all shards of an update together). */
    private static void update(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h, int k)
            throws Exception {
        for (int s = 0; s < 2; s++) {
            GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
            e.learnerId = "l" + k;
            e.taskId = "t" + k;
            e.baseVersion = 0;
            e.stamp = STAMPS[k - 1];
            e.shard = s;
            e.numShards = 2;
            e.weight = 1;
            e.values = Payload.dense(new float[] {value(k, s), value(k, s)});
            h.processElement(e, e.stamp);
        }
    }

    /** {@code records} ordered by shard, then version (the order each shard emitted them in). */
    private static <T> List<T> byShard(
            List<T> records,
            java.util.function.ToIntFunction<T> shard,
            java.util.function.ToLongFunction<T> version) {
        List<T> sorted = new ArrayList<>(records);
        sorted.sort(java.util.Comparator.comparingInt(shard).thenComparingLong(version));
        return sorted;
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

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness() throws Exception {
        return harness(RULE);
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(AsyncPublishing publishing) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new AsyncShardAggregator(
                                        new FedAsync(ALPHA),
                                        Staleness.constant(),
                                        1000,
                                        publishing)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }
}
