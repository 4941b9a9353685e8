package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.metisfl.flink.coordinator.CoordinatorTestData.*;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ThresholdShards;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.ThresholdRecords;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.ThresholdDirective;

/**
 * Threshold mode in the round coordinator ({@link RoundCoordinator} in Flink's operator harness on
 * RocksDB, the real crypto): the committee is drawn among the learners that offered, the keying and
 * a round's decryption survive a checkpoint taken in their middle (the restored coordinator asks
 * again only the members that have not answered), and the decrypted model is the weighted mean of
 * the encrypted sum.
 */
class ThresholdPhaseTest {
    private static final long START = 1_000;
    private static final int SHARD = 8192;

    private static CoordinatorOptions threshold() {
        return options(
                "secure-aggregation", "ckks-threshold",
                "secure-aggregation.committee.size", "3",
                "aggregation.shard-size", Integer.toString(SHARD),
                "federation.rounds", "2",
                "federation.min-learners", "3",
                "federation.initial-model", "first-learner",
                "evaluation.enabled", "false",
                "round.timeout", "60 s");
    }

    private static GatewayEvent joined(String learner, boolean eligible) {
        GatewayEvent e = CoordinatorTestData.joined(learner, 1);
        e.committeeEligible = eligible;
        return e;
    }

    private static ThresholdDirective last(List<Directive> out) throws Exception {
        List<Directive> p = publishes(out);
        return ThresholdDirective.parseFrom(p.get(p.size() - 1).threshold);
    }

