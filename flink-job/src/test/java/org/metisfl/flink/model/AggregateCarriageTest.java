package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.ThresholdDirective;

class AggregateCarriageTest {
    private static ByteString random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return ByteString.copyFrom(b);
    }

    private static DirectiveHeader withAggregate(long modelBytes, ByteString... shards) {
        return DirectiveHeader.newBuilder()
                .setModelVersion(4)
                .setModelBytes(modelBytes)
                .setThreshold(
                        ThresholdDirective.newBuilder()
                                .addAllAggregate(List.of(shards))
                                .addAnsweringLearners("m1"))
                .build();
    }

    @Test
    void theAggregateTravelsAfterTheModelInBoundedChunksAndComesBackIntact() {
        ByteString s0 = random(100_000, 1), s1 = random(70_001, 2), s2 = random(5, 3);
        List<ByteString> model = List.of(random(4096, 4), random(1000, 5));
        DirectiveHeader original = withAggregate(5096, s0, s1, s2);

        AggregateCarriage.Detached d = AggregateCarriage.detach(original, 4096);
        assertThat(d.header().getThreshold().getAggregateCount()).isZero();
        assertThat(d.header().getThreshold().getAggregateBytesList())
                .containsExactly(100_000L, 70_001L, 5L);
        assertThat(d.header().getSerializedSize()).isLessThan(200);
        assertThat(d.chunks()).allSatisfy(c -> assertThat(c.size()).isLessThanOrEqualTo(4096));
        assertThat(d.bytes()).isEqualTo(170_006);
        assertThat(AggregateCarriage.announcedBytes(d.header())).isEqualTo(170_006);

        List<ByteString> wire = new ArrayList<>(model);
        wire.addAll(d.chunks());
        AggregateCarriage.Attached a = AggregateCarriage.attach(d.header(), wire);
        assertThat(a.header()).isEqualTo(original);
        assertThat(a.modelChunks()).containsExactlyElementsOf(model);
    }

    @Test
    void withoutAModelOrWithoutAnAggregateNothingElseChanges() {
        ByteString s0 = random(9_000, 6);
        DirectiveHeader onlyAggregate = withAggregate(0, s0);
        AggregateCarriage.Detached d = AggregateCarriage.detach(onlyAggregate, 4096);
        AggregateCarriage.Attached a = AggregateCarriage.attach(d.header(), d.chunks());
        assertThat(a.header()).isEqualTo(onlyAggregate);
        assertThat(a.modelChunks()).isNull();

        DirectiveHeader plain = DirectiveHeader.newBuilder().setModelBytes(3).build();
        assertThat(AggregateCarriage.detach(plain, 4096)).isNull();
        List<ByteString> model = List.of(ByteString.copyFrom(new byte[3]));
        assertThat(AggregateCarriage.attach(plain, model).modelChunks()).isEqualTo(model);
    }

    @Test
    void chunksThatDisagreeWithTheAnnouncedLengthsAreRefused() {
        AggregateCarriage.Detached d =
                AggregateCarriage.detach(withAggregate(0, random(5_000, 7)), 4096);
        List<ByteString> short1 = d.chunks().subList(0, 1);
        assertThatThrownBy(() -> AggregateCarriage.attach(d.header(), short1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("5000 bytes announced but 4096 came");
        DirectiveHeader modelMidChunk =
                d.header().toBuilder().setModelBytes(10).build(); // ends inside the first chunk
        assertThatThrownBy(() -> AggregateCarriage.attach(modelMidChunk, d.chunks()))
                .hasMessageContaining("chunk boundary");
    }
}
