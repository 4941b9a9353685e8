package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ShardDecoderTest {
    private static final int SHARD = 1024;

    private static float[] values(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 7;
        }
        return v;
    }

    private static byte[] bytes(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b.array();
    }

    /** Feeds {@code bytes} in chunks of {@code chunkBytes} (the last may be shorter). */
    private static void feed(ShardDecoder d, byte[] bytes, int chunkBytes) {
        for (int off = 0; off < bytes.length; off += chunkBytes) {
            d.append(ByteBuffer.wrap(bytes, off, Math.min(chunkBytes, bytes.length - off)));
        }
    }

    private static void assertShardsHold(float[][] shards, float[] values, int shardSize) {
        assertThat(shards.length).isEqualTo(TensorSpecInfo.numShards(values.length, shardSize));
        for (int s = 0; s < shards.length; s++) {
            int from = s * shardSize;
            assertThat(shards[s])
                    .as("shard %d", s)
                    .containsExactly(
                            Arrays.copyOfRange(
                                    values, from, Math.min(values.length, from + shardSize)));
        }
    }

    @ParameterizedTest(name = "{0}-byte chunks")
    @ValueSource(ints = {1, 2, 3, 4, 5, 7, 4095, 4096, 4097, 16_387, 65_539, 1 << 20})
    void chunksOfAnySizeDecodeIntoTheSameShards(int chunkBytes) {
        float[] v = values(3 * SHARD + 300); // the last shard is short
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        feed(d, bytes(v), chunkBytes);
        assertThat(d.isComplete()).isTrue();
        assertThat(d.nonFiniteIndex()).isEqualTo(-1);
        assertShardsHold(d.shards(), v, SHARD);
        assertThat(d.shards()[3]).hasSize(300);
    }

    @Test
    void exactMultipleOfTheShardSizeInOneChunk() {
        float[] v = values(4 * SHARD);
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        d.append(ByteBuffer.wrap(bytes(v)));
        assertShardsHold(d.shards(), v, SHARD);
        assertThat(d.shards()).hasDimensions(4, SHARD);
    }

    @Test
    void chunkEndingExactlyOnAShardBoundaryAndOneStraddlingTwo() {
        float[] v = values(3 * SHARD);
        byte[] b = bytes(v);
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        d.append(ByteBuffer.wrap(b, 0, SHARD * 4)); // exactly shard 0
        d.append(ByteBuffer.wrap(b, SHARD * 4, SHARD * 4 + 10)); // shard 1, 2.5 floats of 2
        d.append(ByteBuffer.wrap(b, 2 * SHARD * 4 + 10, b.length - 2 * SHARD * 4 - 10));
        assertShardsHold(d.shards(), v, SHARD);
    }

    @Test
    void floatSplitAcrossChunksAtAShardBoundary() {
        float[] v = values(2 * SHARD);
        byte[] b = bytes(v);
        int cut = SHARD * 4 - 1; // 3 bytes of the shard's last float, then 1
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        d.append(ByteBuffer.wrap(b, 0, cut));
        d.append(ByteBuffer.wrap(b, cut, 1));
        d.append(ByteBuffer.wrap(b, cut + 1, b.length - cut - 1));
        assertShardsHold(d.shards(), v, SHARD);
    }

    @Test
    void oneShardWhenTheShardSizeCoversTheModel() {
        float[] v = values(5000);
        ShardDecoder d = new ShardDecoder(v.length, v.length);
        feed(d, bytes(v), 333);
        assertThat(d.shards().length).isEqualTo(1);
        assertThat(d.shards()[0]).containsExactly(v);
    }

    @Test
    void emptyModelIsOneEmptyShard() {
        ShardDecoder d = new ShardDecoder(0, SHARD);
        assertThat(d.isComplete()).isTrue();
        assertThat(d.shards()).hasDimensions(1, 0);
    }

    @Test
    void readsFromTheChunksPositionWithoutMovingItAndFromDirectBuffers() {
        float[] v = values(SHARD + 1);
        byte[] b = bytes(v);
        ByteBuffer direct = ByteBuffer.allocateDirect(b.length + 3);
        direct.position(3);
        direct.put(b);
        direct.position(3);
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        d.append(direct.asReadOnlyBuffer());
        assertThat(direct.position()).isEqualTo(3);
        assertShardsHold(d.shards(), v, SHARD);
    }

    @Test
    void tooManyBytesAreRefusedBeforeAnyIsTaken() {
        float[] v = values(10);
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        d.append(ByteBuffer.wrap(bytes(v), 0, 38));
        assertThat(d.remainingBytes()).isEqualTo(2);
        assertThatThrownBy(() -> d.append(ByteBuffer.wrap(new byte[3])))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(d.receivedBytes()).isEqualTo(38);
    }

    @Test
    void tooFewBytesLeaveItIncomplete() {
        float[] v = values(2 * SHARD);
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        feed(d, Arrays.copyOf(bytes(v), v.length * 4 - 1), 4096);
        assertThat(d.isComplete()).isFalse();
        assertThat(d.receivedBytes()).isEqualTo(v.length * 4L - 1);
        assertThat(d.totalBytes()).isEqualTo(v.length * 4L);
        assertThatThrownBy(d::shards).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest(name = "{0}-byte chunks")
    @ValueSource(ints = {3, 4, 4097, 1 << 20})
    void firstNonFiniteValueIsLocatedAndLaterBytesAreStillCounted(int chunkBytes) {
        float[] v = values(3 * SHARD + 5);
        v[SHARD + 17] = Float.POSITIVE_INFINITY;
        v[2 * SHARD + 1] = Float.NaN;
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        feed(d, bytes(v), chunkBytes);
        assertThat(d.nonFiniteIndex()).isEqualTo(SHARD + 17);
        assertThat(d.nonFiniteValue()).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(d.isComplete()).isTrue();
        assertThatThrownBy(d::shards).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void nonFiniteFloatSplitAcrossChunks() {
        float[] v = values(10);
        v[6] = Float.NaN;
        byte[] b = bytes(v);
        ShardDecoder d = new ShardDecoder(v.length, 4);
        d.append(ByteBuffer.wrap(b, 0, 26));
        assertThat(d.nonFiniteIndex()).isEqualTo(-1);
        d.append(ByteBuffer.wrap(b, 26, b.length - 26));
        assertThat(d.nonFiniteIndex()).isEqualTo(6);
        assertThat(d.nonFiniteValue()).isNaN();
    }

    @Test
    void lastValueNonFinite() {
        float[] v = values(SHARD + 3);
        v[v.length - 1] = Float.NEGATIVE_INFINITY;
        ShardDecoder d = new ShardDecoder(v.length, SHARD);
        feed(d, bytes(v), 1);
        assertThat(d.nonFiniteIndex()).isEqualTo(v.length - 1);
        assertThat(d.nonFiniteValue()).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void finitenessCheckKnowsEveryKindOfFloat() {
        float[] finite = {
            0f,
            -0f,
            Float.MIN_VALUE,
            -Float.MIN_VALUE,
            Float.MIN_NORMAL,
            Float.MAX_VALUE,
            -Float.MAX_VALUE,
            1f,
            -1f
        };
        assertThat(ShardDecoder.allFinite(finite, 0, finite.length)).isTrue();
        float[] notFinite = {
            Float.NaN,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            Float.intBitsToFloat(0xffc0_0001), // a negative NaN with a payload
            Float.intBitsToFloat(0x7f80_0001) // a signalling NaN
        };
        for (float f : notFinite) {
            float[] a = {1f, f, 2f};
            assertThat(ShardDecoder.allFinite(a, 0, 3)).as("%s", f).isFalse();
            assertThat(ShardDecoder.allFinite(a, 2, 1)).isTrue();
        }
    }

    @Test
    void refusesImpossibleSizes() {
        assertThatThrownBy(() -> new ShardDecoder(-1, SHARD))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ShardDecoder(10, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ShardDecoder(Integer.MAX_VALUE, SHARD))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
