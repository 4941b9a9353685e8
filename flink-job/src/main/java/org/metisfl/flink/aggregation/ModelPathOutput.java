package org.metisfl.flink.aggregation;

import java.util.Map;
import java.util.function.Consumer;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.metrics.Counter;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.SnapshotCopiedMap;
import org.slf4j.Logger;

/**
 * The model path's side output ({@link ShardAggregator#MODEL_SHARDS}) as both aggregators use it: a
 * (re)started gateway's announcement copy, then every global shard the subtask holds, for its
 * chained model-shard sink.
 */
final class ModelPathOutput {
    private ModelPathOutput() {}

    /**
     * A gateway (re)started: this subtask's sink learns of it first, then gets every global shard
     * {@code held} holds, to deliver to it (and, harmlessly, again to the others). A copy keyed for
     * another subtask is counted in {@code misrouted} and logged as an error.
     */
    static void announced(
            GatewayEvent e,
            RuntimeContext runtime,
            Counter misrouted,
            Logger log,
            SnapshotCopiedMap<Integer, Long, Payload> held,
            Consumer<Directive> out) {
        int here = runtime.getTaskInfo().getIndexOfThisSubtask();
        if (e.shard != here) {
            // The route keyed this copy for subtask e.shard under another max parallelism than
            // the one this job runs with: that subtask gets no copy and never delivers to the
            // gateway. Said loudly; the copy still serves this subtask.
            misrouted.inc();
            log.error(
                    "Gateway {}'s announcement copy for aggregator subtask {} reached subtask {}:"
                            + " the route's keys assume another max parallelism than the"
                            + " aggregators' {} (set pipeline.max-parallelism to {}, the"
                            + " savepoint's, and restart from it)",
                    e.gateway(),
                    e.shard,
                    here,
                    runtime.getTaskInfo().getMaxNumberOfParallelSubtasks(),
                    runtime.getTaskInfo().getMaxNumberOfParallelSubtasks());
        }
        out.accept(Directive.announce(e));
        for (Integer key : held.keys()) {
            for (Map.Entry<Long, Payload> v : held.view(key).entrySet()) {
                out.accept(
                        Directive.modelShard(v.getKey(), ShardKeys.shardOf(key), 0, v.getValue()));
            }
        }
    }
}
