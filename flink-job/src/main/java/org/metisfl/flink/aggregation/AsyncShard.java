package org.metisfl.flink.aggregation;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * One shard's asynchronous state: its model version and values (a Flink POJO). What the rule keeps
 * between updates is its own state, next to it in the aggregator's {@code async-rule-state}.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class AsyncShard {
    public long version = -1;
    public int numShards;
    public Payload global;

    public AsyncShard() {}
}
