package org.metisfl.flink.model.serialization;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.model.Payload;

/**
 * Serializes a {@link Payload} in bulk: a kind byte, then for dense values their count and raw
 * little-endian float32 bytes in one write (as {@link BulkFloatArraySerializer}), for a ciphertext
 * its scheme, parameter hash, encoded value count and bytes. Format version 1.
 */
public final class PayloadSerializer extends TypeSerializerSingleton<Payload> {
    private static final long serialVersionUID = 1L;
    public static final PayloadSerializer INSTANCE = new PayloadSerializer();

    /** Floats converted at a time through a thread's scratch buffer (16 KiB). */
    static final int SCRATCH_FLOATS = 4096;

    /**
     * Scratch buffers, a few slots picked by thread id: a thread takes its slot's buffer (or makes
     * one if another thread holds it) and puts it back. Not a ThreadLocal: on Flink's task threads
     * its lookups missed and probed, 3% of the controller's CPU in the async benchmark.
     */
    private static final int SLOTS = 8;

    @SuppressWarnings("unchecked")
    private static final AtomicReference<byte[]>[] SCRATCH = new AtomicReference[SLOTS];

    static {
        for (int i = 0; i < SLOTS; i++) {
            SCRATCH[i] = new AtomicReference<>();
        }
    }

    private static int slot() {
        return (int) (Thread.currentThread().getId() & (SLOTS - 1));
    }

    private static byte[] takeScratch(int slot) {
        // AtomicReference, not AtomicReferenceArray: the array's getAndSet checks the element type
        // reflectively on every call (2% of the controller in the async benchmark).
        byte[] b = SCRATCH[slot].getAndSet(null);
        return b != null ? b : new byte[SCRATCH_FLOATS * Float.BYTES];
    }

    /** This thread's slot's scratch buffer as it lies there now (null while taken): for tests. */
    static byte[] scratchOfThisThread() {
        return SCRATCH[slot()].get();
    }

    private static final byte DENSE = 0;
    private static final byte CIPHERTEXT = 1;

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public Payload createInstance() {
        return Payload.dense(new float[0]);
    }

    @Override
    public Payload copy(Payload from) {
        return from.copy();
    }

