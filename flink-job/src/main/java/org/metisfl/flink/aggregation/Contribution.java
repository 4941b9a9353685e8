package org.metisfl.flink.aggregation;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * A learner's latest update at one shard and its weight, kept for asynchronous rules that replace
 * it (FedRec); a Flink POJO in map state.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class Contribution {
    public Payload values;
    public double weight;

    public Contribution() {}

    Contribution(Payload values, double weight) {
        this.values = values;
        this.weight = weight;
    }
}
