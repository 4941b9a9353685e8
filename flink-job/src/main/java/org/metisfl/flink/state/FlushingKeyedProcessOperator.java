package org.metisfl.flink.state;

import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;

/** Runs a {@link KeyedProcessFunction} whose write-behind state is flushed before each barrier. */
public final class FlushingKeyedProcessOperator<K, IN, OUT>
        extends KeyedProcessOperator<K, IN, OUT> {
    private static final long serialVersionUID = 1L;

    public <F extends KeyedProcessFunction<K, IN, OUT> & CheckpointFlushing>
            FlushingKeyedProcessOperator(F function) {
        super(function);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        CheckpointFlushing.flush(
                (CheckpointFlushing) getUserFunction(), this, getKeyedStateBackend());
    }
}
