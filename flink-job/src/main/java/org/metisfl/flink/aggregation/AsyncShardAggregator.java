package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.ListTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.metisfl.flink.aggregation.kernel.BufferedAsync;
import org.metisfl.flink.aggregation.kernel.FedAsyncMix;
import org.metisfl.flink.aggregation.kernel.RecencyAverage;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.AsyncRule;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;

/**
 * The asynchronous protocol's window: one model version per update (FedAsync, FedRec) or per K
 * updates (FedBuff), for one shard. Updates are applied in event-time order — each waits until the
 * watermark passes its gateway timestamp, ties broken by learner and task — so every shard applies
 * the same updates in the same order and reaches the same versions (invariant 2 without rounds). A
 * second copy of an update (same learner and task) is dropped, and so is an update more than {@code
 * async.max-staleness} versions old.
 *
 * <p>Memory per shard: O(shard) for FedAsync; FedBuff adds the last max-staleness versions (to take
 * each update's delta from the model it was trained on); FedRec keeps every learner's latest
 * update, O(learners x shard), as MetisFL's FedRec does.
 */
public class AsyncShardAggregator extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard>
        implements CheckpointFlushing {
    private static final long serialVersionUID = 1L;
    private static final TypeInformation<float[]> FLOATS =
            org.metisfl.flink.model.serialization.BulkArrayTypeInfo.FLOATS;

    private final AsyncRule rule;
    private final double alpha;
    private final Staleness staleness;
    private final long maxStaleness;
    private final int bufferSize;
    private final double serverLearningRate;

    private transient WriteBehindValue<Integer, AsyncShard> shardState;
    private transient MapState<String, String> lastTask;
    private transient MapState<String, Contribution> contributions;
    private transient MapState<Long, float[]> history;
    private transient WriteBehindValue<Integer, List<GatewayEvent>> pending;
    private transient Counter duplicates;
    private transient Counter tooStale;

    public AsyncShardAggregator(FederationConfig config) {
        this.rule = config.asyncRule();
        this.alpha = config.asyncAlpha();
        this.staleness = config.staleness();
        this.maxStaleness = config.asyncMaxStaleness();
        this.bufferSize = config.asyncBufferSize();
        this.serverLearningRate = config.asyncServerLearningRate();
    }

    @Override
    public void open(OpenContext openContext) {
        shardState =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "async-shard", TypeInformation.of(AsyncShard.class)));
        lastTask =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>("last-task", Types.STRING, Types.STRING));
        contributions =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "contributions",
                                        Types.STRING,
                                        TypeInformation.of(Contribution.class)));
        history =
                getRuntimeContext()
                        .getMapState(new MapStateDescriptor<>("history", Types.LONG, FLOATS));
        pending =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "pending", new ListTypeInfo<>(GatewayEvent.class)));
        duplicates = getRuntimeContext().getMetricGroup().counter("duplicateUpdates");
        tooStale = getRuntimeContext().getMetricGroup().counter("tooStaleUpdates");
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return List.of(shardState, pending);
    }

    @Override
    public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
            throws Exception {
        switch (e.kind) {
            case MODEL_SHARD -> {
                AsyncShard s = shardState.get(ctx.getCurrentKey());
                if (s == null) {
                    s = new AsyncShard();
                    s.version = e.round;
                    s.numShards = e.numShards;
                    s.global = e.values;
                    shardState.put(ctx.getCurrentKey(), s);
                    if (rule == AsyncRule.FEDBUFF) {
                        history.put(s.version, e.values.clone());
                    }
                }
            }
            case UPDATE_SHARD -> {
                List<GatewayEvent> waiting = pending.get(ctx.getCurrentKey());
                if (waiting == null) {
                    waiting = new ArrayList<>();
                    pending.put(ctx.getCurrentKey(), waiting);
                }
                waiting.add(e);
                ctx.timerService().registerEventTimeTimer(ctx.timestamp());
            }
            default -> throw new IllegalArgumentException("not an asynchronous record: " + e);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        List<GatewayEvent> due = new ArrayList<>();
        List<GatewayEvent> later = new ArrayList<>();
        List<GatewayEvent> waiting = pending.get(ctx.getCurrentKey());
        for (GatewayEvent e : waiting == null ? List.<GatewayEvent>of() : waiting) {
            (e.stamp <= timestamp ? due : later).add(e);
        }
        if (due.isEmpty()) {
            return;
        }
        pending.put(ctx.getCurrentKey(), later.isEmpty() ? null : later);
        due.sort(
                Comparator.<GatewayEvent>comparingLong(e -> e.stamp)
                        .thenComparing(e -> e.learnerId)
                        .thenComparing(e -> e.taskId));
        AsyncShard s = shardState.get(ctx.getCurrentKey());
        if (s == null) {
            return; // no model yet: cannot happen, the gateways hand out tasks only with one
        }
        for (GatewayEvent e : due) {
            apply(s, e, ShardKeys.shardOf(ctx.getCurrentKey()), out);
        }
        shardState.put(ctx.getCurrentKey(), s);
    }

    private void apply(AsyncShard s, GatewayEvent e, int shard, Collector<GlobalShard> out)
            throws Exception {
        if (e.taskId.equals(lastTask.get(e.learnerId))) {
            duplicates.inc();
            return;
        }
        lastTask.put(e.learnerId, e.taskId);
        long stale = Math.max(0, s.version - e.baseVersion);
        if (stale > maxStaleness) {
            tooStale.inc();
            return;
        }
        double w = staleness.weight(stale);
        switch (rule) {
            case FEDASYNC -> {
                FedAsyncMix.mix(s.global, e.values, alpha * w);
                emit(s, shard, List.of(e.learnerId), out);
            }
            case FEDREC -> {
                RecencyAverage avg =
                        s.numerator == null
                                ? new RecencyAverage(e.values.length)
                                : RecencyAverage.restore(s.numerator, s.totalWeight);
                Contribution previous = contributions.get(e.learnerId);
                double weight = e.weight * w;
                if (previous == null) {
                    avg.add(e.values, weight);
                } else {
                    avg.replace(previous.values, previous.weight, e.values, weight);
                }
                contributions.put(e.learnerId, new Contribution(e.values, weight));
                s.numerator = avg.numerator();
                s.totalWeight = avg.totalWeight();
                s.global = avg.average();
                emit(s, shard, List.of(e.learnerId), out);
            }
            case FEDBUFF -> {
                float[] base = history.get(e.baseVersion);
                if (base == null) {
                    tooStale.inc();
                    return;
                }
                if (s.deltas == null) {
                    s.deltas = new double[s.global.length];
                }
                BufferedAsync.addDelta(s.deltas, e.values, base, w);
                s.buffered++;
                s.bufferedLearners.add(e.learnerId);
                if (s.buffered >= bufferSize) {
                    BufferedAsync.apply(s.global, s.deltas, s.buffered, serverLearningRate);
                    List<String> learners = new ArrayList<>(s.bufferedLearners);
                    s.deltas = null;
                    s.buffered = 0;
                    s.bufferedLearners = new ArrayList<>();
                    emit(s, shard, learners, out);
                    history.put(s.version, s.global.clone());
                    Iterator<Long> versions = history.keys().iterator();
                    List<Long> old = new ArrayList<>();
                    while (versions.hasNext()) {
                        long v = versions.next();
                        if (v < s.version - maxStaleness) {
                            old.add(v);
                        }
                    }
                    for (long v : old) {
                        history.remove(v);
                    }
                }
            }
        }
    }

    private static void emit(
            AsyncShard s, int shard, List<String> learners, Collector<GlobalShard> out) {
        s.version++;
        GlobalShard g = new GlobalShard();
        g.round = s.version;
        g.shard = shard;
        g.numShards = s.numShards;
        // No copy: the record crosses a keyBy, so it is serialised when collected.
        g.values = s.global;
        g.contributors = learners;
        out.collect(g);
    }
}
