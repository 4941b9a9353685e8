package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/** One shard's asynchronous state: its model version and values, and the FedBuff buffer. */
@TypeInfo(BulkArrayPojoFactory.class)
public class AsyncShard {
    public long version = -1;
    public int numShards;
    public float[] global;

    /** FedRec: the running weighted sum and total weight of every learner's latest update. */
    public double[] numerator;

    public double totalWeight;

    /** FedBuff: the staleness-weighted deltas buffered for the next version. */
    public double[] deltas;

    public int buffered;
    public List<String> bufferedLearners = new ArrayList<>();

    public AsyncShard() {}
}
