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
 * Serializes a double[] as its length and its raw little-endian bytes in one bulk write, instead of
 * Flink's one writeLong per value: accumulators are hundreds of thousands of values, and the
 * per-value path dominated the controller's profile (network records and RocksDB state).
 */
public final class BulkDoubleArraySerializer extends TypeSerializerSingleton<double[]> {
    private static final long serialVersionUID = 1L;
    public static final BulkDoubleArraySerializer INSTANCE = new BulkDoubleArraySerializer();
    private static final double[] EMPTY = new double[0];

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public double[] createInstance() {
        return EMPTY;
    }

    @Override
    public double[] copy(double[] from) {
        return from.clone();
    }

    @Override
    public double[] copy(double[] from, double[] reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(double[] record, DataOutputView target) throws IOException {
        if (record == null) {
            throw new IllegalArgumentException("the double array must not be null");
        }
        target.writeInt(record.length);
        ByteBuffer bytes =
                ByteBuffer.allocate(record.length * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asDoubleBuffer().put(record);
        target.write(bytes.array());
    }

    @Override
    public double[] deserialize(DataInputView source) throws IOException {
        int length = PayloadSerializer.readLength(source, "array");
        byte[] raw = new byte[length * Double.BYTES];
        source.readFully(raw);
        double[] values = new double[length];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(values);
        return values;
    }

    @Override
    public double[] deserialize(double[] reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        int length = PayloadSerializer.readLength(source, "array");
        target.writeInt(length);
        PayloadSerializer.copyBytes(source, target, (long) length * Double.BYTES);
    }

    @Override
    public TypeSerializerSnapshot<double[]> snapshotConfiguration() {
        return new Snapshot();
    }

    /** Serializer snapshot for checkpoints and savepoints (version 1). */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<double[]> {
        public Snapshot() {
            super(() -> INSTANCE);
        }
    }
}
