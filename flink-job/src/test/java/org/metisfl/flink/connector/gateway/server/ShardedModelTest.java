package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.RoundPlan;

/** A model version assembled at a gateway from shards that arrive from several senders. */
class ShardedModelTest {

    private static List<ByteString> chunks(String... parts) {
        return java.util.Arrays.stream(parts).map(ByteString::copyFromUtf8).toList();
    }

    private static DirectiveHeader publish(long version, int shards, long planRound) {
        return DirectiveHeader.newBuilder()
                .setModelVersion(version)
                .setNumShards(shards)
                .setModelInShards(true)
                .setPlan(RoundPlan.newBuilder().setRound(planRound))
                .build();
    }

    @Test
    void aPublishWaitsForEveryShardInAnyOrderThenServesThemInShardOrder() {
        ShardedModel m = new ShardedModel();
        m.addShard(3, 2, chunks("c"), 2);
        m.publish(publish(3, 3, 4));
        assertThat(m.takeReady()).isNull();
        m.addShard(3, 0, chunks("a1", "a2"), 2);
        assertThat(m.takeReady()).isNull();
        m.addShard(3, 1, chunks("b"), 2);
        ShardedModel.Ready r = m.takeReady();
        assertThat(r).isNotNull();
        assertThat(r.publish().getPlan().getRound()).isEqualTo(4);
        assertThat(r.chunks()).containsExactlyElementsOf(chunks("a1", "a2", "b", "c"));
        assertThat(m.takeReady()).isNull(); // taken once
    }

    @Test
    void encryptedShardsGiveTheReadyPublishTheModelsEncryptionWithEachShardsBytesInShardOrder() {
        ShardedModel m = new ShardedModel();
        org.metisfl.proto.v1.Encryption base =
                org.metisfl.proto.v1.Encryption.newBuilder()
                        .setBackendId("metisfl-ckks")
                        .setParameterHash("ab")
                        .build();
        m.publish(publish(1, 3, 2));
        m.addShard(1, 2, chunks("cc"), base.toBuilder().addShardBytes(2).build(), 0);
        m.addShard(1, 0, chunks("aaaa", "a"), base.toBuilder().addShardBytes(5).build(), 0);
        assertThat(m.takeReady()).isNull();
        m.addShard(1, 1, chunks("bbb"), base.toBuilder().addShardBytes(3).build(), 0);
        ShardedModel.Ready r = m.takeReady();
        assertThat(r.chunks()).containsExactlyElementsOf(chunks("aaaa", "a", "bbb", "cc"));
        assertThat(r.publish().getEncryption().getBackendId()).isEqualTo("metisfl-ckks");
        assertThat(r.publish().getEncryption().getParameterHash()).isEqualTo("ab");
        assertThat(r.publish().getEncryption().getShardBytesList()).containsExactly(5L, 3L, 2L);
        assertThat(r.publish().getPlan().getRound()).isEqualTo(2);
    }

    @Test
    void afterTheEndOnlyTheWaitingPublishsShardsAreKept() {
        ShardedModel m = new ShardedModel();
        m.publish(publish(3, 2, 4));
        m.addShard(3, 0, chunks("a"), 2);
        m.addShard(4, 0, chunks("later"), 2); // a version made after the last, in flight
        m.end();
        assertThat(m.heldVersions()).isEqualTo(1);
        m.addShard(5, 0, chunks("later still"), 2);
        assertThat(m.heldVersions()).isEqualTo(1);
        m.addShard(3, 1, chunks("b"), 2);
        assertThat(m.takeReady().chunks()).containsExactlyElementsOf(chunks("a", "b"));
        m.addShard(6, 0, chunks("after all"), 3);
        assertThat(m.heldVersions()).isZero();
    }

    @Test
    void aLaterPublishOfTheSameVersionReplacesTheWaitingOne() {
        ShardedModel m = new ShardedModel();
        m.publish(publish(5, 1, 6));
        m.publish(
                publish(5, 1, 6).toBuilder()
                        .setPlan(RoundPlan.newBuilder().setRound(6).addDropped("x"))
                        .build());
        m.addShard(5, 0, chunks("z"), 4);
        assertThat(m.takeReady().publish().getPlan().getDroppedList()).containsExactly("x");
    }

    @Test
    void shardsOfAServedOrOlderVersionAreDropped() {
        ShardedModel m = new ShardedModel();
        m.addShard(2, 0, chunks("old"), 2); // served already
        m.publish(publish(4, 1, 5));
        m.addShard(3, 0, chunks("older"), 2); // older than the version waited for
        assertThat(m.takeReady()).isNull();
        m.addShard(4, 0, chunks("new"), 2);
        assertThat(m.takeReady().chunks()).containsExactlyElementsOf(chunks("new"));
    }
}
