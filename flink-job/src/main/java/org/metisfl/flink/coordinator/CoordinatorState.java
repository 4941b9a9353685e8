package org.metisfl.flink.coordinator;

import org.metisfl.flink.model.Payload;

/**
 * The maps of the coordinator's state besides its {@link FederationProgress}: keyed state in the
 * job ({@link RoundCoordinator} binds each to a state handle of its own name), heap maps in tests.
 *
 * @param learners the learner registry (learner id to record)
 * @param model the current global model (shard to values)
 * @param pendingModel rounds: the running round's closed shards
 * @param stats each round's record until its result is written
 * @param optimizerState the server optimizer's moments per shard
 * @param asyncPending versions: shards of incomplete versions ("version/shard")
 * @param asyncShardCounts versions: shards received per incomplete version
 */
public record CoordinatorState(
        StateMap<String, LearnerRecord> learners,
        StateMap<Integer, Payload> model,
        StateMap<Integer, Payload> pendingModel,
        StateMap<Long, RoundStats> stats,
        StateMap<Integer, OptimizerState> optimizerState,
        StateMap<String, Payload> asyncPending,
        StateMap<Long, Integer> asyncShardCounts) {

    /** Every map on the heap. */
    public static CoordinatorState onHeap() {
        return new CoordinatorState(
                StateMap.onHeap(),
                StateMap.onHeap(),
                StateMap.onHeap(),
                StateMap.onHeap(),
                StateMap.onHeap(),
                StateMap.onHeap(),
                StateMap.onHeap());
    }
}
