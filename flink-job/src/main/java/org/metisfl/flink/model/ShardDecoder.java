package org.metisfl.flink.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Decodes an upload's raw little-endian float32 bytes, chunk by chunk as they arrive, straight into
 * the float arrays of its shards, and checks that every value is finite on the way.
 *
 * <p>This is the gateway's only copy of an update: from the gRPC message to the shard arrays that
 * become the job's records. A chunk may end anywhere: in the middle of a shard, or in the middle of
 * a float (its first bytes are kept until the next chunk brings the rest). The finiteness check
 * runs on each block of values right after it is copied, while the block is in the CPU cache.
 *
 * <p>Once a value is found not finite the upload is refused, so the decoder then only counts the
 * remaining bytes (the upload's answer still depends on whether it is complete) and frees its
 * shards. Not thread-safe: one upload's messages arrive one at a time.
 */
public final class ShardDecoder {
    /** Values copied, then checked, at a time: 16 KiB, a block that stays in the L1 cache. */
    private static final int BLOCK_VALUES = 4096;

    private final long totalBytes;
    private final long totalValues;
    private final int shardSize;
    private float[][] shards;

    private long receivedBytes;
    private int shard;
    private int inShard;
    private int splitBits;
    private int splitBytes;
    private long nonFiniteIndex = -1;
    private float nonFiniteValue;

    /**
     * A decoder of {@code totalValues} float32 values, cut into shards of {@code shardSize} values
     * (the last shard may be shorter; a model of no values has one empty shard).
     */
    public ShardDecoder(long totalValues, int shardSize) {
        if (totalValues < 0 || totalValues > Integer.MAX_VALUE - 8 || shardSize < 1) {
            throw new IllegalArgumentException(
                    "cannot cut " + totalValues + " values in shards of " + shardSize);
        }
        this.totalValues = totalValues;
        this.totalBytes = totalValues * Float.BYTES;
        this.shardSize = shardSize;
        this.shards = new float[TensorSpecInfo.numShards(totalValues, shardSize)][];
    }

    public long totalBytes() {
        return totalBytes;
    }

    public long receivedBytes() {
        return receivedBytes;
    }

    public long remainingBytes() {
        return totalBytes - receivedBytes;
    }

    public boolean isComplete() {
        return receivedBytes == totalBytes;
    }

    /** Index (over all tensors) of the first value that is not finite, or -1 if none so far. */
    public long nonFiniteIndex() {
        return nonFiniteIndex;
    }

    /** The first value that is not finite (NaN or an infinity); see {@link #nonFiniteIndex()}. */
    public float nonFiniteValue() {
        return nonFiniteValue;
    }

    /**
     * Decodes the remaining bytes of {@code chunk} (its position is not moved).
     *
     * @throws IllegalArgumentException if they are more than {@link #remainingBytes()}; check
     *     before, to answer the learner
     */
    public void append(ByteBuffer chunk) {
        ByteBuffer in = chunk.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining();
        if (n > remainingBytes()) {
            throw new IllegalArgumentException(
                    n + " bytes are more than the " + remainingBytes() + " still expected");
        }
        receivedBytes += n;
        if (nonFiniteIndex >= 0) {
            return; // refused: only counting
        }
        while (splitBytes > 0 && in.hasRemaining()) {
            keepSplitByte(in.get());
            if (splitBytes == Float.BYTES) {
                float joined = Float.intBitsToFloat(splitBits);
                splitBits = 0;
                splitBytes = 0;
                copyChecked(FloatBuffer.wrap(new float[] {joined}), 1);
            }
        }
        if (nonFiniteIndex >= 0) {
            return;
        }
        int whole = in.remaining() / Float.BYTES;
        if (whole > 0) {
            copyChecked(in.asFloatBuffer(), whole);
            in.position(in.position() + whole * Float.BYTES);
        }
        while (in.hasRemaining() && nonFiniteIndex < 0) {
            keepSplitByte(in.get()); // the first bytes of a float the next chunk completes
        }
    }

    /** The shards, once every byte arrived and every value is finite. */
    public float[][] shards() {
        if (!isComplete() || nonFiniteIndex >= 0) {
            throw new IllegalStateException(
                    "the shards are incomplete: "
                            + receivedBytes
                            + " of "
                            + totalBytes
                            + " bytes, first non-finite value at "
                            + nonFiniteIndex);
        }
        for (int s = 0; s < shards.length; s++) {
            if (shards[s] == null) {
                shards[s] = new float[shardLength(s)]; // only an empty model has an empty shard
            }
        }
        return shards;
    }

    private void keepSplitByte(byte b) {
        splitBits |= (b & 0xff) << (Byte.SIZE * splitBytes);
        splitBytes++;
    }

    /**
     * Copies {@code count} values of {@code from} into the shards, block by block, checking each.
     */
    private void copyChecked(FloatBuffer from, int count) {
        while (count > 0) {
            float[] target = shards[shard];
            if (target == null) {
                target = new float[shardLength(shard)];
                shards[shard] = target;
            }
            int n = Math.min(Math.min(count, target.length - inShard), BLOCK_VALUES);
            from.get(target, inShard, n);
            if (!allFinite(target, inShard, n)) {
                markNonFinite(target, inShard, n);
                return;
            }
            count -= n;
            inShard += n;
            if (inShard == target.length) {
                shard++;
                inShard = 0;
            }
        }
    }

    private int shardLength(int s) {
        return (int) Math.min(shardSize, totalValues - (long) s * shardSize);
    }

    /**
     * True if no value of the range has an all-ones exponent (NaN, ±infinity). Branch-free: adding
     * one to the exponent field of such a value, and only of such a value, carries into the sign
     * bit; OR-ing these sums over the range keeps the sign bit if any did.
     */
    public static boolean allFinite(float[] values, int from, int count) {
        int carries = 0;
        for (int i = from, end = from + count; i < end; i++) {
            carries |= (Float.floatToRawIntBits(values[i]) & 0x7f80_0000) + 0x0080_0000;
        }
        return carries >= 0;
    }

    private void markNonFinite(float[] target, int from, int count) {
        int i = from;
        while (Float.isFinite(target[i])) {
            i++;
        }
        nonFiniteIndex = (long) shard * shardSize + i;
        nonFiniteValue = target[i];
        shards = null; // refused: free the memory now, not when the upload ends
        splitBytes = 0;
    }
}
