package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.util.Random;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.metisfl.flink.model.Payload;

/** Seeded updates and serializer round trips for the rule tests. */
final class RuleTestData {

    private RuleTestData() {}

    static float[][] updates(long seed, int n, int length) {
        Random r = new Random(seed);
        float[][] u = new float[n][length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < length; j++) {
                u[i][j] = (float) (r.nextGaussian() * 2);
            }
        }
        return u;
    }

    static <A> A addAll(AggregationRule<A> rule, float[][] updates, double[] weights) {
        A acc = rule.createAccumulator();
        for (int i = 0; i < updates.length; i++) {
            rule.add(acc, "l" + i, Payload.dense(updates[i]), weights[i]);
        }
        return acc;
    }

    /**
     * Serializes with the serializer, writes and reads back its snapshot (as a savepoint does),
     * checks the restored serializer is compatible as is, and reads the value with it.
     */
    static <A> A throughSavepoint(TypeSerializer<A> serializer, A value) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(value, out);
        DataOutputSerializer snap = new DataOutputSerializer(64);
        TypeSerializerSnapshot.writeVersionedSnapshot(snap, serializer.snapshotConfiguration());
        TypeSerializerSnapshot<A> restored =
                TypeSerializerSnapshot.readVersionedSnapshot(
                        new DataInputDeserializer(snap.getCopyOfBuffer()),
                        RuleTestData.class.getClassLoader());
        TypeSerializerSchemaCompatibility<A> compat =
                serializer.snapshotConfiguration().resolveSchemaCompatibility(restored);
        if (!compat.isCompatibleAsIs()) {
            throw new AssertionError("restored serializer not compatible as is: " + compat);
        }
        A back =
                restored.restoreSerializer()
                        .deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        // copy(view, view) reproduces the bytes
        DataOutputSerializer copied = new DataOutputSerializer(256);
        serializer.copy(new DataInputDeserializer(out.getCopyOfBuffer()), copied);
        if (!java.util.Arrays.equals(copied.getCopyOfBuffer(), out.getCopyOfBuffer())) {
            throw new AssertionError("copy(view, view) changed the bytes");
        }
        return back;
    }
}
