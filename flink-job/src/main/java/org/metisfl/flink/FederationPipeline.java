package org.metisfl.flink;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.metisfl.flink.aggregation.AsyncPublishing;
import org.metisfl.flink.aggregation.AsyncShardAggregator;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.aggregation.ShardAggregator;
import org.metisfl.flink.aggregation.ShardKeys;
import org.metisfl.flink.aggregation.rule.AggregationRule;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule;
import org.metisfl.flink.aggregation.rule.Rules;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.StateBackend;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.connector.gateway.LearnerGatewaySource;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.flink.connector.model.ModelSink;
import org.metisfl.flink.connector.results.ResultsSink;
import org.metisfl.flink.connector.store.EncryptedModelFile;
import org.metisfl.flink.connector.store.ModelStoreSink;
import org.metisfl.flink.coordinator.RoundCoordinator;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.FlushingKeyedCoProcessOperator;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * The federation's dataflow, shared by {@link FederationJob} and {@link EmbeddedFederation}:
 *
 * <pre>
 * learner gateways ─┬─ updates, round openings ─ keyBy(shard) ─▶ ShardAggregator ─┐
 *                   └─ joins, reports, evaluations, ─ keyBy(federation) ─▶ RoundCoordinator
 *                      gateway announcements                               │ directives, results
 *                                                         ┌────────────────┤ (chained)
 *                                                         ▼                ▼
 *                                        ModelSink (to the gateways)   ResultsSink (JSON lines)
 * </pre>
 */
public final class FederationPipeline {

    private static final OutputTag<GatewayEvent> CONTROL =
            new OutputTag<>("control", TypeInformation.of(GatewayEvent.class));

    /**
     * Records are sent downstream as soon as they are emitted, not when a network buffer fills or
     * Flink's buffer timeout (100 ms by default) passes: a round's critical path crosses three
     * exchanges (the last update's shards, the closed shards, the new model's directives), and each
     * would otherwise wait for its buffer. Model data fills buffers anyway; the control records are
     * few.
     */
    private static final long FLUSH_EVERY_RECORD = 0;

    private FederationPipeline() {}

