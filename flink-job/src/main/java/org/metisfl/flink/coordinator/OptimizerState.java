package org.metisfl.flink.coordinator;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/** A server optimizer's state for one shard: up to two moment arrays (a Flink POJO). */
@TypeInfo(BulkArrayPojoFactory.class)
public class OptimizerState {
    public float[] first;
    public float[] second;

    public OptimizerState() {}

    static OptimizerState zeros(int slots, int length) {
        OptimizerState s = new OptimizerState();
        s.first = slots >= 1 ? new float[length] : new float[0];
        s.second = slots >= 2 ? new float[length] : new float[0];
        return s;
    }

    float[][] slots(int count) {
        return count == 0
                ? new float[0][]
                : count == 1 ? new float[][] {first} : new float[][] {first, second};
    }
}
