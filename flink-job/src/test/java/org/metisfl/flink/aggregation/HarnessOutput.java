package org.metisfl.flink.aggregation;

import java.util.List;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;

/** What an aggregator under Flink's operator test harness emitted. */
final class HarnessOutput {
    private HarnessOutput() {}

    /** The global shards emitted since the last call (watermarks left out); clears the output. */
    static List<GlobalShard> shards(
            KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> h) {
        List<GlobalShard> out =
                h.getOutput().stream()
                        .filter(StreamRecord.class::isInstance)
                        .map(r -> (GlobalShard) ((StreamRecord<?>) r).getValue())
                        .toList();
        h.getOutput().clear();
        return out;
    }
}
