package org.metisfl.flink.coordinator;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

/**
 * One map of the coordinator's state, as its plain classes see it: keyed state of the federation in
 * the job ({@link RoundCoordinator} binds it), a heap map in unit tests. A value returned by {@link
 * #get} may be changed in place and is then written back with the next checkpoint; {@link #put} a
 * new value.
 */
public interface StateMap<K, V> {

    /** The value of {@code key}, or null. */
    V get(K key);

    void put(K key, V value);

    void remove(K key);

    void clear();

    /** Every entry, read-only, in no particular order. */
    Iterable<Map.Entry<K, V>> entries();

    /** A map on the heap (tests, and wherever no Flink state is needed). */
    static <K, V> StateMap<K, V> onHeap() {
        Map<K, V> map = new HashMap<>();
        return new StateMap<>() {
            @Override
            public V get(K key) {
                return map.get(key);
            }

            @Override
            public void put(K key, V value) {
                map.put(key, value);
            }

            @Override
            public void remove(K key) {
                map.remove(key);
            }

            @Override
            public void clear() {
                map.clear();
            }

            @Override
            public Iterable<Map.Entry<K, V>> entries() {
                return Collections.unmodifiableMap(map).entrySet();
            }
        };
    }
}
