package org.metisfl.learner.task;

import java.util.Arrays;
import java.util.Objects;

/** One named float32 tensor: its shape and its values in row-major (C) order. */
public final class NamedTensor {
    private final String name;
    private final long[] shape;
    private final float[] values;

    public NamedTensor(String name, long[] shape, float[] values) {
        this.name = Objects.requireNonNull(name, "name");
        this.shape = shape.clone();
        this.values = Objects.requireNonNull(values, "values");
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + name
                                + "' has a negative dimension: "
                                + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + name
                            + "' has shape "
                            + Arrays.toString(shape)
                            + " ("
                            + n
                            + " values) but "
                            + values.length
                            + " values were given");
        }
    }

    public String name() {
        return name;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** The values themselves (not a copy): do not modify a tensor you did not create. */
    public float[] values() {
        return values;
    }

    public int size() {
        return values.length;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
