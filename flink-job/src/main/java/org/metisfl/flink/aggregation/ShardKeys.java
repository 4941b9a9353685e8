package org.metisfl.flink.aggregation;

import java.util.Arrays;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

/**
 * The keys the shards of a model are aggregated under, spread evenly over the aggregator's
 * subtasks: shard {@code s} gets a key of subtask {@code s mod parallelism}. Keying by the shard
 * index itself leaves it to hashing, and a model of few shards can land on one subtask (the two
 * shards of a 100K-parameter model did, at parallelism 2).
 *
 * <p>A key is {@code shard + j * 2^20} for the smallest {@code j} that hashes to the wanted
 * subtask, so {@link #shardOf} is a mask. For shards, keys are a placement hint only: under another
 * max parallelism every key still works, just less evenly spread. The model path's announcement
 * copies, one keyed to each aggregator subtask, need the aggregators' actual max parallelism:
 * {@code FederationPipeline} passes the configured one.
 */
public final class ShardKeys implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private static final int SHARD_BITS = 20;
    private static final int SHARD_MASK = (1 << SHARD_BITS) - 1;

    /** Most shards a model may have (a 256 KB shard size gives 256 GB models). */
    public static final int MAX_SHARDS = 1 << SHARD_BITS;

    private final int parallelism;
    private final int maxParallelism;
    private transient int[] keys;

    /** Keys for {@code parallelism} subtasks under Flink's default max parallelism for it. */
    public ShardKeys(int parallelism) {
        this(parallelism, KeyGroupRangeAssignment.computeDefaultMaxParallelism(parallelism));
    }

    /**
     * Keys for {@code parallelism} subtasks of an operator whose max parallelism (number of key
     * groups) is {@code maxParallelism}: the key's subtask depends on both.
     */
    public ShardKeys(int parallelism, int maxParallelism) {
        if (parallelism < 1 || maxParallelism < parallelism) {
            throw new IllegalArgumentException(
                    "max parallelism "
                            + maxParallelism
                            + " below the parallelism "
                            + parallelism
                            + " (set pipeline.max-parallelism to at least job.parallelism)");
        }
        this.parallelism = parallelism;
        this.maxParallelism = maxParallelism;
    }

    /** The subtasks the keys spread shards over. */
    public int parallelism() {
        return parallelism;
    }

    /** The max parallelism the keys were chosen for. */
    public int maxParallelism() {
        return maxParallelism;
    }

    /** The key of {@code shard}. */
    public int keyOf(int shard) {
        if (keys == null || shard >= keys.length) {
            grow(shard);
        }
        return keys[shard];
    }

    /** The shard a key stands for. */
    public static int shardOf(int key) {
        return key & SHARD_MASK;
    }

    private void grow(int shard) {
        if (shard < 0 || shard >= MAX_SHARDS) {
            throw new IllegalArgumentException("shard " + shard + " out of range");
        }
        int from = keys == null ? 0 : keys.length;
        int[] grown =
                Arrays.copyOf(keys == null ? new int[0] : keys, Math.max(shard + 1, 2 * from));
        for (int s = from; s < grown.length && s < MAX_SHARDS; s++) {
            grown[s] = spread(s);
        }
        keys = grown;
    }

    private int spread(int shard) {
        int wanted = shard % parallelism;
        for (int j = 0; j < 2047; j++) {
            int key = shard + (j << SHARD_BITS);
            if (KeyGroupRangeAssignment.assignKeyToParallelOperator(
                            key, maxParallelism, parallelism)
                    == wanted) {
                return key;
            }
        }
        return shard;
    }
}