    @Test
    void drawsTheCommitteeAmongTheLearnersThatOffered() throws Exception {
        try (var h = harness(threshold(), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            for (String l : List.of("a", "b", "c", "d")) {
                h.processElement1(new StreamRecord<>(joined(l, !l.equals("b"))));
                h.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0.5f))));
            ThresholdDirective d = last(directives(h));
            assertThat(d.getKeying().getEpoch()).isEqualTo(1);
            assertThat(d.getKeying().getMembersList()).containsExactlyInAnyOrder("a", "c", "d");
            assertThat(d.getKeying().getCommonSeed().size()).isEqualTo(32);
            assertThat(publishes(directives(h)))
                    .as("no round before the joint key")
                    .allMatch(x -> x.planRound == 0);
        }
    }

    @Test
    void keyingAndDecryptionSurviveACheckpointAndGiveTheWeightedMean() throws Exception {
        HeContext he = HeContexts.of("metisfl-ckks", CkksParameters.THRESHOLD_PRESET);
        ThresholdShards ts = ThresholdShards.of(he);
        ThresholdHe th = ts.threshold();
        List<String> learners = List.of("a", "b", "c");
        List<KeyShare> shares = new ArrayList<>();
        OperatorSubtaskState keying;
        try (var before = harness(threshold(), "rocksdb")) {
            before.open();
            before.setProcessingTime(START);
            for (String l : learners) {
                before.processElement1(new StreamRecord<>(joined(l, true)));
                before.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            before.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0.5f))));
            ThresholdDirective d = last(directives(before));
            for (String l : learners) {
                shares.add(th.generateKeyShare(d.getKeying().getCommonSeed().toByteArray()));
            }
            before.processElement1(new StreamRecord<>(keyShare(th, "a", shares.get(0))));
            before.prepareSnapshotPreBarrier(1);
            keying = before.snapshot(1, 1);
        }
        List<PublicKeyShare> pub = new ArrayList<>();
        for (KeyShare k : shares) {
            pub.add(k.publicShare());
        }
        PublicKey joint = th.combineKeyShares(pub).jointKey();
        float[] x1 = ramp(2048, 1);
        float[] x2 = ramp(2048, -3);
        OperatorSubtaskState decrypting;
        byte[] aggregate;
        try (var after = harness(threshold(), "rocksdb")) {
            after.initializeState(keying);
            after.open();
            after.setProcessingTime(START + 100);
            after.processElement1(new StreamRecord<>(announce()));
            ThresholdDirective d = last(directives(after));
            assertThat(d.getSharesInList()).as("restored: a's share is in").containsExactly("a");
            after.getOutput().clear();
            after.processElement1(new StreamRecord<>(keyShare(th, "b", shares.get(1))));
            after.processElement1(new StreamRecord<>(keyShare(th, "c", shares.get(2))));
            List<Directive> out = directives(after);
            Directive plan = publishes(out).get(publishes(out).size() - 1);
            assertThat(plan.planRound).isEqualTo(1);
            d = ThresholdDirective.parseFrom(plan.threshold);
            assertThat(d.getCommittee().getKeyId())
                    .isEqualTo(HexFormat.of().formatHex(joint.keyId()));

            // the round's encrypted sum 2·x1 + 3·x2, as the secure sum makes it
            Ciphertext sum =
                    he.add(
                            he.multiply(he.encrypt(joint, x1, 0, x1.length), 2),
                            he.multiply(he.encrypt(joint, x2, 0, x2.length), 3));
            aggregate = new ShardCiphertexts(5.0, List.of(he.serialize(sum))).encode();
            GlobalShard g = new GlobalShard();
            g.round = 1;
            g.shard = 0;
            g.numShards = 1;
            g.values = Payload.ciphertext(he.backendId(), hex(he.parameterHash()), 2048, aggregate);
            g.contributors = List.of("a", "b");
            g.totalWeight = 5;
            after.getOutput().clear();
            after.processElement2(new StreamRecord<>(g));
            d = last(directives(after));
            assertThat(d.getDecrypt().getRound()).isEqualTo(1);
            assertThat(d.getAnsweringLearnersList()).containsExactlyInAnyOrder("a", "b", "c");
            assertThat(d.getAggregate(0).toByteArray()).isEqualTo(aggregate);
            after.processElement1(new StreamRecord<>(partial(ts, "b", shares.get(1), aggregate)));
            after.prepareSnapshotPreBarrier(2);
            decrypting = after.snapshot(2, 2);
        }
        try (var again = harness(threshold(), "rocksdb")) {
            again.initializeState(decrypting);
            again.open();
            again.setProcessingTime(START + 200);
            again.processElement1(new StreamRecord<>(announce()));
            ThresholdDirective d = last(directives(again));
            assertThat(d.getDecrypt().getRound()).isEqualTo(1);
            assertThat(d.getDecryptedByList()).as("b's answer survived").containsExactly("b");
            again.getOutput().clear();
            again.processElement1(new StreamRecord<>(partial(ts, "a", shares.get(0), aggregate)));
            assertThat(publishes(directives(again))).allMatch(x -> x.modelVersion == 0);
            again.processElement1(new StreamRecord<>(partial(ts, "c", shares.get(2), aggregate)));
            List<Directive> out = directives(again);
            float[] v1 = model(out, 1);
            assertThat(v1).hasSize(2048);
            for (int i = 0; i < v1.length; i++) {
                assertThat((double) v1[i]).isCloseTo((2.0 * x1[i] + 3.0 * x2[i]) / 5, within(1e-5));
            }
            Directive next = publishes(out).get(publishes(out).size() - 1);
            assertThat(next.modelVersion).isEqualTo(1);
            assertThat(next.planRound).isEqualTo(2);
            assertThat(ThresholdDirective.parseFrom(next.threshold).hasDecrypt()).isFalse();
        }
    }

    @Test
    void aTwoOfThreeDecryptionAsksTheMembersWhoseStreamIsOpenFirst() throws Exception {
        HeContext he = HeContexts.of("metisfl-ckks", CkksParameters.THRESHOLD_PRESET);
        ThresholdHe th = he.threshold().orElseThrow();
        CoordinatorOptions two =
                options(
                        "secure-aggregation", "ckks-threshold",
                        "secure-aggregation.committee.size", "3",
                        "secure-aggregation.committee.threshold", "2",
                        "aggregation.shard-size", Integer.toString(SHARD),
                        "federation.rounds", "2",
                        "federation.min-learners", "3",
                        "federation.initial-model", "first-learner",
                        "evaluation.enabled", "false",
                        "round.timeout", "60 s");
        try (var h = harness(two, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            for (String l : List.of("a", "b", "c")) {
                h.processElement1(new StreamRecord<>(joined(l, true)));
                h.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0.5f))));
            ThresholdDirective d = last(directives(h));
            List<String> members = d.getKeying().getMembersList();
            for (String l : members) {
                h.processElement1(
                        new StreamRecord<>(
                                keyShare(
                                        th,
                                        l,
                                        th.generateKeyShare(
                                                d.getKeying().getCommonSeed().toByteArray()))));
            }
            assertThat(last(directives(h)).getDeal().getThreshold()).isEqualTo(2);
            for (String l : members) {
                byte[] sealed =
                        org.metisfl.proto.v1.DealingsSubmission.newBuilder()
                                .setEpoch(1)
                                .build()
                                .toByteArray();
                h.processElement1(
                        new StreamRecord<>(
                                GatewayEvent.threshold(
                                        GatewayEvent.Kind.DEALINGS, 0, l, 1, 0, sealed)));
            }
            List<Directive> ready = publishes(directives(h));
            assertThat(ready.get(ready.size() - 1).planRound).isEqualTo(1);
            // the first drawn member's task stream closes before the round closes
            String gone = members.get(0);
            h.processElement1(new StreamRecord<>(connectivity(gone, false, 2)));
            h.getOutput().clear();
            GlobalShard g = new GlobalShard();
            g.round = 1;
            g.shard = 0;
            g.numShards = 1;
            g.values =
                    Payload.ciphertext(
                            he.backendId(),
                            hex(he.parameterHash()),
                            2048,
                            new ShardCiphertexts(
                                            1.0,
                                            List.of(
                                                    he.serialize(
                                                            he.encrypt(
                                                                    he.generateKeys().publicKey(),
                                                                    filled(2048, 1f),
                                                                    0,
                                                                    2048))))
                                    .encode());
            g.contributors = List.of("a", "b", "c");
            g.totalWeight = 3;
            h.processElement2(new StreamRecord<>(g));
            ThresholdDirective decrypt = last(directives(h));
            assertThat(decrypt.getDecrypt().getAttempt()).isEqualTo(1);
            assertThat(decrypt.getAnsweringLearnersList())
                    .hasSize(2)
                    .doesNotContain(gone)
                    .containsExactlyInAnyOrderElementsOf(members.subList(1, 3));
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    private static float[] ramp(int n, int k) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (k * Math.sin(0.01 * i) + 0.001 * i);
        }
        return v;
    }

    private static GatewayEvent keyShare(ThresholdHe th, String learner, KeyShare k) {
        byte[] bytes =
                KeyShareSubmission.newBuilder()
                        .setEpoch(1)
                        .setPublicShare(
                                com.google.protobuf.ByteString.copyFrom(
                                        th.serialize(k.publicShare())))
                        .build()
                        .toByteArray();
        return GatewayEvent.threshold(GatewayEvent.Kind.KEY_SHARE, 0, learner, 1, 0, bytes);
    }

    private static GatewayEvent partial(
            ThresholdShards ts, String learner, KeyShare k, byte[] aggregate) {
        byte[] p =
                ThresholdRecords.pack(List.of(ts.partialDecryptShard(k.secretShare(), aggregate)));
        return GatewayEvent.threshold(GatewayEvent.Kind.PARTIAL_DECRYPTION, 0, learner, 1, 1, p);
    }
}
