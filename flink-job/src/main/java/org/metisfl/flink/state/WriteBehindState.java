package org.metisfl.flink.state;

import org.apache.flink.streaming.api.operators.KeyContext;

/**
 * Keyed state that the operator works on in heap memory and writes to its Flink state only right
 * before a checkpoint barrier (or savepoint) leaves the operator. Hot paths then touch no state
 * backend at all: with RocksDB, an update no longer costs a read, a deserialisation, a
 * serialisation and a write of the whole value.
 *
 * <p>Why it is exactly as durable as writing through: Flink snapshots keyed state when the barrier
 * passes the operator, and {@link FlushingKeyedProcessOperator} flushes every value changed since
 * the last flush in {@code prepareSnapshotPreBarrier}, before that. After a restore the heap copy
 * is empty and the first access reads the restored state. The cost is memory: what was touched
 * stays on the heap (for the shard aggregator, the open rounds of its shards: O(model)).
 */
public interface WriteBehindState {

    /**
     * Writes every value changed since the last flush to the Flink state.
     *
     * @param keys sets the operator's current key before each write
     * @param copyValues write copies: the heap backend keeps the object it is given and snapshots
     *     it asynchronously, so the live object must not be handed over; RocksDB serialises on
     *     write
     */
    void flush(KeyContext keys, boolean copyValues) throws Exception;
}
