package org.metisfl.flink.model.serialization;

import java.util.Objects;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/** Type information of float[] and double[] with the bulk serializers. */
public final class BulkArrayTypeInfo<T> extends TypeInformation<T> {
    private static final long serialVersionUID = 1L;

    public static final BulkArrayTypeInfo<float[]> FLOATS =
            new BulkArrayTypeInfo<>(float[].class, BulkFloatArraySerializer.INSTANCE);
    public static final BulkArrayTypeInfo<double[]> DOUBLES =
            new BulkArrayTypeInfo<>(double[].class, BulkDoubleArraySerializer.INSTANCE);

    private final Class<T> type;
    private final TypeSerializer<T> serializer;

    private BulkArrayTypeInfo(Class<T> type, TypeSerializer<T> serializer) {
        this.type = type;
        this.serializer = serializer;
    }

    @Override
    public boolean isBasicType() {
        return false;
    }

    @Override
    public boolean isTupleType() {
        return false;
    }

    @Override
    public int getArity() {
        return 1;
    }

    @Override
    public int getTotalFields() {
        return 1;
    }

    @Override
    public Class<T> getTypeClass() {
        return type;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<T> createSerializer(SerializerConfig config) {
        return serializer;
    }

    @Override
    public String toString() {
        return "BulkArray<" + type.getSimpleName() + ">";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BulkArrayTypeInfo<?> other && other.type == type;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type);
    }

    @Override
    public boolean canEqual(Object obj) {
        return obj instanceof BulkArrayTypeInfo;
    }
}
