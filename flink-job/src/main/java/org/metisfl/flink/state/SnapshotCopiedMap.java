package org.metisfl.flink.state;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.typeutils.runtime.TupleSerializer;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

/**
 * Large keyed values (the aggregators' open sums) kept on the heap and checkpointed so that a
 * checkpoint does not stall the operator: the values go into operator union-list state at each
 * snapshot, whose synchronous part only copies them in memory ({@link TypeSerializer#copy}: for a
 * sum, one array copy) while their serialisation and write to the checkpoint storage run in Flink's
 * asynchronous phase, with the RocksDB backend as with the heap one. Written through keyed {@link
 * MapState} on RocksDB instead (as {@link WriteBehindMap} does), each checkpoint would serialise
 * every value into RocksDB and flush its memtable to disk on the task thread: 8 bytes per parameter
 * of every open round.
 *
 * <p>Every value of this subtask is in every checkpoint (operator state is not incremental). On
 * restore each subtask reads every subtask's entries and keeps those whose key falls in its key
 * groups, so rescaling works as with keyed state; the price is that a restore reads all of them.
 * Entries a savepoint of an older format holds in the keyed map state of the same values ({@code
 * legacy}) are taken over on first access.
 *
 * @param <K> the operator's key
 * @param <UK> the map's key
 * @param <UV> the map's value
 */
public final class SnapshotCopiedMap<K, UK, UV> {
    private final ListState<Tuple3<K, UK, UV>> snapshot;
    private final MapState<UK, UV> legacy;
    private final Map<K, Map<UK, UV>> heap = new HashMap<>();

    private SnapshotCopiedMap(ListState<Tuple3<K, UK, UV>> snapshot, MapState<UK, UV> legacy) {
        this.snapshot = snapshot;
        this.legacy = legacy;
    }

    /**
     * Registers the state (call in {@code initializeState}) and, on a restore, takes this subtask's
     * entries.
     *
     * @param name the operator state's name
     * @param legacy the keyed map state older savepoints hold the values in, or null
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static <K, UK, UV> SnapshotCopiedMap<K, UK, UV> of(
            FunctionInitializationContext context,
            RuntimeContext runtime,
            String name,
            TypeSerializer<K> keys,
            TypeSerializer<UK> entries,
            TypeSerializer<UV> values,
            MapStateDescriptor<UK, UV> legacy)
            throws Exception {
        TupleSerializer<Tuple3<K, UK, UV>> serializer =
                new TupleSerializer<>(
                        (Class<Tuple3<K, UK, UV>>) (Class) Tuple3.class,
                        new TypeSerializer[] {keys, entries, values});
        ListState<Tuple3<K, UK, UV>> list =
                context.getOperatorStateStore()
                        .getUnionListState(new ListStateDescriptor<>(name, serializer));
        SnapshotCopiedMap<K, UK, UV> map =
                new SnapshotCopiedMap<>(
                        list,
                        legacy == null ? null : context.getKeyedStateStore().getMapState(legacy));
        if (context.isRestored()) {
            int maxParallelism = runtime.getTaskInfo().getMaxNumberOfParallelSubtasks();
            KeyGroupRange mine =
                    KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                            maxParallelism,
                            runtime.getTaskInfo().getNumberOfParallelSubtasks(),
                            runtime.getTaskInfo().getIndexOfThisSubtask());
            for (Tuple3<K, UK, UV> e : list.get()) {
                if (mine.contains(KeyGroupRangeAssignment.assignToKeyGroup(e.f0, maxParallelism))) {
                    map.entries(e.f0).put(e.f1, e.f2);
                }
            }
        }
        return map;
    }

    /**
     * The value of {@code entry} under {@code key} (the operator's current key, needed only to take
     * over an older savepoint's keyed value), or null. It may be changed in place.
     */
    public UV get(K key, UK entry) throws Exception {
        Map<UK, UV> m = entries(key);
        UV v = m.get(entry);
        if (v == null && legacy != null) {
            v = legacy.get(entry);
            if (v != null) {
                m.put(entry, v);
                legacy.remove(entry);
            }
        }
        return v;
    }

    public void put(K key, UK entry, UV value) {
        entries(key).put(entry, value);
    }

    /** Removes {@code entry} under {@code key} (the operator's current key). */
    public void remove(K key, UK entry) throws Exception {
        Map<UK, UV> m = heap.get(key);
        if (m != null) {
            m.remove(entry);
            if (m.isEmpty()) {
                heap.remove(key);
            }
        }
        if (legacy != null) {
            legacy.remove(entry);
        }
    }

    /** The keys that hold entries on this subtask, read-only. */
    public java.util.Set<K> keys() {
        return Collections.unmodifiableSet(heap.keySet());
    }

    /** The entries under {@code key}, read-only. */
    public Map<UK, UV> view(K key) {
        Map<UK, UV> m = heap.get(key);
        return m == null ? Map.of() : Collections.unmodifiableMap(m);
    }

    /**
     * Hands every value to the operator state (call in {@code snapshotState}); the backend's
     * synchronous part copies them, the rest is asynchronous.
     */
    public void snapshot() throws Exception {
        List<Tuple3<K, UK, UV>> all = new ArrayList<>();
        for (Map.Entry<K, Map<UK, UV>> k : heap.entrySet()) {
            for (Map.Entry<UK, UV> e : k.getValue().entrySet()) {
                all.add(Tuple3.of(k.getKey(), e.getKey(), e.getValue()));
            }
        }
        snapshot.update(all);
    }

    /**
     * Lets go of the values handed to the last snapshot (call once it completed): the backend
     * copied them during the snapshot, and closed rounds' values need not stay reachable from the
     * operator state until the next one.
     */
    public void release() {
        snapshot.clear();
    }

    private Map<UK, UV> entries(K key) {
        return heap.computeIfAbsent(key, k -> new HashMap<>());
    }
}
