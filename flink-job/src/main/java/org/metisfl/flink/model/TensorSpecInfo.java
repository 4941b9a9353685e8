package org.metisfl.flink.model;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** Name and shape of one float32 tensor of the model (a Flink POJO). */
public class TensorSpecInfo {
    public String name;
    public long[] shape;

    public TensorSpecInfo() {}

    public TensorSpecInfo(String name, long[] shape) {
        this.name = name;
        this.shape = shape;
    }

    /** Number of values of this tensor. */
    public long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Number of values of all tensors. */
    public static long totalSize(List<TensorSpecInfo> tensors) {
        long n = 0;
        for (TensorSpecInfo t : tensors) {
            n += t.size();
        }
        return n;
    }

    /** Shards of {@code shardSize} values needed for a model of {@code totalSize} values. */
    public static int numShards(long totalSize, int shardSize) {
        return (int) Math.max(1, (totalSize + shardSize - 1) / shardSize);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpecInfo t
                && Objects.equals(name, t.name)
                && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
