package org.metisfl.flink.state;

import java.util.List;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.heap.HeapKeyedStateBackend;
import org.apache.flink.streaming.api.operators.KeyContext;

/** A function whose keyed state is (partly) {@link WriteBehindState}, flushed before barriers. */
public interface CheckpointFlushing {

    /** Every write-behind state of the function, in the order they are flushed. */
    List<WriteBehindState> writeBehindStates();

    /** Flushes every write-behind state of {@code function} for the operator's backend. */
    static void flush(CheckpointFlushing function, KeyContext keys, KeyedStateBackend<?> backend)
            throws Exception {
        boolean copy = backend instanceof HeapKeyedStateBackend;
        for (WriteBehindState s : function.writeBehindStates()) {
            s.flush(keys, copy);
        }
    }
}