    @Override
    public Payload copy(Payload from, Payload reuse) {
        return from.copy();
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(Payload p, DataOutputView target) throws IOException {
        if (p == null) {
            throw new IllegalArgumentException("the payload must not be null");
        }
        if (p.isDense()) {
            float[] values = p.values();
            target.writeByte(DENSE);
            target.writeInt(values.length);
            // Through a scratch buffer, chunk by chunk: no array of the payload's
            // size per record (every asynchronous update and version crosses a keyed exchange).
            int slot = slot();
            byte[] scratch = takeScratch(slot);
            try {
                ByteBuffer bytes = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
                for (int from = 0; from < values.length; from += SCRATCH_FLOATS) {
                    int n = Math.min(SCRATCH_FLOATS, values.length - from);
                    bytes.asFloatBuffer().put(values, from, n);
                    target.write(scratch, 0, n * Float.BYTES);
                }
            } finally {
                SCRATCH[slot].set(scratch);
            }
        } else {
            target.writeByte(CIPHERTEXT);
            target.writeUTF(p.scheme());
            target.writeUTF(p.parameterHash());
            target.writeInt(p.size());
            byte[] c = p.ciphertext();
            target.writeInt(c.length);
            target.write(c);
        }
    }

    @Override
    public Payload deserialize(DataInputView source) throws IOException {
        byte kind = source.readByte();
        if (kind == DENSE) {
            int length = readLength(source);
            float[] values = new float[length];
            int slot = slot();
            byte[] scratch = takeScratch(slot);
            try {
                ByteBuffer bytes = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
                for (int from = 0; from < length; from += SCRATCH_FLOATS) {
                    int n = Math.min(SCRATCH_FLOATS, length - from);
                    source.readFully(scratch, 0, n * Float.BYTES);
                    bytes.asFloatBuffer().get(values, from, n);
                }
            } finally {
                SCRATCH[slot].set(scratch);
            }
            return Payload.dense(values);
        }
        if (kind == CIPHERTEXT) {
            String scheme = source.readUTF();
            String hash = source.readUTF();
            int encoded = source.readInt();
            byte[] c = new byte[readLength(source)];
            source.readFully(c);
            return Payload.ciphertext(scheme, hash, encoded, c);
        }
        throw new IOException("unknown payload kind " + kind + ": corrupt state or record");
    }

    @Override
    public Payload deserialize(Payload reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        byte kind = source.readByte();
        target.writeByte(kind);
        if (kind == DENSE) {
            int length = readLength(source);
            target.writeInt(length);
            copyBytes(source, target, (long) length * Float.BYTES);
        } else if (kind == CIPHERTEXT) {
            target.writeUTF(source.readUTF());
            target.writeUTF(source.readUTF());
            target.writeInt(source.readInt());
            int length = readLength(source);
            target.writeInt(length);
            copyBytes(source, target, length);
        } else {
            throw new IOException("unknown payload kind " + kind + ": corrupt state or record");
        }
    }

    private static int readLength(DataInputView source) throws IOException {
        return readLength(source, "payload");
    }

    /** Reads a length, failing on a negative one: {@code what} names the record in the error. */
    static int readLength(DataInputView source, String what) throws IOException {
        int length = source.readInt();
        if (length < 0) {
            throw new IOException("negative " + what + " length " + length + ": corrupt input");
        }
        return length;
    }

    /**
     * Copies {@code count} bytes from {@code source} to {@code target} through this thread's
     * scratch buffer. Not {@link DataOutputView#write(DataInputView, int)}: Flink's {@code
     * DataOutputSerializer} does not grow its buffer for that one and fails on a record larger than
     * what it has left, whereas {@code write(byte[], int, int)} grows it.
     */
    static void copyBytes(DataInputView source, DataOutputView target, long count)
            throws IOException {
        int slot = slot();
        byte[] scratch = takeScratch(slot);
        try {
            for (long left = count; left > 0; ) {
                int n = (int) Math.min(scratch.length, left);
                source.readFully(scratch, 0, n);
                target.write(scratch, 0, n);
                left -= n;
            }
        } finally {
            SCRATCH[slot].set(scratch);
        }
    }

    @Override
    public TypeSerializerSnapshot<Payload> snapshotConfiguration() {
        return new Snapshot();
    }

    /**
     * Serializer snapshot for checkpoints and savepoints. Version 1 is the format above; a later
     * format bumps {@link #getCurrentVersion()} and reads version 1 through a migrating serializer.
     */
    public static final class Snapshot implements TypeSerializerSnapshot<Payload> {
        static final int VERSION = 1;

        public Snapshot() {}

        @Override
        public int getCurrentVersion() {
            return VERSION;
        }

        @Override
        public void writeSnapshot(DataOutputView out) {}

        @Override
        public void readSnapshot(int readVersion, DataInputView in, ClassLoader classLoader)
                throws IOException {
            if (readVersion != VERSION) {
                throw new IOException(
                        "payload serializer snapshot version "
                                + readVersion
                                + " is newer than this build knows ("
                                + VERSION
                                + ")");
            }
        }

        @Override
        public TypeSerializer<Payload> restoreSerializer() {
            return INSTANCE;
        }

        @Override
        public TypeSerializerSchemaCompatibility<Payload> resolveSchemaCompatibility(
                TypeSerializerSnapshot<Payload> oldSnapshot) {
            return oldSnapshot instanceof Snapshot
                    ? TypeSerializerSchemaCompatibility.compatibleAsIs()
                    : TypeSerializerSchemaCompatibility.incompatible();
        }
    }
}
