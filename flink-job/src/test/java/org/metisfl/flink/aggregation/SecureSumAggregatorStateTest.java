package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HexFormat;
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
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The synchronous aggregator with {@code secure-aggregation: ckks}: a round of encrypted updates
 * survives a checkpoint taken in its middle on both backends, and the restored job's global shard
 * decrypts (in the test, which plays the learners) to the plaintext weighted mean; so does a round
 * whose updates a gateway folded into a partial sum of ciphertexts (local pre-aggregation); on the
 * model path the encrypted global shard goes to the gateways' sink and the coordinator gets the
 * round's metadata only.
 */
class SecureSumAggregatorStateTest {

    private static final ShardKeys KEYS = new ShardKeys(1);
    private static final HeContext HE = HeBackends.context(HeBackends.DEFAULT_BACKEND, "n13-q120");
    private static final KeyPair KEY = HE.generateKeys();
    private static final int LENGTH = 300;

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void anEncryptedRoundSurvivesACheckpointAndDecryptsToTheWeightedMean(String backend)
            throws Exception {
        OperatorSubtaskState snapshot;
        try (var before = harness(backend)) {
            before.open();
            before.processElement(roundOpened(3), 1);
            before.processElement(update("a", 1f, 1), 2);
            before.processElement(update("b", 2f, 3), 3);
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 4);
            before.processElement(update("c", 100f, 1), 5); // after the checkpoint
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
            assertThat(g.values.kind()).isEqualTo(Payload.Kind.CIPHERTEXT);
            ShardCiphertexts sc = ShardCiphertexts.decode(g.values.ciphertext());
            assertThat(sc.weightSum()).isEqualTo(8.0);
            List<Ciphertext> cts = new ArrayList<>();
            sc.ciphertexts().forEach(b -> cts.add(HE.deserializeCiphertext(b)));
            double[] sum = HE.decrypt(KEY.secretKey(), cts);
            assertThat(sum).hasSize(LENGTH);
            for (double v : sum) {
                // (1*1 + 2*3 + 4*4) / 8
                assertThat(Math.abs(v / sc.weightSum() - 23.0 / 8)).isLessThan(1e-6);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void encryptedUpdatesFoldedAtTheGatewayDecryptToTheSameWeightedMeanAcrossACheckpoint(
            String backend) throws Exception {
        FederationConfig config = FederationConfig.of(Map.of("secure-aggregation", "ckks"));
        PartialSums gateway =
                new PartialSums.Factory(Rules.of(RuleOptions.of(config))).create(0, 1);
        List<GatewayEvent> emitted = new ArrayList<>();
        PartialSums.Emitter out = (e, t) -> emitted.add(e);
        gateway.offer(List.of(roundOpened(1, 3)), 1, out); // open at start: never folded
        gateway.offer(List.of(roundOpened(2, 3)), 2, out);
        gateway.offer(List.of(update("a", 2, 1f, 1)), 3, out);
        gateway.offer(List.of(update("b", 2, 2f, 3)), 4, out);
        gateway.flush(out);
        GatewayEvent partial = emitted.get(emitted.size() - 1);
        assertThat(partial.kind()).isEqualTo(GatewayEvent.Kind.PARTIAL_SHARD);
        assertThat(partial.participants()).containsExactly("a", "b");
        assertThat(partial.weight()).isEqualTo(4.0);

        OperatorSubtaskState snapshot;
        try (var before = harness(backend)) {
            before.open();
            before.processElement(roundOpened(2, 3), 1);
            before.processElement(partial, 4);
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 5);
            assertThat(HarnessOutput.shards(before)).isEmpty();
        }
        try (var after = harness(backend)) {
            after.initializeState(snapshot);
            after.open();
            after.processElement(update("b", 2, 50f, 3), 6); // a resend after the failure: dropped
            assertThat(HarnessOutput.shards(after)).isEmpty();
            after.processElement(update("c", 2, 4f, 4), 7);
            List<GlobalShard> out2 = HarnessOutput.shards(after);
            assertThat(out2).hasSize(1);
            GlobalShard g = out2.get(0);
            assertThat(g.contributors).containsExactlyInAnyOrder("a", "b", "c");
            assertThat(g.totalWeight).isEqualTo(8.0);
            ShardCiphertexts sc = ShardCiphertexts.decode(g.values.ciphertext());
            List<Ciphertext> cts = new ArrayList<>();
            sc.ciphertexts().forEach(b -> cts.add(HE.deserializeCiphertext(b)));
            double[] sum = HE.decrypt(KEY.secretKey(), cts);
            assertThat(sum).hasSize(LENGTH);
            for (double v : sum) {
                // (1*1 + 2*3 + 4*4) / 8, as without folding
                assertThat(Math.abs(v / sc.weightSum() - 23.0 / 8)).isLessThan(1e-6);
            }
        }
    }

    /**
     * The model path with the secure sum (RocksDB): the coordinator gets the round's metadata only,
     * the encrypted global shard goes to the chained sink and decrypts to the weighted mean; after
     * a failure between version 2's publication and its checkpoint, a gateway's announcement brings
     * back the checkpoint's version 1 bit for bit, and the resent round 2 gives the failure-free
     * version 2.
     */
    @org.junit.jupiter.api.Test
    void onTheModelPathTheEncryptedShardGoesToTheGatewaysAndSurvivesAFailureBeforeItsCheckpoint()
            throws Exception {
        OperatorSubtaskState checkpoint;
        byte[] v1;
        try (var h = modelPathHarness()) {
            h.open();
            h.processElement(roundOpened(1, 2), 1);
            h.processElement(update("a", 1, 1f, 1), 2);
            h.processElement(update("b", 1, 2f, 3), 3);
            List<GlobalShard> meta = HarnessOutput.shards(h);
            assertThat(meta).hasSize(1);
            assertThat(meta.get(0).direct).isTrue();
            assertThat(meta.get(0).values).isNull();
            assertThat(meta.get(0).contributors).containsExactly("a", "b");
            assertThat(meta.get(0).totalWeight).isEqualTo(4.0);
            List<org.metisfl.flink.model.Directive> sent = sent(h);
            assertThat(sent).hasSize(1);
            assertThat(sent.get(0).modelVersion()).isEqualTo(1);
            assertDecryptsTo(sent.get(0).values(), 4.0, (1 * 1 + 2 * 3) / 4.0);
            v1 = sent.get(0).values().ciphertext();
            h.prepareSnapshotPreBarrier(1);
            checkpoint = h.snapshot(1, 4);
            h.processElement(roundOpened(2, 2), 5);
            h.processElement(update("a", 2, 5f, 1), 6);
            h.processElement(update("b", 2, 7f, 3), 7);
            assertThat(sent(h)).hasSize(1); // version 2 reached the gateways; then the failure
        }
        try (var h = modelPathHarness()) {
            h.initializeState(checkpoint);
            h.open();
            h.processElement(GatewayEvent.announce(0, "127.0.0.1", 1, "s"), 8);
            List<org.metisfl.flink.model.Directive> again = sent(h);
            assertThat(again)
                    .extracting(org.metisfl.flink.model.Directive::kind)
                    .containsExactly(
                            org.metisfl.flink.model.Directive.Kind.ANNOUNCE,
                            org.metisfl.flink.model.Directive.Kind.MODEL_SHARD);
            assertThat(again.get(1).modelVersion()).isEqualTo(1);
            assertThat(again.get(1).values().ciphertext()).isEqualTo(v1);
            // The learners resend round 2 (never acknowledged), in another order: the
            // failure-free version 2.
            h.processElement(roundOpened(2, 2), 9);
            h.processElement(update("b", 2, 7f, 3), 10);
            h.processElement(update("a", 2, 5f, 1), 11);
            List<org.metisfl.flink.model.Directive> v2 = sent(h);
            assertThat(v2).hasSize(1);
            assertThat(v2.get(0).modelVersion()).isEqualTo(2);
            assertDecryptsTo(v2.get(0).values(), 4.0, (5 * 1 + 7 * 3) / 4.0);
            assertThat(HarnessOutput.shards(h))
                    .singleElement()
                    .satisfies(
                            g -> {
                                assertThat(g.direct).isTrue();
                                assertThat(g.values).isNull();
                            });
        }
    }

    /** Decrypts a global shard as a learner does (Σw·x / Σw) and compares every value. */
    private static void assertDecryptsTo(Payload shard, double weightSum, double mean) {
        assertThat(shard.kind()).isEqualTo(Payload.Kind.CIPHERTEXT);
        ShardCiphertexts sc = ShardCiphertexts.decode(shard.ciphertext());
        assertThat(sc.weightSum()).isEqualTo(weightSum);
        List<Ciphertext> cts = new ArrayList<>();
        sc.ciphertexts().forEach(b -> cts.add(HE.deserializeCiphertext(b)));
        double[] sum = HE.decrypt(KEY.secretKey(), cts);
        assertThat(sum).hasSize(LENGTH);
        for (double v : sum) {
            assertThat(Math.abs(v / sc.weightSum() - mean)).isLessThan(1e-6);
        }
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            modelPathHarness() throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(
                                        Rules.of(
                                                RuleOptions.of(
                                                        FederationConfig.of(
                                                                Map.of(
                                                                        "secure-aggregation",
                                                                        "ckks")))),
                                        true)),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend());
        return h;
    }

    private static List<org.metisfl.flink.model.Directive> sent(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h) {
        var queue = h.getSideOutput(ShardAggregator.MODEL_SHARDS);
        List<org.metisfl.flink.model.Directive> out = new ArrayList<>();
        if (queue != null) {
            for (var r : queue) {
                out.add(r.getValue());
            }
            queue.clear();
        }
        return out;
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(String backend) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(
                                        FederationConfig.of(Map.of("secure-aggregation", "ckks")))),
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
        return roundOpened(1, participants);
    }

    private static GatewayEvent roundOpened(long round, int participants) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ROUND_OPENED);
        e.round = round;
        e.numShards = 1;
        e.participantCount = participants;
        e.quorum = participants;
        e.deadline = Long.MAX_VALUE - 1;
        return e;
    }

    private static GatewayEvent update(String learner, float value, double weight) {
        return update(learner, 1, value, weight);
    }

    private static GatewayEvent update(String learner, long round, float value, double weight) {
        float[] v = new float[LENGTH];
        java.util.Arrays.fill(v, value);
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : HE.encrypt(KEY.secretKey(), v)) {
            cts.add(HE.serialize(c));
        }
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = learner;
        e.round = round;
        e.numShards = 1;
        e.weight = weight;
        e.values =
                Payload.ciphertext(
                        HE.backendId(),
                        HexFormat.of().formatHex(HE.parameterHash()),
                        LENGTH,
                        ShardCiphertexts.update(cts).encode());
        return e;
    }
}
