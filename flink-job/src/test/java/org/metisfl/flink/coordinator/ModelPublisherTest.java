package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;

class ModelPublisherTest {
    private final List<Directive> sent = new ArrayList<>();
    private final CoordinatorOutput out =
            new CoordinatorOutput() {
                @Override
                public void directive(Directive d) {
                    sent.add(d);
                }

                @Override
                public void result(RoundResult r) {}

                @Override
                public void timerAt(long t) {}
            };

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return v;
    }

    @Test
    void theInitialModelIsCutIntoShardsOfTheConfiguredSize() {
        ModelPublisher publisher = new ModelPublisher(StateMap.onHeap(), 1024);
        FederationProgress p = new FederationProgress();
        publisher.install(p, List.of(new TensorSpecInfo("w", new long[] {2500})), ramp(2500));
        assertThat(p.modelVersion).isZero();
        assertThat(p.numShards).isEqualTo(3);
        assertThat(publisher.shard(0).values()).hasSize(1024);
        assertThat(publisher.shard(2).values()).hasSize(2500 - 2048);
        assertThat(publisher.shard(2).values()[0]).isEqualTo(2048f);
    }

    @Test
    void aPublishSendsTheModelInSlicesThenOneHeaderWithThePlan() {
        int shardSize = Directive.MAX_SHARD_VALUES + 10;
        int total = 2 * shardSize;
        ModelPublisher publisher = new ModelPublisher(StateMap.onHeap(), shardSize);
        FederationProgress p = new FederationProgress();
        publisher.install(p, List.of(new TensorSpecInfo("w", new long[] {total})), ramp(total));
        p.round = 4;
        p.participants = List.of("a", "b");
        p.localSteps = Map.of("a", 7L, "z", 9L);
        p.quorum = 1;
        p.deadline = 99;
        p.phase = Phase.TRAINING;
        publisher.publish(p, true, out);

        assertThat(sent).hasSize(5);
        float[] assembled = new float[total];
        for (Directive d : sent.subList(0, 4)) {
            assertThat(d.kind).isEqualTo(Directive.Kind.MODEL_SHARD);
            assertThat(d.values.size()).isLessThanOrEqualTo(Directive.MAX_SHARD_VALUES);
            System.arraycopy(d.values.values(), 0, assembled, d.offset, d.values.size());
        }
        assertThat(java.util.Arrays.equals(assembled, ramp(total))).isTrue();
        Directive header = sent.get(4);
        assertThat(header.kind).isEqualTo(Directive.Kind.PUBLISH);
        assertThat(header.modelValues).isEqualTo(total);
        assertThat(header.shardSize).isEqualTo(shardSize);
        assertThat(header.planRound).isEqualTo(4);
        assertThat(header.localSteps).as("participants only").isEqualTo(Map.of("a", 7L));
        assertThat(header.finished).isFalse();
    }

    @Test
    void withoutAModelOnlyTheHeaderGoes() {
        ModelPublisher publisher = new ModelPublisher(StateMap.onHeap(), 1024);
        FederationProgress p = new FederationProgress();
        p.phase = Phase.FINISHED;
        p.finishReason = "done";
        publisher.publish(p, false, out);
        assertThat(sent).hasSize(1);
        assertThat(sent.get(0).modelValues).isZero();
        assertThat(sent.get(0).planRound).isZero();
        assertThat(sent.get(0).finished).isTrue();
        assertThat(sent.get(0).finishReason).isEqualTo("done");
    }

    @Test
    void anEncryptedInitialModelIsRegroupedIntoShardsOfWholeCiphertextsWithWeightSumOne() {
        // 8 values per ciphertext, shards of 16: 40 values are 5 ciphertexts in 3 shards.
        ModelPublisher publisher = new ModelPublisher(StateMap.onHeap(), 16);
        FederationProgress p = new FederationProgress();
        List<byte[]> cts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            cts.add(new byte[] {(byte) i, 7});
        }
        Payload all = Payload.ciphertext("he", "ab", 40, ShardCiphertexts.update(cts).encode());

        publisher.install(p, List.of(new TensorSpecInfo("w", new long[] {40})), all, 8);

        assertThat(p.numShards).isEqualTo(3);
        assertThat(p.modelVersion).isZero();
        int[] values = {16, 16, 8};
        int[][] members = {{0, 1}, {2, 3}, {4}};
        for (int s = 0; s < 3; s++) {
            Payload shard = publisher.shard(s);
            assertThat(shard.size()).isEqualTo(values[s]);
            assertThat(shard.scheme()).isEqualTo("he");
            ShardCiphertexts sc = ShardCiphertexts.decode(shard.ciphertext());
            assertThat(sc.weightSum()).isEqualTo(1.0);
            assertThat(sc.ciphertexts()).hasSize(members[s].length);
            for (int k = 0; k < members[s].length; k++) {
                assertThat(sc.ciphertexts().get(k)).containsExactly((byte) members[s][k], 7);
            }
        }
        publisher.publish(p, false, out);
        assertThat(sent.get(sent.size() - 1).modelValues).isEqualTo(40);
    }

    @Test
    void anEncryptedInitialModelWithTheWrongCiphertextCountIsRefused() {
        ModelPublisher publisher = new ModelPublisher(StateMap.onHeap(), 16);
        Payload all =
                Payload.ciphertext(
                        "he",
                        "ab",
                        40,
                        ShardCiphertexts.update(List.of(new byte[1], new byte[1])).encode());
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () ->
                                publisher.install(
                                        new FederationProgress(),
                                        List.of(new TensorSpecInfo("w", new long[] {40})),
                                        all,
                                        8))
                .hasMessageContaining("2 ciphertexts cannot hold 40 values");
    }
}
