package org.metisfl.flink.aggregation;

/** FedRec: a learner's latest update at one shard, and its weight (a Flink POJO). */
public class Contribution {
    public float[] values;
    public double weight;

    public Contribution() {}

    Contribution(float[] values, double weight) {
        this.values = values;
        this.weight = weight;
    }
}
