package org.metisfl.flink.aggregation.kernel;

import java.io.Serializable;

/**
 * A server optimizer that turns the round's aggregate into the next global model, shard by shard
 * (Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithms 1 and 2).
 *
 * <pre>{@code
 * ServerOptimizer opt = FedAdam.of();
 * float[][] state = opt.initialState(global.length);
 * for (long round = 1; ...; round++) {
 *     opt.step(global, averageOfClientModels, state, round);
 * }
 * }</pre>
 */
public interface ServerOptimizer extends Serializable {

    /**
     * Per-value state arrays this optimizer keeps (0 for FedAvg, 1 for FedAvgM, 2 for Adam-like).
     */
    int stateSlots();

    /**
     * One server step for one shard: moves {@code global} (in place) given the round's aggregate
     * {@code average} of the client models; the pseudo-gradient is delta = average - global. {@code
     * state} has stateSlots() arrays of global.length, zero on the first round; updated in place.
     * {@code round} counts from 1.
     */
    void step(float[] global, float[] average, float[][] state, long round);

    String name();

    /** The state for the first round: {@link #stateSlots()} zero arrays of {@code length}. */
    default float[][] initialState(int length) {
        return new float[stateSlots()][length];
    }
}
