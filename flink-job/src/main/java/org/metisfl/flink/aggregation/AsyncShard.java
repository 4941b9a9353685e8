package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;
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

    /**
     * The model path: the newest version whose values went to the gateways (-1 until the first
     * update), the event time of the next publish-interval boundary (0 until the first update), and
     * at shard 0 the contributors of the versions made since the last published one (the
     * coordinator gets them with the next).
     */
    public long publishedVersion = -1;

    public long publishAt;

    /** The model path with {@code async.evaluate-interval}: the next evaluation boundary. */
    public long evaluateAt;

    public List<String> unpublishedContributors = new ArrayList<>();

    public AsyncShard() {}
}
