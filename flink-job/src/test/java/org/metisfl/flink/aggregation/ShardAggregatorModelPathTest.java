package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.kernel.FedAvgM;
import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.aggregation.rule.AggregationRule;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The model path at the real {@link ShardAggregator} on RocksDB: closed shards leave through the
 * side output for the chained model-shard sink while the coordinator gets metadata only; the global
 * shards are state, sent again when a gateway announces itself, also after a failure between a
 * shard's publication and its checkpoint; a server optimizer steps at the shard; central DP's
 * noised delta is added at the shard with the calibrated noise.
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

    /**
     * Central DP on the model path: each shard's released global values are its held values plus
     * the mean of the clipped deltas (weight 1 each, divided by the expected contributions) plus
     * noise of standard deviation z·C/m drawn at the shard. Over 40,000 values per shard the
     * released noise has mean 0 (within 5 standard errors) and that standard deviation (within 5
     * standard errors, 1/sqrt(2n) relative), each shard its own draw; a failure after the round's
     * first update was checkpointed and after its shards were published releases the same values
     * again (the noise seed is in the checkpoint).
     */
    @Test
    void centralDpAddsTheNoisedMeanDeltaToEachShardsGlobalValuesWithTheCalibratedSigma()
            throws Exception {
        int n = 40_000;
        double z = 0.8;
        double clip = 2.5;
        int expected = 4; // participants: the mean divides by them, not by the contributors
        AggregationRule<?> dp =
                Rules.of(
                        RuleOptions.of(
                                FederationConfig.of(
                                        Map.of(
                                                "privacy.mechanism", "central-dp",
                                                "privacy.noise-multiplier", Double.toString(z),
                                                "privacy.clip-norm", "1.0"))));
        float[][] initial = new float[2][n];
        float[][] delta = new float[2][n];
        for (int s = 0; s < 2; s++) {
            for (int i = 0; i < n; i++) {
                initial[s][i] = (float) Math.sin(0.01 * i + s);
                delta[s][i] = (float) (1e-3 * Math.cos(0.02 * i - s));
            }
        }
        OperatorSubtaskState midRound;
        float[][] released = new float[2][];
        try (var h = ruleHarness(dp)) {
            h.open();
            for (int s = 0; s < 2; s++) {
                h.processElement(GatewayEvent.modelShard(0, s, 2, Payload.dense(initial[s])), 0);
                GatewayEvent open = GatewayEvent.roundOpened(0, 1, s, 2, expected, 2, 100);
                open.clipNorm = clip; // the round's clip norm from its plan wins
                h.processElement(open, 1);
            }
            for (int s = 0; s < 2; s++) {
                h.processElement(dpUpdate("a", s, delta[s], 7), 2); // weight 7 counts as 1
            }
            h.prepareSnapshotPreBarrier(1);
            midRound = h.snapshot(1, 3);
            for (int s = 0; s < 2; s++) {
                h.processElement(dpUpdate("b", s, delta[s], 1), 4);
            }
            h.processWatermark(100); // the deadline: two of four participants, a quorum
            for (GlobalShard g : HarnessOutput.shards(h)) {
                assertThat(g.direct).isTrue();
                assertThat(g.values).isNull();
                assertThat(g.delta).isFalse();
            }
            List<Directive> sent = sent(h);
            assertThat(sent).hasSize(2);
            double sigma = z * clip / expected;
            for (Directive d : sent) {
                float[] v = d.values().values();
                released[d.shard] = v;
                double sum = 0;
                double sq = 0;
                for (int i = 0; i < n; i++) {
                    // What is left after the failure-free model without noise: the noise / m.
                    double noise =
                            v[i] - (initial[d.shard][i] + 2.0 * delta[d.shard][i] / expected);
                    sum += noise;
                    sq += noise * noise;
                }
                double mean = sum / n;
                double sd = Math.sqrt(sq / n - mean * mean);
                assertThat(mean)
                        .as("noise mean, shard %d", d.shard)
                        .isCloseTo(0, within(5 * sigma / Math.sqrt(n)));
                assertThat(sd)
                        .as("noise standard deviation, shard %d", d.shard)
                        .isCloseTo(sigma, within(5 * sigma / Math.sqrt(2.0 * n)));
            }
            assertThat(released[0]).isNotEqualTo(released[1]);
        }
        try (var h = ruleHarness(dp)) {
            h.initializeState(midRound);
            h.open();
            for (int s = 0; s < 2; s++) {
                h.processElement(dpUpdate("a", s, delta[s], 7), 5); // a resend: dropped
                h.processElement(dpUpdate("b", s, delta[s], 1), 6);
            }
            h.processWatermark(100);
            List<Directive> again = sent(h);
            assertThat(again).hasSize(2);
            for (Directive d : again) {
                assertThat(d.values().values()).containsExactly(released[d.shard]);
            }
        }
    }

    /**
     * Krum on the model path: the round closes with its squared distances to the coordinator (no
     * values anywhere), the accumulator waits for the selection through a checkpoint, and the
     * selected updates' mean goes to the sink while the coordinator gets metadata only; an
     * announcement after that sends it again; a second copy of the selection changes nothing.
     */
    @Test
    void krumSendsDistancesAsMetadataAndTheSelectedMeanStraightToTheGateways() throws Exception {
        OperatorSubtaskState awaiting;
        try (var h = ruleHarness(new org.metisfl.flink.aggregation.rule.Krum(0, 2, true))) {
            h.open();
            h.processElement(GatewayEvent.roundOpened(0, 1, 0, 1, 3, 3, Long.MAX_VALUE - 1), 1);
            float[][] ups = {{1f, 1f}, {3f, 3f}, {10f, 10f}};
            String[] who = {"a", "b", "c"};
            for (int l = 0; l < 3; l++) {
                h.processElement(
                        GatewayEvent.updateShard(
                                0, who[l], 1, 0, 1, 1, "t1", 0, Payload.dense(ups[l])),
                        2 + l);
            }
            List<GlobalShard> meta = HarnessOutput.shards(h);
            assertThat(meta)
                    .singleElement()
                    .satisfies(
                            g -> {
                                assertThat(g.values).isNull();
                                // squared distances over two values: (1-3)^2 * 2 = 8, (1-10)^2 * 2
                                // = 162, ...
                                assertThat(g.distances)
                                        .containsExactly(0, 8, 162, 8, 0, 98, 162, 98, 0);
                            });
            assertThat(sent(h)).isEmpty();
            h.prepareSnapshotPreBarrier(1);
            awaiting = h.snapshot(1, 10);
        }
        try (var h = ruleHarness(new org.metisfl.flink.aggregation.rule.Krum(0, 2, true))) {
            h.initializeState(awaiting);
            h.open();
            GatewayEvent selection = GatewayEvent.of(GatewayEvent.Kind.SELECTION);
            selection.round = 1;
            selection.shard = 0;
            selection.numShards = 1;
            selection.participants = List.of("b", "a");
            h.processElement(selection, 11);
            assertThat(HarnessOutput.shards(h))
                    .singleElement()
                    .satisfies(
                            g -> {
                                assertThat(g.direct).isTrue();
                                assertThat(g.values).isNull();
                                assertThat(g.contributors).containsExactly("a", "b");
                            });
            List<Directive> v1 = sent(h);
            assertThat(v1)
                    .singleElement()
                    .satisfies(
                            d -> {
                                assertThat(d.modelVersion()).isEqualTo(1);
                                assertThat(d.values().values()).containsExactly(2f, 2f);
                            });
            h.processElement(selection, 12); // another gateway's copy: ignored
            assertThat(HarnessOutput.shards(h)).isEmpty();
            assertThat(sent(h)).isEmpty();
            h.processElement(GatewayEvent.announce(0, "127.0.0.1", 1, "s"), 13);
            assertThat(sent(h))
                    .extracting(Directive::kind)
                    .containsExactly(Directive.Kind.ANNOUNCE, Directive.Kind.MODEL_SHARD);
        }
    }

    private static GatewayEvent dpUpdate(String learner, int shard, float[] delta, double weight) {
        GatewayEvent e =
                GatewayEvent.updateShard(
                        0, learner, 1, shard, 2, weight, "t1", 0, Payload.dense(delta));
        return e;
    }

    /**
     * An announcement copy keyed for another subtask (the route assumed another max parallelism) is
     * counted and still served here; the copy for this subtask is not.
     */
    @Test
    void anAnnouncementCopyForAnotherSubtaskIsCountedAndStillServed() throws Exception {
        ShardAggregator aggregator = new ShardAggregator(new FedAvg(), true);
        try (var h = aggregatorHarness(aggregator)) {
            h.open();
            GatewayEvent mine = GatewayEvent.announce(0, "127.0.0.1", 1, "s");
            mine.shard = 0; // this harness runs subtask 0
            h.processElement(mine, 1);
            assertThat(aggregator.misroutedAnnouncements()).isZero();
            GatewayEvent other = GatewayEvent.announce(1, "127.0.0.1", 2, "s");
            other.shard = 1; // keyed for subtask 1, reached subtask 0
            h.processElement(other, 2);
            assertThat(aggregator.misroutedAnnouncements()).isEqualTo(1);
            assertThat(sent(h))
                    .extracting(Directive::kind)
                    .containsExactly(Directive.Kind.ANNOUNCE, Directive.Kind.ANNOUNCE);
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
        return aggregatorHarness(new ShardAggregator(new FedAvg(), true, optimizer));
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            ruleHarness(AggregationRule<?> rule) throws Exception {
        return aggregatorHarness(new ShardAggregator(rule, true));
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            aggregatorHarness(ShardAggregator aggregator) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(aggregator),
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
