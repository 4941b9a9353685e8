package org.metisfl.flink.model;

import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/** One shard of a round's new global model, or the news that the round was aborted. */
@TypeInfo(BulkArrayPojoFactory.class)
public class GlobalShard {
    public long round;
    public int shard;
    public int numShards;

    /** The aggregated values; null when {@link #aborted} or {@link #direct}. */
    public Payload values;

    /** Learners whose updates went into this shard, sorted. */
    public List<String> contributors;

    public double totalWeight;

    /** The round reached its deadline without a quorum; the global model stays as it was. */
    public boolean aborted;

    /**
     * Krum's first phase: this shard's part of the contributors' pairwise squared distances (n x n,
     * row-major, contributors in sorted order); the values follow once the coordinator chose.
     */
    public double[] distances;

    /**
     * Central DP: the values are the noised mean of the clipped deltas, to add to the round's
     * global model, not the new model itself.
     */
    public boolean delta;

    /** Central DP: how many of the contributors' deltas were within the clip norm. */
    public int unclipped;

    /**
     * The model path: the shard's new global values went from its aggregator straight to the
     * gateways ({@link #values} is null); this record is the round's metadata only.
     */
    public boolean direct;

    /**
     * The asynchronous model path with {@code async.evaluate-interval}: the shards decided that
     * this published version is evaluated.
     */
    public boolean evaluate;

    public GlobalShard() {}
}
