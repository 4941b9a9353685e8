package org.metisfl.flink.coordinator;

import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.config.FederationOptions;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;

/**
 * The new global values of a shard: the round's aggregate itself, or the server optimizer's step
 * from the current global model towards it (FedAvgM, FedAdagrad, FedAdam, FedYogi; its moments are
 * kept per shard).
 */
final class ServerStep {
    private final boolean none;
    private final ServerOptimizer optimizer;
    private final StateMap<Integer, OptimizerState> state;
    private final ModelPublisher model;

    ServerStep(
            CoordinatorOptions options,
            StateMap<Integer, OptimizerState> state,
            ModelPublisher model) {
        this.none = options.optimizer() == FederationOptions.Optimizer.NONE;
        this.optimizer = ServerOptimizers.of(options);
        this.state = state;
        this.model = model;
    }

    Payload apply(GlobalShard g) {
        Payload average = g.values;
        if (g.delta) {
            // Central DP: the shard is the noised mean delta; the aggregate is the model plus it.
            average =
                    Payload.dense(
                            PrivacyLedger.plus(model.shard(g.shard).values(), g.values.values()));
        }
        if (none) {
            return average;
        }
        float[] global = model.shard(g.shard).values().clone();
        OptimizerState st = state.get(g.shard);
        if (st == null) {
            st = OptimizerState.zeros(optimizer.stateSlots(), global.length);
        }
        optimizer.step(global, average.values(), st.slots(optimizer.stateSlots()), g.round);
        state.put(g.shard, st);
        return Payload.dense(global);
    }
}
