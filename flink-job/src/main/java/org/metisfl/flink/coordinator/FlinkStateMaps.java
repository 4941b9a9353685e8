package org.metisfl.flink.coordinator;

import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.util.FlinkRuntimeException;
import org.metisfl.flink.state.WriteBehindMap;

/** Binds the coordinator's {@link StateMap}s to Flink keyed state (the job's one federation). */
final class FlinkStateMaps {
    private FlinkStateMaps() {}

    /** A write-behind map under the operator key {@code key}. */
    static <UK, UV> StateMap<UK, UV> of(WriteBehindMap<String, UK, UV> state, String key) {
        return new WriteBehindStateMap<>(state, key);
    }

    /** A map state of the current key, read and written through. */
    static <UK, UV> StateMap<UK, UV> of(MapState<UK, UV> state) {
        return new MapStateMap<>(state);
    }

    /** A write-behind map of the federation's key. */
    private static final class WriteBehindStateMap<UK, UV> implements StateMap<UK, UV> {
        private final WriteBehindMap<String, UK, UV> state;
        private final String key;

        WriteBehindStateMap(WriteBehindMap<String, UK, UV> state, String key) {
            this.state = state;
            this.key = key;
        }

        @Override
        public UV get(UK entry) {
            try {
                return state.get(key, entry);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot read coordinator state", e);
            }
        }

        @Override
        public void put(UK entry, UV value) {
            try {
                state.put(key, entry, value);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot write coordinator state", e);
            }
        }

        @Override
        public void remove(UK entry) {
            try {
                state.remove(key, entry);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot write coordinator state", e);
            }
        }

        @Override
        public void clear() {
            try {
                state.clear(key);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot write coordinator state", e);
            }
        }

        @Override
        public Iterable<Map.Entry<UK, UV>> entries() {
            try {
                return state.view(key).entrySet();
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot read coordinator state", e);
            }
        }
    }

    /** A keyed map state, read and written through (the learner registry stays in the backend). */
    private static final class MapStateMap<UK, UV> implements StateMap<UK, UV> {
        private final MapState<UK, UV> state;

        MapStateMap(MapState<UK, UV> state) {
            this.state = state;
        }

        @Override
        public UV get(UK entry) {
            try {
                return state.get(entry);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot read coordinator state", e);
            }
        }

        @Override
        public void put(UK entry, UV value) {
            try {
                state.put(entry, value);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot write coordinator state", e);
            }
        }

        @Override
        public void remove(UK entry) {
            try {
                state.remove(entry);
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot write coordinator state", e);
            }
        }

        @Override
        public void clear() {
            state.clear();
        }

        @Override
        public Iterable<Map.Entry<UK, UV>> entries() {
            try {
                Iterable<Map.Entry<UK, UV>> entries = state.entries();
                return entries == null ? List.of() : entries;
            } catch (Exception e) {
                throw new FlinkRuntimeException("cannot read coordinator state", e);
            }
        }
    }
}
