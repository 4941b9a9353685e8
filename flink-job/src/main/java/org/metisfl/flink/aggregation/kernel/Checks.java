package org.metisfl.flink.aggregation.kernel;

import java.util.List;

/**
 * Argument checks shared by the kernels, so that every rule rejects bad input in the same words.
 */
final class Checks {

    private Checks() {}

    /** A finite value {@code > 0}, such as a learning rate. */
    static double requirePositive(String name, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " must be finite and > 0, was " + value);
        }
        return value;
    }

    /** A finite value {@code >= 0}, such as a weight. */
    static double requireNonNegative(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " must be finite and >= 0, was " + value);
        }
        return value;
    }

    /** A decay factor in {@code [0, 1)}. */
    static double requireDecay(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), was " + value);
        }
        return value;
    }

    static void requireLength(String name, float[] values, int expected) {
        if (values.length != expected) {
            throw new IllegalArgumentException(
                    name + " has " + values.length + " values, expected " + expected);
        }
    }

    static void requireLength(String name, double[] values, int expected) {
        if (values.length != expected) {
            throw new IllegalArgumentException(
                    name + " has " + values.length + " values, expected " + expected);
        }
    }

    /** A non-empty list of equally long updates, as an array; every update must be non-null. */
    static float[][] requireUpdates(List<float[]> updates) {
        if (updates == null || updates.isEmpty()) {
            throw new IllegalArgumentException("updates must hold at least one update");
        }
        float[][] rows = updates.toArray(new float[0][]);
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] == null) {
                throw new IllegalArgumentException("update " + i + " is null");
            }
            if (rows[i].length != rows[0].length) {
                throw new IllegalArgumentException(
                        "update "
                                + i
                                + " has "
                                + rows[i].length
                                + " values, update 0 has "
                                + rows[0].length
                                + "; all updates must be equally long");
            }
        }
        return rows;
    }

    /** The shapes {@link ServerOptimizer#step} expects. */
    static void requireStep(
            ServerOptimizer optimizer,
            float[] global,
            float[] average,
            float[][] state,
            long round) {
        requireLength("average", average, global.length);
        if (state.length != optimizer.stateSlots()) {
            throw new IllegalArgumentException(
                    optimizer.name()
                            + " keeps "
                            + optimizer.stateSlots()
                            + " state arrays, got "
                            + state.length);
        }
        for (int k = 0; k < state.length; k++) {
            requireLength("state[" + k + "]", state[k], global.length);
        }
        if (round < 1) {
            throw new IllegalArgumentException("round must be >= 1, was " + round);
        }
    }
}
