package org.metisfl.flink.security;

import com.google.protobuf.CodedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Mutations of serialized protobuf messages for the fuzz test: bit flips, truncation, a field
 * repeated, a length prefix made huge, random bytes inserted, or bytes made up from nothing. Driven
 * by the caller's {@link Random}, so a seed replays the same cases.
 */
final class Mutator {
    private final Random random;

    Mutator(Random random) {
        this.random = random;
    }

    /** One mutation of {@code valid}, chosen at random (sometimes none: valid bytes too). */
    byte[] mutate(byte[] valid) {
        return switch (random.nextInt(8)) {
            case 0 -> flipBits(valid);
            case 1 -> truncate(valid);
            case 2 -> duplicateField(valid);
            case 3 -> hugeLength(valid);
            case 4 -> insertRandom(valid);
            case 5 -> randomBytes(random.nextInt(512));
            case 6 -> flipBits(duplicateField(valid));
            default -> valid.clone();
        };
    }

    byte[] flipBits(byte[] b) {
        byte[] m = b.clone();
        if (m.length == 0) {
            return m;
        }
        int flips = 1 + random.nextInt(4);
        for (int i = 0; i < flips; i++) {
            int pos = random.nextInt(m.length);
            m[pos] ^= (byte) (1 << random.nextInt(8));
        }
        return m;
    }

    byte[] truncate(byte[] b) {
        return b.length == 0 ? b : Arrays.copyOf(b, random.nextInt(b.length));
    }

    byte[] insertRandom(byte[] b) {
        int at = b.length == 0 ? 0 : random.nextInt(b.length + 1);
        byte[] extra = randomBytes(1 + random.nextInt(16));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b, 0, at);
        out.writeBytes(extra);
        out.write(b, at, b.length - at);
        return out.toByteArray();
    }

    byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /** The top-level fields of a message: {start, end (exclusive), wire type, length start}. */
    private static List<int[]> fields(byte[] b) {
        List<int[]> fields = new ArrayList<>();
        CodedInputStream in = CodedInputStream.newInstance(b);
        try {
            while (!in.isAtEnd()) {
                int start = in.getTotalBytesRead();
                int tag = in.readTag();
                int lengthAt = in.getTotalBytesRead();
                if (!in.skipField(tag)) {
                    break;
                }
                fields.add(new int[] {start, in.getTotalBytesRead(), tag & 7, lengthAt});
            }
        } catch (IOException malformed) {
            // mutations of mutations: keep the fields found so far
        }
        return fields;
    }

    /** One field written twice (a repeated scalar, a merged sub-message, a last-one-wins). */
    byte[] duplicateField(byte[] b) {
        List<int[]> fields = fields(b);
        if (fields.isEmpty()) {
            return b.clone();
        }
        int[] f = fields.get(random.nextInt(fields.size()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b, 0, f[1]);
        int copies = 1 + random.nextInt(random.nextBoolean() ? 3 : 200);
        for (int i = 0; i < copies; i++) {
            out.write(b, f[0], f[1] - f[0]);
        }
        out.write(b, f[1], b.length - f[1]);
        return out.toByteArray();
    }

    /** A length-delimited field whose length prefix claims far more bytes than follow. */
    byte[] hugeLength(byte[] b) {
        List<int[]> delimited = new ArrayList<>();
        for (int[] f : fields(b)) {
            if (f[2] == 2) {
                delimited.add(f);
            }
        }
        if (delimited.isEmpty()) {
            return b.clone();
        }
        int[] f = delimited.get(random.nextInt(delimited.size()));
        CodedInputStream in = CodedInputStream.newInstance(b, f[3], f[1] - f[3]);
        int lengthBytes;
        try {
            in.readRawVarint32();
            lengthBytes = in.getTotalBytesRead();
        } catch (IOException e) {
            return b.clone();
        }
        long[] huge = {Integer.MAX_VALUE, 1L << 31, (1L << 62) + 7, 0xFFFF_FFFFL, 64L << 20};
        long claim = huge[random.nextInt(huge.length)];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b, 0, f[3]);
        long v = claim;
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
        out.write(b, f[3] + lengthBytes, b.length - f[3] - lengthBytes);
        return out.toByteArray();
    }
}
