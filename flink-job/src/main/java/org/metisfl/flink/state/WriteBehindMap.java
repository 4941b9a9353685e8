package org.metisfl.flink.state;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.streaming.api.operators.KeyContext;

/**
 * A keyed {@link MapState} worked on in heap memory and written entry by entry at checkpoints (see
 * {@link WriteBehindState}). The map of a key is read whole on its first access after a start or a
 * restore; afterwards only entries read, written or removed since the last flush are written. Meant
 * for operators with few keys (the coordinator has one), whose maps fit in memory.
 *
 * @param <K> the operator's key
 * @param <UK> the map's key
 * @param <UV> the map's value
 */
public final class WriteBehindMap<K, UK, UV> implements WriteBehindState {
    private final MapState<UK, UV> state;
    private final TypeSerializer<UV> valueSerializer;
    private final Map<K, Map<UK, UV>> heap = new HashMap<>();
    private final Map<K, Set<UK>> touched = new HashMap<>();

    private WriteBehindMap(MapState<UK, UV> state, TypeSerializer<UV> valueSerializer) {
        this.state = state;
        this.valueSerializer = valueSerializer;
    }

    /** Registers the state with {@code context} (call in {@code open}). */
    public static <K, UK, UV> WriteBehindMap<K, UK, UV> of(
            RuntimeContext context, MapStateDescriptor<UK, UV> descriptor) {
        MapState<UK, UV> state = context.getMapState(descriptor);
        TypeSerializer<UV> values =
                ((MapSerializer<UK, UV>) descriptor.getSerializer()).getValueSerializer();
        return new WriteBehindMap<>(state, values);
    }

    /**
     * The map of {@code key} (the operator's current key), read-only: change it through {@link
     * #put} and {@link #remove}, or mark a value changed in place with {@link #get}.
     */
    public Map<UK, UV> view(K key) throws Exception {
        return java.util.Collections.unmodifiableMap(entries(key));
    }

    public UV get(K key, UK entry) throws Exception {
        UV v = entries(key).get(entry);
        if (v != null) {
            touched(key).add(entry);
        }
        return v;
    }

    public void put(K key, UK entry, UV value) throws Exception {
        entries(key).put(entry, value);
        touched(key).add(entry);
    }

    public void remove(K key, UK entry) throws Exception {
        if (entries(key).remove(entry) != null) {
            touched(key).add(entry);
        }
    }

    public void clear(K key) throws Exception {
        Map<UK, UV> m = entries(key);
        touched(key).addAll(m.keySet());
        m.clear();
    }

    private Map<UK, UV> entries(K key) throws Exception {
        Map<UK, UV> m = heap.get(key);
        if (m == null) {
            m = new HashMap<>();
            Iterable<Map.Entry<UK, UV>> stored = state.entries();
            if (stored != null) {
                for (Map.Entry<UK, UV> e : stored) {
                    m.put(e.getKey(), e.getValue());
                }
            }
            heap.put(key, m);
        }
        return m;
    }

    private Set<UK> touched(K key) {
        return touched.computeIfAbsent(key, k -> new HashSet<>());
    }

    @Override
    public void flush(KeyContext keys, boolean copyValues) throws Exception {
        for (Map.Entry<K, Set<UK>> t : touched.entrySet()) {
            keys.setCurrentKey(t.getKey());
            Map<UK, UV> m = heap.get(t.getKey());
            for (UK entry : t.getValue()) {
                UV v = m.get(entry);
                if (v == null) {
                    state.remove(entry);
                } else {
                    state.put(entry, copyValues ? valueSerializer.copy(v) : v);
                }
            }
        }
        touched.clear();
    }
}
