package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.aggregation.rule.AggregationRule;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.aggregation.rule.Selection;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.PayloadSerializer;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.SnapshotCopiedMap;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aggregates one shard of the model, round by round (the synchronous protocol's window), with the
 * configured {@link AggregationRule}. Keyed by shard index. A round's window fires as soon as every
 * participant of its plan has contributed, or when the watermark passes the round's deadline: then
 * with the updates it has if they reach the quorum, else the round is aborted. Because the gateways
 * refuse updates after the deadline and hold their watermark below any update not yet emitted,
 * every shard of a round closes on the same contributor set.
 *
 * <p>A second copy of a learner's update for a round (a retry, possibly through another gateway) is
 * dropped, and so is anything for a round already closed. Each open round has the rule's
 * accumulator on the heap, checkpointed as operator state that a checkpoint copies in memory and
 * writes asynchronously ({@link SnapshotCopiedMap}), and its bookkeeping in write-behind keyed
 * state; memory per shard is what the rule needs, O(shard size) for FedAvg.
 *
 * <p>With the model path ({@code modelAtShards}), a closed shard's new global values leave through
 * the side output {@link #MODEL_SHARDS} to this subtask's chained model-shard sink, which delivers
 * them to every gateway, and the coordinator gets the round's metadata only ({@link
 * GlobalShard#direct}). The aggregator keeps each shard's latest global values (operator state
 * copied at the snapshot, as the open sums) and sends them again after a gateway announces itself
 * (every subtask gets a copy of each announcement), so a restarted gateway gets the model it must
 * serve from the checkpoint's state. A server optimizer steps each shard here, and with central DP
 * the noised mean delta (noise drawn at the shard with the round's calibrated sigma) is added to
 * the shard's global values here; both need the first model, which the gateways hand to the
 * aggregators.
 */
public class ShardAggregator extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard>
        implements CheckpointFlushing, CheckpointedFunction, CheckpointListener {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ShardAggregator.class);

    /** The model path's output: announcements, then global shards, for the model-shard sink. */
    public static final OutputTag<Directive> MODEL_SHARDS =
            new OutputTag<>("model-shards", TypeInformation.of(Directive.class));

    private final AggregationRule<Object> rule;
    private final boolean modelAtShards;

    /** The model path's server optimizer (FedAvgM, FedAdam, ...), or null for none. */
    private final ServerOptimizer optimizer;

    public ShardAggregator(FederationConfig config) {
        this(Rules.of(config));
    }

    public ShardAggregator(AggregationRule<?> rule) {
        this(rule, false);
    }

    /**
     * @param modelAtShards the model path: closed shards go to the gateways through {@link
     *     #MODEL_SHARDS}, the coordinator gets metadata only (a rule without a selection phase
     *     whose result is the new model itself; see {@code FederationPipeline.modelAtShards})
     */
    public ShardAggregator(AggregationRule<?> rule, boolean modelAtShards) {
        this(rule, modelAtShards, null);
    }

    /**
     * @param optimizer with the model path, the server optimizer stepping each shard from its
     *     global values towards the round's aggregate (it is coordinate-wise); null for none. The
     *     initial model's shards then come from the gateways (MODEL_SHARD records), as they do for
     *     a rule whose result is a delta (central DP: the noised mean delta is added to the shard's
     *     global values here).
     */
    @SuppressWarnings("unchecked")
    public ShardAggregator(
            AggregationRule<?> rule, boolean modelAtShards, ServerOptimizer optimizer) {
        this.rule = (AggregationRule<Object>) rule;
        this.modelAtShards = modelAtShards;
        this.optimizer = optimizer;
        if (optimizer != null && !modelAtShards) {
            throw new IllegalArgumentException(
                    "a server optimizer runs at the shards only with the model path");
        }
    }

    private transient WriteBehindValue<Integer, ShardRounds> shards;
    private transient SnapshotCopiedMap<Integer, Long, Object> accumulators;

    /** The model path: each shard's latest global values, under their version. */
    private transient SnapshotCopiedMap<Integer, Long, Payload> globalShards;

    /** The server optimizer's moments per shard (entry 0: first, 1: second), or null. */
    private transient SnapshotCopiedMap<Integer, Long, Payload> moments;

    /**
     * Local pre-aggregation over several gateways: foreign single updates held aside until their
     * round closes, under {@code round/learner} (see {@link #hold}).
     */
    private transient MapState<String, GatewayEvent> heldUpdates;

    private transient Counter duplicates;
    private transient Counter late;

    /** Announcement copies keyed for another subtask that reached this one (a metric). */
    private transient Counter misroutedAnnouncements;

    private transient Counter heldReplaced;

    @Override
    public void open(OpenContext openContext) {
        shards =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "shard-rounds", TypeInformation.of(ShardRounds.class)));
        duplicates = getRuntimeContext().getMetricGroup().counter("duplicateUpdates");
        late = getRuntimeContext().getMetricGroup().counter("lateUpdates");
        misroutedAnnouncements =
                getRuntimeContext().getMetricGroup().counter("misroutedAnnouncements");
        heldReplaced = getRuntimeContext().getMetricGroup().counter("foreignUpdatesReplaced");
        heldUpdates =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "held-foreign-updates",
                                        TypeInformation.of(String.class),
                                        TypeInformation.of(GatewayEvent.class)));
    }

    /** Announcement copies that reached this subtask keyed for another (tests, diagnosis). */
    long misroutedAnnouncements() {
        return misroutedAnnouncements == null ? 0 : misroutedAnnouncements.getCount();
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return List.of(shards);
    }

    /**
     * The open rounds' accumulators are operator state copied in memory at each checkpoint and
     * written asynchronously ({@link SnapshotCopiedMap}), so a checkpoint does not stall ingest
     * with 8 bytes per parameter of open sums; savepoints that kept them in the keyed map state
     * {@code accumulators} are taken over.
     */
    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        accumulators =
                SnapshotCopiedMap.of(
                        context,
                        getRuntimeContext(),
                        "open-accumulators",
                        IntSerializer.INSTANCE,
                        LongSerializer.INSTANCE,
                        rule.accumulatorSerializer(),
                        new MapStateDescriptor<>(
                                "accumulators",
                                LongSerializer.INSTANCE,
                                rule.accumulatorSerializer()));
        if (modelAtShards) {
            globalShards =
                    SnapshotCopiedMap.of(
                            context,
                            getRuntimeContext(),
                            "global-shards",
                            IntSerializer.INSTANCE,
                            LongSerializer.INSTANCE,
                            PayloadSerializer.INSTANCE,
                            null);
        }
        if (optimizer != null) {
            moments =
                    SnapshotCopiedMap.of(
                            context,
                            getRuntimeContext(),
                            "optimizer-moments",
                            IntSerializer.INSTANCE,
                            LongSerializer.INSTANCE,
                            PayloadSerializer.INSTANCE,
                            null);
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        accumulators.snapshot();
        if (globalShards != null) {
            globalShards.snapshot();
        }
        if (moments != null) {
            moments.snapshot();
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        accumulators.release();
        if (globalShards != null) {
            globalShards.release();
        }
        if (moments != null) {
            moments.release();
        }
    }

    @Override
    public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
            throws Exception {
        if (e.kind() == GatewayEvent.Kind.ANNOUNCE) {
            announced(e, ctx);
            return;
        }
        Integer key = ctx.getCurrentKey();
        if (e.kind() == GatewayEvent.Kind.MODEL_SHARD) {
            takeGlobalShard(key, e);
            return;
        }
        ShardRounds rounds = rounds(key);
        if (e.kind() == GatewayEvent.Kind.SELECTION) {
            select(e, ctx, key, rounds, out);
            return;
        }
        if (e.round() <= rounds.closedThrough) {
            if (e.kind() == GatewayEvent.Kind.UPDATE_SHARD
                    || e.kind() == GatewayEvent.Kind.PARTIAL_SHARD) {
                late.inc();
            }
            return;
        }
        ShardRound sr = rounds.find(e.round());
        if (sr == null) {
            sr = new ShardRound();
            sr.round = e.round();
            sr.numShards = e.numShards();
            rounds.open.add(sr);
        }
        switch (e.kind()) {
            case ROUND_OPENED:
                if (sr.opened && e.deadline() > sr.deadline) {
                    // The job restarted and the coordinator gave the round a fresh deadline.
                    ctx.timerService().deleteEventTimeTimer(sr.deadline);
                    sr.deadline = e.deadline();
                    ctx.timerService().registerEventTimeTimer(sr.deadline);
                    return;
                }
                if (sr.opened) {
                    return; // every gateway announces the round; the first copy counts
                }
                sr.opened = true;
                sr.expected = e.participantCount();
                sr.quorum = e.quorum();
                sr.deadline = e.deadline();
                sr.clipNorm = e.clipNorm;
                ctx.timerService().registerEventTimeTimer(e.deadline());
                break;
            case UPDATE_SHARD:
                if (sr.hasContributed(e.learnerId())) {
                    duplicates.inc();
                    return;
                }
                if (e.foreign) {
                    hold(sr, e);
                    break;
                }
                Object acc = accumulators.get(key, sr.round);
                if (acc == null) {
                    acc = rule.createAccumulator();
                    accumulators.put(key, sr.round, acc);
                }
                rule.add(acc, e.learnerId(), e.values(), e.weight());
                sr.totalWeight += e.weight();
                sr.addContributor(e.learnerId());
                if (e.unclipped) {
                    sr.unclipped++;
                }
                break;
            case PARTIAL_SHARD:
                mergePartial(e, key, sr);
                break;
            case PARTICIPANT_DROPPED:
                if (!sr.addDropCopy(e.learnerId(), e.gateway(), e.gateways())) {
                    return;
                }
                break;
            default:
                throw new IllegalArgumentException("not an aggregation record: " + e);
        }
        if (sr.allExpectedContributed()) {
            // Without drops all participants contributed; with drops, all who were not dropped.
            close(ctx, key, rounds, sr, !sr.quorate(), out);
            ctx.timerService().deleteEventTimeTimer(sr.deadline);
        }
    }

    /**
     * Local pre-aggregation over several gateways: a single update sent by a gateway that does not
     * fold its learner ({@link GatewayEvent#foreign}). The learner's home gateway may have folded a
     * copy of it (a resend after a broken call, or a learner uploading through two gateways) into a
     * partial that cannot be taken apart, so the copy is held aside in keyed state instead of
     * added: the learner counts as a contributor now (the round's early close and the quorum see
     * it), its values and weight are added when the round closes, unless a partial holding the
     * learner arrives first and replaces it. Every shard sees the same partials and singles before
     * its round closes (the watermark argument), so all shards count the same copy's learner.
     */
    private void hold(ShardRound sr, GatewayEvent e) throws Exception {
        heldUpdates.put(heldKey(sr.round, e.learnerId()), e);
        sr.held.add(e.learnerId());
        sr.addContributor(e.learnerId());
    }

    private static String heldKey(long round, String learner) {
        return round + "/" + learner;
    }

    /**
     * The round closes (or is dropped): its held foreign updates still without a partial are added
     * to the accumulator ({@code count}), in learner order so that every shard and every replay
     * adds them in the same order, or just forgotten.
     */
    private void releaseHeld(Integer key, ShardRound sr, boolean count) throws Exception {
        if (sr.held.isEmpty()) {
            return;
        }
        List<String> learners = new ArrayList<>(sr.held);
        Collections.sort(learners);
        for (String learner : learners) {
            String k = heldKey(sr.round, learner);
            GatewayEvent e = heldUpdates.get(k);
            heldUpdates.remove(k);
            if (!count || e == null) {
                continue;
            }
            Object acc = accumulators.get(key, sr.round);
            if (acc == null) {
                acc = rule.createAccumulator();
                accumulators.put(key, sr.round, acc);
            }
            rule.add(acc, learner, e.values(), e.weight());
            sr.totalWeight += e.weight();
            if (e.unclipped) {
                sr.unclipped++;
            }
        }
        sr.held.clear();
    }

    /**
     * Merges a gateway's partial aggregate (local pre-aggregation). Each learner is folded by one
     * gateway only, its home, which folds it at most once per round and never a round the job may
     * have counted before a restart (see {@link PartialSums}); any other copy of its update arrives
     * as a foreign single, held aside ({@link #hold}), and is dropped here for the partial's copy.
     * A partial that holds a learner this shard already counted otherwise means that promise broke:
     * the job fails rather than count an update twice, and after the restart the round's updates
     * travel one by one.
     */
    private void mergePartial(GatewayEvent e, Integer key, ShardRound sr) throws Exception {
        List<String> members = e.participants();
        List<String> replaced = new ArrayList<>();
        for (String learner : members) {
            if (sr.hasContributed(learner)) {
                if (sr.held.contains(learner)) {
                    replaced.add(learner);
                    continue;
                }
                throw new IllegalStateException(
                        "a partial aggregate of round "
                                + sr.round
                                + " from gateway "
                                + e.gateway()
                                + " holds an update of learner "
                                + learner
                                + " that shard "
                                + ShardKeys.shardOf(key)
                                + " already counted (local pre-aggregation folds a learner at its"
                                + " home gateway only and once per round; set"
                                + " aggregation.pre-aggregate: false to send every update on)");
            }
        }
        for (String learner : replaced) {
            heldUpdates.remove(heldKey(sr.round, learner));
            sr.held.remove(learner);
            heldReplaced.inc();
        }
        Object part = PartialSums.accumulatorOf(e, rule);
        Object acc = accumulators.get(key, sr.round);
        accumulators.put(key, sr.round, acc == null ? part : rule.merge(acc, part));
        sr.totalWeight += e.weight();
        for (String learner : members) {
            if (!replaced.contains(learner)) {
                sr.addContributor(learner);
            }
        }
        sr.unclipped += e.unclippedCount;
    }

    /**
     * The model path: a gateway (re)started. This subtask's sink learns of it first, then gets
     * every global shard this subtask holds, to deliver to it (and, harmlessly, again to the
     * others).
     */
    private void announced(GatewayEvent e, Context ctx) {
        if (!modelAtShards) {
            return;
        }
        ModelPathOutput.announced(
                e,
                getRuntimeContext(),
                misroutedAnnouncements,
                LOG,
                globalShards,
                d -> ctx.output(MODEL_SHARDS, d));
    }

    /**
     * The model path with a server optimizer: a gateway's first model, shard by shard (every
     * gateway sends it, also after a restart); kept if newer than the shard's global values here. A
     * gateway emits it before any update trained on it, so it precedes them on every channel.
     */
    private void takeGlobalShard(Integer key, GatewayEvent e) throws Exception {
        if (!modelAtShards) {
            return;
        }
        long held = heldVersion(key);
        if (e.round() > held) {
            if (held >= 0) {
                globalShards.remove(key, held);
            }
            globalShards.put(key, e.round(), e.values());
        }
    }

    /** The version of the global values this subtask holds for {@code key}, or -1. */
    private long heldVersion(Integer key) {
        long held = -1;
        for (Long v : globalShards.view(key).keySet()) {
            held = Math.max(held, v);
        }
        return held;
    }

    /**
     * The server optimizer's step for one shard: from its current global values towards the round's
     * aggregate, with the shard's moments (new arrays each round: the snapshot may still be
     * serialising the old ones).
     */
    private Payload step(Integer key, long round, Payload average) throws Exception {
        float[] global = heldGlobal(key, round, "a server optimizer steps from").clone();
        int slots = optimizer.stateSlots();
        float[][] state = new float[slots][];
        for (int j = 0; j < slots; j++) {
            Payload m = moments.get(key, (long) j);
            state[j] = m == null ? new float[global.length] : m.values().clone();
        }
        optimizer.step(global, average.values(), state, round);
        for (int j = 0; j < slots; j++) {
            moments.put(key, (long) j, Payload.dense(state[j]));
        }
        return Payload.dense(global);
    }

    /**
     * The newest global values this subtask holds for the shard, which a round's close builds on
     * (not to be modified); the job fails if it holds none, since the gateways hand the first model
     * to the aggregators before any update trained on it.
     */
    private float[] heldGlobal(Integer key, long round, String purpose) throws Exception {
        long held = heldVersion(key);
        if (held < 0) {
            throw new IllegalStateException(
                    "shard "
                            + ShardKeys.shardOf(key)
                            + " closed round "
                            + round
                            + " without the global values "
                            + purpose
                            + " (the gateways send the first model to the aggregators)");
        }
        return globalShards.get(key, held).values();
    }

    /**
     * The model path with a delta rule (central DP): the shard's global values plus the round's
     * released delta, in float32 as the coordinator added them ({@code PrivacyLedger.plus}).
     */
    private Payload plusGlobal(Integer key, long round, Payload delta) throws Exception {
        float[] global = heldGlobal(key, round, "its delta is added to");
        float[] d = delta.values();
        if (global.length != d.length) {
            throw new IllegalStateException(
                    "shard "
                            + ShardKeys.shardOf(key)
                            + ": a delta of "
                            + d.length
                            + " values for global values of "
                            + global.length);
        }
        float[] out = new float[global.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = global[i] + d[i];
        }
        return Payload.dense(out);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        Integer key = ctx.getCurrentKey();
        ShardRounds rounds = rounds(key);
        List<ShardRound> due = new ArrayList<>();
        for (ShardRound sr : rounds.open) {
            if (sr.opened && sr.deadline <= timestamp && !sr.awaitingSelection) {
                due.add(sr);
            }
        }
        due.sort((a, b) -> Long.compare(a.round, b.round));
        for (ShardRound sr : due) {
            close(ctx, key, rounds, sr, !sr.quorate(), out);
        }
    }

    private ShardRounds rounds(Integer key) throws Exception {
        ShardRounds r = shards.get(key);
        if (r == null) {
            r = new ShardRounds();
            shards.put(key, r);
        }
        return r;
    }

    /** The selection phase's end: this shard's aggregate over the updates the coordinator chose. */
    private void select(
            GatewayEvent e,
            Context ctx,
            Integer key,
            ShardRounds rounds,
            Collector<GlobalShard> out)
            throws Exception {
        ShardRound sr = rounds.find(e.round());
        if (sr == null || !sr.awaitingSelection) {
            return; // every gateway forwards the selection; the first copy counts
        }
        List<String> selected = new ArrayList<>(e.participants());
        Collections.sort(selected);
        GlobalShard g = new GlobalShard();
        g.round = sr.round;
        g.shard = ShardKeys.shardOf(key);
        g.numShards = sr.numShards;
        g.contributors = selected;
        if (selected.isEmpty()) {
            g.aborted = true; // the rule refused the round (logged by the coordinator's side)
        } else {
            g.totalWeight = selected.size();
            g.values = rule.selection().resultOf(accumulators.get(key, sr.round), selected);
            if (optimizer != null) {
                g.values = step(key, sr.round, g.values);
            }
        }
        emit(ctx, key, sr.round, g, out);
        rounds.open.remove(sr);
        accumulators.remove(key, sr.round);
    }

    /**
     * Sends a closed shard on: with the model path its new values straight to the gateways (kept as
     * this shard's global values) and only the round's metadata to the coordinator; else everything
     * to the coordinator.
     */
    private void emit(
            Context ctx, Integer key, long round, GlobalShard g, Collector<GlobalShard> out)
            throws Exception {
        Directive toGateways = null;
        if (g.values != null && modelAtShards) {
            // Straight to the gateways; the coordinator needs only the round's metadata.
            toGateways = Directive.modelShard(round, g.shard, 0, g.values);
            for (Long older : new ArrayList<>(globalShards.view(key).keySet())) {
                globalShards.remove(key, older);
            }
            globalShards.put(key, round, g.values);
            g.values = null;
            g.direct = true;
        }
        out.collect(g);
        if (toGateways != null) {
            // After the metadata: the coordinator closes the round and publishes it while the
            // chained sink encodes and delivers the shard (the gateways wait for both).
            ctx.output(MODEL_SHARDS, toGateways);
        }
    }

    private void close(
            Context ctx,
            Integer key,
            ShardRounds rounds,
            ShardRound sr,
            boolean abort,
            Collector<GlobalShard> out)
            throws Exception {
        releaseHeld(key, sr, !abort);
        GlobalShard g = new GlobalShard();
        g.round = sr.round;
        g.shard = ShardKeys.shardOf(key);
        g.numShards = sr.numShards;
        List<String> contributors = new ArrayList<>(sr.contributors);
        Collections.sort(contributors);
        g.contributors = contributors;
        g.totalWeight = sr.totalWeight;
        g.aborted = abort;
        Selection<Object> selection = rule.selection();
        boolean selecting = !abort && selection != null;
        if (selecting) {
            g.distances = selection.partial(accumulators.get(key, sr.round), contributors);
            sr.awaitingSelection = true;
        } else if (!abort) {
            g.values =
                    rule.result(
                            accumulators.get(key, sr.round),
                            new AggregationRule.RoundContext(
                                    sr.round, g.shard, sr.expected, sr.clipNorm));
            g.delta = rule.resultIsDelta();
            g.unclipped = sr.unclipped;
            if (modelAtShards && g.delta) {
                // Central DP: the noised mean delta (noise drawn at this shard, as before) moves
                // the global values this shard holds, as the coordinator did with its model.
                g.values = plusGlobal(key, sr.round, g.values);
                g.delta = false;
            }
            if (optimizer != null) {
                g.values = step(key, sr.round, g.values);
            }
        }
        emit(ctx, key, sr.round, g, out);
        rounds.closedThrough = sr.round;
        // Earlier rounds still buffered can never close now: drop them with this one.
        List<ShardRound> dropped = new ArrayList<>();
        for (ShardRound r : rounds.open) {
            if (r.round < sr.round || (r == sr && !selecting)) {
                dropped.add(r);
            }
        }
        for (ShardRound r : dropped) {
            releaseHeld(key, r, false);
            rounds.open.remove(r);
            accumulators.remove(key, r.round);
        }
    }
}
