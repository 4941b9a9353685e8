package org.metisfl.flink.state;

import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;

/**
 * Runs a {@link KeyedCoProcessFunction} whose write-behind state is flushed before each barrier.
 */
public final class FlushingKeyedCoProcessOperator<K, IN1, IN2, OUT>
        extends KeyedCoProcessOperator<K, IN1, IN2, OUT> {
    private static final long serialVersionUID = 1L;

    public <F extends KeyedCoProcessFunction<K, IN1, IN2, OUT> & CheckpointFlushing>
            FlushingKeyedCoProcessOperator(F function) {
        super(function);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        CheckpointFlushing.flush(
                (CheckpointFlushing) getUserFunction(), this, getKeyedStateBackend());
    }
}
