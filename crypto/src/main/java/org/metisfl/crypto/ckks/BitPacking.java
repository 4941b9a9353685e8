package org.metisfl.crypto.ckks;

import java.nio.ByteBuffer;
import org.metisfl.crypto.MalformedCiphertextException;

/** Residues packed at the bit width of their prime (little-endian bit order), for the wire. */
final class BitPacking {

    private BitPacking() {}

    static int packedBytes(int count, int bits) {
        return (int) (((long) count * bits + 7) / 8);
    }

    static void pack(long[] src, int off, int count, int bits, ByteBuffer out) {
        long acc = 0;
        int filled = 0;
        for (int i = off, end = off + count; i < end; i++) {
            long v = src[i];
            acc |= v << filled;
            filled += bits;
            if (filled >= 64) {
                out.putLong(Long.reverseBytes(acc));
                filled -= 64;
                int used = bits - filled; // bits of v already written
                acc = filled == 0 ? 0 : v >>> used;
            }
        }
        for (int b = 0; b < filled; b += 8) {
            out.put((byte) (acc >>> b));
        }
    }

    /** Unpacks and checks each value is below {@code q}. */
    static void unpack(ByteBuffer whole, long[] dst, int off, int count, int bits, long q) {
        int len = packedBytes(count, bits);
        if (whole.remaining() < len) {
            throw new MalformedCiphertextException(
                    "truncated ciphertext body: "
                            + whole.remaining()
                            + " bytes left, "
                            + len
                            + " needed");
        }
        ByteBuffer in = whole.slice(whole.position(), len);
        whole.position(whole.position() + len);
        long mask = (1L << bits) - 1;
        long acc = 0;
        int avail = 0;
        for (int i = off, end = off + count; i < end; i++) {
            long v;
            if (avail >= bits) {
                v = acc & mask;
                acc >>>= bits;
                avail -= bits;
            } else {
                long next;
                int got;
                if (in.remaining() >= 8) {
                    next = Long.reverseBytes(in.getLong());
                    got = 64;
                } else {
                    next = 0;
                    got = 0;
                    while (in.hasRemaining() && got < 64) {
                        next |= (in.get() & 0xffL) << got;
                        got += 8;
                    }
                    if (got + avail < bits) {
                        throw new MalformedCiphertextException("truncated ciphertext body");
                    }
                }
                v = (acc | (next << avail)) & mask;
                int fromNext = bits - avail;
                acc = fromNext == 64 ? 0 : next >>> fromNext;
                avail = got - fromNext;
            }
            if (v >= q) {
                throw new MalformedCiphertextException(
                        "corrupt ciphertext: residue " + v + " is not below its prime " + q);
            }
            dst[i] = v;
        }
    }
}
