package org.metisfl.flink.state;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.streaming.api.operators.KeyContext;

/**
 * A keyed {@link ValueState} worked on in heap memory and written at checkpoints (see {@link
 * WriteBehindState}). A value returned by {@link #get} may be changed in place: every value read or
 * written since the last flush is written at the next one.
 *
 * @param <K> the operator's key
 * @param <V> the value
 */
public final class WriteBehindValue<K, V> implements WriteBehindState {
    private final ValueState<V> state;
    private final TypeSerializer<V> serializer;
    private final Map<K, V> heap = new HashMap<>();
    private final Set<K> touched = new HashSet<>();

    private WriteBehindValue(ValueState<V> state, TypeSerializer<V> serializer) {
        this.state = state;
        this.serializer = serializer;
    }

    /** Registers the state with {@code context} (call in {@code open}). */
    public static <K, V> WriteBehindValue<K, V> of(
            RuntimeContext context, ValueStateDescriptor<V> descriptor) {
        ValueState<V> state = context.getState(descriptor);
        return new WriteBehindValue<>(state, descriptor.getSerializer());
    }

    /** The value of {@code key} (the operator's current key), or null. */
    public V get(K key) throws Exception {
        V v = heap.get(key);
        if (v == null && !heap.containsKey(key)) {
            v = state.value();
            heap.put(key, v);
        }
        touched.add(key);
        return v;
    }

    /** Sets the value of {@code key} (the operator's current key); null clears it. */
    public void put(K key, V value) {
        heap.put(key, value);
        touched.add(key);
    }

    @Override
    public void flush(KeyContext keys, boolean copyValues) throws Exception {
        for (K key : touched) {
            keys.setCurrentKey(key);
            V v = heap.get(key);
            if (v == null) {
                state.clear();
                heap.remove(key);
            } else {
                state.update(copyValues ? serializer.copy(v) : v);
            }
        }
        touched.clear();
    }
}
