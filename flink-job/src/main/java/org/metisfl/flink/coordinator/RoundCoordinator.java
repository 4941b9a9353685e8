package org.metisfl.flink.coordinator;

import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.serialization.PayloadTypeInfo;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.WriteBehindMap;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;

/**
 * Runs the federation's {@link Coordinator} in the job (keyed by federation): binds its state to
 * Flink keyed state, its time to Flink's processing-time service and timers, and its output to the
 * directives stream (to the model sink) and the {@link #RESULTS} side output. All federation
 * progress, the global model included, is keyed state, so a savepoint holds the whole federation.
 *
 * <p>Inputs: the gateways' control records (joins, reports, evaluations, announcements) and the
 * aggregators' closed shards. The logic lives in plain classes: {@link LearnerRegistry}, {@link
 * RoundProtocol} or {@link VersionProtocol}, {@link EvaluationTracker}, {@link Termination}, {@link
 * ModelPublisher}.
 */
public class RoundCoordinator
        extends KeyedCoProcessFunction<String, GatewayEvent, GlobalShard, Directive>
        implements CheckpointFlushing {
    private static final long serialVersionUID = 1L;

    /** One {@link RoundResult} per round. */
    public static final OutputTag<RoundResult> RESULTS =
            new OutputTag<>("round-results", TypeInformation.of(RoundResult.class));

    private static final TypeInformation<Payload> PAYLOAD = PayloadTypeInfo.INSTANCE;

    private final CoordinatorOptions options;

    /** The key of every record (the job runs one federation); write-behind state is under it. */
    private final String federation;

    private transient WriteBehindValue<String, FederationProgress> progress;
    private transient List<WriteBehindState> writeBehind;
    private transient Coordinator coordinator;
    private transient FederationMetrics metrics;

    /** Learners that ever joined, for the metric; -1 until counted (after a start or restore). */
    private transient long registered;

    /** False until the first record or timer after this operator (re)started. */
    private transient boolean running;

    public RoundCoordinator(CoordinatorOptions options) {
        this.options = options;
        this.federation = options.name();
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return writeBehind;
    }

    @Override
    public void open(OpenContext openContext) {
        RuntimeContext rc = getRuntimeContext();
        progress =
                WriteBehindValue.of(
                        rc,
                        new ValueStateDescriptor<>(
                                "progress", TypeInformation.of(FederationProgress.class)));
        MapState<String, LearnerRecord> learners =
                rc.getMapState(
                        new MapStateDescriptor<>(
                                "learners", Types.STRING, TypeInformation.of(LearnerRecord.class)));
        WriteBehindMap<String, Integer, Payload> model =
                WriteBehindMap.of(rc, new MapStateDescriptor<>("global-model", Types.INT, PAYLOAD));
        WriteBehindMap<String, Integer, Payload> pendingModel =
                WriteBehindMap.of(
                        rc, new MapStateDescriptor<>("pending-model", Types.INT, PAYLOAD));
        WriteBehindMap<String, Integer, OptimizerState> optimizerState =
                WriteBehindMap.of(
                        rc,
                        new MapStateDescriptor<>(
                                "optimizer-state",
                                Types.INT,
                                TypeInformation.of(OptimizerState.class)));
        WriteBehindMap<String, String, Payload> asyncPending =
                WriteBehindMap.of(
                        rc, new MapStateDescriptor<>("async-pending", Types.STRING, PAYLOAD));
        WriteBehindMap<String, Long, Integer> asyncShardCounts =
                WriteBehindMap.of(
                        rc, new MapStateDescriptor<>("async-shard-counts", Types.LONG, Types.INT));
        WriteBehindMap<String, Long, RoundStats> stats =
                WriteBehindMap.of(
                        rc,
                        new MapStateDescriptor<>(
                                "round-stats", Types.LONG, TypeInformation.of(RoundStats.class)));
        writeBehind =
                List.of(
                        progress,
                        model,
                        pendingModel,
                        stats,
                        optimizerState,
                        asyncPending,
                        asyncShardCounts);
        coordinator =
                Coordinator.of(
                        options,
                        new CoordinatorState(
                                FlinkStateMaps.of(learners),
                                bind(model),
                                bind(pendingModel),
                                bind(stats),
                                bind(optimizerState),
                                bind(asyncPending),
                                bind(asyncShardCounts)));
        metrics = FlinkFederationMetrics.register(rc.getMetricGroup(), federation);
        registered = -1;
    }

    @Override
    public void processElement1(GatewayEvent e, Context ctx, Collector<Directive> out)
            throws Exception {
        if (e.kind == GatewayEvent.Kind.ANNOUNCE) {
            // The model sink learns of a gateway through the coordinator, before anything the
            // coordinator sends it in answer (a republished model): the sink is chained to it.
            out.collect(Directive.announce(e));
        }
        Output o = new Output(ctx, out, metrics);
        FederationProgress p = progress(o);
        long now = ctx.timerService().currentProcessingTime();
        started(p, now, o);
        boolean newLearner =
                e.kind == GatewayEvent.Kind.JOINED
                        && coordinator.learners().get(e.learnerId) == null;
        coordinator.onEvent(e, p, now, o);
        progress.put(federation, p);
        if (e.kind == GatewayEvent.Kind.TRAIN_REPORT) {
            metrics.trainReport(e.round, e.learnerId);
        }
        if (registered < 0) {
            registered = coordinator.learners().registered();
        } else if (newLearner) {
            registered++;
        }
        metrics.registeredLearners(registered);
        metrics.progress(p);
    }

    @Override
    public void processElement2(GlobalShard g, Context ctx, Collector<Directive> out)
            throws Exception {
        Output o = new Output(ctx, out, metrics);
        FederationProgress p = progress(o);
        long now = ctx.timerService().currentProcessingTime();
        started(p, now, o);
        coordinator.onShard(g, p, now, o);
        progress.put(federation, p);
        metrics.progress(p);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Directive> out)
            throws Exception {
        FederationProgress p = progress.get(federation);
        if (p == null) {
            return;
        }
        Output o = new Output(ctx, out, metrics);
        started(p, timestamp, o);
        coordinator.onTimer(p, timestamp, o);
        progress.put(federation, p);
        metrics.progress(p);
    }

    /** Tells the coordinator once, before anything else, that it (re)started. */
    private void started(FederationProgress p, long nowMs, Output out) {
        if (!running) {
            running = true;
            coordinator.onRestart(p, nowMs, out);
            for (String l : coordinator.trainReporters(p.round)) {
                metrics.trainReport(p.round, l);
            }
        }
    }

    private FederationProgress progress(Output out) throws Exception {
        FederationProgress p = progress.get(federation);
        if (p == null) {
            p = coordinator.start(out);
            progress.put(federation, p);
        }
        return p;
    }

    private <UK, UV> StateMap<UK, UV> bind(WriteBehindMap<String, UK, UV> state) {
        return FlinkStateMaps.of(state, federation);
    }

    /**
     * The coordinator's output: directives, the results side output (and the metrics),
     * processing-time timers.
     */
    private static final class Output implements CoordinatorOutput {
        private final KeyedCoProcessFunction<String, GatewayEvent, GlobalShard, Directive>.Context
                ctx;
        private final Collector<Directive> out;
        private final FederationMetrics metrics;

        Output(
                KeyedCoProcessFunction<String, GatewayEvent, GlobalShard, Directive>.Context ctx,
                Collector<Directive> out,
                FederationMetrics metrics) {
            this.ctx = ctx;
            this.out = out;
            this.metrics = metrics;
        }

        @Override
        public void directive(Directive directive) {
            out.collect(directive);
        }

        @Override
        public void result(RoundResult result) {
            ctx.output(RESULTS, result);
            metrics.result(result);
        }

        @Override
        public void timerAt(long timeMs) {
            ctx.timerService().registerProcessingTimeTimer(timeMs);
        }
    }
}
