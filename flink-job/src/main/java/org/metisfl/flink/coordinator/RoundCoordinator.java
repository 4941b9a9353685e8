package org.metisfl.flink.coordinator;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.WriteBehindMap;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the federation's rounds (keyed by federation): registers learners, takes the initial model,
 * opens each round with its participants, quorum and deadline, assembles the new global model from
 * the shards the aggregators close, aggregates the metrics of training and of the evaluation of
 * each new model, and ends the federation after its last round.
 *
 * <p>Its output goes to the learner gateways through the model sink ({@link Directive}s); each
 * round's result goes to the {@link #RESULTS} side output. All federation progress, the global
 * model included, is keyed state, so a savepoint holds the whole federation.
 */
public class RoundCoordinator
        extends KeyedCoProcessFunction<String, GatewayEvent, GlobalShard, Directive>
        implements CheckpointFlushing {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(RoundCoordinator.class);

    /** One {@link RoundResult} per round. */
    public static final OutputTag<RoundResult> RESULTS =
            new OutputTag<>("round-results", TypeInformation.of(RoundResult.class));

    private static final TypeInformation<float[]> FLOAT_ARRAY =
            org.metisfl.flink.model.serialization.BulkArrayTypeInfo.FLOATS;

    private final FederationConfig config;

    /** The key of every record (the job runs one federation); write-behind state is under it. */
    private final String federation;

    private transient WriteBehindValue<String, FederationProgress> progressState;
    private transient MapState<String, LearnerRecord> learners;
    private transient WriteBehindMap<String, Integer, float[]> model;
    private transient WriteBehindMap<String, Integer, float[]> pendingModel;
    private transient WriteBehindMap<String, Long, RoundStats> stats;
    private transient WriteBehindMap<String, Integer, OptimizerState> optimizerState;
    private transient WriteBehindMap<String, String, float[]> asyncPending;
    private transient WriteBehindMap<String, Long, Integer> asyncShardCounts;
    private transient ServerOptimizer optimizer;

    public RoundCoordinator(FederationConfig config) {
        this.config = config;
        this.federation = config.name();
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return List.of(
                progressState,
                model,
                pendingModel,
                stats,
                optimizerState,
                asyncPending,
                asyncShardCounts);
    }

    @Override
    public void open(OpenContext openContext) {
        progressState =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "progress", TypeInformation.of(FederationProgress.class)));
        learners =
                getRuntimeContext()
                        .getMapState(
                                new MapStateDescriptor<>(
                                        "learners",
                                        Types.STRING,
                                        TypeInformation.of(LearnerRecord.class)));
        model =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>("global-model", Types.INT, FLOAT_ARRAY));
        pendingModel =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>("pending-model", Types.INT, FLOAT_ARRAY));
        optimizerState =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>(
                                "optimizer-state",
                                Types.INT,
                                TypeInformation.of(OptimizerState.class)));
        optimizer = ServerOptimizers.of(config);
        asyncPending =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>("async-pending", Types.STRING, FLOAT_ARRAY));
        asyncShardCounts =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>("async-shard-counts", Types.LONG, Types.INT));
        stats =
                WriteBehindMap.of(
                        getRuntimeContext(),
                        new MapStateDescriptor<>(
                                "round-stats", Types.LONG, TypeInformation.of(RoundStats.class)));
    }

    @Override
    public void processElement1(GatewayEvent e, Context ctx, Collector<Directive> out)
            throws Exception {
        FederationProgress p = progress(ctx, out);
        switch (e.kind) {
            case ANNOUNCE:
                // A gateway (re)started: it needs the current model and plan. After a failover
                // or a resume the running round gets a fresh deadline: its learners must
                // reconnect first, and the time the job was down must not close the round.
                if (p.phase == Phase.TRAINING && !config.asynchronous()) {
                    long fresh =
                            ctx.timerService().currentProcessingTime() + config.roundTimeoutMs();
                    if (fresh - p.deadline > config.roundTimeoutMs() / 2) {
                        p.deadline = fresh;
                    }
                }
                if (p.modelVersion >= 0 || p.phase == Phase.FINISHED) {
                    publish(p, p.phase == Phase.TRAINING && !config.asynchronous(), out);
                }
                break;
            case JOINED:
                onJoined(e, p, ctx, out);
                break;
            case LEFT:
                LearnerRecord left = learners.get(e.learnerId);
                if (left != null && left.active) {
                    left.active = false;
                    learners.put(e.learnerId, left);
                    p.activeLearners--;
                    LOG.info("Learner {} ({}) left", e.learnerId, left.name);
                }
                break;
            case CONNECTED:
            case DISCONNECTED:
                onConnectivity(e, p, ctx, out);
                break;
            case INITIAL_MODEL:
                if (p.phase == Phase.WAITING_FOR_MODEL) {
                    long expected = TensorSpecInfo.totalSize(e.tensors);
                    if (expected != e.values.length) {
                        LOG.warn("Ignoring initial model of {}: size mismatch", e.learnerId);
                        break;
                    }
                    LOG.info(
                            "Initial model from learner {}: {} tensors, {} values",
                            e.learnerId,
                            e.tensors.size(),
                            e.values.length);
                    setInitialModel(p, e.tensors, e.values);
                    if (!maybeStartRound(p, ctx, out)) {
                        publish(p, false, out);
                    }
                }
                break;
            case TRAIN_REPORT:
                recordTimings(e);
                if (config.asynchronous()) {
                    break;
                }
                if (p.awaitingReportsFrom.remove(e.learnerId) && p.awaitingReportsFrom.isEmpty()) {
                    if (!openRound(p.round + 1, p, ctx, out)) {
                        publish(p, false, out);
                    }
                }
                RoundStats ts = stats.get(federation, e.round);
                if (ts != null && ts.addTrainReporter(e.learnerId)) {
                    RoundStats.addWeighted(ts.trainSums, e.metrics, e.numExamples);
                    ts.trainWeight += e.numExamples;
                    stats.put(federation, e.round, ts);
                }
                break;
            case EVALUATION:
                RoundStats es = stats.get(federation, e.round);
                if (es != null && es.closedAt > 0 && es.addEvalReporter(e.learnerId)) {
                    RoundStats.addWeighted(es.evalSums, e.metrics, e.numExamples);
                    es.evalExamples += e.numExamples;
                    if (es.evalReporters.size() >= es.expectedEvaluators.size()) {
                        writeResult(es, p, ctx, out);
                    } else {
                        stats.put(federation, e.round, es);
                    }
                }
                break;
            default:
                throw new IllegalArgumentException("not a coordinator record: " + e);
        }
        progressState.put(federation, p);
    }

    @Override
    public void processElement2(GlobalShard g, Context ctx, Collector<Directive> out)
            throws Exception {
        FederationProgress p = progress(ctx, out);
        if (config.asynchronous()) {
            onAsyncShard(g, p, ctx, out);
            progressState.put(federation, p);
            return;
        }
        if (p.phase != Phase.TRAINING || g.round != p.round || g.shard >= p.numShards) {
            LOG.warn("Ignoring shard {} of round {} (current round {})", g.shard, g.round, p.round);
            return;
        }
        if (p.shardReceived[g.shard]) {
            return;
        }
        p.shardReceived[g.shard] = true;
        p.shardsReceived++;
        if (g.distances != null) {
            gatherDistances(g, p, out);
            progressState.put(federation, p);
            return;
        }
        if (g.aborted) {
            p.roundAborted = true;
        } else {
            pendingModel.put(federation, g.shard, serverStep(g));
        }
        if (p.contributors.isEmpty()) {
            p.contributors = new ArrayList<>(g.contributors);
        }
        if (p.shardsReceived == p.numShards) {
            closeRound(p, ctx, out);
        }
        progressState.put(federation, p);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Directive> out)
            throws Exception {
        FederationProgress p = progressState.get(federation);
        if (p == null) {
            return;
        }
        List<RoundStats> due = new ArrayList<>();
        for (Map.Entry<Long, RoundStats> entry : stats.view(federation).entrySet()) {
            RoundStats s = entry.getValue();
            if (s.closedAt > 0 && s.closedAt + config.evaluationTimeoutMs() <= timestamp) {
                due.add(s);
            }
        }
        due.sort((a, b) -> Long.compare(a.round, b.round));
        if (config.asynchronous()
                && p.phase == Phase.TRAINING
                && p.modelVersion > p.publishedVersion
                && timestamp >= p.publishTimerAt) {
            p.publishTimerAt = 0;
            publishAsync(p, timestamp, out);
        }
        for (RoundStats s : due) {
            LOG.info(
                    "Round {}: {} of {} evaluations arrived before the evaluation timeout",
                    s.round,
                    s.evalReporters.size(),
                    s.expectedEvaluators.size());
            writeResult(s, p, ctx, out);
        }
        progressState.put(federation, p);
    }

    /**
     * The new global values of a shard: the round's aggregate itself, or the server optimizer's
     * step from the current global model towards it (its state is kept per shard).
     */
    private float[] serverStep(GlobalShard g) throws Exception {
        if (config.optimizer() == FederationOptions.Optimizer.NONE) {
            return g.values;
        }
        float[] global = model.get(federation, g.shard).clone();
        OptimizerState st = optimizerState.get(federation, g.shard);
        if (st == null) {
            st = OptimizerState.zeros(optimizer.stateSlots(), global.length);
        }
        optimizer.step(global, g.values, st.slots(optimizer.stateSlots()), g.round);
        optimizerState.put(federation, g.shard, st);
        return global;
    }

    /**
     * Asynchronous: gathers the shards of each model version (they complete in version order, since
     * every shard emits its versions in order) and moves to a completed version.
     */
    private void onAsyncShard(
            GlobalShard g, FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        if (p.phase != Phase.TRAINING || g.round <= p.modelVersion || g.shard >= p.numShards) {
            return;
        }
        asyncPending.put(federation, g.round + "/" + g.shard, g.values);
        if (g.shard == 0) {
            for (String learner : g.contributors) {
                p.addContributor(learner);
            }
        }
        Integer count = asyncShardCounts.get(federation, g.round);
        int received = count == null ? 1 : count + 1;
        if (received < p.numShards) {
            asyncShardCounts.put(federation, g.round, received);
            return;
        }
        asyncShardCounts.remove(federation, g.round);
        for (int shard = 0; shard < p.numShards; shard++) {
            String key = g.round + "/" + shard;
            model.put(federation, shard, asyncPending.get(federation, key));
            asyncPending.remove(federation, key);
        }
        p.modelVersion = g.round;
        onAsyncVersion(p, ctx, out);
    }

    /** A new version is complete: evaluate it, end the federation, or publish it (throttled). */
    private void onAsyncVersion(FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        long now = ctx.timerService().currentProcessingTime();
        long v = p.modelVersion;
        boolean outOfTime =
                config.maxDurationMs() > 0 && now - p.federationStartedAt >= config.maxDurationMs();
        boolean last = v >= config.rounds() || outOfTime;
        if (outOfTime && v < config.rounds()) {
            p.finishReason = "reached termination.max-duration (" + config.maxDurationMs() + " ms)";
        } else if (last) {
            p.finishReason = "completed " + config.rounds() + " model versions";
        }
        if (!last && v % config.asyncEvaluateEvery() != 0) {
            // Only evaluation versions carry evaluators: the others must not ask for any.
            p.evaluators = new ArrayList<>();
            if (now - p.lastPublishAt >= config.asyncPublishIntervalMs()) {
                publishAsync(p, now, out);
            } else if (p.publishTimerAt == 0) {
                p.publishTimerAt = p.lastPublishAt + config.asyncPublishIntervalMs();
                ctx.timerService().registerProcessingTimeTimer(p.publishTimerAt);
            }
            return;
        }
        RoundStats s = new RoundStats();
        s.round = v;
        s.participants = p.activeLearners;
        s.startedAt = p.roundStartedAt;
        s.closedAt = now;
        s.contributors = new ArrayList<>(p.contributors);
        s.last = last;
        List<String> evaluators = new ArrayList<>();
        if (config.evaluationEnabled()) {
            for (Map.Entry<String, LearnerRecord> l : learners.entries()) {
                if (l.getValue().active) {
                    evaluators.add(l.getKey());
                }
            }
            Collections.sort(evaluators);
        }
        s.expectedEvaluators = evaluators;
        p.evaluators = evaluators;
        p.contributors = new ArrayList<>();
        p.roundStartedAt = now;
        if (last) {
            p.phase = Phase.FINAL_EVALUATION;
        }
        stats.put(federation, v, s);
        LOG.info(
                "Model version {} ({} learners contributed since the last)",
                v,
                s.contributors.size());
        publishAsync(p, now, out);
        if (evaluators.isEmpty()) {
            writeResult(s, p, ctx, out);
        } else {
            ctx.timerService().registerProcessingTimeTimer(now + config.evaluationTimeoutMs());
        }
    }

    private void publishAsync(FederationProgress p, long now, Collector<Directive> out)
            throws Exception {
        p.publishedVersion = p.modelVersion;
        p.lastPublishAt = now;
        publish(p, false, out);
    }

    /**
     * Krum's first phase: sums every shard's partial pairwise distances; once all are in, picks the
     * updates to average and sends the choice to the shards (through the gateways).
     */
    private void gatherDistances(GlobalShard g, FederationProgress p, Collector<Directive> out)
            throws Exception {
        if (p.krumDistances == null) {
            p.krumDistances = new double[g.distances.length];
            p.krumContributors = new ArrayList<>(g.contributors);
        }
        for (int i = 0; i < g.distances.length; i++) {
            p.krumDistances[i] += g.distances[i];
        }
        if (p.shardsReceived < p.numShards) {
            return;
        }
        int n = p.krumContributors.size();
        int f = config.krumByzantine();
        List<String> selection = new ArrayList<>();
        if (n > 2 * f + 2) {
            double[][] d = new double[n][n];
            for (int i = 0; i < n; i++) {
                System.arraycopy(p.krumDistances, i * n, d[i], 0, n);
            }
            for (int i : RobustAggregation.krumSelect(d, f, config.krumSelectedOf(n))) {
                selection.add(p.krumContributors.get(i));
            }
        } else {
            LOG.warn(
                    "Round {}: {} contributions are too few for Krum with f = {} (it needs more"
                            + " than 2f + 2); averaging all of them",
                    p.round,
                    n,
                    f);
            selection.addAll(p.krumContributors);
        }
        Collections.sort(selection);
        LOG.info("Round {}: Krum selected {} of {} updates", p.round, selection.size(), n);
        p.krumSelection = selection;
        p.krumSelectionRound = p.round;
        p.krumDistances = null;
        p.shardReceived = new boolean[p.numShards];
        p.shardsReceived = 0;
        publish(p, true, out);
    }

    /** Keeps a learner's latest training speed (ms per batch and per epoch) it reported. */
    private void recordTimings(GatewayEvent e) throws Exception {
        if (e.metrics == null) {
            return;
        }
        Double perBatch = e.metrics.get("ms_per_batch");
        Double perEpoch = e.metrics.get("ms_per_epoch");
        if (perBatch == null || perEpoch == null || !(perBatch > 0) || !(perEpoch > 0)) {
            return;
        }
        LearnerRecord r = learners.get(e.learnerId);
        if (r != null) {
            r.msPerBatch = perBatch;
            r.msPerEpoch = perEpoch;
            learners.put(e.learnerId, r);
        }
    }

    private FederationProgress progress(Context ctx, Collector<Directive> out) throws Exception {
        FederationProgress p = progressState.get(federation);
        if (p != null) {
            return p;
        }
        p = new FederationProgress();
        if (config.initialModelFile().isPresent()) {
            String file = config.initialModelFile().get();
            ModelCodec.LoadedModel loaded = ModelCodec.readModelFile(Path.of(file));
            LOG.info("Initial model from {}: {} values", file, loaded.values().length);
            setInitialModel(p, loaded.tensors(), loaded.values());
            publish(p, false, out);
        } else {
            p.phase = Phase.WAITING_FOR_MODEL;
        }
        progressState.put(federation, p);
        return p;
    }

    private void setInitialModel(FederationProgress p, List<TensorSpecInfo> tensors, float[] values)
            throws Exception {
        p.tensors = new ArrayList<>(tensors);
        p.numShards = TensorSpecInfo.numShards(values.length, config.shardSize());
        for (int s = 0; s < p.numShards; s++) {
            int from = s * config.shardSize();
            int to = Math.min(values.length, from + config.shardSize());
            model.put(federation, s, java.util.Arrays.copyOfRange(values, from, to));
        }
        p.modelVersion = 0;
        p.phase = Phase.WAITING_FOR_LEARNERS;
    }

    private void onJoined(
            GatewayEvent e, FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        LearnerRecord r = learners.get(e.learnerId);
        if (r == null) {
            r = new LearnerRecord();
            r.name = e.learnerName;
            r.numExamples = e.numExamples;
            r.joinedAt = ctx.timerService().currentProcessingTime();
        }
        if (!r.active) {
            r.active = true;
            p.activeLearners++;
        }
        learners.put(e.learnerId, r);
        LOG.info(
                "Learner {} ({}, {} examples) joined; {} active",
                e.learnerId,
                e.learnerName,
                e.numExamples,
                p.activeLearners);
        maybeStartRound(p, ctx, out);
    }

    /**
     * A learner whose task stream closed without a Leave (it failed, or its network did) is not
     * drawn for the next rounds until it reconnects; the running round still closes at its deadline
     * with the quorum. Gateway timestamps order the news from different gateways.
     */
    private void onConnectivity(
            GatewayEvent e, FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        LearnerRecord r = learners.get(e.learnerId);
        if (r == null || e.stamp < r.connectivityStamp) {
            return;
        }
        r.connectivityStamp = e.stamp;
        boolean connected = e.kind == GatewayEvent.Kind.CONNECTED;
        if (connected == r.active) {
            learners.put(e.learnerId, r);
            return;
        }
        r.active = connected;
        p.activeLearners += connected ? 1 : -1;
        learners.put(e.learnerId, r);
        LOG.info(
                "Learner {} ({}) {}; {} active",
                e.learnerId,
                r.name,
                connected ? "reconnected" : "disconnected",
                p.activeLearners);
        if (connected) {
            maybeStartRound(p, ctx, out);
        }
    }

    private boolean maybeStartRound(FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        if (config.asynchronous()
                && p.phase == Phase.WAITING_FOR_LEARNERS
                && p.modelVersion >= 0
                && p.activeLearners >= (p.federationStartedAt == 0 ? config.minLearners() : 1)) {
            long now = ctx.timerService().currentProcessingTime();
            p.phase = Phase.TRAINING;
            p.federationStartedAt = now;
            p.roundStartedAt = now;
            p.contributors = new ArrayList<>();
            LOG.info(
                    "Asynchronous training started from model version {} with {} learners",
                    p.modelVersion,
                    p.activeLearners);
            publishAsync(p, now, out);
            return true;
        }
        if (p.phase == Phase.WAITING_FOR_LEARNERS
                && p.modelVersion >= 0
                && p.activeLearners >= (p.federationStartedAt == 0 ? config.minLearners() : 1)) {
            return openRound(p.round + 1, p, ctx, out);
        }
        return false;
    }

    /** Opens a round with every active learner; returns false if there is none. */
    private boolean openRound(
            long round, FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        List<String> active = new ArrayList<>();
        for (Map.Entry<String, LearnerRecord> l : learners.entries()) {
            if (l.getValue().active) {
                active.add(l.getKey());
            }
        }
        // federation.min-learners gates the first round only; later rounds run with who is there.
        if (active.isEmpty()
                || (p.federationStartedAt == 0 && active.size() < config.minLearners())) {
            p.phase = Phase.WAITING_FOR_LEARNERS;
            return false;
        }
        List<String> participants = ParticipantSelection.draw(active, round, config);
        long now = ctx.timerService().currentProcessingTime();
        if (p.federationStartedAt == 0) {
            p.federationStartedAt = now;
        }
        if (config.protocol() == FederationOptions.Protocol.SEMI_SYNCHRONOUS) {
            sizeLocalWork(p, participants);
        }
        p.phase = Phase.TRAINING;
        p.round = round;
        p.participants = participants;
        p.quorum = config.quorumOf(participants.size());
        p.deadline = now + config.roundTimeoutMs();
        p.roundStartedAt = now;
        p.shardReceived = new boolean[p.numShards];
        p.shardsReceived = 0;
        p.roundAborted = false;
        p.krumDistances = null;
        p.contributors = new ArrayList<>();
        RoundStats s = new RoundStats();
        s.round = round;
        s.participants = participants.size();
        s.startedAt = now;
        stats.put(federation, round, s);
        LOG.info(
                "Round {} started: {} participants, quorum {}, deadline in {} ms",
                round,
                participants.size(),
                p.quorum,
                config.roundTimeoutMs());
        publish(p, true, out);
        return true;
    }

    /**
     * Semi-synchronous: sizes each participant's local steps to a common time budget, lambda x the
     * slowest participant's epoch time (MetisFL, Stripelis et al. 2022). Computed once every
     * participant has reported its speed, then kept (or recomputed every round if configured).
     * Learners with no measurement yet train by epochs.
     */
    private void sizeLocalWork(FederationProgress p, List<String> participants) throws Exception {
        boolean recompute = config.semiSyncRecompute() || p.semiSyncBudgetMs <= 0;
        Map<String, LearnerRecord> records = new java.util.HashMap<>();
        double slowestEpoch = 0;
        boolean allMeasured = true;
        for (String learner : participants) {
            LearnerRecord r = learners.get(learner);
            records.put(learner, r);
            if (r == null || r.msPerBatch <= 0) {
                allMeasured = false;
            } else {
                slowestEpoch = Math.max(slowestEpoch, r.msPerEpoch);
            }
        }
        if (recompute && allMeasured && slowestEpoch > 0) {
            p.semiSyncBudgetMs = config.semiSyncLambda() * slowestEpoch;
            p.localSteps = new java.util.HashMap<>();
        }
        if (p.semiSyncBudgetMs <= 0) {
            return;
        }
        for (String learner : participants) {
            LearnerRecord r = records.get(learner);
            if (!p.localSteps.containsKey(learner) && r != null && r.msPerBatch > 0) {
                p.localSteps.put(
                        learner, Math.max(1L, (long) Math.ceil(p.semiSyncBudgetMs / r.msPerBatch)));
            }
        }
        LOG.info(
                "Round budget {} ms: local steps {}", Math.round(p.semiSyncBudgetMs), p.localSteps);
    }

    private void closeRound(FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        long now = ctx.timerService().currentProcessingTime();
        long round = p.round;
        RoundStats s = stats.get(federation, round);
        if (s == null) {
            s = new RoundStats();
            s.round = round;
            s.participants = p.participants.size();
            s.startedAt = p.roundStartedAt;
        }
        s.closedAt = now;
        s.aborted = p.roundAborted;
        s.contributors = new ArrayList<>(p.contributors);
        boolean outOfTime =
                config.maxDurationMs() > 0 && now - p.federationStartedAt >= config.maxDurationMs();
        s.last = round >= config.rounds() || outOfTime;
        if (outOfTime && round < config.rounds()) {
            p.finishReason =
                    "reached termination.max-duration ("
                            + config.maxDurationMs()
                            + " ms) after round "
                            + round;
        }
        if (!p.roundAborted) {
            for (int shard = 0; shard < p.numShards; shard++) {
                model.put(federation, shard, pendingModel.get(federation, shard));
            }
            p.modelVersion = round;
            p.evaluators =
                    config.evaluationEnabled()
                            ? new ArrayList<>(p.contributors)
                            : new ArrayList<>();
        } else {
            p.evaluators = new ArrayList<>();
        }
        pendingModel.clear(federation);
        s.expectedEvaluators = new ArrayList<>(p.evaluators);
        LOG.info(
                "Round {} {} after {} ms with {} of {} participants",
                round,
                p.roundAborted ? "ABORTED (no quorum at the deadline)" : "closed",
                now - p.roundStartedAt,
                p.contributors.size(),
                p.participants.size());
        stats.put(federation, round, s);

        p.awaitingReportsFrom = new ArrayList<>();
        if (s.last) {
            p.phase = Phase.FINAL_EVALUATION;
            publish(p, false, out);
        } else if (config.protocol() == FederationOptions.Protocol.SEMI_SYNCHRONOUS
                && !s.contributors.stream().allMatch(s::hasTrainReport)) {
            // The next round's local work is sized from the speeds the contributors reported;
            // their reports travel beside the shards and can arrive just after them: wait.
            for (String c : s.contributors) {
                if (!s.hasTrainReport(c)) {
                    p.awaitingReportsFrom.add(c);
                }
            }
        } else if (!openRound(round + 1, p, ctx, out)) {
            publish(p, false, out);
        }
        if (s.expectedEvaluators.isEmpty()) {
            writeResult(s, p, ctx, out);
        } else {
            ctx.timerService().registerProcessingTimeTimer(now + config.evaluationTimeoutMs());
        }
    }

    private void writeResult(
            RoundStats s, FederationProgress p, Context ctx, Collector<Directive> out)
            throws Exception {
        RoundResult r = new RoundResult();
        r.federation = config.name();
        r.round = s.round;
        r.participants = s.participants;
        r.contributors = s.contributors;
        r.aborted = s.aborted;
        r.startedAtMs = s.startedAt;
        r.closedAtMs = s.closedAt;
        r.roundTimeMs = s.closedAt - s.startedAt;
        r.trainMetrics = RoundStats.mean(s.trainSums, s.trainWeight);
        r.evalMetrics = RoundStats.mean(s.evalSums, s.evalExamples);
        r.evalExamples = s.evalExamples;
        r.evaluators = s.expectedEvaluators.size();
        r.evaluationsReceived = s.evalReporters.size();
        boolean cutoff = p.phase != Phase.FINISHED && reachedCutoff(r);
        r.last = s.last || cutoff;
        ctx.output(RESULTS, r);
        stats.remove(federation, s.round);
        if (cutoff && !s.last) {
            p.finishReason =
                    config.terminationMetric().get()
                            + " "
                            + r.evalMetrics.get(config.terminationMetric().get())
                            + " reached the cutoff "
                            + config.terminationCutoff()
                            + " after round "
                            + s.round;
        }
        if (r.last && p.phase != Phase.FINISHED) {
            p.phase = Phase.FINISHED;
            if (p.finishReason == null) {
                p.finishReason = "completed " + config.rounds() + " rounds";
            }
            p.evaluators = new ArrayList<>();
            LOG.info("Federation {} finished: {}", config.name(), p.finishReason);
            publish(p, false, out);
        }
    }

    private boolean reachedCutoff(RoundResult r) {
        if (config.terminationMetric().isEmpty() || r.evalMetrics == null) {
            return false;
        }
        Double v = r.evalMetrics.get(config.terminationMetric().get());
        if (v == null) {
            return false;
        }
        return config.terminationGoal() == FederationOptions.MetricGoal.MAX
                ? v >= config.terminationCutoff()
                : v <= config.terminationCutoff();
    }

    private void publish(FederationProgress p, boolean withPlan, Collector<Directive> out)
            throws Exception {
        Directive d = new Directive();
        d.kind = Directive.Kind.PUBLISH;
        d.modelVersion = p.modelVersion;
        d.tensors = p.tensors;
        d.numShards = p.numShards;
        d.shardSize = config.shardSize();
        d.modelValues = p.modelVersion >= 0 ? emitModel(p.modelVersion, p.numShards, out) : 0;
        if (withPlan) {
            d.planRound = p.round;
            d.participants = p.participants;
            d.quorum = p.quorum;
            d.deadline = p.deadline;
            d.localSteps = new java.util.HashMap<>();
            for (String learner : p.participants) {
                Long steps = p.localSteps.get(learner);
                if (steps != null) {
                    d.localSteps.put(learner, steps);
                }
            }
        }
        d.evaluators = p.evaluators;
        d.selection = p.krumSelection;
        d.selectionRound = p.krumSelectionRound;
        d.finished = p.phase == Phase.FINISHED;
        d.finishReason = p.finishReason;
        out.collect(d);
    }

    /**
     * Emits the model's values, shard by shard, as MODEL_SHARD directives of at most {@link
     * Directive#MAX_SHARD_VALUES} values (never the whole model as one record); returns how many
     * values were emitted.
     */
    private long emitModel(long version, int numShards, Collector<Directive> out) throws Exception {
        int offset = 0;
        for (int s = 0; s < numShards; s++) {
            float[] values = modelShard(s);
            if (values.length <= Directive.MAX_SHARD_VALUES) {
                out.collect(Directive.modelShard(version, s, offset, values));
            } else {
                for (int from = 0; from < values.length; from += Directive.MAX_SHARD_VALUES) {
                    int to = Math.min(values.length, from + Directive.MAX_SHARD_VALUES);
                    out.collect(
                            Directive.modelShard(
                                    version,
                                    s,
                                    offset + from,
                                    java.util.Arrays.copyOfRange(values, from, to)));
                }
            }
            offset += values.length;
        }
        return offset;
    }

    /** The current global model's values of one shard. */
    private float[] modelShard(int shard) throws Exception {
        return model.get(federation, shard);
    }
}