    /** The Flink settings a federation needs (state backend, checkpoints, no Kryo). */
    public static Configuration flinkConfiguration(FederationConfig config) {
        Configuration c = new Configuration();
        c.set(PipelineOptions.GENERIC_TYPES, false);
        // Chained operators pass records on without a deep copy (an update's shards are copied
        // once less). Safe here: no operator changes or reuses a record after emitting it.
        c.set(PipelineOptions.OBJECT_REUSE, true);
        c.set(
                StateBackendOptions.STATE_BACKEND,
                config.stateBackend() == StateBackend.ROCKSDB ? "rocksdb" : "hashmap");
        if (config.checkpointsEnabled()) {
            c.set(
                    CheckpointingOptions.CHECKPOINTING_INTERVAL,
                    java.time.Duration.ofMillis(config.checkpointIntervalMs()));
        }
        config.checkpointDir()
                .ifPresent(dir -> c.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir));
        c.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        return c;
    }

    /** Adds the federation's operators to {@code env}. */
    public static void build(StreamExecutionEnvironment env, FederationConfig config) {
        checkInitialModel(config);
        String federation = config.name();
        KeySelector<GatewayEvent, String> byFederation = new ConstantKey<>(federation);

        SingleOutputStreamOperator<GatewayEvent> aggregationRecords =
                env.fromSource(
                                LearnerGatewaySource.builder()
                                        .options(
                                                GatewayOptions.from(
                                                        config, globalValuesAtShards(config)))
                                        .security(GatewaySecurity.from(config))
                                        .preAggregation(preAggregation(config))
                                        .build(),
                                WatermarkStrategy.noWatermarks(),
                                "learner-gateway")
                        .setParallelism(config.gatewayParallelism())
                        .uid("learner-gateway")
                        .process(
                                new Router(
                                        modelAtShards(config) ? aggregatorKeys(env, config) : null))
                        .setParallelism(config.gatewayParallelism())
                        .name("route")
                        .uid("route")
                        .setBufferTimeout(FLUSH_EVERY_RECORD);

        KeyedStream<GatewayEvent, Integer> byShard =
                aggregationRecords.keyBy(new ShardKey(aggregatorKeys(env, config)));
        String aggregatorName =
                "shard-aggregator ("
                        + config.protocol().name().toLowerCase()
                        + ", "
                        + (config.asynchronous()
                                ? config.asyncRule().name().toLowerCase()
                                : config.rule().name().toLowerCase())
                        + ")";
        RuleOptions rules = RuleOptions.of(config);
        boolean modelAtShards = modelAtShards(config);
        SingleOutputStreamOperator<GlobalShard> shards =
                byShard.transform(
                                aggregatorName,
                                TypeInformation.of(GlobalShard.class),
                                config.asynchronous()
                                        ? new FlushingKeyedProcessOperator<>(
                                                new AsyncShardAggregator(
                                                        Rules.async(rules),
                                                        Rules.staleness(rules),
                                                        rules.asyncMaxStaleness(),
                                                        modelAtShards
                                                                ? asyncPublishing(config)
                                                                : null))
                                        : new FlushingKeyedProcessOperator<>(
                                                new ShardAggregator(
                                                        Rules.of(rules),
                                                        modelAtShards,
                                                        modelAtShards
                                                                        && config.optimizer()
                                                                                != org.metisfl.flink
                                                                                        .config
                                                                                        .FederationOptions
                                                                                        .Optimizer
                                                                                        .NONE
                                                                ? org.metisfl.flink.coordinator
                                                                        .ServerOptimizers.of(
                                                                        CoordinatorOptions.from(
                                                                                config))
                                                                : null)))
                        .setParallelism(config.jobParallelism())
                        .name(aggregatorName)
                        .uid("shard-aggregator")
                        .setBufferTimeout(FLUSH_EVERY_RECORD);

        if (modelAtShards) {
            // The model path: each aggregator subtask's global shards go to the gateways from its
            // own chained sink, never through the parallelism-1 coordinator.
            shards.getSideOutput(ShardAggregator.MODEL_SHARDS)
                    .sinkTo(
                            ModelSink.builder()
                                    .maxMessageBytes(config.maxMessageBytes())
                                    .deliveryTimeout(config.deliveryTimeout())
                                    .maxPendingPerGateway(MODEL_SHARDS_PENDING)
                                    .shards()
                                    .build())
                    .setParallelism(config.jobParallelism())
                    .name("model-shard-sink")
                    .uid("model-shard-sink");
        }

        SingleOutputStreamOperator<Directive> directives =
                aggregationRecords
                        .getSideOutput(CONTROL)
                        .keyBy(byFederation)
                        .connect(shards.keyBy(new ConstantKey<>(federation)))
                        .transform(
                                "round-coordinator",
                                TypeInformation.of(Directive.class),
                                new FlushingKeyedCoProcessOperator<>(
                                        new RoundCoordinator(CoordinatorOptions.from(config))))
                        .setParallelism(1)
                        .name("round-coordinator")
                        .uid("round-coordinator")
                        .setBufferTimeout(FLUSH_EVERY_RECORD);

        // The sink's one input is the coordinator's output (gateway announcements included), so
        // the two are chained: the new model reaches the sink without crossing Flink's network
        // stack.
        directives
                .sinkTo(
                        ModelSink.builder()
                                .maxMessageBytes(config.maxMessageBytes())
                                .deliveryTimeout(config.deliveryTimeout())
                                .build())
                .setParallelism(1)
                .name("model-sink")
                .uid("model-sink");

        directives
                .getSideOutput(RoundCoordinator.RESULTS)
                .sinkTo(new ResultsSink(config.resultsFile()))
                .setParallelism(1)
                .name("results-sink")
                .uid("results-sink");

        if (config.modelStorePath().isPresent()) {
            String store = config.modelStorePath().get();
            directives
                    .sinkTo(
                            ModelStoreSink.models(
                                    store,
                                    config.name(),
                                    config.modelStoreEvery(),
                                    config.modelStoreKeepLast(),
                                    config.secureAggregation()
                                                    == org.metisfl.flink.config.FederationOptions
                                                            .SecureAggregation.CKKS
                                            ? config.hePreset()
                                            : null))
                    .setParallelism(1)
                    .name("model-store")
                    .uid("model-store");
            directives
                    .getSideOutput(RoundCoordinator.RESULTS)
                    .sinkTo(ModelStoreSink.results(store, config.name(), config.modelStoreEvery()))
                    .setParallelism(1)
                    .name("model-store-results")
                    .uid("model-store-results");
        }
    }

    /**
     * The aggregators' shard keys, chosen for the max parallelism the aggregators run with: the
     * configured one ({@code pipeline.max-parallelism}, or {@code env.setMaxParallelism}), else
     * Flink's default for {@code job.parallelism}. The model path's announcement copies need it:
     * copy i must land on subtask i, and a key's subtask depends on the number of key groups (with
     * the default's keys under another max parallelism some subtask could miss every copy, and its
     * sink would never deliver to that gateway). A savepoint fixes the max parallelism: to rescale
     * a federation past 85 aggregator subtasks (where Flink's default grows), configure it.
     */
    static ShardKeys aggregatorKeys(StreamExecutionEnvironment env, FederationConfig config) {
        int configured = env.getConfig().getMaxParallelism();
        return configured > 0
                ? new ShardKeys(config.jobParallelism(), configured)
                : new ShardKeys(config.jobParallelism());
    }

    /**
     * The model path where a shard's new values start from its current ones (a server optimizer's
     * step, central DP's delta): the gateways then hand the first model they serve to the
     * aggregators.
     */
    static boolean globalValuesAtShards(FederationConfig config) {
        return modelAtShards(config)
                && !config.asynchronous()
                && (config.optimizer() != org.metisfl.flink.config.FederationOptions.Optimizer.NONE
                        || Rules.of(RuleOptions.of(config)).resultIsDelta());
    }

    /** Global shards one model-shard sink subtask may have queued per gateway (not copies). */
    private static final int MODEL_SHARDS_PENDING = 1 << 16;

    /**
     * The model path (see {@link ShardAggregator#MODEL_SHARDS}): global shards go from the
     * aggregators to the gateways, the coordinator gets round metadata only. It holds for every
     * synchronous and semi-synchronous federation whose model the job may hold at the shards: a
     * plaintext rule with or without a server optimizer (coordinate-wise: it steps each shard at
     * its aggregator); central DP (the noised mean delta of a shard is added to the global values
     * its aggregator holds; the gateways still clip whole updates); Krum and Bulyan (their
     * per-shard squared distances go to the coordinator as metadata, which sums them and selects;
     * its selection comes back through the gateways and each aggregator sends the selected updates'
     * aggregate of its shards to the gateways); the CKKS secure sum (each shard's encrypted sum
     * goes to the gateways as it is; the coordinator regroups only the initial model's ciphertexts,
     * which it publishes as version 0); the asynchronous protocol (the versions {@link
     * AsyncPublishing} picks, the same at every shard, go to the gateways from the aggregators; the
     * coordinator gets their metadata only). The others keep the model at the coordinator:
     * threshold CKKS (the coordinator gathers the committee's partial decryptions of the aggregate)
     * and the model store (it stores what the coordinator publishes).
     */
    static boolean modelAtShards(FederationConfig config) {
        if (config.secureAggregation()
                        == org.metisfl.flink.config.FederationOptions.SecureAggregation
                                .CKKS_THRESHOLD
                || config.threshold()
                || config.modelStorePath().isPresent()) {
            return false;
        }
        return true;
    }

    /** The asynchronous model path's publishing rule, from the federation's settings. */
    static AsyncPublishing asyncPublishing(FederationConfig config) {
        CoordinatorOptions options = CoordinatorOptions.from(config);
        return new AsyncPublishing(
                options.asyncPublishIntervalMs(),
                options.asyncEvaluateEvery(),
                options.rounds(),
                options.asyncEvaluateIntervalMs());
    }

    /**
     * Local pre-aggregation (see {@link PartialSums}) when the configuration asks for it and it
     * holds: a synchronous rule that merges partials, with any number of gateways (each folds only
     * the learners it is home to), or an asynchronous rule that merges partial sums (FedBuff; each
     * gateway folds only updates of the tasks it handed out). Else null: updates go on one by one.
     */
    static PartialSums.Factory preAggregation(FederationConfig config) {
        if (!config.preAggregate()) {
            return null;
        }
        if (config.asynchronous()) {
            // FedBuff folds (what it buffers is linear in the updates); FedAsync and FedRec take
            // each update on its own.
            AsyncAggregationRule<?> rule = Rules.async(RuleOptions.of(config));
            return rule.mergesPartials() ? PartialSums.Factory.async(rule) : null;
        }
        AggregationRule<?> rule = Rules.of(RuleOptions.of(config));
        return rule.preAggregates() ? new PartialSums.Factory(rule) : null;
    }

    /**
     * Reads the initial model file once before the job starts, so a missing or malformed file is
     * reported to the user instead of failing the running job over and over.
     */
    private static void checkInitialModel(FederationConfig config) {
        if (config.initialModelFile().isEmpty()) {
            return;
        }
        java.nio.file.Path file = java.nio.file.Path.of(config.initialModelFile().get());
        if (EncryptedModelFile.isEncryptedModelFile(file.toString())) {
            checkEncryptedInitialModel(config, file);
            return;
        }
        org.metisfl.flink.model.ModelCodec.LoadedModel model;
        try {
            model = org.metisfl.flink.model.ModelCodec.readModelFile(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: file not found: "
                            + file.toAbsolutePath()
                            + " (give a readable model file, on a cluster readable by the task"
                            + " managers too, or 'first-learner')");
        } catch (java.io.IOException | RuntimeException e) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: "
                            + file
                            + " is not a model file: "
                            + e.getMessage()
                            + " (write one with ModelCodec.writeModelFile, a serialized"
                            + " metisfl.v1.Model)",
                    e);
        }
        long modelBytes = (long) model.values().length * Float.BYTES;
        if (modelBytes > config.maxModelBytes()) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: "
                            + file
                            + " holds "
                            + modelBytes
                            + " bytes of values, more than gateway.max-model-size ("
                            + config.maxModelBytes()
                            + " bytes): learners could never upload an update of this model"
                            + " (raise gateway.max-model-size or use a smaller model)");
        }
    }

    /**
     * A stored encrypted version as the initial model: only a synchronous or semi-synchronous CKKS
     * federation under the same key pair can start from it (the job cannot decrypt it, and FedBuff
     * weights its first model once more, which an aggregate's ciphertexts have no room for).
     */
    private static void checkEncryptedInitialModel(
            FederationConfig config, java.nio.file.Path file) {
        String fix =
                " (or decrypt it with 'metisfl models export VERSION --key KEYS --out FILE' and"
                        + " give that plaintext model file)";
        EncryptedModelFile stored;
        try {
            stored = EncryptedModelFile.read(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: file not found: " + file.toAbsolutePath());
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: " + e.getMessage(), e);
        }
        String what =
                "federation.initial-model: "
                        + file
                        + " is an encrypted model version (CKKS "
                        + stored.metadata().encryption.preset
                        + ", key id "
                        + stored.metadata().encryption.keyId
                        + "): ";
        if (config.secureAggregation()
                != org.metisfl.flink.config.FederationOptions.SecureAggregation.CKKS) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    what
                            + "a plaintext federation cannot start from it; set"
                            + " secure-aggregation: ckks with the key bundle's public parameters"
                            + fix);
        }
        if (config.asynchronous()) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    what
                            + "an asynchronous (FedBuff) federation cannot start from a stored"
                            + " encrypted version: FedBuff weights its first model once more,"
                            + " and a global model's ciphertexts are weighted already; use"
                            + " protocol.type synchronous or semi-synchronous"
                            + fix);
        }
        long modelBytes = stored.metadata().values * Float.BYTES;
        if (modelBytes > config.maxModelBytes()) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    what
                            + "its "
                            + modelBytes
                            + " bytes of values are more than gateway.max-model-size ("
                            + config.maxModelBytes()
                            + " bytes): learners could never upload an update of this model");
        }
        org.metisfl.crypto.HeContext he =
                org.metisfl.flink.model.HeContexts.of(config.heBackend(), config.hePreset());
        try {
            stored.checkFits(
                    he.backendId(),
                    java.util.HexFormat.of().formatHex(he.parameterHash()),
                    config.heKeyId().orElse(""));
        } catch (IllegalArgumentException e) {
            throw new org.metisfl.flink.config.InvalidConfigException(
                    "federation.initial-model: " + e.getMessage(), e);
        }
    }

    /**
     * Sends aggregation records on, control records and announcements to side outputs. With the
     * model path, each announcement also goes to every aggregator subtask (one copy keyed to each),
     * whose model-shard sink then delivers to that gateway too.
     */
    static final class Router extends ProcessFunction<GatewayEvent, GatewayEvent> {
        private final ShardKeys aggregators;
        private final int parallelism;

        /**
         * @param aggregators with the model path, the aggregators' keys (their parallelism and max
         *     parallelism); else null
         */
        Router(ShardKeys aggregators) {
            this.parallelism = aggregators == null ? 0 : aggregators.parallelism();
            this.aggregators = aggregators;
        }

        @Override
        public void processElement(GatewayEvent e, Context ctx, Collector<GatewayEvent> out) {
            if (e.kind == GatewayEvent.Kind.ANNOUNCE && aggregators != null) {
                // Shards 0..p-1 have keys of subtasks 0..p-1 (ShardKeys spreads them).
                for (int subtask = 0; subtask < parallelism; subtask++) {
                    GatewayEvent copy =
                            GatewayEvent.announce(e.gateway(), e.host(), e.port(), e.secret());
                    copy.controlFingerprint = e.controlFingerprint;
                    copy.shard = subtask;
                    out.collect(copy);
                }
            }
            switch (e.kind) {
                case UPDATE_SHARD,
                        PARTIAL_SHARD,
                        ROUND_OPENED,
                        PARTICIPANT_DROPPED,
                        MODEL_SHARD,
                        MODEL_SERVED,
                        SELECTION ->
                        out.collect(e);
                default -> ctx.output(CONTROL, e);
            }
        }
    }

    /** Keys aggregation records by shard, spread evenly over the aggregator's subtasks. */
    private static final class ShardKey implements KeySelector<GatewayEvent, Integer> {
        private final ShardKeys keys;

        ShardKey(ShardKeys keys) {
            this.keys = keys;
        }

        @Override
        public Integer getKey(GatewayEvent e) {
            return keys.keyOf(e.shard);
        }
    }

    /** Keys every record of the job's one federation alike. */
    private static final class ConstantKey<T> implements KeySelector<T, String> {
        private final String key;

        ConstantKey(String key) {
            this.key = key;
        }

        @Override
        public String getKey(T value) {
            return key;
        }
    }
}
