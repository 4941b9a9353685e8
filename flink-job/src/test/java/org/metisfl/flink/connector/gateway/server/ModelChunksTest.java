package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.ModelCodec;

class ModelChunksTest {

    private static float[] values(int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = i * 0.25f - 3;
        }
        return v;
    }

    /** The bytes of {@code v} cut at the given byte offsets (anywhere, even inside a value). */
    private static List<ByteString> cutAt(float[] v, int... cuts) {
        ByteString all = ModelCodec.toBytes(v);
        List<ByteString> out = new ArrayList<>();
        int from = 0;
        for (int cut : cuts) {
            out.add(all.substring(from, cut));
            from = cut;
        }
        out.add(all.substring(from));
        return out;
    }

    @Test
    void keepsTheReceivedChunksAndServesThemAsTheyAre() {
        List<ByteString> received = cutAt(values(10), 16, 32);
        ModelChunks m = ModelChunks.of(received, 64);
        assertThat(m.totalBytes()).isEqualTo(40);
        assertThat(m.chunks()).hasSize(3);
        for (int i = 0; i < 3; i++) {
            assertThat(m.chunks().get(i)).isSameAs(received.get(i));
        }
    }

    @Test
    void cutsChunksLargerThanTheServingSizeWithoutChangingTheBytes() {
        float[] v = values(25);
        ModelChunks m = ModelChunks.of(cutAt(v, 60), 16);
        assertThat(m.chunks())
                .extracting(ByteString::size)
                .containsExactly(16, 16, 16, 12, 16, 16, 8);
        assertThat(ByteString.copyFrom(m.chunks())).isEqualTo(ModelCodec.toBytes(v));
        assertThat(m.totalBytes()).isEqualTo(100);
    }

    @Test
    void decodesShardsAcrossChunkBoundariesEvenInsideAValue() {
        float[] v = values(23);
        ModelChunks m = ModelChunks.of(cutAt(v, 3, 5, 6, 41, 42, 80), 1 << 20);
        List<float[]> shards = m.slices(10);
        assertThat(shards).hasSize(3);
        assertThat(shards.get(0)).containsExactly(java.util.Arrays.copyOfRange(v, 0, 10));
        assertThat(shards.get(1)).containsExactly(java.util.Arrays.copyOfRange(v, 10, 20));
        assertThat(shards.get(2)).containsExactly(java.util.Arrays.copyOfRange(v, 20, 23));
    }

    @Test
    void anEmptyModelHasNoChunksAndNoShards() {
        ModelChunks m = ModelChunks.of(List.of(), 16);
        assertThat(m.chunks()).isEmpty();
        assertThat(m.totalBytes()).isZero();
        assertThat(m.slices(4)).isEmpty();
    }
}
