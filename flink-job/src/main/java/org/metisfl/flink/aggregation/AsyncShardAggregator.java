package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.java.typeutils.ListTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.metisfl.flink.aggregation.kernel.Staleness;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.AsyncUpdate;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.Latest;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.PayloadSerializer;
import org.metisfl.flink.model.serialization.PayloadTypeInfo;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.SnapshotCopiedMap;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The asynchronous protocol's window: one model version per update (FedAsync, FedRec) or per K
 * updates (FedBuff), for one shard, with the configured {@link AsyncAggregationRule}. Updates are
 * applied in event-time order — each waits until the watermark passes its gateway timestamp, ties
 * broken by learner and task — so every shard applies the same updates in the same order and
 * reaches the same versions (invariant 2 without rounds). A second copy of an update (same learner
 * and task) is dropped. Every other update counts: a gateway admits an update only if it is at most
 * {@code async.max-staleness} versions behind the model the gateway serves, and acknowledges it
 * only once it is in the job, so an update is never dropped here for its age, even when this
 * shard's version has moved on since (its weight still falls with its staleness). For the rules
 * that take each update's delta from the model it was trained on, the shard keeps every version a
 * gateway may still admit an update of: from the oldest version a gateway serves ({@link
 * GatewayEvent.Kind#MODEL_SERVED}) minus max-staleness, and the base of every waiting update.
 *
 * <p>Memory per shard: O(shard) plus the rule's needs: FedBuff's buffer and the last max-staleness
 * versions (to take each update's delta from the model it was trained on), FedRec every learner's
 * latest update, O(learners x shard), as MetisFL's FedRec does.
 *
 * <p>With the model path ({@link AsyncPublishing}), the versions the rule picks (the same at every
 * shard, from the update sequence and its stamps) leave through the side output {@link
 * ShardAggregator#MODEL_SHARDS} to this subtask's chained model-shard sink, which delivers them to
 * every gateway, and the coordinator gets their metadata only (version, and at shard 0 the
 * contributors since the last published version); the other versions leave nothing. The newest
 * published values of each shard are operator state copied at the snapshot ({@code
 * published-shards}), sent again after a gateway announces itself. Without it every version's
 * values go to the coordinator, which publishes them (the model store's federations).
 */
public class AsyncShardAggregator extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard>
        implements CheckpointFlushing, CheckpointedFunction, CheckpointListener {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(AsyncShardAggregator.class);

    /**
     * Applied task ids remembered per learner to drop resent copies: at least the most updates a
     * learner may have awaiting acknowledgement ({@code TaskDispatch.MAX_UNACKNOWLEDGED_ASYNC}).
     */
    public static final int REMEMBERED_TASKS = 4;

    private final AsyncAggregationRule<Object> rule;
    private final Staleness staleness;
    private final long maxStaleness;

    /** The model path's publishing rule, or null: every version's values to the coordinator. */
    private final AsyncPublishing publishing;

    /** The model path: each shard's newest published values, under their version. */
    private transient SnapshotCopiedMap<Integer, Long, Payload> publishedShards;

    /** The model path: the late-publish timer registered for each shard (as {@link #timers}). */
    private transient Map<Integer, Long> publishTimers;

    /** The context of the element or timer being processed, for the model path's side output. */
    private transient Context outputContext;

    private transient Counter misroutedAnnouncements;

    private transient WriteBehindValue<Integer, AsyncShard> shardState;
    private transient WriteBehindValue<Integer, Object> ruleState;

    /** Each learner's last {@value #REMEMBERED_TASKS} applied task ids, newest last. */
    private transient MapState<String, List<String>> recentTasks;

    /** Savepoints before the window of recent tasks kept only the last one. */
    private transient MapState<String, String> legacyLastTask;

    private transient MapState<String, Contribution> contributions;

    /**
     * Foreign single updates applied here (sent on by a gateway that is not the one that may fold
     * them) whose copy a partial sum may still hold, by (learner, task): their values, so a later
     * partial holding the same (learner, task) can take them out of its sum (see {@link
     * #applyPartial}). Forgotten once no gateway can still admit an update of their base version.
     */
    private transient MapState<String, Contribution> foreignCopies;

    /** The keys of {@link #foreignCopies} by the base version of their update. */
    private transient MapState<Long, List<String>> foreignCopiesByBase;

    private transient MapState<Long, Payload> history;
    private transient MapState<Integer, Long> served;
    private transient WriteBehindValue<Integer, List<GatewayEvent>> pending;

    /**
     * The earliest event-time timer registered for each shard's waiting updates. Not state: after a
     * restore it is empty, so the next update registers a timer of its own, and the restored timers
     * still fire for the restored waiting updates (a timer too many does no harm).
     */
    private transient Map<Integer, Long> timers;

    private transient Counter duplicates;
    private transient Counter tooStale;
    private transient Counter partialsApplied;
    private transient Counter foreignCopiesTakenOut;

    /** Staleness (versions) of the last update applied, for the {@code lastStaleness} gauge. */
    private transient volatile long lastStaleness;

    public AsyncShardAggregator(FederationConfig config) {
        this(RuleOptions.of(config));
    }

    private AsyncShardAggregator(RuleOptions rules) {
        this(Rules.async(rules), Rules.staleness(rules), rules.asyncMaxStaleness());
    }

    public AsyncShardAggregator(
            AsyncAggregationRule<?> rule, Staleness staleness, long maxStaleness) {
        this(rule, staleness, maxStaleness, null);
    }

    /**
     * @param publishing the model path: which versions go to the gateways from this aggregator's
     *     sink (the coordinator gets their metadata only); null for none (every version's values to
     *     the coordinator)
     */
    @SuppressWarnings("unchecked")
    public AsyncShardAggregator(
            AsyncAggregationRule<?> rule,
            Staleness staleness,
            long maxStaleness,
            AsyncPublishing publishing) {
        this.rule = (AsyncAggregationRule<Object>) rule;
        this.staleness = staleness;
        this.maxStaleness = maxStaleness;
        this.publishing = publishing;
    }

    @Override
    public void open(OpenContext openContext) {
        shardState =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "async-shard", TypeInformation.of(AsyncShard.class)));
        ruleState =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>("async-rule-state", rule.stateSerializer()));
        recentTasks =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "recent-tasks", Types.STRING, Types.LIST(Types.STRING)));
        legacyLastTask =
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
        foreignCopies =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "foreign-copies",
                                        Types.STRING,
                                        TypeInformation.of(Contribution.class)));
        foreignCopiesByBase =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "foreign-copies-by-base",
                                        Types.LONG,
                                        Types.LIST(Types.STRING)));
        history =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "history", Types.LONG, PayloadTypeInfo.INSTANCE));
        served =
                getRuntimeContext()
                        .getMapState(new MapStateDescriptor<>("served", Types.INT, Types.LONG));
        pending =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "pending", new ListTypeInfo<>(GatewayEvent.class)));
        timers = new HashMap<>();
        publishTimers = new HashMap<>();
        misroutedAnnouncements =
                getRuntimeContext().getMetricGroup().counter("misroutedAnnouncements");
        duplicates = getRuntimeContext().getMetricGroup().counter("duplicateUpdates");
        tooStale = getRuntimeContext().getMetricGroup().counter("tooStaleUpdates");
        partialsApplied = getRuntimeContext().getMetricGroup().counter("partialsApplied");
        foreignCopiesTakenOut =
                getRuntimeContext().getMetricGroup().counter("foreignCopiesTakenOut");
        getRuntimeContext()
                .getMetricGroup()
                .gauge("lastStaleness", (org.apache.flink.metrics.Gauge<Long>) () -> lastStaleness);
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return List.of(shardState, ruleState, pending);
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        if (publishing != null) {
            publishedShards =
                    SnapshotCopiedMap.of(
                            context,
                            getRuntimeContext(),
                            "published-shards",
                            IntSerializer.INSTANCE,
                            LongSerializer.INSTANCE,
                            PayloadSerializer.INSTANCE,
                            null);
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        if (publishedShards != null) {
            publishedShards.snapshot();
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        if (publishedShards != null) {
            publishedShards.release();
        }
    }

    @Override
    public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
            throws Exception {
        outputContext = ctx;
        switch (e.kind()) {
            case ANNOUNCE -> announced(e, ctx);
            case MODEL_SHARD -> {
                AsyncShard s = shardState.get(ctx.getCurrentKey());
                if (s == null) {
                    s = new AsyncShard();
                    s.version = e.round();
                    s.numShards = e.numShards();
                    s.global = e.values();
                    shardState.put(ctx.getCurrentKey(), s);
                    if (rule.keepsVersions()) {
                        history.put(s.version, s.global.copy());
                    }
                }
                serves(e.gateway(), e.round());
            }
            case MODEL_SERVED -> serves(e.gateway(), e.round());
            case UPDATE_SHARD, PARTIAL_SHARD -> {
                if (e.kind() == GatewayEvent.Kind.PARTIAL_SHARD && !e.isAsyncPartial()) {
                    throw new IllegalArgumentException("not an asynchronous partial: " + e);
                }
                List<GatewayEvent> waiting = pending.get(ctx.getCurrentKey());
                if (waiting == null) {
                    waiting = new ArrayList<>();
                    pending.put(ctx.getCurrentKey(), waiting);
                }
                waiting.add(e);
                // One timer for everything waiting, at the oldest stamp: when it fires, it
                // applies every update the watermark has passed (see onTimer), instead of one
                // timer per update (a RocksDB write and delete each).
                Long timer = timers.get(ctx.getCurrentKey());
                if (timer == null || ctx.timestamp() < timer) {
                    ctx.timerService().registerEventTimeTimer(ctx.timestamp());
                    timers.put(ctx.getCurrentKey(), ctx.timestamp());
                }
            }
            default -> throw new IllegalArgumentException("not an asynchronous record: " + e);
        }
    }

    /** Gateway {@code gateway} serves {@code version} now (versions only go up). */
    private void serves(int gateway, long version) throws Exception {
        Long known = served.get(gateway);
        if (known == null || version > known) {
            served.put(gateway, version);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        outputContext = ctx;
        applyWaiting(timestamp, ctx, out);
        if (publishing != null) {
            publishLate(Math.max(timestamp, ctx.timerService().currentWatermark()), ctx, out);
        }
    }

    private void applyWaiting(long timestamp, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        // Every update the watermark has passed is here (the gateways' watermarks never pass an
        // update they have not emitted), so all of them are applied now, in stamp order: every
        // shard applies the same sequence, however its watermarks came in.
        long watermark = Math.max(timestamp, ctx.timerService().currentWatermark());
        List<GatewayEvent> due = new ArrayList<>();
        List<GatewayEvent> later = new ArrayList<>();
        List<GatewayEvent> waiting = pending.get(ctx.getCurrentKey());
        for (GatewayEvent e : waiting == null ? List.<GatewayEvent>of() : waiting) {
            (e.stamp() <= watermark ? due : later).add(e);
        }
        timers.remove(ctx.getCurrentKey());
        if (!later.isEmpty()) {
            long oldest = Long.MAX_VALUE;
            for (GatewayEvent e : later) {
                oldest = Math.min(oldest, e.stamp());
            }
            ctx.timerService().registerEventTimeTimer(oldest);
            timers.put(ctx.getCurrentKey(), oldest);
        }
        if (due.isEmpty()) {
            return;
        }
        pending.put(ctx.getCurrentKey(), later.isEmpty() ? null : later);
        due.sort(
                Comparator.<GatewayEvent>comparingLong(e -> e.stamp())
                        .thenComparing(e -> e.learnerId())
                        .thenComparing(e -> e.taskId()));
        AsyncShard s = shardState.get(ctx.getCurrentKey());
        if (s == null) {
            return; // no model yet: cannot happen, the gateways hand out tasks only with one
        }
        Object state = ruleState.get(ctx.getCurrentKey());
        if (state == null) {
            state = rule.createState();
            ruleState.put(ctx.getCurrentKey(), state);
        }
        Shard shard = new Shard(s);
        long before = s.version;
        for (GatewayEvent e : due) {
            crossBoundaries(s, e.stamp(), ShardKeys.shardOf(ctx.getCurrentKey()), out);
            apply(s, state, shard, e, ShardKeys.shardOf(ctx.getCurrentKey()), out);
        }
        shardState.put(ctx.getCurrentKey(), s);
        if (rule.keepsVersions() && s.version > before) {
            long oldest = oldestAdmissible(s, later);
            forgetVersionsBefore(oldest);
            forgetForeignCopiesBefore(oldest);
        }
    }

    /**
     * The oldest version an update that counts may still have been trained on: the oldest version a
     * gateway serves minus max-staleness (the gateways admit nothing older), or the base of an
     * update already waiting here if that is older.
     */
    private long oldestAdmissible(AsyncShard s, List<GatewayEvent> waiting) throws Exception {
        long oldestServed = s.version;
        for (Long v : served.values()) {
            oldestServed = Math.min(oldestServed, v);
        }
        long oldest = oldestServed - maxStaleness;
        for (GatewayEvent e : waiting) {
            oldest = Math.min(oldest, e.baseVersion());
        }
        return oldest;
    }

    private void forgetVersionsBefore(long oldest) throws Exception {
        List<Long> old = new ArrayList<>();
        Iterator<Long> versions = history.keys().iterator();
        while (versions.hasNext()) {
            long v = versions.next();
            if (v < oldest) {
                old.add(v);
            }
        }
        for (long v : old) {
            history.remove(v);
        }
    }

    /**
     * Forgets the foreign copies of updates trained on versions older than {@code oldest}: no
     * gateway admits an update of such a version any more, none waits here, and a gateway emits the
     * partials of a poll before it says it serves a newer model (see {@code PartialSums}), so no
     * partial holding one of them can still come.
     */
    private void forgetForeignCopiesBefore(long oldest) throws Exception {
        List<Long> old = new ArrayList<>();
        Iterator<Long> bases = foreignCopiesByBase.keys().iterator();
        while (bases.hasNext()) {
            long b = bases.next();
            if (b < oldest) {
                old.add(b);
            }
        }
        for (long b : old) {
            for (String key : foreignCopiesByBase.get(b)) {
                foreignCopies.remove(key);
            }
            foreignCopiesByBase.remove(b);
        }
    }

    private static String copyKey(String learner, String task) {
        return learner.length() + ":" + learner + task;
    }

    private void apply(
            AsyncShard s,
            Object state,
            Shard shard,
            GatewayEvent e,
            int shardIndex,
            Collector<GlobalShard> out)
            throws Exception {
        List<String> learners;
        if (e.kind() == GatewayEvent.Kind.PARTIAL_SHARD) {
            learners = applyPartial(s, state, shard, e);
        } else {
            if (!firstApplication(e.learnerId(), e.taskId())) {
                duplicates.inc();
                return;
            }
            if (e.foreign && rule.mergesPartials()) {
                keepForeignCopy(e);
            }
            // Its gateway admitted it within max-staleness of the model it served: it counts,
            // even if this shard's version has moved further since.
            long stale = Math.max(0, s.version - e.baseVersion());
            lastStaleness = stale;
            AsyncUpdate update =
                    new AsyncUpdate(
                            e.learnerId(),
                            e.values(),
                            e.weight(),
                            staleness.weight(stale),
                            e.baseVersion());
            learners = rule.apply(state, shard, update);
        }
        if (learners == null) {
            return;
        }
        s.version++;
        versionMade(s, shardIndex, learners, e.stamp(), out);
        if (rule.keepsVersions()) {
            history.put(s.version, s.global.copy());
        }
    }

    /** Keeps an applied foreign single's values until no partial can hold a copy of it. */
    private void keepForeignCopy(GatewayEvent e) throws Exception {
        String key = copyKey(e.learnerId(), e.taskId());
        foreignCopies.put(key, new Contribution(e.values(), e.weight()));
        List<String> keys = foreignCopiesByBase.get(e.baseVersion());
        List<String> next = keys == null ? new ArrayList<>(2) : new ArrayList<>(keys);
        next.add(key);
        foreignCopiesByBase.put(e.baseVersion(), next);
    }

    /**
     * Applies a gateway's partial sum of n updates of one base version (at its place in the order:
     * its latest stamp, then its last update's learner and task). Exactly once: a (learner, task)
     * the partial holds may have been applied here already only as a foreign single (its home
     * gateway folds only tasks it handed out itself in its current run, and each of them once; a
     * copy sent through another gateway travels alone, marked foreign). That single's values were
     * kept ({@link #keepForeignCopy}); the sum is linear in the updates, so they are taken out of
     * it, leaving (Σu − u_j, n − 1): the update counts once, where the single was applied. A
     * (learner, task) applied otherwise would be a bug of those rules: the job fails rather than
     * count an update twice. A single that comes after the partial is a plain duplicate.
     */
    private List<String> applyPartial(AsyncShard s, Object state, Shard shard, GatewayEvent e)
            throws Exception {
        List<String> members = e.participants();
        List<String> tasks = e.tasks();
        double[] sum = null;
        List<String> counted = new ArrayList<>(members.size());
        for (int i = 0; i < members.size(); i++) {
            String learner = members.get(i);
            String task = tasks.get(i);
            String key = copyKey(learner, task);
            Contribution single = foreignCopies.get(key);
            if (single != null) {
                if (sum == null) {
                    sum = PartialSums.asyncSumOf(e);
                }
                float[] v = single.values.values();
                if (v.length != sum.length) {
                    throw new IllegalStateException(
                            "a foreign copy of "
                                    + learner
                                    + "'s task "
                                    + task
                                    + " has "
                                    + v.length
                                    + " values, its partial "
                                    + sum.length);
                }
                for (int j = 0; j < sum.length; j++) {
                    sum[j] -= v[j];
                }
                foreignCopies.remove(key);
                foreignCopiesTakenOut.inc();
                continue;
            }
            if (!firstApplication(learner, task)) {
                throw new IllegalStateException(
                        "a partial sum of gateway "
                                + e.gateway()
                                + " holds "
                                + learner
                                + "'s update of task "
                                + task
                                + ", which this shard already applied and cannot take out of"
                                + " the sum: the gateways' folding rules were broken");
            }
            counted.add(learner);
        }
        if (counted.isEmpty()) {
            duplicates.inc();
            return null;
        }
        if (sum == null) {
            sum = PartialSums.asyncSumOf(e);
        }
        long stale = Math.max(0, s.version - e.baseVersion());
        lastStaleness = stale;
        partialsApplied.inc();
        return rule.applyPartial(
                state,
                shard,
                new AsyncAggregationRule.AsyncPartial(
                        counted, sum, staleness.weight(stale), e.baseVersion()));
    }

    /**
     * Records that {@code learner}'s update of {@code task} is applied; false if it already was. A
     * learner gets its next task when its update is accepted, before the checkpoint holding it
     * completes, but never has more than {@link #REMEMBERED_TASKS} updates awaiting acknowledgement
     * (the gateway holds its next task back until then, see {@code TaskDispatch}). After a failure
     * it sends again only updates not acknowledged, and every update this shard applied after one
     * of those is unacknowledged too (acknowledgements follow checkpoints in order), so a resent
     * update is always among the learner's last {@link #REMEMBERED_TASKS} applied here.
     */
    private boolean firstApplication(String learner, String task) throws Exception {
        List<String> recent = recentTasks.get(learner);
        if (recent == null) {
            String last = legacyLastTask.get(learner);
            recent = last == null ? List.of() : List.of(last);
            if (last != null) {
                legacyLastTask.remove(learner);
            }
        }
        if (recent.contains(task)) {
            return false;
        }
        List<String> next = new ArrayList<>(Math.min(recent.size() + 1, REMEMBERED_TASKS));
        next.addAll(
                recent.subList(Math.max(0, recent.size() + 1 - REMEMBERED_TASKS), recent.size()));
        next.add(task);
        recentTasks.put(learner, next);
        return true;
    }

    // ---- Output side: what leaves after a version is made (the model path's publishing) ----

    /**
     * Version {@code s.version} was just made by {@code learners}' updates. Without the model path
     * its values go to the coordinator; with it, it is published now if the rule says so, else its
     * contributors wait for the next published version.
     */
    private void versionMade(
            AsyncShard s,
            int shardIndex,
            List<String> learners,
            long stamp,
            Collector<GlobalShard> out)
            throws Exception {
        if (publishing == null) {
            GlobalShard g = new GlobalShard();
            g.round = s.version;
            g.shard = shardIndex;
            g.numShards = s.numShards;
            // No copy: the record crosses a keyBy, so it is serialised when collected.
            g.values = s.global;
            g.contributors = learners;
            out.collect(g);
            return;
        }
        if (shardIndex == 0) {
            s.unpublishedContributors.addAll(learners);
        }
        if (publishing.publishesAtOnce(s.version)) {
            publish(s, shardIndex, stamp, out);
        }
    }

    /**
     * The model path, before an update stamped {@code stamp} is applied (in the sequence every
     * shard applies): if it comes after a publish-interval boundary the shard has not published at
     * yet, the version made by the updates up to that boundary is published now, as every shard
     * does at the same place of the sequence.
     */
    private void crossBoundaries(
            AsyncShard s, long stamp, int shardIndex, Collector<GlobalShard> out) throws Exception {
        if (publishing == null) {
            return;
        }
        if (s.publishedVersion < 0) {
            s.publishedVersion = s.version; // the first model: the gateways serve it already
        }
        if (publishing.intervalMs() <= 0) {
            return;
        }
        if (s.publishAt > 0 && stamp > s.publishAt && s.version > s.publishedVersion) {
            publish(s, shardIndex, s.publishAt, out);
        }
        s.publishAt = publishing.boundaryAtOrAfter(stamp);
    }

    /**
     * The model path, after the updates the watermark passed were applied: if it passed the next
     * boundary too and a version made before it is not published, it is published now (no later
     * update may come to cross the boundary); else an event-time timer at the boundary comes back.
     * Every update stamped up to the boundary is applied by then, so every shard publishes the same
     * version, whichever way its watermarks came in.
     */
    private void publishLate(long watermark, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        Integer key = ctx.getCurrentKey();
        Long fired = publishTimers.get(key);
        if (fired != null && fired <= watermark) {
            publishTimers.remove(key);
        }
        AsyncShard s = shardState.get(key);
        if (s == null
                || publishing.intervalMs() <= 0
                || s.publishedVersion < 0
                || s.version <= s.publishedVersion
                || !publishing.publishes(s.version)) {
            return;
        }
        if (watermark >= s.publishAt) {
            publish(s, ShardKeys.shardOf(key), s.publishAt, out);
            shardState.put(key, s);
            return;
        }
        Long timer = publishTimers.get(key);
        if (timer == null || timer.longValue() != s.publishAt) {
            ctx.timerService().registerEventTimeTimer(s.publishAt);
            publishTimers.put(key, s.publishAt);
        }
    }

    /**
     * Publishes the shard's current version: its values (a copy: the rule moves the live ones) to
     * the chained model-shard sink, kept as the shard's newest published values, and its metadata
     * to the coordinator. {@code at} is the event time of the publication, the same at every shard
     * (the boundary crossed, or the stamp of the update that made a version published at once):
     * with {@code async.evaluate-interval} it decides whether the version is evaluated.
     */
    private void publish(AsyncShard s, int shardIndex, long at, Collector<GlobalShard> out)
            throws Exception {
        if (!publishing.publishes(s.version)) {
            return; // past the federation's last version: no PUBLISH would ever complete it
        }
        Integer key = outputContext.getCurrentKey();
        Payload values = s.global.copy();
        for (Long older : new ArrayList<>(publishedShards.view(key).keySet())) {
            publishedShards.remove(key, older);
        }
        publishedShards.put(key, s.version, values);
        GlobalShard g = new GlobalShard();
        g.round = s.version;
        g.shard = shardIndex;
        g.numShards = s.numShards;
        g.contributors = shardIndex == 0 ? s.unpublishedContributors : List.of();
        g.direct = true;
        if (publishing.evaluatesAt(at, s.evaluateAt)) {
            g.evaluate = true;
            s.evaluateAt = publishing.nextEvaluationAfter(at);
        }
        out.collect(g);
        s.unpublishedContributors = new ArrayList<>();
        s.publishedVersion = s.version;
        // After the metadata, as the synchronous path does: the coordinator publishes the version
        // while the chained sink encodes and delivers its shard (the gateways wait for both).
        outputContext.output(
                ShardAggregator.MODEL_SHARDS,
                Directive.modelShard(s.version, shardIndex, 0, values));
    }

    /** The model path: a gateway (re)started; its sink gets every published shard held here. */
    private void announced(GatewayEvent e, Context ctx) {
        if (publishing == null) {
            return;
        }
        ModelPathOutput.announced(
                e,
                getRuntimeContext(),
                misroutedAnnouncements,
                LOG,
                publishedShards,
                d -> ctx.output(ShardAggregator.MODEL_SHARDS, d));
    }

    /** The rule's view of the shard: its model, kept versions and learners' latest updates. */
    private final class Shard implements AsyncAggregationRule.AsyncContext {
        private final AsyncShard s;

        Shard(AsyncShard s) {
            this.s = s;
        }

        @Override
        public long version() {
            return s.version;
        }

        @Override
        public Payload global() {
            return s.global;
        }

        @Override
        public void setGlobal(Payload model) {
            s.global = model;
        }

        @Override
        public Payload modelAt(long version) throws Exception {
            return history.get(version);
        }

        @Override
        public Latest latest(String learner) throws Exception {
            Contribution c = contributions.get(learner);
            return c == null ? null : new Latest(c.values, c.weight);
        }

        @Override
        public void keepLatest(String learner, Latest latest) throws Exception {
            contributions.put(learner, new Contribution(latest.payload(), latest.weight()));
        }

        @Override
        public void dropTooStale() {
            tooStale.inc();
        }
    }
}
