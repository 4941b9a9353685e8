package org.metisfl.flink.model.serialization;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Serializes a float[] as its length and its raw little-endian bytes in one bulk write, instead of
 * Flink's one writeInt per value: model shards are hundreds of thousands of values, and the
 * per-value path dominated the controller's profile (network records and RocksDB state).
 */
public final class BulkFloatArraySerializer extends TypeSerializerSingleton<float[]> {
    private static final long serialVersionUID = 1L;
    public static final BulkFloatArraySerializer INSTANCE = new BulkFloatArraySerializer();
    private static final float[] EMPTY = new float[0];

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public float[] createInstance() {
        return EMPTY;
    }

    @Override
    public float[] copy(float[] from) {
        return from.clone();
    }

    @Override
    public float[] copy(float[] from, float[] reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(float[] record, DataOutputView target) throws IOException {
        if (record == null) {
            throw new IllegalArgumentException("the float array must not be null");
        }
        target.writeInt(record.length);
        ByteBuffer bytes =
                ByteBuffer.allocate(record.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(record);
        target.write(bytes.array());
    }

    @Override
    public float[] deserialize(DataInputView source) throws IOException {
        int length = PayloadSerializer.readLength(source, "array");
        byte[] raw = new byte[length * Float.BYTES];
        source.readFully(raw);
        float[] values = new float[length];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    @Override
    public float[] deserialize(float[] reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        int length = PayloadSerializer.readLength(source, "array");
        target.writeInt(length);
        PayloadSerializer.copyBytes(source, target, (long) length * Float.BYTES);
    }

    @Override
    public TypeSerializerSnapshot<float[]> snapshotConfiguration() {
        return new Snapshot();
    }

    /** Serializer snapshot for checkpoints and savepoints (version 1). */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<float[]> {
        public Snapshot() {
            super(() -> INSTANCE);
        }
    }
}
