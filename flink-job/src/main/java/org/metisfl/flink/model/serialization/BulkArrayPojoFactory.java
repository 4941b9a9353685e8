package org.metisfl.flink.model.serialization;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.TypeExtractor;
import org.metisfl.flink.model.Payload;

/**
 * A Flink POJO whose float[], double[] and {@link Payload} fields use the bulk serializers; every
 * other field is typed as Flink would type it. Put {@code @TypeInfo(BulkArrayPojoFactory.class)} on
 * the class.
 */
public final class BulkArrayPojoFactory<T> extends TypeInfoFactory<T> {

    @Override
    @SuppressWarnings("unchecked")
    public TypeInformation<T> createTypeInfo(
            Type t, Map<String, TypeInformation<?>> genericParameters) {
        Class<T> type = (Class<T>) t;
        Map<String, TypeInformation<?>> fields = new LinkedHashMap<>();
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                int m = f.getModifiers();
                if (Modifier.isStatic(m) || Modifier.isTransient(m) || !Modifier.isPublic(m)) {
                    continue;
                }
                if (f.getType() == float[].class) {
                    fields.put(f.getName(), BulkArrayTypeInfo.FLOATS);
                } else if (f.getType() == Payload.class) {
                    fields.put(f.getName(), PayloadTypeInfo.INSTANCE);
                } else if (f.getType() == double[].class) {
                    fields.put(f.getName(), BulkArrayTypeInfo.DOUBLES);
                } else {
                    fields.put(f.getName(), TypeExtractor.createTypeInfo(f.getGenericType()));
                }
            }
        }
        return Types.POJO(type, fields);
    }
}
