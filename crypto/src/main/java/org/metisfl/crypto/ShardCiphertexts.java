package org.metisfl.crypto;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The ciphertexts of one model shard as one byte string, what a ciphertext payload carries between
 * learners and the controller: a learner's encrypted update (weight sum 0), or the controller's
 * encrypted weighted sum of a round with the plaintext sum of the weights Σw (learners decrypt and
 * divide by it). No key is involved; each ciphertext keeps its own {@link HeEnvelope}.
 *
 * <pre>
 * magic "MFCS" | version u8 (1) | weight sum f64 | count i32 | count × (length i32 | ciphertext bytes)
 * </pre>
 *
 * (big-endian). {@link #decode} refuses anything else with a {@link MalformedCiphertextException}.
 */
public record ShardCiphertexts(double weightSum, List<byte[]> ciphertexts) {

    public static final int MAGIC = 0x4D464353; // "MFCS"
    public static final int VERSION = 1;

    /** The most ciphertexts a shard may carry (a 2 GiB message holds fewer). */
    public static final int MAX_COUNT = 1 << 16;

    public ShardCiphertexts {
        if (!(weightSum >= 0) || Double.isInfinite(weightSum)) {
            throw new IllegalArgumentException("weight sum must be finite and >= 0: " + weightSum);
        }
        ciphertexts = Collections.unmodifiableList(new ArrayList<>(ciphertexts));
    }

    /** A learner's update: its ciphertexts, no weight sum. */
    public static ShardCiphertexts update(List<byte[]> ciphertexts) {
        return new ShardCiphertexts(0, ciphertexts);
    }

    public int count() {
        return ciphertexts.size();
    }

    public byte[] encode() {
        long size = 4 + 1 + 8 + 4;
        for (byte[] c : ciphertexts) {
            size += 4 + c.length;
        }
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a shard's ciphertexts exceed 2 GiB: " + size);
        }
        ByteBuffer out = ByteBuffer.allocate((int) size).order(ByteOrder.BIG_ENDIAN);
        out.putInt(MAGIC).put((byte) VERSION).putDouble(weightSum).putInt(ciphertexts.size());
        for (byte[] c : ciphertexts) {
            out.putInt(c.length).put(c);
        }
        return out.array();
    }

    /**
     * Reads {@link #encode()}'s bytes; the ciphertexts themselves are checked only when a context
     * deserializes them.
     *
     * @throws MalformedCiphertextException for anything else (wrong magic or version, truncated,
     *     trailing bytes, a negative or too large count or length, a negative weight sum)
     */
    public static ShardCiphertexts decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        try {
            int magic = in.getInt();
            if (magic != MAGIC) {
                throw new MalformedCiphertextException(
                        "not a shard of MetisFL ciphertexts: magic " + Integer.toHexString(magic));
            }
            int version = in.get() & 0xff;
            if (version != VERSION) {
                throw new MalformedCiphertextException(
                        "unsupported shard ciphertext format version "
                                + version
                                + " (this build reads "
                                + VERSION
                                + ")");
            }
            double weightSum = in.getDouble();
            if (!(weightSum >= 0) || Double.isInfinite(weightSum)) {
                throw new MalformedCiphertextException("impossible weight sum " + weightSum);
            }
            int count = in.getInt();
            if (count < 0 || count > MAX_COUNT) {
                throw new MalformedCiphertextException("impossible ciphertext count " + count);
            }
            List<byte[]> cts = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int len = in.getInt();
                if (len < 0 || len > in.remaining()) {
                    throw new MalformedCiphertextException(
                            "ciphertext "
                                    + i
                                    + " claims "
                                    + len
                                    + " bytes, "
                                    + in.remaining()
                                    + " left");
                }
                byte[] c = new byte[len];
                in.get(c);
                cts.add(c);
            }
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException(
                        in.remaining() + " trailing bytes after " + count + " ciphertexts");
            }
            return new ShardCiphertexts(weightSum, cts);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated shard of ciphertexts");
        }
    }
}
