package org.metisfl.flink.model;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Threshold mode: a list of byte strings (a member's partial shards, one per aggregate shard) as
 * one byte array for a {@link GatewayEvent#partial()} or a state value: a count, then each entry's
 * length and bytes (big-endian ints).
 */
public final class ThresholdRecords {
    private ThresholdRecords() {}

    public static byte[] pack(List<byte[]> parts) {
        long size = 4;
        for (byte[] p : parts) {
            size += 4 + p.length;
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too large to pack: " + size + " bytes");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size);
        b.putInt(parts.size());
        for (byte[] p : parts) {
            b.putInt(p.length).put(p);
        }
        return b.array();
    }

    /**
     * @throws IllegalArgumentException for bytes that are no packed list
     */
    public static List<byte[]> unpack(byte[] packed) {
        try {
            ByteBuffer b = ByteBuffer.wrap(packed);
            int n = b.getInt();
            if (n < 0 || n > packed.length / 4) {
                throw new IllegalArgumentException("bad count " + n);
            }
            List<byte[]> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[] p = new byte[b.getInt()];
                b.get(p);
                out.add(p);
            }
            if (b.hasRemaining()) {
                throw new IllegalArgumentException(b.remaining() + " trailing bytes");
            }
            return out;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a packed list of byte strings: " + e, e);
        }
    }
}
