package org.metisfl.simulator;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.metisfl.proto.v1.UpdateChunk;

/**
 * A few distinct synthetic updates, encoded once and shared by every learner as ready-made gRPC
 * messages, so thousands of learners cost a few model copies, not one each.
 */
final class SyntheticUpdates {
    private static final int BLOCK = 1 << 16;

    private final List<List<UpdateChunk>> variants;
    private final int[] crcs;
    private final long bytesPerUpdate;

    SyntheticUpdates(long seed, int variants, long values, int chunkBytes) {
        this.bytesPerUpdate = values * Float.BYTES;
        List<List<UpdateChunk>> all = new ArrayList<>(variants);
        this.crcs = new int[variants];
        for (int v = 0; v < variants; v++) {
            ByteString data = encode(seed, v, values);
            CRC32C crc = new CRC32C();
            for (ByteBuffer part : data.asReadOnlyByteBufferList()) {
                crc.update(part);
            }
            crcs[v] = (int) crc.getValue();
            List<UpdateChunk> chunks = new ArrayList<>();
            for (long off = 0; off < data.size(); off += chunkBytes) {
                int end = (int) Math.min(data.size(), off + chunkBytes);
                chunks.add(
                        UpdateChunk.newBuilder()
                                .setData(data.substring((int) off, end))
                                .setOffset(off)
                                .build());
            }
            all.add(List.copyOf(chunks));
        }
        this.variants = List.copyOf(all);
    }

    List<UpdateChunk> chunksFor(int learnerIndex) {
        return variants.get(learnerIndex % variants.size());
    }

    /** The CRC-32C of the bytes of {@link #chunksFor}, for the update's header. */
    int crc32cFor(int learnerIndex) {
        return crcs[learnerIndex % crcs.length];
    }

    long bytesPerUpdate() {
        return bytesPerUpdate;
    }

    /** The values of variant {@code variant}: deterministic, finite, in [-1, 1). */
    static float[] values(long seed, int variant, int count) {
        float[] out = new float[count];
        long state = mix(seed * 31 + variant);
        for (int i = 0; i < count; i++) {
            state += 0x9E3779B97F4A7C15L;
            out[i] = valueOf(state);
        }
        return out;
    }

    private static ByteString encode(long seed, int variant, long values) {
        byte[] bytes = new byte[Math.toIntExact(values * Float.BYTES)];
        FloatBuffer out = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] block = new float[BLOCK];
        long state = mix(seed * 31 + variant);
        for (long done = 0; done < values; ) {
            int n = (int) Math.min(BLOCK, values - done);
            for (int i = 0; i < n; i++) {
                state += 0x9E3779B97F4A7C15L;
                block[i] = valueOf(state);
            }
            out.put(block, 0, n);
            done += n;
        }
        // Never written again, so the ByteString may share the array.
        return UnsafeByteOperations.unsafeWrap(bytes);
    }

    private static float valueOf(long state) {
        return ((mix(state) >>> 40) / (float) (1 << 24)) * 2f - 1f;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
