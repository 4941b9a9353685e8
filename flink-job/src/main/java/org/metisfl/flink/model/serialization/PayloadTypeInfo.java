package org.metisfl.flink.model.serialization;

import java.lang.reflect.Type;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.metisfl.flink.model.Payload;

/** Flink type information of {@link Payload}: always the bulk {@link PayloadSerializer}. */
public final class PayloadTypeInfo extends TypeInformation<Payload> {
    private static final long serialVersionUID = 1L;

    public static final PayloadTypeInfo INSTANCE = new PayloadTypeInfo();

    private PayloadTypeInfo() {}

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
    public Class<Payload> getTypeClass() {
        return Payload.class;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<Payload> createSerializer(SerializerConfig config) {
        return PayloadSerializer.INSTANCE;
    }

    @Override
    public String toString() {
        return "Payload";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PayloadTypeInfo;
    }

    @Override
    public int hashCode() {
        return PayloadTypeInfo.class.hashCode();
    }

    @Override
    public boolean canEqual(Object obj) {
        return obj instanceof PayloadTypeInfo;
    }

    /** Found by Flink through {@code @TypeInfo} on {@link Payload}. */
    public static final class Factory extends TypeInfoFactory<Payload> {
        @Override
        public TypeInformation<Payload> createTypeInfo(
                Type t, Map<String, TypeInformation<?>> genericParameters) {
            return INSTANCE;
        }
    }
}
