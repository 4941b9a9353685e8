package org.metisfl.flink.aggregation;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/** FedRec: a learner's latest update at one shard, and its weight (a Flink POJO). */
@TypeInfo(BulkArrayPojoFactory.class)
public class Contribution {
    public float[] values;
    public double weight;

    public Contribution() {}

    Contribution(float[] values, double weight) {
        this.values = values;
        this.weight = weight;
    }
}
