package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * A gateway's copy of a global model: the little-endian float32 bytes as the model sink sent them,
 * kept as the received (immutable) chunks instead of one concatenated buffer, and served to every
 * learner as they are. A chunk larger than the learners' chunk size is cut into views of itself, so
 * no byte is copied.
 */
public final class ModelChunks {
    private final List<ByteString> chunks;
    private final long totalBytes;

    private ModelChunks(List<ByteString> chunks, long totalBytes) {
        this.chunks = chunks;
        this.totalBytes = totalBytes;
    }

    /** The model of the {@code received} chunks, served in chunks of at most {@code maxBytes}. */
    public static ModelChunks of(List<ByteString> received, int maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive");
        }
        List<ByteString> chunks = new ArrayList<>(received.size());
        long total = 0;
        for (ByteString c : received) {
            if (c.size() <= maxBytes) {
                chunks.add(c);
            } else {
                for (int off = 0; off < c.size(); off += maxBytes) {
                    chunks.add(c.substring(off, Math.min(c.size(), off + maxBytes)));
                }
            }
            total += c.size();
        }
        return new ModelChunks(List.copyOf(chunks), total);
    }

    /** The chunks to send, in order, each at most the size given to {@link #of}. */
    public List<ByteString> chunks() {
        return chunks;
    }

    public long totalBytes() {
        return totalBytes;
    }

    /**
     * Decodes the values in consecutive slices of {@code sliceValues} values (the last may be
     * shorter): the model's shards, for the aggregators. Chunk boundaries may fall anywhere, even
     * inside a value.
     */
    public List<float[]> slices(int sliceValues) {
        if (sliceValues <= 0) {
            throw new IllegalArgumentException("slice size must be positive");
        }
        long total = totalBytes / Float.BYTES;
        List<float[]> out = new ArrayList<>((int) ((total + sliceValues - 1) / sliceValues));
        Reader reader = new Reader(chunks.iterator());
        for (long from = 0; from < total; from += sliceValues) {
            float[] slice = new float[(int) Math.min(sliceValues, total - from)];
            reader.read(slice);
            out.add(slice);
        }
        return out;
    }

    /** Reads consecutive float32 values from the chunks, in bulk wherever a chunk allows. */
    private static final class Reader {
        private final Iterator<ByteString> chunks;
        private final byte[] split = new byte[Float.BYTES];
        private ByteBuffer current = ByteBuffer.allocate(0);

        Reader(Iterator<ByteString> chunks) {
            this.chunks = chunks;
        }

        void read(float[] into) {
            int filled = 0;
            while (filled < into.length) {
                if (!current.hasRemaining()) {
                    current = chunks.next().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                } else if (current.remaining() >= Float.BYTES) {
                    int n = Math.min(into.length - filled, current.remaining() / Float.BYTES);
                    current.asFloatBuffer().get(into, filled, n);
                    current.position(current.position() + n * Float.BYTES);
                    filled += n;
                } else {
                    into[filled++] = splitValue();
                }
            }
        }

        /** A value whose bytes span the end of one chunk and the start of the next. */
        private float splitValue() {
            for (int i = 0; i < Float.BYTES; i++) {
                while (!current.hasRemaining()) {
                    current = chunks.next().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                }
                split[i] = current.get();
            }
            return ByteBuffer.wrap(split).order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
        }
    }
}
